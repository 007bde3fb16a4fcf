/* Terminal-safe text: one sanitiser for everything a peer can make us
 * print. A strict UTF-8 decoder decides what a byte is, so a C1 control
 * hidden in a two-byte sequence (C2 9B = CSI) is caught as surely as a raw
 * 0x9B, and a continuation byte of a real character is not mistaken for
 * one. */
#include <stdint.h>
#include <string.h>

#include "cli_text.h"

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if it is not one
 * (overlong forms, surrogates and code points over U+10FFFF refused). *cp
 * gets the code point. */
static size_t utf8_seq(const unsigned char *p, size_t n, uint32_t *cp) {
  unsigned c = p[0];
  size_t len;
  uint32_t v, min;
  if (c < 0x80) {
    *cp = c;
    return 1;
  } else if (c >= 0xc2 && c <= 0xdf) {
    len = 2, v = c & 0x1f, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3, v = c & 0x0f, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    v = (v << 6) | (p[i] & 0x3f);
  }
  if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
  *cp = v;
  return len;
}

/* Calls emit(piece) for each piece of clean output. */
typedef void (*emit_fn)(void *ctx, const char *s, size_t n);

static void clean(const char *in, size_t len, int flags, emit_fn emit,
                  void *ctx) {
  const unsigned char *p = (const unsigned char *)in;
  if (flags & CLI_TEXT_TRIM) {
    while (len && (p[len - 1] == '\n' || p[len - 1] == '\r')) len--;
  }
  size_t i = 0, start = 0;
  while (i < len) {
    uint32_t cp;
    size_t n = utf8_seq(p + i, len - i, &cp);
    const char *repl = NULL;
    if (n == 0) {
      repl = "?", n = 1;
    } else if (cp == '\n') {
      if (flags & CLI_TEXT_KEEP_LF) {
        /* kept */
      } else if (flags & CLI_TEXT_LF_SPACE) {
        repl = " ";
      } else {
        repl = "?";
      }
    } else if ((cp < 0x20 && cp != '\t') || cp == 0x7f ||
               (cp >= 0x80 && cp <= 0x9f)) {
      /* A CR right before LF is part of the line end. */
      if (cp == '\r' && i + 1 < len && p[i + 1] == '\n' &&
          (flags & (CLI_TEXT_KEEP_LF | CLI_TEXT_LF_SPACE))) {
        repl = "";
      } else {
        repl = "?";
      }
    }
    if (repl) {
      if (i > start) emit(ctx, in + start, i - start);
      if (*repl) emit(ctx, repl, 1);
      start = i + n;
    }
    i += n;
  }
  if (len > start) emit(ctx, in + start, len - start);
}

struct buf_ctx {
  char *out;
  size_t size, used;
  int full;
};

static void buf_emit(void *ctx, const char *s, size_t n) {
  struct buf_ctx *b = ctx;
  if (b->full) return;
  if (b->used + n + 1 > b->size) {
    n = b->size - 1 - b->used; /* what fits; the cut is mended after */
    b->full = 1;
  }
  memcpy(b->out + b->used, s, n);
  b->used += n;
}

char *cli_text_clean(char *out, size_t size, const char *in, size_t len,
                     int flags) {
  struct buf_ctx b = {out, size, 0, 0};
  if (!size) return out;
  clean(in, len, flags, buf_emit, &b);
  if (b.full) {
    /* Cut at a character boundary, then mark the cut. */
    size_t keep = size > 4 ? size - 4 : 0;
    /* out[keep] is the first byte dropped: back up to a character start */
    while (keep > 0 && ((unsigned char)out[keep] & 0xc0) == 0x80) keep--;
    b.used = keep;
    if (size > 4) {
      memcpy(out + b.used, "...", 3);
      b.used += 3;
    }
  }
  out[b.used] = 0;
  return out;
}

static void file_emit(void *ctx, const char *s, size_t n) {
  fwrite(s, 1, n, (FILE *)ctx);
}

void cli_text_put(FILE *f, const char *in, size_t len, int flags) {
  clean(in, len, flags, file_emit, f);
}

const char *cli_text(const char *in, size_t len) {
  static char bufs[4][512];
  static unsigned next;
  char *b = bufs[next++ % 4];
  return cli_text_clean(b, sizeof bufs[0], in, len,
                        CLI_TEXT_LF_SPACE | CLI_TEXT_TRIM);
}

const char *cli_secs(unsigned long long ms) {
  static char bufs[4][32];
  static unsigned next;
  char *b = bufs[next++ % 4];
  unsigned long long s = ms / 1000, frac = ms % 1000;
  if (!frac) {
    snprintf(b, sizeof bufs[0], "%llu s", s);
  } else {
    char f[4];
    snprintf(f, sizeof f, "%03llu", frac);
    for (int i = 2; i > 0 && f[i] == '0'; i--) f[i] = 0;
    snprintf(b, sizeof bufs[0], "%llu.%s s", s, f);
  }
  return b;
}
