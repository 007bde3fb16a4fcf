/* The reconnecting client service on the virtual clock: scripted TCP
 * attempts (nt__attempt_ops) fail or connect (over a socketpair) when the
 * test says, and the schedule of attempts is checked to the millisecond:
 * exponential backoff, the cap, jitter within its bounds and reproducible
 * from a seed, the reset after a connection, giving up, and stop in every
 * state (connecting, waiting, connected, inside its own callbacks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "nettool/reconnect.h"
#include "nettool/tcp.h"
#include "nettool/testing.h"
#include "tcp-int.h"

#include "test_fake_attempts.h"

static nt_reactor_t *R;

/* The latest attempt ends: connected (status 0) or failed. */
static void finish_last(int status) {
  assert_true(nfakes > 0);
  fake_finish(nfakes - 1, status);
  nt_test_run_pending(R);
}

/* --- a recording factory, protocol and event log ------------------------------ */

typedef struct {
  nt_protocol_t base;
} proto_t;

static struct {
  int built, started, failed, made, lost, destroyed;
  int lost_status;
  int refuse; /* build_protocol returns NULL */
  nt_transport_t *transport;
  int events[256];
  uint64_t delays[256], at[256];
  int nevents;
  nt_reconnect_t *rc;
  int stop_on; /* stop the service from on_event at this event */
} rec;

static void p_made(nt_protocol_t *p, nt_transport_t *t) {
  (void)p;
  rec.made++;
  rec.transport = t;
}
static void p_lost(nt_protocol_t *p, int status) {
  (void)p;
  rec.lost++;
  rec.lost_status = status;
  rec.transport = NULL;
}
static void p_destroy(nt_protocol_t *p) {
  rec.destroyed++;
  free(p);
}
static const nt_protocol_ops_t p_ops = {
    .connection_made = p_made, .connection_lost = p_lost, .destroy = p_destroy};

static nt_protocol_t *f_build(nt_factory_t *f, const struct sockaddr *peer,
                              socklen_t len) {
  (void)f, (void)peer, (void)len;
  rec.built++;
  if (rec.refuse) return NULL;
  proto_t *p = calloc(1, sizeof *p);
  nt_protocol_init(&p->base, &p_ops);
  return &p->base;
}
static void f_started(nt_factory_t *f, nt_connector_t *c) {
  (void)f, (void)c;
  rec.started++;
}
static void f_failed(nt_factory_t *f, nt_connector_t *c, int status) {
  (void)f, (void)c, (void)status;
  rec.failed++;
}
static const nt_factory_ops_t f_ops = {
    .build_protocol = f_build,
    .started_connecting = f_started,
    .connection_failed = f_failed,
};
static nt_factory_t factory = {&f_ops, NULL};

static void on_event(nt_reconnect_t *rc, int ev, int status, uint64_t delay,
                     unsigned n, void *arg) {
  (void)status, (void)n, (void)arg;
  assert_ptr_equal(rc, rec.rc);
  assert_true(rec.nevents < 256);
  rec.events[rec.nevents] = ev;
  rec.delays[rec.nevents] = delay;
  rec.at[rec.nevents] = nt_reactor_now(R);
  rec.nevents++;
  if (ev == rec.stop_on) {
    nt_reconnect_stop(rc);
    rec.rc = NULL;
  }
}

static int setup(void **state) {
  (void)state;
  memset(&rec, 0, sizeof rec);
  fake_attempts_reset(1);
  return nt_test_reactor_new(&R);
}

static int teardown(void **state) {
  (void)state;
  fake_attempts_reset(0);
  assert_int_equal(nt_test_reactor_free(R), 0);
  return 0;
}

static nt_reconnect_options_t opts(uint64_t initial, uint64_t max,
                                   double factor, double jitter) {
  nt_reconnect_options_t o;
  memset(&o, 0, sizeof o);
  o.initial_delay_ms = initial;
  o.max_delay_ms = max;
  o.factor = factor;
  o.jitter = jitter;
  o.seed = 42;
  o.on_event = on_event;
  return o;
}

static void start(const nt_reconnect_options_t *o) {
  assert_int_equal(nt_reconnect_start(R, "127.0.0.1", 7, &factory, o, &rec.rc), 0);
  if (!rec.stop_on) assert_non_null(rec.rc);
}

static void stop(void) {
  nt_reconnect_stop(rec.rc);
  rec.rc = NULL;
  nt_test_run_pending(R);
}

/* --- the schedule ------------------------------------------------------------------ */

/* No jitter: 100, 200, 400, 800, then the 1000 cap; attempts start at
 * exactly those times after each failure. */
static void test_backoff_schedule(void **state) {
  (void)state;
  nt_reconnect_options_t o = opts(100, 1000, 2.0, -1);
  start(&o);
  assert_int_equal(nfakes, 1);
  assert_int_equal(fakes[0].started_at, 0);
  const uint64_t want[] = {0, 100, 300, 700, 1500, 2500, 3500};
  for (int i = 1; i < 7; i++) {
    finish_last(NT_ECONNREFUSED);
    assert_int_equal(nt_reconnect_failures(rec.rc), (unsigned)i);
    uint64_t gap = want[i] - want[i - 1];
    nt_test_clock_advance(R, gap - 1);
    assert_int_equal(nfakes, i); /* not a millisecond early */
    nt_test_clock_advance(R, 1);
    assert_int_equal(nfakes, i + 1);
    assert_int_equal(fakes[i].started_at, want[i]);
  }
  /* The factory hears of every attempt and every failure. */
  assert_int_equal(rec.started, 7);
  assert_int_equal(rec.failed, 6);
  assert_int_equal(rec.built, 0);
  /* Events: CONNECTING, then FAILED + WAITING(delay) per failure. */
  assert_int_equal(rec.events[0], NT_RECONNECT_CONNECTING);
  assert_int_equal(rec.events[1], NT_RECONNECT_FAILED);
  assert_int_equal(rec.events[2], NT_RECONNECT_WAITING);
  assert_int_equal(rec.delays[2], 100);
  assert_int_equal(rec.events[5], NT_RECONNECT_WAITING);
  assert_int_equal(rec.delays[5], 200);
  stop();
  assert_true(fakes[6].cancelled);
  assert_int_equal(rec.failed, 6); /* the cancel is not reported */
  nt_test_clock_advance(R, 3600000);
  assert_int_equal(nfakes, 7);
}

/* Jitter stays within +-jitter of the nominal delay and under the cap,
 * moves the delays, and the same seed gives the same schedule. */
static void run_jitter(uint64_t *delays, int n) {
  nt_reconnect_options_t o = opts(1000, 20000, 2.0, 0.5);
  start(&o);
  for (int i = 0; i < n; i++) {
    finish_last(NT_ETIMEDOUT);
    assert_int_equal(rec.events[rec.nevents - 1], NT_RECONNECT_WAITING);
    delays[i] = rec.delays[rec.nevents - 1];
    uint64_t before = nt_reactor_now(R);
    nt_test_clock_advance(R, delays[i]);
    assert_int_equal(nfakes, i + 2);
    assert_int_equal(fakes[i + 1].started_at, before + delays[i]);
  }
  stop();
}

static void test_jitter(void **state) {
  (void)state;
  uint64_t a[10], b[10];
  run_jitter(a, 10);
  int moved = 0;
  double nominal = 1000;
  for (int i = 0; i < 10; i++) {
    double lo = nominal * 0.5, hi = nominal * 1.5;
    if (hi > 20000) hi = 20000;
    if ((double)a[i] < lo - 1 || (double)a[i] > hi + 1)
      fail_msg("delay %d: %llu not in [%.0f, %.0f]", i, (unsigned long long)a[i],
               lo, hi);
    if ((double)a[i] != nominal) moved++;
    nominal = nominal * 2 > 20000 ? 20000 : nominal * 2;
  }
  assert_true(moved >= 8);
  /* again, same seed */
  memset(fakes, 0, sizeof fakes);
  nfakes = 0;
  rec.nevents = 0;
  run_jitter(b, 10);
  assert_memory_equal(a, b, sizeof a);
}

/* A connection resets the schedule: after it is lost the next attempt comes
 * after the initial delay, and so does the one after the next failure. */
static void test_reset_after_connection(void **state) {
  (void)state;
  nt_reconnect_options_t o = opts(100, 10000, 3.0, -1);
  start(&o);
  const uint64_t gaps[] = {100, 300, 900};
  for (int i = 0; i < 3; i++) {
    finish_last(NT_ECONNREFUSED);
    nt_test_clock_advance(R, gaps[i]);
  }
  assert_int_equal(nfakes, 4);
  assert_int_equal(fakes[3].started_at - fakes[2].started_at, 900);
  finish_last(0);
  assert_int_equal(rec.made, 1);
  assert_non_null(nt_reconnect_protocol(rec.rc));
  assert_int_equal(nt_reconnect_failures(rec.rc), 0);
  assert_int_equal(rec.events[rec.nevents - 1], NT_RECONNECT_CONNECTED);
  /* The server goes away. */
  uint64_t lost_at = nt_reactor_now(R);
  nt_transport_abort(rec.transport);
  nt_test_run_pending(R);
  assert_int_equal(rec.lost, 1);
  assert_int_equal(rec.destroyed, 1);
  assert_null(nt_reconnect_protocol(rec.rc));
  assert_int_equal(rec.events[rec.nevents - 2], NT_RECONNECT_DISCONNECTED);
  assert_int_equal(rec.delays[rec.nevents - 1], 100);
  nt_test_clock_advance(R, 100);
  assert_int_equal(nfakes, 5);
  assert_int_equal(fakes[4].started_at, lost_at + 100);
  finish_last(NT_ECONNREFUSED);
  assert_int_equal(rec.delays[rec.nevents - 1], 100);
  nt_test_clock_advance(R, 100);
  finish_last(NT_ECONNREFUSED);
  assert_int_equal(rec.delays[rec.nevents - 1], 300);
  stop();
}

static void test_max_retries(void **state) {
  (void)state;
  nt_reconnect_options_t o = opts(10, 100, 2.0, -1);
  o.max_retries = 3;
  start(&o);
  for (int i = 0; i < 3; i++) {
    finish_last(NT_ECONNREFUSED);
    nt_test_clock_advance(R, 1000);
  }
  assert_int_equal(nfakes, 3);
  assert_int_equal(rec.events[rec.nevents - 1], NT_RECONNECT_GAVE_UP);
  nt_test_clock_advance(R, 3600000);
  assert_int_equal(nfakes, 3);
  stop();
}

/* --- stop in every state ------------------------------------------------------------ */

static void test_stop_while_connecting(void **state) {
  (void)state;
  nt_reconnect_options_t o = opts(100, 1000, 2.0, -1);
  start(&o);
  stop();
  assert_true(fakes[0].cancelled);
  assert_int_equal(rec.failed, 0);
  nt_test_clock_advance(R, 3600000);
  assert_int_equal(nfakes, 1);
  assert_int_equal(rec.built, 0);
}

static void test_stop_while_waiting(void **state) {
  (void)state;
  nt_reconnect_options_t o = opts(100, 1000, 2.0, -1);
  start(&o);
  finish_last(NT_ECONNREFUSED);
  nt_test_clock_advance(R, 50);
  int n = rec.nevents;
  stop();
  nt_test_clock_advance(R, 3600000);
  assert_int_equal(nfakes, 1);
  assert_int_equal(rec.nevents, n); /* no event after stop */
}

static void test_stop_while_connected(void **state) {
  (void)state;
  nt_reconnect_options_t o = opts(100, 1000, 2.0, -1);
  start(&o);
  finish_last(0);
  assert_int_equal(rec.made, 1);
  int n = rec.nevents;
  stop(); /* lose_connection: the protocol ends cleanly */
  assert_int_equal(rec.lost, 1);
  assert_int_equal(rec.lost_status, 0);
  assert_int_equal(rec.destroyed, 1);
  nt_test_clock_advance(R, 3600000);
  assert_int_equal(nfakes, 1);
  assert_int_equal(rec.nevents, n);
}

/* Stopped from its own callbacks: inside FAILED, WAITING, CONNECTING. */
static void stop_inside(int ev) {
  nt_reconnect_options_t o = opts(100, 1000, 2.0, -1);
  rec.stop_on = ev;
  start(&o);
  if (rec.rc) finish_last(NT_ECONNREFUSED);
  assert_null(rec.rc);
  nt_test_clock_advance(R, 3600000);
  assert_int_equal(nfakes, ev == NT_RECONNECT_CONNECTING ? 0 : 1);
}

static void test_stop_inside_events(void **state) {
  (void)state;
  stop_inside(NT_RECONNECT_FAILED);
  nfakes = 0;
  stop_inside(NT_RECONNECT_WAITING);
  nfakes = 0;
  stop_inside(NT_RECONNECT_CONNECTING);
}

/* A factory that refuses to build: a failed attempt, retried. */
static void test_factory_refuses(void **state) {
  (void)state;
  nt_reconnect_options_t o = opts(100, 1000, 2.0, -1);
  start(&o);
  rec.refuse = 1;
  finish_last(0);
  assert_int_equal(rec.built, 1);
  assert_int_equal(rec.made, 0);
  assert_int_equal(nt_reconnect_failures(rec.rc), 1);
  nt_test_clock_advance(R, 100);
  assert_int_equal(nfakes, 2);
  rec.refuse = 0;
  finish_last(0);
  assert_int_equal(rec.made, 1);
  stop();
  assert_int_equal(rec.destroyed, 1);
}

static void test_bad_arguments(void **state) {
  (void)state;
  nt_reconnect_t *rc = NULL;
  assert_int_equal(nt_reconnect_start(R, "127.0.0.1", 0, &factory, NULL, &rc),
                   NT_EBADPORT);
  assert_int_equal(nt_reconnect_start(R, NULL, 7, &factory, NULL, &rc),
                   NT_EINVAL);
  assert_int_equal(nt_reconnect_start(R, "127.0.0.1", 7, NULL, NULL, &rc),
                   NT_EINVAL);
  assert_null(rc);
  assert_int_equal(nfakes, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_backoff_schedule, setup, teardown),
      cmocka_unit_test_setup_teardown(test_jitter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset_after_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_max_retries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_while_connecting, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_while_waiting, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_while_connected, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_inside_events, setup, teardown),
      cmocka_unit_test_setup_teardown(test_factory_refuses, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
  };
  return cmocka_run_group_tests_name("reconnect", tests, NULL, NULL);
}
