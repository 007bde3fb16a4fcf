/* Fuzz target: what a retried transfer reads from servers (issue 12). The
 * first byte picks the parser, the rest is its input:
 *   0 Content-Range, 1 Retry-After, 2 Repr-Digest/Content-Digest,
 *   3 Content-MD5 (protocols/http/download_plan.c),
 *   4 an FTP FEAT reply's checksum commands, 5 a HASH/X<alg> reply
 *   (protocols/ftp/ftp_verify.c; the second byte picks the digest length).
 * Checks what must hold whatever the input: ranges ordered, waits bounded,
 * digests of the algorithm's length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/download-int.h"
#include "nettool/ftp_transfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 65536) return 0;
  int mode = data[0] % 6;
  data++;
  size--;
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0; /* header values are strings: cut at the first NUL */
  switch (mode) {
  case 0: {
    int64_t a, b, t;
    if (nt__dl_parse_content_range(s, &a, &b, &t) == 0) {
      if (a >= 0 && (b < a || (t >= 0 && b >= t))) abort();
      if (a < 0 && t < 0) abort();
    }
    break;
  }
  case 1: {
    int64_t w = nt__dl_parse_retry_after(s, 1764900000);
    if (w < -1 || w > 366LL * 86400 * 1000) abort();
    break;
  }
  case 2: {
    nt__dl_digest_t d;
    if (nt__dl_parse_digest_field(s, &d) == 0 && d.alg != NT__DG_NONE &&
        d.len != nt__digest_len(d.alg))
      abort();
    break;
  }
  case 3: {
    nt__dl_digest_t d;
    if (nt__dl_parse_content_md5(s, &d) == 0 && d.alg != NT__DG_NONE && d.len != 16)
      abort();
    break;
  }
  case 4:
    (void)nt_ftp_parse_feat_hash((const char *)data, size);
    break;
  default: {
    static const size_t lens[] = {4, 16, 20, 32, 64};
    size_t want = size ? lens[data[0] % 5] : 32;
    unsigned char out[64];
    (void)nt_ftp_parse_hash_reply(size ? (const char *)data + 1 : "", size ? size - 1 : 0,
                                  want, out);
    break;
  }
  }
  free(s);
  return 0;
}
