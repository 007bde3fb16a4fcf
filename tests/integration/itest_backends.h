/* Shared by the integration tests that run every case on each poller
 * backend: the backend of the group running (g_backend), a status assertion
 * that names it, a monotonic clock, open-fd counting, a reactor on that
 * backend, bounded runs, and the groups main() runs (epoll, poll, and
 * io_uring where the kernel allows it).
 *
 * Header-only and all static, like tests/unit/test_ftp_common.h: include it
 * once per program, after <cmocka.h>. A test that adds context to every
 * failed status defines ITEST_NOTE (an expression giving a string) before
 * including it; one that needs more per-group state than g_backend sets
 * itest_group_setup (called by each backend's group setup). */
#ifndef NETTOOL_ITEST_BACKENDS_H
#define NETTOOL_ITEST_BACKENDS_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nettool/errno.h"
#include "nettool/reactor.h"

static const char *g_backend = "epoll";

#ifndef ITEST_NOTE
#define ITEST_NOTE ""
#endif

#define assert_status(actual, expected)                                        \
  do {                                                                         \
    int a_ = (actual), e_ = (expected);                                        \
    if (a_ != e_)                                                              \
      fail_msg("%s: got %d (%s), want %d (%s) [backend %s%s]", #actual, a_,    \
               nt_err_name(a_), e_, nt_err_name(e_), g_backend, ITEST_NOTE);   \
  } while (0)

static inline uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Descriptors open in this process (for "nothing leaked" checks). */
static inline int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* the directory's own fd */
}

/* A reactor on the group's backend (the io_uring group runs only where the
 * ring can be set up, so the name always matches). */
static inline nt_reactor_t *reactor_new(void) {
  nt_reactor_options_t o = {.backend = g_backend};
  nt_reactor_t *r = NULL;
  assert_status(nt_reactor_new(&r, &o), 0);
  assert_non_null(r);
  assert_string_equal(nt_reactor_backend_name(r), g_backend);
  return r;
}

/* Stops the loop; sets *(int *)data when there is one. */
static inline void guard_cb(nt_timer_t *t) {
  if (t->data) *(int *)t->data = 1;
  nt_reactor_stop(t->reactor);
}

/* Runs until run() returns by itself; a guard (which does not keep the
 * reactor alive) stops it after ms otherwise. Returns 1 if run() returned
 * without the guard. */
static inline int run_bounded(nt_reactor_t *r, uint64_t ms) {
  int fired = 0;
  nt_timer_t g;
  nt_reactor_update_time(r);
  nt_timer_init(r, &g, guard_cb);
  g.data = &fired;
  nt_timer_unref(&g);
  assert_status(nt_timer_start(&g, ms, 0), 0);
  assert_status(nt_reactor_run(r), 0);
  nt_timer_stop(&g);
  return !fired;
}

/* Ends a test: nothing may be left on the reactor. */
static inline void reactor_done(nt_reactor_t *r) {
  nt_reactor_live_t l;
  size_t live = nt_reactor_live(r, &l);
  if (live)
    fail_msg("live after the test: %zu timers %zu watchers %zu handles %zu calls",
             l.timers, l.watchers, l.handles, l.calls);
  assert_status(nt_reactor_free(r), 0);
}

/* --- the groups ------------------------------------------------------------ */

/* Optional: runs at the end of each backend's group setup. */
static int (*itest_group_setup)(void **state);

static inline int itest_setup_backend(void **state, const char *backend) {
  g_backend = backend;
  return itest_group_setup ? itest_group_setup(state) : 0;
}
static inline int setup_epoll(void **state) {
  return itest_setup_backend(state, "epoll");
}
static inline int setup_poll(void **state) {
  return itest_setup_backend(state, "poll");
}

#ifdef NT_HAVE_URING
static inline int setup_uring(void **state) {
  return itest_setup_backend(state, "io_uring");
}

/* Where io_uring is forbidden the reactor falls back to epoll, already
 * covered: the group would only test the fallback's name. */
static inline int itest_uring_usable(const char *group) {
  nt_reactor_options_t uo = {.backend = "io_uring"};
  nt_reactor_t *ur = NULL;
  int ok = nt_reactor_new(&ur, &uo) == 0 &&
           !strcmp(nt_reactor_backend_name(ur), "io_uring");
  if (ur) nt_reactor_free(ur);
  if (!ok) printf("io_uring unavailable here: the %s/io_uring group is skipped\n", group);
  return ok;
}
#define ITEST_RUN_URING(prefix, tests)                                         \
  (itest_uring_usable(prefix)                                                  \
       ? cmocka_run_group_tests_name(prefix "/io_uring", tests, setup_uring,   \
                                     NULL)                                     \
       : 0)
#else
#define ITEST_RUN_URING(prefix, tests) 0
#endif

/* Runs tests (an array) as the groups PREFIX/epoll, PREFIX/poll and
 * PREFIX/io_uring; the number of groups that failed. */
#define itest_run_backends(prefix, tests)                                      \
  (cmocka_run_group_tests_name(prefix "/epoll", tests, setup_epoll, NULL) +    \
   cmocka_run_group_tests_name(prefix "/poll", tests, setup_poll, NULL) +      \
   ITEST_RUN_URING(prefix, tests))

#endif
