/* The connector's race (RFC 8305) on the virtual clock, with scripted
 * connection attempts in place of sockets: which address goes first, when
 * the next one starts, who wins, what failure is reported. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nettool/resolve.h"
#include "nettool/tcp.h"
#include "nettool/testing.h"
#include "tcp-int.h"

#include "test_fake_attempts.h"

static nt_reactor_t *R;

/* --- a recording factory --------------------------------------------------------- */

typedef struct {
  nt_protocol_t base;
} proto_t;

typedef struct {
  int built, failed, started;
  int status;
  char peer[64];
  nt_connector_t *connector;
  nt_transport_t *transport; /* the winner's, until connection_lost */
} rec_t;

static rec_t rec;

static void p_made(nt_protocol_t *p, nt_transport_t *t) {
  (void)p;
  rec.transport = t;
}
static void p_lost(nt_protocol_t *p, int status) {
  (void)p, (void)status;
  rec.transport = NULL;
}
static void p_destroy(nt_protocol_t *p) { free(p); }
static const nt_protocol_ops_t p_ops = {
    .connection_made = p_made, .connection_lost = p_lost, .destroy = p_destroy};

/* The test owns the connection that won: it closes it before teardown. */
static void close_winner(void) {
  assert_non_null(rec.transport);
  nt_transport_abort(rec.transport);
  nt_test_run_pending(R);
  assert_null(rec.transport);
}

static nt_protocol_t *f_build(nt_factory_t *f, const struct sockaddr *peer,
                              socklen_t len) {
  (void)f, (void)len;
  rec.built++;
  nt_addr_format(peer, rec.peer, sizeof rec.peer);
  proto_t *p = calloc(1, sizeof *p);
  nt_protocol_init(&p->base, &p_ops);
  return &p->base;
}
static void f_started(nt_factory_t *f, nt_connector_t *c) {
  (void)f;
  rec.started++;
  rec.connector = c;
}
static void f_failed(nt_factory_t *f, nt_connector_t *c, int status) {
  (void)f, (void)c;
  rec.failed++;
  rec.status = status;
}
static const nt_factory_ops_t f_ops = {
    .build_protocol = f_build,
    .started_connecting = f_started,
    .connection_failed = f_failed,
};
static nt_factory_t factory = {&f_ops, NULL};

static void addr(nt_address_t *a, const char *ip) {
  assert_int_equal(nt_addr_parse(ip, 21, &a->addr, &a->len), 0);
}

static int setup(void **state) {
  (void)state;
  memset(&rec, 0, sizeof rec);
  fake_attempts_reset(1);
  return nt_test_reactor_new(&R);
}

/* Each test ends with nothing live: no attempt, timer or connection. */
static int teardown(void **state) {
  (void)state;
  fake_attempts_reset(0);
  assert_int_equal(nt_test_reactor_free(R), 0);
  return 0;
}

static void connect_to(const char *const *ips, size_t n, uint64_t timeout) {
  nt_address_t a[8];
  for (size_t i = 0; i < n; i++) addr(&a[i], ips[i]);
  nt_tcp_connect_options_t o;
  memset(&o, 0, sizeof o);
  o.timeout_ms = timeout;
  assert_int_equal(nt_tcp_connect_addrs(R, a, n, &factory, &o, NULL), 0);
  assert_int_equal(rec.started, 1);
}

/* First address hangs; the second starts 250 ms later and wins. */
static void test_first_hangs_second_wins(void **state) {
  (void)state;
  const char *ips[] = {"2001:db8::1", "192.0.2.1"};
  connect_to(ips, 2, 0);
  assert_int_equal(nfakes, 1);
  assert_string_equal(fakes[0].addr, "[2001:db8::1]:21");
  nt_test_clock_advance(R, 249);
  assert_int_equal(nfakes, 1);
  nt_test_clock_advance(R, 1);
  assert_int_equal(nfakes, 2);
  assert_string_equal(fakes[1].addr, "192.0.2.1:21");
  assert_int_equal(fakes[1].started_at, 250);
  nt_test_clock_advance(R, 50);
  fake_finish(1, 0);
  assert_int_equal(rec.built, 1);
  assert_string_equal(rec.peer, "192.0.2.1:21");
  assert_true(fakes[0].cancelled); /* the loser is closed */
  nt_test_clock_advance(R, 60000);
  assert_int_equal(rec.failed, 0);
  close_winner();
}

/* A failure starts the next attempt at once; all failing reports the last
 * error. */
static void test_all_refuse(void **state) {
  (void)state;
  const char *ips[] = {"::1", "127.0.0.1", "127.0.0.2"};
  connect_to(ips, 3, 0);
  nt_test_clock_advance(R, 10);
  fake_finish(0, NT_ECONNREFUSED);
  assert_int_equal(nfakes, 2);
  assert_int_equal(fakes[1].started_at, 10);
  nt_test_clock_advance(R, 10);
  fake_finish(1, NT_ENETUNREACH);
  assert_int_equal(nfakes, 3);
  fake_finish(2, NT_ECONNREFUSED);
  assert_int_equal(rec.failed, 0); /* reported from the loop */
  nt_test_run_pending(R);
  assert_int_equal(rec.failed, 1);
  assert_int_equal(rec.status, NT_ECONNREFUSED);
  assert_int_equal(rec.built, 0);
}

/* Every attempt hangs: the total timeout ends it, closing them all. */
static void test_timeout(void **state) {
  (void)state;
  const char *ips[] = {"2001:db8::1", "192.0.2.1", "192.0.2.2"};
  connect_to(ips, 3, 1000);
  nt_test_clock_advance(R, 999);
  assert_int_equal(nfakes, 3); /* 0, 250, 500 */
  assert_int_equal(fakes[2].started_at, 500);
  assert_int_equal(rec.failed, 0);
  nt_test_clock_advance(R, 1);
  assert_int_equal(rec.failed, 1);
  assert_int_equal(rec.status, NT_ETIMEDOUT);
  for (int i = 0; i < 3; i++) assert_true(fakes[i].cancelled);
}

static void test_cancel(void **state) {
  (void)state;
  const char *ips[] = {"192.0.2.1"};
  connect_to(ips, 1, 0);
  nt_connector_cancel(rec.connector);
  assert_int_equal(rec.failed, 0);
  nt_test_run_pending(R);
  assert_int_equal(rec.failed, 1);
  assert_int_equal(rec.status, NT_ECANCELED);
  assert_true(fakes[0].cancelled);
}

/* RFC 8305 section 4: families alternate, each keeping its own order. */
static void test_interleaving(void **state) {
  (void)state;
  const char *ips[] = {"2001:db8::1", "2001:db8::2", "2001:db8::3",
                       "192.0.2.1", "192.0.2.2"};
  connect_to(ips, 5, 0);
  nt_test_clock_advance(R, 1000);
  assert_int_equal(nfakes, 5);
  const char *want[] = {"[2001:db8::1]:21", "192.0.2.1:21", "[2001:db8::2]:21",
                        "192.0.2.2:21", "[2001:db8::3]:21"};
  for (int i = 0; i < 5; i++) assert_string_equal(fakes[i].addr, want[i]);
  fake_finish(4, 0);
  assert_int_equal(rec.built, 1);
  for (int i = 0; i < 4; i++) assert_true(fakes[i].cancelled);
  close_winner();
}

/* A numeric host skips DNS entirely. */
static void test_numeric_host_skips_dns(void **state) {
  (void)state;
  assert_int_equal(nt_tcp_connect(R, "192.0.2.7", 80, &factory, NULL, NULL), 0);
  assert_int_equal(nfakes, 1);
  assert_string_equal(fakes[0].addr, "192.0.2.7:80");
  fake_finish(0, 0);
  assert_int_equal(rec.built, 1);
  close_winner();
}

/* Bad input is refused before anything is sent, with no callback. */
static void test_bad_input(void **state) {
  (void)state;
  char longlabel[80], longname[300];
  memset(longlabel, 'a', 64);
  strcpy(longlabel + 64, ".test");
  for (int i = 0; i < 299; i++) longname[i] = (i % 10 == 9) ? '.' : 'b';
  longname[299] = 0;
  const char *why;
  assert_int_equal(nt_tcp_connect(R, "", 80, &factory, NULL, NULL), NT_EDNS_BADNAME);
  assert_int_equal(nt_tcp_connect(R, longlabel, 80, &factory, NULL, NULL), NT_EDNS_BADNAME);
  assert_int_equal(nt_hostname_check(longlabel, &why), NT_EDNS_BADNAME);
  assert_string_equal(why, "label longer than 63 bytes");
  assert_int_equal(nt_hostname_check(longname, &why), NT_EDNS_BADNAME);
  assert_string_equal(why, "name longer than 253 bytes");
  assert_int_equal(nt_hostname_check("a..b", &why), NT_EDNS_BADNAME);
  assert_string_equal(why, "empty label");
  assert_int_equal(nt_hostname_check("bad host", &why), NT_EDNS_BADNAME);
  assert_int_equal(nt_hostname_check("ftp.example.org.", &why), 0);
  assert_int_equal(nt_tcp_connect(R, "example.org", 0, &factory, NULL, NULL), NT_EBADPORT);
  assert_int_equal(nt_tcp_connect(R, "example.org", 65536, &factory, NULL, NULL), NT_EBADPORT);
  assert_int_equal(nfakes, 0);
  assert_int_equal(rec.started, 0);
  nt_test_run_pending(R);
  assert_int_equal(rec.failed, 0);
  /* the resolver's own checks, and error names */
  nt_resolver_t *res;
  assert_int_equal(nt_resolver_new(R, NULL, &res), 0);
  assert_int_equal(nt_resolve(res, "", 1, AF_UNSPEC, NULL, NULL, NULL), NT_EDNS_BADNAME);
  assert_int_equal(nt_resolve(res, "x.test", 70000, AF_UNSPEC, NULL, NULL, NULL), NT_EBADPORT);
  nt_resolver_free(res);
  assert_string_equal(nt_strerror(NT_EDNS_NXDOMAIN), "name does not exist");
  assert_string_equal(nt_err_name(NT_EDNS_TIMEOUT), "EDNS_TIMEOUT");
}

/* A numeric lookup answers from the loop, with the port set. */
typedef struct {
  int calls, status;
  size_t n;
  char first[64];
} look_t;

static void look_cb(void *arg, int status, const nt_address_t *a, size_t n) {
  look_t *l = arg;
  l->calls++;
  l->status = status;
  l->n = n;
  if (n) nt_addr_format((const struct sockaddr *)&a[0].addr, l->first, sizeof l->first);
}

static void test_numeric_lookup_and_cancel(void **state) {
  (void)state;
  nt_resolver_t *res;
  assert_int_equal(nt_resolver_new(R, NULL, &res), 0);
  look_t l = {0}, m = {0}, k = {0};
  assert_int_equal(nt_resolve(res, "::1", 119, AF_UNSPEC, look_cb, &l, NULL), 0);
  assert_int_equal(l.calls, 0);
  nt_resolve_t *q;
  assert_int_equal(nt_resolve(res, "10.0.0.1", 1, AF_INET6, look_cb, &m, NULL), 0);
  assert_int_equal(nt_resolve(res, "10.0.0.2", 1, AF_UNSPEC, look_cb, &k, &q), 0);
  nt_resolve_cancel(q);
  nt_test_run_pending(R);
  assert_int_equal(l.calls, 1);
  assert_int_equal(l.status, 0);
  assert_int_equal(l.n, 1);
  assert_string_equal(l.first, "[::1]:119");
  assert_int_equal(m.status, NT_EDNS_NODATA); /* an IPv4 literal, v6 asked */
  assert_int_equal(k.calls, 1);
  assert_int_equal(k.status, NT_ECANCELED);
  nt_resolver_free(res);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_first_hangs_second_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(test_all_refuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_interleaving, setup, teardown),
      cmocka_unit_test_setup_teardown(test_numeric_host_skips_dns, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_numeric_lookup_and_cancel, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
