#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
/* The SHA-1 block API is deprecated in OpenSSL 3 but is the only way to keep a precomputed HMAC
   state and copy it per packet without allocating; it runs the same SHA-NI code as EVP. */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <string.h>
#include <openssl/ssl.h>
#include <openssl/hmac.h>
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

/* ---- DTLS-SRTP helpers (RFC 5764): macros and callbacks Swift cannot express. ---- */
#include <openssl/bn.h>

static inline long COpenSSL_setMemEOFReturn(BIO *b, long v) { return BIO_ctrl(b, BIO_C_SET_BUF_MEM_EOF_RETURN, v, NULL); }
static inline long COpenSSL_pending(BIO *b) { return (long)BIO_ctrl_pending(b); }
/* HMAC-SHA256 of data under key into out (32 bytes); 1 on success. */
static inline int COpenSSL_hmacSHA256(const unsigned char *key, size_t keyLength, const unsigned char *data, size_t length, unsigned char *out) {
    unsigned int n = 0;
    return HMAC(EVP_sha256(), key, (int)keyLength, data, length, out, &n) != NULL && n == 32;
}
/* Drops what a read-write memory BIO holds. */
static inline void COpenSSL_clear(BIO *b) { (void)BIO_reset(b); }
static inline long COpenSSL_setReadAhead(SSL_CTX *c, long v) { return SSL_CTX_ctrl(c, SSL_CTRL_SET_READ_AHEAD, v, NULL); }
static inline long COpenSSL_setMTU(SSL *s, long mtu) { return SSL_ctrl(s, SSL_CTRL_SET_MTU, mtu, NULL); }
static inline void COpenSSL_setOptionNoQueryMTU(SSL *s) { SSL_set_options(s, SSL_OP_NO_QUERY_MTU); }
/* A connected peer may not start a new handshake (each costs an ECDHE key and a signature). */
static inline void COpenSSL_refuseRenegotiation(SSL_CTX *c) { SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION); }
/* Microseconds until the DTLS retransmission timer fires, or -1 when none is running. */
static inline long COpenSSL_dtlsTimeoutMicroseconds(SSL *s) {
    struct timeval tv;
    if (SSL_ctrl(s, DTLS_CTRL_GET_TIMEOUT, 0, &tv) != 1) return -1;
    return (long)tv.tv_sec * 1000000L + (long)tv.tv_usec;
}
static inline long COpenSSL_dtlsHandleTimeout(SSL *s) { return SSL_ctrl(s, DTLS_CTRL_HANDLE_TIMEOUT, 0, NULL); }

/* The peer's self-signed certificate is checked against the SDP fingerprint after the handshake,
   not against a CA chain: accept it here. */
static int COpenSSL_acceptAnyCertificate(int preverify, X509_STORE_CTX *ctx) { (void)preverify; (void)ctx; return 1; }
static inline void COpenSSL_requirePeerCertificate(SSL_CTX *c) {
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, COpenSSL_acceptAnyCertificate);
}

/* A self-signed certificate for `key`, valid from a day ago for `days`. */
static inline X509 *COpenSSL_selfSignedCertificate(EVP_PKEY *key, const char *commonName, long days) {
    X509 *x = X509_new();
    if (!x) return NULL;
    unsigned char serial[8];
    RAND_bytes(serial, sizeof serial);
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof serial, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_set_version(x, 2);
    X509_gmtime_adj(X509_getm_notBefore(x), -86400);
    X509_gmtime_adj(X509_getm_notAfter(x), days * 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)commonName, -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (X509_sign(x, key, EVP_sha256()) <= 0) { X509_free(x); return NULL; }
    return x;
}

/* SHA-256 of the DER certificate into out (32 bytes); returns 1 on success. */
static inline int COpenSSL_certificateSHA256(X509 *x, unsigned char *out) {
    unsigned int n = 0;
    return X509_digest(x, EVP_sha256(), out, &n) == 1 && n == 32;
}

static inline int COpenSSL_selectedSRTPProfile(SSL *s) {
    SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(s);
    return p ? (int)p->id : 0;
}
/* AES-256-GCM (NIST SP 800-38D) with a 12-byte IV and a 16-byte tag on a context keyed once
   (EVP_aes_256_gcm, key given at creation): the node-to-node media pipes' AEAD. */
static inline EVP_CIPHER_CTX *COpenSSL_gcmNew(const unsigned char *key32, int encrypt) {
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx) return NULL;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key32, NULL, encrypt) != 1) { EVP_CIPHER_CTX_free(ctx); return NULL; }
    return ctx;
}
/* Encrypts length bytes of in to out (may be the same) under iv12 with aad; writes the tag. 1 on success. */
static inline int COpenSSL_gcmSeal(EVP_CIPHER_CTX *ctx, const unsigned char *iv12, const unsigned char *aad, int aadLength,
                                   const unsigned char *in, int length, unsigned char *out, unsigned char *tag16) {
    int n = 0;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv12) != 1) return 0;
    if (aadLength > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad, aadLength) != 1) return 0;
    if (length > 0 && (EVP_EncryptUpdate(ctx, out, &n, in, length) != 1 || n != length)) return 0;
    if (EVP_EncryptFinal_ex(ctx, out + length, &n) != 1) return 0;
    return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag16) == 1;
}
/* Decrypts and checks the tag; 1 only when the tag matches (out then holds the plaintext). */
static inline int COpenSSL_gcmOpen(EVP_CIPHER_CTX *ctx, const unsigned char *iv12, const unsigned char *aad, int aadLength,
                                   const unsigned char *in, int length, unsigned char *out, const unsigned char *tag16) {
    int n = 0;
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv12) != 1) return 0;
    if (aadLength > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, aadLength) != 1) return 0;
    if (length > 0 && (EVP_DecryptUpdate(ctx, out, &n, in, length) != 1 || n != length)) return 0;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)tag16) != 1) return 0;
    return EVP_DecryptFinal_ex(ctx, out + length, &n) > 0;
}
#endif
