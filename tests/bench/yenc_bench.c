/* yEnc decoding speed on one core: 64 MiB of random bytes encoded once
 * (128-byte lines, CRLF, as posters write them), then decoded again and
 * again by each kernel (timed in this thread's CPU time) (nt_yenc_decode_raw: the whole buffer), and through
 * the article path nettool uses (nt_yenc_feed_line per line: framing,
 * decode and the CRC32). Prints GB/s of encoded input per kernel; the
 * best of RUNS passes. Also the CRC32 alone (nt_yenc_crc32: PCLMULQDQ where
 * the CPU has it; zlib's beside it), and memcpy as an anchor.
 *   yenc_bench [MIB] [RUNS]                                                */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "nettool/yenc.h"

int nt__yenc_use_kernel(const char *name);

/* CPU time of this thread: "on one core", whatever else the machine runs
 * (a shared machine's wall clock says more about its load) */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 64;
  int runs = argc > 2 ? atoi(argv[2]) : 5;
  size_t n = mib << 20;
  unsigned char *src = malloc(n), *dst = malloc(nt_yenc_encode_bound(n, 128)); /* the input length */
  char *enc = malloc(nt_yenc_encode_bound(n, 128));
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    src[i] = (unsigned char)x;
  }
  size_t el = nt_yenc_encode(enc, src, n, 128);
  printf("input: %zu MiB random, %zu bytes encoded (%.2f%% overhead)\n", mib, el,
         100.0 * (double)(el - n) / (double)n);
  const char *picked = nt_yenc_kernel();
  printf("picked at run time on this CPU: %s\n", picked);
  printf("| path | GB/s (encoded in) | GB/s (decoded out) |\n|---|---:|---:|\n");
  static const char *const k[] = {"scalar", "sse2", "avx2"};
  double best_kernel = 0;
  for (int i = 0; i < 3; i++) {
    if (nt__yenc_use_kernel(k[i])) continue;
    double best = 1e9;
    for (int r = 0; r < runs; r++) {
      int esc = 0;
      double t = now();
      size_t w = nt_yenc_decode_raw(dst, enc, el, &esc);
      t = now() - t;
      if (w != n || memcmp(dst, src, n)) {
        fprintf(stderr, "%s: wrong output\n", k[i]);
        return 1;
      }
      if (t < best) best = t;
    }
    printf("| raw kernel %s | %.2f | %.2f |\n", k[i], (double)el / best / 1e9,
           (double)n / best / 1e9);
    if ((double)el / best / 1e9 > best_kernel) best_kernel = (double)el / best / 1e9;
  }
  nt__yenc_use_kernel(picked);
  /* the article path: lines (no CRLF) through the framing, with CRC32 */
  size_t nl = 0;
  for (size_t i = 0; i < el; i++) nl += enc[i] == '\n';
  const char **lp = malloc(nl * sizeof *lp);
  size_t *ll = malloc(nl * sizeof *ll), li = 0, st = 0;
  for (size_t i = 0; i < el; i++)
    if (enc[i] == '\n') {
      lp[li] = enc + st;
      ll[li++] = i - 1 - st;
      st = i + 1;
    }
  char head[128], tail[128];
  snprintf(head, sizeof head, "=ybegin line=128 size=%zu name=bench.bin", n);
  uint32_t crc = nt_yenc_crc32(0, src, n);
  snprintf(tail, sizeof tail, "=yend size=%zu crc32=%08x", n, crc);
  double best = 1e9;
  for (int r = 0; r < runs; r++) {
    nt_yenc_t y;
    nt_yenc_init(&y);
    nt_yenc_set_output(&y, dst, n);
    double t = now();
    int rc = nt_yenc_feed_line(&y, head, strlen(head));
    size_t i = 0;
    for (; i < nl && !rc; i++) rc = nt_yenc_feed_line(&y, lp[i], ll[i]);
    if (rc) fprintf(stderr, "line %zu of %zu: %d\n", i, nl, rc);
    if (!rc) rc = nt_yenc_feed_line(&y, tail, strlen(tail));
    if (!rc) rc = nt_yenc_finish(&y);
    t = now() - t;
    if (rc) {
      fprintf(stderr, "article path: %s\n", nt_strerror(rc));
      return 1;
    }
    if (t < best) best = t;
  }
  printf("| article lines + CRC32 (%s) | %.2f | %.2f |\n", nt_yenc_kernel(), (double)el / best / 1e9,
         (double)n / best / 1e9);
  best = 1e9;
  for (int r = 0; r < runs; r++) {
    double t = now();
    volatile uint32_t c = nt_yenc_crc32(0, src, n);
    (void)c;
    t = now() - t;
    if (t < best) best = t;
  }
  printf("| CRC32 alone, %zu MiB (nt_yenc_crc32) | - | %.2f |\n", mib, (double)n / best / 1e9);
  /* as nntp-get runs it: 32 KiB at a time, in cache; then zlib's */
  for (int z = 0; z < 2; z++) {
    best = 1e9;
    for (int r = 0; r < runs; r++) {
      double t = now();
      uint32_t c = 0;
      for (size_t i = 0; i < 2048; i++)
        c = z ? (uint32_t)crc32(c, src + (i & 7) * 32768, 32768)
              : nt_yenc_crc32(c, src + (i & 7) * 32768, 32768);
      volatile uint32_t sink = c;
      (void)sink;
      t = now() - t;
      if (t < best) best = t;
    }
    printf("| CRC32 of 32 KiB buffers (%s) | - | %.2f |\n",
           z ? "zlib crc32" : "nt_yenc_crc32", 2048.0 * 32768 / best / 1e9);
  }
  best = 1e9;
  for (int r = 0; r < runs; r++) {
    double t = now();
    memcpy(dst, src, n);
    t = now() - t;
    if (t < best) best = t;
  }
  printf("| memcpy (anchor) | %.2f | - |\n", (double)n / best / 1e9);
  printf("best kernel: %.2f GB/s (target >= 1 GB/s: %s)\n", best_kernel,
         best_kernel >= 1.0 ? "met" : "NOT met");
  free(lp);
  free(ll);
  free(src);
  free(dst);
  free(enc);
  return 0;
}
