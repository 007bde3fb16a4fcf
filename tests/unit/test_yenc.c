/* yEnc: the kernels (scalar, SSE2, AVX2) against each other and against
 * the encoder, split at every byte; the =ybegin/=ypart/=yend framing with
 * its size and CRC32 checks; an article as Nyuu posts it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "nettool/yenc.h"

int nt__yenc_use_kernel(const char *name);
void nt__yenc_crc_fast(int on);

/* back to the best kernel this CPU has */
static void restore(void) {
  if (nt__yenc_use_kernel("avx2")) nt__yenc_use_kernel("sse2");
}

static const char *const kernels[] = {"scalar", "sse2", "avx2"};

/* Random bytes with many critical ones (they encode to NUL, LF, CR, '=',
 * TAB, space, '.'): escapes everywhere, at block edges too. */
static void fill(unsigned char *p, size_t n, unsigned seed, int nasty) {
  static const unsigned char crit[] = {214, 224, 227, 19, 223, 246, 4};
  srand(seed);
  for (size_t i = 0; i < n; i++)
    p[i] = nasty && rand() % 3 == 0 ? crit[rand() % 7] : (unsigned char)rand();
}

static void test_roundtrip_every_kernel(void **state) {
  (void)state;
  static const size_t sizes[] = {0, 1, 2, 15, 16, 17, 31, 32, 33, 127, 128, 129, 1000, 65537};
  for (size_t k = 0; k < 3; k++) {
    if (nt__yenc_use_kernel(kernels[k])) continue; /* no AVX2 here */
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
      for (int nasty = 0; nasty < 2; nasty++) {
        size_t n = sizes[si];
        /* dst holds as many bytes as the input (the kernels' contract:
         * their vector stores may run past the last output byte) */
        unsigned char *src = malloc(n + 1), *dst = malloc(nt_yenc_encode_bound(n, 128));
        char *enc = malloc(nt_yenc_encode_bound(n, 128));
        fill(src, n, (unsigned)(n * 7 + (size_t)nasty), nasty);
        size_t el = nt_yenc_encode(enc, src, n, 128);
        int esc = 0;
        size_t dl = nt_yenc_decode_raw(dst, enc, el, &esc);
        assert_int_equal(dl, n);
        assert_int_equal(esc, 0);
        if (n) assert_memory_equal(dst, src, n);
        /* in place */
        esc = 0;
        dl = nt_yenc_decode_raw(enc, enc, el, &esc);
        assert_int_equal(dl, n);
        if (n) assert_memory_equal(enc, src, n);
        free(src);
        free(dst);
        free(enc);
      }
  }
  restore();
}

/* The stream split in two at every byte (an '=' or CR/LF at the cut too)
 * decodes to the same bytes, with every kernel. */
static void test_every_split(void **state) {
  (void)state;
  unsigned char src[300], dst[1000]; /* room for the encoded length */
  fill(src, sizeof src, 42, 1);
  char enc[1000];
  size_t el = nt_yenc_encode(enc, src, sizeof src, 40); /* short lines: many CRLF */
  assert_true(memchr(enc, '=', el) != NULL);
  for (size_t k = 0; k < 3; k++) {
    if (nt__yenc_use_kernel(kernels[k])) continue;
    for (size_t cut = 0; cut <= el; cut++) {
      int esc = 0;
      size_t a = nt_yenc_decode_raw(dst, enc, cut, &esc);
      size_t b = nt_yenc_decode_raw(dst + a, enc + cut, el - cut, &esc);
      assert_int_equal(a + b, sizeof src);
      assert_memory_equal(dst, src, sizeof src);
    }
    /* three pieces, byte by byte through the first 64 */
    int esc = 0;
    size_t o = 0;
    for (size_t i = 0; i < 64; i++) o += nt_yenc_decode_raw(dst + o, enc + i, 1, &esc);
    o += nt_yenc_decode_raw(dst + o, enc + 64, el - 64, &esc);
    assert_int_equal(o, sizeof src);
    assert_memory_equal(dst, src, sizeof src);
  }
  restore();
}

/* The kernels agree on any input, even what no encoder writes ("==",
 * "=\r\n", a trailing '='). */
static void test_kernels_agree_on_junk(void **state) {
  (void)state;
  unsigned char in[517], out[3][517];
  size_t len[3];
  int esc[3];
  for (unsigned seed = 0; seed < 200; seed++) {
    srand(seed);
    for (size_t i = 0; i < sizeof in; i++) {
      int r = rand() % 8;
      in[i] = r == 0 ? '=' : r == 1 ? '\r' : r == 2 ? '\n' : (unsigned char)rand();
    }
    int have = 0;
    for (size_t k = 0; k < 3; k++) {
      if (nt__yenc_use_kernel(kernels[k])) continue;
      esc[k] = seed & 1;
      len[k] = nt_yenc_decode_raw(out[k], in, sizeof in, &esc[k]);
      if (have) {
        assert_int_equal(len[k], len[0]);
        assert_int_equal(esc[k], esc[0]);
        assert_memory_equal(out[k], out[0], len[0]);
      }
      have = 1;
    }
  }
  restore();
}

/* --- framing ----------------------------------------------------------------------- */

typedef struct {
  char *lines[4096];
  size_t n;
} article_t;

static void add(article_t *a, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  a->lines[a->n++] = strdup(buf);
}

/* Part `part` of `total` of data[0..size), bytes begin..end (1-based) as
 * lines of `line` characters, the way Nyuu writes them. */
static void make_part(article_t *a, const unsigned char *data, size_t size, int part,
                      int total, size_t begin, size_t end, const char *name) {
  a->n = 0;
  add(a, "=ybegin part=%d total=%d line=128 size=%zu name=%s", part, total, size, name);
  add(a, "=ypart begin=%zu end=%zu", begin, end);
  size_t n = end + 1 - begin;
  char *enc = malloc(nt_yenc_encode_bound(n, 128));
  size_t el = nt_yenc_encode(enc, data + begin - 1, n, 128);
  for (size_t i = 0; i < el;) {
    char *crlf = memchr(enc + i, '\r', el - i);
    size_t ll = (size_t)(crlf - (enc + i));
    a->lines[a->n++] = strndup(enc + i, ll);
    i += ll + 2;
  }
  free(enc);
  uint32_t pcrc = (uint32_t)crc32(0, data + begin - 1, (uInt)n);
  uint32_t crc = (uint32_t)crc32(0, data, (uInt)size);
  add(a, "=yend size=%zu part=%d pcrc32=%08x crc32=%08x", n, part, pcrc, crc);
}

static void clear(article_t *a) {
  for (size_t i = 0; i < a->n; i++) free(a->lines[i]);
  a->n = 0;
}

static int feed_all(nt_yenc_t *y, article_t *a) {
  for (size_t i = 0; i < a->n; i++) {
    int rc = nt_yenc_feed_line(y, a->lines[i], strlen(a->lines[i]));
    if (rc) return rc;
  }
  return nt_yenc_finish(y);
}

static void test_multipart(void **state) {
  (void)state;
  enum { SIZE = 5000 };
  static unsigned char data[SIZE], out[SIZE];
  fill(data, SIZE, 7, 1);
  article_t a = {0};
  size_t bounds[][2] = {{1, 2000}, {2001, 4000}, {4001, 5000}};
  uint32_t crc = 0;
  for (int p = 0; p < 3; p++) {
    make_part(&a, data, SIZE, p + 1, 3, bounds[p][0], bounds[p][1], "my file.bin");
    nt_yenc_t y;
    nt_yenc_init(&y);
    /* the room that is really left: the kernel may store up to a line's
     * encoded length from where it writes (yenc.h) */
    nt_yenc_set_output(&y, out + bounds[p][0] - 1, SIZE - (bounds[p][0] - 1));
    assert_int_equal(feed_all(&y, &a), 0);
    assert_int_equal(y.info.part, p + 1);
    assert_int_equal(y.info.total, 3);
    assert_int_equal(y.info.size, SIZE);
    assert_int_equal(y.info.begin, bounds[p][0]);
    assert_int_equal(y.info.end, bounds[p][1]);
    assert_string_equal(y.info.name, "my file.bin"); /* spaces kept */
    assert_true(y.info.has_crc && y.info.has_pcrc);
    crc = p ? nt_yenc_crc_combine(crc, y.crc, y.decoded) : y.crc;
    if (p == 2) assert_int_equal(crc, y.info.crc32); /* the whole file's */
    clear(&a);
  }
  assert_memory_equal(out, data, SIZE);
}

static void test_errors(void **state) {
  (void)state;
  enum { SIZE = 1000 };
  static unsigned char data[SIZE], out[SIZE];
  fill(data, SIZE, 9, 1);
  article_t a = {0};
  nt_yenc_t y;

  /* a flipped data byte: pcrc32 differs */
  make_part(&a, data, SIZE, 1, 1, 1, SIZE, "x");
  { /* a byte that is no escape nor escaped, and stays so */
    char *l = a.lines[5];
    size_t j = 1;
    while (l[j] == '=' || l[j - 1] == '=' || (l[j] ^ 1) == '=' || (l[j] ^ 1) == '\r' ||
           (l[j] ^ 1) == '\n' || (l[j] ^ 1) == 0)
      j++;
    l[j] ^= 1;
  }
  nt_yenc_init(&y);
  nt_yenc_set_output(&y, out, SIZE);
  assert_int_equal(feed_all(&y, &a), NT_EYENC_CRC);
  clear(&a);

  /* a line lost: size differs */
  make_part(&a, data, SIZE, 1, 1, 1, SIZE, "x");
  free(a.lines[3]);
  memmove(&a.lines[3], &a.lines[4], (a.n - 4) * sizeof a.lines[0]);
  a.n--;
  nt_yenc_init(&y);
  assert_int_equal(feed_all(&y, &a), NT_EYENC_SIZE);
  clear(&a);

  /* no =yend (truncated article) */
  make_part(&a, data, SIZE, 1, 1, 1, SIZE, "x");
  free(a.lines[--a.n]);
  nt_yenc_init(&y);
  assert_int_equal(feed_all(&y, &a), NT_EYENC_FORMAT);
  clear(&a);

  /* no =ypart after a multi-part =ybegin */
  make_part(&a, data, SIZE, 1, 1, 1, SIZE, "x");
  free(a.lines[1]);
  a.lines[1] = strdup("some data");
  nt_yenc_init(&y);
  assert_int_equal(feed_all(&y, &a), NT_EYENC_FORMAT);
  clear(&a);

  /* an output buffer too small */
  make_part(&a, data, SIZE, 1, 1, 1, SIZE, "x");
  nt_yenc_init(&y);
  nt_yenc_set_output(&y, out, SIZE - 1);
  assert_int_equal(feed_all(&y, &a), NT_EYENC_SIZE);
  assert_int_equal(nt_yenc_output_len(&y), SIZE - 1);
  clear(&a);

  /* malformed header values */
  static const char *const bad[] = {
      "=ybegin line=128 name=x",                   /* no size */
      "=ybegin size=12x line=128 name=x",          /* not a number */
      "=ybegin size=99999999999999999999 name=x",  /* too long */
      "=ybegin part=1 size=10 name=x\n=ypart begin=5 end=2", /* end < begin - 1 */
      "=ybegin part=1 size=10 name=x\n=ypart begin=1 end=11", /* past the size */
      "=ybegin size=0 name=x\n=yend size=0 pcrc32=zz", /* bad hex */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    nt_yenc_init(&y);
    char *copy = strdup(bad[i]), *save = NULL;
    int rc = 0;
    for (char *l = strtok_r(copy, "\n", &save); l && !rc; l = strtok_r(NULL, "\n", &save))
      rc = nt_yenc_feed_line(&y, l, strlen(l));
    if (!rc) rc = nt_yenc_finish(&y);
    assert_int_equal(rc, NT_EYENC_FORMAT);
    free(copy);
  }
}

/* Single-part (no part=): crc32= is the article's; text around is skipped;
 * an empty file. */
static void test_single_part(void **state) {
  (void)state;
  nt_yenc_t y;
  nt_yenc_init(&y);
  unsigned char out[16];
  nt_yenc_set_output(&y, out, sizeof out);
  const char *lines[] = {"hello, here is the file:", "", "=ybegin line=128 size=3 name=abc.txt",
                         "\x8b\x8c\x8d", "=yend size=3 crc32=352441c2", "-- ", "sig"};
  for (size_t i = 0; i < 7; i++) assert_int_equal(nt_yenc_feed_line(&y, lines[i], strlen(lines[i])), 0);
  assert_int_equal(nt_yenc_finish(&y), 0);
  assert_memory_equal(out, "abc", 3);
  assert_int_equal(y.info.part, 0);
  assert_int_equal(y.info.begin, 1);
  assert_int_equal(y.info.end, 3);

  nt_yenc_init(&y); /* wrong crc32 on a single-part article */
  lines[4] = "=yend size=3 crc32=352441c3";
  for (size_t i = 0; i < 5; i++) nt_yenc_feed_line(&y, lines[i], strlen(lines[i]));
  assert_int_equal(nt_yenc_finish(&y), NT_EYENC_CRC);

  nt_yenc_init(&y); /* 0 bytes */
  const char *empty[] = {"=ybegin line=128 size=0 name=empty.bin", "=yend size=0 crc32=00000000"};
  for (size_t i = 0; i < 2; i++) assert_int_equal(nt_yenc_feed_line(&y, empty[i], strlen(empty[i])), 0);
  assert_int_equal(nt_yenc_finish(&y), 0);
  assert_int_equal(y.decoded, 0);

  { /* 200,000 bytes, no line= and no part= anywhere: absent keys are no
     * limit breach (a leftover value once made this fail) */
    enum { BIG = 200000 };
    static unsigned char data[BIG], got[BIG];
    fill(data, BIG, 3, 0);
    char *enc = malloc(nt_yenc_encode_bound(BIG, 128));
    size_t el = nt_yenc_encode(enc, data, BIG, 128);
    nt_yenc_init(&y);
    nt_yenc_set_output(&y, got, BIG);
    char l[128];
    snprintf(l, sizeof l, "=ybegin size=%d name=big.bin", BIG);
    assert_int_equal(nt_yenc_feed_line(&y, l, strlen(l)), 0);
    for (size_t i = 0; i < el;) {
      char *cr = memchr(enc + i, '\r', el - i);
      assert_int_equal(nt_yenc_feed_line(&y, enc + i, (size_t)(cr - (enc + i))), 0);
      i = (size_t)(cr - enc) + 2;
    }
    snprintf(l, sizeof l, "=yend size=%d crc32=%08x", BIG, nt_yenc_crc32(0, data, BIG));
    assert_int_equal(nt_yenc_feed_line(&y, l, strlen(l)), 0);
    assert_int_equal(nt_yenc_finish(&y), 0);
    assert_memory_equal(got, data, BIG);
    free(enc);
  }

  /* "=y" in data position is framing, and a bad one is an error */
  nt_yenc_init(&y);
  nt_yenc_feed_line(&y, "=ybegin size=1 name=a", 21);
  assert_int_equal(nt_yenc_feed_line(&y, "=ybegin size=1 name=a", 21), NT_EYENC_FORMAT);
}

/* Nyuu 0.4's article for a 1-byte file, as INN served it. */
static void test_nyuu_article(void **state) {
  (void)state;
  const char *lines[] = {"=ybegin part=1 total=1 line=128 size=1 name=one.bin",
                         "=ypart begin=1 end=1", "\xbc",
                         "=yend size=1 part=1 pcrc32=cc031de5 crc32=cc031de5"};
  nt_yenc_t y;
  unsigned char out[4];
  nt_yenc_init(&y);
  nt_yenc_set_output(&y, out, sizeof out);
  for (size_t i = 0; i < 4; i++) assert_int_equal(nt_yenc_feed_line(&y, lines[i], strlen(lines[i])), 0);
  assert_int_equal(nt_yenc_finish(&y), 0);
  assert_int_equal(nt_yenc_output_len(&y), 1);
  assert_int_equal(out[0], 0xbc - 42);
  assert_int_equal(nt_yenc_crc32(0, out, 1), 0xcc031de5u);
}

/* nt_yenc_crc32 (PCLMULQDQ folding where the CPU has it) against zlib's
 * crc32: every length up to 600 at every alignment, from a running CRC,
 * and 1 MiB in one call and in uneven pieces. */
static void test_crc32_fast(void **state) {
  (void)state;
  enum { N = 1 << 20 };
  unsigned char *buf = malloc(N + 16);
  assert_non_null(buf);
  fill(buf, N + 16, 77, 0);
  for (int fast = 1; fast >= 0; fast--) {
    nt__yenc_crc_fast(fast);
    for (size_t off = 0; off < 16; off++)
      for (size_t len = 0; len <= 600; len++) {
        uint32_t init = (uint32_t)(len * 2654435761u + off);
        uint32_t want = (uint32_t)crc32(init, buf + off, (uInt)len);
        assert_int_equal(nt_yenc_crc32(init, buf + off, len), want);
      }
    uint32_t want = (uint32_t)crc32(0, buf + 3, N);
    assert_int_equal(nt_yenc_crc32(0, buf + 3, N), want);
    uint32_t c = 0;
    size_t at = 0, step = 1;
    while (at < N) {
      size_t n = step < N - at ? step : N - at;
      c = nt_yenc_crc32(c, buf + 3 + at, n);
      at += n;
      step = step * 3 + 7;
    }
    assert_int_equal(c, want);
  }
  nt__yenc_crc_fast(1);
  free(buf);
}

/* nt_yenc_crc_combine (zlib's, through the table compress_zlib.c fills
 * when it loads zlib) against zlib's crc32_combine64 linked here: random
 * CRCs, lengths from 0 to 2^40. */
static void test_crc_combine(void **state) {
  (void)state;
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 2000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint32_t a = (uint32_t)x, b = (uint32_t)(x >> 32);
    uint64_t len = i < 64 ? (uint64_t)i : (x >> (i % 24 + 24));
    assert_int_equal(nt_yenc_crc_combine(a, b, len),
                     (uint32_t)crc32_combine64(a, b, (z_off64_t)len));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_every_kernel),
      cmocka_unit_test(test_every_split),
      cmocka_unit_test(test_kernels_agree_on_junk),
      cmocka_unit_test(test_multipart),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_single_part),
      cmocka_unit_test(test_nyuu_article),
      cmocka_unit_test(test_crc32_fast),
      cmocka_unit_test(test_crc_combine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
