/* Message digests for the transfer checks (HTTP Repr-Digest/Content-Digest
 * and Content-MD5, FTP HASH/XSHA256/XMD5/XCRC): one incremental interface
 * over OpenSSL's EVP (digest_openssl.c, with the TLS files the only ones
 * that include OpenSSL) plus CRC-32, and the text forms servers use (hex,
 * base64). Private to the library. */
#ifndef NETTOOL_DIGEST_INT_H
#define NETTOOL_DIGEST_INT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  NT__DG_NONE = 0,
  NT__DG_CRC32, /* IEEE 802.3, as XCRC and HASH CRC32 give it */
  NT__DG_MD5,
  NT__DG_SHA1,
  NT__DG_SHA256,
  NT__DG_SHA512,
} nt__dg_alg_t;

#define NT__DG_MAX 64 /* the longest digest, in bytes (SHA-512) */

typedef struct nt__digest_s nt__digest_t;

/* A running digest; NULL when out of memory or alg unknown. */
nt__digest_t *nt__digest_new(nt__dg_alg_t alg);
void nt__digest_update(nt__digest_t *d, const void *p, size_t n);
/* The digest into out (NT__DG_MAX bytes of room); returns its length and
 * frees d. */
size_t nt__digest_final(nt__digest_t *d, unsigned char *out);
/* Frees d without a result (NULL is fine). */
void nt__digest_free(nt__digest_t *d);
/* The digest's length in bytes (0: unknown). */
size_t nt__digest_len(nt__dg_alg_t alg);
/* The name as HTTP (RFC 9530 registry: "sha-256") and FTP (HASH: "SHA-256")
 * spell it. */
const char *nt__digest_name(nt__dg_alg_t alg);

/* The digest of bytes [off, off+len) of fd (len UINT64_MAX: to the end),
 * read with pread in 256 KiB pieces; 0 and *outlen, or -errno. */
int nt__digest_fd(nt__dg_alg_t alg, int fd, uint64_t off, uint64_t len,
                  unsigned char *out, size_t *outlen);

/* Hex (either case) into bytes: the number of bytes, or -1 for a bad digit
 * or more than size bytes. Leading/trailing spaces are not accepted. */
int nt__hex_decode(const char *s, size_t n, unsigned char *out, size_t size);
/* Base64 (standard alphabet, padding optional) into bytes: the number of
 * bytes, or -1. */
int nt__b64_decode(const char *s, size_t n, unsigned char *out, size_t size);
/* Bytes as lower-case hex into out (2n+1 bytes of room). */
void nt__hex_encode(const unsigned char *p, size_t n, char *out);

#endif
