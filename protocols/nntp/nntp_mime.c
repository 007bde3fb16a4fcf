/* NNTP client: text decoding. RFC 2047 encoded words (B and Q) in header
 * values, charsets converted to UTF-8 with iconv, undecodable bytes shown
 * as U+FFFD; and the reverse for posting (UTF-8 -> =?UTF-8?B?...?=). */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "nntp-int.h"
#include "nntp-text.h"
#include "reactor-int.h"

#define MAX_HEADER_IN (1u << 20)
#define MAX_WORD 1024 /* encoded-text of one encoded word */

int nt__buf_add(nt__buf_t *b, const void *p, size_t n) {
  if (b->failed) return NT_ENOMEM;
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->n + n + 1) cap *= 2;
    char *q = nt__realloc(b->p, cap);
    if (!q) {
      b->failed = 1;
      return NT_ENOMEM;
    }
    b->p = q;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
  b->p[b->n] = 0;
  return 0;
}

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

int nt__charset_is_utf8(const char *cs) {
  return !cs || !*cs || !strcasecmp(cs, "utf-8") || !strcasecmp(cs, "utf8") ||
         !strcasecmp(cs, "us-ascii") || !strcasecmp(cs, "ascii");
}

/* Appends UTF-8 text, each byte of an invalid sequence replaced. */
static void add_utf8_checked(nt__buf_t *b, const char *s, size_t n) {
  if (nt__nntp_utf8_valid(s, n)) {
    nt__buf_add(b, s, n);
    return;
  }
  size_t i = 0;
  while (i < n) {
    size_t k = 1;
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x80) {
      k = (ch & 0xe0) == 0xc0 ? 2 : (ch & 0xf0) == 0xe0 ? 3 : (ch & 0xf8) == 0xf0 ? 4 : 0;
      if (!k || i + k > n || !nt__nntp_utf8_valid(s + i, k)) {
        nt__buf_add(b, replacement, 3);
        i++;
        continue;
      }
    }
    nt__buf_add(b, s + i, k);
    i += k;
  }
}

int nt__iconv_open(const char *charset, void **cd) {
  *cd = NULL;
  if (nt__charset_is_utf8(charset)) return 0;
  char cs[64];
  size_t n = strcspn(charset, "*"); /* RFC 2231 language suffix */
  if (n >= sizeof cs) return NT_EINVAL;
  memcpy(cs, charset, n);
  cs[n] = 0;
  iconv_t h = iconv_open("UTF-8", cs);
  if (h == (iconv_t)-1) return NT_EINVAL;
  *cd = (void *)h;
  return 0;
}

void nt__iconv_close(void *cd) {
  if (cd) iconv_close((iconv_t)cd);
}

void nt__iconv_add(void *cd, nt__buf_t *b, const char *in, size_t len) {
  if (!cd) {
    add_utf8_checked(b, in, len);
    return;
  }
  iconv_t h = (iconv_t)cd;
  iconv(h, NULL, NULL, NULL, NULL);
  char *ip = (char *)in;
  size_t il = len;
  while (il > 0 && !b->failed) {
    char tmp[1024];
    char *op = tmp;
    size_t ol = sizeof tmp;
    size_t r = iconv(h, &ip, &il, &op, &ol);
    int err = r == (size_t)-1 ? errno : 0;
    nt__buf_add(b, tmp, (size_t)(op - tmp));
    if (!err || err == E2BIG) continue;
    nt__buf_add(b, replacement, 3); /* EILSEQ, or EINVAL: cut short */
    ip++;
    il--;
    iconv(h, NULL, NULL, NULL, NULL);
  }
  /* flush a stateful encoding's shift state */
  char tmp[64];
  char *op = tmp;
  size_t ol = sizeof tmp;
  if (iconv(h, NULL, NULL, &op, &ol) != (size_t)-1) nt__buf_add(b, tmp, (size_t)(op - tmp));
}

int nt_nntp_to_utf8(const char *charset, const char *in, size_t len, char **out,
                    size_t *outlen) {
  if (len > MAX_HEADER_IN * 16) return NT_ETOOBIG;
  void *cd;
  int rc = nt__iconv_open(charset, &cd);
  if (rc) return rc;
  nt__buf_t b = {0};
  nt__buf_add(&b, "", 0);
  nt__iconv_add(cd, &b, in, len);
  nt__iconv_close(cd);
  if (b.failed) {
    nt__free(b.p);
    return NT_ENOMEM;
  }
  *out = b.p;
  if (outlen) *outlen = b.n;
  return 0;
}

/* --- RFC 2047 ------------------------------------------------------------------- */

typedef struct {
  const char *charset;
  size_t charset_len;
  char enc; /* 'B' or 'Q' */
  const char *text;
  size_t text_len;
  size_t total; /* bytes of the whole "=?...?=" */
} word_t;

/* Recognises an encoded word at s. */
static int parse_word(const char *s, const char *end, word_t *w) {
  if (end - s < 8 || s[0] != '=' || s[1] != '?') return 0;
  const char *p = s + 2;
  const char *q = memchr(p, '?', (size_t)(end - p));
  if (!q || q == p || q - p > 60) return 0;
  for (const char *k = p; k < q; k++)
    if (*k <= ' ' || *k >= 0x7f || *k == '=') return 0;
  w->charset = p;
  w->charset_len = (size_t)(q - p);
  if (end - q < 5 || q[2] != '?') return 0;
  w->enc = (char)(q[1] & ~0x20);
  if (w->enc != 'B' && w->enc != 'Q') return 0;
  const char *t = q + 3;
  const char *e = t;
  while (e + 1 < end && !(e[0] == '?' && e[1] == '=')) {
    if (*e <= ' ' || *e >= 0x7f || e - t > MAX_WORD) return 0;
    e++;
  }
  if (e + 1 >= end) return 0;
  w->text = t;
  w->text_len = (size_t)(e - t);
  w->total = (size_t)(e + 2 - s);
  return 1;
}

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

/* Appends the bytes an encoded word stands for. */
static void word_bytes(const word_t *w, nt__buf_t *b) {
  if (w->enc == 'B') {
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < w->text_len; i++) {
      int v = b64val(w->text[i]);
      if (v < 0) continue; /* '=' padding, stray bytes */
      acc = (acc << 6) | (unsigned)v;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        char ch = (char)((acc >> bits) & 0xff);
        nt__buf_add(b, &ch, 1);
      }
    }
    return;
  }
  for (size_t i = 0; i < w->text_len; i++) {
    char ch = w->text[i];
    if (ch == '_') {
      ch = ' ';
    } else if (ch == '=') {
      int hi = i + 1 < w->text_len ? hexval(w->text[i + 1]) : -1;
      int lo = i + 2 < w->text_len ? hexval(w->text[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        ch = (char)(hi * 16 + lo);
        i += 2;
      }
    }
    nt__buf_add(b, &ch, 1);
  }
}

typedef struct {
  nt__buf_t *out;
  nt__buf_t pending; /* bytes of adjacent words in one charset */
  char charset[64];
  void *cd;
  int have_cd;
} decoder_t;

static void flush(decoder_t *d) {
  if (d->pending.n) nt__iconv_add(d->cd, d->out, d->pending.p, d->pending.n);
  d->pending.n = 0;
}

static void drop_cd(decoder_t *d) {
  flush(d);
  nt__iconv_close(d->cd);
  d->cd = NULL;
  d->have_cd = 0;
  d->charset[0] = 0;
}

/* Takes an encoded word; 0 if its charset is unknown (then it stays). */
static int take_word(decoder_t *d, const word_t *w) {
  char cs[64];
  if (w->charset_len >= sizeof cs) return 0;
  memcpy(cs, w->charset, w->charset_len);
  cs[w->charset_len] = 0;
  if (!d->have_cd || strcasecmp(cs, d->charset)) {
    drop_cd(d);
    void *cd;
    if (nt__iconv_open(cs, &cd)) return 0;
    d->cd = cd;
    d->have_cd = 1;
    memcpy(d->charset, cs, sizeof cs);
  }
  word_bytes(w, &d->pending);
  return 1;
}

static void add_plain(decoder_t *d, const char *s, size_t n, void *fallback) {
  if (!n) return;
  flush(d);
  if (nt__nntp_utf8_valid(s, n))
    nt__buf_add(d->out, s, n);
  else
    nt__iconv_add(fallback, d->out, s, n);
}

int nt_nntp_decode_header(const char *in, size_t len,
                          const char *fallback_charset, char **out,
                          size_t *outlen) {
  if (len > MAX_HEADER_IN) return NT_ETOOBIG;
  void *fb = NULL;
  if (nt__iconv_open(fallback_charset ? fallback_charset : "ISO-8859-1", &fb))
    nt__iconv_open("ISO-8859-1", &fb);
  nt__buf_t b = {0};
  nt__buf_add(&b, "", 0);
  decoder_t d;
  memset(&d, 0, sizeof d);
  d.out = &b;
  const char *p = in, *end = in + len, *plain = in;
  int after_word = 0;
  while (p < end) {
    word_t w;
    if (*p == '=' && parse_word(p, end, &w)) {
      const char *gap = plain;
      /* whitespace between two encoded words is dropped */
      int only_ws = after_word;
      for (const char *k = gap; k < p && only_ws; k++)
        if (*k != ' ' && *k != '\t' && *k != '\r' && *k != '\n') only_ws = 0;
      if (!only_ws) add_plain(&d, plain, (size_t)(p - plain), fb);
      if (take_word(&d, &w)) {
        p += w.total;
        plain = p;
        after_word = 1;
        continue;
      }
      /* unknown charset: the word stays as it is */
      add_plain(&d, p, w.total, fb);
      p += w.total;
      plain = p;
      after_word = 0;
      continue;
    }
    if (after_word && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
      after_word = 0, flush(&d);
    p++;
  }
  add_plain(&d, plain, (size_t)(end - plain), fb);
  drop_cd(&d);
  nt__free(d.pending.p);
  nt__iconv_close(fb);
  if (!b.failed && !d.pending.failed && memchr(b.p, 0, b.n)) {
    /* a NUL (raw, or "=00") would cut the C string short: U+FFFD */
    nt__buf_t c = {0};
    nt__buf_add(&c, "", 0);
    for (size_t i = 0; i < b.n; i++)
      nt__buf_add(&c, b.p[i] ? b.p + i : replacement, b.p[i] ? 1 : 3);
    nt__free(b.p);
    b = c;
  }
  if (b.failed || d.pending.failed) {
    nt__free(b.p);
    return NT_ENOMEM;
  }
  *out = b.p;
  if (outlen) *outlen = b.n;
  return 0;
}

int nt_nntp_encode_header(const char *utf8, char **out) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen(utf8);
  if (n > MAX_HEADER_IN) return NT_ETOOBIG;
  nt__buf_t b = {0};
  nt__buf_add(&b, "", 0);
  /* plain ASCII goes as it is, unless it would read as an encoded word */
  int ascii = !strstr(utf8, "=?");
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)utf8[i] >= 0x80) ascii = 0;
  if (ascii) {
    nt__buf_add(&b, utf8, n);
  } else {
    size_t i = 0;
    while (i < n) {
      /* up to 45 bytes per word (60 base64 chars), cut at a character */
      size_t take = n - i < 45 ? n - i : 45;
      while (take < n - i && take > 0 && ((unsigned char)utf8[i + take] & 0xc0) == 0x80)
        take--;
      if (!take) take = n - i < 45 ? n - i : 45;
      if (i) nt__buf_add(&b, " ", 1);
      nt__buf_add(&b, "=?UTF-8?B?", 10);
      for (size_t k = 0; k < take; k += 3) {
        unsigned v = (unsigned char)utf8[i + k] << 16;
        if (k + 1 < take) v |= (unsigned char)utf8[i + k + 1] << 8;
        if (k + 2 < take) v |= (unsigned char)utf8[i + k + 2];
        char q[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63],
                     k + 1 < take ? tab[(v >> 6) & 63] : '=',
                     k + 2 < take ? tab[v & 63] : '='};
        nt__buf_add(&b, q, 4);
      }
      nt__buf_add(&b, "?=", 2);
      i += take;
    }
  }
  if (b.failed) {
    nt__free(b.p);
    return NT_ENOMEM;
  }
  *out = b.p;
  return 0;
}
