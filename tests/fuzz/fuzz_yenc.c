/* Fuzz the yEnc decoder. The first byte picks the target:
 *   0 the raw kernels: every kernel this CPU has must give the same bytes,
 *     length and escape state as the scalar one (differential), also when
 *     the input is cut in two at a point taken from the data
 *   1 the framing, line by line (=ybegin/=ypart/=yend, data), into an
 *     output buffer of a size taken from the data; finish() must hold its
 *     promises (0 means the sizes agree)
 * Anything may happen except a crash, a leak, a disagreement. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nettool/yenc.h"

int nt__yenc_use_kernel(const char *name);

/* back to the best kernel this CPU has */
static void restore(void) {
  if (nt__yenc_use_kernel("avx2")) nt__yenc_use_kernel("sse2");
}

static void kernels(const unsigned char *d, size_t n) {
  static const char *const names[] = {"scalar", "sse2", "avx2"};
  unsigned char *out[3] = {malloc(n + 1), malloc(n + 1), malloc(n + 1)};
  size_t len[3] = {0};
  int esc[3] = {0};
  size_t cut = n ? d[0] % (n + 1) : 0;
  int have = 0;
  for (int k = 0; k < 3; k++) {
    if (nt__yenc_use_kernel(names[k])) continue;
    esc[k] = n > 1 && (d[1] & 1);
    size_t a = nt_yenc_decode_raw(out[k], d, cut, &esc[k]);
    len[k] = a + nt_yenc_decode_raw(out[k] + a, d + cut, n - cut, &esc[k]);
    if (len[k] > n) abort();
    if (have && (len[k] != len[0] || esc[k] != esc[0] || memcmp(out[k], out[0], len[0])))
      abort();
    have = 1;
  }
  /* in place, whole: the same again */
  if (n) {
    unsigned char *copy = malloc(n);
    memcpy(copy, d, n);
    int e = n > 1 && (d[1] & 1);
    size_t l = nt_yenc_decode_raw(copy, copy, n, &e);
    int e0 = n > 1 && (d[1] & 1);
    size_t l0 = nt_yenc_decode_raw(out[1], d, n, &e0);
    if (l != l0 || e != e0 || memcmp(copy, out[1], l)) abort();
    free(copy);
  }
  for (int k = 0; k < 3; k++) free(out[k]);
  restore();
}

static void framing(const unsigned char *d, size_t n) {
  size_t cap = n ? (size_t)d[0] * 16 : 0;
  unsigned char *buf = malloc(cap + 1);
  nt_yenc_t y;
  nt_yenc_init(&y);
  nt_yenc_set_output(&y, buf, cap);
  const char *p = (const char *)d + (n ? 1 : 0), *end = (const char *)d + n;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (nt_yenc_feed_line(&y, p, ll)) break;
    p += ll + (nl ? 1 : 0);
  }
  int rc = nt_yenc_finish(&y);
  if (nt_yenc_output_len(&y) > cap) abort();
  if (rc == 0) {
    if (y.decoded != y.info.end + 1 - y.info.begin || y.decoded != nt_yenc_output_len(&y))
      abort();
    if (nt_yenc_crc32(0, buf, nt_yenc_output_len(&y)) != y.crc) abort();
    if (y.info.has_pcrc && y.info.pcrc32 != y.crc) abort();
  }
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!size) return 0;
  if (data[0] % 2 == 0) kernels(data + 1, size - 1);
  else framing(data + 1, size - 1);
  return 0;
}
