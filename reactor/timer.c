/* Timers: a binary min-heap on (due, seq) with each timer's index stored in
 * it, so start, stop and cancel are O(log n) and equal due times fire in the
 * order they were started. */
#include <stdint.h>
#include <string.h>

#include "reactor-int.h"

#define NO_INDEX UINT32_MAX

static int before(const nt_timer_t *a, const nt_timer_t *b) {
  if (a->due != b->due) return a->due < b->due;
  return a->seq < b->seq;
}

static void heap_set(nt_reactor_t *r, uint32_t i, nt_timer_t *t) {
  r->heap[i] = t;
  t->heap_index = i;
}

static void sift_up(nt_reactor_t *r, uint32_t i) {
  nt_timer_t *t = r->heap[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!before(t, r->heap[parent])) break;
    heap_set(r, i, r->heap[parent]);
    i = parent;
  }
  heap_set(r, i, t);
}

static void sift_down(nt_reactor_t *r, uint32_t i) {
  nt_timer_t *t = r->heap[i];
  for (;;) {
    uint32_t l = 2 * i + 1, m = i;
    const nt_timer_t *best = t;
    if (l < r->heap_len && before(r->heap[l], best)) m = l, best = r->heap[l];
    if (l + 1 < r->heap_len && before(r->heap[l + 1], best)) m = l + 1;
    if (m == i) break;
    heap_set(r, i, r->heap[m]);
    i = m;
  }
  heap_set(r, i, t);
}

static int heap_push(nt_reactor_t *r, nt_timer_t *t) {
  if (r->heap_len == r->heap_cap) {
    uint32_t cap = r->heap_cap ? r->heap_cap * 2 : 16;
    nt_timer_t **h = nt__realloc(r->heap, cap * sizeof *h);
    if (!h) return NT_ENOMEM;
    r->heap = h;
    r->heap_cap = cap;
  }
  heap_set(r, r->heap_len++, t);
  sift_up(r, t->heap_index);
  return 0;
}

static void heap_remove(nt_reactor_t *r, nt_timer_t *t) {
  uint32_t i = t->heap_index;
  nt_timer_t *last = r->heap[--r->heap_len];
  t->heap_index = NO_INDEX;
  if (i == r->heap_len) return;
  heap_set(r, i, last);
  if (i > 0 && before(last, r->heap[(i - 1) / 2]))
    sift_up(r, i);
  else
    sift_down(r, i);
}

void nt_timer_init(nt_reactor_t *r, nt_timer_t *t, nt_timer_cb cb) {
  memset(t, 0, sizeof *t);
  t->reactor = r;
  t->cb = cb;
  t->heap_index = NO_INDEX;
}

int nt_timer_start(nt_timer_t *t, uint64_t timeout_ms, uint64_t repeat_ms) {
  nt_reactor_t *r = t->reactor;
  if (t->flags & NT__TIMER_ACTIVE) nt_timer_stop(t);
  t->due = r->now + timeout_ms;
  t->repeat = repeat_ms;
  t->seq = r->timer_seq++;
  int rc = heap_push(r, t);
  if (rc) return rc;
  t->flags |= NT__TIMER_ACTIVE;
  if (!(t->flags & NT__TIMER_UNREF)) nt__reactor_active_inc(r);
  return 0;
}

void nt_timer_stop(nt_timer_t *t) {
  if (!(t->flags & NT__TIMER_ACTIVE)) return;
  heap_remove(t->reactor, t);
  t->flags &= ~(uint32_t)NT__TIMER_ACTIVE;
  if (!(t->flags & NT__TIMER_UNREF)) nt__reactor_active_dec(t->reactor);
}

int nt_timer_is_active(const nt_timer_t *t) {
  return (t->flags & NT__TIMER_ACTIVE) != 0;
}

void nt_timer_unref(nt_timer_t *t) {
  if (t->flags & NT__TIMER_UNREF) return;
  t->flags |= NT__TIMER_UNREF;
  if (t->flags & NT__TIMER_ACTIVE) nt__reactor_active_dec(t->reactor);
}

int64_t nt__timers_next_due(const nt_reactor_t *r) {
  return r->heap_len ? (int64_t)r->heap[0]->due : -1;
}

/* Runs every timer due at r->now. A repeating timer is re-armed from its due
 * time (not from now) so it does not drift, but never into the past: a loop
 * that fell behind skips the missed ticks rather than firing them in a burst.
 * Timers started by callbacks with timeout 0 wait for the next turn, which
 * bounds the work done here. */
void nt__timers_run(nt_reactor_t *r) {
  uint64_t limit_seq = r->timer_seq;
  while (r->heap_len) {
    nt_timer_t *t = r->heap[0];
    if (t->due > r->now || t->seq >= limit_seq) break;
    nt_timer_stop(t);
    if (t->repeat) {
      uint64_t next = t->due + t->repeat;
      if (next <= r->now) next = r->now + t->repeat;
      nt_timer_start(t, next - r->now, t->repeat);
    }
    t->cb(t);
  }
}

/* --- reactor-owned delayed calls -------------------------------------------- */

typedef struct {
  nt_timer_t timer;
  nt_callback cb;
  void *arg;
} owned_call_t;

static void owned_fire(nt_timer_t *t) {
  owned_call_t *c = nt__container_of(t, owned_call_t, timer);
  int repeating = t->repeat != 0;
  c->cb(c->arg);
  /* A repeating call lives until cancelled; a one-shot is done now. */
  if (!repeating) nt__free(c);
}

static nt_timer_t *owned_start(nt_reactor_t *r, uint64_t delay,
                               uint64_t repeat, nt_callback cb, void *arg) {
  owned_call_t *c = nt__malloc(sizeof *c);
  if (!c) return NULL;
  nt_timer_init(r, &c->timer, owned_fire);
  c->timer.flags |= NT__TIMER_OWNED;
  c->cb = cb;
  c->arg = arg;
  if (nt_timer_start(&c->timer, delay, repeat)) {
    nt__free(c);
    return NULL;
  }
  return &c->timer;
}

nt_timer_t *nt_call_later(nt_reactor_t *r, uint64_t delay_ms, nt_callback cb,
                          void *arg) {
  return owned_start(r, delay_ms, 0, cb, arg);
}

nt_timer_t *nt_call_every(nt_reactor_t *r, uint64_t interval_ms,
                          nt_callback cb, void *arg) {
  if (interval_ms == 0) interval_ms = 1;
  return owned_start(r, interval_ms, interval_ms, cb, arg);
}

void nt_call_cancel(nt_timer_t *t) {
  if (!t) return;
  nt_timer_stop(t);
  nt__free(nt__container_of(t, owned_call_t, timer));
}

/* Frees owned calls still pending when the reactor is freed. */
void nt__timers_free_owned(nt_reactor_t *r) {
  while (r->heap_len) {
    nt_timer_t *t = r->heap[r->heap_len - 1];
    heap_remove(r, t);
    t->flags &= ~(uint32_t)NT__TIMER_ACTIVE;
    if (t->flags & NT__TIMER_OWNED)
      nt__free(nt__container_of(t, owned_call_t, timer));
  }
}
