#ifndef CYUV_SHIM_H
#define CYUV_SHIM_H
/* libyuv ships no pkg-config file on Debian; its header lives in /usr/include. */
#include <libyuv.h>
#endif
