/* The reconnecting client against a real server (a Python TCP server, run
 * through nettool's own process API) that is killed and started again four
 * times on the same loopback port: the client reconnects each time, its
 * delays grow while the server is down (and stay under the cap), and start
 * over after each connection; stop while waiting ends it. Both backends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nettool/errno.h"
#include "nettool/process.h"
#include "nettool/reactor.h"
#include "nettool/reconnect.h"
#include "nettool/transport.h"
#include "nettool/unix.h"

#include "itest_backends.h"

#define RESTARTS 4

/* A server that says which instance it is, then echoes. */
static const char *const SERVER_PY =
    "import socket, sys\n"
    "s = socket.socket()\n"
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "s.listen(8)\n"
    "print('ready', flush=True)\n"
    "while True:\n"
    "    c, _ = s.accept()\n"
    "    c.sendall(('hello %s\\n' % sys.argv[2]).encode())\n";

/* A free port in this test's range (22000-22999). */
static int pick_port(void) {
  for (int i = 0; i < 1000; i++) {
    int port = 22000 + (int)((getpid() + i * 7) % 1000);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    if (ok) return port;
  }
  fail_msg("no free port in 22000-22999");
  return -1;
}

typedef struct test test_t;

/* --- the server process ------------------------------------------------------ */

typedef struct server {
  nt_process_protocol_t base;
  test_t *t;
  int ready, exited;
} server_t;

struct test {
  nt_reactor_t *r;
  int port;
  server_t servers[RESTARTS + 1];
  int nservers;
  nt_process_t *live_server;
  nt_reconnect_t *rc;
  nt_timer_t restart;
  /* what the client saw */
  int connected, disconnected, failed;
  char hellos[RESTARTS + 1][32];
  uint64_t waits[256];
  int nwaits;
  int waits_at_connect[RESTARTS + 2];
  uint64_t down_at, up_at[RESTARTS + 1], connected_at[RESTARTS + 1];
  int done;
};

static void start_server(test_t *t);

static void srv_data(nt_process_protocol_t *pp, int fd, const char *d,
                     size_t n) {
  server_t *s = (server_t *)pp;
  (void)fd;
  if (!s->ready && n >= 5 && !memcmp(d, "ready", 5)) {
    s->ready = 1;
    test_t *t = s->t;
    t->up_at[t->nservers - 1] = mono_ms();
  }
}

static void srv_exited(nt_process_protocol_t *pp, int status, int sig) {
  server_t *s = (server_t *)pp;
  (void)status, (void)sig;
  s->exited = 1;
  test_t *t = s->t;
  if (s == &t->servers[t->nservers - 1]) t->live_server = NULL;
  t->down_at = mono_ms();
  /* Down for 700 ms: several attempts fail meanwhile. */
  if (!t->done) nt_timer_start(&t->restart, 700, 0);
}

static const nt_process_protocol_ops_t server_ops = {
    .data_received = srv_data,
    .child_exited = srv_exited,
};

static void start_server(test_t *t) {
  assert_true(t->nservers <= RESTARTS);
  server_t *s = &t->servers[t->nservers++];
  memset(s, 0, sizeof *s);
  s->base.ops = &server_ops;
  s->t = t;
  char port[16], inst[16];
  snprintf(port, sizeof port, "%d", t->port);
  snprintf(inst, sizeof inst, "%d", t->nservers);
  const char *argv[] = {"python3", "-c", SERVER_PY, port, inst, NULL};
  nt_process_options_t o;
  memset(&o, 0, sizeof o);
  o.stdio[0].mode = NT_STDIO_NULL;
  o.stdio[2].mode = NT_STDIO_INHERIT;
  assert_int_equal(nt_process_spawn(t->r, "python3", argv, &s->base, &o,
                                    &t->live_server),
                   0);
}

static void restart_cb(nt_timer_t *tm) {
  test_t *t = tm->data;
  if (t->nservers <= RESTARTS) start_server(t);
}

/* --- the client ------------------------------------------------------------------ */

typedef struct client {
  nt_protocol_t base;
  test_t *t;
  char buf[32];
  size_t len;
} client_t;

static void cl_data(nt_protocol_t *p, const char *d, size_t n) {
  client_t *c = (client_t *)p;
  test_t *t = c->t;
  size_t k = n < sizeof c->buf - 1 - c->len ? n : sizeof c->buf - 1 - c->len;
  memcpy(c->buf + c->len, d, k);
  c->len += k;
  if (!memchr(c->buf, '\n', c->len)) return;
  int i = t->connected - 1;
  snprintf(t->hellos[i], sizeof t->hellos[i], "%s", c->buf);
  if (t->connected == RESTARTS + 1) {
    /* The last one: stop with a server still up. */
    t->done = 1;
    nt_reconnect_stop(t->rc);
    t->rc = NULL;
    nt_process_kill(t->live_server, SIGTERM);
    return;
  }
  /* Take this server down; the client must come back to the next one. */
  assert_int_equal(nt_process_kill(t->live_server, SIGKILL), 0);
}

static void cl_destroy(nt_protocol_t *p) { free(p); }

static const nt_protocol_ops_t client_ops = {
    .data_received = cl_data,
    .destroy = cl_destroy,
};

static nt_protocol_t *build(nt_factory_t *f, const struct sockaddr *sa,
                            socklen_t len) {
  (void)sa, (void)len;
  client_t *c = calloc(1, sizeof *c);
  nt_protocol_init(&c->base, &client_ops);
  c->t = f->data;
  return &c->base;
}

static const nt_factory_ops_t factory_ops = {.build_protocol = build};

static void on_event(nt_reconnect_t *rc, int ev, int status, uint64_t delay,
                     unsigned n, void *arg) {
  test_t *t = arg;
  (void)rc, (void)n;
  switch (ev) {
  case NT_RECONNECT_CONNECTED:
    t->waits_at_connect[t->connected] = t->nwaits;
    t->connected_at[t->connected] = mono_ms();
    t->connected++;
    break;
  case NT_RECONNECT_DISCONNECTED:
    t->disconnected++;
    break;
  case NT_RECONNECT_FAILED:
    t->failed++;
    if (status != NT_ECONNREFUSED)
      fail_msg("attempt failed with %s", nt_err_name(status));
    break;
  case NT_RECONNECT_WAITING:
    if (t->nwaits < 256) t->waits[t->nwaits++] = delay;
    break;
  }
}

static void test_restarted_server(void **state) {
  (void)state;
  test_t *t = calloc(1, sizeof *t);
  nt_reactor_options_t ro = {.backend = g_backend};
  assert_int_equal(nt_reactor_new(&t->r, &ro), 0);
  t->port = pick_port();
  nt_timer_init(t->r, &t->restart, restart_cb);
  t->restart.data = t;
  start_server(t);
  nt_factory_t f = {&factory_ops, t};
  nt_reconnect_options_t o;
  memset(&o, 0, sizeof o);
  o.initial_delay_ms = 40;
  o.max_delay_ms = 300;
  o.factor = 2.0;
  o.jitter = 0.25;
  o.on_event = on_event;
  o.event_arg = t;
  /* Started before the server listens: the first attempts are refused. */
  assert_int_equal(nt_reconnect_start(t->r, "127.0.0.1", t->port, &f, &o, &t->rc), 0);
  nt_timer_t guard;
  nt_timer_init(t->r, &guard, guard_cb);
  nt_timer_unref(&guard);
  nt_timer_start(&guard, 60000, 0);
  assert_int_equal(nt_reactor_run(t->r), 0);
  nt_timer_stop(&guard);
  if (t->rc) nt_reconnect_stop(t->rc);
  assert_int_equal(t->connected, RESTARTS + 1);
  assert_int_equal(t->nservers, RESTARTS + 1);
  for (int i = 0; i <= RESTARTS; i++) {
    char want[32];
    snprintf(want, sizeof want, "hello %d\n", i + 1);
    assert_string_equal(t->hellos[i], want);
    /* back within the cap (jitter never passes it), a connect, and slack
     * for a loaded machine */
    if (t->connected_at[i] - t->up_at[i] > 300 + 1200)
      fail_msg("reconnected %llu ms after server %d was up",
               (unsigned long long)(t->connected_at[i] - t->up_at[i]), i + 1);
  }
  assert_int_equal(t->disconnected, RESTARTS);
  assert_true(t->failed >= RESTARTS * 3);
  /* While a server is down the delays grow (jitter 25%: 40, 80, 160, then
   * the 300 cap) and each connection starts the schedule over at ~40. */
  for (int k = 1; k <= RESTARTS; k++) {
    int a = t->waits_at_connect[k - 1], b = t->waits_at_connect[k];
    assert_true(b - a >= 4);
    assert_true(t->waits[a] <= 40 * 1.25 + 1); /* first wait after the loss */
    for (int i = a; i < b; i++) assert_true(t->waits[i] <= 300);
    assert_true(t->waits[b - 1] >= 160 * 0.75);
  }
  char line[512];
  size_t off = 0;
  for (int i = t->waits_at_connect[1]; i < t->waits_at_connect[2] && off < 400; i++)
    off += (size_t)snprintf(line + off, sizeof line - off, " %llu",
                            (unsigned long long)t->waits[i]);
  print_message("  %d connections, %d failed attempts; delays while server 2 "
                "was down:%s ms\n", t->connected, t->failed, line);
  assert_int_equal(nt_reactor_free(t->r), 0);
  free(t);
  int st;
  assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
}

/* --- the same over a UNIX socket, through the connect hook -------------------- */

typedef struct ux {
  nt_reactor_t *r;
  char name[64];
  nt_unix_listener_t *l;
  nt_factory_t sf, cf;
  nt_transport_t *srv_t; /* the server side of the live connection */
  nt_reconnect_t *rc;
  nt_timer_t relisten;
  int served, greeted, failed, other_failure;
} ux_t;

static ux_t *g_ux;

static void ux_srv_made(nt_protocol_t *p, nt_transport_t *t) {
  (void)p;
  g_ux->srv_t = t;
  nt_transport_write(t, "hi\n", 3);
}

static nt_protocol_t *ux_srv_build(nt_factory_t *f, const struct sockaddr *sa,
                                   socklen_t len);

static void ux_cl_data(nt_protocol_t *p, const char *d, size_t n) {
  ux_t *u = (ux_t *)((client_t *)p)->t;
  (void)d, (void)n;
  u->greeted++;
  if (u->greeted == 3) {
    nt_reconnect_stop(u->rc);
    u->rc = NULL;
    nt_unix_listener_close(u->l);
    u->l = NULL;
    return;
  }
  /* The server goes away: listener closed, connection dropped; it comes
   * back 150 ms later. */
  nt_unix_listener_close(u->l);
  u->l = NULL;
  nt_transport_abort(u->srv_t);
  nt_timer_start(&u->relisten, 150, 0);
}

static const nt_protocol_ops_t ux_client_ops = {.data_received = ux_cl_data,
                                                .destroy = cl_destroy};
static const nt_protocol_ops_t ux_server_ops = {.connection_made = ux_srv_made,
                                                .destroy = cl_destroy};

static nt_protocol_t *ux_srv_build(nt_factory_t *f, const struct sockaddr *sa,
                                   socklen_t len) {
  (void)sa, (void)len;
  ux_t *u = f->data;
  client_t *c = calloc(1, sizeof *c);
  nt_protocol_init(&c->base, &ux_server_ops);
  u->served++;
  return &c->base;
}

static nt_protocol_t *ux_cl_build(nt_factory_t *f, const struct sockaddr *sa,
                                  socklen_t len) {
  (void)sa, (void)len;
  client_t *c = calloc(1, sizeof *c);
  nt_protocol_init(&c->base, &ux_client_ops);
  c->t = f->data;
  return &c->base;
}

static const nt_factory_ops_t ux_sfops = {.build_protocol = ux_srv_build};
static const nt_factory_ops_t ux_cfops = {.build_protocol = ux_cl_build};

static void ux_relisten(nt_timer_t *tm) {
  ux_t *u = tm->data;
  assert_int_equal(nt_unix_listen(u->r, u->name, &u->sf, NULL, &u->l), 0);
}

static int ux_connect(void *arg, nt_reactor_t *r, nt_factory_t *f,
                      nt_connector_t **out) {
  ux_t *u = arg;
  return nt_unix_connect(r, u->name, f, NULL, out);
}

static void ux_event(nt_reconnect_t *rc, int ev, int status, uint64_t delay,
                     unsigned n, void *arg) {
  ux_t *u = arg;
  (void)rc, (void)delay, (void)n;
  if (ev == NT_RECONNECT_FAILED) {
    u->failed++;
    if (status != NT_ECONNREFUSED) u->other_failure = status;
  }
}

static void test_unix_socket_hook(void **state) {
  (void)state;
  ux_t *u = calloc(1, sizeof *u);
  g_ux = u;
  nt_reactor_options_t ro = {.backend = g_backend};
  assert_int_equal(nt_reactor_new(&u->r, &ro), 0);
  snprintf(u->name, sizeof u->name, "@nt-reconnect-%d", (int)getpid());
  u->sf.ops = &ux_sfops;
  u->sf.data = u;
  u->cf.ops = &ux_cfops;
  u->cf.data = u;
  nt_timer_init(u->r, &u->relisten, ux_relisten);
  u->relisten.data = u;
  assert_int_equal(nt_unix_listen(u->r, u->name, &u->sf, NULL, &u->l), 0);
  nt_reconnect_options_t o;
  memset(&o, 0, sizeof o);
  o.initial_delay_ms = 20;
  o.max_delay_ms = 100;
  o.jitter = -1;
  o.connect = ux_connect;
  o.connect_arg = u;
  o.on_event = ux_event;
  o.event_arg = u;
  assert_int_equal(nt_reconnect_start(u->r, NULL, 0, &u->cf, &o, &u->rc), 0);
  nt_timer_t guard;
  nt_timer_init(u->r, &guard, guard_cb);
  nt_timer_unref(&guard);
  nt_timer_start(&guard, 20000, 0);
  assert_int_equal(nt_reactor_run(u->r), 0); /* returns once all is stopped */
  nt_timer_stop(&guard);
  assert_int_equal(u->greeted, 3);
  assert_int_equal(u->served, 3);
  /* 20, 40, 80 ms...: about 3 refused attempts per 150 ms outage; at least
   * one each even on a loaded machine */
  assert_true(u->failed >= 2);
  assert_int_equal(u->other_failure, 0);
  assert_null(u->rc);
  assert_int_equal(nt_reactor_live(u->r, NULL), 0);
  assert_int_equal(nt_reactor_free(u->r), 0);
  free(u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_restarted_server),
      cmocka_unit_test(test_unix_socket_hook),
  };
  return itest_run_backends("reconnect", tests) ? 1 : 0;
}
