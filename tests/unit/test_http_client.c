/* The HTTP client on the test reactor: every response fed at every byte
 * boundary (statuses, chunked bodies and trailers, 1xx, redirects,
 * malformed answers, header limits, an early 413), 100-continue on the
 * virtual clock, keep-alive reuse, stale connections, retries, timeouts,
 * backpressure, cancelling. Connections come from a connect hook that hands
 * the test each factory; the test builds the protocol on an in-memory
 * transport and plays the server. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http-int.h"
#include "nettool/http.h"
#include "nettool/testing.h"

#define MAXC 8

/* Runs everything due now, including timers re-armed at 0 ms by timer
 * callbacks (nt_test_run_pending stops when no queued call is left). */
static void settle(nt_reactor_t *r) { nt_test_clock_advance(r, 0); }

typedef struct {
  nt_reactor_t *r;
  nt_http_client_t *client;
  nt_factory_t *pending[MAXC];
  char phost[MAXC][64];
  int pport[MAXC];
  int npending, taken;
  int refuse; /* the hook fails connections with this status */
  nt_test_transport_t *extra[MAXC];
  int nextra;
  nt_http_request_options_t opts;
  nt_http_request_t *req;
  /* results */
  int responses, done, status, http_status, redirects_seen, retries_seen;
  int cancel_in_body;
  char reason[128];
  char body[1 << 16];
  size_t body_len;
  char trailer[256];
  char error[768];
  nt_http_progress_t progress;
} ctx_t;

/* --- plumbing ------------------------------------------------------------- */

static void fail_cb(void *arg) {
  ctx_t *c = arg;
  nt_factory_t *f = c->pending[c->taken++];
  f->ops->connection_failed(f, NULL, c->refuse);
}

static int hook(void *arg, nt_reactor_t *r, const char *host, int port,
                int https, nt_factory_t *f) {
  (void)r;
  (void)https;
  ctx_t *c = arg;
  assert_true(c->npending < MAXC);
  snprintf(c->phost[c->npending], 64, "%s", host);
  c->pport[c->npending] = port;
  c->pending[c->npending++] = f;
  if (c->refuse) nt_call_soon(c->r, fail_cb, c);
  return 0;
}

static void on_response(nt_http_request_t *q, const nt_http_response_t *r,
                        void *arg) {
  (void)q;
  ctx_t *c = arg;
  c->responses++;
  c->http_status = r->status;
  snprintf(c->reason, sizeof c->reason, "%s", r->reason);
}

static int on_body(nt_http_request_t *q, const char *d, size_t n, void *arg) {
  ctx_t *c = arg;
  assert_true(c->body_len + n < sizeof c->body);
  memcpy(c->body + c->body_len, d, n);
  c->body_len += n;
  c->body[c->body_len] = 0;
  if (c->cancel_in_body) nt_http_request_cancel(q);
  return 0;
}

static void on_done(nt_http_request_t *q, int status, void *arg) {
  ctx_t *c = arg;
  c->done++;
  c->status = status;
  snprintf(c->error, sizeof c->error, "%s", nt_http_request_error(q));
  nt_http_request_progress(q, &c->progress);
  const nt_http_response_t *r = nt_http_request_response(q);
  if (r && r->ntrailers)
    snprintf(c->trailer, sizeof c->trailer, "%s: %s", r->trailers[0].name,
             r->trailers[0].value);
  c->req = NULL;
}

static void on_redirect(nt_http_request_t *q, int st, const char *to,
                        void *arg) {
  (void)q, (void)st, (void)to;
  ((ctx_t *)arg)->redirects_seen++;
}

static void on_retry(nt_http_request_t *q, int st, uint64_t d, void *arg) {
  (void)q, (void)st, (void)d;
  ((ctx_t *)arg)->retries_seen++;
}

static const nt_http_callbacks_t cbs = {
    .on_response = on_response,
    .on_body = on_body,
    .on_done = on_done,
    .on_redirect = on_redirect,
    .on_retry = on_retry,
};

static void reset_results(ctx_t *c) {
  c->responses = c->done = c->status = c->http_status = 0;
  c->redirects_seen = c->retries_seen = 0;
  c->reason[0] = c->body[0] = c->trailer[0] = c->error[0] = 0;
  c->body_len = 0;
  c->npending = c->taken = c->nextra = 0;
}

/* Makes the client, starts the request, runs the loop up to the dial. */
static void start(ctx_t *c) {
  reset_results(c);
  assert_int_equal(nt_http_client_new(c->r, NULL, &c->client), 0);
  nt__http_client_set_connect_hook(c->client, hook, c);
  assert_int_equal(nt_http_request_start(c->client, &c->opts, &cbs, c, &c->req),
                   0);
  assert_int_equal(c->npending, 0); /* nothing happens inside start */
  settle(c->r);
}

static nt_protocol_t *take_protocol(ctx_t *c) {
  assert_true(c->taken < c->npending);
  nt_factory_t *f = c->pending[c->taken++];
  nt_protocol_t *p = f->ops->build_protocol(f, NULL, 0);
  assert_non_null(p);
  return p;
}

/* The next pending connection, on an in-memory transport. */
static nt_test_transport_t *accept_conn(ctx_t *c) {
  nt_test_transport_t *tt = nt_test_transport_new(c->r, take_protocol(c));
  c->extra[c->nextra++] = tt;
  settle(c->r);
  return tt;
}

static void end(ctx_t *c) {
  nt_http_client_free(c->client);
  c->client = NULL;
  settle(c->r);
  /* connections never accepted end as a cancelled connector would */
  while (c->taken < c->npending) {
    nt_factory_t *f = c->pending[c->taken++];
    f->ops->connection_failed(f, NULL, NT_ECANCELED);
  }
  settle(c->r);
  for (int i = 0; i < c->nextra; i++) nt_test_transport_free(c->extra[i]);
  c->nextra = 0;
  settle(c->r);
}

static const char *output(nt_test_transport_t *tt) {
  return nt_test_output(tt, NULL);
}

static ctx_t *new_ctx(const char *url) {
  ctx_t *c = calloc(1, sizeof *c);
  assert_int_equal(nt_test_reactor_new(&c->r), 0);
  c->opts.url = url;
  return c;
}

static void free_ctx(ctx_t *c) {
  assert_int_equal(nt_test_reactor_free(c->r), 0);
  free(c);
}

/* --- every split of one response ------------------------------------------ */

typedef struct {
  ctx_t *c;
  const char *want_body;
  int want_http, want_status;
  const char *want_error; /* substring of the error detail */
  const char *want_trailer;
  const char *want_request; /* prefix of what the client sent */
  size_t runs;
} split_t;

static nt_protocol_t *split_build(void *arg) {
  split_t *s = arg;
  start(s->c);
  assert_int_equal(s->c->npending, 1);
  return take_protocol(s->c);
}

static void split_check(void *arg, nt_test_transport_t *tt, const char *how) {
  split_t *s = arg;
  ctx_t *c = s->c;
  settle(c->r);
  s->runs++;
  if (s->want_request &&
      strncmp(output(tt), s->want_request, strlen(s->want_request)))
    fail_msg("%s: sent %s", how, output(tt));
  if (c->done != 1) fail_msg("%s: done %d", how, c->done);
  if (c->status != s->want_status)
    fail_msg("%s: status %s (%s), want %s", how, nt_err_name(c->status),
             c->error, nt_err_name(s->want_status));
  if (s->want_http && c->http_status != s->want_http)
    fail_msg("%s: HTTP %d", how, c->http_status);
  if (s->want_body && strcmp(c->body, s->want_body))
    fail_msg("%s: body '%s'", how, c->body);
  if (s->want_error && !strstr(c->error, s->want_error))
    fail_msg("%s: error '%s' lacks '%s'", how, c->error, s->want_error);
  if (s->want_trailer && strcmp(c->trailer, s->want_trailer))
    fail_msg("%s: trailer '%s'", how, c->trailer);
  end(c);
}

static void each_split(ctx_t *c, const char *resp, int eof, split_t *s) {
  s->c = c;
  s->runs = 0;
  size_t n = nt_test_each_split(c->r, resp, strlen(resp), eof, split_build,
                                split_check, s);
  assert_int_equal(n, s->runs);
  assert_true(n >= strlen(resp));
}

static void test_simple_get(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/index.html?x=1");
  split_t s = {0};
  s.want_http = 200;
  s.want_body = "hello";
  s.want_request = "GET /index.html?x=1 HTTP/1.1\r\nHost: h.test\r\n";
  each_split(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
             0, &s);
  assert_string_equal(c->reason, "OK");
  free_ctx(c);
}

static void test_chunked_trailers(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/");
  split_t s = {0};
  s.want_http = 200;
  s.want_body = "hello world!";
  s.want_trailer = "X-Sum: 42";
  each_split(
      c,
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
      "5\r\nhello\r\n7;ext=1\r\n world!\r\n0\r\nX-Sum: 42\r\n\r\n",
      0, &s);
  free_ctx(c);
}

static void test_until_close(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/");
  split_t s = {0};
  s.want_http = 200;
  s.want_body = "body until the end";
  each_split(c, "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nbody until the end", 1,
             &s);
  free_ctx(c);
}

static void test_interim_responses(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/");
  split_t s = {0};
  s.want_http = 201;
  s.want_body = "ok";
  each_split(c,
             "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
             "HTTP/1.1 102 Processing\r\nX: y\r\n\r\n"
             "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
             0, &s);
  assert_int_equal(c->responses, 1); /* the 1xx are not answers */
  free_ctx(c);
}

static void test_statuses(void **state) {
  (void)state;
  const struct {
    const char *resp;
    int http;
    const char *body;
  } cases[] = {
      {"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", 404,
       "not found"},
      {"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", 500,
       ""},
      {"HTTP/1.1 204 No Content\r\n\r\n", 204, ""},
      {"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", 304, ""},
      {"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", 200, "x"},
      {"HTTP/1.1 599 Whatever Odd\r\ncontent-length: 3\r\n\r\nabc", 599, "abc"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ctx_t *c = new_ctx("http://h.test/");
    split_t s = {0};
    s.want_http = cases[i].http;
    s.want_body = cases[i].body;
    each_split(c, cases[i].resp, 0, &s);
    free_ctx(c);
  }
}

static void test_head_request(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/");
  c->opts.method = "HEAD";
  split_t s = {0};
  s.want_http = 200;
  s.want_body = "";
  s.want_request = "HEAD / HTTP/1.1\r\n";
  each_split(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 0, &s);
  free_ctx(c);
}

static void test_malformed(void **state) {
  (void)state;
  const struct {
    const char *resp;
    int eof;
    int status;
    const char *why;
  } cases[] = {
      {"HTTP/1.1 2x0 OK\r\n\r\n", 0, NT_EHTTP_PARSE, "HPE_INVALID_STATUS"},
      {"HTTQ/1.1 200 OK\r\n\r\n", 0, NT_EHTTP_PARSE, "HPE_"},
      {"HTTP/1.1 200 OK\r\nBad(Header: x\r\n\r\n", 0, NT_EHTTP_PARSE,
       "Invalid header token (HPE_INVALID_HEADER_TOKEN)"},
      {"HTTP/1.1 200 OK\r\nX: a\x01"
       "b\r\n\r\n",
       0, NT_EHTTP_PARSE, "Invalid header value char"},
      {"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", 0, NT_EHTTP_PARSE,
       "HPE_LF_EXPECTED"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0,
       NT_EHTTP_PARSE, "HPE_UNEXPECTED_CONTENT_LENGTH"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0,
       NT_EHTTP_PARSE, "HPE_INVALID_CHUNK_SIZE"},
      {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 0,
       NT_EHTTP_PARSE, "101"},
      /* a cut body: how much came, not again that the connection closed
       * (NT_EUNEXPECTEDEOF says that) */
      {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 1,
       NT_EUNEXPECTEDEOF, "the response body stopped after 5 of 10 bytes"},
      {"HTTP/1.1 200 OK\r\nContent-Le", 1, NT_EUNEXPECTEDEOF,
       "inside the response head"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 1,
       NT_EUNEXPECTEDEOF, "the response body stopped after 3 bytes"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ctx_t *c = new_ctx("http://h.test/");
    split_t s = {0};
    s.want_status = cases[i].status;
    s.want_error = cases[i].why;
    each_split(c, cases[i].resp, cases[i].eof, &s);
    free_ctx(c);
  }
}

static void test_header_limit(void **state) {
  (void)state;
  char resp[1024], big[400];
  memset(big, 'v', sizeof big - 1);
  big[sizeof big - 1] = 0;
  snprintf(resp, sizeof resp,
           "HTTP/1.1 200 OK\r\nX-Big: %s\r\nContent-Length: 0\r\n\r\n", big);
  ctx_t *c = new_ctx("http://h.test/");
  c->opts.max_header_bytes = 300;
  split_t s = {0};
  s.want_status = NT_EHTTP_HEADERS_TOO_BIG;
  s.want_error = "size limit";
  each_split(c, resp, 0, &s);
  /* the same answer passes with room for it */
  c->opts.max_header_bytes = 600;
  split_t ok = {0};
  ok.want_http = 200;
  each_split(c, resp, 0, &ok);
  /* too many fields */
  char many[8192] = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 300; i++) sprintf(many + strlen(many), "X%d: 1\r\n", i);
  strcat(many, "\r\n");
  c->opts.max_header_bytes = 0;
  ctx_t *d = new_ctx("http://h.test/");
  start(d);
  nt_test_transport_t *tt = accept_conn(d);
  nt_test_feed_str(tt, many);
  settle(d->r);
  assert_int_equal(d->status, NT_EHTTP_HEADERS_TOO_BIG);
  assert_non_null(strstr(d->error, "too many header fields"));
  end(d);
  free_ctx(d);
  free_ctx(c);
}

/* --- redirects ------------------------------------------------------------ */

typedef struct {
  split_t s;
  const char *second; /* answer on the second connection (or the same) */
  int same_conn;
  const char *want_second; /* prefix of the second request */
  const char *not_in_second;
  const char *in_second;
} redir_t;

static void redir_check(void *arg, nt_test_transport_t *tt, const char *how) {
  redir_t *rd = arg;
  ctx_t *c = rd->s.c;
  settle(c->r);
  rd->s.runs++;
  nt_test_transport_t *t2 = tt;
  if (!rd->same_conn) {
    if (c->npending != 2) fail_msg("%s: %d connects", how, c->npending);
    t2 = accept_conn(c);
  } else {
    if (c->npending != 1) fail_msg("%s: a new connection was made", how);
    /* the second request follows the first on the same connection */
    const char *o = output(tt);
    const char *second = strstr(o + 1, rd->want_second);
    if (!second) fail_msg("%s: no second request in %s", how, o);
    nt_test_output_clear(tt);
  }
  const char *o2 = output(t2);
  if (!rd->same_conn && strncmp(o2, rd->want_second, strlen(rd->want_second)))
    fail_msg("%s: second request %s", how, o2);
  if (rd->not_in_second && strstr(o2, rd->not_in_second) && !rd->same_conn)
    fail_msg("%s: second request has %s", how, rd->not_in_second);
  if (rd->in_second && !rd->same_conn && !strstr(o2, rd->in_second))
    fail_msg("%s: second request lacks %s", how, rd->in_second);
  nt_test_feed_str(t2, rd->second);
  settle(c->r);
  if (c->done != 1 || c->status != 0 || c->http_status != 200)
    fail_msg("%s: done %d status %s http %d", how, c->done,
             nt_err_name(c->status), c->http_status);
  assert_string_equal(c->body, "final");
  assert_int_equal(c->redirects_seen, 1);
  end(c);
}

static nt_protocol_t *redir_build(void *arg) { return split_build(arg); }

static void run_redirect(ctx_t *c, const char *first, redir_t *rd) {
  rd->s.c = c;
  size_t n = nt_test_each_split(c->r, first, strlen(first), 0, redir_build,
                                redir_check, rd);
  assert_int_equal(n, rd->s.runs);
}

static void test_redirect_other_host(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://user:secret@h.test/form");
  const char *hdrs[] = {"Cookie: session=1", "X-Keep: yes", NULL};
  nt_http_body_t *body;
  assert_int_equal(
      nt_http_body_memory("a=1", 3, "application/x-www-form-urlencoded", &body),
      0);
  c->opts.body = body;
  c->opts.headers = hdrs;
  redir_t rd = {0};
  rd.second = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal";
  /* 302 after POST: GET, no body, and no credentials for the other host */
  rd.want_second = "GET /new?x HTTP/1.1\r\nHost: other.test:81\r\n";
  rd.not_in_second = "Authorization";
  rd.in_second = "X-Keep: yes";
  run_redirect(c,
               "HTTP/1.1 302 Found\r\nLocation: http://other.test:81/new?x\r\n"
               "Content-Length: 4\r\n\r\nmove",
               &rd);
  nt_http_body_memory_free(body);
  free_ctx(c);
}

static void test_redirect_307_same_conn(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://user:secret@h.test/v1/form");
  nt_http_body_t *body;
  assert_int_equal(nt_http_body_memory("payload", 7, "text/plain", &body), 0);
  c->opts.body = body;
  redir_t rd = {0};
  rd.same_conn = 1;
  rd.second = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal";
  /* 307: same method, same body, same origin: credentials kept */
  rd.want_second = "POST /v2/form HTTP/1.1\r\nHost: h.test\r\n";
  run_redirect(c,
               "HTTP/1.1 307 Temporary Redirect\r\nLocation: ../v2/form\r\n"
               "Content-Length: 3\r\n\r\nabc",
               &rd);
  nt_http_body_memory_free(body);
  free_ctx(c);
}

static void test_redirect_body_replayed(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://u:p@h.test/a");
  nt_http_body_t *body;
  assert_int_equal(nt_http_body_memory("payload", 7, "text/plain", &body), 0);
  c->opts.body = body;
  start(c);
  nt_test_transport_t *t1 = accept_conn(c);
  assert_non_null(strstr(output(t1), "Authorization: Basic dTpw\r\n"));
  assert_non_null(strstr(output(t1), "\r\n\r\npayload"));
  nt_test_feed_str(
      t1,
      "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://h.test:8443/b\r\n"
      "Connection: close\r\n\r\n");
  settle(c->r);
  /* another origin (scheme and port): a new connection, no credentials */
  assert_int_equal(c->npending, 2);
  assert_string_equal(c->phost[1], "h.test");
  assert_int_equal(c->pport[1], 8443);
  assert_int_equal(c->status, 0);
  assert_int_equal(c->done, 0);
  end(c);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ECANCELED);
  nt_http_body_memory_free(body);
  free_ctx(c);
}

static void test_redirect_limit(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/0");
  c->opts.max_redirects = 2;
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  for (int i = 1; i <= 3; i++) {
    char r[128];
    snprintf(r, sizeof r,
             "HTTP/1.1 301 Moved\r\nLocation: /%d\r\nContent-Length: 0\r\n\r\n",
             i);
    nt_test_feed_str(tt, r);
    settle(c->r);
  }
  assert_int_equal(c->npending, 1); /* all on one kept-alive connection */
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_EHTTP_REDIRECTS);
  assert_non_null(strstr(c->error, "after 2 redirects"));
  assert_non_null(strstr(output(tt), "GET /2 HTTP/1.1"));
  end(c);
  free_ctx(c);

  /* not following: the 3xx is the answer */
  c = new_ctx("http://h.test/0");
  c->opts.max_redirects = -1;
  split_t s = {0};
  s.want_http = 302;
  s.want_body = "see";
  each_split(
      c, "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 3\r\n\r\nsee",
      0, &s);
  free_ctx(c);

  /* a Location that is not http */
  c = new_ctx("http://h.test/0");
  s = (split_t){0};
  s.want_status = NT_EHTTP_BAD_REDIRECT;
  s.want_error = "ftp://x/";
  each_split(
      c,
      "HTTP/1.1 302 Found\r\nLocation: ftp://x/\r\nContent-Length: 0\r\n\r\n",
      0, &s);
  free_ctx(c);
}

/* --- 100-continue and early answers --------------------------------------- */

static void test_expect_continue(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/up");
  nt_http_body_t *body;
  assert_int_equal(
      nt_http_body_memory("0123456789abcdef", 16, "text/plain", &body), 0);
  c->opts.body = body;
  c->opts.expect_threshold = 10;
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  const char *o = output(tt);
  assert_non_null(strstr(o, "Expect: 100-continue\r\n"));
  assert_non_null(strstr(o, "Content-Length: 16\r\n"));
  assert_string_equal(o + strlen(o) - 4, "\r\n\r\n"); /* no body yet */
  nt_test_clock_advance(c->r, 500);
  assert_null(strstr(output(tt), "0123"));
  nt_test_feed_str(tt, "HTTP/1.1 100 Continue\r\n\r\n");
  settle(c->r);
  o = output(tt);
  assert_string_equal(o + strlen(o) - 16, "0123456789abcdef");
  nt_test_feed_str(tt, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 "
                       "OK\r\nContent-Length: 0\r\n\r\n");
  settle(c->r);
  assert_int_equal(c->status, 0);
  assert_int_equal(c->http_status, 200);
  end(c);

  /* a server that never says 100: the body goes after 1 s */
  start(c);
  tt = accept_conn(c);
  nt_test_clock_advance(c->r, 999);
  assert_null(strstr(output(tt), "0123"));
  nt_test_clock_advance(c->r, 1);
  assert_non_null(strstr(output(tt), "\r\n\r\n0123456789abcdef"));
  nt_test_feed_str(tt, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  settle(c->r);
  assert_int_equal(c->http_status, 200);
  end(c);

  /* 417: sent again without Expect, on a new connection */
  start(c);
  tt = accept_conn(c);
  nt_test_feed_str(
      tt, "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n");
  settle(c->r);
  assert_int_equal(c->npending, 2);
  nt_test_transport_t *t2 = accept_conn(c);
  assert_null(strstr(output(t2), "Expect:"));
  assert_non_null(strstr(output(t2), "\r\n\r\n0123456789abcdef"));
  nt_test_feed_str(t2, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  settle(c->r);
  assert_int_equal(c->http_status, 201);
  assert_int_equal(c->status, 0);
  end(c);
  nt_http_body_memory_free(body);
  free_ctx(c);
}

/* A file body larger than the transport takes: the server answers 413
 * while it is queued. Every split of that answer. */
typedef struct {
  split_t s;
  char path[64];
  nt_multipart_t *m;
} early_t;

static nt_protocol_t *early_build(void *arg) {
  early_t *e = arg;
  nt_multipart_free(e->m);
  assert_int_equal(nt_multipart_new(&e->m), 0);
  assert_int_equal(nt_multipart_add_file(e->m, "file", e->path, NULL, NULL), 0);
  e->s.c->opts.body = nt_multipart_body(e->m);
  return split_build(&e->s);
}

static void early_check(void *arg, nt_test_transport_t *tt, const char *how) {
  early_t *e = arg;
  ctx_t *c = e->s.c;
  settle(c->r);
  e->s.runs++;
  size_t n;
  nt_test_output(tt, &n);
  if (n > 4096)
    fail_msg("%s: %zu bytes went out", how, n); /* file still queued */
  if (c->done != 1 || c->status != 0 || c->http_status != 413)
    fail_msg("%s: done %d status %s http %d", how, c->done,
             nt_err_name(c->status), c->http_status);
  assert_string_equal(c->body, "too large");
  /* the connection is closed, not reused: the body was cut short */
  if (!nt_test_is_lost(tt)) fail_msg("%s: connection kept", how);
  end(c);
}

static void test_early_413(void **state) {
  (void)state;
  early_t e;
  memset(&e, 0, sizeof e);
  snprintf(e.path, sizeof e.path, "/tmp/nt-http-early-XXXXXX");
  int fd = mkstemp(e.path);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, 2 * 1024 * 1024), 0);
  close(fd);
  ctx_t *c = new_ctx("http://h.test/up");
  c->opts.expect_threshold = UINT64_MAX;
  e.s.c = c;
  const char *resp = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n"
                     "Connection: close\r\n\r\ntoo large";
  size_t n = nt_test_each_split(c->r, resp, strlen(resp), 0, early_build,
                                early_check, &e);
  assert_int_equal(n, e.s.runs);
  nt_multipart_free(e.m);
  unlink(e.path);
  free_ctx(c);
}

/* --- backpressure: a body that counts what is pulled ---------------------- */

typedef struct {
  nt_http_body_t base;
  size_t total, off, piece;
  size_t pulled;
  int unknown_length;
  char buf[16384];
} count_body_t;

static int64_t cb_length(nt_http_body_t *b) {
  count_body_t *k = (count_body_t *)b;
  return k->unknown_length ? -1 : (int64_t)k->total;
}
static const char *cb_type(nt_http_body_t *b) {
  (void)b;
  return "application/octet-stream";
}
static int cb_next(nt_http_body_t *b, size_t max, nt_body_piece_t *out) {
  count_body_t *k = (count_body_t *)b;
  if (k->off >= k->total) return 0;
  size_t n = k->total - k->off;
  if (n > k->piece) n = k->piece;
  if (n > max) n = max;
  memset(out, 0, sizeof *out);
  out->fd = -1;
  for (size_t i = 0; i < n; i++) k->buf[i] = (char)('a' + (k->off + i) % 26);
  out->data = k->buf;
  out->len = n;
  k->off += n;
  k->pulled += n;
  return 1;
}
static int cb_rewind(nt_http_body_t *b) {
  ((count_body_t *)b)->off = 0;
  return 0;
}
static int cb_verify(nt_http_body_t *b) {
  (void)b;
  return 0;
}
static const char *cb_error(nt_http_body_t *b) {
  (void)b;
  return "";
}
static const nt_http_body_ops_t count_ops = {
    .length = cb_length,
    .content_type = cb_type,
    .next = cb_next,
    .rewind = cb_rewind,
    .verify = cb_verify,
    .error = cb_error,
};

static void test_backpressure(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/up");
  count_body_t k;
  memset(&k, 0, sizeof k);
  k.base.ops = &count_ops;
  k.total = 1024 * 1024;
  k.piece = 16384;
  c->opts.body = &k.base;
  c->opts.expect_threshold = 1; /* hold the body until we are ready */
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  nt_test_output_clear(tt);
  nt_test_set_room(tt, 0); /* the socket takes nothing */
  nt_test_feed_str(tt, "HTTP/1.1 100 Continue\r\n\r\n");
  settle(c->r);
  /* pulled only until the transport crossed its high-water mark */
  assert_true(k.pulled <= NT_DEFAULT_HIGH_WATER + k.piece);
  assert_true(k.pulled > 0);
  size_t before = k.pulled;
  settle(c->r);
  nt_test_clock_advance(c->r, 100);
  assert_int_equal(k.pulled, before); /* nothing more while paused */
  /* the peer reads a little: still above low water, still paused */
  nt_test_drain(tt, 16384);
  settle(c->r);
  assert_int_equal(k.pulled, before);
  /* the peer reads enough: resumed, pulls again, bounded again */
  nt_test_drain(tt, 60000);
  settle(c->r);
  assert_true(k.pulled > before);
  size_t out_len;
  nt_test_output(tt, &out_len);
  assert_true(k.pulled - out_len <= NT_DEFAULT_HIGH_WATER + k.piece);
  /* everything flows */
  for (int i = 0; i < 200 && k.off < k.total; i++) {
    nt_test_drain(tt, 65536);
    settle(c->r);
  }
  nt_test_set_room(tt, SIZE_MAX);
  nt_test_drain(tt, 0);
  settle(c->r);
  const char *o = nt_test_output(tt, &out_len);
  assert_int_equal(out_len, k.total);
  for (size_t i = 0; i < out_len; i++)
    if (o[i] != (char)('a' + i % 26)) fail_msg("byte %zu", i);
  nt_http_progress_t p;
  nt_http_request_progress(c->req, &p);
  assert_int_equal(p.sent, k.total);
  assert_int_equal(p.send_total, (int64_t)k.total);
  assert_string_equal(p.state, "waiting");
  nt_test_feed_str(tt, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  settle(c->r);
  assert_int_equal(c->http_status, 200);
  end(c);
  free_ctx(c);
}

static void test_chunked_request(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/up");
  count_body_t k;
  memset(&k, 0, sizeof k);
  k.base.ops = &count_ops;
  k.total = 30;
  k.piece = 26;
  k.unknown_length = 1;
  c->opts.body = &k.base;
  c->opts.expect_threshold = UINT64_MAX;
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  const char *o = output(tt);
  assert_non_null(strstr(o, "Transfer-Encoding: chunked\r\n"));
  assert_null(strstr(o, "Expect"));
  assert_non_null(strstr(
      o, "\r\n\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n4\r\nabcd\r\n0\r\n\r\n"));
  nt_test_feed_str(tt, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  settle(c->r);
  assert_int_equal(c->status, 0);
  end(c);
  free_ctx(c);
}

/* --- connections: keep-alive, stale ones, garbage after an answer --------- */

static void second_request(ctx_t *c) {
  c->done = c->status = c->http_status = 0;
  c->body_len = 0;
  c->body[0] = 0;
  assert_int_equal(nt_http_request_start(c->client, &c->opts, &cbs, c, &c->req),
                   0);
  settle(c->r);
}

static void test_keep_alive(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/1");
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  nt_test_feed_str(tt, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
  settle(c->r);
  assert_string_equal(c->body, "one");
  nt_test_output_clear(tt);
  c->opts.url = "http://h.test/2";
  second_request(c);
  assert_int_equal(c->npending, 1); /* reused */
  assert_non_null(strstr(output(tt), "GET /2 HTTP/1.1"));
  nt_test_feed_str(tt, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo");
  settle(c->r);
  assert_string_equal(c->body, "two");
  assert_int_equal(c->status, 0);

  /* the server closed the kept connection just as we sent: once more, fresh */
  nt_test_output_clear(tt);
  c->opts.url = "http://h.test/3";
  second_request(c);
  assert_non_null(strstr(output(tt), "GET /3 HTTP/1.1"));
  nt_test_feed_eof(tt);
  settle(c->r);
  assert_int_equal(c->done, 0);
  assert_int_equal(c->npending, 2);
  nt_test_transport_t *t2 = accept_conn(c);
  assert_non_null(strstr(output(t2), "GET /3 HTTP/1.1"));
  nt_test_feed_str(t2, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthree");
  settle(c->r);
  assert_string_equal(c->body, "three");
  assert_int_equal(c->status, 0);

  /* Connection: close is honoured */
  nt_test_output_clear(t2);
  second_request(c);
  nt_test_feed_str(
      t2, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
  settle(c->r);
  assert_true(nt_test_peer_got_eof(t2));
  second_request(c);
  assert_int_equal(c->npending, 3);
  nt_test_transport_t *t3 = accept_conn(c);
  /* bytes after an answer: the connection is not trusted again */
  nt_test_feed_str(t3, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA");
  settle(c->r);
  assert_string_equal(c->body, "ok");
  assert_true(nt_test_is_lost(t3));
  end(c);
  free_ctx(c);
}

static void test_retries(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/");
  c->opts.max_retries = 2;
  c->opts.retry_delay_ms = 100;
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  nt_test_feed_str(
      tt, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
  settle(c->r);
  assert_int_equal(c->retries_seen, 1);
  assert_int_equal(c->responses, 0); /* a retried answer is not shown */
  nt_test_output_clear(tt);
  nt_test_clock_advance(c->r, 99);
  assert_string_equal(output(tt), "");
  nt_test_clock_advance(c->r, 1);
  assert_non_null(strstr(output(tt), "GET / HTTP/1.1"));
  nt_test_feed_str(
      tt, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  nt_test_clock_advance(c->r, 100);
  nt_test_feed_str(
      tt, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  settle(c->r);
  /* retries used up: the 503 is the answer */
  assert_int_equal(c->done, 1);
  assert_int_equal(c->http_status, 503);
  assert_int_equal(c->progress.retries, 2);
  end(c);

  /* connection refused: retried, then reported */
  c->refuse = NT_ECONNREFUSED;
  start(c);
  nt_test_clock_advance(c->r, 100);
  nt_test_clock_advance(c->r, 100);
  settle(c->r);
  assert_int_equal(c->npending, 3);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ECONNREFUSED);
  assert_int_equal(c->progress.connected, 0);
  assert_int_equal(c->progress.body_error, 0);
  end(c);
  free_ctx(c);
}

/* --- timeouts, cancelling, a file that changes ---------------------------- */

/* The three limits of DESIGN.md ("Time and timeouts") on the virtual
 * clock: each an exact deadline, each re-armed for every try but the
 * total, each named in the error. */
static void test_timeouts(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/");
  c->opts.idle_timeout_ms = 5000;
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  nt_test_clock_advance(c->r, 4000);
  nt_test_feed_str(tt, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
  /* 5 s after the last byte, not up to 10 s: an exact deadline */
  nt_test_clock_advance(c->r, 4999);
  assert_int_equal(c->done, 0);
  nt_test_clock_advance(c->r, 1);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ETIMEDOUT);
  assert_int_equal(c->progress.limit, NT_HTTP_LIMIT_IDLE);
  assert_non_null(strstr(c->error, "no byte moved for 5 s"));
  assert_true(nt_test_is_lost(tt));
  end(c);

  c->opts.idle_timeout_ms = 0;
  c->opts.timeout_ms = 3000;
  start(c);
  tt = accept_conn(c);
  nt_test_feed_str(tt, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
  for (int i = 0; i < 5; i++) {
    nt_test_clock_advance(c->r, 500);
    nt_test_feed_str(tt, "x");
  }
  assert_int_equal(c->done, 0);
  nt_test_clock_advance(c->r, 500);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ETIMEDOUT);
  assert_int_equal(c->progress.limit, NT_HTTP_LIMIT_TOTAL);
  assert_non_null(strstr(c->error, "longer than 3 s"));
  end(c);
  free_ctx(c);
}

/* An upload the peer stops reading: the socket taking bytes is progress no
 * callback reports; it is looked at every min(0.25 s, S/10) while bytes are
 * queued. */
static void test_idle_upload_stall(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/up");
  char *big = calloc(1, 1 << 20);
  nt_http_body_t *body;
  assert_int_equal(nt_http_body_memory(big, 1 << 20, NULL, &body), 0);
  c->opts.body = body;
  c->opts.expect_threshold = 1; /* the body waits for our 100 */
  c->opts.idle_timeout_ms = 5000;
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  nt_test_set_room(tt, 1000); /* the peer reads 1000 bytes, then stops */
  nt_test_feed_str(tt, "HTTP/1.1 100 Continue\r\n\r\n");
  settle(c->r);
  nt_test_clock_advance(c->r, 3000);
  nt_test_drain(tt, 1000); /* the last bytes the peer reads, at 3 s */
  nt_test_clock_advance(c->r, 4999);
  assert_int_equal(c->done, 0);
  nt_test_clock_advance(c->r, 251); /* seen within min(0.25 s, S/10) */
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ETIMEDOUT);
  assert_int_equal(c->progress.limit, NT_HTTP_LIMIT_IDLE);
  end(c);
  nt_http_body_memory_free(body);
  free(big);
  free_ctx(c);
}

/* --idle-timeout with --retry: every try has its own idle deadline (the
 * timer used not to be re-armed for a retry, which then hung forever). */
static void test_idle_retry(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/");
  c->opts.idle_timeout_ms = 1000;
  c->opts.max_retries = 1;
  c->opts.retry_delay_ms = 100;
  start(c);
  accept_conn(c); /* a server that never answers */
  nt_test_clock_advance(c->r, 1000);
  assert_int_equal(c->retries_seen, 1);
  assert_int_equal(c->done, 0);
  nt_test_clock_advance(c->r, 100);
  assert_int_equal(c->npending, 2);
  accept_conn(c); /* silent again */
  nt_test_clock_advance(c->r, 999);
  assert_int_equal(c->done, 0);
  nt_test_clock_advance(c->r, 1);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ETIMEDOUT);
  assert_int_equal(c->progress.limit, NT_HTTP_LIMIT_IDLE);
  end(c);

  /* the total limit covers the retries: tries at 0, 1.1 s, 2.2 s; the
   * whole request ends at 2.5 s */
  c->opts.max_retries = 5;
  c->opts.timeout_ms = 2500;
  start(c);
  accept_conn(c);
  nt_test_clock_advance(c->r, 1100);
  accept_conn(c);
  nt_test_clock_advance(c->r, 1100);
  accept_conn(c);
  nt_test_clock_advance(c->r, 299);
  assert_int_equal(c->done, 0);
  nt_test_clock_advance(c->r, 1);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ETIMEDOUT);
  assert_int_equal(c->progress.limit, NT_HTTP_LIMIT_TOTAL);
  assert_int_equal(c->retries_seen, 2);
  end(c);
  free_ctx(c);
}

/* Connecting: the connect limit (default: the idle one) covers the TCP
 * connect and the TLS handshake. */
static void test_connect_timeouts(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/");
  c->opts.idle_timeout_ms = 2000;
  start(c); /* the connection never comes */
  nt_test_clock_advance(c->r, 1999);
  assert_int_equal(c->done, 0);
  nt_test_clock_advance(c->r, 1);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ETIMEDOUT);
  assert_int_equal(c->progress.limit, NT_HTTP_LIMIT_CONNECT);
  assert_non_null(strstr(c->error, "no connection within 2 s"));
  end(c);

  c->opts.connect_timeout_ms = 500;
  start(c);
  nt_test_clock_advance(c->r, 500);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->progress.limit, NT_HTTP_LIMIT_CONNECT);
  assert_non_null(strstr(c->error, "no connection within 0.5 s"));
  end(c);
  free_ctx(c);

  /* https: TCP is up, the server never answers the ClientHello; the
   * handshake used to wait 30 s whatever --idle-timeout said */
  c = new_ctx("https://h.test/");
  c->opts.idle_timeout_ms = 1500;
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  size_t n;
  nt_test_output(tt, &n);
  assert_true(n > 0); /* the ClientHello went */
  nt_test_clock_advance(c->r, 1499);
  assert_int_equal(c->done, 0);
  nt_test_clock_advance(c->r, 1);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ETIMEDOUT);
  assert_int_equal(c->progress.connected, 0);
  end(c);
  free_ctx(c);
}

/* A TLS stream cut without close_notify in the middle of the body is a
 * truncated transfer, not a TLS failure. */
static void test_tls_truncated_body(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/");
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  nt_test_feed_str(tt, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  /* what the TLS transport reports for a cut without close_notify */
  nt_transport_abort_error(nt_test_transport_base(tt), NT_ETLS_TRUNCATED);
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_EUNEXPECTEDEOF);
  assert_string_equal(c->error,
                      "the response body stopped after 3 of 10 bytes (no TLS close_notify)");
  assert_int_equal(c->progress.connected, 1);
  end(c);
  free_ctx(c);
}

/* -H 'Expect:' removes Expect: 100-continue (and the wait for 100);
 * 'Expect: 100-continue' asks for it; another expectation is refused. */
static void test_expect_header(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/up");
  nt_http_body_t *body;
  assert_int_equal(
      nt_http_body_memory("0123456789abcdef", 16, "text/plain", &body), 0);
  c->opts.body = body;
  c->opts.expect_threshold = 10;
  const char *no_expect[] = {"Expect:", NULL};
  c->opts.headers = no_expect;
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  const char *o = output(tt);
  assert_null(strstr(o, "Expect"));
  assert_non_null(strstr(o, "\r\n\r\n0123456789abcdef")); /* no wait */
  nt_test_feed_str(tt, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  settle(c->r);
  assert_int_equal(c->http_status, 200);
  end(c);

  c->opts.expect_threshold = 0; /* 1 MiB: a 16-byte body would not ask */
  const char *expect[] = {"expect: 100-Continue ", NULL};
  c->opts.headers = expect;
  start(c);
  tt = accept_conn(c);
  o = output(tt);
  assert_non_null(strstr(o, "Expect: 100-continue\r\n"));
  assert_null(strstr(o, "0123"));
  nt_test_feed_str(tt, "HTTP/1.1 100 Continue\r\n\r\n");
  settle(c->r);
  assert_non_null(strstr(output(tt), "\r\n\r\n0123456789abcdef"));
  end(c);

  /* the wait for 100 takes at most half the idle limit: a silent server
   * gets the body before the idle limit could end the request */
  c->opts.headers = NULL;
  c->opts.expect_threshold = 10;
  c->opts.idle_timeout_ms = 1000;
  start(c);
  tt = accept_conn(c);
  nt_test_clock_advance(c->r, 499);
  assert_null(strstr(output(tt), "0123"));
  nt_test_clock_advance(c->r, 1);
  assert_non_null(strstr(output(tt), "\r\n\r\n0123456789abcdef"));
  nt_test_feed_str(tt, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  settle(c->r);
  assert_int_equal(c->status, 0);
  assert_int_equal(c->http_status, 200);
  end(c);
  c->opts.idle_timeout_ms = 0;

  const char *other[] = {"Expect: something-else", NULL};
  c->opts.headers = other;
  assert_int_equal(nt_http_client_new(c->r, NULL, &c->client), 0);
  assert_int_equal(nt_http_request_start(c->client, &c->opts, &cbs, c, NULL),
                   NT_EINVAL);
  nt_http_client_free(c->client);
  nt_http_body_memory_free(body);
  free_ctx(c);
}

/* -H 'Content-Type: multipart/form-data' keeps the form's boundary; a type
 * the form cannot be parsed with is refused. */
static void test_multipart_content_type(void **state) {
  (void)state;
  nt_multipart_t *m;
  assert_int_equal(nt_multipart_new(&m), 0);
  assert_int_equal(nt_multipart_add_field(m, "a", "b", 1), 0);
  ctx_t *c = new_ctx("http://h.test/up");
  c->opts.body = nt_multipart_body(m);
  char want[200];
  snprintf(want, sizeof want,
           "\r\nContent-Type: multipart/form-data; boundary=%s\r\n",
           nt_multipart_boundary(m));
  const char *plain[] = {"Content-Type: multipart/form-data", NULL};
  c->opts.headers = plain;
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  const char *o = output(tt);
  assert_non_null(strstr(o, want));
  assert_null(strstr(strstr(o, "Content-Type") + 1, "Content-Type"));
  end(c);

  char same[200];
  snprintf(same, sizeof same, "Content-Type: multipart/form-data; boundary=%s",
           nt_multipart_boundary(m));
  const char *ok[] = {same, NULL};
  c->opts.headers = ok;
  start(c);
  tt = accept_conn(c);
  assert_non_null(strstr(output(tt), want));
  end(c);

  const char *bad[][2] = {{"Content-Type: text/plain", NULL},
                          {"Content-Type:", NULL},
                          {"Content-Type: multipart/form-data; boundary=x",
                           NULL}};
  assert_int_equal(nt_http_client_new(c->r, NULL, &c->client), 0);
  for (size_t i = 0; i < 3; i++) {
    c->opts.headers = bad[i];
    assert_int_equal(nt_http_request_start(c->client, &c->opts, &cbs, c, NULL),
                     NT_EINVAL);
  }
  nt_http_client_free(c->client);
  nt_multipart_free(m);
  free_ctx(c);
}

static void test_cancel(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/");
  c->cancel_in_body = 1;
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  nt_test_feed_str(tt, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
  nt_test_feed_str(tt, "def");
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ECANCELED);
  assert_string_equal(c->body, "abc");
  assert_true(nt_test_is_lost(tt));
  end(c);

  /* cancelled while connecting */
  c->cancel_in_body = 0;
  start(c);
  nt_http_request_cancel(c->req);
  assert_int_equal(c->done, 0); /* on_done comes from the loop */
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ECANCELED);
  /* the connection that arrives late is refused */
  nt_factory_t *f = c->pending[c->taken++];
  assert_null(f->ops->build_protocol(f, NULL, 0));
  settle(c->r);
  end(c);
  free_ctx(c);
}

static void test_file_changes_during_upload(void **state) {
  (void)state;
  char path[] = "/tmp/nt-http-change-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, 100000), 0);
  close(fd);
  nt_multipart_t *m;
  assert_int_equal(nt_multipart_new(&m), 0);
  assert_int_equal(nt_multipart_add_file(m, "file", path, NULL, NULL), 0);
  ctx_t *c = new_ctx("http://h.test/up");
  c->opts.body = nt_multipart_body(m);
  c->opts.expect_threshold = 1;
  start(c);
  nt_test_transport_t *tt = accept_conn(c);
  assert_int_equal(truncate(path, 50000), 0);
  nt_test_feed_str(tt, "HTTP/1.1 100 Continue\r\n\r\n");
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_EHTTP_FILE_CHANGED);
  assert_non_null(strstr(c->error, "size changed from 100000 to 50000"));
  assert_int_equal(c->progress.body_error, 1);
  end(c);
  nt_multipart_free(m);
  unlink(path);
  free_ctx(c);
}

static void test_bad_options(void **state) {
  (void)state;
  ctx_t *c = new_ctx("http://h.test/");
  assert_int_equal(nt_http_client_new(c->r, NULL, &c->client), 0);
  nt_http_request_options_t o;
  memset(&o, 0, sizeof o);
  o.url = "ftp://h.test/";
  assert_int_equal(nt_http_request_start(c->client, &o, &cbs, c, NULL),
                   NT_EHTTP_SCHEME);
  o.url = "http://h.test/";
  const char *bad[] = {"X: a\r\nY: b", NULL};
  o.headers = bad;
  assert_int_equal(nt_http_request_start(c->client, &o, &cbs, c, NULL),
                   NT_EINVAL);
  o.headers = NULL;
  o.method = "GE T";
  assert_int_equal(nt_http_request_start(c->client, &o, &cbs, c, NULL),
                   NT_EINVAL);
  settle(c->r);
  assert_int_equal(c->done, 0); /* no callback for a refused start */
  nt_http_client_free(c->client);
  free_ctx(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_simple_get),
      cmocka_unit_test(test_chunked_trailers),
      cmocka_unit_test(test_until_close),
      cmocka_unit_test(test_interim_responses),
      cmocka_unit_test(test_statuses),
      cmocka_unit_test(test_head_request),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_header_limit),
      cmocka_unit_test(test_redirect_other_host),
      cmocka_unit_test(test_redirect_307_same_conn),
      cmocka_unit_test(test_redirect_body_replayed),
      cmocka_unit_test(test_redirect_limit),
      cmocka_unit_test(test_expect_continue),
      cmocka_unit_test(test_early_413),
      cmocka_unit_test(test_backpressure),
      cmocka_unit_test(test_chunked_request),
      cmocka_unit_test(test_keep_alive),
      cmocka_unit_test(test_retries),
      cmocka_unit_test(test_timeouts),
      cmocka_unit_test(test_idle_upload_stall),
      cmocka_unit_test(test_idle_retry),
      cmocka_unit_test(test_connect_timeouts),
      cmocka_unit_test(test_tls_truncated_body),
      cmocka_unit_test(test_expect_header),
      cmocka_unit_test(test_multipart_content_type),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_file_changes_during_upload),
      cmocka_unit_test(test_bad_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
