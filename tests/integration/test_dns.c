/* The resolver and the connector against a real dnsmasq (NT_TEST_DNS names
 * it, started by dns.sh): answers and errors through the reactor, many
 * lookups at once, and happy eyeballs falling back to IPv4 when the IPv6
 * address never answers. Runs on both backends. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nettool/resolve.h"
#include "nettool/tcp.h"
#include "nettool/testing.h"

static const char *dns_server;
static const char *const backends[] = {"epoll", "poll"};

static nt_reactor_t *new_reactor(int b) {
  nt_reactor_options_t o = {backends[b], 0};
  nt_reactor_t *r;
  assert_int_equal(nt_reactor_new(&r, &o), 0);
  return r;
}

static nt_resolver_t *new_resolver3(nt_reactor_t *r, const char *servers,
                                    uint64_t timeout_ms, int tries) {
  nt_resolver_options_t o;
  memset(&o, 0, sizeof o);
  o.servers = servers;
  o.timeout_ms = timeout_ms;
  o.tries = tries;
  o.no_hosts_file = 1;
  nt_resolver_t *res;
  assert_int_equal(nt_resolver_new(r, &o, &res), 0);
  return res;
}

static nt_resolver_t *new_resolver(nt_reactor_t *r, const char *servers,
                                   uint64_t timeout_ms) {
  return new_resolver3(r, servers, timeout_ms, 1);
}

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

static void test_answers_and_errors(void **state) {
  (void)state;
  for (int b = 0; b < 2; b++) {
    nt_reactor_t *r = new_reactor(b);
    nt_resolver_t *res = new_resolver(r, dns_server, 2000);
    look_t a = {0}, nx = {0}, nodata = {0}, many = {0}, refused = {0};
    assert_int_equal(nt_resolve(res, "a.test", 80, AF_INET, look_cb, &a, NULL), 0);
    assert_int_equal(nt_resolve(res, "nope.test", 80, 0, look_cb, &nx, NULL), 0);
    assert_int_equal(nt_resolve(res, "v6.test", 80, AF_INET, look_cb, &nodata, NULL), 0);
    assert_int_equal(nt_resolve(res, "many.test", 80, AF_INET, look_cb, &many, NULL), 0);
    assert_int_equal(nt_resolve(res, "example.org", 80, 0, look_cb, &refused, NULL), 0);
    assert_int_equal(a.calls, 0); /* never from inside nt_resolve */
    assert_int_equal(nt_reactor_run(r), 0);
    assert_int_equal(a.status, 0);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.first, "127.0.0.1:80");
    assert_int_equal(nx.status, NT_EDNS_NXDOMAIN);
    assert_int_equal(nodata.status, NT_EDNS_NODATA);
    assert_int_equal(many.status, 0);
    assert_int_equal(many.n, 100);
    assert_int_equal(refused.status, NT_EDNS_REFUSED);
    nt_resolver_free(res);
    assert_int_equal(nt_test_reactor_free(r), 0);
  }
}

/* A server that never answers: the lookup times out through the reactor
 * timer re-armed from ares_timeout(). */
static void test_silent_server_times_out(void **state) {
  (void)state;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sin = {0};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
  socklen_t len = sizeof sin;
  getsockname(s, (struct sockaddr *)&sin, &len);
  char server[64];
  snprintf(server, sizeof server, "127.0.0.1:%d", ntohs(sin.sin_port));
  nt_reactor_t *r = new_reactor(0);
  nt_resolver_t *res = new_resolver(r, server, 300);
  look_t l = {0};
  uint64_t t0 = nt_reactor_now(r);
  assert_int_equal(nt_resolve(res, "a.test", 1, 0, look_cb, &l, NULL), 0);
  assert_int_equal(nt_reactor_run(r), 0);
  nt_reactor_update_time(r);
  assert_int_equal(l.status, NT_EDNS_TIMEOUT);
  assert_true(nt_reactor_now(r) - t0 >= 250);
  assert_true(nt_reactor_now(r) - t0 < 3000);
  nt_resolver_free(res);
  assert_int_equal(nt_test_reactor_free(r), 0);
  close(s);
}

/* Many lookups in flight; the resolver's memory does not keep them. */
static void test_many_concurrent(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor(0);
  /* A burst of 500 UDP queries may lose a datagram: retries are what the
   * tries option is for. */
  nt_resolver_t *res = new_resolver3(r, dns_server, 1000, 3);
  enum { N = 500 };
  look_t *l = calloc(N, sizeof *l);
  for (int i = 0; i < N; i++) {
    char name[32];
    snprintf(name, sizeof name, "n%d.test", i + 1);
    assert_int_equal(nt_resolve(res, name, 1, AF_INET, look_cb, &l[i], NULL), 0);
  }
  assert_int_equal(nt_reactor_run(r), 0);
  for (int i = 0; i < N; i++) {
    assert_int_equal(l[i].status, 0);
    assert_int_equal(l[i].n, 1);
  }
  free(l);
  nt_resolver_free(res);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- happy eyeballs against loopback ------------------------------------------ */

typedef struct {
  nt_protocol_t base;
} proto_t;

typedef struct {
  int built, failed, status;
  char peer[64];
  uint64_t at;
  nt_reactor_t *r;
  nt_listener_t *listener;
} rec_t;

static rec_t rec;

static void p_made(nt_protocol_t *p, nt_transport_t *t) {
  (void)p;
  rec.at = nt_reactor_now(t->reactor);
  nt_transport_lose_connection(t);
}
static void p_destroy(nt_protocol_t *p) { free(p); }
static const nt_protocol_ops_t p_ops = {.connection_made = p_made, .destroy = p_destroy};

static nt_protocol_t *f_build(nt_factory_t *f, const struct sockaddr *peer, socklen_t len) {
  (void)len;
  rec_t *x = f->data;
  x->built++;
  if (peer) nt_addr_format(peer, x->peer, sizeof x->peer);
  proto_t *p = calloc(1, sizeof *p);
  nt_protocol_init(&p->base, &p_ops);
  return &p->base;
}
static void f_failed(nt_factory_t *f, nt_connector_t *c, int status) {
  (void)c;
  rec_t *x = f->data;
  x->failed++;
  x->status = status;
}
static const nt_factory_ops_t f_ops = {
    .build_protocol = f_build,
    .connection_failed = f_failed,
};

static void server_lost(nt_protocol_t *p, int st) {
  (void)p, (void)st;
  nt_listener_close(rec.listener); /* done: let run() return */
  rec.listener = NULL;
}
static const nt_protocol_ops_t s_ops = {.connection_lost = server_lost,
                                        .destroy = p_destroy};
static nt_protocol_t *s_build(nt_factory_t *f, const struct sockaddr *peer, socklen_t len) {
  (void)f, (void)peer, (void)len;
  proto_t *p = calloc(1, sizeof *p);
  nt_protocol_init(&p->base, &s_ops);
  return &p->base;
}
static const nt_factory_ops_t s_fops = {.build_protocol = s_build};

static void test_happy_eyeballs_falls_back(void **state) {
  (void)state;
  for (int b = 0; b < 2; b++) {
    memset(&rec, 0, sizeof rec);
    nt_reactor_t *r = new_reactor(b);
    /* IPv4: a real server. */
    nt_factory_t sf = {&s_fops, NULL};
    assert_int_equal(nt_tcp_listen(r, "127.0.0.1", 0, &sf, NULL, &rec.listener), 0);
    int port = nt_listener_port(rec.listener);
    /* IPv6, same port: a listener whose accept queue is full, so further
     * SYNs are dropped and the connect hangs. */
    int l6 = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 s6 = {0};
    s6.sin6_family = AF_INET6;
    s6.sin6_addr = in6addr_loopback;
    s6.sin6_port = htons((uint16_t)port);
    int one = 1;
    setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(l6, (struct sockaddr *)&s6, sizeof s6) != 0) {
      close(l6);
      nt_listener_close(rec.listener);
      assert_int_equal(nt_test_reactor_free(r), 0);
      skip(); /* port taken on ::1 by someone else: rare, not our failure */
    }
    assert_int_equal(listen(l6, 0), 0);
    int fill[4];
    for (int i = 0; i < 4; i++) {
      fill[i] = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
      connect(fill[i], (struct sockaddr *)&s6, sizeof s6);
    }
    usleep(50 * 1000);

    nt_resolver_t *res = new_resolver(r, dns_server, 2000);
    nt_factory_t cf = {&f_ops, &rec};
    nt_tcp_connect_options_t o;
    memset(&o, 0, sizeof o);
    o.resolver = res;
    o.timeout_ms = 5000;
    uint64_t t0 = nt_reactor_now(r);
    assert_int_equal(nt_tcp_connect(r, "he.test", port, &cf, &o, NULL), 0);
    assert_int_equal(nt_reactor_run(r), 0);
    assert_int_equal(rec.failed, 0);
    assert_int_equal(rec.built, 1);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    assert_string_equal(rec.peer, want);
    print_message("backend %s: connected to %s after %llu ms\n", backends[b],
                  rec.peer, (unsigned long long)(rec.at - t0));
    assert_true(rec.at - t0 >= 250); /* IPv6 went first and got 250 ms */
    assert_true(rec.at - t0 < 2000);
    for (int i = 0; i < 4; i++) close(fill[i]);
    close(l6);
    nt_resolver_free(res);
    if (rec.listener) nt_listener_close(rec.listener);
    assert_int_equal(nt_test_reactor_free(r), 0);
  }
}

/* All addresses refuse: the failure names the last error. */
static void test_refused_everywhere(void **state) {
  (void)state;
  memset(&rec, 0, sizeof rec);
  nt_reactor_t *r = new_reactor(0);
  /* a port nobody listens on, on both families */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sin = {0};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, (struct sockaddr *)&sin, sizeof sin);
  socklen_t len = sizeof sin;
  getsockname(s, (struct sockaddr *)&sin, &len);
  int port = ntohs(sin.sin_port);
  close(s);
  nt_resolver_t *res = new_resolver(r, dns_server, 2000);
  nt_factory_t cf = {&f_ops, &rec};
  nt_tcp_connect_options_t o;
  memset(&o, 0, sizeof o);
  o.resolver = res;
  assert_int_equal(nt_tcp_connect(r, "dual.test", port, &cf, &o, NULL), 0);
  assert_int_equal(nt_reactor_run(r), 0);
  assert_int_equal(rec.failed, 1);
  assert_int_equal(rec.status, NT_ECONNREFUSED);
  look_t dummy = {0};
  (void)dummy;
  /* and an unknown name fails with the resolver's reason */
  memset(&rec, 0, sizeof rec);
  assert_int_equal(nt_tcp_connect(r, "nope.test", port, &cf, &o, NULL), 0);
  assert_int_equal(nt_reactor_run(r), 0);
  assert_int_equal(rec.failed, 1);
  assert_int_equal(rec.status, NT_EDNS_NXDOMAIN);
  nt_resolver_free(res);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

int main(void) {
  dns_server = getenv("NT_TEST_DNS");
  if (!dns_server) {
    fprintf(stderr, "NT_TEST_DNS not set: run through dns.sh\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_answers_and_errors),
      cmocka_unit_test(test_silent_server_times_out),
      cmocka_unit_test(test_many_concurrent),
      cmocka_unit_test(test_happy_eyeballs_falls_back),
      cmocka_unit_test(test_refused_everywhere),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
