/* The real loop on both backends: I/O watchers on pipes, stop, run until
 * idle, wake-ups from other threads, and signals. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "nettool/reactor.h"
#include "nettool/testing.h"
#include "reactor-int.h"

static const char *const backends[] = {"epoll", "poll"};

static nt_reactor_t *new_reactor(const char *backend) {
  nt_reactor_options_t o = {backend, 0};
  nt_reactor_t *r;
  assert_int_equal(nt_reactor_new(&r, &o), 0);
  assert_string_equal(nt_reactor_backend_name(r), backend);
  return r;
}

static void test_bad_backend(void **state) {
  (void)state;
  nt_reactor_options_t o = {"kqueue", 0};
  nt_reactor_t *r = NULL;
  assert_int_equal(nt_reactor_new(&r, &o), NT_EBACKEND);
  assert_null(r);
  assert_string_equal(nt_err_name(NT_EBACKEND), "EBACKEND");
  assert_string_equal(nt_strerror(NT_ECONNREFUSED), "connection refused");
}

typedef struct {
  nt_io_t io;
  int fds[2];
  int reads;
  char got[64];
  size_t got_len;
  nt_io_t *other; /* stopped by this one's callback */
} pipe_w;

static void pipe_cb(nt_io_t *io, unsigned events) {
  pipe_w *p = (pipe_w *)io;
  assert_true(events & NT_READABLE);
  ssize_t n = read(io->fd, p->got + p->got_len, sizeof p->got - p->got_len);
  if (n > 0) p->got_len += (size_t)n;
  p->reads++;
  if (n == 0 || p->got_len >= 5) nt_io_stop(io);
  if (p->other) nt_io_stop(p->other);
}

static void test_io_watcher(void **state) {
  (void)state;
  for (int b = 0; b < 2; b++) {
    nt_reactor_t *r = new_reactor(backends[b]);
    pipe_w p;
    memset(&p, 0, sizeof p);
    assert_int_equal(pipe(p.fds), 0);
    nt_io_init(r, &p.io, p.fds[0], pipe_cb);
    assert_int_equal(nt_io_start(&p.io, NT_READABLE), 0);
    assert_int_equal(write(p.fds[1], "hello", 5), 5);
    assert_int_equal(nt_reactor_run(r), 0); /* ends: watcher stopped itself */
    assert_int_equal(p.got_len, 5);
    assert_memory_equal(p.got, "hello", 5);
    close(p.fds[0]);
    close(p.fds[1]);
    assert_int_equal(nt_test_reactor_free(r), 0);
  }
}

/* Two fds ready in one turn; the first callback stops the second watcher:
 * the second must not be called. */
static void test_stop_other_in_same_turn(void **state) {
  (void)state;
  for (int b = 0; b < 2; b++) {
    nt_reactor_t *r = new_reactor(backends[b]);
    pipe_w a, c;
    memset(&a, 0, sizeof a);
    memset(&c, 0, sizeof c);
    assert_int_equal(pipe(a.fds), 0);
    assert_int_equal(pipe(c.fds), 0);
    nt_io_init(r, &a.io, a.fds[0], pipe_cb);
    nt_io_init(r, &c.io, c.fds[0], pipe_cb);
    a.other = &c.io;
    c.other = &a.io;
    nt_io_start(&a.io, NT_READABLE);
    nt_io_start(&c.io, NT_READABLE);
    assert_int_equal(write(a.fds[1], "x", 1), 1);
    assert_int_equal(write(c.fds[1], "y", 1), 1);
    assert_int_equal(nt_reactor_run_once(r, 1), 1); /* one still watched */
    assert_int_equal(a.reads + c.reads, 1);
    nt_io_stop(&a.io);
    nt_io_stop(&c.io);
    close(a.fds[0]), close(a.fds[1]), close(c.fds[0]), close(c.fds[1]);
    assert_int_equal(nt_test_reactor_free(r), 0);
  }
}

static void test_regular_file_refused_by_epoll(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor("epoll");
  char path[] = "/tmp/nt-unit-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  unlink(path);
  nt_io_t io;
  nt_io_init(r, &io, fd, NULL);
  assert_int_equal(nt_io_start(&io, NT_READABLE), NT_EPERM);
  close(fd);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void stop_cb(void *arg) { nt_reactor_stop(arg); }

static void test_stop(void **state) {
  (void)state;
  for (int b = 0; b < 2; b++) {
    nt_reactor_t *r = new_reactor(backends[b]);
    nt_reactor_ref(r); /* would run forever */
    nt_call_later(r, 20, stop_cb, r);
    uint64_t t0 = nt_reactor_now(r);
    assert_int_equal(nt_reactor_run(r), 0);
    nt_reactor_update_time(r);
    assert_true(nt_reactor_now(r) - t0 >= 20);
    assert_true(nt_reactor_now(r) - t0 < 2000);
    nt_reactor_unref(r);
    assert_int_equal(nt_reactor_run(r), 0); /* nothing left: returns */
    assert_int_equal(nt_test_reactor_free(r), 0);
  }
}

typedef struct {
  nt_reactor_t *r;
  int ran;
  pthread_t main_thread;
  int on_loop_thread;
} thread_arg;

static void from_thread_cb(void *arg) {
  thread_arg *t = arg;
  t->ran++;
  t->on_loop_thread = pthread_equal(pthread_self(), t->main_thread);
  nt_reactor_unref(t->r);
}

static void *thread_main(void *arg) {
  thread_arg *t = arg;
  usleep(50 * 1000); /* the loop is blocked in its wait by now */
  nt_call_from_thread(t->r, from_thread_cb, t);
  return NULL;
}

static void test_call_from_thread(void **state) {
  (void)state;
  for (int b = 0; b < 2; b++) {
    nt_reactor_t *r = new_reactor(backends[b]);
    thread_arg t = {r, 0, pthread_self(), 0};
    pthread_t th;
    nt_reactor_ref(r); /* the thread has work for us */
    assert_int_equal(pthread_create(&th, NULL, thread_main, &t), 0);
    assert_int_equal(nt_reactor_run(r), 0);
    pthread_join(th, NULL);
    assert_int_equal(t.ran, 1);
    assert_true(t.on_loop_thread);
    assert_int_equal(nt_test_reactor_free(r), 0);
  }
}

static void *stopper_main(void *arg) {
  usleep(30 * 1000);
  nt_reactor_stop_from_thread(arg);
  return NULL;
}

static void test_stop_from_thread(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor("epoll");
  nt_reactor_ref(r);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, stopper_main, r), 0);
  assert_int_equal(nt_reactor_run(r), 0);
  pthread_join(th, NULL);
  nt_reactor_unref(r);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void raise_cb(void *arg) {
  (void)arg;
  raise(SIGTERM);
}

static void test_signal_stops(void **state) {
  (void)state;
  for (int b = 0; b < 2; b++) {
    nt_reactor_t *r = new_reactor(backends[b]);
    assert_int_equal(nt_reactor_handle_signals(r, NULL, NULL), 0);
    nt_reactor_ref(r); /* would run forever without the signal */
    nt_call_later(r, 10, raise_cb, NULL);
    assert_int_equal(nt_reactor_run(r), 0);
    nt_reactor_unref(r);
    assert_int_equal(nt_test_reactor_free(r), 0); /* restores the default dispositions */
  }
}

static int seen_signal;
static void on_sig(nt_reactor_t *r, int signum, void *arg) {
  (void)arg;
  seen_signal = signum;
  nt_reactor_stop(r);
}

static void raise_int_cb(void *arg) {
  (void)arg;
  raise(SIGINT);
}

static void test_signal_callback(void **state) {
  (void)state;
  nt_reactor_t *r = new_reactor("epoll");
  assert_int_equal(nt_reactor_handle_signals(r, on_sig, NULL), 0);
  nt_reactor_ref(r);
  nt_call_later(r, 10, raise_int_cb, NULL);
  assert_int_equal(nt_reactor_run(r), 0);
  assert_int_equal(seen_signal, SIGINT);
  nt_reactor_unref(r);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

/* The loop's time seen by an I/O callback is the time the event arrived,
 * not the time the loop went to sleep: a timer started there counts its
 * whole timeout from that moment. (It used to fire at once after a long
 * wait: ts-server --tls dropped the first client after an idle spell.) */
typedef struct {
  nt_io_t io;
  int fds[2];
  nt_timer_t timer;
  uint64_t started_real, fired_real, now_in_cb;
} clock_probe;

static uint64_t real_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void probe_timer_cb(nt_timer_t *t) {
  clock_probe *p = t->data;
  p->fired_real = real_ms();
}

static void probe_io_cb(nt_io_t *io, unsigned events) {
  clock_probe *p = (clock_probe *)io;
  (void)events;
  char b[8];
  assert_true(read(io->fd, b, sizeof b) > 0);
  nt_io_stop(io);
  p->started_real = real_ms();
  p->now_in_cb = nt_reactor_now(io->reactor);
  assert_int_equal(nt_timer_start(&p->timer, 100, 0), 0);
}

static void *late_writer(void *arg) {
  usleep(300 * 1000);
  assert_int_equal(write(*(int *)arg, "x", 1), 1);
  return NULL;
}

static void test_timer_started_in_io_callback(void **state) {
  (void)state;
  for (int b = 0; b < 2; b++) {
    nt_reactor_t *r = new_reactor(backends[b]);
    clock_probe p;
    memset(&p, 0, sizeof p);
    assert_int_equal(pipe(p.fds), 0);
    nt_io_init(r, &p.io, p.fds[0], probe_io_cb);
    assert_int_equal(nt_io_start(&p.io, NT_READABLE), 0);
    nt_timer_init(r, &p.timer, probe_timer_cb);
    p.timer.data = &p;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, late_writer, &p.fds[1]), 0);
    assert_int_equal(nt_reactor_run(r), 0);
    pthread_join(th, NULL);
    assert_true(p.fired_real != 0);
    /* the loop's clock was fresh in the callback... */
    assert_true(p.now_in_cb + 20 >= p.started_real);
    /* ...so the timer waited its full 100 ms, not 100 minus the 300 slept */
    assert_true(p.fired_real - p.started_real >= 95);
    close(p.fds[0]);
    close(p.fds[1]);
    assert_int_equal(nt_test_reactor_free(r), 0);
  }
}

/* The library's log quotes peers at debug level: what reaches stderr has
 * no control characters a terminal would act on. */
static void test_log_defangs_peer_text(void **state) {
  (void)state;
  FILE *tmp = tmpfile();
  assert_non_null(tmp);
  fflush(stderr);
  int saved = dup(2);
  assert_true(saved >= 0);
  assert_int_equal(dup2(fileno(tmp), 2), 2);
  int level = nt__log_level;
  nt__log_level = NT__LOG_DEBUG;
  nt__log(NT__LOG_DEBUG, "< %d %s", 220, "hi\x1b]0;owned\x07 \xc2\x9b" "2J\tok \xc3\xbc");
  nt__log_level = level;
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  char buf[256] = "";
  rewind(tmp);
  size_t n = fread(buf, 1, sizeof buf - 1, tmp);
  fclose(tmp);
  buf[n] = 0;
  assert_string_equal(buf, "nettool[debug]: < 220 hi?]0;owned? ?2J\tok \xc3\xbc\n");
}

static void test_free_while_running_refused(void **state) {
  (void)state;
  /* run_once marks running only during the call; outside it free works */
  nt_reactor_t *r = new_reactor("poll");
  assert_int_equal(nt_reactor_run_once(r, 0), 0);
  assert_int_equal(nt_reactor_free(r), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_backend),
      cmocka_unit_test(test_io_watcher),
      cmocka_unit_test(test_stop_other_in_same_turn),
      cmocka_unit_test(test_regular_file_refused_by_epoll),
      cmocka_unit_test(test_stop),
      cmocka_unit_test(test_call_from_thread),
      cmocka_unit_test(test_stop_from_thread),
      cmocka_unit_test(test_signal_stops),
      cmocka_unit_test(test_signal_callback),
      cmocka_unit_test(test_free_while_running_refused),
      cmocka_unit_test(test_timer_started_in_io_callback),
      cmocka_unit_test(test_log_defangs_peer_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
