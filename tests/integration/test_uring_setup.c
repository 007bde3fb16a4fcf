/* How the io_uring backend sets its ring up (reactor/backend_uring.c,
 * flag_sets): SINGLE_ISSUER | DEFER_TASKRUN when the kernel takes them,
 * COOP_TASKRUN when it refuses them (simulated with nt__uring_flags_hook),
 * a ring created disabled so the thread that first runs the reactor is its
 * submitter (a reactor made on one thread and run on another, as
 * ts-server's workers are), and the move to an embeddable ring when a host
 * loop asks for the backend fd (DEFER_TASKRUN work never wakes a poller);
 * and the send copies' blocks kept for reuse (snd_get). On real sockets;
 * every wait bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "nettool/reactor.h"
#include "nettool/tcp.h"
#include "nettool/testing.h"
#include "nettool/transport.h"
#include "reactor-int.h"
#include "itest_uring.h"

#define DEFER (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)

/* --- a protocol that echoes a line and records what it got ------------------ */

typedef struct {
  nt_protocol_t base;
  nt_transport_t *t;
  char rx[256];
  size_t rx_len;
  int echo, paused, calls_while_paused, eof;
} peer_t;

static void p_made(nt_protocol_t *p, nt_transport_t *t) { ((peer_t *)p)->t = t; }

static void p_data(nt_protocol_t *p, const char *d, size_t n) {
  peer_t *c = (peer_t *)p;
  if (c->paused) c->calls_while_paused++;
  if (n > sizeof c->rx - c->rx_len) n = sizeof c->rx - c->rx_len;
  memcpy(c->rx + c->rx_len, d, n);
  c->rx_len += n;
  if (c->echo) nt_transport_write(c->t, d, n);
}

static int p_eof(nt_protocol_t *p) {
  peer_t *c = (peer_t *)p;
  if (c->paused) c->calls_while_paused++;
  c->eof = 1;
  return 1;
}

static const nt_protocol_ops_t peer_ops = {
    .connection_made = p_made, .data_received = p_data, .eof_received = p_eof};

static nt_transport_t *wrap_pair(nt_reactor_t *r, peer_t *c, int sv[2]) {
  memset(c, 0, sizeof *c);
  nt_protocol_init(&c->base, &peer_ops);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  nt_transport_t *t = NULL;
  assert_int_equal(nt_tcp_wrap_fd(r, sv[0], &c->base, &t), 0);
  return t;
}

/* The test's end reads n bytes (bounded by a 2 s poll). */
static int read_n(int fd, char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    struct pollfd pf = {fd, POLLIN, 0};
    if (poll(&pf, 1, 2000) != 1) return 0;
    ssize_t k = read(fd, buf + got, n - got);
    if (k <= 0) return 0;
    got += (size_t)k;
  }
  return 1;
}

static int got5(const peer_t *c) { return c->rx_len >= 5; }

/* An echo through the ring: bytes in, the same bytes back. */
static void echo_round_trip(nt_reactor_t *r) {
  peer_t c;
  int sv[2];
  nt_transport_t *t = wrap_pair(r, &c, sv);
  c.echo = 1;
  assert_int_equal(write(sv[1], "hello", 5), 5);
  int done = 0;
  uint64_t end = mono_ms() + 2000;
  while (!(done = got5(&c)) && mono_ms() < end) run_for(r, 2);
  assert_true(done);
  run_for(r, 5); /* the reply goes out with the next submission */
  char b[5];
  assert_true(read_n(sv[1], b, 5));
  assert_memory_equal(b, "hello", 5);
  nt_transport_abort(t);
  run_for(r, 5);
  close(sv[1]);
}

/* --- the flags ------------------------------------------------------------------ */

static void test_defer_taskrun_by_default(void **state) {
  (void)state;
  nt_reactor_t *r = uring_new();
  assert_int_equal(nt__uring_setup_flags(r) & DEFER, DEFER);
  echo_round_trip(r);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static unsigned g_tried[4];
static int g_ntried;

/* A kernel without DEFER_TASKRUN (before 6.1): the set that has it fails. */
static int refuse_defer(unsigned flags) {
  if (g_ntried < 4) g_tried[g_ntried++] = flags;
  return (flags & IORING_SETUP_DEFER_TASKRUN) != 0;
}

/* ... nor COOP_TASKRUN (before 5.19). */
static int refuse_taskrun(unsigned flags) {
  if (g_ntried < 4) g_tried[g_ntried++] = flags;
  return flags != 0;
}

static void test_refused_flags_fall_back(void **state) {
  (void)state;
  g_ntried = 0;
  nt__uring_flags_hook = refuse_defer;
  nt_reactor_t *r = uring_new();
  nt__uring_flags_hook = NULL;
  assert_int_equal(g_ntried, 2); /* DEFER first, then COOP */
  assert_true(g_tried[0] & IORING_SETUP_DEFER_TASKRUN);
  unsigned f = nt__uring_setup_flags(r);
  assert_int_equal(f & DEFER, 0);
  assert_true(f & IORING_SETUP_COOP_TASKRUN);
  echo_round_trip(r);
  assert_int_equal(nt_test_reactor_free(r), 0);

  g_ntried = 0;
  nt__uring_flags_hook = refuse_taskrun;
  r = uring_new();
  nt__uring_flags_hook = NULL;
  assert_int_equal(g_ntried, 3);
  assert_int_equal(g_tried[2], 0);
  assert_int_equal(nt__uring_setup_flags(r) &
                       (DEFER | IORING_SETUP_COOP_TASKRUN),
                   0);
  echo_round_trip(r);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- created on one thread, run on another ------------------------------------ */

typedef struct {
  nt_reactor_t *r;
  peer_t *c;
  int ok;
} runner_t;

static void *runner(void *arg) {
  runner_t *a = arg;
  uint64_t end = mono_ms() + 3000;
  int ok = 1;
  while (ok && !got5(a->c) && mono_ms() < end) {
    nt_timer_t tick;
    nt_timer_init(a->r, &tick, tick_cb);
    nt_timer_start(&tick, 5, 0);
    ok = nt_reactor_run_once(a->r, 1) >= 0;
    nt_timer_stop(&tick);
  }
  for (int i = 0; ok && i < 5; i++) ok = nt_reactor_run_once(a->r, 0) >= 0;
  a->ok = ok && got5(a->c);
  return NULL;
}

/* ts-server --workers makes every worker's reactor, listener and all, on
 * the main thread, then runs each on its own thread. A SINGLE_ISSUER ring
 * belongs to the thread that created it unless created disabled: the
 * runner's first io_uring_enter would fail with EEXIST. */
static void test_run_on_another_thread(void **state) {
  (void)state;
  nt_reactor_t *r = uring_new();
  peer_t c;
  int sv[2];
  nt_transport_t *t = wrap_pair(r, &c, sv); /* requests queued here */
  c.echo = 1;
  assert_int_equal(write(sv[1], "hello", 5), 5);
  runner_t a = {r, &c, 0};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, runner, &a), 0);
  pthread_join(th, NULL);
  assert_true(a.ok);
  char b[5];
  assert_true(read_n(sv[1], b, 5));
  assert_memory_equal(b, "hello", 5);
  (void)t;
  close(sv[1]);
  /* The ring is the runner's now: another thread cannot run it. */
  assert_int_equal(nt_reactor_run_once(r, 0), NT_EBUSY);
  /* Freed here, on the creating thread: closing a ring needs no submitter. */
  nt_reactor_close_all(r);
  nt_reactor_free(r);
}

/* --- embedding ------------------------------------------------------------------ */

static int fd_readable(int fd, int ms) {
  struct pollfd pf = {fd, POLLIN, 0};
  return poll(&pf, 1, ms) == 1;
}

/* Asked for its fd, the reactor moves to a ring whose fd a host can sleep
 * on; what was queued before (a receive, a write) moves with it. On a
 * DEFER_TASKRUN ring the host's poll would sleep through the peer's bytes
 * (the kernel queues the work for the submitter and wakes no poller). */
static void test_backend_fd_moves_to_embeddable_ring(void **state) {
  (void)state;
  nt_reactor_t *r = uring_new();
  assert_int_equal(nt__uring_setup_flags(r) & DEFER, DEFER);
  peer_t c;
  int sv[2];
  nt_transport_t *t = wrap_pair(r, &c, sv);
  assert_int_equal(nt_transport_write(t, "early", 5), 0); /* queued SQE */
  int fd = nt_reactor_backend_fd(r);
  assert_true(fd >= 0);
  assert_int_equal(nt__uring_setup_flags(r) & DEFER, 0);
  assert_int_equal(nt_reactor_backend_fd(r), fd); /* moved once */
  assert_int_equal(nt_reactor_backend_timeout(r), -1); /* submits */
  char b[5];
  assert_true(read_n(sv[1], b, 5)); /* the write queued before the move */
  assert_memory_equal(b, "early", 5);
  assert_int_equal(nt_reactor_run_once(r, 0), 1); /* the send's completion */
  assert_int_equal(nt_reactor_backend_timeout(r), -1);
  assert_false(fd_readable(fd, 0));
  assert_int_equal(write(sv[1], "hello", 5), 5);
  assert_true(fd_readable(fd, 2000)); /* the host wakes */
  for (int i = 0; i < 100 && !got5(&c); i++) {
    nt_reactor_run_once(r, 0);
    if (!got5(&c)) fd_readable(fd, 20);
  }
  assert_memory_equal(c.rx, "hello", 5);
  nt_transport_abort(t);
  close(sv[1]);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* After the first turn the ring's requests are in the kernel and cannot
 * move: the fd is refused rather than given without its wake-ups. */
static void test_backend_fd_after_first_turn(void **state) {
  (void)state;
  nt_reactor_t *r = uring_new();
  assert_int_equal(nt_reactor_run_once(r, 0), 0);
  assert_int_equal(nt_reactor_backend_fd(r), NT_ENOTSUP);
  assert_int_equal(nt__uring_setup_flags(r) & DEFER, DEFER);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- pausing with a receive in the kernel, on DEFER_TASKRUN ------------------ */

/* The cancel goes to the kernel with the same enter that would have run the
 * receive's completion, and is handled first: the bytes stay in the socket
 * (nothing held, test_uring covers holding on a COOP_TASKRUN ring); none is
 * delivered while paused; after resume all of them, in order, then EOF. */
static void test_pause_leaves_data_in_socket(void **state) {
  (void)state;
  unsigned long held0 = nt__uring_stats.held;
  nt_reactor_t *r = uring_new();
  peer_t c;
  int sv[2];
  nt_transport_t *t = wrap_pair(r, &c, sv);
  assert_int_equal(write(sv[1], "first", 5), 5);
  for (int i = 0; i < 400 && !got5(&c); i++) run_for(r, 5);
  assert_true(got5(&c));
  run_for(r, 5); /* the next receive is armed in the kernel */
  c.paused = 1;
  nt_transport_pause_reading(t);
  assert_int_equal(write(sv[1], "second", 6), 6);
  run_for(r, 10);
  assert_int_equal(write(sv[1], "third", 5), 5);
  assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
  run_for(r, 50);
  assert_int_equal(c.calls_while_paused, 0);
  assert_int_equal(c.rx_len, 5);
  assert_int_equal(nt__uring_stats.held, held0);
  c.paused = 0;
  nt_transport_resume_reading(t);
  assert_int_equal(c.rx_len, 5);
  for (int i = 0; i < 400 && !(c.rx_len >= 16 && c.eof); i++) run_for(r, 5);
  assert_int_equal(c.rx_len, 16);
  assert_memory_equal(c.rx, "firstsecondthird", 16);
  assert_true(c.eof);
  nt_transport_abort(t);
  close(sv[1]);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* --- send copies reused ---------------------------------------------------- */

/* 16 KiB writes one after another: after the first, each send copy takes
 * the block the previous one left (no malloc/free per send, which made
 * glibc grow and trim its heap around every block); the bytes arrive
 * intact; the kept blocks are freed with the reactor (ASan: no leak). */
static void test_send_copies_reused(void **state) {
  (void)state;
  nt_reactor_t *r = uring_new();
  peer_t c;
  int sv[2];
  nt_transport_t *t = wrap_pair(r, &c, sv);
  enum { N = 20, SZ = 16384 };
  static char out[SZ], in[SZ];
  unsigned long reused0 = nt__uring_stats.snd_reused;
  for (int i = 0; i < N; i++) {
    memset(out, 'a' + i, SZ);
    assert_int_equal(nt_transport_write(t, out, SZ), 0);
    size_t got = 0;
    for (int k = 0; k < 400 && got < SZ; k++) {
      run_for(r, 1);
      ssize_t n = recv(sv[1], in + got, SZ - got, MSG_DONTWAIT);
      if (n > 0) got += (size_t)n;
    }
    assert_int_equal(got, SZ);
    assert_memory_equal(in, out, SZ);
    for (int k = 0; k < 200 && nt_transport_write_buffer_size(t); k++)
      run_for(r, 1); /* the send's completion frees its block */
  }
  assert_true(nt__uring_stats.snd_reused - reused0 >= N - 2);
  nt_transport_abort(t);
  close(sv[1]);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static int defer_available(void) {
  nt_reactor_t *r = NULL;
  if (!uring_available_r(&r)) return 0;
  int defer = (nt__uring_setup_flags(r) & DEFER) == DEFER;
  nt_reactor_free(r);
  return defer;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defer_taskrun_by_default),
      cmocka_unit_test(test_refused_flags_fall_back),
      cmocka_unit_test(test_run_on_another_thread),
      cmocka_unit_test(test_backend_fd_moves_to_embeddable_ring),
      cmocka_unit_test(test_backend_fd_after_first_turn),
      cmocka_unit_test(test_pause_leaves_data_in_socket),
      cmocka_unit_test(test_send_copies_reused),
  };
  if (!defer_available()) {
    printf("io_uring with DEFER_TASKRUN unavailable here (kernel before 6.1, "
           "disabled or forbidden): skipped\n");
    return 77;
  }
  return cmocka_run_group_tests_name("io_uring setup", tests, NULL, NULL);
}
