/* yEnc 1.3 decoding (binaries posted to Usenet): the =ybegin / =ypart /
 * =yend framing of single- and multi-part articles, the data decoded by a
 * SIMD kernel (AVX2 or SSE2, picked at run time; a table-driven scalar
 * loop elsewhere), and the CRC32 of each part (pcrc32) and of the whole
 * file (crc32) checked (zlib's crc32 and crc32_combine).
 *
 * Ownership: nt_yenc_t is the caller's (on the stack or inside another
 * struct); nt_yenc_init/nt_yenc_reset prepare it, nothing is allocated
 * inside, and nothing needs freeing. Decoded bytes go to the caller's
 * buffer (nt_yenc_set_output) or, when it fills up, are counted and
 * dropped (NT_EYENC_SIZE at the end).
 */
#ifndef NETTOOL_YENC_H
#define NETTOOL_YENC_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/errno.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/* --- the raw kernel ------------------------------------------------------------ */

/* Decodes yEnc data: CR and LF are dropped, '=' escapes the next byte
 * (minus 64), every other byte is minus 42. dst must hold len bytes, not
 * only the bytes decoded: the vector stores may write up to 31 bytes past
 * the last one (dst may be src: decoding in place works). *escaped carries an '=' that ended src
 * into the next call (start with 0). Returns the bytes written. */
size_t nt_yenc_decode_raw(void *dst, const void *src, size_t len, int *escaped);
/* The kernel nt_yenc_decode_raw uses on this CPU: "avx2", "sse2" or
 * "scalar" (where the CPU has AVX2, the faster of SSE2 and AVX2 on a
 * quick measurement at first use). NETTOOL_YENC=scalar|sse2|avx2 in the
 * environment forces one (tests, benchmarks). */
const char *nt_yenc_kernel(void);
/* Encodes (for tests and fuzzing; not tuned): line length `line` (0: 128),
 * critical bytes escaped as yEnc 1.3 says (NUL, LF, CR, '=', and TAB,
 * space, '.' where they would start or end a line). Lines end with CRLF.
 * Returns the bytes written; dst needs nt_yenc_encode_bound(len, line). */
size_t nt_yenc_encode(void *dst, const void *src, size_t len, int line);
size_t nt_yenc_encode_bound(size_t len, int line);

/* --- one article's body, line by line ---------------------------------------------- */

typedef struct nt_yenc_info_s {
  int part;      /* =ybegin part= (0: single-part) */
  int total;     /* =ybegin total= (0: not given) */
  int line;      /* =ybegin line= */
  uint64_t size; /* =ybegin size=: the whole file's size */
  uint64_t begin, end; /* =ypart begin= end= (1-based, inclusive); a
                          single-part article: 1..size */
  char name[256];      /* =ybegin name= (raw; "" if none; cut at 255) */
  /* =yend */
  uint64_t end_size;   /* size= (this part's) */
  int end_part;        /* part= (0 if absent) */
  int has_pcrc, has_crc;
  uint32_t pcrc32;     /* pcrc32= (this part's CRC) */
  uint32_t crc32;      /* crc32= (the whole file's; single-part: the part's) */
} nt_yenc_info_t;

typedef struct nt_yenc_s {
  nt_yenc_info_t info;
  uint32_t crc;     /* CRC32 of the decoded bytes (complete after
                       nt_yenc_finish: bytes that went to the output
                       buffer are summed there in one pass) */
  uint64_t decoded; /* bytes decoded so far */
  /* private */
  int stage, escaped;
  unsigned char *out;
  size_t out_cap, out_len;
  size_t crc_at; /* output bytes already in crc */
  uint64_t out_done; /* bytes taken out of the buffer earlier */
} nt_yenc_t;

/* Zeroes y (no output buffer: bytes are only counted and CRC'd). */
void nt_yenc_init(nt_yenc_t *y);
/* Decoded bytes go to buf (up to cap; more is an error at the end, counted
 * but not written). Call before the first data line. */
void nt_yenc_set_output(nt_yenc_t *y, void *buf, size_t cap);
/* Bytes in the output buffer now. */
size_t nt_yenc_output_len(const nt_yenc_t *y);
/* The caller took the bytes in the output buffer (wrote them out): it
 * starts empty again, so a small buffer streams a large part (empty it
 * before feeding a line longer than the room left). The CRC32 and the
 * size checks still count every byte. */
void nt_yenc_output_taken(nt_yenc_t *y);

/* Feeds one line of an article body (dot-unstuffed, without CRLF; CR/LF
 * inside are ignored). Lines before =ybegin are skipped (text around a
 * post), as are lines after =yend. Returns 0 or NT_EYENC_FORMAT (a bad
 * =ybegin/=ypart/=yend line, =ypart out of place). */
int nt_yenc_feed_line(nt_yenc_t *y, const char *line, size_t len);
/* The body is over: 0 when =ybegin (and =ypart for a multi-part article)
 * and =yend were seen and the sizes and this part's CRC32 agree;
 * NT_EYENC_FORMAT (no =ybegin or =yend), NT_EYENC_SIZE (=yend size=, the
 * =ypart range or the output buffer disagree with the bytes decoded),
 * NT_EYENC_CRC (pcrc32=, or crc32= of a single-part article, differs). */
int nt_yenc_finish(nt_yenc_t *y);

/* The CRC32 of two consecutive pieces (zlib's crc32_combine): the whole
 * file's CRC from its parts' CRCs and lengths, in order. Both functions
 * load zlib (libz.so.1) at their first call where the library was built
 * with NT_ZLIB_LAZY (the default); where it cannot be loaded (logged) they
 * return a wrong CRC, so a check fails rather than passes. */
uint32_t nt_yenc_crc_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);
/* CRC32 of a buffer (zlib's), continuing from crc (start: 0). */
uint32_t nt_yenc_crc32(uint32_t crc, const void *buf, size_t len);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
