/* The yEnc data kernel: bytes minus 42, '=' escapes (minus 64 more), CR and
 * LF dropped. Three versions, one picked at first use (cpuid; between SSE2
 * and AVX2, a 1 ms measurement: see faster_of_sse2_avx2):
 *  - AVX2: 32 bytes at a time; a block without '=', CR or LF is one
 *    subtract and one store. A block with one goes, from a copy (so
 *    decoding in place never reads what it already overwrote), through
 *    the SSE2 path as two halves, one of which is often clean.
 *  - SSE2 (every x86-64): 16 bytes at a time; a block with a special
 *    byte stores its clean prefix as a vector and finishes in the scalar
 *    loop from a copy of the block.
 *  - scalar: one table lookup per byte (class: plain, drop, escape).
 * On random data about one byte in 64 needs escaping (NUL, LF, CR, '=')
 * and a line ends every 128, so most blocks take the fast path; the copy
 * and the prefix keep the slow path short. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nettool/yenc.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NT_YENC_X86 1
#endif

enum { PLAIN = 0, DROP = 1, ESC = 2 };
static const unsigned char cls[256] = {['\r'] = DROP, ['\n'] = DROP, ['='] = ESC};

static size_t scalar(unsigned char *d, const unsigned char *s, size_t n,
                     int *escaped) {
  unsigned char *d0 = d;
  int esc = *escaped;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = s[i];
    unsigned char k = cls[c];
    if (k == PLAIN) {
      *d++ = (unsigned char)(c - (esc ? 106 : 42));
      esc = 0;
    } else if (k == ESC && !esc) {
      esc = 1;
    } else if (k == ESC) { /* "==": an escaped '=' (not what encoders write) */
      *d++ = (unsigned char)(c - 106);
      esc = 0;
    } /* DROP: CR/LF, even after '=' (the escape waits for its byte) */
  }
  *escaped = esc;
  return (size_t)(d - d0);
}

#ifdef NT_YENC_X86
static size_t sse2(unsigned char *d, const unsigned char *s, size_t n,
                   int *escaped) {
  unsigned char *d0 = d;
  size_t i = 0;
  const __m128i eq = _mm_set1_epi8('='), cr = _mm_set1_epi8('\r'),
                lf = _mm_set1_epi8('\n'), k42 = _mm_set1_epi8(42);
  int esc = *escaped;
  /* dst outside src (and its 16 bytes of slack): a special byte restarts
   * the vector loop right after it, so an escape costs one more vector
   * step instead of the rest of its block in the scalar loop (yEnc lines
   * hold about two escapes in 128 bytes: 20% less CPU per MiB in
   * yenc_bench). In place, the stores may reach bytes not yet read: the
   * rest of the block goes through the scalar loop from a copy. */
  uintptr_t du = (uintptr_t)d, su = (uintptr_t)s;
  int apart = du + n + 16 <= su || du >= su + n;
  while (i + 16 <= n) {
    if (esc) { /* finish the escape before the vector path */
      size_t w = scalar(d, s + i, 1, &esc);
      d += w;
      i++;
      continue;
    }
    __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
    __m128i sp = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, eq), _mm_cmpeq_epi8(v, cr)),
                              _mm_cmpeq_epi8(v, lf));
    unsigned m = (unsigned)_mm_movemask_epi8(sp);
    _mm_storeu_si128((__m128i *)d, _mm_sub_epi8(v, k42));
    if (!m) {
      d += 16;
      i += 16;
      continue;
    }
    unsigned k = (unsigned)__builtin_ctz(m); /* clean prefix, already stored */
    if (apart) { /* the special byte (and an escape's byte) alone */
      d += k;
      i += k;
      size_t take = s[i] == '=' && i + 1 < n ? 2 : 1;
      d += scalar(d, s + i, take, &esc);
      i += take;
      continue;
    }
    unsigned char tmp[16];
    _mm_storeu_si128((__m128i *)tmp, v);
    d += k;
    d += scalar(d, tmp + k, 16 - k, &esc);
    i += 16;
  }
  d += scalar(d, s + i, n - i, &esc);
  *escaped = esc;
  return (size_t)(d - d0);
}

__attribute__((target("avx2"))) static size_t avx2(unsigned char *d,
                                                   const unsigned char *s,
                                                   size_t n, int *escaped) {
  unsigned char *d0 = d;
  size_t i = 0;
  const __m256i eq = _mm256_set1_epi8('='), cr = _mm256_set1_epi8('\r'),
                lf = _mm256_set1_epi8('\n'), k42 = _mm256_set1_epi8(42);
  int esc = *escaped;
  while (i + 32 <= n) {
    if (esc) {
      size_t w = scalar(d, s + i, 1, &esc);
      d += w;
      i++;
      continue;
    }
    __m256i v = _mm256_loadu_si256((const __m256i *)(s + i));
    __m256i sp = _mm256_or_si256(
        _mm256_or_si256(_mm256_cmpeq_epi8(v, eq), _mm256_cmpeq_epi8(v, cr)),
        _mm256_cmpeq_epi8(v, lf));
    unsigned m = (unsigned)_mm256_movemask_epi8(sp);
    if (!m) {
      _mm256_storeu_si256((__m256i *)d, _mm256_sub_epi8(v, k42));
      d += 32;
      i += 32;
      continue;
    }
    /* a special byte: the two halves through the 16-byte path (one of
     * them is often clean), from a copy (in place, d may reach src) */
    unsigned char tmp[32];
    _mm256_storeu_si256((__m256i *)tmp, v);
    d += sse2(d, tmp, 32, &esc);
    i += 32;
  }
  d += sse2(d, s + i, n - i, &esc);
  *escaped = esc;
  return (size_t)(d - d0);
}
#endif

typedef size_t (*kernel_fn)(unsigned char *, const unsigned char *, size_t, int *);
static kernel_fn kernel;
static const char *kernel_name;

#ifdef NT_YENC_X86
/* CPU seconds of the best of 3 rounds of `reps` decodes of buf by k. */
static double time_kernel(kernel_fn k, unsigned char *out, const unsigned char *in, size_t n,
                          int reps) {
  double best = 1e9;
  for (int r = 0; r < 3; r++) {
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    for (int i = 0; i < reps; i++) {
      int esc = 0;
      k(out, in, n, &esc);
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    if (t < best) best = t;
  }
  return best;
}

/* AVX2 pays only where 256-bit work is cheap and its blocks (twice as
 * likely to hold an escape) do not fall back too often: on an AMD EPYC
 * here SSE2 measured faster. So when both exist, 192 KiB of encoded
 * random data (what binaries look like) decide, once (about 1 ms): 4 KiB
 * decoded 48 times, not 192 KiB once, because this runs inside a download
 * and nzb_bench.sh counts its peak memory (the 192 KiB buffers were ~1 MiB
 * allocated, 580 KiB touched: the peak of a whole `nntp-get`; 16 KiB ones
 * still 66 KiB of heap). Decoding never writes more than it reads (+ a
 * vector of slack). */
static kernel_fn faster_of_sse2_avx2(void) {
  enum { N = 4 << 10, REPS = 48 };
  unsigned char *src = malloc(N), *enc = malloc(nt_yenc_encode_bound(N, 128)), *out = malloc(N + 64);
  kernel_fn k = avx2;
  if (src && enc && out) {
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < N; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      src[i] = (unsigned char)x;
    }
    size_t el = nt_yenc_encode(enc, src, N, 128);
    time_kernel(sse2, out, enc, el, 1); /* warm the caches for both */
    if (time_kernel(sse2, out, enc, el, REPS) < time_kernel(avx2, out, enc, el, REPS)) k = sse2;
  }
  free(src);
  free(enc);
  free(out);
  return k;
}
#endif

static void pick(void) {
  const char *force = getenv("NETTOOL_YENC");
  kernel = scalar;
  kernel_name = "scalar";
#ifdef NT_YENC_X86
  if (force && !strcmp(force, "scalar")) return;
  kernel = sse2;
  kernel_name = "sse2";
  if (force && !strcmp(force, "sse2")) return;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) {
    kernel = force && !strcmp(force, "avx2") ? avx2 : faster_of_sse2_avx2();
    kernel_name = kernel == avx2 ? "avx2" : "sse2";
  }
#else
  (void)force;
#endif
}

/* Tests and benchmarks: use the named kernel ("scalar", "sse2", "avx2")
 * if this CPU has it. 0 or NT_ENOTSUP. */
int nt__yenc_use_kernel(const char *name) {
  if (!strcmp(name, "scalar")) {
    kernel = scalar;
    kernel_name = "scalar";
    return 0;
  }
#ifdef NT_YENC_X86
  if (!strcmp(name, "sse2")) {
    kernel = sse2;
    kernel_name = "sse2";
    return 0;
  }
  __builtin_cpu_init();
  if (!strcmp(name, "avx2") && __builtin_cpu_supports("avx2")) {
    kernel = avx2;
    kernel_name = "avx2";
    return 0;
  }
#endif
  return NT_ENOTSUP;
}

size_t nt_yenc_decode_raw(void *dst, const void *src, size_t len, int *escaped) {
  if (!kernel) pick(); /* a benign race: every thread picks the same */
  return kernel((unsigned char *)dst, (const unsigned char *)src, len, escaped);
}

const char *nt_yenc_kernel(void) {
  if (!kernel) pick();
  return kernel_name;
}

size_t nt_yenc_encode_bound(size_t len, int line) {
  if (line <= 0) line = 128;
  /* every byte may double; each line (of at least `line` output bytes)
   * adds CRLF */
  return 2 * len + 2 * (2 * len / (size_t)line + 1) + 2;
}

size_t nt_yenc_encode(void *dst, const void *src, size_t len, int line) {
  if (line <= 0) line = 128;
  unsigned char *d = dst;
  const unsigned char *s = src;
  size_t col = 0, o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)(s[i] + 42);
    int last = col + 1 >= (size_t)line || i + 1 == len;
    int crit = c == 0 || c == '\n' || c == '\r' || c == '=' ||
               ((c == '\t' || c == ' ') && (col == 0 || last)) ||
               (c == '.' && col == 0);
    if (crit) {
      d[o++] = '=';
      d[o++] = (unsigned char)(c + 64);
      col += 2;
    } else {
      d[o++] = c;
      col++;
    }
    if (col >= (size_t)line && i + 1 < len) {
      d[o++] = '\r';
      d[o++] = '\n';
      col = 0;
    }
  }
  if (col) {
    d[o++] = '\r';
    d[o++] = '\n';
  }
  return o;
}
