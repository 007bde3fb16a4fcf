/* Fuzz the NNTP client's parsers. The first byte picks the target:
 *   0 reply/status parsers (GROUP, article reply, DATE, active)
 *   1 overview line parser
 *   2 header/encoded-word decoder (and the encoder on the result)
 *   3 the article model, line by line (folding, charset, quoted-printable,
 *     base64, MIME multiparts),
 *     with the meaningful-lines filter over its body
 *   4 a whole session as a hostile server, through the in-memory transport
 * Anything may happen except a crash, a leak, or output that breaks the
 * decoder's promises (NUL-terminated, length right, valid UTF-8). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nettool/nntp.h"
#include "nettool/testing.h"

int nt__nntp_utf8_valid(const char *s, size_t n);

static void parsers(const char *d, size_t n) {
  uint64_t a, b, c;
  nt_nntp_str_t s;
  if (nt_nntp_parse_group(d, n, &a, &b, &c, &s) == 0 && (s.p < d || s.p + s.n > d + n)) abort();
  if (nt_nntp_parse_article_reply(d, n, &a, &s) == 0 && s.n && (s.p < d || s.p + s.n > d + n))
    abort();
  time_t t;
  nt_nntp_parse_date(d, n, &t);
  nt_nntp_parse_rfc5322_date(d, n, &t);
  nt_nntp_active_t act;
  nt_nntp_parse_active(d, n, &act);
}

static void overview(const char *d, size_t n) {
  nt_nntp_overview_t o;
  if (nt_nntp_parse_overview(d, n, &o)) return;
  const nt_nntp_str_t *f[] = {&o.subject, &o.from, &o.date, &o.message_id, &o.references, &o.extra};
  for (size_t i = 0; i < 6; i++)
    if (f[i]->p < d || f[i]->p + f[i]->n > d + n) abort();
}

static void decoder(const char *d, size_t n) {
  char *out = NULL;
  size_t len = 0;
  if (nt_nntp_decode_header(d, n, NULL, &out, &len)) return;
  if (strlen(out) != len || !nt__nntp_utf8_valid(out, len)) abort();
  char *enc = NULL;
  if (nt_nntp_encode_header(out, &enc) == 0) {
    char *back = NULL;
    if (nt_nntp_decode_header(enc, strlen(enc), NULL, &back, NULL) == 0) {
      if (strcmp(back, out)) abort(); /* what we encode decodes back */
      free(back);
    }
    free(enc);
  }
  free(out);
}

static void show(void *arg, const char *line, size_t len) {
  nt_nntp_filter_t *f = arg;
  if (!nt__nntp_utf8_valid(line, len)) abort();
  nt_nntp_filter_line(f, line, &len);
}

static void article(const char *d, size_t n) {
  nt_nntp_article_t a;
  nt_nntp_filter_t f;
  nt_nntp_filter_init(&f, 20);
  nt_nntp_article_init(&a);
  a.max_header_bytes = 4096;
  a.body_line = (n & 1) ? show : NULL;
  a.body_arg = &f;
  const char *p = d, *end = d + n;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl : end;
    if (nt_nntp_article_feed(&a, p, (size_t)(e - p))) break;
    p = nl ? nl + 1 : end;
  }
  nt_nntp_article_end(&a);
  char *v = nt_nntp_article_header_utf8(&a, "Subject");
  free(v);
  nt_nntp_article_free(&a);
}

/* --- a hostile server -------------------------------------------------------- */

static void done(nt_nntp_t *c, const nt_nntp_result_t *r, void *arg) {
  (void)arg;
  if (!r->text || !r->group || !r->message_id) abort();
  if (r->status == 0 && nt_nntp_pending(c) < 6)
    nt_nntp_fetch(c, NT_NNTP_ARTICLE, "<a@b>", NULL, done, NULL);
}
static void line(nt_nntp_t *c, const char *l, size_t n, void *arg) {
  (void)c, (void)arg;
  if (memchr(l, '\n', n)) abort();
}
static void over(nt_nntp_t *c, const nt_nntp_overview_t *o, void *arg) {
  (void)c, (void)o, (void)arg;
}
static void ready(nt_nntp_t *c, void *arg) {
  (void)arg;
  nt_nntp_group(c, "local.test", done, NULL);
  nt_nntp_over(c, "1-", over, done, NULL);
  nt_nntp_list(c, NULL, NULL, line, done, NULL);
  nt_nntp_post(c, "Subject: x\n\n.body\n", 18, done, NULL);
  nt_nntp_close(c);
}

static void session(const uint8_t *d, size_t n) {
  static nt_reactor_t *r;
  if (!r && nt_test_reactor_new(&r)) abort();
  nt_nntp_options_t o = {0};
  o.user = "u";
  o.pass = "p";
  o.auth_when_asked = n & 1;
  o.max_line = 256;
  o.max_block_line = 512;
  o.max_block = 8192;
  o.timeout_ms = 1000;
  nt_nntp_callbacks_t cbs = {.ready = ready};
  nt_nntp_t *c;
  if (nt_nntp_new(r, &o, &cbs, NULL, &c)) abort();
  nt_test_transport_t *tt = nt_test_transport_new(r, nt_nntp_protocol(c));
  size_t chunk = n ? d[0] % 13 + 1 : 1;
  for (size_t pos = 1; pos < n && !nt_test_is_lost(tt); pos += chunk) {
    nt_test_feed(tt, d + pos, n - pos < chunk ? n - pos : chunk);
    nt_test_run_pending(r);
  }
  nt_test_clock_advance(r, 2000);
  nt_test_transport_free(tt);
  nt_test_run_pending(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const char *d = (const char *)data + 1;
  size_t n = size - 1;
  switch (data[0] % 5) {
  case 0: parsers(d, n); break;
  case 1: overview(d, n); break;
  case 2: decoder(d, n); break;
  case 3: article(d, n); break;
  default: session(data + 1, n); break;
  }
  return 0;
}
