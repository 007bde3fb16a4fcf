/* Linux epoll(7) backend, level-triggered. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "reactor-int.h"

#define MAX_EVENTS 256

typedef struct {
  int epfd;
  struct epoll_event events[MAX_EVENTS];
} epoll_data_t_;

static int ep_init(nt_reactor_t *r) {
  epoll_data_t_ *d = nt__malloc(sizeof *d);
  if (!d) return NT_ENOMEM;
  d->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (d->epfd < 0) {
    int e = -errno;
    nt__free(d);
    return e;
  }
  r->backend_data = d;
  return 0;
}

static void ep_destroy(nt_reactor_t *r) {
  epoll_data_t_ *d = r->backend_data;
  if (!d) return;
  close(d->epfd);
  nt__free(d);
  r->backend_data = NULL;
}

static int ep_set(nt_reactor_t *r, int fd, unsigned have, unsigned want) {
  epoll_data_t_ *d = r->backend_data;
  struct epoll_event ev = {0};
  ev.data.fd = fd;
  if (want & NT_READABLE) ev.events |= EPOLLIN;
  if (want & NT_WRITABLE) ev.events |= EPOLLOUT;
  int op = !want ? EPOLL_CTL_DEL : (have ? EPOLL_CTL_MOD : EPOLL_CTL_ADD);
  if (epoll_ctl(d->epfd, op, fd, &ev) == 0) return 0;
  /* The fd was closed and reused behind our back: epoll dropped it. */
  if (op == EPOLL_CTL_MOD && errno == ENOENT &&
      epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
    return 0;
  if (op == EPOLL_CTL_DEL && (errno == ENOENT || errno == EBADF)) return 0;
  return -errno;
}

static int ep_wait(nt_reactor_t *r, int timeout_ms) {
  epoll_data_t_ *d = r->backend_data;
  int n = epoll_wait(d->epfd, d->events, MAX_EVENTS, timeout_ms);
  int e = errno;
  /* Callbacks start timers: they must count from now, not from before the
   * wait (see the backend contract in reactor-int.h). */
  nt_reactor_update_time(r);
  if (n < 0) return e == EINTR ? 0 : -e;
  for (int i = 0; i < n; i++) {
    uint32_t e = d->events[i].events;
    unsigned ev = 0;
    if (e & (EPOLLIN | EPOLLRDHUP)) ev |= NT_READABLE;
    if (e & EPOLLOUT) ev |= NT_WRITABLE;
    if (e & (EPOLLERR | EPOLLHUP)) ev |= NT_READABLE | NT_WRITABLE | NT_IO_ERROR;
    nt__io_dispatch(r, d->events[i].data.fd, ev);
  }
  return n;
}

/* An epoll fd is itself pollable: readable while its ready list is not
 * empty, which is what a host loop needs to know. */
static int ep_fd(const nt_reactor_t *r) {
  const epoll_data_t_ *d = r->backend_data;
  return d->epfd;
}

const struct nt__backend nt__backend_epoll = {
    .name = "epoll",
    .init = ep_init,
    .destroy = ep_destroy,
    .set = ep_set,
    .wait = ep_wait,
    .fd = ep_fd,
};
