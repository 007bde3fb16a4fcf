/* poll(2) backend: portable fallback, and a second backend so the whole suite
 * can run on both (NETTOOL_BACKEND=poll). O(n) per wait. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "reactor-int.h"

typedef struct {
  struct pollfd *fds; /* the set passed to poll() */
  size_t len, cap;
  int *slot_of_fd; /* fd -> index in fds, or -1 */
  size_t nslots;
  struct pollfd *ready; /* copy of results, so callbacks may change fds */
  size_t ready_cap;
} poll_data_t_;

static int pl_init(nt_reactor_t *r) {
  poll_data_t_ *d = nt__calloc(1, sizeof *d);
  if (!d) return NT_ENOMEM;
  r->backend_data = d;
  return 0;
}

static void pl_destroy(nt_reactor_t *r) {
  poll_data_t_ *d = r->backend_data;
  if (!d) return;
  nt__free(d->fds);
  nt__free(d->slot_of_fd);
  nt__free(d->ready);
  nt__free(d);
  r->backend_data = NULL;
}

static int grow_slots(poll_data_t_ *d, int fd) {
  if ((size_t)fd < d->nslots) return 0;
  size_t n = d->nslots ? d->nslots : 64;
  while (n <= (size_t)fd) n *= 2;
  int *s = nt__realloc(d->slot_of_fd, n * sizeof *s);
  if (!s) return NT_ENOMEM;
  for (size_t i = d->nslots; i < n; i++) s[i] = -1;
  d->slot_of_fd = s;
  d->nslots = n;
  return 0;
}

static int pl_set(nt_reactor_t *r, int fd, unsigned have, unsigned want) {
  poll_data_t_ *d = r->backend_data;
  (void)have;
  int rc = grow_slots(d, fd);
  if (rc) return rc;
  int slot = d->slot_of_fd[fd];
  short ev = 0;
  if (want & NT_READABLE) ev |= POLLIN;
  if (want & NT_WRITABLE) ev |= POLLOUT;
  if (!want) {
    if (slot < 0) return 0;
    /* Swap-remove: the last entry takes the freed slot. */
    d->fds[slot] = d->fds[--d->len];
    d->slot_of_fd[d->fds[slot].fd] = slot;
    d->slot_of_fd[fd] = -1;
    return 0;
  }
  if (slot < 0) {
    if (d->len == d->cap) {
      size_t cap = d->cap ? d->cap * 2 : 64;
      struct pollfd *f = nt__realloc(d->fds, cap * sizeof *f);
      if (!f) return NT_ENOMEM;
      d->fds = f;
      d->cap = cap;
    }
    slot = (int)d->len++;
    d->slot_of_fd[fd] = slot;
    d->fds[slot].fd = fd;
  }
  d->fds[slot].events = ev;
  d->fds[slot].revents = 0;
  return 0;
}

static int pl_wait(nt_reactor_t *r, int timeout_ms) {
  poll_data_t_ *d = r->backend_data;
  int n = poll(d->fds, d->len, timeout_ms);
  int e = errno;
  nt_reactor_update_time(r); /* before any callback: see reactor-int.h */
  if (n < 0) return e == EINTR ? 0 : -e;
  if (n == 0) return 0;
  if (d->ready_cap < (size_t)n) {
    struct pollfd *p = nt__realloc(d->ready, (size_t)n * sizeof *p);
    if (!p) return NT_ENOMEM;
    d->ready = p;
    d->ready_cap = (size_t)n;
  }
  size_t k = 0;
  for (size_t i = 0; i < d->len && k < (size_t)n; i++)
    if (d->fds[i].revents) d->ready[k++] = d->fds[i];
  for (size_t i = 0; i < k; i++) {
    short e = d->ready[i].revents;
    unsigned ev = 0;
    if (e & POLLIN) ev |= NT_READABLE;
    if (e & POLLOUT) ev |= NT_WRITABLE;
    if (e & (POLLERR | POLLHUP | POLLNVAL))
      ev |= NT_READABLE | NT_WRITABLE | NT_IO_ERROR;
    nt__io_dispatch(r, d->ready[i].fd, ev);
  }
  return (int)k;
}

const struct nt__backend nt__backend_poll = {
    .name = "poll",
    .init = pl_init,
    .destroy = pl_destroy,
    .set = pl_set,
    .wait = pl_wait,
    /* No fd stands for a poll(2) set: a loop that embeds the reactor needs
     * the epoll backend (nt_reactor_backend_fd says NT_ENOTSUP). */
    .fd = NULL,
};
