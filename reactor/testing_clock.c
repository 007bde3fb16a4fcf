/* The test reactor's virtual clock. */
#include "nettool/testing.h"
#include "reactor-int.h"

int nt_test_reactor_new(nt_reactor_t **out) {
  nt_reactor_options_t o = {NULL, 1};
  return nt_reactor_new(out, &o);
}

void nt_test_run_pending(nt_reactor_t *r) {
  for (int i = 0; i < 10000; i++) {
    nt_reactor_update_time(r);
    nt__timers_run(r);
    /* A callback may have queued a call or re-armed a timer at 0 ms: both
     * are pending work at this time. */
    int64_t due = nt__timers_next_due(r);
    if (!r->soon_len && !(due >= 0 && (uint64_t)due <= r->now)) break;
    nt__run_soon(r);
  }
}

void nt_test_clock_advance(nt_reactor_t *r, uint64_t ms) {
  uint64_t target = r->virtual_now + ms;
  nt_test_run_pending(r);
  /* Bounded, so a timer that keeps re-arming itself at 0 ms cannot hang a
   * test. */
  for (int i = 0; i < 1000000; i++) {
    int64_t due = nt__timers_next_due(r);
    if (due < 0 || (uint64_t)due > target) break;
    if ((uint64_t)due > r->virtual_now) r->virtual_now = (uint64_t)due;
    nt_test_run_pending(r);
  }
  r->virtual_now = target;
  nt_test_run_pending(r);
}

void nt_test_clock_set_wall(nt_reactor_t *r, time_t t) {
  r->wall_base.tv_sec = t;
  r->wall_base.tv_nsec = 0;
}

size_t nt_test_reactor_free(nt_reactor_t *r) {
  size_t live = 0;
  nt_test_run_pending(r); /* connection_lost and destroy calls still queued */
  nt__reactor_free_counted(r, &live);
  return live;
}
