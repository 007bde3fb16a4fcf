/* Timers: an intrusive binary min-heap on (due, seq). The links live in
 * each nt_timer_t (libuv's heap-inl.h idea), so starting a timer allocates
 * nothing and cannot fail; start, stop and cancel are O(log n); equal due
 * times fire in the order they were started. The tree is complete: node k
 * (1-based, in level order) is reached from the root by the bits of k below
 * its leading one, read from the top (0 = left, 1 = right). */
#include <stdint.h>
#include <string.h>

#include "reactor-int.h"

typedef struct nt__timer_links node_t;

static nt_timer_t *timer_of(node_t *n) {
  return nt__container_of(n, nt_timer_t, links_);
}

static int before(node_t *a, node_t *b) {
  const nt_timer_t *x = timer_of(a), *y = timer_of(b);
  if (x->due != y->due) return x->due < y->due;
  return x->seq < y->seq;
}

/* Where node number k (1-based) hangs: the slot pointing at it. */
static node_t **slot_of(nt_reactor_t *r, uint32_t k) {
  uint32_t path = 0, depth = 0;
  for (; k >= 2; depth++, k /= 2) path = (path << 1) | (k & 1);
  node_t **slot = &r->timer_root;
  while (depth--) {
    slot = (path & 1) ? &(*slot)->right : &(*slot)->left;
    path >>= 1;
  }
  return slot;
}

/* Swaps a node with its child c: the two exchange places in the tree (their
 * link blocks are exchanged, then every pointer into them is mended). */
static void swap_with_child(nt_reactor_t *r, node_t *p, node_t *c) {
  node_t t = *p;
  *p = *c;
  *c = t;
  p->parent = c;
  node_t *sibling;
  if (c->left == c) {
    c->left = p;
    sibling = c->right;
  } else {
    c->right = p;
    sibling = c->left;
  }
  if (sibling) sibling->parent = c;
  if (p->left) p->left->parent = p;
  if (p->right) p->right->parent = p;
  if (!c->parent)
    r->timer_root = c;
  else if (c->parent->left == p)
    c->parent->left = c;
  else
    c->parent->right = c;
}

static void heap_insert(nt_reactor_t *r, node_t *n) {
  n->left = n->right = n->parent = NULL;
  uint32_t k = r->timer_count + 1;
  if (k > 1) n->parent = *slot_of(r, k / 2);
  *slot_of(r, k) = n;
  r->timer_count = k;
  while (n->parent && before(n, n->parent)) swap_with_child(r, n->parent, n);
}

/* The last node takes n's place, then moves down or up to where it fits. */
static void heap_remove(nt_reactor_t *r, node_t *n) {
  node_t **last_slot = slot_of(r, r->timer_count);
  node_t *last = *last_slot;
  *last_slot = NULL;
  r->timer_count--;
  if (last == n) return; /* n was the last node (maybe the only one) */
  last->left = n->left;
  last->right = n->right;
  last->parent = n->parent;
  if (last->left) last->left->parent = last;
  if (last->right) last->right->parent = last;
  if (!n->parent)
    r->timer_root = last;
  else if (n->parent->left == n)
    n->parent->left = last;
  else
    n->parent->right = last;
  for (;;) {
    node_t *m = last;
    if (last->left && before(last->left, m)) m = last->left;
    if (last->right && before(last->right, m)) m = last->right;
    if (m == last) break;
    swap_with_child(r, last, m);
  }
  while (last->parent && before(last, last->parent))
    swap_with_child(r, last->parent, last);
}

void nt_timer_init(nt_reactor_t *r, nt_timer_t *t, nt_timer_cb cb) {
  memset(t, 0, sizeof *t);
  t->reactor = r;
  t->cb = cb;
}

int nt_timer_start(nt_timer_t *t, uint64_t timeout_ms, uint64_t repeat_ms) {
  nt_reactor_t *r = t->reactor;
  if (t->flags & NT__TIMER_ACTIVE) nt_timer_stop(t);
  /* Saturate instead of wrapping: "never" stays in the future. */
  t->due = timeout_ms > UINT64_MAX - r->now ? UINT64_MAX : r->now + timeout_ms;
  t->repeat = repeat_ms;
  t->seq = r->timer_seq++;
  heap_insert(r, &t->links_);
  t->flags |= NT__TIMER_ACTIVE;
  if (!(t->flags & NT__TIMER_UNREF)) nt__reactor_active_inc(r);
  return 0;
}

void nt_timer_stop(nt_timer_t *t) {
  if (!(t->flags & NT__TIMER_ACTIVE)) return;
  heap_remove(t->reactor, &t->links_);
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
  if (!r->timer_root) return -1;
  uint64_t due = timer_of(r->timer_root)->due;
  return due > INT64_MAX ? INT64_MAX : (int64_t)due;
}

/* Runs every timer due at r->now. A repeating timer is re-armed from its due
 * time (not from now) so it does not drift, but never into the past: a loop
 * that fell behind skips the missed ticks rather than firing them in a burst.
 * Timers started by callbacks with timeout 0 wait for the next turn, which
 * bounds the work done here. */
void nt__timers_run(nt_reactor_t *r) {
  uint64_t limit_seq = r->timer_seq;
  while (r->timer_root) {
    nt_timer_t *t = timer_of(r->timer_root);
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
  nt_timer_start(&c->timer, delay, repeat);
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
  while (r->timer_root) {
    nt_timer_t *t = timer_of(r->timer_root);
    heap_remove(r, &t->links_);
    t->flags &= ~(uint32_t)NT__TIMER_ACTIVE;
    if (t->flags & NT__TIMER_OWNED)
      nt__free(nt__container_of(t, owned_call_t, timer));
  }
}
