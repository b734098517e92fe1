#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
/* Function-like macros that Swift cannot import. DTLS use arrives with the relay issue. */
static inline void COpenSSL_free(void *p) { OPENSSL_free(p); }
static inline EVP_PKEY *COpenSSL_ecP256Keygen(void) { return EVP_EC_gen("P-256"); }
#endif
