/* What docs/API.md promises that only the .c files used to tell, checked on
 * the test reactor: nt_http_request_start copies the URL, headers and
 * credentials; its out pointer may be NULL; the client and the body may be
 * freed inside on_done; a client left alive keeps the reactor alive for its
 * keep-alive time (30 s by default) and no longer; a resolver may be freed
 * inside its own lookup callback; init functions reset ->data. The HTTP
 * connections come from the client's connect hook onto in-memory
 * transports, as in test_http_client.c; the test plays the server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <nettool/http.h>
#include <nettool/resolve.h>
#include <nettool/testing.h>
#include <nettool/timestamp.h>

#include "http-int.h"

#define OK_RESPONSE "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

typedef struct {
  nt_reactor_t *r;
  nt_http_client_t *client;
  nt_multipart_t *form;
  nt_factory_t *pending;
  int dials;
  int done, status, http_status;
  int free_in_done; /* on_done frees the client and the form */
} ctx_t;

static int hook(void *arg, nt_reactor_t *r, const char *host, int port,
                int https, nt_factory_t *f) {
  (void)r, (void)host, (void)port, (void)https;
  ctx_t *c = arg;
  c->pending = f;
  c->dials++;
  return 0;
}

static void on_response(nt_http_request_t *q, const nt_http_response_t *resp,
                        void *arg) {
  (void)q;
  ((ctx_t *)arg)->http_status = resp->status;
}

static void on_done(nt_http_request_t *q, int status, void *arg) {
  (void)q;
  ctx_t *c = arg;
  c->done++;
  c->status = status;
  if (c->free_in_done) {
    nt_http_client_free(c->client);
    c->client = NULL;
    nt_multipart_free(c->form);
    c->form = NULL;
  }
}

static const nt_http_callbacks_t cbs = {.on_response = on_response,
                                        .on_done = on_done};

static void settle(nt_reactor_t *r) { nt_test_clock_advance(r, 0); }

static void new_ctx(ctx_t *c) {
  memset(c, 0, sizeof *c);
  assert_int_equal(nt_test_reactor_new(&c->r), 0);
  assert_int_equal(nt_http_client_new(c->r, NULL, &c->client), 0);
  nt__http_client_set_connect_hook(c->client, hook, c);
}

/* The dialled connection, on an in-memory transport. */
static nt_test_transport_t *accept_conn(ctx_t *c) {
  settle(c->r);
  assert_int_equal(c->dials, 1);
  nt_protocol_t *p = c->pending->ops->build_protocol(c->pending, NULL, 0);
  assert_non_null(p);
  nt_test_transport_t *tt = nt_test_transport_new(c->r, p);
  settle(c->r);
  return tt;
}

/* --- nt_http_request_start copies its arguments ---------------------------- */

static void test_request_copies_url_headers_credentials(void **state) {
  (void)state;
  ctx_t c;
  new_ctx(&c);
  char url[64], user[16], password[16];
  snprintf(url, sizeof url, "http://example.test/path?q=1");
  snprintf(user, sizeof user, "alice");
  snprintf(password, sizeof password, "secret");
  char *h1 = strdup("X-One: first"), *h2 = strdup("X-Two: second");
  const char *headers[] = {h1, h2, NULL};
  nt_http_request_options_t *o = calloc(1, sizeof *o);
  o->url = url;
  o->headers = headers;
  o->user = user;
  o->password = password;
  nt_http_callbacks_t *cb = malloc(sizeof *cb);
  *cb = cbs;
  assert_int_equal(nt_http_request_start(c.client, o, cb, &c, NULL), 0);
  /* Everything given is gone or changed before the request is sent. */
  memset(url, 'X', sizeof url - 1);
  memset(user, 'Y', sizeof user - 1);
  memset(password, 'Z', sizeof password - 1);
  memset(h1, 'W', strlen(h1));
  free(h1);
  free(h2);
  free(o);
  free(cb); /* the callbacks struct is copied too */

  nt_test_transport_t *tt = accept_conn(&c);
  const char *sent = nt_test_output(tt, NULL);
  assert_int_equal(strncmp(sent, "GET /path?q=1 HTTP/1.1\r\n", 24), 0);
  assert_non_null(strstr(sent, "\r\nHost: example.test\r\n"));
  assert_non_null(strstr(sent, "\r\nX-One: first\r\n"));
  assert_non_null(strstr(sent, "\r\nX-Two: second\r\n"));
  /* base64("alice:secret") */
  assert_non_null(strstr(sent, "\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n"));
  nt_test_feed_str(tt, OK_RESPONSE);
  settle(c.r);
  assert_int_equal(c.done, 1);
  assert_int_equal(c.status, 0);
  assert_int_equal(c.http_status, 200);
  nt_http_client_free(c.client);
  settle(c.r);
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(c.r), 0);
}

/* --- freeing the client and the body inside on_done --------------------------- */

static void test_free_client_and_body_in_on_done(void **state) {
  (void)state;
  ctx_t c;
  new_ctx(&c);
  char path[] = "/tmp/nt-embed-api-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "file contents\n", 14), 14);
  close(fd);
  assert_int_equal(nt_multipart_new(&c.form), 0);
  assert_int_equal(nt_multipart_add_field(c.form, "k", "v", 1), 0);
  assert_int_equal(nt_multipart_add_file(c.form, "f", path, "a.txt", NULL), 0);
  unlink(path); /* open since add_file */
  nt_http_request_options_t o;
  memset(&o, 0, sizeof o);
  o.url = "http://127.0.0.1:8080/upload";
  o.body = nt_multipart_body(c.form);
  assert_non_null(o.body);
  c.free_in_done = 1;
  assert_int_equal(nt_http_request_start(c.client, &o, &cbs, &c, NULL), 0);
  nt_test_transport_t *tt = accept_conn(&c);
  size_t n = 0, before;
  const char *sent;
  do { /* the body pump moves a piece per turn */
    before = n;
    nt_test_drain(tt, 0); /* file segments go when the "socket" drains */
    settle(c.r);
    sent = nt_test_output(tt, &n);
  } while (n != before);
  if (!strstr(sent, "file contents\n")) fail_msg("sent %zu: %s", n, sent);
  assert_non_null(strstr(sent, "name=\"k\"\r\n\r\nv\r\n"));
  nt_test_feed_str(tt, OK_RESPONSE); /* keep-alive: the connection is idle */
  settle(c.r);
  assert_int_equal(c.done, 1);
  assert_int_equal(c.status, 0);
  assert_null(c.client);
  assert_null(c.form);
  /* The client took its idle connection with it: nothing keeps the loop. */
  assert_true(nt_transport_is_closing(nt_test_transport_base(tt)));
  assert_false(nt_reactor_alive(c.r));
  nt_test_transport_free(tt);
  assert_int_equal(nt_test_reactor_free(c.r), 0);
}

/* --- a client left alive keeps the reactor alive for its keep-alive time ---- */

static void test_idle_client_keeps_reactor_30s(void **state) {
  (void)state;
  ctx_t c;
  new_ctx(&c);
  nt_http_request_options_t o;
  memset(&o, 0, sizeof o);
  o.url = "http://127.0.0.1:8080/";
  assert_int_equal(nt_http_request_start(c.client, &o, &cbs, &c, NULL), 0);
  nt_test_transport_t *tt = accept_conn(&c);
  nt_test_feed_str(tt, OK_RESPONSE);
  settle(c.r);
  assert_int_equal(c.done, 1);
  /* run() would go on: the idle connection's timer is referenced. */
  nt_reactor_live_t live;
  assert_true(nt_reactor_alive(c.r));
  nt_reactor_live(c.r, &live);
  assert_int_equal(live.timers, 1);
  nt_test_clock_advance(c.r, 29999);
  assert_true(nt_reactor_alive(c.r));
  assert_false(nt_transport_is_closing(nt_test_transport_base(tt)));
  nt_test_clock_advance(c.r, 1); /* 30 s: the default idle_keep_ms */
  assert_true(nt_transport_is_closing(nt_test_transport_base(tt)));
  nt_test_transport_free(tt);
  settle(c.r);
  assert_false(nt_reactor_alive(c.r)); /* the client itself holds nothing */
  nt_http_client_free(c.client);
  assert_int_equal(nt_test_reactor_free(c.r), 0);
}

/* --- freeing a resolver inside its lookup callback ----------------------------- */

typedef struct {
  nt_resolver_t *res;
  int calls, first_status, second_status;
  char first_addr[64];
} rctx_t;

static void first_cb(void *arg, int status, const nt_address_t *a, size_t n) {
  rctx_t *c = arg;
  c->calls++;
  c->first_status = status;
  if (!status && n) nt_addr_format((const struct sockaddr *)&a[0].addr, c->first_addr, sizeof c->first_addr);
  nt_resolver_free(c->res); /* inside its own callback */
  c->res = NULL;
}

static void second_cb(void *arg, int status, const nt_address_t *a, size_t n) {
  (void)a, (void)n;
  rctx_t *c = arg;
  c->calls++;
  c->second_status = status;
}

static void test_free_resolver_in_callback(void **state) {
  (void)state;
  nt_reactor_t *r;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  rctx_t c = {0};
  /* A server nothing listens on: only the numeric answers can come. */
  nt_resolver_options_t ro = {.servers = "127.0.0.1:9", .no_hosts_file = 1};
  assert_int_equal(nt_resolver_new(r, &ro, &c.res), 0);
  char name[16];
  snprintf(name, sizeof name, "127.0.0.1");
  assert_int_equal(nt_resolve(c.res, name, 80, AF_UNSPEC, first_cb, &c, NULL), 0);
  memset(name, 0, sizeof name); /* the name is copied */
  assert_int_equal(nt_resolve(c.res, "::1", 80, AF_UNSPEC, second_cb, &c, NULL), 0);
  assert_int_equal(c.calls, 0); /* callbacks come from the loop */
  settle(r);
  assert_int_equal(c.calls, 2);
  assert_int_equal(c.first_status, 0);
  assert_string_equal(c.first_addr, "127.0.0.1:80");
  /* The second was answered before the free: delivered, not cancelled. */
  assert_int_equal(c.second_status, 0);
  assert_null(c.res);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- init functions reset ->data ------------------------------------------------- */

static void test_init_resets_data(void **state) {
  (void)state;
  nt_reactor_t *r;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  int mine;
  nt_timer_t t;
  t.data = &mine;
  nt_timer_init(r, &t, NULL);
  assert_null(t.data);
  nt_io_t io;
  io.data = &mine;
  nt_io_init(r, &io, -1, NULL);
  assert_null(io.data);
  nt_factory_t f;
  f.data = &mine;
  nt_ts_server_factory_init(&f);
  assert_null(f.data);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_copies_url_headers_credentials),
      cmocka_unit_test(test_free_client_and_body_in_on_done),
      cmocka_unit_test(test_idle_client_keeps_reactor_30s),
      cmocka_unit_test(test_free_resolver_in_callback),
      cmocka_unit_test(test_init_resets_data),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
