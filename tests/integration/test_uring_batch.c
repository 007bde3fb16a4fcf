/* The io_uring backend's batched waits (reactor/backend_uring.c,
 * batch_next): with many busy connections the loop waits for a batch of
 * completions (bounded by NETTOOL_URING_BATCH_US) instead of entering the
 * kernel about once per message; with one connection it never does (no
 * latency added to a client or a single transfer); it stops once the
 * load is gone; nor with large messages; NETTOOL_URING_BATCH_US=0 turns
 * it off. The load comes from
 * a thread, closed loop, 64-byte messages on socket pairs, like run.sh's
 * load generator. Every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nettool/reactor.h"
#include "nettool/tcp.h"
#include "nettool/testing.h"
#include "nettool/transport.h"
#include "reactor-int.h"
#include "itest_uring.h"

#define MSG 64
#define BIG 16384
#define MAXC 32

/* --- the server side: an echo protocol on the reactor --------------------- */

typedef struct {
  nt_protocol_t base;
  nt_transport_t *t;
  int destroyed;
} echo_t;

static void e_made(nt_protocol_t *p, nt_transport_t *t) { ((echo_t *)p)->t = t; }
static void e_data(nt_protocol_t *p, const char *d, size_t n) {
  assert_int_equal(nt_transport_write(((echo_t *)p)->t, d, n), 0);
}
static void e_destroy(nt_protocol_t *p) { ((echo_t *)p)->destroyed = 1; }
static const nt_protocol_ops_t echo_ops = {
    .connection_made = e_made, .data_received = e_data, .destroy = e_destroy};

/* --- the load: a thread, one message in flight per connection -------------- */

typedef struct {
  int fd[MAXC];
  int n;          /* connections */
  size_t size;    /* of a message */
  long total;     /* messages to complete */
  long done;      /* completed (the thread's) */
  atomic_int end; /* set by the thread when it stops */
  int error;
} load_t;

static void *load_run(void *arg) {
  load_t *l = arg;
  static _Thread_local char msg[BIG], buf[BIG];
  size_t size = l->size;
  size_t got[MAXC] = {0};
  long sent = 0;
  memset(msg, 'x', sizeof msg);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < l->n; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, l->fd[i], &ev);
    if (send(l->fd[i], msg, size, 0) != (ssize_t)size) l->error = 1;
    sent++;
  }
  uint64_t end = mono_ms() + 20000;
  while (!l->error && l->done < l->total && mono_ms() < end) {
    struct epoll_event evs[MAXC];
    int k = epoll_wait(ep, evs, MAXC, 100);
    for (int j = 0; j < k; j++) {
      int i = (int)evs[j].data.u32;
      ssize_t r = recv(l->fd[i], buf, size - got[i], MSG_DONTWAIT);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        l->error = 1;
        break;
      }
      got[i] += (size_t)r;
      if (got[i] < size) continue;
      got[i] = 0;
      l->done++;
      if (sent < l->total) {
        if (send(l->fd[i], msg, size, 0) != (ssize_t)size) l->error = 1;
        sent++;
      }
    }
  }
  close(ep);
  atomic_store(&l->end, 1);
  return NULL;
}

typedef struct {
  unsigned long enters, batch_waits;
  long msgs;
} phase_t;

/* Runs n connections' closed loop of total messages through r's echo
 * connections (fds[i] the reactor's sides); what the loop did meanwhile. */
static phase_t run_load_size(nt_reactor_t *r, int *peer, int n, long total,
                             size_t size) {
  load_t l;
  memset(&l, 0, sizeof l);
  memcpy(l.fd, peer, (size_t)n * sizeof *peer);
  l.n = n;
  l.total = total;
  l.size = size;
  phase_t ph = {nt__uring_stats.enters, nt__uring_stats.batch_waits, 0};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, load_run, &l), 0);
  nt_timer_t tick;
  nt_timer_init(r, &tick, tick_cb);
  nt_timer_start(&tick, 50, 50); /* the loop's waits stay bounded */
  uint64_t end = mono_ms() + 25000;
  while (!atomic_load(&l.end) && mono_ms() < end)
    assert_true(nt_reactor_run_once(r, 1) >= 0);
  nt_timer_stop(&tick);
  pthread_join(th, NULL);
  assert_int_equal(l.error, 0);
  assert_int_equal(l.done, total);
  ph.enters = nt__uring_stats.enters - ph.enters;
  ph.batch_waits = nt__uring_stats.batch_waits - ph.batch_waits;
  ph.msgs = l.done;
  return ph;
}

static phase_t run_load(nt_reactor_t *r, int *peer, int n, long total) {
  return run_load_size(r, peer, n, total, MSG);
}

typedef struct {
  nt_reactor_t *r;
  echo_t e[MAXC];
  int peer[MAXC];
  int n;
} rig_t;

static void rig_open(rig_t *g, int n) {
  memset(g, 0, sizeof *g);
  g->r = uring_new();
  g->n = n;
  for (int i = 0; i < n; i++) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    nt_protocol_init(&g->e[i].base, &echo_ops);
    nt_transport_t *t = NULL;
    assert_int_equal(nt_tcp_wrap_fd(g->r, sv[0], &g->e[i].base, &t), 0);
    g->peer[i] = sv[1];
  }
}

static void rig_close(rig_t *g) {
  for (int i = 0; i < g->n; i++) nt_transport_lose_connection(g->e[i].t);
  uint64_t end = mono_ms() + 5000;
  nt_timer_t tick;
  nt_timer_init(g->r, &tick, tick_cb);
  nt_timer_start(&tick, 2, 2);
  for (int i = 0; i < g->n; i++)
    while (!g->e[i].destroyed && mono_ms() < end)
      assert_true(nt_reactor_run_once(g->r, 1) >= 0);
  for (int i = 0; i < 20; i++) assert_true(nt_reactor_run_once(g->r, 1) >= 0);
  nt_timer_stop(&tick);
  for (int i = 0; i < g->n; i++) {
    assert_true(g->e[i].destroyed);
    close(g->peer[i]);
  }
  assert_int_equal(nt_test_reactor_free(g->r), 0);
}

static void print_phase(const char *what, phase_t p) {
  printf("# %s: %ld messages, %lu io_uring_enter (%.3f a message), %lu "
         "batched waits\n",
         what, p.msgs, p.enters, (double)p.enters / (double)p.msgs,
         p.batch_waits);
}

/* 32 busy connections: the loop batches; then one of them alone: it stops
 * batching at once (at most the wait that found the load gone). */
static void test_batches_under_load_only(void **state) {
  (void)state;
  rig_t g;
  rig_open(&g, MAXC);
  if (!nt__uring_batch_us(g.r)) {
    printf("# kernel without min_wait (before 6.12): waits are not batched\n");
    rig_close(&g);
    skip();
  }
  phase_t busy = run_load(g.r, g.peer, MAXC, 20000);
  print_phase("32 connections", busy);
  assert_true(busy.batch_waits > 0);
  /* Without batching a turn here takes about one message (1.4 enters a
   * message measured on 2 CPUs); batched, a turn takes many. */
  assert_true(busy.enters * 2 < (unsigned long)busy.msgs);
  phase_t one = run_load(g.r, g.peer, 1, 2000);
  print_phase("then 1 connection", one);
  assert_true(one.batch_waits <= 2);
  rig_close(&g);
}

/* One connection from the start: never a batched wait, so a client's or a
 * single transfer's round trips are not delayed. */
static void test_one_connection_never_batches(void **state) {
  (void)state;
  rig_t g;
  rig_open(&g, 1);
  phase_t one = run_load(g.r, g.peer, 1, 3000);
  print_phase("1 connection", one);
  assert_int_equal(one.batch_waits, 0);
  rig_close(&g);
}

/* 32 busy connections with 16 KiB messages: every chunk fills its 2 KiB
 * buffer, and such turns do not batch (the per-byte work outweighs what a
 * batch saves, and waiting let data pile up: twice the CPU per message in
 * run.sh at 1,000 connections). */
static void test_large_messages_do_not_batch(void **state) {
  (void)state;
  rig_t g;
  rig_open(&g, MAXC);
  phase_t big = run_load_size(g.r, g.peer, MAXC, 4000, BIG);
  print_phase("32 connections, 16 KiB messages", big);
  assert_true(big.batch_waits * 100 <= (unsigned long)big.msgs);
  rig_close(&g);
}

/* NETTOOL_URING_BATCH_US=0: read when the reactor is made. */
static void test_batching_off(void **state) {
  (void)state;
  setenv("NETTOOL_URING_BATCH_US", "0", 1);
  rig_t g;
  rig_open(&g, MAXC);
  unsetenv("NETTOOL_URING_BATCH_US");
  assert_int_equal(nt__uring_batch_us(g.r), 0);
  phase_t busy = run_load(g.r, g.peer, MAXC, 10000);
  print_phase("32 connections, NETTOOL_URING_BATCH_US=0", busy);
  assert_int_equal(busy.batch_waits, 0);
  rig_close(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_batches_under_load_only),
      cmocka_unit_test(test_one_connection_never_batches),
      cmocka_unit_test(test_large_messages_do_not_batch),
      cmocka_unit_test(test_batching_off),
  };
  if (!uring_available()) {
    printf("io_uring unavailable here: skipped\n");
    return 77;
  }
  return cmocka_run_group_tests_name("io_uring batched waits", tests, NULL, NULL);
}
