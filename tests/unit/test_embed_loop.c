/* Embedding the reactor in another loop (reactor.h, "embedding"): the
 * backend fd is pollable and readable exactly when there is I/O to
 * dispatch (thread wake-ups included), backend_timeout says how long the
 * host may sleep, and run_once(r, 0) runs what is ready without blocking.
 * A host loop made of poll(2) on the backend fd drives timers, pipes and
 * calls from a thread to the end, and a TCP echo written to from the host's
 * own code. Real reactors, every case on epoll and on io_uring (the ring's
 * fd; skipped where io_uring cannot be set up), plus the virtual clock for
 * exact timeouts. */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <nettool/protocol.h>
#include <nettool/reactor.h>
#include <nettool/tcp.h>
#include <nettool/testing.h>
#include <nettool/transport.h>

static const char *g_backend = "epoll";

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static nt_reactor_t *new_reactor(const char *backend) {
  nt_reactor_options_t o = {backend, 0};
  nt_reactor_t *r;
  assert_int_equal(nt_reactor_new(&r, &o), 0);
  assert_string_equal(nt_reactor_backend_name(r), backend);
  return r;
}

/* Whether fd is readable right now. */
static int readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void count_cb(void *arg) { (*(int *)arg)++; }
static void timer_count(nt_timer_t *t) { (*(int *)t->data)++; }

typedef struct {
  nt_io_t io;
  int fds[2];
  int reads;
} pipe_w;

static void pipe_cb(nt_io_t *io, unsigned events) {
  pipe_w *p = (pipe_w *)io;
  char buf[16];
  (void)events;
  if (read(io->fd, buf, sizeof buf) > 0) p->reads++;
}

static void pipe_open(nt_reactor_t *r, pipe_w *p) {
  memset(p, 0, sizeof *p);
  assert_int_equal(pipe(p->fds), 0);
  nt_io_init(r, &p->io, p->fds[0], pipe_cb);
}

static void pipe_close(pipe_w *p) {
  nt_io_stop(&p->io);
  close(p->fds[0]);
  close(p->fds[1]);
}

/* --- the backend fd ------------------------------------------------------- */

/* The host calls backend_timeout right before it sleeps (reactor.h): on
 * io_uring that hands the ring's queued polls to the kernel, without which
 * the ring fd would never become readable. */
static void test_backend_fd(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor(g_backend);
  int fd = nt_reactor_backend_fd(r);
  assert_true(fd >= 0);
  assert_int_equal(nt_reactor_backend_timeout(r), -1);
  assert_false(readable(fd)); /* nothing to do */

  pipe_w p;
  pipe_open(r, &p);
  assert_int_equal(nt_io_start(&p.io, NT_READABLE), 0);
  assert_int_equal(nt_reactor_backend_timeout(r), -1);
  assert_false(readable(fd));
  assert_int_equal(write(p.fds[1], "x", 1), 1);
  assert_true(readable(fd)); /* a watched fd is ready */
  assert_int_equal(nt_reactor_run_once(r, 0), 1);
  assert_int_equal(p.reads, 1);
  assert_int_equal(nt_reactor_backend_timeout(r), -1);
  assert_false(readable(fd)); /* dispatched: quiet again */
  /* Watched again (level-triggered; re-armed on io_uring): a second write
   * wakes it a second time. */
  assert_int_equal(write(p.fds[1], "y", 1), 1);
  assert_true(readable(fd));
  assert_int_equal(nt_reactor_run_once(r, 0), 1);
  assert_int_equal(p.reads, 2);
  assert_false(readable(fd));
  pipe_close(&p);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_backend_fd_poll_not_supported(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor("poll");
  assert_int_equal(nt_reactor_backend_fd(r), NT_ENOTSUP);
  assert_string_equal(nt_err_name(NT_ENOTSUP), "ENOTSUP");
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- calls from another thread ------------------------------------------------ */

typedef struct {
  nt_reactor_t *r;
  int *counter;
} thread_arg_t;

static void *thread_main(void *arg) {
  thread_arg_t *a = arg;
  assert_int_equal(nt_call_from_thread(a->r, count_cb, a->counter), 0);
  return NULL;
}

/* The thread's call wakes the backend fd, backend_timeout says 0 while it
 * waits, and one non-blocking turn runs it. */
static void test_thread_call_wakes_fd(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor(g_backend);
  int fd = nt_reactor_backend_fd(r), ran = 0;
  assert_int_equal(nt_reactor_backend_timeout(r), -1);
  thread_arg_t a = {r, &ran};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, thread_main, &a), 0);
  /* The host loop sleeps on the fd, as GLib would: bounded at 5 s. */
  struct pollfd pf = {fd, POLLIN, 0};
  assert_int_equal(poll(&pf, 1, 5000), 1);
  pthread_join(th, NULL);
  assert_true(nt_reactor_alive(r));
  assert_int_equal(nt_reactor_backend_timeout(r), 0);
  assert_int_equal(ran, 0);
  assert_int_equal(nt_reactor_run_once(r, 0), 0); /* ran; nothing left */
  assert_int_equal(ran, 1);
  assert_false(readable(fd));
  assert_int_equal(nt_reactor_backend_timeout(r), -1);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- backend_timeout ---------------------------------------------------------- */

static void test_timeout_virtual_clock(void **state) {
  (void)state;
  nt_reactor_t *r;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  int fired = 0, soon = 0;
  assert_int_equal(nt_reactor_backend_timeout(r), -1);
  nt_timer_t t;
  nt_timer_init(r, &t, timer_count);
  t.data = &fired;
  nt_timer_start(&t, 1500, 0);
  assert_int_equal(nt_reactor_backend_timeout(r), 1500);
  nt_test_clock_advance(r, 400);
  assert_int_equal(nt_reactor_backend_timeout(r), 1100);
  /* An unreferenced timer counts too: the host loop still serves it. */
  nt_timer_t u;
  nt_timer_init(r, &u, timer_count);
  u.data = &fired;
  nt_timer_unref(&u);
  nt_timer_start(&u, 700, 0);
  assert_int_equal(nt_reactor_backend_timeout(r), 700);
  /* A queued call: ready now. */
  assert_int_equal(nt_call_soon(r, count_cb, &soon), 0);
  assert_int_equal(nt_reactor_backend_timeout(r), 0);
  assert_int_equal(nt_reactor_run_once(r, 0), 1);
  assert_int_equal(soon, 1);
  assert_int_equal(nt_reactor_backend_timeout(r), 700);
  nt_timer_stop(&u);
  nt_timer_stop(&t);
  assert_int_equal(fired, 0);
  assert_int_equal(nt_reactor_backend_timeout(r), -1);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* Real clock: the host was busy elsewhere past a timer's due time; the
 * timeout reads the clock afresh (0, not the stale remainder), and one
 * non-blocking turn fires it. */
static void test_timeout_fresh_clock_and_due_timer(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor(g_backend);
  int fired = 0;
  nt_timer_t t;
  nt_timer_init(r, &t, timer_count);
  t.data = &fired;
  nt_timer_start(&t, 30, 0);
  int to = nt_reactor_backend_timeout(r);
  assert_true(to >= 0 && to <= 30); /* 0 only if this thread stalled 30 ms */
  usleep(50 * 1000); /* the host loop does its own work */
  assert_int_equal(nt_reactor_backend_timeout(r), 0);
  assert_int_equal(nt_reactor_run_once(r, 0), 0); /* fired; nothing left */
  assert_int_equal(fired, 1);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- run_once(r, 0) ------------------------------------------------------------ */

/* It never sleeps, even with a timer an hour away and nothing ready. */
static void test_run_once_nonblocking(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor(g_backend);
  int fired = 0;
  nt_timer_t t;
  nt_timer_init(r, &t, timer_count);
  t.data = &fired;
  nt_timer_start(&t, 3600 * 1000, 0);
  uint64_t t0 = now_ms();
  for (int i = 0; i < 100; i++) assert_int_equal(nt_reactor_run_once(r, 0), 1);
  assert_true(now_ms() - t0 < 1000);
  assert_int_equal(fired, 0);
  nt_timer_stop(&t);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* An unreferenced watcher's events are taken too: otherwise the backend fd
 * (level-triggered) would stay readable and spin the host loop. */
static void test_run_once_serves_unreferenced_io(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor(g_backend);
  int fd = nt_reactor_backend_fd(r);
  pipe_w p;
  pipe_open(r, &p);
  nt_io_unref(&p.io);
  assert_int_equal(nt_io_start(&p.io, NT_READABLE), 0);
  assert_false(nt_reactor_alive(r));
  assert_int_equal(nt_reactor_backend_timeout(r), -1); /* the host's prepare */
  assert_int_equal(write(p.fds[1], "y", 1), 1);
  assert_true(readable(fd));
  assert_int_equal(nt_reactor_run_once(r, 0), 0); /* not alive, but served */
  assert_int_equal(p.reads, 1);
  assert_false(readable(fd));
  pipe_close(&p);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* nt_reactor_stop inside run_once ends that call only: the next one
 * dispatches I/O again (before, the flag stayed set and every later
 * non-blocking turn skipped I/O). */
static void stop_cb(void *arg) { nt_reactor_stop(arg); }

static void test_stop_ends_one_call(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor(g_backend);
  pipe_w p;
  pipe_open(r, &p);
  assert_int_equal(nt_io_start(&p.io, NT_READABLE), 0);
  assert_int_equal(write(p.fds[1], "z", 1), 1);
  assert_int_equal(nt_call_soon(r, stop_cb, r), 0);
  assert_int_equal(nt_reactor_run_once(r, 0), 1);
  assert_int_equal(p.reads, 0); /* stopped before the I/O phase */
  assert_int_equal(nt_reactor_run_once(r, 0), 1);
  assert_int_equal(p.reads, 1);
  pipe_close(&p);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- a host loop ------------------------------------------------------------------ */

typedef struct {
  nt_reactor_t *r;
  nt_timer_t tick;
  int ticks;
  pipe_w p;
  int thread_calls;
} host_t;

static void host_tick(nt_timer_t *t) {
  host_t *h = t->data;
  if (++h->ticks == 3) {
    nt_timer_stop(t);
    assert_int_equal(write(h->p.fds[1], "go", 2), 2);
  }
}

static void host_pipe_cb(nt_io_t *io, unsigned events) {
  host_t *h = io->data;
  pipe_cb(io, events);
  nt_io_stop(io); /* then only the thread's call is left */
  nt_reactor_ref(h->r);
  thread_arg_t *a = malloc(sizeof *a);
  a->r = h->r;
  a->counter = &h->thread_calls;
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, thread_main, a), 0);
  pthread_join(th, NULL);
  free(a);
  nt_reactor_unref(h->r);
}

/* What GLib does, with poll(2): sleep on the backend fd for at most
 * backend_timeout, then one non-blocking turn; until nothing is alive.
 * A repeating 20 ms timer ticks three times, then a pipe write wakes a
 * watcher, which has a thread post a call; then the reactor is idle. */
static void test_host_poll_loop(void **state) {
  (void)state;
  host_t h;
  memset(&h, 0, sizeof h);
  /* t0 before the reactor: its timers count from the loop time it caches
   * (taken at creation, same clock), which a later t0 would pass. */
  uint64_t t0 = now_ms();
  h.r = new_reactor(g_backend);
  nt_timer_init(h.r, &h.tick, host_tick);
  h.tick.data = &h;
  nt_timer_start(&h.tick, 20, 20);
  pipe_open(h.r, &h.p);
  h.p.io.cb = host_pipe_cb;
  h.p.io.data = &h;
  assert_int_equal(nt_io_start(&h.p.io, NT_READABLE), 0);
  struct pollfd pf = {nt_reactor_backend_fd(h.r), POLLIN, 0};
  int turns = 0, alive = 1;
  while (alive && turns < 1000 && now_ms() - t0 < 5000) {
    int to = nt_reactor_backend_timeout(h.r);
    assert_true(to >= -1 && to <= 20);
    assert_true(poll(&pf, 1, to < 0 ? 5000 : to) >= 0);
    alive = nt_reactor_run_once(h.r, 0);
    assert_true(alive >= 0);
    turns++;
  }
  assert_int_equal(alive, 0);
  assert_int_equal(h.ticks, 3);
  assert_int_equal(h.p.reads, 1);
  assert_int_equal(h.thread_calls, 1);
  uint64_t el = now_ms() - t0;
  assert_true(el >= 60); /* three ticks of 20 ms: it slept, did not spin */
  assert_true(turns < 100);
  pipe_close(&h.p);
  assert_int_equal(nt_test_reactor_free(h.r), 0);
}

/* --- TCP through a host loop ------------------------------------------------------ */

/* An echo server and a client on loopback, driven only by a poll(2) host
 * loop. The host's own code (as a GLib timer callback would) writes 1 MiB
 * between turns: more than the socket takes at once, so the rest is queued,
 * and on io_uring goes out as a send queued in the ring. The host then
 * calls backend_timeout and sleeps on the backend fd with no timer
 * anywhere: if the queued send were not handed to the kernel before the
 * sleep, nothing would ever wake it (each sleep is capped at 2 s, and a
 * sleep that ends by its cap fails the test). */
#define ECHO_TOTAL (1024u * 1024u)

static unsigned char echo_pat(size_t i) { return (unsigned char)((i * 131u) ^ (i >> 9)); }

typedef struct {
  nt_protocol_t base;
  nt_transport_t *t;
  size_t rx;
  int bad, lost, lost_status;
} echo_peer_t;

static void ep_made(nt_protocol_t *p, nt_transport_t *t) { ((echo_peer_t *)p)->t = t; }

static void ep_srv_data(nt_protocol_t *p, const char *data, size_t len) {
  echo_peer_t *e = (echo_peer_t *)p;
  e->rx += len;
  if (nt_transport_write(e->t, data, len)) e->bad++;
}

static void ep_cli_data(nt_protocol_t *p, const char *data, size_t len) {
  echo_peer_t *e = (echo_peer_t *)p;
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)data[i] != echo_pat(e->rx + i)) e->bad++;
  e->rx += len;
  if (e->rx >= ECHO_TOTAL) nt_transport_lose_connection(e->t);
}

static void ep_lost(nt_protocol_t *p, int status) {
  echo_peer_t *e = (echo_peer_t *)p;
  e->lost++;
  e->lost_status = status;
  e->t = NULL;
}

static const nt_protocol_ops_t srv_ops = {
    .connection_made = ep_made, .data_received = ep_srv_data, .connection_lost = ep_lost};
static const nt_protocol_ops_t cli_ops = {
    .connection_made = ep_made, .data_received = ep_cli_data, .connection_lost = ep_lost};

static echo_peer_t g_srv, g_cli;
static int g_failed;

static nt_protocol_t *build_srv(nt_factory_t *f, const struct sockaddr *a, socklen_t l) {
  (void)f, (void)a, (void)l;
  nt_protocol_init(&g_srv.base, &srv_ops);
  return &g_srv.base;
}
static nt_protocol_t *build_cli(nt_factory_t *f, const struct sockaddr *a, socklen_t l) {
  (void)f, (void)a, (void)l;
  nt_protocol_init(&g_cli.base, &cli_ops);
  return &g_cli.base;
}
static void cli_failed(nt_factory_t *f, nt_connector_t *c, int status) {
  (void)f, (void)c, (void)status;
  g_failed = 1;
}

static void test_host_loop_tcp_echo(void **state) {
  (void)state;
  memset(&g_srv, 0, sizeof g_srv);
  memset(&g_cli, 0, sizeof g_cli);
  g_failed = 0;
  nt_reactor_t *r = new_reactor(g_backend);
  static const nt_factory_ops_t sf_ops = {.build_protocol = build_srv};
  static const nt_factory_ops_t cf_ops = {.build_protocol = build_cli,
                                          .connection_failed = cli_failed};
  nt_factory_t sf = {&sf_ops, NULL}, cf = {&cf_ops, NULL};
  nt_listener_t *l = NULL;
  assert_int_equal(nt_tcp_listen(r, "127.0.0.1", 0, &sf, NULL, &l), 0);
  assert_int_equal(nt_tcp_connect(r, "127.0.0.1", nt_listener_port(l), &cf, NULL, NULL), 0);
  char *msg = malloc(ECHO_TOTAL);
  assert_non_null(msg);
  for (size_t i = 0; i < ECHO_TOTAL; i++) msg[i] = (char)echo_pat(i);

  struct pollfd pf = {nt_reactor_backend_fd(r), POLLIN, 0};
  assert_true(pf.fd >= 0);
  int sent = 0, capped = 0, turns = 0;
  uint64_t t0 = now_ms();
  while ((g_cli.lost == 0 || g_srv.lost == 0) && !g_failed && turns < 100000 &&
         now_ms() - t0 < 20000) {
    if (g_cli.t && !sent) { /* the host's own code writes */
      assert_int_equal(nt_transport_write(g_cli.t, msg, ECHO_TOTAL), 0);
      sent = 1;
    }
    int to = nt_reactor_backend_timeout(r);
    int pr = poll(&pf, 1, to < 0 || to > 2000 ? 2000 : to);
    assert_true(pr >= 0);
    if (pr == 0 && (to < 0 || to > 2000)) capped++;
    assert_true(nt_reactor_run_once(r, 0) >= 0);
    turns++;
  }
  assert_false(g_failed);
  assert_int_equal(capped, 0); /* never slept with work stuck in user space */
  assert_int_equal(g_srv.rx, ECHO_TOTAL);
  assert_int_equal(g_cli.rx, ECHO_TOTAL);
  assert_int_equal(g_cli.bad, 0);
  assert_int_equal(g_srv.bad, 0);
  assert_int_equal(g_cli.lost, 1);
  assert_int_equal(g_srv.lost, 1);
  assert_int_equal(g_cli.lost_status, 0);
  free(msg);
  nt_listener_close(l);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static int on_epoll(void **state) {
  (void)state;
  g_backend = "epoll";
  return 0;
}

static int on_uring(void **state) {
  (void)state;
  g_backend = "io_uring";
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backend_fd),
      cmocka_unit_test(test_backend_fd_poll_not_supported),
      cmocka_unit_test(test_thread_call_wakes_fd),
      cmocka_unit_test(test_timeout_virtual_clock),
      cmocka_unit_test(test_timeout_fresh_clock_and_due_timer),
      cmocka_unit_test(test_run_once_nonblocking),
      cmocka_unit_test(test_run_once_serves_unreferenced_io),
      cmocka_unit_test(test_stop_ends_one_call),
      cmocka_unit_test(test_host_poll_loop),
      cmocka_unit_test(test_host_loop_tcp_echo),
  };
  int rc = cmocka_run_group_tests_name("embed_loop_epoll", tests, on_epoll, NULL);
  /* io_uring where the ring can be set up (else the reactor falls back to
   * epoll, already covered above). */
  nt_reactor_options_t o = {"io_uring", 0};
  nt_reactor_t *r;
  if (nt_reactor_new(&r, &o) != 0) return 1;
  int have = strcmp(nt_reactor_backend_name(r), "io_uring") == 0;
  nt_reactor_free(r);
  if (!have) {
    printf("# io_uring unavailable here: its group is skipped\n");
    return rc;
  }
  return rc | cmocka_run_group_tests_name("embed_loop_io_uring", tests, on_uring, NULL);
}
