/* NNTP client: the article model. Headers are unfolded and kept raw (decode
 * on demand); body lines have quoted-printable undone and are converted to
 * UTF-8 from the Content-Type charset, then streamed or collected. */
#include <string.h>
#include <strings.h>

#include "nntp-int.h"
#include "nntp-text.h"
#include "reactor-int.h"

#define DEF_MAX_HEADER_BYTES (256u * 1024)
#define DEF_MAX_HEADERS 1000u
#define DEF_MAX_BODY (16u * 1024 * 1024)
#define MAX_QP_JOIN (64u * 1024)

void nt_nntp_article_init(nt_nntp_article_t *a) { memset(a, 0, sizeof *a); }

static size_t lim(size_t v, size_t def) { return v ? v : def; }

static int add_header(nt_nntp_article_t *a, const char *line, size_t len) {
  const char *colon = memchr(line, ':', len);
  if (!colon || colon == line) return 0; /* not a header: ignored */
  if (a->nheaders >= lim(a->max_headers, DEF_MAX_HEADERS)) return NT_ETOOBIG;
  if (a->nheaders == a->cap_headers) {
    size_t cap = a->cap_headers ? a->cap_headers * 2 : 16;
    nt_nntp_header_t *h = nt__realloc(a->headers, cap * sizeof *h);
    if (!h) return NT_ENOMEM;
    a->headers = h;
    a->cap_headers = cap;
  }
  size_t nlen = (size_t)(colon - line);
  const char *v = colon + 1, *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  nt_nntp_header_t *h = &a->headers[a->nheaders];
  h->name = nt__malloc(nlen + 1);
  h->value = nt__malloc((size_t)(end - v) + 1);
  if (!h->name || !h->value) {
    nt__free(h->name);
    nt__free(h->value);
    return NT_ENOMEM;
  }
  memcpy(h->name, line, nlen);
  h->name[nlen] = 0;
  memcpy(h->value, v, (size_t)(end - v));
  h->value[end - v] = 0;
  a->nheaders++;
  return 0;
}

/* A folded line continues the last header (RFC 5322 2.2.3). */
static int unfold(nt_nntp_article_t *a, const char *line, size_t len) {
  nt_nntp_header_t *h = &a->headers[a->nheaders - 1];
  size_t old = strlen(h->value);
  char *v = nt__realloc(h->value, old + len + 1);
  if (!v) return NT_ENOMEM;
  memcpy(v + old, line, len);
  v[old + len] = 0;
  h->value = v;
  return 0;
}

/* A parameter (charset=..., boundary=...) of a Content-Type value, into
 * buf ("" if none). */
static void content_param(const char *ct, const char *name, char *buf, size_t size) {
  size_t nl = strlen(name);
  buf[0] = 0;
  for (const char *p = ct; p && *p; p++) {
    if (strncasecmp(p, name, nl) || (p > ct && p[-1] != ';' && p[-1] != ' ' && p[-1] != '\t'))
      continue;
    const char *q = p + nl;
    while (*q == ' ') q++;
    if (*q != '=') continue;
    q++;
    while (*q == ' ') q++;
    int quoted = *q == '"';
    if (quoted) q++;
    size_t n = 0;
    while (q[n] && n + 1 < size &&
           (quoted ? q[n] != '"' : q[n] != ';' && q[n] != ' ' && q[n] != '\t'))
      n++;
    memcpy(buf, q, n);
    buf[n] = 0;
    return;
  }
}

static void content_charset(const char *ct, char *buf, size_t size) {
  content_param(ct, "charset", buf, size);
}

/* The media type of a Content-Type value: "multipart/" (prefix), 
 * "text/plain"... 1 if ct starts with it (case-insensitive). NULL ct is
 * text/plain (RFC 2045 5.2). */
static int media_is(const char *ct, const char *type) {
  if (!ct) return !strcmp(type, "text/plain") || !strcmp(type, "text/");
  while (*ct == ' ' || *ct == '\t') ct++;
  return !strncasecmp(ct, type, strlen(type));
}

/* How the text that follows is decoded: its charset and transfer
 * encoding (base64 only for text: other parts are never shown). */
static void set_decoder(nt_nntp_article_t *a, const char *ct, const char *cte) {
  nt__iconv_close(a->cd);
  a->cd = NULL;
  char cs[64];
  content_charset(ct, cs, sizeof cs);
  if (cs[0] && !nt__charset_is_utf8(cs)) {
    void *cd;
    if (nt__iconv_open(cs, &cd) == 0) a->cd = cd;
  }
  while (cte && (*cte == ' ' || *cte == '\t')) cte++;
  a->qp = cte && !strncasecmp(cte, "quoted-printable", 16);
  a->b64 = cte && !strncasecmp(cte, "base64", 6) && media_is(ct, "text/");
  a->b64_acc = a->b64_bits = 0;
  a->qp_len = 0;
}

/* Pushes a multipart's boundary; 0 if ct is no multipart (or too deep). */
static int push_boundary(nt_nntp_article_t *a, const char *ct) {
  char b[128];
  if (!ct || !media_is(ct, "multipart/")) return 0;
  content_param(ct, "boundary", b, sizeof b);
  if (!b[0] || a->nbounds >= (int)(sizeof a->bounds / sizeof a->bounds[0])) return 0;
  a->bounds[a->nbounds] = nt__strdup(b);
  if (!a->bounds[a->nbounds]) return 0;
  a->nbounds++;
  return 1;
}

enum { MIME_NONE, MIME_SKIP, MIME_PART_HEADERS, MIME_TEXT, MIME_DONE };

static void start_body(nt_nntp_article_t *a) {
  a->in_body = 1;
  if (a->body_ready) return;
  a->body_ready = 1;
  const char *ct = nt_nntp_article_header(a, "Content-Type");
  if (push_boundary(a, ct)) {
    a->mime = MIME_SKIP; /* the preamble, up to the first boundary */
    return;
  }
  set_decoder(a, ct, nt_nntp_article_header(a, "Content-Transfer-Encoding"));
}

void nt_nntp_article_begin_body(nt_nntp_article_t *a) { start_body(a); }

/* Hands one finished, decoded body line on. */
static int deliver(nt_nntp_article_t *a, const char *s, size_t n) {
  nt__buf_t tmp = {0};
  if (a->cd || !nt__nntp_utf8_valid(s, n)) {
    /* no (known) charset and not UTF-8: ISO-8859-1, as for headers */
    if (!a->cd && !a->fb) nt__iconv_open("ISO-8859-1", &a->fb);
    nt__buf_add(&tmp, "", 0);
    nt__iconv_add(a->cd ? a->cd : a->fb, &tmp, s, n);
    if (tmp.failed) {
      nt__free(tmp.p);
      return NT_ENOMEM;
    }
    s = tmp.p;
    n = tmp.n;
  }
  int rc = 0;
  if (a->body_line) {
    a->body_line(a->body_arg, s, n);
  } else if ((a->body_bytes += n + 1) > lim(a->max_body, DEF_MAX_BODY)) {
    rc = NT_ETOOBIG;
  } else {
    if (a->nlines == a->cap_lines) {
      size_t cap = a->cap_lines ? a->cap_lines * 2 : 64;
      char **l = nt__realloc(a->lines, cap * sizeof *l);
      if (!l) rc = NT_ENOMEM;
      else a->lines = l, a->cap_lines = cap;
    }
    char *copy = rc ? NULL : nt__malloc(n + 1);
    if (!rc && !copy) rc = NT_ENOMEM;
    if (copy) {
      memcpy(copy, s, n);
      copy[n] = 0;
      a->lines[a->nlines++] = copy;
    }
  }
  nt__free(tmp.p);
  return rc;
}

static int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
  return -1;
}

/* Quoted-printable: "=XX" -> byte, a final "=" joins the next line. */
static int qp_line(nt_nntp_article_t *a, const char *s, size_t n) {
  nt__buf_t b = {a->qp_buf, a->qp_len, a->qp_cap, a->qp_failed};
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--; /* RFC 2045 6.7 */
  int soft = n && s[n - 1] == '=';
  if (soft) n--;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '=') {
      int hi = i + 1 < n ? hexv(s[i + 1]) : -1, lo = i + 2 < n ? hexv(s[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        ch = (char)(hi * 16 + lo);
        i += 2;
      }
    }
    nt__buf_add(&b, &ch, 1);
  }
  if (!b.p) nt__buf_add(&b, "", 0);
  a->qp_buf = b.p, a->qp_len = b.n, a->qp_cap = b.cap, a->qp_failed = b.failed;
  if (b.failed) return NT_ENOMEM;
  if (soft && b.n < MAX_QP_JOIN) return 0;
  a->qp_len = 0;
  return deliver(a, b.p, b.n);
}

static int b64v(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Base64: decoded bytes are cut into lines at LF (a CR before it
 * dropped), whatever the encoded lines were; a partial one waits in
 * qp_buf. */
static int b64_line(nt_nntp_article_t *a, const char *s, size_t n) {
  nt__buf_t b = {a->qp_buf, a->qp_len, a->qp_cap, a->qp_failed};
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    int v = b64v((unsigned char)s[i]);
    if (s[i] == '=') a->b64_bits = 0; /* padding: the group is over */
    if (v < 0) continue; /* '=', whitespace, junk */
    a->b64_acc = (a->b64_acc << 6) | (unsigned)v;
    a->b64_bits += 6;
    if (a->b64_bits < 8) continue;
    a->b64_bits -= 8;
    char ch = (char)((a->b64_acc >> a->b64_bits) & 0xff);
    if (ch == '\n' || b.n >= MAX_QP_JOIN) {
      size_t k = b.n && b.p[b.n - 1] == '\r' ? b.n - 1 : b.n;
      if (!b.p) nt__buf_add(&b, "", 0);
      rc = b.failed ? NT_ENOMEM : deliver(a, b.p, k);
      b.n = 0;
      if (ch == '\n') continue;
    }
    nt__buf_add(&b, &ch, 1);
  }
  a->qp_buf = b.p, a->qp_len = b.n, a->qp_cap = b.cap, a->qp_failed = b.failed;
  return rc ? rc : b.failed ? NT_ENOMEM : 0;
}

static int decode_line(nt_nntp_article_t *a, const char *line, size_t len) {
  if (a->b64) return b64_line(a, line, len);
  return a->qp ? qp_line(a, line, len) : deliver(a, line, len);
}

/* What is left of a quoted-printable or base64 line. */
static int flush_decoder(nt_nntp_article_t *a) {
  if ((a->qp || a->b64) && a->qp_len) {
    size_t k = a->qp_len;
    a->qp_len = 0;
    if (a->b64 && a->qp_buf[k - 1] == '\r') k--;
    return deliver(a, a->qp_buf, k);
  }
  return 0;
}

/* "--boundary" (a part starts) or "--boundary--" (the multipart ends) of
 * any open level, innermost first: the level's index, or -1. */
static int boundary_of(nt_nntp_article_t *a, const char *line, size_t len, int *close) {
  if (len < 3 || line[0] != '-' || line[1] != '-') return -1;
  for (int i = a->nbounds - 1; i >= 0; i--) {
    size_t bl = strlen(a->bounds[i]);
    if (len < 2 + bl || memcmp(line + 2, a->bounds[i], bl)) continue;
    const char *r = line + 2 + bl, *end = line + len;
    *close = end - r >= 2 && r[0] == '-' && r[1] == '-';
    if (*close) r += 2;
    while (r < end && (*r == ' ' || *r == '\t')) r++;
    if (r == end) return i;
  }
  return -1;
}

/* A part header: only Content-Type and Content-Transfer-Encoding matter. */
static int part_header(nt_nntp_article_t *a, const char *line, size_t len) {
  char **slot = NULL;
  size_t skip = 0;
  if ((line[0] == ' ' || line[0] == '\t') && a->part_last) {
    slot = a->part_last == 1 ? &a->part_ct : &a->part_cte;
  } else if (len > 13 && !strncasecmp(line, "Content-Type:", 13)) {
    slot = &a->part_ct, skip = 13, a->part_last = 1;
    nt__free(*slot), *slot = NULL;
  } else if (len > 26 && !strncasecmp(line, "Content-Transfer-Encoding:", 26)) {
    slot = &a->part_cte, skip = 26, a->part_last = 2;
    nt__free(*slot), *slot = NULL;
  } else {
    a->part_last = 0;
    return 0;
  }
  size_t old = *slot ? strlen(*slot) : 0, add = len - skip;
  if (old + add > 8192) return 0; /* a part header that long: ignored */
  char *v = nt__realloc(*slot, old + add + 1);
  if (!v) return NT_ENOMEM;
  memcpy(v + old, line + skip, add);
  v[old + add] = 0;
  *slot = v;
  return 0;
}

/* The empty line after a part's headers: nest, show, or skip it. */
static void part_begin(nt_nntp_article_t *a) {
  a->part_last = 0;
  if (push_boundary(a, a->part_ct)) {
    a->mime = MIME_SKIP;
  } else if (!a->text_found && media_is(a->part_ct, "text/plain")) {
    a->text_found = 1;
    set_decoder(a, a->part_ct ? a->part_ct : "text/plain", a->part_cte);
    a->mime = MIME_TEXT;
  } else {
    a->mime = MIME_SKIP;
  }
}

static int mime_line(nt_nntp_article_t *a, const char *line, size_t len) {
  if (a->mime == MIME_DONE) return 0;
  int close = 0, level = boundary_of(a, line, len, &close);
  if (level >= 0) {
    int rc = a->mime == MIME_TEXT ? flush_decoder(a) : 0;
    if (a->text_found && a->mime == MIME_TEXT) {
      a->mime = MIME_DONE; /* the first text part is all that is shown */
      return rc;
    }
    while (a->nbounds > level + 1) nt__free(a->bounds[--a->nbounds]);
    if (close) {
      nt__free(a->bounds[--a->nbounds]);
      a->mime = a->nbounds ? MIME_SKIP : MIME_DONE;
    } else {
      a->mime = MIME_PART_HEADERS;
      nt__free(a->part_ct), a->part_ct = NULL;
      nt__free(a->part_cte), a->part_cte = NULL;
    }
    return rc;
  }
  switch (a->mime) {
  case MIME_PART_HEADERS:
    if (len == 0) {
      part_begin(a);
      return 0;
    }
    return part_header(a, line, len);
  case MIME_TEXT:
    return decode_line(a, line, len);
  default:
    return 0; /* a preamble, an epilogue, a part not shown */
  }
}

int nt_nntp_article_feed(nt_nntp_article_t *a, const char *line, size_t len) {
  if (a->in_body) return a->mime ? mime_line(a, line, len) : decode_line(a, line, len);
  if (len == 0) {
    start_body(a);
    return 0;
  }
  a->header_bytes += len + 2;
  if (a->header_bytes > lim(a->max_header_bytes, DEF_MAX_HEADER_BYTES))
    return NT_ETOOBIG;
  if ((line[0] == ' ' || line[0] == '\t') && a->nheaders)
    return unfold(a, line, len);
  return add_header(a, line, len);
}

int nt_nntp_article_end(nt_nntp_article_t *a) {
  if (a->mime && a->mime != MIME_TEXT) return 0;
  return flush_decoder(a);
}

const char *nt_nntp_article_header(const nt_nntp_article_t *a,
                                   const char *name) {
  for (size_t i = 0; i < a->nheaders; i++)
    if (!strcasecmp(a->headers[i].name, name)) return a->headers[i].value;
  return NULL;
}

char *nt_nntp_article_header_utf8(const nt_nntp_article_t *a,
                                  const char *name) {
  const char *v = nt_nntp_article_header(a, name);
  if (!v) return NULL;
  char cs[64];
  content_charset(nt_nntp_article_header(a, "Content-Type"), cs, sizeof cs);
  char *out = NULL;
  if (nt_nntp_decode_header(v, strlen(v), cs[0] ? cs : NULL, &out, NULL))
    return NULL;
  return out;
}

void nt_nntp_article_free(nt_nntp_article_t *a) {
  for (size_t i = 0; i < a->nheaders; i++) {
    nt__free(a->headers[i].name);
    nt__free(a->headers[i].value);
  }
  nt__free(a->headers);
  for (size_t i = 0; i < a->nlines; i++) nt__free(a->lines[i]);
  nt__free(a->lines);
  nt__free(a->qp_buf);
  nt__iconv_close(a->cd);
  nt__iconv_close(a->fb);
  for (int i = 0; i < a->nbounds; i++) nt__free(a->bounds[i]);
  nt__free(a->part_ct);
  nt__free(a->part_cte);
  memset(a, 0, sizeof *a);
}
