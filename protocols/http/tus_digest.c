/* The checksum of one piece of a resumable upload (tus checksum extension:
 * Upload-Checksum: <alg> <base64 digest>), read with pread, hashed with
 * OpenSSL's EVP (libcrypto is linked for TLS anyway). */
#include <errno.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "http-int.h"
#include "reactor-int.h"
#include "tus-int.h"

int nt__tus_digest(nt__up_ck_t ck, int fd, uint64_t off, uint64_t len,
                   char *out, size_t size) {
  const EVP_MD *md = ck == NT__UP_CK_SHA1     ? EVP_sha1()
                     : ck == NT__UP_CK_SHA256 ? EVP_sha256()
                     : ck == NT__UP_CK_MD5    ? EVP_md5()
                                              : NULL;
  if (!md || size < 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1) return NT_EINVAL;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return NT_ENOMEM;
  enum { BUF = 256 << 10 };
  unsigned char *buf = nt__malloc(BUF);
  int rc = buf && EVP_DigestInit_ex(ctx, md, NULL) == 1 ? 0 : NT_ENOMEM;
  while (!rc && len) {
    size_t want = len < BUF ? (size_t)len : BUF;
    ssize_t n = pread(fd, buf, want, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) rc = -errno;
    else if (n == 0) rc = NT_EHTTP_FILE_CHANGED; /* shorter than it was */
    else {
      EVP_DigestUpdate(ctx, buf, (size_t)n);
      off += (uint64_t)n;
      len -= (uint64_t)n;
    }
  }
  if (!rc) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (EVP_DigestFinal_ex(ctx, d, &dl) != 1) rc = NT_ENOMEM;
    else nt__base64(d, dl, out);
  }
  nt__free(buf);
  EVP_MD_CTX_free(ctx);
  return rc;
}
