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

/* charset=... of a Content-Type value, into buf. */
static void content_charset(const char *ct, char *buf, size_t size) {
  buf[0] = 0;
  for (const char *p = ct; p && *p; p++) {
    if (strncasecmp(p, "charset", 7)) continue;
    const char *q = p + 7;
    while (*q == ' ') q++;
    if (*q != '=') continue;
    q++;
    while (*q == ' ') q++;
    int quoted = *q == '"';
    if (quoted) q++;
    size_t n = 0;
    while (q[n] && n + 1 < size && (quoted ? q[n] != '"' : q[n] != ';' && q[n] != ' '))
      n++;
    memcpy(buf, q, n);
    buf[n] = 0;
    return;
  }
}

static void start_body(nt_nntp_article_t *a) {
  a->in_body = 1;
  if (a->body_ready) return;
  a->body_ready = 1;
  char cs[64];
  content_charset(nt_nntp_article_header(a, "Content-Type"), cs, sizeof cs);
  if (cs[0] && !nt__charset_is_utf8(cs)) {
    void *cd;
    if (nt__iconv_open(cs, &cd) == 0) a->cd = cd;
  }
  const char *cte = nt_nntp_article_header(a, "Content-Transfer-Encoding");
  a->qp = cte && !strncasecmp(cte, "quoted-printable", 16);
}

void nt_nntp_article_begin_body(nt_nntp_article_t *a) { start_body(a); }

/* Hands one finished, decoded body line on. */
static int deliver(nt_nntp_article_t *a, const char *s, size_t n) {
  nt__buf_t tmp = {0};
  if (a->cd || !nt__nntp_utf8_valid(s, n)) {
    nt__buf_add(&tmp, "", 0);
    nt__iconv_add(a->cd, &tmp, s, n);
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

int nt_nntp_article_feed(nt_nntp_article_t *a, const char *line, size_t len) {
  if (a->in_body) return a->qp ? qp_line(a, line, len) : deliver(a, line, len);
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
  if (a->qp && a->qp_len) {
    a->qp_len = 0;
    return deliver(a, a->qp_buf, strlen(a->qp_buf));
  }
  return 0;
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
  memset(a, 0, sizeof *a);
}
