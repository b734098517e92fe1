#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
/* The SHA-1 block API is deprecated in OpenSSL 3 but is the only way to keep a precomputed HMAC
   state and copy it per packet without allocating; it runs the same SHA-NI code as EVP. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <string.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>

/* Function-like macros that Swift cannot import. DTLS use arrives with the relay issue. */
static inline void COpenSSL_free(void *p) { OPENSSL_free(p); }
static inline EVP_PKEY *COpenSSL_ecP256Keygen(void) { return EVP_EC_gen("P-256"); }

/* HMAC-SHA1 (RFC 2104) with the inner and outer hash states computed once per key. */
typedef struct {
    SHA_CTX inner;
    SHA_CTX outer;
} COpenSSL_HMACSHA1Key;

static inline void COpenSSL_hmacSHA1Prepare(COpenSSL_HMACSHA1Key *k, const unsigned char *key, size_t length) {
    unsigned char block[64];
    memset(block, 0, sizeof block);
    if (length > 64) {
        SHA1(key, length, block); /* RFC 2104: a key longer than the block is hashed first */
    } else {
        memcpy(block, key, length);
    }
    for (int i = 0; i < 64; i++) block[i] ^= 0x36;
    SHA1_Init(&k->inner);
    SHA1_Update(&k->inner, block, 64);
    for (int i = 0; i < 64; i++) block[i] ^= 0x36 ^ 0x5c;
    SHA1_Init(&k->outer);
    SHA1_Update(&k->outer, block, 64);
    OPENSSL_cleanse(block, sizeof block);
}

/* HMAC over a ‖ b, 20 bytes into out: no allocation. */
static inline void COpenSSL_hmacSHA1(const COpenSSL_HMACSHA1Key *k, const unsigned char *a, size_t alength,
                                     const unsigned char *b, size_t blength, unsigned char *out) {
    unsigned char inner[SHA_DIGEST_LENGTH];
    SHA_CTX c = k->inner;
    SHA1_Update(&c, a, alength);
    if (blength) SHA1_Update(&c, b, blength);
    SHA1_Final(inner, &c);
    c = k->outer;
    SHA1_Update(&c, inner, sizeof inner);
    SHA1_Final(out, &c);
}

/* AES-128-CTR in place with a new IV on a context already keyed: no allocation. */
static inline int COpenSSL_aesCTRInPlace(EVP_CIPHER_CTX *ctx, const unsigned char *iv, unsigned char *data, int length) {
    int produced = 0;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1) return 0;
    if (length == 0) return 1;
    return EVP_EncryptUpdate(ctx, data, &produced, data, length) == 1 && produced == length;
}
#endif
