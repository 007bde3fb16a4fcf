/* Integration tests for UDP: real datagram sockets on 127.0.0.1 and ::1, real
 * reactors, every case on both backends (epoll and poll). Every wait is
 * bounded (see run_until). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nettool/errno.h"
#include "nettool/reactor.h"
#include "nettool/tcp.h"
#include "nettool/testing.h"
#include "nettool/timestamp.h"
#include "nettool/transport.h"
#include "nettool/udp.h"

#include "itest_backends.h"

static int ipv6_available(void) {
  int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* --- bounded running ------------------------------------------------------ */

typedef int (*cond_fn)(void *arg);

typedef struct {
  nt_timer_t t;
  uint64_t deadline;
  cond_fn cond;
  void *arg;
  int timed_out;
} waiter_t;

static void waiter_cb(nt_timer_t *t) {
  waiter_t *w = t->data;
  if ((w->cond && w->cond(w->arg)) || mono_ms() >= w->deadline) {
    if (!(w->cond && w->cond(w->arg))) w->timed_out = 1;
    nt_reactor_stop(t->reactor);
  }
}

/* Runs until cond(arg) (NULL: until run() returns by itself), at most ms. */
static int run_until(nt_reactor_t *r, cond_fn cond, void *arg, uint64_t ms) {
  if (cond && cond(arg)) return 1;
  waiter_t w;
  memset(&w, 0, sizeof w);
  w.deadline = mono_ms() + ms;
  w.cond = cond;
  w.arg = arg;
  nt_reactor_update_time(r);
  nt_timer_init(r, &w.t, waiter_cb);
  w.t.data = &w;
  nt_timer_unref(&w.t);
  assert_status(nt_timer_start(&w.t, 2, 2), 0);
  int rc = nt_reactor_run(r);
  nt_timer_stop(&w.t);
  assert_status(rc, 0);
  return cond ? cond(arg) : !w.timed_out;
}

/* --- the recording datagram protocol -------------------------------------- */

#define MAXD 16

typedef struct dpeer {
  nt_datagram_protocol_t base;
  nt_udp_t *u;
  int made, lost, destroyed, lost_status;
  int seq, lost_seq, destroy_seq; /* callback order */
  int errors, last_error;
  int n; /* datagrams received */
  char *data[MAXD];
  size_t len[MAXD];
  struct sockaddr_storage from[MAXD];
  socklen_t fromlen[MAXD];
  int echo;    /* send each datagram back to its sender */
  int in_call; /* inside an API call that must not call back */
  int violations;
  char why[200];
} dpeer_t;

static void dviolate(dpeer_t *p, const char *what, int code) {
  if (p->violations++) return;
  snprintf(p->why, sizeof p->why, "%s (%s)", what, nt_err_name(code));
}

static void d_made(nt_datagram_protocol_t *bp, nt_udp_t *u) {
  dpeer_t *p = (dpeer_t *)bp;
  if (p->made) dviolate(p, "connection_made twice", 0);
  if (bp->udp != u) dviolate(p, "p->udp not set at connection_made", 0);
  p->made = 1;
  p->u = u;
  p->seq++;
}

static void d_datagram(nt_datagram_protocol_t *bp, const char *data, size_t len,
                       const struct sockaddr *from, socklen_t fromlen) {
  dpeer_t *p = (dpeer_t *)bp;
  if (!p->made || p->lost) dviolate(p, "datagram outside made..lost", 0);
  if (p->n < MAXD) {
    p->data[p->n] = malloc(len + 1);
    assert_non_null(p->data[p->n]);
    memcpy(p->data[p->n], data, len);
    p->data[p->n][len] = 0;
    p->len[p->n] = len;
    assert_true(fromlen <= sizeof p->from[0]);
    memcpy(&p->from[p->n], from, fromlen);
    p->fromlen[p->n] = fromlen;
  }
  p->n++;
  p->seq++;
  if (p->echo) {
    int rc = nt_udp_sendto(p->u, data, len, from, fromlen);
    if (rc) dviolate(p, "echo sendto", rc);
  }
}

static void d_error(nt_datagram_protocol_t *bp, int err) {
  dpeer_t *p = (dpeer_t *)bp;
  if (p->in_call) dviolate(p, "error_received inside an API call", err);
  p->errors++;
  p->last_error = err;
  p->seq++;
}

static void d_lost(nt_datagram_protocol_t *bp, int status) {
  dpeer_t *p = (dpeer_t *)bp;
  if (p->lost) dviolate(p, "connection_lost twice", status);
  if (p->in_call) dviolate(p, "connection_lost inside nt_udp_close", status);
  if (p->destroyed) dviolate(p, "connection_lost after destroy", status);
  p->lost = 1;
  p->lost_status = status;
  p->lost_seq = ++p->seq;
}

static void d_destroy(nt_datagram_protocol_t *bp) {
  dpeer_t *p = (dpeer_t *)bp;
  if (!p->lost) dviolate(p, "destroy before connection_lost", 0);
  if (p->destroyed) dviolate(p, "destroy twice", 0);
  if (p->in_call) dviolate(p, "destroy inside nt_udp_close", 0);
  p->destroyed = 1;
  p->destroy_seq = ++p->seq;
}

static const nt_datagram_protocol_ops_t dpeer_ops = {
    d_made, d_datagram, d_error, d_lost, d_destroy};

static void dpeer_init(dpeer_t *p) {
  memset(p, 0, sizeof *p);
  p->base.ops = &dpeer_ops;
}

static void dpeer_free(dpeer_t *p) {
  if (p->violations)
    fail_msg("datagram protocol contract violated: %s [backend %s]", p->why,
             g_backend);
  for (int i = 0; i < p->n && i < MAXD; i++) free(p->data[i]);
}

static void bind_peer(nt_reactor_t *r, dpeer_t *p, const char *addr) {
  nt_udp_t *u = NULL;
  p->in_call = 1;
  assert_status(nt_udp_bind(r, addr, 0, &p->base, NULL, &u), 0);
  p->in_call = 0;
  assert_non_null(u);
  assert_true(p->made); /* before nt_udp_bind returns */
  assert_ptr_equal(p->u, u);
  assert_ptr_equal(nt_udp_reactor(u), r);
  int port = nt_udp_port(u);
  assert_true(port > 0 && port < 65536);
}

static void close_peer(dpeer_t *p) {
  p->in_call = 1;
  nt_udp_close(p->u);
  p->in_call = 0;
}

static int d_gone(void *arg) { return ((dpeer_t *)arg)->destroyed; }

/* Closes a peer and checks lost(0) then destroy, both from the loop. */
static void close_and_check(nt_reactor_t *r, dpeer_t *p) {
  close_peer(p);
  assert_false(p->lost);
  assert_false(p->destroyed);
  assert_true(run_until(r, d_gone, p, 2000));
  assert_status(p->lost_status, 0);
  assert_true(p->lost_seq < p->destroy_seq);
}

/* Ends a test: runs what is left (a close finishing), at most 2 s; the test
 * closed every endpoint and client, so then nothing may be live. */
static void finish(nt_reactor_t *r) {
  run_until(r, NULL, NULL, 2000); /* what keeps it running is reported next */
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- binding -------------------------------------------------------------- */

static void bind_on(const char *addr, int family) {
  nt_reactor_t *r = reactor_new();
  dpeer_t p;
  dpeer_init(&p);
  bind_peer(r, &p, addr);
  struct sockaddr_storage ss;
  socklen_t len;
  assert_status(nt_udp_local_address(p.u, &ss, &len), 0);
  assert_int_equal(ss.ss_family, family);
  char buf[NT_ADDRSTRLEN], want[NT_ADDRSTRLEN];
  snprintf(want, sizeof want, family == AF_INET ? "127.0.0.1:%d" : "[::1]:%d",
           nt_udp_port(p.u));
  assert_string_equal(nt_addr_format((struct sockaddr *)&ss, buf, sizeof buf),
                      want);
  /* An open endpoint keeps the reactor alive; closing it ends run(). */
  assert_false(run_until(r, d_gone, &p, 100));
  close_and_check(r, &p);
  uint64_t t0 = mono_ms();
  assert_true(run_until(r, NULL, NULL, 2000));
  assert_true(mono_ms() - t0 < 1000);
  dpeer_free(&p);
  finish(r);
}

static void test_bind_ipv4(void **state) {
  (void)state;
  bind_on("127.0.0.1", AF_INET);
}

static void test_bind_ipv6(void **state) {
  (void)state;
  if (!ipv6_available()) {
    print_message("ipv6 loopback unavailable: skipping\n");
    skip();
  }
  bind_on("::1", AF_INET6);
}

static void test_bind_errors(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  dpeer_t p, q;
  dpeer_init(&p);
  dpeer_init(&q);
  nt_udp_t *u = NULL;
  assert_status(nt_udp_bind(r, "not an ip", 0, &p.base, NULL, &u), NT_EBADADDR);
  assert_status(nt_udp_bind(r, "127.0.0.1", 70000, &p.base, NULL, &u),
                NT_EBADPORT);
  assert_status(nt_udp_bind(r, "127.0.0.1", -1, &p.base, NULL, &u),
                NT_EBADPORT);
  assert_null(u);
  assert_false(p.made); /* no callback on a failed bind */
  bind_peer(r, &p, "127.0.0.1");
  int port = nt_udp_port(p.u);
  assert_status(nt_udp_bind(r, "127.0.0.1", port, &q.base, NULL, &u),
                NT_EADDRINUSE);
  assert_null(u);
  assert_false(q.made);
  assert_status(nt_udp_connect(p.u, "127.0.0.1", 0), NT_EBADPORT);
  assert_status(nt_udp_connect(p.u, "127.0.0.1", 65536), NT_EBADPORT);
  assert_status(nt_udp_connect(p.u, "no such host", 9), NT_EBADADDR);
  close_and_check(r, &p);
  dpeer_free(&p);
  dpeer_free(&q);
  finish(r);
}

static void test_reuseport(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  dpeer_t a, b;
  dpeer_init(&a);
  dpeer_init(&b);
  nt_udp_options_t o = {.reuseport = 1};
  nt_udp_t *ua = NULL, *ub = NULL;
  assert_status(nt_udp_bind(r, "127.0.0.1", 0, &a.base, &o, &ua), 0);
  assert_status(nt_udp_bind(r, "127.0.0.1", nt_udp_port(ua), &b.base, &o, &ub),
                0);
  assert_int_equal(nt_udp_port(ua), nt_udp_port(ub));
  close_and_check(r, &a);
  close_and_check(r, &b);
  dpeer_free(&a);
  dpeer_free(&b);
  finish(r);
}

/* --- datagram echo -------------------------------------------------------- */

typedef struct {
  dpeer_t *cli;
  int want;
} want_t;

static int got_all(void *arg) {
  want_t *w = arg;
  return w->cli->n >= w->want;
}

static void echo_on(const char *addr) {
  nt_reactor_t *r = reactor_new();
  dpeer_t srv, cli;
  dpeer_init(&srv);
  dpeer_init(&cli);
  srv.echo = 1;
  bind_peer(r, &srv, addr);
  bind_peer(r, &cli, addr);
  struct sockaddr_storage sa, ca;
  socklen_t salen, calen;
  assert_status(nt_udp_local_address(srv.u, &sa, &salen), 0);
  assert_status(nt_udp_local_address(cli.u, &ca, &calen), 0);

  /* Sizes: empty, small, gathered from pieces, and near the IPv4 maximum. */
  static char big[65507];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 131 + 7);
  assert_status(nt_udp_sendto(cli.u, "", 0, (struct sockaddr *)&sa, salen), 0);
  assert_status(
      nt_udp_sendto(cli.u, "hello udp", 9, (struct sockaddr *)&sa, salen), 0);
  struct iovec iov[3] = {{"gath", 4}, {"ered ", 5}, {"datagram", 8}};
  assert_status(nt_udp_sendtov(cli.u, iov, 3, (struct sockaddr *)&sa, salen),
                0);
  assert_status(
      nt_udp_sendto(cli.u, big, sizeof big, (struct sockaddr *)&sa, salen), 0);
  want_t w = {&cli, 4};
  assert_true(run_until(r, got_all, &w, 3000));
  assert_int_equal(srv.n, 4);
  assert_int_equal(cli.n, 4);
  static const char *const small[] = {"", "hello udp", "gathered datagram"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(srv.len[i], strlen(small[i]));
    assert_memory_equal(srv.data[i], small[i], srv.len[i]);
    assert_int_equal(cli.len[i], strlen(small[i]));
    assert_memory_equal(cli.data[i], small[i], cli.len[i]);
  }
  assert_int_equal(cli.len[3], sizeof big);
  assert_memory_equal(cli.data[3], big, sizeof big);
  /* From-addresses: each side saw exactly the other's bound address. */
  for (int i = 0; i < 4; i++) {
    assert_int_equal(srv.fromlen[i], calen);
    assert_memory_equal(&srv.from[i], &ca, calen);
    assert_int_equal(cli.fromlen[i], salen);
    assert_memory_equal(&cli.from[i], &sa, salen);
  }
  assert_int_equal(srv.errors + cli.errors, 0);
  close_and_check(r, &srv);
  close_and_check(r, &cli);
  dpeer_free(&srv);
  dpeer_free(&cli);
  finish(r);
}

static void test_echo_ipv4(void **state) {
  (void)state;
  echo_on("127.0.0.1");
}

static void test_echo_ipv6(void **state) {
  (void)state;
  if (!ipv6_available()) {
    print_message("ipv6 loopback unavailable: skipping\n");
    skip();
  }
  echo_on("::1");
}

/* A connected endpoint receives only from its peer, and sends without an
 * address. */
static void test_connected_filters(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  dpeer_t a, b, c;
  dpeer_init(&a);
  dpeer_init(&b);
  dpeer_init(&c);
  bind_peer(r, &a, "127.0.0.1");
  bind_peer(r, &b, "127.0.0.1");
  bind_peer(r, &c, "127.0.0.1");
  b.echo = 1;
  assert_status(nt_udp_connect(a.u, "127.0.0.1", nt_udp_port(b.u)), 0);
  struct sockaddr_storage as;
  socklen_t alen;
  assert_status(nt_udp_local_address(a.u, &as, &alen), 0);
  /* c writes to a first: a must never see it. */
  assert_status(nt_udp_sendto(c.u, "from c", 6, (struct sockaddr *)&as, alen),
                0);
  assert_status(nt_udp_send(a.u, "to b", 4), 0);
  want_t w = {&a, 1};
  assert_true(run_until(r, got_all, &w, 3000));
  /* Give c's datagram time to arrive too, were it let through. */
  w.want = 2;
  assert_false(run_until(r, got_all, &w, 100));
  assert_int_equal(a.n, 1);
  assert_string_equal(a.data[0], "to b");
  assert_int_equal(b.n, 1);
  close_and_check(r, &a);
  close_and_check(r, &b);
  close_and_check(r, &c);
  dpeer_free(&a);
  dpeer_free(&b);
  dpeer_free(&c);
  finish(r);
}

/* --- connected UDP to a closed port: ICMP comes back as ECONNREFUSED ------ */

static int closed_udp_port(int family) {
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *in;
  } else {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_addr = in6addr_loopback;
    len = sizeof *in6;
  }
  assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
  len = sizeof ss;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
  close(fd); /* now closed: datagrams to it get ICMP port unreachable */
  return ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                 : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

typedef struct {
  nt_timer_t t;
  dpeer_t *p;
  int sends, send_errors, last_send_error;
} resender_t;

static void resend_cb(nt_timer_t *t) {
  resender_t *s = t->data;
  if (s->p->errors) return;
  int rc = nt_udp_send(s->p->u, "anyone?", 7);
  s->sends++;
  if (rc) {
    s->send_errors++;
    s->last_send_error = rc;
  }
}

static int got_error(void *arg) {
  resender_t *s = arg;
  return s->p->errors > 0 || s->send_errors > 0;
}

static void refused_on(const char *host, int family) {
  nt_reactor_t *r = reactor_new();
  dpeer_t p;
  dpeer_init(&p);
  bind_peer(r, &p, host);
  int port = closed_udp_port(family);
  assert_status(nt_udp_connect(p.u, host, port), 0);
  resender_t s;
  memset(&s, 0, sizeof s);
  s.p = &p;
  p.in_call = 1;
  assert_status(nt_udp_send(p.u, "anyone?", 7), 0);
  p.in_call = 0;
  nt_timer_init(r, &s.t, resend_cb);
  s.t.data = &s;
  nt_reactor_update_time(r);
  assert_status(nt_timer_start(&s.t, 50, 50), 0);
  assert_true(run_until(r, got_error, &s, 3000));
  nt_timer_stop(&s.t);
  /* The error must come through error_received (a later send may also see
   * it, but the reader must not lose it). */
  if (p.errors == 0)
    fail_msg("no error_received; sends failed with %s instead",
             nt_err_name(s.last_send_error));
  assert_status(p.last_error, NT_ECONNREFUSED);
  /* The endpoint is still usable after the error. */
  assert_false(p.lost);
  close_and_check(r, &p);
  dpeer_free(&p);
  finish(r);
}

static void test_connected_refused(void **state) {
  (void)state;
  refused_on("127.0.0.1", AF_INET);
  if (ipv6_available()) refused_on("::1", AF_INET6);
}

/* --- the timestamp service over UDP --------------------------------------- */

typedef struct {
  nt_ts_client_t *client;
  int connected, replies, closed, status, send_errors;
  char reply[2][256];
  const char *words[2];
} tsc_t;

static void tsc_connected(nt_ts_client_t *c, void *arg) {
  tsc_t *s = arg;
  s->connected++;
  if (nt_ts_client_send(c, s->words[0], strlen(s->words[0]))) s->send_errors++;
  if (nt_ts_client_send(c, "again", 5) != NT_EBUSY) s->send_errors++;
}

static void tsc_reply(nt_ts_client_t *c, const char *data, size_t len,
                      void *arg) {
  tsc_t *s = arg;
  if (s->replies < 2)
    snprintf(s->reply[s->replies], sizeof s->reply[0], "%.*s", (int)len, data);
  s->replies++;
  if (s->replies == 1 && s->words[1]) {
    if (nt_ts_client_send(c, s->words[1], strlen(s->words[1])))
      s->send_errors++;
  } else {
    nt_ts_client_close(c);
  }
}

static void tsc_closed(nt_ts_client_t *c, int status, void *arg) {
  tsc_t *s = arg;
  (void)c;
  s->closed++;
  s->status = status;
}

static int tsc_done(void *arg) { return ((tsc_t *)arg)->closed > 0; }

static void check_ts_reply(const char *reply, const char *word, time_t t0,
                           time_t t1) {
  regex_t re;
  assert_int_equal(
      regcomp(&re,
              "^\\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
              "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 0-9][0-9] "
              "[0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}\\]: ",
              REG_EXTENDED | REG_NOSUB),
      0);
  int m = regexec(&re, reply, 0, NULL, 0);
  regfree(&re);
  if (m) fail_msg("reply not in ctime format: '%s'", reply);
  int found = 0;
  for (time_t t = t0 - 1; t <= t1 + 1 && !found; t++) {
    struct tm tm;
    char when[64], want[256];
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%a %b %e %H:%M:%S %Y", &tm);
    snprintf(want, sizeof want, "[%s]: %s", when, word);
    found = strcmp(reply, want) == 0;
  }
  if (!found) fail_msg("reply '%s' is not now's time + '%s'", reply, word);
}

static void ts_udp_on(const char *addr) {
  nt_reactor_t *r = reactor_new();
  nt_datagram_protocol_t *sp = nt_ts_udp_server_new();
  assert_non_null(sp);
  nt_udp_t *su = NULL;
  assert_status(nt_udp_bind(r, addr, 0, sp, NULL, &su), 0);
  tsc_t s;
  memset(&s, 0, sizeof s);
  s.words[0] = "hello over udp";
  s.words[1] = "second";
  nt_ts_client_callbacks_t cbs = {
      .connected = tsc_connected, .reply = tsc_reply, .closed = tsc_closed};
  nt_ts_client_options_t o = {
      .udp = 1, .connect_timeout_ms = 2000, .reply_timeout_ms = 2000};
  time_t t0 = time(NULL);
  assert_status(
      nt_ts_client_connect(r, addr, nt_udp_port(su), &o, &cbs, &s, &s.client),
      0);
  assert_int_equal(s.connected, 0); /* from the loop */
  assert_true(run_until(r, tsc_done, &s, 5000));
  time_t t1 = time(NULL);
  assert_int_equal(s.connected, 1);
  assert_int_equal(s.send_errors, 0);
  assert_int_equal(s.replies, 2);
  assert_status(s.status, 0);
  check_ts_reply(s.reply[0], "hello over udp", t0, t1);
  check_ts_reply(s.reply[1], "second", t0, t1);
  nt_udp_close(su); /* the server protocol frees itself in destroy */
  finish(r);
}

static void test_ts_udp_ipv4(void **state) {
  (void)state;
  ts_udp_on("127.0.0.1");
}

static void test_ts_udp_ipv6(void **state) {
  (void)state;
  if (!ipv6_available()) {
    print_message("ipv6 loopback unavailable: skipping\n");
    skip();
  }
  ts_udp_on("::1");
}

/* No reply: the client resends once a second, then gives up. */
static void test_ts_udp_timeout_and_resend(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  dpeer_t silent;
  dpeer_init(&silent);
  bind_peer(r, &silent, "127.0.0.1");
  tsc_t s;
  memset(&s, 0, sizeof s);
  s.words[0] = "is anybody there";
  nt_ts_client_callbacks_t cbs = {
      .connected = tsc_connected, .reply = tsc_reply, .closed = tsc_closed};
  nt_ts_client_options_t o = {
      .udp = 1, .connect_timeout_ms = 1500, .reply_timeout_ms = 1500};
  uint64_t t0 = mono_ms();
  assert_status(nt_ts_client_connect(r, "127.0.0.1", nt_udp_port(silent.u), &o,
                                     &cbs, &s, &s.client),
                0);
  assert_true(run_until(r, tsc_done, &s, 5000));
  uint64_t el = mono_ms() - t0;
  assert_status(s.status, NT_ETIMEDOUT);
  assert_int_equal(s.replies, 0);
  if (el < 1400 || el > 3000)
    fail_msg("gave up after %llu ms, want about 1500", (unsigned long long)el);
  /* The request, then one resend at 1 s. */
  if (silent.n < 2)
    fail_msg("the silent server got %d copies of the request, want >= 2",
             silent.n);
  for (int i = 0; i < silent.n && i < MAXD; i++)
    assert_string_equal(silent.data[i], "is anybody there");
  close_and_check(r, &silent);
  dpeer_free(&silent);
  finish(r);
}

static void test_ts_udp_refused(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  tsc_t s;
  memset(&s, 0, sizeof s);
  s.words[0] = "hello?";
  nt_ts_client_callbacks_t cbs = {
      .connected = tsc_connected, .reply = tsc_reply, .closed = tsc_closed};
  nt_ts_client_options_t o = {
      .udp = 1, .connect_timeout_ms = 3000, .reply_timeout_ms = 3000};
  assert_status(nt_ts_client_connect(r, "127.0.0.1", closed_udp_port(AF_INET),
                                     &o, &cbs, &s, &s.client),
                0);
  assert_true(run_until(r, tsc_done, &s, 5000));
  assert_status(s.status, NT_ECONNREFUSED);
  assert_int_equal(s.replies, 0);
  finish(r);
}

/* --- closing -------------------------------------------------------------- */

static void test_close_lost_then_destroy(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  dpeer_t p;
  dpeer_init(&p);
  bind_peer(r, &p, "127.0.0.1");
  nt_udp_t *u = p.u;
  close_peer(&p);
  /* Nothing synchronous; the endpoint refuses to send until it is gone. */
  assert_false(p.lost);
  assert_false(p.destroyed);
  assert_status(nt_udp_send(u, "x", 1), NT_ECLOSED);
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons(9);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_status(nt_udp_sendto(u, "x", 1, (struct sockaddr *)&to, sizeof to),
                NT_ECLOSED);
  close_peer(&p); /* twice: harmless */
  assert_true(run_until(r, d_gone, &p, 2000));
  assert_true(p.lost);
  assert_status(p.lost_status, 0);
  assert_true(p.lost_seq < p.destroy_seq);
  dpeer_free(&p);
  finish(r);
}

/* close_all ends connections, not endpoints: the UDP endpoint survives it. */
static void test_close_all_spares_udp(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  dpeer_t srv, cli;
  dpeer_init(&srv);
  dpeer_init(&cli);
  srv.echo = 1;
  bind_peer(r, &srv, "127.0.0.1");
  bind_peer(r, &cli, "127.0.0.1");
  nt_reactor_close_all(r);
  assert_false(srv.lost);
  assert_false(cli.lost);
  struct sockaddr_storage sa;
  socklen_t salen;
  assert_status(nt_udp_local_address(srv.u, &sa, &salen), 0);
  assert_status(
      nt_udp_sendto(cli.u, "still here", 10, (struct sockaddr *)&sa, salen), 0);
  want_t w = {&cli, 1};
  assert_true(run_until(r, got_all, &w, 3000));
  assert_string_equal(cli.data[0], "still here");
  close_and_check(r, &srv);
  close_and_check(r, &cli);
  dpeer_free(&srv);
  dpeer_free(&cli);
  finish(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bind_ipv4),
      cmocka_unit_test(test_bind_ipv6),
      cmocka_unit_test(test_bind_errors),
      cmocka_unit_test(test_reuseport),
      cmocka_unit_test(test_echo_ipv4),
      cmocka_unit_test(test_echo_ipv6),
      cmocka_unit_test(test_connected_filters),
      cmocka_unit_test(test_connected_refused),
      cmocka_unit_test(test_ts_udp_ipv4),
      cmocka_unit_test(test_ts_udp_ipv6),
      cmocka_unit_test(test_ts_udp_timeout_and_resend),
      cmocka_unit_test(test_ts_udp_refused),
      cmocka_unit_test(test_close_lost_then_destroy),
      cmocka_unit_test(test_close_all_spares_udp),
  };
  return itest_run_backends("udp", tests) ? 1 : 0;
}
