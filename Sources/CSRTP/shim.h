#ifndef CSRTP_SHIM_H
#define CSRTP_SHIM_H
#include <srtp2/srtp.h>
/* SRTP_MAX_TRAILER_LEN is a macro built from other macros; expose it as a value. */
static const int CSRTP_maxTrailerLength = SRTP_MAX_TRAILER_LEN;
#endif
