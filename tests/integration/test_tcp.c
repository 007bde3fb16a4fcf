/* Integration tests for TCP: real sockets on loopback (127.0.0.1 and ::1),
 * real reactors, every case on both backends (epoll and poll).
 *
 * Every wait is bounded: run_until() polls a condition with an unreferenced
 * tick timer and gives up at a deadline; run_bounded() lets run() return by
 * itself and stops it with an unreferenced guard timer if it does not.
 *
 * Protocols are "peers": one generic implementation that records every
 * callback and checks the protocol contract (order, exactly-once, never
 * connection_lost from inside one of our own callbacks), with per-test hooks.
 * Peers live in the test context, so their destroy only records the call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nettool/errno.h"
#include "nettool/protocol.h"
#include "nettool/reactor.h"
#include "nettool/tcp.h"
#include "nettool/testing.h"
#include "nettool/timestamp.h"
#include "nettool/transport.h"

/* --- small helpers ------------------------------------------------------- */

#include "itest_backends.h"
#include "tcp-int.h" /* nt__tcp_sendfile_refused */

static int ipv6_available(void) {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  close(fd);
  return ok;
}

/* A socket bound to host:0 that does not listen: connecting to its port is
 * refused, and nobody else can take the port while it is open. */
static int bound_not_listening(int family, int *port) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
  *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                  : ((struct sockaddr_in6 *)&ss)->sin6_port);
  return fd;
}

static int ss_port(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)ss)->sin_port);
  if (ss->ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
  return -1;
}

/* The byte at offset i of every test stream: not periodic on any small
 * power of two, so reordering, loss and duplication all show. */
static inline unsigned char pat(uint64_t i) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull;
  return (unsigned char)((x >> 56) ^ (i >> 13));
}

static void fill_pat(char *buf, uint64_t off, size_t n) {
  for (size_t i = 0; i < n; i++) buf[i] = (char)pat(off + i);
}

/* --- bounded running ----------------------------------------------------- */

typedef int (*cond_fn)(void *arg);

typedef struct {
  nt_timer_t t;
  uint64_t deadline;
  cond_fn cond;
  void *arg;
  int met, timed_out;
} waiter_t;

static void waiter_cb(nt_timer_t *t) {
  waiter_t *w = t->data;
  if (w->cond && w->cond(w->arg)) {
    w->met = 1;
    nt_reactor_stop(t->reactor);
  } else if (mono_ms() >= w->deadline) {
    w->timed_out = 1;
    nt_reactor_stop(t->reactor);
  }
}

/* Runs until cond(arg) holds, at most ms; returns cond(arg) at the end. */
static int run_until(nt_reactor_t *r, cond_fn cond, void *arg, uint64_t ms) {
  if (cond(arg)) return 1;
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
  return cond(arg);
}

/* --- peers: the recording protocol ---------------------------------------- */

#define MAXP 8

typedef struct peer peer_t;
typedef struct tctx tctx_t;

struct peer {
  nt_protocol_t base;
  tctx_t *ctx;
  int is_client, index;
  nt_transport_t *t;
  int made, eof, lost, destroyed, lost_status;
  int eof_ret; /* what eof_received returns without a hook */
  int in_cb;
  int violations;
  char why[200];
  int store; /* keep received bytes in rx */
  char *rx;
  size_t rx_len, rx_cap;
  uint64_t rx_total;
  int pauses, resumes, wpaused;
  int addr_rc;
  struct sockaddr_storage peer_ss, host_ss;
  socklen_t peer_len, host_len;
  nt_timer_t timer;
  int timer_inited;
  void (*h_made)(peer_t *);
  void (*h_data)(peer_t *, const char *, size_t);
  int (*h_eof)(peer_t *);
  void (*h_lost)(peer_t *, int);
  void (*h_pause)(peer_t *);
  void (*h_resume)(peer_t *);
  void (*h_timer)(peer_t *);
  /* writer state */
  uint64_t total, sent;
  size_t chunk;
  size_t max_wbs, wbs_at_resume_max;
  int finish_mode; /* 0: lose_connection right after the last write;
                      1: lose_connection from a call_soon */
  int done_writing;
  int wr_err;
  /* sink state */
  uint64_t bad, first_bad;
  int raw_fd;
  int n1, n2; /* per-test counters */
};

struct tctx {
  nt_reactor_t *r;
  nt_factory_t sfact, cfact;
  nt_listener_t *listener;
  int port;
  peer_t srv[MAXP];
  int nsrv;
  peer_t cli[MAXP];
  int ncli;
  void (*setup)(peer_t *p);
  int started, failed, fail_status, fail_sync, built_after_fail;
  int in_api;
  nt_connector_t *conn;
  int refuse_server;
  uint64_t t0;
  int flag;
};

static void violate(peer_t *p, const char *fmt, ...) {
  if (p->violations++) return;
  int n = snprintf(p->why, sizeof p->why,
                   "%s %d: ", p->is_client ? "client" : "server", p->index);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->why + n, sizeof p->why - (size_t)n, fmt, ap);
  va_end(ap);
}

static void assert_clean(peer_t *p) {
  if (p->violations)
    fail_msg("protocol contract violated (%d): %s [backend %s]", p->violations,
             p->why, g_backend);
}

static void p_made(nt_protocol_t *bp, nt_transport_t *t) {
  peer_t *p = (peer_t *)bp;
  if (p->made) violate(p, "connection_made twice");
  if (bp->transport != t) violate(p, "p->transport not set at connection_made");
  p->made = 1;
  p->t = t;
  p->addr_rc = nt_transport_peer_address(t, &p->peer_ss, &p->peer_len);
  if (!p->addr_rc)
    p->addr_rc = nt_transport_host_address(t, &p->host_ss, &p->host_len);
  if (p->h_made) {
    p->in_cb++;
    p->h_made(p);
    p->in_cb--;
  }
}

static void p_data(nt_protocol_t *bp, const char *data, size_t len) {
  peer_t *p = (peer_t *)bp;
  if (!p->made || p->lost) violate(p, "data_received outside the connection");
  if (p->eof) violate(p, "data_received after eof_received");
  if (!len) violate(p, "data_received with no data");
  if (p->store) {
    if (p->rx_len + len + 1 > p->rx_cap) {
      size_t cap = p->rx_cap ? p->rx_cap : 4096;
      while (cap < p->rx_len + len + 1) cap *= 2;
      char *n = realloc(p->rx, cap);
      assert_non_null(n);
      p->rx = n;
      p->rx_cap = cap;
    }
    memcpy(p->rx + p->rx_len, data, len);
    p->rx_len += len;
    p->rx[p->rx_len] = 0;
  }
  p->rx_total += len;
  if (p->h_data) {
    p->in_cb++;
    p->h_data(p, data, len);
    p->in_cb--;
  }
}

static int p_eof(nt_protocol_t *bp) {
  peer_t *p = (peer_t *)bp;
  if (!p->made || p->lost) violate(p, "eof_received outside the connection");
  if (p->eof) violate(p, "eof_received twice");
  p->eof = 1;
  int keep = p->eof_ret;
  if (p->h_eof) {
    p->in_cb++;
    keep = p->h_eof(p);
    p->in_cb--;
  }
  return keep;
}

static void p_lost(nt_protocol_t *bp, int status) {
  peer_t *p = (peer_t *)bp;
  if (!p->made) violate(p, "connection_lost without connection_made");
  if (p->lost) violate(p, "connection_lost twice");
  if (p->in_cb)
    violate(p, "connection_lost(%s) called from inside a protocol callback",
            nt_err_name(status));
  if (status > 0) violate(p, "connection_lost with positive status %d", status);
  p->lost = 1;
  p->lost_status = status;
  if (p->timer_inited) nt_timer_stop(&p->timer);
  if (p->h_lost) {
    p->in_cb++;
    p->h_lost(p, status);
    p->in_cb--;
  }
  p->t = NULL;
}

static void p_pause(nt_protocol_t *bp) {
  peer_t *p = (peer_t *)bp;
  if (p->wpaused) violate(p, "pause_writing twice in a row");
  if (p->lost) violate(p, "pause_writing after connection_lost");
  p->wpaused = 1;
  p->pauses++;
  if (p->h_pause) {
    p->in_cb++;
    p->h_pause(p);
    p->in_cb--;
  }
}

static void p_resume(nt_protocol_t *bp) {
  peer_t *p = (peer_t *)bp;
  if (!p->wpaused) violate(p, "resume_writing without pause_writing");
  if (p->lost) violate(p, "resume_writing after connection_lost");
  p->wpaused = 0;
  p->resumes++;
  if (p->t) {
    size_t w = nt_transport_write_buffer_size(p->t);
    if (w > p->t->low_water)
      violate(p, "resume_writing with %zu bytes queued (low water %u)", w,
              p->t->low_water);
  }
  if (p->h_resume) {
    p->in_cb++;
    p->h_resume(p);
    p->in_cb--;
  }
}

static void p_destroy(nt_protocol_t *bp) {
  peer_t *p = (peer_t *)bp;
  if (p->made && !p->lost) violate(p, "destroy before connection_lost");
  if (p->destroyed) violate(p, "destroy twice");
  if (bp->transport) violate(p, "p->transport not NULL after connection_lost");
  p->destroyed = 1;
}

static const nt_protocol_ops_t peer_ops = {
    .connection_made = p_made,
    .data_received = p_data,
    .eof_received = p_eof,
    .connection_lost = p_lost,
    .pause_writing = p_pause,
    .resume_writing = p_resume,
    .destroy = p_destroy,
};

static void peer_timer_cb(nt_timer_t *t) {
  peer_t *p = t->data;
  if (p->lost) violate(p, "peer timer fired after connection_lost");
  if (p->h_timer) {
    p->in_cb++;
    p->h_timer(p);
    p->in_cb--;
  }
}

static void peer_timer(peer_t *p, uint64_t ms) {
  if (!p->timer_inited) {
    nt_timer_init(p->ctx->r, &p->timer, peer_timer_cb);
    p->timer.data = p;
    p->timer_inited = 1;
  }
  assert_status(nt_timer_start(&p->timer, ms, 0), 0);
}

/* --- the test context: factories for both sides --------------------------- */

static nt_protocol_t *build_peer(tctx_t *c, peer_t *arr, int *n,
                                 int is_client) {
  if (*n >= MAXP) return NULL;
  peer_t *p = &arr[(*n)++];
  memset(p, 0, sizeof *p);
  nt_protocol_init(&p->base, &peer_ops);
  p->ctx = c;
  p->is_client = is_client;
  p->index = *n - 1;
  p->raw_fd = -1;
  p->store = 1;
  if (c->setup) c->setup(p);
  return &p->base;
}

static nt_protocol_t *srv_build(nt_factory_t *f, const struct sockaddr *peer,
                                socklen_t len) {
  tctx_t *c = f->data;
  assert_non_null(peer);
  assert_true(len > 0);
  if (c->refuse_server) {
    c->nsrv++;
    return NULL;
  }
  return build_peer(c, c->srv, &c->nsrv, 0);
}

static nt_protocol_t *cli_build(nt_factory_t *f, const struct sockaddr *peer,
                                socklen_t len) {
  tctx_t *c = f->data;
  (void)peer;
  (void)len;
  if (c->failed) c->built_after_fail = 1;
  c->conn = NULL; /* freed by nettool once the connection is made */
  return build_peer(c, c->cli, &c->ncli, 1);
}

static void cli_started(nt_factory_t *f, nt_connector_t *conn) {
  tctx_t *c = f->data;
  assert_non_null(conn);
  c->started++;
}

static void cli_failed(nt_factory_t *f, nt_connector_t *conn, int status) {
  tctx_t *c = f->data;
  assert_non_null(conn);
  c->failed++;
  c->fail_status = status;
  if (c->in_api) c->fail_sync = 1;
  c->conn = NULL;
}

static const nt_factory_ops_t srv_fops = {.build_protocol = srv_build};
static const nt_factory_ops_t cli_fops = {
    .build_protocol = cli_build,
    .started_connecting = cli_started,
    .connection_failed = cli_failed,
};

static void ctx_init(tctx_t *c) {
  memset(c, 0, sizeof *c);
  c->r = reactor_new();
  c->sfact.ops = &srv_fops;
  c->sfact.data = c;
  c->cfact.ops = &cli_fops;
  c->cfact.data = c;
}

static void ctx_listen(tctx_t *c, const char *addr,
                       const nt_tcp_listen_options_t *o) {
  assert_status(nt_tcp_listen(c->r, addr, 0, &c->sfact, o, &c->listener), 0);
  c->port = nt_listener_port(c->listener);
  assert_true(c->port > 0 && c->port < 65536);
}

static void ctx_connect(tctx_t *c, const char *host,
                        const nt_tcp_connect_options_t *o) {
  int before = c->started;
  c->in_api = 1;
  assert_status(nt_tcp_connect(c->r, host, c->port, &c->cfact, o, &c->conn), 0);
  c->in_api = 0;
  assert_int_equal(c->started, before + 1); /* before nt_tcp_connect returns */
  assert_int_equal(c->fail_sync, 0);
}

static void ctx_close_listener(tctx_t *c) {
  if (c->listener) nt_listener_close(c->listener);
  c->listener = NULL;
}

/* Closes the listener, checks run() then returns by itself with nothing
 * left live (each test closed its own connections), checks every peer's
 * contract, and frees everything. */
static void ctx_finish(tctx_t *c) {
  ctx_close_listener(c);
  int by_itself = run_bounded(c->r, 3000);
  assert_int_equal(nt_reactor_live(c->r, NULL), 0);
  assert_true(by_itself);
  for (int i = 0; i < c->nsrv && !c->refuse_server; i++) {
    assert_clean(&c->srv[i]);
    if (c->srv[i].made) assert_true(c->srv[i].lost && c->srv[i].destroyed);
    if (c->srv[i].raw_fd >= 0) close(c->srv[i].raw_fd);
    free(c->srv[i].rx);
  }
  for (int i = 0; i < c->ncli; i++) {
    assert_clean(&c->cli[i]);
    if (c->cli[i].made) assert_true(c->cli[i].lost && c->cli[i].destroyed);
    free(c->cli[i].rx);
  }
  assert_int_equal(nt_test_reactor_free(c->r), 0);
  c->r = NULL;
}

static int c_first_pair_gone(void *arg) {
  tctx_t *c = arg;
  return c->ncli >= 1 && c->nsrv >= 1 && c->cli[0].destroyed &&
         c->srv[0].destroyed;
}

static int c_first_pair_made(void *arg) {
  tctx_t *c = arg;
  return c->ncli >= 1 && c->nsrv >= 1 && c->cli[0].made && c->srv[0].made;
}

static int c_cli0_gone(void *arg) {
  tctx_t *c = arg;
  return c->ncli >= 1 && c->cli[0].destroyed;
}

static int c_failed(void *arg) { return ((tctx_t *)arg)->failed > 0; }

static int c_srv0_gone(void *arg) {
  tctx_t *c = arg;
  return c->nsrv >= 1 && c->srv[0].destroyed;
}

/* --- echo round trip on 127.0.0.1 and ::1 --------------------------------- */

static const char echo_msg[] = "hello, loopback world\n";

static void echo_srv_data(peer_t *p, const char *d, size_t n) {
  int rc = nt_transport_write(p->t, d, n);
  if (rc) violate(p, "echo write: %s", nt_err_name(rc));
}

static void echo_cli_made(peer_t *p) {
  /* Three writes; the echo must come back whole and in order. */
  assert_status(nt_transport_write(p->t, "hello, ", 7), 0);
  assert_status(nt_transport_write_str(p->t, "loopback "), 0);
  assert_status(nt_transport_write(p->t, "world\n", 6), 0);
}

static void echo_cli_data(peer_t *p, const char *d, size_t n) {
  (void)d;
  (void)n;
  if (p->rx_len >= strlen(echo_msg)) nt_transport_lose_connection(p->t);
}

static void echo_setup(peer_t *p) {
  if (p->is_client) {
    p->h_made = echo_cli_made;
    p->h_data = echo_cli_data;
  } else {
    p->h_data = echo_srv_data;
  }
}

static void echo_on(const char *addr, int family) {
  tctx_t c;
  ctx_init(&c);
  c.setup = echo_setup;
  ctx_listen(&c, addr, NULL);
  struct sockaddr_storage la;
  socklen_t ll;
  assert_status(nt_listener_address(c.listener, &la, &ll), 0);
  assert_int_equal(la.ss_family, family);
  assert_int_equal(ss_port(&la), c.port);
  ctx_connect(&c, addr, NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 5000));

  peer_t *cl = &c.cli[0], *sv = &c.srv[0];
  assert_int_equal(c.ncli, 1);
  assert_int_equal(c.nsrv, 1);
  assert_int_equal(c.failed, 0);
  assert_int_equal(cl->rx_len, strlen(echo_msg));
  assert_memory_equal(cl->rx, echo_msg, strlen(echo_msg));
  assert_int_equal(sv->rx_len, strlen(echo_msg));
  assert_status(cl->lost_status, 0);
  assert_status(sv->lost_status, 0);
  assert_true(sv->eof); /* the client's close reached the server as EOF */
  /* Addresses: each side's peer is the other's host address. */
  assert_status(cl->addr_rc, 0);
  assert_status(sv->addr_rc, 0);
  assert_int_equal(cl->peer_ss.ss_family, family);
  assert_int_equal(ss_port(&cl->peer_ss), c.port);
  assert_int_equal(ss_port(&sv->host_ss), c.port);
  assert_int_equal(ss_port(&sv->peer_ss), ss_port(&cl->host_ss));
  assert_int_equal(sv->peer_len, cl->host_len);
  assert_memory_equal(&sv->peer_ss, &cl->host_ss, cl->host_len);
  char buf[NT_ADDRSTRLEN], want[NT_ADDRSTRLEN];
  snprintf(want, sizeof want, family == AF_INET ? "127.0.0.1:%d" : "[::1]:%d",
           c.port);
  assert_string_equal(
      nt_addr_format((struct sockaddr *)&cl->peer_ss, buf, sizeof buf), want);
  ctx_finish(&c);
}

static void test_echo_ipv4(void **state) {
  (void)state;
  echo_on("127.0.0.1", AF_INET);
}

static void test_echo_ipv6(void **state) {
  (void)state;
  if (!ipv6_available()) {
    print_message("ipv6 loopback unavailable: skipping\n");
    skip();
  }
  echo_on("::1", AF_INET6);
}

/* --- the timestamp service over TCP --------------------------------------- */

typedef struct {
  nt_ts_client_t *client;
  int connected, replies, closed, status, sends_failed;
  char reply[2][256];
  const char *words[2];
} tsc_t;

static void tsc_connected(nt_ts_client_t *c, void *arg) {
  tsc_t *s = arg;
  s->connected++;
  if (nt_ts_client_send(c, s->words[0], strlen(s->words[0]))) s->sends_failed++;
  /* One request at a time. */
  if (nt_ts_client_send(c, "x", 1) != NT_EBUSY) s->sends_failed++;
}

static void tsc_reply(nt_ts_client_t *c, const char *data, size_t len,
                      void *arg) {
  tsc_t *s = arg;
  if (s->replies < 2) {
    snprintf(s->reply[s->replies], sizeof s->reply[0], "%.*s", (int)len, data);
  }
  s->replies++;
  if (s->replies == 1) {
    if (nt_ts_client_send(c, s->words[1], strlen(s->words[1])))
      s->sends_failed++;
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

/* Checks "[<ctime>]: word" with the time between t0 - 1 and t1 + 1. */
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

static void test_timestamp_tcp(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  nt_factory_t f;
  nt_ts_server_factory_init(&f);
  nt_listener_t *l;
  assert_status(nt_tcp_listen(r, "127.0.0.1", 0, &f, NULL, &l), 0);
  tsc_t s;
  memset(&s, 0, sizeof s);
  s.words[0] = "hello";
  s.words[1] = "second request";
  nt_ts_client_callbacks_t cbs = {
      .connected = tsc_connected, .reply = tsc_reply, .closed = tsc_closed};
  nt_ts_client_options_t o = {
      .udp = 0, .connect_timeout_ms = 2000, .reply_timeout_ms = 2000};
  time_t t0 = time(NULL);
  assert_status(nt_ts_client_connect(r, "127.0.0.1", nt_listener_port(l), &o,
                                     &cbs, &s, &s.client),
                0);
  assert_true(run_until(r, tsc_done, &s, 5000));
  time_t t1 = time(NULL);
  assert_int_equal(s.connected, 1);
  assert_int_equal(s.sends_failed, 0);
  assert_int_equal(s.replies, 2);
  assert_status(s.status, 0);
  check_ts_reply(s.reply[0], "hello", t0, t1);
  check_ts_reply(s.reply[1], "second request", t0, t1);
  nt_listener_close(l);
  assert_true(run_bounded(r, 2000));
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* The timestamp client against hand-made servers: replies without a newline
 * (delivered after 200 ms of quiet), split replies, over-size replies, a
 * server that hangs up, and nt_ts_client_close at every stage. */

typedef struct {
  nt_ts_client_t *client;
  int mode; /* TSX_* */
  int connected, replies, closed, status, send_rc;
  size_t reply_len;
  char reply[128];
  uint64_t t_sent, t_reply;
  nt_timer_t close_timer;
} tsx_t;

enum { TSX_SEND, TSX_SEND_THEN_CLOSE };

static void tsx_close_cb(nt_timer_t *t) {
  tsx_t *x = t->data;
  if (!x->closed) nt_ts_client_close(x->client);
}

static void tsx_connected(nt_ts_client_t *c, void *arg) {
  tsx_t *x = arg;
  x->connected++;
  x->t_sent = mono_ms();
  x->send_rc = nt_ts_client_send(c, "ping", 4);
}

static void tsx_reply(nt_ts_client_t *c, const char *data, size_t len,
                      void *arg) {
  tsx_t *x = arg;
  (void)c;
  x->replies++;
  x->t_reply = mono_ms();
  x->reply_len = len;
  snprintf(x->reply, sizeof x->reply, "%.*s", (int)len, data);
  nt_ts_client_close(c);
}

static void tsx_closed(nt_ts_client_t *c, int status, void *arg) {
  tsx_t *x = arg;
  (void)c;
  x->closed++;
  x->status = status;
  nt_timer_stop(&x->close_timer);
}

static int tsx_done(void *arg) { return ((tsx_t *)arg)->closed > 0; }

static void srv_nonl(peer_t *p, const char *d, size_t n) {
  (void)d;
  (void)n;
  nt_transport_write_str(p->t, "reply without newline");
}

static void srv_split_second(peer_t *p) {
  nt_transport_write_str(p->t, "part two\n");
}

static void srv_split(peer_t *p, const char *d, size_t n) {
  (void)d;
  (void)n;
  nt_transport_write_str(p->t, "part one, ");
  p->h_timer = srv_split_second;
  peer_timer(p, 60); /* well inside the 200 ms quiet period */
}

static void srv_huge(peer_t *p, const char *d, size_t n) {
  (void)d;
  (void)n;
  static char z[70000];
  memset(z, 'z', sizeof z);
  nt_transport_write(p->t, z, sizeof z);
}

static void srv_hangup(peer_t *p, const char *d, size_t n) {
  (void)d;
  (void)n;
  nt_transport_lose_connection(p->t);
}

static void (*tsx_srv_hook)(peer_t *, const char *, size_t);

static void tsx_setup(peer_t *p) {
  if (!p->is_client) p->h_data = tsx_srv_hook;
}

/* Runs one ts client session against a server whose data hook is hook
 * (NULL: a server that never answers). */
static void tsx_run(tsx_t *x, void (*hook)(peer_t *, const char *, size_t),
                    int mode, uint64_t close_after_ms) {
  tctx_t c;
  ctx_init(&c);
  tsx_srv_hook = hook;
  c.setup = tsx_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  memset(x, 0, sizeof *x);
  x->mode = mode;
  nt_timer_init(c.r, &x->close_timer, tsx_close_cb);
  x->close_timer.data = x;
  nt_ts_client_callbacks_t cbs = {
      .connected = tsx_connected, .reply = tsx_reply, .closed = tsx_closed};
  nt_ts_client_options_t o = {
      .udp = 0, .connect_timeout_ms = 2000, .reply_timeout_ms = 800};
  assert_status(
      nt_ts_client_connect(c.r, "127.0.0.1", c.port, &o, &cbs, x, &x->client),
      0);
  if (mode == TSX_SEND_THEN_CLOSE) {
    nt_reactor_update_time(c.r);
    assert_status(nt_timer_start(&x->close_timer, close_after_ms, 0), 0);
  }
  assert_true(run_until(c.r, tsx_done, x, 5000));
  nt_timer_stop(&x->close_timer);
  assert_int_equal(x->closed, 1);
  ctx_finish(&c);
}

static void test_ts_client_reply_forms(void **state) {
  (void)state;
  tsx_t x;
  /* No newline: the reply is whatever came, after 200 ms of quiet. */
  tsx_run(&x, srv_nonl, TSX_SEND, 0);
  assert_status(x.send_rc, 0);
  assert_int_equal(x.replies, 1);
  assert_string_equal(x.reply, "reply without newline");
  if (x.t_reply - x.t_sent < 150)
    fail_msg("reply without newline delivered after %llu ms, before the "
             "quiet period",
             (unsigned long long)(x.t_reply - x.t_sent));
  assert_status(x.status, 0);
  /* Two pieces 60 ms apart: still one reply. */
  tsx_run(&x, srv_split, TSX_SEND, 0);
  assert_int_equal(x.replies, 1);
  assert_string_equal(x.reply, "part one, part two");
  assert_status(x.status, 0);
  /* The server hangs up instead of answering. */
  tsx_run(&x, srv_hangup, TSX_SEND, 0);
  assert_int_equal(x.replies, 0);
  assert_status(x.status, NT_EUNEXPECTEDEOF);
  /* No answer at all within the 800 ms reply timeout. */
  uint64_t t0 = mono_ms();
  tsx_run(&x, NULL, TSX_SEND, 0);
  assert_int_equal(x.replies, 0);
  assert_status(x.status, NT_ETIMEDOUT);
  assert_true(mono_ms() - t0 >= 750);
}

/* Over 64 KiB: NT_ETOOBIG, and no (truncated) reply. */
static void test_ts_client_reply_too_big(void **state) {
  (void)state;
  tsx_t x;
  tsx_run(&x, srv_huge, TSX_SEND, 0);
  if (x.replies != 0)
    fail_msg("a 70000-byte reply (over the 64 KiB limit) was delivered as a "
             "%zu-byte reply before closed(%s) [backend %s]",
             x.reply_len, nt_err_name(x.status), g_backend);
  assert_status(x.status, NT_ETOOBIG);
}

/* timestamp.h: closed() says 0 "after nt_ts_client_close". */
static void test_ts_client_close_while_waiting(void **state) {
  (void)state;
  tsx_t x;
  tsx_run(&x, NULL, TSX_SEND_THEN_CLOSE, 50);
  assert_int_equal(x.connected, 1);
  assert_int_equal(x.replies, 0);
  if (x.status != 0)
    fail_msg("nt_ts_client_close while a reply is awaited: closed(%s), "
             "want closed(0) [backend %s]",
             nt_err_name(x.status), g_backend);
}

static void test_ts_client_refused_and_close_early(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  int port;
  int holder = bound_not_listening(AF_INET, &port);
  tsx_t x;
  memset(&x, 0, sizeof x);
  nt_timer_init(r, &x.close_timer, tsx_close_cb);
  nt_ts_client_callbacks_t cbs = {
      .connected = tsx_connected, .reply = tsx_reply, .closed = tsx_closed};
  nt_ts_client_options_t o = {
      .udp = 0, .connect_timeout_ms = 2000, .reply_timeout_ms = 2000};
  assert_status(nt_ts_client_connect(r, "127.0.0.1", port, &o, &cbs, &x, NULL),
                0);
  assert_true(run_until(r, tsx_done, &x, 5000));
  assert_int_equal(x.connected, 0);
  assert_status(x.status, NT_ECONNREFUSED);
  close(holder);
  /* Closed before it connected: closed(0), never connected. */
  nt_factory_t f;
  nt_ts_server_factory_init(&f);
  nt_listener_t *l;
  assert_status(nt_tcp_listen(r, "127.0.0.1", 0, &f, NULL, &l), 0);
  memset(&x, 0, sizeof x);
  nt_timer_init(r, &x.close_timer, tsx_close_cb);
  assert_status(nt_ts_client_connect(r, "127.0.0.1", nt_listener_port(l), &o,
                                     &cbs, &x, &x.client),
                0);
  nt_ts_client_close(x.client);
  assert_true(run_until(r, tsx_done, &x, 5000));
  assert_int_equal(x.connected, 0);
  assert_status(x.status, 0);
  /* Bad arguments: an error and no callback. */
  memset(&x, 0, sizeof x);
  assert_status(nt_ts_client_connect(r, "127.0.0.1", 0, &o, &cbs, &x, NULL),
                NT_EBADPORT);
  assert_status(nt_ts_client_connect(r, "127.0.0.1", 65536, &o, &cbs, &x, NULL),
                NT_EBADPORT);
  nt_listener_close(l);
  assert_true(run_bounded(r, 2000));
  assert_int_equal(x.closed, 0);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- a large transfer with backpressure ----------------------------------- */

#define BIG_TOTAL (8u * 1024u * 1024u)
#define BIG_CHUNK (32u * 1024u)

static void sink_data(peer_t *p, const char *d, size_t n) {
  uint64_t off = p->rx_total - n;
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)d[i] != pat(off + i)) {
      if (!p->bad) p->first_bad = off + i;
      p->bad++;
    }
  }
}

static void sink_resume_cb(peer_t *p) { nt_transport_resume_reading(p->t); }

/* The server: pauses reading for 100 ms at first, which makes sure the
 * writer meets a full socket and its high-water mark. */
static void sink_made_slow_start(peer_t *p) {
  nt_transport_pause_reading(p->t);
  p->h_timer = sink_resume_cb;
  peer_timer(p, 100);
}

static void writer_finish_cb(void *arg) {
  peer_t *p = arg;
  if (!p->lost) nt_transport_lose_connection(p->t);
}

static void writer_pump(peer_t *p) {
  char buf[BIG_CHUNK];
  if (p->finish_mode >= 2 && p->resumes > 0 && p->sent < p->total) {
    /* The rest in one write, then lose_connection, from resume_writing. */
    size_t n = (size_t)(p->total - p->sent);
    char *big = malloc(n);
    assert_non_null(big);
    fill_pat(big, p->sent, n);
    int rc = nt_transport_write(p->t, big, n);
    free(big);
    if (rc) violate(p, "final write: %s", nt_err_name(rc));
    p->sent = p->total;
    p->max_wbs = nt_transport_write_buffer_size(p->t); /* left queued */
    p->done_writing = 1;
    if (p->finish_mode == 3)
      assert_status(nt_transport_write_eof(p->t), 0);
    else
      nt_transport_lose_connection(p->t);
    return;
  }
  while (!p->wpaused && p->sent < p->total && !p->lost) {
    size_t n =
        p->total - p->sent < p->chunk ? (size_t)(p->total - p->sent) : p->chunk;
    fill_pat(buf, p->sent, n);
    int rc = nt_transport_write(p->t, buf, n);
    if (rc) {
      p->wr_err = rc;
      violate(p, "write at %llu: %s", (unsigned long long)p->sent,
              nt_err_name(rc));
      return;
    }
    p->sent += n;
    size_t w = nt_transport_write_buffer_size(p->t);
    if (w > p->max_wbs) p->max_wbs = w;
    if (w > (size_t)p->t->high_water + p->chunk)
      violate(p, "write buffer %zu far above high water %u", w,
              p->t->high_water);
  }
  if (p->sent == p->total && !p->done_writing) {
    p->done_writing = 1;
    if (p->finish_mode == 0)
      nt_transport_lose_connection(p->t);
    else
      assert_status(nt_call_soon(p->ctx->r, writer_finish_cb, p), 0);
  }
}

static void writer_made(peer_t *p) { writer_pump(p); }
static void writer_resume(peer_t *p) { writer_pump(p); }

static int big_finish_mode;

static void big_setup(peer_t *p) {
  if (p->is_client) {
    p->store = 0;
    p->total = BIG_TOTAL;
    p->chunk = BIG_CHUNK;
    p->finish_mode = big_finish_mode;
    p->h_made = writer_made;
    p->h_resume = writer_resume;
  } else {
    p->store = 0;
    p->h_made = sink_made_slow_start;
    p->h_data = sink_data;
  }
}

static void big_transfer(int finish_mode) {
  tctx_t c;
  ctx_init(&c);
  big_finish_mode = finish_mode;
  c.setup = big_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 20000));
  peer_t *cl = &c.cli[0], *sv = &c.srv[0];
  assert_clean(cl);
  assert_clean(sv);
  assert_int_equal(cl->sent, BIG_TOTAL);
  assert_true(cl->pauses >= 1); /* the 100 ms stall must have filled it */
  if (finish_mode < 2) {
    assert_int_equal(cl->resumes, cl->pauses);
    assert_true(cl->max_wbs <= NT_DEFAULT_HIGH_WATER + BIG_CHUNK);
  }
  /* Checked after cleaning up, so a failure leaves no leak behind. */
  char err[400] = "";
  if (sv->rx_total != BIG_TOTAL)
    snprintf(err, sizeof err,
             "server received %llu of %u bytes (finish mode %d); the writer "
             "had %zu bytes queued at its close and got connection_lost(%s) "
             "[backend %s]",
             (unsigned long long)sv->rx_total, BIG_TOTAL, finish_mode,
             cl->max_wbs, nt_err_name(cl->lost_status), g_backend);
  else if (cl->lost_status != 0)
    snprintf(err, sizeof err, "writer: connection_lost(%s)",
             nt_err_name(cl->lost_status));
  else if (sv->bad)
    snprintf(err, sizeof err, "%llu corrupt bytes, first at offset %llu",
             (unsigned long long)sv->bad, (unsigned long long)sv->first_bad);
  else if (!sv->eof)
    snprintf(err, sizeof err, "server: no eof_received");
  else if (sv->lost_status != 0)
    snprintf(err, sizeof err, "server: connection_lost(%s)",
             nt_err_name(sv->lost_status));
  ctx_finish(&c);
  if (err[0]) fail_msg("%s", err);
}

/* The writer ends from the call-soon queue, outside any transport callback. */
static void test_backpressure_large_transfer(void **state) {
  (void)state;
  big_transfer(1);
}

/* The writer ends as a Twisted producer does: the last write and
 * lose_connection both happen inside resume_writing. Everything written
 * before lose_connection must still be delivered. */
static void test_backpressure_lose_inside_resume(void **state) {
  (void)state;
  big_transfer(0);
}

/* The same, with the last write too big for the socket: what it leaves in
 * the queue must be flushed before the close, even though the queue had
 * drained completely just before resume_writing ran. */
static void test_backpressure_big_write_inside_resume(void **state) {
  (void)state;
  big_transfer(2);
}

/* Likewise with write_eof: the queued rest goes out before the FIN. */
static void test_backpressure_write_eof_inside_resume(void **state) {
  (void)state;
  big_transfer(3);
}

/* --- write_file (sendfile) ------------------------------------------------ */

#define FILE_SIZE (3u * 1024u * 1024u + 1234u)
#define FILE_OFF 1000u
#define FILE_LEN (FILE_SIZE - FILE_OFF - 500u)

static int wf_fd = -1;

static void wf_cli_made(peer_t *p) {
  assert_status(nt_transport_write_str(p->t, "HEAD"), 0);
  assert_status(nt_transport_write_file(p->t, wf_fd, FILE_OFF, FILE_LEN), 0);
  /* Zero-length file range: nothing to send, no error. */
  assert_status(nt_transport_write_file(p->t, wf_fd, 0, 0), 0);
  /* The transport dup()ed it: our copy may go now. */
  close(wf_fd);
  wf_fd = -1;
  assert_true(nt_transport_write_buffer_size(p->t) >= 1);
  assert_status(nt_transport_write_str(p->t, "TAIL"), 0);
  nt_transport_lose_connection(p->t);
  assert_status(nt_transport_write_str(p->t, "late"), NT_ECLOSED);
}

static void wf_setup(peer_t *p) {
  if (p->is_client) p->h_made = wf_cli_made;
}

/* The file the write_file tests send ranges of: FILE_SIZE patterned bytes
 * in an unlinked temporary file (wf_fd); returns its content to compare. */
static char *wf_make(void) {
  char path[] = "/tmp/nt-itest-sendfile-XXXXXX";
  wf_fd = mkstemp(path);
  assert_true(wf_fd >= 0);
  unlink(path);
  char *content = malloc(FILE_SIZE);
  assert_non_null(content);
  for (size_t i = 0; i < FILE_SIZE; i++) content[i] = (char)pat(i * 7 + 3);
  assert_int_equal(write(wf_fd, content, FILE_SIZE), (ssize_t)FILE_SIZE);
  return content;
}

static void wf_done(char *content) {
  free(content);
  if (wf_fd >= 0) close(wf_fd);
  wf_fd = -1;
}

static void test_write_file(void **state) {
  (void)state;
  char *content = wf_make();
  tctx_t c;
  ctx_init(&c);
  c.setup = wf_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 10000));
  peer_t *sv = &c.srv[0];
  assert_status(c.cli[0].lost_status, 0);
  assert_int_equal(sv->rx_len, 4 + FILE_LEN + 4);
  assert_memory_equal(sv->rx, "HEAD", 4);
  assert_memory_equal(sv->rx + 4, content + FILE_OFF, FILE_LEN);
  assert_memory_equal(sv->rx + 4 + FILE_LEN, "TAIL", 4);
  assert_true(sv->eof);
  wf_done(content);
  ctx_finish(&c);
}

/* File ranges between memory writes too large for the socket: on io_uring
 * the memory is then in flight through the ring when the file segment
 * reaches the queue's head, and sendfile must wait for that send to end
 * (bytes in order); on epoll/poll the segments alternate with writev. */
#define IL_MEM1 (4u * 1024u * 1024u + 77u)
#define IL_MEM2 (1024u * 1024u + 5u)
#define IL_OFF2 17u
#define IL_LEN2 (1024u * 1024u)

static char *il_mem1, *il_mem2;

static void il_cli_made(peer_t *p) {
  assert_status(nt_transport_write(p->t, il_mem1, IL_MEM1), 0);
  assert_status(nt_transport_write_file(p->t, wf_fd, FILE_OFF, FILE_LEN), 0);
  assert_status(nt_transport_write(p->t, il_mem2, IL_MEM2), 0);
  assert_status(nt_transport_write_file(p->t, wf_fd, IL_OFF2, IL_LEN2), 0);
  close(wf_fd);
  wf_fd = -1;
  assert_status(nt_transport_write_str(p->t, "END"), 0);
  nt_transport_lose_connection(p->t);
}

static void il_setup(peer_t *p) {
  if (p->is_client) p->h_made = il_cli_made;
}

static void test_write_file_between_big_writes(void **state) {
  (void)state;
  char *content = wf_make();
  il_mem1 = malloc(IL_MEM1);
  il_mem2 = malloc(IL_MEM2);
  assert_true(il_mem1 && il_mem2);
  fill_pat(il_mem1, 11, IL_MEM1);
  fill_pat(il_mem2, 1u << 30, IL_MEM2);

  tctx_t c;
  ctx_init(&c);
  c.setup = il_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 20000));
  peer_t *sv = &c.srv[0];
  assert_status(c.cli[0].lost_status, 0);
  size_t at = 0;
  assert_int_equal(sv->rx_len, IL_MEM1 + FILE_LEN + IL_MEM2 + IL_LEN2 + 3);
  assert_memory_equal(sv->rx + at, il_mem1, IL_MEM1);
  at += IL_MEM1;
  assert_memory_equal(sv->rx + at, content + FILE_OFF, FILE_LEN);
  at += FILE_LEN;
  assert_memory_equal(sv->rx + at, il_mem2, IL_MEM2);
  at += IL_MEM2;
  assert_memory_equal(sv->rx + at, content + IL_OFF2, IL_LEN2);
  at += IL_LEN2;
  assert_memory_equal(sv->rx + at, "END", 3);
  assert_true(sv->eof);
  free(il_mem1);
  free(il_mem2);
  wf_done(content);
  ctx_finish(&c);
}

/* Where sendfile(2) refuses the file (a file system that cannot splice:
 * EINVAL), the range goes by pread + send: the same bytes, in order, with
 * the memory writes around it (fails without the fallback: the transport
 * closes with EINVAL). */
static void test_write_file_copy_fallback(void **state) {
  nt__tcp_sendfile_refused = 1;
  test_write_file(state);
}

static int sendfile_allowed(void **state) { /* teardown, even after a failure */
  (void)state;
  nt__tcp_sendfile_refused = 0;
  return 0;
}

/* --- half-close ----------------------------------------------------------- */

static void hc_cli_made(peer_t *p) {
  assert_status(nt_transport_write_str(p->t, "question?"), 0);
  assert_status(nt_transport_write_eof(p->t), 0);
  assert_status(nt_transport_write_eof(p->t), 0); /* twice is harmless */
  assert_status(nt_transport_write_str(p->t, "more"), NT_ECLOSED);
}

static int hc_srv_eof(peer_t *p) {
  char reply[128];
  snprintf(reply, sizeof reply, "answer to %.*s", (int)p->rx_len, p->rx);
  int rc = nt_transport_write_str(p->t, reply);
  if (rc) violate(p, "write after eof_received: %s", nt_err_name(rc));
  nt_transport_lose_connection(p->t);
  return 1;
}

static void hc_setup(peer_t *p) {
  if (p->is_client)
    p->h_made = hc_cli_made;
  else
    p->h_eof = hc_srv_eof;
}

static void test_half_close(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  c.setup = hc_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 5000));
  peer_t *cl = &c.cli[0], *sv = &c.srv[0];
  assert_string_equal(sv->rx, "question?");
  assert_true(sv->eof);
  assert_non_null(cl->rx);
  assert_string_equal(cl->rx, "answer to question?");
  assert_true(cl->eof);
  assert_status(cl->lost_status, 0);
  assert_status(sv->lost_status, 0);
  ctx_finish(&c);
}

/* Both sides half-close; each keeps the connection half-open (eof_received
 * returns 1): once both directions are done the transport closes by itself. */
static int keep_open(peer_t *p) {
  (void)p;
  return 1;
}

static void hc2_made(peer_t *p) {
  assert_status(nt_transport_write_str(p->t, p->is_client ? "from client"
                                                          : "from server"),
                0);
  assert_status(nt_transport_write_eof(p->t), 0);
}

static void hc2_setup(peer_t *p) {
  p->h_made = hc2_made;
  p->h_eof = keep_open;
}

static void test_half_close_both_sides(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  c.setup = hc2_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 5000));
  assert_string_equal(c.cli[0].rx, "from server");
  assert_string_equal(c.srv[0].rx, "from client");
  assert_status(c.cli[0].lost_status, 0);
  assert_status(c.srv[0].lost_status, 0);
  ctx_finish(&c);
}

/* --- lose_connection flushes; abort drops --------------------------------- */

#define QUEUED_TOTAL (4u * 1024u * 1024u)

static int lc_abort; /* 0: lose_connection, 1: abort */

static void lc_cli_made(peer_t *p) {
  char *buf = malloc(QUEUED_TOTAL);
  assert_non_null(buf);
  fill_pat(buf, 0, QUEUED_TOTAL);
  assert_status(nt_transport_write(p->t, buf, QUEUED_TOTAL), 0);
  free(buf);
  /* The server is not reading: most of it is queued here. */
  p->max_wbs = nt_transport_write_buffer_size(p->t);
  if (lc_abort)
    nt_transport_abort(p->t);
  else
    nt_transport_lose_connection(p->t);
  if (p->lost) violate(p, "connection_lost ran inside the closing call");
  assert_true(nt_transport_is_closing(p->t));
  assert_status(nt_transport_write_str(p->t, "late"), NT_ECLOSED);
  nt_transport_lose_connection(p->t); /* again: harmless */
}

static void lc_setup(peer_t *p) {
  if (p->is_client) {
    p->store = 0;
    p->h_made = lc_cli_made;
  } else {
    p->store = 0;
    p->h_made = sink_made_slow_start;
    p->h_data = sink_data;
  }
}

static void test_lose_connection_flushes(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  lc_abort = 0;
  c.setup = lc_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 10000));
  peer_t *cl = &c.cli[0], *sv = &c.srv[0];
  assert_true(cl->max_wbs > 0); /* something really was queued */
  assert_status(cl->lost_status, 0);
  assert_int_equal(sv->rx_total, QUEUED_TOTAL);
  assert_int_equal(sv->bad, 0);
  assert_true(sv->eof);
  assert_status(sv->lost_status, 0);
  ctx_finish(&c);
}

static void test_abort_drops_queue(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  lc_abort = 1;
  c.setup = lc_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 10000));
  peer_t *cl = &c.cli[0], *sv = &c.srv[0];
  assert_true(cl->max_wbs > 0);
  assert_status(cl->lost_status, NT_ECONNABORTED);
  assert_true(sv->rx_total < QUEUED_TOTAL); /* the queue was dropped */
  assert_int_equal(sv->bad, 0);             /* what did arrive is intact */
  ctx_finish(&c);
}

/* abort_error reports the given status. */
static void ae_cli_made(peer_t *p) {
  nt_transport_abort_error(p->t, NT_EPROTO);
}

static void ae_setup(peer_t *p) {
  if (p->is_client) p->h_made = ae_cli_made;
}

static void test_abort_error_status(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  c.setup = ae_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 5000));
  assert_status(c.cli[0].lost_status, NT_EPROTO);
  assert_true(c.srv[0].lost_status == 0 ||
              c.srv[0].lost_status == NT_ECONNRESET);
  ctx_finish(&c);
}

/* --- peer reset ----------------------------------------------------------- */

static int raw_connect_v4(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

static void reset_close(int fd) {
  struct linger lg = {1, 0};
  assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  close(fd);
}

static int raw_client_fd = -1;

static void rst_made_reader(peer_t *p) {
  /* Accepted: now the raw peer resets. */
  reset_close(raw_client_fd);
  raw_client_fd = -1;
  (void)p;
}

static void rst_writer_timer(peer_t *p) {
  reset_close(raw_client_fd);
  raw_client_fd = -1;
  /* Keep writing into the reset connection. */
  char buf[4096];
  memset(buf, 'w', sizeof buf);
  for (int i = 0; i < 16 && !nt_transport_is_closing(p->t); i++)
    if (nt_transport_write(p->t, buf, sizeof buf)) break;
}

static void rst_made_writer(peer_t *p) {
  /* Fill the socket and our queue: the raw peer never reads. */
  char *buf = malloc(QUEUED_TOTAL);
  assert_non_null(buf);
  memset(buf, 'x', QUEUED_TOTAL);
  assert_status(nt_transport_write(p->t, buf, QUEUED_TOTAL), 0);
  free(buf);
  p->h_timer = rst_writer_timer;
  peer_timer(p, 30);
}

static int rst_mode;

static void rst_setup(peer_t *p) {
  if (!p->is_client) p->h_made = rst_mode ? rst_made_writer : rst_made_reader;
}

static void test_peer_reset_reader(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  rst_mode = 0;
  c.setup = rst_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  raw_client_fd = raw_connect_v4(c.port);
  assert_true(run_until(c.r, c_srv0_gone, &c, 5000));
  assert_status(c.srv[0].lost_status, NT_ECONNRESET);
  assert_false(c.srv[0].eof);
  ctx_finish(&c);
}

static void test_peer_reset_writer(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  rst_mode = 1;
  c.setup = rst_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  raw_client_fd = raw_connect_v4(c.port);
  assert_true(run_until(c.r, c_srv0_gone, &c, 5000));
  int st = c.srv[0].lost_status;
  if (st != NT_ECONNRESET && st != NT_EPIPE)
    fail_msg("writer saw %s, want ECONNRESET or EPIPE", nt_err_name(st));
  ctx_finish(&c);
}

/* --- connecting: refused, cancelled, timed out, bad arguments ------------- */

static void refused_on(int family, const char *host) {
  tctx_t c;
  ctx_init(&c);
  int holder = bound_not_listening(family, &c.port);
  ctx_connect(&c, host, NULL);
  assert_int_equal(c.failed, 0); /* never from inside nt_tcp_connect */
  assert_true(run_until(c.r, c_failed, &c, 5000));
  assert_int_equal(c.failed, 1);
  assert_status(c.fail_status, NT_ECONNREFUSED);
  assert_int_equal(c.ncli, 0);
  close(holder);
  ctx_finish(&c);
  assert_int_equal(c.failed, 1);
}

static void test_connection_refused(void **state) {
  (void)state;
  refused_on(AF_INET, "127.0.0.1");
  if (ipv6_available()) refused_on(AF_INET6, "::1");
}

static void test_connector_cancel(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_non_null(c.conn);
  c.in_api = 1;
  nt_connector_cancel(c.conn);
  c.in_api = 0;
  assert_int_equal(c.fail_sync, 0); /* from the loop, not from cancel */
  assert_true(run_until(c.r, c_failed, &c, 5000));
  assert_int_equal(c.failed, 1);
  assert_status(c.fail_status, NT_ECANCELED);
  assert_int_equal(c.ncli, 0);
  /* The loop goes on a little: the cancelled attempt must stay dead. */
  ctx_close_listener(&c);
  assert_true(run_bounded(c.r, 2000));
  assert_int_equal(c.ncli, 0);
  assert_int_equal(c.failed, 1);
  ctx_finish(&c);
}

/* A raw listener with backlog 0 whose queue we fill and never accept: the
 * kernel drops further SYNs, so a new attempt can only time out. */
static void test_connect_timeout(void **state) {
  (void)state;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(lfd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(lfd, 0), 0);
  socklen_t al = sizeof a;
  assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
  int fillers[8], nf = 0, stuck = 0;
  while (nf < 8 && !stuck) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    fillers[nf++] = fd;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) continue;
    assert_int_equal(errno, EINPROGRESS);
    struct pollfd pfd = {fd, POLLOUT, 0};
    if (poll(&pfd, 1, 100) == 0) stuck = 1;
  }
  tctx_t c;
  ctx_init(&c);
  c.port = ntohs(a.sin_port);
  if (!stuck) {
    print_message("kernel accepted every connection: cannot test a timeout\n");
  } else {
    nt_tcp_connect_options_t o = {.timeout_ms = 300};
    uint64_t t0 = mono_ms();
    ctx_connect(&c, "127.0.0.1", &o);
    int done = run_until(c.r, c_failed, &c, 5000);
    uint64_t el = mono_ms() - t0;
    if (!done && c.ncli > 0) {
      print_message("kernel completed the connection anyway: skipping\n");
      stuck = 0;
    } else {
      assert_true(done);
      assert_status(c.fail_status, NT_ETIMEDOUT);
      assert_int_equal(c.ncli, 0);
      if (el < 250 || el > 2500)
        fail_msg("timed out after %llu ms, want about 300",
                 (unsigned long long)el);
    }
  }
  ctx_finish(&c);
  for (int i = 0; i < nf; i++) close(fillers[i]);
  close(lfd);
  if (!stuck) skip();
}

static void test_bad_address_and_port(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  /* Hosts that are neither a numeric address nor a possible host name (so
   * no DNS query can go out): NT_EBADADDR, or NT_EDNS_BADNAME where the
   * connector also takes names. */
  static const char *const bad_hosts[] = {"not an ip", "bad@host", "::1::2",
                                          "[::1", "127.0.0.1/8"};
  for (size_t i = 0; i < sizeof bad_hosts / sizeof bad_hosts[0]; i++) {
    nt_connector_t *conn = NULL;
    int rc = nt_tcp_connect(c.r, bad_hosts[i], 80, &c.cfact, NULL, &conn);
    if (strcmp(nt_err_name(rc), "EBADADDR") &&
        strcmp(nt_err_name(rc), "EDNS_BADNAME"))
      fail_msg("connect('%s', 80) = %s, want EBADADDR (or EDNS_BADNAME)",
               bad_hosts[i], nt_err_name(rc));
  }
  static const struct {
    const char *host;
    int port;
  } bad_ports[] = {{"127.0.0.1", 0},
                   {"127.0.0.1", -1},
                   {"127.0.0.1", 65536},
                   {"127.0.0.1", 70000},
                   {"::1", 0}};
  for (size_t i = 0; i < sizeof bad_ports / sizeof bad_ports[0]; i++) {
    nt_connector_t *conn = NULL;
    int rc = nt_tcp_connect(c.r, bad_ports[i].host, bad_ports[i].port, &c.cfact,
                            NULL, &conn);
    if (rc != NT_EBADPORT)
      fail_msg("connect('%s', %d) = %s, want EBADPORT", bad_ports[i].host,
               bad_ports[i].port, nt_err_name(rc));
  }
  nt_listener_t *l = NULL;
  assert_status(nt_tcp_listen(c.r, "bogus host", 0, &c.sfact, NULL, &l),
                NT_EBADADDR);
  assert_status(nt_tcp_listen(c.r, "127.0.0.1", 70000, &c.sfact, NULL, &l),
                NT_EBADPORT);
  assert_status(nt_tcp_listen(c.r, "127.0.0.1", -1, &c.sfact, NULL, &l),
                NT_EBADPORT);
  assert_null(l);
  /* No callback of any kind, and nothing left to keep the loop alive. */
  assert_true(run_bounded(c.r, 1000));
  assert_int_equal(c.started, 0);
  assert_int_equal(c.failed, 0);
  assert_int_equal(c.ncli, 0);
  ctx_finish(&c);
}

static void test_address_in_use(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  ctx_listen(&c, "127.0.0.1", NULL);
  nt_listener_t *l2 = NULL;
  assert_status(nt_tcp_listen(c.r, "127.0.0.1", c.port, &c.sfact, NULL, &l2),
                NT_EADDRINUSE);
  assert_null(l2);
  /* The first listener still works. */
  c.setup = echo_setup;
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 5000));
  assert_string_equal(c.cli[0].rx, echo_msg);
  ctx_finish(&c);
}

/* The server refuses the connection (build_protocol returns NULL): the
 * client sees it closed. */
static void test_server_refuses_in_build(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  c.refuse_server = 1;
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_cli0_gone, &c, 5000));
  assert_int_equal(c.nsrv, 1);
  assert_true(c.cli[0].made);
  assert_true(c.cli[0].lost_status == 0 ||
              c.cli[0].lost_status == NT_ECONNRESET);
  ctx_finish(&c);
}

/* --- close_all ------------------------------------------------------------ */

static void test_close_all(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_first_pair_made, &c, 5000));
  /* A second attempt, still pending (the loop has not run since). */
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_non_null(c.conn);
  /* Queue some data that close_all must drop. */
  assert_status(nt_transport_write_str(c.cli[0].t, "dropped?"), 0);
  nt_reactor_close_all(c.r);
  /* Everything ended before close_all returned. */
  assert_true(c.cli[0].lost && c.cli[0].destroyed);
  assert_true(c.srv[0].lost && c.srv[0].destroyed);
  assert_status(c.cli[0].lost_status, NT_ECONNABORTED);
  assert_status(c.srv[0].lost_status, NT_ECONNABORTED);
  assert_int_equal(c.failed, 1);
  assert_status(c.fail_status, NT_ECANCELED);
  assert_int_equal(c.ncli, 1);
  ctx_close_listener(&c);
  /* Nothing is left: run() returns at once. */
  uint64_t t0 = mono_ms();
  assert_true(run_bounded(c.r, 2000));
  assert_true(mono_ms() - t0 < 1000);
  assert_int_equal(c.ncli, 1);
  assert_int_equal(c.failed, 1);
  ctx_finish(&c);
}

/* --- pause_reading / resume_reading --------------------------------------- */

static void pr_cli_made(peer_t *p) {
  assert_status(nt_transport_write_str(p->t, "ping"), 0);
}

static void pr_cli_second(peer_t *p) {
  /* 50 ms into the server's pause: more data, then our close. */
  assert_status(nt_transport_write_str(p->t, "+pong"), 0);
  nt_transport_lose_connection(p->t);
}

static void pr_srv_check(peer_t *p) {
  /* 150 ms paused: nothing may have been delivered. */
  p->n1 = (int)p->rx_total;
  p->n2 = p->eof;
  nt_transport_resume_reading(p->t);
  nt_transport_resume_reading(p->t); /* twice is harmless */
}

static void pr_srv_made(peer_t *p) {
  nt_transport_pause_reading(p->t);
  nt_transport_pause_reading(p->t); /* twice is harmless */
  p->h_timer = pr_srv_check;
  peer_timer(p, 150);
}

static void pr_setup(peer_t *p) {
  if (p->is_client) {
    p->h_made = pr_cli_made;
    p->h_timer = pr_cli_second;
    peer_timer(p, 50);
  } else {
    p->h_made = pr_srv_made;
  }
}

static void test_pause_reading(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  c.setup = pr_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 5000));
  peer_t *sv = &c.srv[0];
  assert_int_equal(sv->n1, 0); /* nothing while paused */
  assert_int_equal(sv->n2, 0); /* not even the EOF */
  assert_string_equal(sv->rx, "ping+pong");
  assert_true(sv->eof);
  assert_status(sv->lost_status, 0);
  assert_status(c.cli[0].lost_status, 0);
  ctx_finish(&c);
}

/* --- run() returns by itself ---------------------------------------------- */

static void noop_timer(nt_timer_t *t) { *(int *)t->data += 1; }

static void close_listener_on_lost(peer_t *p, int status) {
  (void)status;
  if (p->is_client) ctx_close_listener(p->ctx);
}

static void rr_setup(peer_t *p) {
  echo_setup(p);
  p->h_lost = close_listener_on_lost;
}

static void test_run_returns_by_itself(void **state) {
  (void)state;
  /* Nothing at all. */
  nt_reactor_t *r = reactor_new();
  uint64_t t0 = mono_ms();
  assert_status(nt_reactor_run(r), 0);
  assert_true(mono_ms() - t0 < 500);
  /* A timer: run() returns after it fired. */
  nt_timer_t t;
  int fired = 0;
  nt_timer_init(r, &t, noop_timer);
  t.data = &fired;
  nt_reactor_update_time(r);
  assert_status(nt_timer_start(&t, 30, 0), 0);
  t0 = mono_ms();
  assert_true(run_bounded(r, 3000));
  assert_int_equal(fired, 1);
  assert_true(mono_ms() - t0 >= 25);
  /* An unreferenced timer alone does not keep it alive. */
  nt_timer_unref(&t);
  assert_status(nt_timer_start(&t, 2000, 0), 0);
  t0 = mono_ms();
  assert_status(nt_reactor_run(r), 0);
  assert_true(mono_ms() - t0 < 500);
  assert_int_equal(fired, 1);
  nt_timer_stop(&t);
  assert_int_equal(nt_test_reactor_free(r), 0);

  /* A connection whose client closes the listener when done: no stop
   * needed. */
  tctx_t c;
  ctx_init(&c);
  c.setup = rr_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_bounded(c.r, 5000));
  assert_true(c.cli[0].destroyed && c.srv[0].destroyed);
  assert_string_equal(c.cli[0].rx, echo_msg);
  assert_null(c.listener);
  ctx_finish(&c);
}

/* --- call_from_thread ----------------------------------------------------- */

#define NCALLS 100

typedef struct {
  nt_reactor_t *r;
  pthread_t loop_thread;
  int order[NCALLS];
  int ncalled;
  int wrong_thread;
  int idx[NCALLS];
  uint64_t t_called;
} cft_t;

static cft_t *g_cft;

static void cft_cb(void *arg) {
  int i = *(int *)arg;
  cft_t *s = g_cft;
  if (!pthread_equal(pthread_self(), s->loop_thread)) s->wrong_thread++;
  if (s->ncalled < NCALLS) s->order[s->ncalled] = i;
  s->ncalled++;
  if (s->ncalled == NCALLS) {
    s->t_called = mono_ms();
    nt_reactor_unref(s->r); /* the thread's work is done */
  }
}

static void *cft_thread(void *arg) {
  cft_t *s = arg;
  struct timespec d = {0, 80 * 1000000L};
  nanosleep(&d, NULL);
  for (int i = 0; i < NCALLS; i++)
    nt_call_from_thread(s->r, cft_cb, &s->idx[i]);
  return NULL;
}

static void test_call_from_thread(void **state) {
  (void)state;
  cft_t s;
  memset(&s, 0, sizeof s);
  g_cft = &s;
  s.r = reactor_new();
  s.loop_thread = pthread_self();
  for (int i = 0; i < NCALLS; i++) s.idx[i] = i;
  nt_reactor_ref(s.r); /* the thread has work for the loop */
  pthread_t th;
  uint64_t t0 = mono_ms();
  assert_int_equal(pthread_create(&th, NULL, cft_thread, &s), 0);
  /* The loop blocks with no timer to wake it (the guard fires at 3 s):
   * only the thread's wake-up can end run() early. */
  int by_itself = run_bounded(s.r, 3000);
  pthread_join(th, NULL);
  assert_true(by_itself);
  assert_int_equal(s.ncalled, NCALLS);
  assert_int_equal(s.wrong_thread, 0);
  for (int i = 0; i < NCALLS; i++) assert_int_equal(s.order[i], i);
  assert_true(s.t_called - t0 >= 70);
  assert_true(s.t_called - t0 < 1500);
  assert_int_equal(nt_test_reactor_free(s.r), 0);
}

static void *stopper_thread(void *arg) {
  struct timespec d = {0, 50 * 1000000L};
  nanosleep(&d, NULL);
  nt_reactor_stop_from_thread(arg);
  return NULL;
}

static void test_stop_from_thread(void **state) {
  (void)state;
  nt_reactor_t *r = reactor_new();
  nt_reactor_ref(r); /* alive until stopped */
  pthread_t th;
  uint64_t t0 = mono_ms();
  assert_int_equal(pthread_create(&th, NULL, stopper_thread, r), 0);
  int by_itself = run_bounded(r, 3000);
  pthread_join(th, NULL);
  assert_true(by_itself);
  assert_true(mono_ms() - t0 < 1500);
  nt_reactor_unref(r);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- signals -------------------------------------------------------------- */

typedef struct {
  int calls, last;
  int stop;
} sigrec_t;

static void sig_cb(nt_reactor_t *r, int signum, void *arg) {
  sigrec_t *s = arg;
  s->calls++;
  s->last = signum;
  if (s->stop) nt_reactor_stop(r);
}

static void raise_term_timer(nt_timer_t *t) {
  (void)t;
  raise(SIGTERM);
}

static void *kill_thread(void *arg) {
  struct timespec d = {0, 50 * 1000000L};
  nanosleep(&d, NULL);
  kill(getpid(), *(int *)arg);
  return NULL;
}

static int sig_is_default(int sig) {
  struct sigaction sa;
  sigaction(sig, NULL, &sa);
  return sa.sa_handler == SIG_DFL;
}

static void test_sigterm_stops_run(void **state) {
  (void)state;
  /* cb NULL: SIGTERM raised from a timer callback stops the reactor. */
  nt_reactor_t *r = reactor_new();
  assert_status(nt_reactor_handle_signals(r, NULL, NULL), 0);
  nt_reactor_ref(r); /* nothing else would end run() */
  nt_timer_t t;
  nt_timer_init(r, &t, raise_term_timer);
  nt_reactor_update_time(r);
  assert_status(nt_timer_start(&t, 20, 0), 0);
  uint64_t t0 = mono_ms();
  assert_true(run_bounded(r, 3000));
  assert_true(mono_ms() - t0 < 1500);
  nt_reactor_unref(r);
  assert_int_equal(nt_test_reactor_free(r), 0);
  /* Freeing the owner gives the signals back. */
  assert_true(sig_is_default(SIGTERM));
  assert_true(sig_is_default(SIGINT));

  /* With a callback, SIGTERM sent by another thread while the loop blocks. */
  r = reactor_new();
  sigrec_t s = {0, 0, 1};
  assert_status(nt_reactor_handle_signals(r, sig_cb, &s), 0);
  nt_reactor_ref(r);
  int sig = SIGTERM;
  pthread_t th;
  t0 = mono_ms();
  assert_int_equal(pthread_create(&th, NULL, kill_thread, &sig), 0);
  int by_itself = run_bounded(r, 3000);
  pthread_join(th, NULL);
  assert_true(by_itself);
  assert_int_equal(s.calls, 1);
  assert_int_equal(s.last, SIGTERM);
  assert_true(mono_ms() - t0 < 1500);

  /* SIGINT likewise, on the same reactor. */
  s.calls = 0;
  sig = SIGINT;
  assert_int_equal(pthread_create(&th, NULL, kill_thread, &sig), 0);
  by_itself = run_bounded(r, 3000);
  pthread_join(th, NULL);
  assert_true(by_itself);
  assert_int_equal(s.calls, 1);
  assert_int_equal(s.last, SIGINT);
  nt_reactor_unref(r);
  assert_int_equal(nt_test_reactor_free(r), 0);
  assert_true(sig_is_default(SIGTERM));
}

/* Moving the signals to another reactor, and calling it again on the same
 * one to change the callback. */
static void test_handle_signals_again(void **state) {
  (void)state;
  nt_reactor_t *a = reactor_new(), *b = reactor_new();
  sigrec_t sa = {0, 0, 1}, sb = {0, 0, 1};
  assert_status(nt_reactor_handle_signals(a, sig_cb, &sa), 0);
  assert_status(nt_reactor_handle_signals(b, sig_cb, &sb), 0);
  nt_reactor_ref(b);
  nt_timer_t t;
  nt_timer_init(b, &t, raise_term_timer);
  nt_reactor_update_time(b);
  assert_status(nt_timer_start(&t, 20, 0), 0);
  assert_true(run_bounded(b, 3000));
  assert_int_equal(sb.calls, 1);
  assert_int_equal(sa.calls, 0);
  /* Again on b, with a new callback record. */
  sigrec_t sb2 = {0, 0, 1};
  int rc = nt_reactor_handle_signals(b, sig_cb, &sb2);
  if (rc) {
    nt_reactor_unref(b);
    nt_reactor_free(b);
    nt_reactor_free(a);
    fail_msg("nt_reactor_handle_signals called again on the same reactor: %s "
             "[backend %s]",
             nt_err_name(rc), g_backend);
  }
  assert_status(nt_timer_start(&t, 20, 0), 0);
  assert_true(run_bounded(b, 3000));
  assert_int_equal(sb2.calls, 1);
  assert_int_equal(sb.calls, 1);
  nt_reactor_unref(b);
  assert_int_equal(nt_test_reactor_free(b), 0);
  assert_int_equal(nt_test_reactor_free(a), 0);
}

/* --- TCP options ---------------------------------------------------------- */

static int sockopt_int(int fd, int level, int opt) {
  int v = -1;
  socklen_t l = sizeof v;
  assert_int_equal(getsockopt(fd, level, opt, &v, &l), 0);
  return v;
}

static void opt_made(peer_t *p) {
  int fd = nt_tcp_fileno(p->t);
  if (fd < 0) {
    violate(p, "nt_tcp_fileno = %d on a TCP transport", fd);
    return;
  }
  /* From the listen/connect options. */
  p->n1 = sockopt_int(fd, IPPROTO_TCP, TCP_NODELAY) ? 1 : 0;
  p->n2 = sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE) ? 1 : 0;
  if (nt_tcp_set_nodelay(p->t, 1) != 0) violate(p, "set_nodelay(1) failed");
  if (!sockopt_int(fd, IPPROTO_TCP, TCP_NODELAY)) violate(p, "nodelay not on");
  if (nt_tcp_set_nodelay(p->t, 0) != 0) violate(p, "set_nodelay(0) failed");
  if (sockopt_int(fd, IPPROTO_TCP, TCP_NODELAY)) violate(p, "nodelay not off");
  if (nt_tcp_set_keepalive(p->t, 1, 37) != 0) violate(p, "keepalive failed");
  if (!sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE)) violate(p, "keepalive off");
  if (sockopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE) != 37)
    violate(p, "keepidle not 37");
  if (nt_tcp_set_keepalive(p->t, 0, 0) != 0) violate(p, "keepalive(0) failed");
  if (sockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE)) violate(p, "keepalive on");
  if (p->is_client) nt_transport_lose_connection(p->t);
}

static void opt_setup(peer_t *p) { p->h_made = opt_made; }

static void test_tcp_options(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  c.setup = opt_setup;
  nt_tcp_listen_options_t lo = {.nodelay = 1, .keepalive_s = 60};
  ctx_listen(&c, "127.0.0.1", &lo);
  nt_tcp_connect_options_t co = {.nodelay = 1, .keepalive_s = 45};
  ctx_connect(&c, "127.0.0.1", &co);
  assert_true(run_until(c.r, c_first_pair_gone, &c, 5000));
  assert_clean(&c.cli[0]);
  assert_clean(&c.srv[0]);
  assert_int_equal(c.srv[0].n1, 1); /* listen option nodelay */
  assert_int_equal(c.srv[0].n2, 1); /* listen option keepalive_s */
  assert_int_equal(c.cli[0].n1, 1); /* connect option nodelay */
  assert_int_equal(c.cli[0].n2, 1); /* connect option keepalive_s */
  ctx_finish(&c);

  /* Not a TCP transport: NT_EINVAL, no fd. */
  nt_reactor_t *tr;
  assert_status(nt_test_reactor_new(&tr), 0);
  peer_t p;
  memset(&p, 0, sizeof p);
  nt_protocol_init(&p.base, &peer_ops);
  p.raw_fd = -1;
  nt_test_transport_t *tt = nt_test_transport_new(tr, &p.base);
  assert_non_null(tt);
  nt_transport_t *t = nt_test_transport_base(tt);
  assert_string_equal(t->ops->name, "memory");
  assert_status(nt_tcp_set_nodelay(t, 1), NT_EINVAL);
  assert_status(nt_tcp_set_keepalive(t, 1, 10), NT_EINVAL);
  assert_int_equal(nt_tcp_fileno(t), -1);
  nt_test_transport_free(tt);
  assert_true(p.lost && p.destroyed);
  free(p.rx);
  assert_int_equal(nt_test_reactor_free(tr), 0);
}

/* --- many connections at once --------------------------------------------- */

static void many_cli_made(peer_t *p) {
  char msg[64];
  snprintf(msg, sizeof msg, "client %d says hi\n", p->index);
  assert_status(nt_transport_write_str(p->t, msg), 0);
}

static void many_cli_data(peer_t *p, const char *d, size_t n) {
  (void)d;
  (void)n;
  if (p->rx_len && p->rx[p->rx_len - 1] == '\n')
    nt_transport_lose_connection(p->t);
}

static void many_setup(peer_t *p) {
  if (p->is_client) {
    p->h_made = many_cli_made;
    p->h_data = many_cli_data;
  } else {
    p->h_data = echo_srv_data;
  }
}

static int c_all_gone(void *arg) {
  tctx_t *c = arg;
  if (c->ncli < MAXP || c->nsrv < MAXP) return 0;
  for (int i = 0; i < MAXP; i++)
    if (!c->cli[i].destroyed || !c->srv[i].destroyed) return 0;
  return 1;
}

static void test_many_connections(void **state) {
  (void)state;
  tctx_t c;
  ctx_init(&c);
  c.setup = many_setup;
  ctx_listen(&c, "127.0.0.1", NULL);
  for (int i = 0; i < MAXP; i++) ctx_connect(&c, "127.0.0.1", NULL);
  assert_true(run_until(c.r, c_all_gone, &c, 5000));
  for (int i = 0; i < MAXP; i++) {
    char msg[64];
    snprintf(msg, sizeof msg, "client %d says hi\n", i);
    assert_string_equal(c.cli[i].rx, msg);
    assert_status(c.cli[i].lost_status, 0);
    assert_status(c.srv[i].lost_status, 0);
  }
  ctx_finish(&c);
}

/* --- main ----------------------------------------------------------------- */

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_echo_ipv4),
      cmocka_unit_test(test_echo_ipv6),
      cmocka_unit_test(test_timestamp_tcp),
      cmocka_unit_test(test_ts_client_reply_forms),
      cmocka_unit_test(test_ts_client_reply_too_big),
      cmocka_unit_test(test_ts_client_close_while_waiting),
      cmocka_unit_test(test_ts_client_refused_and_close_early),
      cmocka_unit_test(test_backpressure_large_transfer),
      cmocka_unit_test(test_backpressure_lose_inside_resume),
      cmocka_unit_test(test_backpressure_big_write_inside_resume),
      cmocka_unit_test(test_backpressure_write_eof_inside_resume),
      cmocka_unit_test(test_write_file),
      cmocka_unit_test(test_write_file_between_big_writes),
      cmocka_unit_test_teardown(test_write_file_copy_fallback, sendfile_allowed),
      cmocka_unit_test(test_half_close),
      cmocka_unit_test(test_half_close_both_sides),
      cmocka_unit_test(test_lose_connection_flushes),
      cmocka_unit_test(test_abort_drops_queue),
      cmocka_unit_test(test_abort_error_status),
      cmocka_unit_test(test_peer_reset_reader),
      cmocka_unit_test(test_peer_reset_writer),
      cmocka_unit_test(test_connection_refused),
      cmocka_unit_test(test_connector_cancel),
      cmocka_unit_test(test_connect_timeout),
      cmocka_unit_test(test_bad_address_and_port),
      cmocka_unit_test(test_address_in_use),
      cmocka_unit_test(test_server_refuses_in_build),
      cmocka_unit_test(test_close_all),
      cmocka_unit_test(test_pause_reading),
      cmocka_unit_test(test_run_returns_by_itself),
      cmocka_unit_test(test_call_from_thread),
      cmocka_unit_test(test_stop_from_thread),
      cmocka_unit_test(test_sigterm_stops_run),
      cmocka_unit_test(test_handle_signals_again),
      cmocka_unit_test(test_tcp_options),
      cmocka_unit_test(test_many_connections),
  };
  return itest_run_backends("tcp", tests) ? 1 : 0;
}
