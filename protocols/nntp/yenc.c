/* yEnc 1.3 framing: =ybegin / =ypart / =yend lines around the data, one
 * article at a time, with the part's CRC32 and size checked at the end.
 * The data lines go through the kernel (yenc_kernel.c). */
#include <string.h>

#include "compress-int.h"
#include "nettool/yenc.h"

/* The stages of one article, in order. */
enum { ST_BEFORE, ST_BEGUN, ST_DATA, ST_END };

void nt_yenc_init(nt_yenc_t *y) { memset(y, 0, sizeof *y); }

void nt_yenc_set_output(nt_yenc_t *y, void *buf, size_t cap) {
  y->out = buf;
  y->out_cap = buf ? cap : 0;
  y->out_len = 0;
  y->crc_at = 0;
  y->out_done = 0;
}

size_t nt_yenc_output_len(const nt_yenc_t *y) { return y->out_len; }

static void crc_catch_up(nt_yenc_t *y);

void nt_yenc_output_taken(nt_yenc_t *y) {
  crc_catch_up(y);
  y->out_done += y->out_len;
  y->out_len = 0;
  y->crc_at = 0;
}

#if defined(__x86_64__)
#include <immintrin.h>

/* CRC-32 (zlib's, reflected 0xEDB88320) by carry-less multiplication, as in
 * Intel's "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ"
 * (2009): four 128-bit lanes are folded forward 64 bytes at a time, then
 * into one lane, which is reduced to 64 and then 32 bits (Barrett). The
 * constants are powers of x modulo the polynomial, bit-reflected and
 * shifted left by one as the paper derives them:
 *   K1 = x^(4*128+32), K2 = x^(4*128-32)  fold by 64 bytes
 *   K3 = x^(128+32),   K4 = x^(128-32)    fold by 16 bytes
 *   K5 = x^64                             128 -> 64 bits
 *   MU = floor(x^64 / P), P               Barrett (32 bits)
 * zlib's table-driven crc32 made 10% of nntp-get's CPU time in a 200 MiB
 * download (perf); this runs about ten times faster on 32 KiB buffers.
 * c is the running register (the CRC inverted); n is a multiple of 16,
 * at least 64. */
__attribute__((target("pclmul,sse2"))) static uint32_t crc_fold(uint32_t c,
                                                                const unsigned char *p,
                                                                size_t n) {
  const __m128i k1k2 = _mm_set_epi64x(0x00000001c6e41596, 0x0000000154442bd4);
  const __m128i k3k4 = _mm_set_epi64x(0x00000000ccaa009e, 0x00000001751997d0);
  const __m128i k5 = _mm_set_epi64x(0, 0x0000000163cd6124);
  const __m128i mu_p = _mm_set_epi64x(0x00000001f7011641, 0x00000001db710641);
  const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
  __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)c));
  __m128i b = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i d = _mm_loadu_si128((const __m128i *)(p + 32));
  __m128i e = _mm_loadu_si128((const __m128i *)(p + 48));
  p += 64;
  n -= 64;
#define NT_FOLD(x, k, next) \
  _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), \
                              _mm_clmulepi64_si128(x, k, 0x11)), (next))
  for (; n >= 64; p += 64, n -= 64) {
    a = NT_FOLD(a, k1k2, _mm_loadu_si128((const __m128i *)p));
    b = NT_FOLD(b, k1k2, _mm_loadu_si128((const __m128i *)(p + 16)));
    d = NT_FOLD(d, k1k2, _mm_loadu_si128((const __m128i *)(p + 32)));
    e = NT_FOLD(e, k1k2, _mm_loadu_si128((const __m128i *)(p + 48)));
  }
  /* four lanes into one, then the 16-byte blocks left */
  a = NT_FOLD(a, k3k4, b);
  a = NT_FOLD(a, k3k4, d);
  a = NT_FOLD(a, k3k4, e);
  for (; n >= 16; p += 16, n -= 16)
    a = NT_FOLD(a, k3k4, _mm_loadu_si128((const __m128i *)p));
#undef NT_FOLD
  /* 128 -> 64 bits */
  __m128i t = _mm_clmulepi64_si128(a, k3k4, 0x10);
  a = _mm_xor_si128(_mm_srli_si128(a, 8), t);
  t = _mm_srli_si128(a, 4);
  a = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(a, low32), k5, 0x00), t);
  /* Barrett: 64 -> 32 bits */
  t = _mm_clmulepi64_si128(_mm_and_si128(a, low32), mu_p, 0x10);
  t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), mu_p, 0x00);
  a = _mm_xor_si128(a, t);
  return (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(a, 4));
}

static int crc_fast = -1; /* PCLMULQDQ: unknown, no, yes */

/* Tests: 0 turns the PCLMULQDQ path off, 1 back on where the CPU has it. */
void nt__yenc_crc_fast(int on) {
  __builtin_cpu_init();
  crc_fast = on && __builtin_cpu_supports("pclmul");
}
#else
void nt__yenc_crc_fast(int on) { (void)on; }
#endif

uint32_t nt_yenc_crc32(uint32_t crc, const void *buf, size_t len) {
  const unsigned char *p = buf;
#if defined(__x86_64__)
  if (crc_fast < 0) nt__yenc_crc_fast(1); /* a benign race: all agree */
  if (crc_fast && len >= 64) {
    size_t n = len & ~(size_t)15;
    crc = ~crc_fold(~crc, p, n);
    p += n;
    len -= n;
  }
#endif
  /* the ends the folding leaves, and CPUs without PCLMULQDQ: zlib's (a
   * wrong CRC, so a mismatch, where zlib cannot be loaded: logged) */
  if (len && nt__zlib_crc32(&crc, p, len)) return ~crc;
  return crc;
}

uint32_t nt_yenc_crc_combine(uint32_t crc1, uint32_t crc2, uint64_t len2) {
  if (nt__zlib_crc32_combine(&crc1, crc2, len2)) return ~(crc1 ^ crc2);
  return crc1;
}

/* "key=value" in a header line: the value after " key=" (or at the start)
 * up to the next space; NULL if absent. */
static const char *find_key(const char *p, size_t n, const char *key,
                            size_t *vlen) {
  size_t kl = strlen(key);
  for (size_t i = 0; i + kl + 1 <= n; i++) {
    if ((i == 0 || p[i - 1] == ' ') && !memcmp(p + i, key, kl) && p[i + kl] == '=') {
      const char *v = p + i + kl + 1;
      size_t j = 0;
      while (v + j < p + n && v[j] != ' ') j++;
      *vlen = j;
      return v;
    }
  }
  return NULL;
}

/* A decimal value of `key`: 1 (found, *out), 0 (absent), -1 (malformed). */
static int num_key(const char *p, size_t n, const char *key, uint64_t *out) {
  size_t vl;
  const char *v = find_key(p, n, key, &vl);
  if (!v) return 0;
  if (!vl || vl > 19) return -1;
  uint64_t x = 0;
  for (size_t i = 0; i < vl; i++) {
    if (v[i] < '0' || v[i] > '9') return -1;
    x = x * 10 + (uint64_t)(v[i] - '0');
  }
  *out = x;
  return 1;
}

static int hex_key(const char *p, size_t n, const char *key, uint32_t *out) {
  size_t vl;
  const char *v = find_key(p, n, key, &vl);
  if (!v) return 0;
  if (vl > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) { /* seen in the wild */
    v += 2;
    vl -= 2;
  }
  if (!vl || vl > 8) return -1;
  uint32_t x = 0;
  for (size_t i = 0; i < vl; i++) {
    char c = v[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
    else return -1;
    x = x << 4 | d;
  }
  *out = x;
  return 1;
}

static int starts(const char *p, size_t n, const char *word) {
  size_t k = strlen(word);
  return n >= k && !memcmp(p, word, k);
}

static int parse_begin(nt_yenc_t *y, const char *p, size_t n) {
  nt_yenc_info_t *in = &y->info;
  uint64_t v;
  /* name= is the last key and runs to the end of the line (spaces and
   * '=' included), so the other keys are looked for before it */
  size_t keys = n;
  for (size_t i = 0; i + 6 <= n; i++) /* " name=" fits from i on */
    if (p[i] == ' ' && !memcmp(p + i + 1, "name=", 5)) {
      size_t nl = n - (i + 6);
      if (nl > sizeof in->name - 1) nl = sizeof in->name - 1;
      memcpy(in->name, p + i + 6, nl);
      in->name[nl] = 0;
      keys = i;
      break;
    }
  int r;
  if ((r = num_key(p, keys, "size", &v)) != 1) return NT_EYENC_FORMAT;
  in->size = v;
  if ((r = num_key(p, keys, "line", &v)) < 0 || (r && v > 100000)) return NT_EYENC_FORMAT;
  in->line = r ? (int)v : 0;
  if ((r = num_key(p, keys, "part", &v)) < 0 || (r && v > 1000000)) return NT_EYENC_FORMAT;
  in->part = r ? (int)v : 0;
  if ((r = num_key(p, keys, "total", &v)) < 0 || (r && v > 1000000)) return NT_EYENC_FORMAT;
  in->total = r ? (int)v : 0;
  if (in->part == 0) { /* single-part: the whole file */
    in->begin = 1;
    in->end = in->size;
  }
  return 0;
}

static int parse_part(nt_yenc_t *y, const char *p, size_t n) {
  nt_yenc_info_t *in = &y->info;
  uint64_t b, e;
  if (num_key(p, n, "begin", &b) != 1 || num_key(p, n, "end", &e) != 1)
    return NT_EYENC_FORMAT;
  /* 1-based and inclusive; an empty part (end = begin - 1) is allowed */
  if (b < 1 || e + 1 < b || e > in->size) return NT_EYENC_FORMAT;
  in->begin = b;
  in->end = e;
  return 0;
}

static int parse_end(nt_yenc_t *y, const char *p, size_t n) {
  nt_yenc_info_t *in = &y->info;
  uint64_t v;
  int r;
  if (num_key(p, n, "size", &v) != 1) return NT_EYENC_FORMAT;
  in->end_size = v;
  if ((r = num_key(p, n, "part", &v)) < 0 || (r && v > 1000000)) return NT_EYENC_FORMAT;
  in->end_part = r ? (int)v : 0;
  if ((r = hex_key(p, n, "pcrc32", &in->pcrc32)) < 0) return NT_EYENC_FORMAT;
  in->has_pcrc = r;
  if ((r = hex_key(p, n, "crc32", &in->crc32)) < 0) return NT_EYENC_FORMAT;
  in->has_crc = r;
  return 0;
}

/* The output bytes not yet in the CRC go in now (one pass over many lines
 * is much faster than a CRC call per 128-byte line). */
static void crc_catch_up(nt_yenc_t *y) {
  if (y->out && y->out_len > y->crc_at) {
    y->crc = nt_yenc_crc32(y->crc, y->out + y->crc_at, y->out_len - y->crc_at);
    y->crc_at = y->out_len;
  }
}

static void data(nt_yenc_t *y, const char *line, size_t len) {
  size_t room = y->out_cap - y->out_len;
  if (y->out && len <= room) { /* the usual case: straight into the caller's
                                  buffer; the CRC at the end */
    size_t w = nt_yenc_decode_raw(y->out + y->out_len, line, len, &y->escaped);
    y->out_len += w;
    y->decoded += w;
    return;
  }
  /* no room (or no buffer): decode through a scratch buffer, keep what
   * fits, count the rest (finish says NT_EYENC_SIZE if a buffer was set) */
  crc_catch_up(y);
  unsigned char tmp[4096];
  while (len) {
    size_t n = len < sizeof tmp ? len : sizeof tmp;
    size_t w = nt_yenc_decode_raw(tmp, line, n, &y->escaped);
    y->crc = nt_yenc_crc32(y->crc, tmp, w);
    size_t keep = w < y->out_cap - y->out_len ? w : y->out_cap - y->out_len;
    if (keep) memcpy(y->out + y->out_len, tmp, keep);
    y->out_len += keep;
    y->crc_at = y->out_len; /* those are in crc already */
    y->decoded += w;
    line += n;
    len -= n;
  }
}

int nt_yenc_feed_line(nt_yenc_t *y, const char *line, size_t len) {
  switch (y->stage) {
  case ST_BEFORE:
    if (!starts(line, len, "=ybegin ")) return 0; /* text before the post */
    if (parse_begin(y, line + 8, len - 8)) return NT_EYENC_FORMAT;
    y->stage = y->info.part ? ST_BEGUN : ST_DATA;
    return 0;
  case ST_BEGUN: /* a multi-part article: =ypart comes next */
    if (!starts(line, len, "=ypart ")) return NT_EYENC_FORMAT;
    if (parse_part(y, line + 7, len - 7)) return NT_EYENC_FORMAT;
    y->stage = ST_DATA;
    return 0;
  case ST_DATA:
    /* compliant encoders never escape 'y' (only NUL, LF, CR, '=', TAB,
     * space and '.', which become '@' 'J' 'M' '}' 'I' '`' 'n'), so "=y"
     * starting a line is framing */
    if (len >= 2 && line[0] == '=' && line[1] == 'y' && !y->escaped) {
      if (starts(line, len, "=yend") && (len == 5 || line[5] == ' ')) {
        if (parse_end(y, line + 5, len - 5)) return NT_EYENC_FORMAT;
        y->stage = ST_END;
        return 0;
      }
      return NT_EYENC_FORMAT; /* =ybegin again, =ypart late... */
    }
    data(y, line, len);
    return 0;
  default: /* after =yend: a signature, text */
    return 0;
  }
}

int nt_yenc_finish(nt_yenc_t *y) {
  const nt_yenc_info_t *in = &y->info;
  crc_catch_up(y);
  if (y->stage != ST_END) return NT_EYENC_FORMAT;
  if (in->end_part && in->part && in->end_part != in->part) return NT_EYENC_FORMAT;
  uint64_t want = in->end + 1 - in->begin;
  if (y->decoded != want || in->end_size != y->decoded) return NT_EYENC_SIZE;
  if (y->out && y->out_done + y->out_len != y->decoded) return NT_EYENC_SIZE;
  if (in->has_pcrc && in->pcrc32 != y->crc) return NT_EYENC_CRC;
  /* single-part: crc32= is this article's; multi-part: the whole file's,
   * which only the assembler (all parts) can check */
  if (!in->part && in->has_crc && in->crc32 != y->crc) return NT_EYENC_CRC;
  return 0;
}
