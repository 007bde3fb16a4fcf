/* Message digests (digest-int.h): OpenSSL's EVP for MD5 and the SHAs, a
 * table-driven CRC-32 (OpenSSL has none), and the hex/base64 forms. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "digest-int.h"
#include "reactor-int.h"

struct nt__digest_s {
  nt__dg_alg_t alg;
  EVP_MD_CTX *md; /* NULL for CRC-32 */
  uint32_t crc;
};

static const EVP_MD *evp_of(nt__dg_alg_t alg) {
  switch (alg) {
  case NT__DG_MD5: return EVP_md5();
  case NT__DG_SHA1: return EVP_sha1();
  case NT__DG_SHA256: return EVP_sha256();
  case NT__DG_SHA512: return EVP_sha512();
  default: return NULL;
  }
}

size_t nt__digest_len(nt__dg_alg_t alg) {
  switch (alg) {
  case NT__DG_CRC32: return 4;
  case NT__DG_MD5: return 16;
  case NT__DG_SHA1: return 20;
  case NT__DG_SHA256: return 32;
  case NT__DG_SHA512: return 64;
  default: return 0;
  }
}

const char *nt__digest_name(nt__dg_alg_t alg) {
  switch (alg) {
  case NT__DG_CRC32: return "CRC32";
  case NT__DG_MD5: return "MD5";
  case NT__DG_SHA1: return "SHA-1";
  case NT__DG_SHA256: return "SHA-256";
  case NT__DG_SHA512: return "SHA-512";
  default: return "none";
  }
}

/* CRC-32 (reflected, polynomial 0xEDB88320), the table built once. */
static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void) {
  if (crc_ready) return;
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
  crc_ready = 1;
}

nt__digest_t *nt__digest_new(nt__dg_alg_t alg) {
  if (!nt__digest_len(alg)) return NULL;
  nt__digest_t *d = nt__calloc(1, sizeof *d);
  if (!d) return NULL;
  d->alg = alg;
  if (alg == NT__DG_CRC32) {
    crc_init();
    d->crc = 0xFFFFFFFFu;
    return d;
  }
#ifdef NETTOOL_OSSL_LAZY_H /* OpenSSL is loaded on first use */
  if (nt__ossl_load()) {
    nt__free(d);
    return NULL;
  }
#endif
  d->md = EVP_MD_CTX_new();
  if (!d->md || !EVP_DigestInit_ex(d->md, evp_of(alg), NULL)) {
    EVP_MD_CTX_free(d->md);
    nt__free(d);
    return NULL;
  }
  return d;
}

void nt__digest_update(nt__digest_t *d, const void *p, size_t n) {
  if (!d || !n) return;
  if (d->md) {
    EVP_DigestUpdate(d->md, p, n);
    return;
  }
  const unsigned char *s = p;
  uint32_t c = d->crc;
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ s[i]) & 0xFF] ^ (c >> 8);
  d->crc = c;
}

void nt__digest_free(nt__digest_t *d) {
  if (!d) return;
  if (d->md) EVP_MD_CTX_free(d->md); /* a CRC-32 never loads OpenSSL */
  nt__free(d);
}

size_t nt__digest_final(nt__digest_t *d, unsigned char *out) {
  size_t n = 0;
  if (d->md) {
    unsigned int len = 0;
    EVP_DigestFinal_ex(d->md, out, &len);
    n = len;
  } else {
    uint32_t c = d->crc ^ 0xFFFFFFFFu;
    out[0] = (unsigned char)(c >> 24);
    out[1] = (unsigned char)(c >> 16);
    out[2] = (unsigned char)(c >> 8);
    out[3] = (unsigned char)c;
    n = 4;
  }
  nt__digest_free(d);
  return n;
}

int nt__digest_fd(nt__dg_alg_t alg, int fd, uint64_t off, uint64_t len,
                  unsigned char *out, size_t *outlen) {
  nt__digest_t *d = nt__digest_new(alg);
  if (!d) return NT_ENOMEM;
  size_t cap = 256u << 10;
  char *buf = nt__malloc(cap);
  if (!buf) {
    nt__digest_free(d);
    return NT_ENOMEM;
  }
  while (len) {
    size_t want = len < cap ? (size_t)len : cap;
    ssize_t got = pread(fd, buf, want, (off_t)off);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      int e = -errno;
      nt__free(buf);
      nt__digest_free(d);
      return e;
    }
    if (got == 0) {
      if (len == UINT64_MAX) break;
      nt__free(buf);
      nt__digest_free(d);
      return NT_EIO; /* shorter than asked */
    }
    nt__digest_update(d, buf, (size_t)got);
    off += (uint64_t)got;
    if (len != UINT64_MAX) len -= (uint64_t)got;
  }
  nt__free(buf);
  *outlen = nt__digest_final(d, out);
  return 0;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int nt__hex_decode(const char *s, size_t n, unsigned char *out, size_t size) {
  if (n % 2 || n / 2 > size) return -1;
  for (size_t i = 0; i < n; i += 2) {
    int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i / 2] = (unsigned char)(hi << 4 | lo);
  }
  return (int)(n / 2);
}

void nt__hex_encode(const unsigned char *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 15];
  }
  out[2 * n] = 0;
}

static int b64val(int c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int nt__b64_decode(const char *s, size_t n, unsigned char *out, size_t size) {
  while (n && s[n - 1] == '=') n--;
  if (n % 4 == 1) return -1;
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64val((unsigned char)s[i]);
    if (v < 0) return -1;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o >= size) return -1;
      out[o++] = (unsigned char)(acc >> bits);
    }
  }
  return (int)o;
}
