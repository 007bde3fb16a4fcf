/* The loop: one turn runs due timers, then the call-soon queue, then waits
 * for I/O (no longer than the next timer) and dispatches it. The phase order
 * is written here once. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "reactor-int.h"

#define READBUF_SIZE (64 * 1024)

static void wake_cb(nt_io_t *io, unsigned events);

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const struct nt__backend *find_backend(const char *name) {
  if (!name || !*name) name = getenv("NETTOOL_BACKEND");
  if (!name || !*name || !strcmp(name, "epoll")) return &nt__backend_epoll;
  if (!strcmp(name, "poll")) return &nt__backend_poll;
  if (!strcmp(name, "io_uring")) {
#ifdef NT_HAVE_URING
    return &nt__backend_uring;
#else
    NT__DEBUG("io_uring: not built in (no liburing); using epoll");
    return &nt__backend_epoll;
#endif
  }
  return NULL;
}

int nt_reactor_new_sized(size_t opts_size, nt_reactor_t **out,
                         const nt_reactor_options_t *opts) {
  nt_reactor_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  const struct nt__backend *be = find_backend(opts ? opts->backend : NULL);
  if (!be) return NT_EBACKEND;
  nt_reactor_t *r = nt__calloc(1, sizeof *r);
  if (!r) return NT_ENOMEM;
  r->backend = be;
  r->handles.next = r->handles.prev = &r->handles;
  r->wake_fd = -1;
  r->virtual_clock = opts ? opts->virtual_clock : 0;
  if (r->virtual_clock) {
    r->wall_base.tv_sec = 1795360260; /* Sun Nov 22 15:11:00 2026 UTC */
  }
  int rc = be->init(r);
#ifdef NT_HAVE_URING
  if (rc && be == &nt__backend_uring) {
    /* io_uring refused (kernel.io_uring_disabled, a seccomp filter, an old
     * kernel, RLIMIT_MEMLOCK): the program still runs, on epoll. */
    NT__DEBUG("io_uring: setup failed (%s); using epoll", nt_strerror(rc));
    be = r->backend = &nt__backend_epoll;
    rc = be->init(r);
  }
#endif
  if (rc) {
    nt__free(r);
    return rc;
  }
  pthread_mutex_init(&r->tq_lock, NULL);
  r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->wake_fd < 0) {
    rc = -errno;
    be->destroy(r);
    pthread_mutex_destroy(&r->tq_lock);
    nt__free(r);
    return rc;
  }
  nt_io_init(r, &r->wake_io, r->wake_fd, wake_cb);
  nt_io_unref(&r->wake_io);
  rc = nt_io_start(&r->wake_io, NT_READABLE);
  if (rc) {
    r->running = 0;
    nt_reactor_free(r);
    return rc;
  }
  /* Writes to a peer that has gone must fail with EPIPE, not kill the
   * process; sendfile(2) has no MSG_NOSIGNAL. Only the default disposition is
   * changed: a program that set its own keeps it. */
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
  }
  nt_reactor_update_time(r);
  *out = r;
  return 0;
}

void nt__handle_add(nt_reactor_t *r, nt__handle_t *h,
                    void (*close)(nt__handle_t *h)) {
  h->close = close;
  h->next = r->handles.next;
  h->prev = &r->handles;
  h->next->prev = h;
  r->handles.next = h;
}

void nt__handle_remove(nt__handle_t *h) {
  if (!h->next) return;
  h->prev->next = h->next;
  h->next->prev = h->prev;
  h->next = h->prev = NULL;
}

void nt_reactor_close_all(nt_reactor_t *r) {
  while (r->handles.next != &r->handles) {
    nt__handle_t *h = r->handles.next;
    nt__handle_remove(h);
    h->close(h);
  }
  /* Deliver the resulting connection_lost/connection_failed calls. */
  for (int i = 0; i < 1000 && r->soon_len; i++) nt__run_soon(r);
}

static void signals_release(nt_reactor_t *r);

size_t nt_reactor_live(const nt_reactor_t *r, nt_reactor_live_t *out) {
  nt_reactor_live_t l = {0, 0, 0, 0};
  l.timers = r->timer_count;
  for (size_t fd = 0; fd < r->nwatchers; fd++) {
    const nt_io_t *io = r->watchers[fd];
    if (io && io != &r->wake_io && io != &r->signal_io) l.watchers++;
  }
  for (const nt__handle_t *h = r->handles.next; h != &r->handles; h = h->next)
    l.handles++;
  l.calls = r->soon_len + (r->tq_head ? 1 : 0);
  if (out) *out = l;
  return l.timers + l.watchers + l.handles + l.calls;
}

int nt__reactor_free_counted(nt_reactor_t *r, size_t *live) {
  *live = 0;
  if (!r) return 0;
  if (r->running) return NT_EBUSY;
  if (r->resolver) r->resolver_free(r->resolver);
  r->resolver = NULL;
  signals_release(r);
  if (r->wake_fd >= 0) {
    nt_io_stop(&r->wake_io);
    close(r->wake_fd);
  }
  /* What is left now was forgotten by its owner: say so, once (libuv's
   * uv_loop_close refuses with UV_EBUSY; freeing anyway keeps the old
   * contract, the line makes the leak visible). */
  nt_reactor_live_t l;
  *live = nt_reactor_live(r, &l);
  if (*live)
    nt__log(NT__LOG_WARN,
            "nt_reactor_free: %zu timer(s), %zu I/O watcher(s), %zu connection(s) "
            "or attempt(s), %zu queued call(s) still live: close them first",
            l.timers, l.watchers, l.handles, l.calls);
  nt__timers_free_owned(r);
  r->backend->destroy(r);
  struct nt__thread_call *c = r->tq_head;
  while (c) {
    struct nt__thread_call *n = c->next;
    nt__free(c);
    c = n;
  }
  pthread_mutex_destroy(&r->tq_lock);
  nt__free(r->soon);
  nt__free(r->watchers);
  nt__free(r->readbuf);
  nt__free(r);
  return 0;
}

int nt_reactor_free(nt_reactor_t *r) {
  size_t live;
  return nt__reactor_free_counted(r, &live);
}

const char *nt_reactor_backend_name(const nt_reactor_t *r) {
  return r->backend->name;
}

uint64_t nt_reactor_now(const nt_reactor_t *r) { return r->now; }

void nt_reactor_update_time(nt_reactor_t *r) {
  r->now = r->virtual_clock ? r->virtual_now : mono_ms();
}

void nt_reactor_walltime(const nt_reactor_t *r, struct timespec *ts) {
  if (!r->virtual_clock) {
    clock_gettime(CLOCK_REALTIME, ts);
    return;
  }
  ts->tv_sec = r->wall_base.tv_sec + (time_t)(r->virtual_now / 1000u);
  ts->tv_nsec = r->wall_base.tv_nsec + (long)(r->virtual_now % 1000u) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

void nt_reactor_set_data(nt_reactor_t *r, void *data) { r->data = data; }
void *nt_reactor_get_data(const nt_reactor_t *r) { return r->data; }

void nt__reactor_active_inc(nt_reactor_t *r) { r->active++; }
void nt__reactor_active_dec(nt_reactor_t *r) { r->active--; }
void nt_reactor_ref(nt_reactor_t *r) { r->active++; }
void nt_reactor_unref(nt_reactor_t *r) { r->active--; }

char *nt__reactor_readbuf(nt_reactor_t *r, size_t *size) {
  if (!r->readbuf) {
    r->readbuf = nt__malloc(READBUF_SIZE);
    if (!r->readbuf) return NULL;
    r->readbuf_size = READBUF_SIZE;
  }
  *size = r->readbuf_size;
  return r->readbuf;
}

/* --- I/O watchers --------------------------------------------------------- */

void nt_io_init(nt_reactor_t *r, nt_io_t *io, int fd, nt_io_cb cb) {
  memset(io, 0, sizeof *io);
  io->reactor = r;
  io->fd = fd;
  io->cb = cb;
}

static int watchers_reserve(nt_reactor_t *r, int fd) {
  if ((size_t)fd < r->nwatchers) return 0;
  size_t n = r->nwatchers ? r->nwatchers : 64;
  while (n <= (size_t)fd) n *= 2;
  nt_io_t **w = nt__realloc(r->watchers, n * sizeof *w);
  if (!w) return NT_ENOMEM;
  memset(w + r->nwatchers, 0, (n - r->nwatchers) * sizeof *w);
  r->watchers = w;
  r->nwatchers = n;
  return 0;
}

int nt_io_start(nt_io_t *io, unsigned events) {
  nt_reactor_t *r = io->reactor;
  events &= NT_READABLE | NT_WRITABLE;
  if (!events) return nt_io_stop(io);
  if (io->fd < 0) return NT_EBADF;
  int rc = watchers_reserve(r, io->fd);
  if (rc) return rc;
  if (events != io->registered) {
    rc = r->backend->set(r, io->fd, io->registered, events);
    if (rc) return rc;
    io->registered = (uint8_t)events;
  }
  io->events = (uint8_t)events;
  r->watchers[io->fd] = io;
  if (!(io->flags & NT__IO_ACTIVE)) {
    io->flags |= NT__IO_ACTIVE;
    if (!(io->flags & NT__IO_UNREF)) nt__reactor_active_inc(r);
  }
  return 0;
}

int nt_io_stop(nt_io_t *io) {
  nt_reactor_t *r = io->reactor;
  int rc = 0;
  if (io->registered) {
    rc = r->backend->set(r, io->fd, io->registered, 0);
    io->registered = 0;
  }
  io->events = 0;
  if (io->fd >= 0 && (size_t)io->fd < r->nwatchers && r->watchers[io->fd] == io)
    r->watchers[io->fd] = NULL;
  if (io->flags & NT__IO_ACTIVE) {
    io->flags &= ~(uint16_t)NT__IO_ACTIVE;
    if (!(io->flags & NT__IO_UNREF)) nt__reactor_active_dec(r);
  }
  return rc;
}

void nt_io_unref(nt_io_t *io) {
  if (io->flags & NT__IO_UNREF) return;
  io->flags |= NT__IO_UNREF;
  if (io->flags & NT__IO_ACTIVE) nt__reactor_active_dec(io->reactor);
}

/* Looks the watcher up by fd at dispatch time, so a watcher stopped by an
 * earlier callback of the same turn gets nothing. */
void nt__io_dispatch(nt_reactor_t *r, int fd, unsigned events) {
  if (fd < 0 || (size_t)fd >= r->nwatchers) return;
  nt_io_t *io = r->watchers[fd];
  if (!io) return;
  unsigned ev = events & (io->events | NT_IO_ERROR);
  if (events & NT_IO_ERROR) ev |= io->events;
  if (ev & (NT_READABLE | NT_WRITABLE)) io->cb(io, ev);
}

/* --- call soon ---------------------------------------------------------------- */

int nt_call_soon(nt_reactor_t *r, nt_callback cb, void *arg) {
  if (r->soon_len == r->soon_cap) {
    size_t cap = r->soon_cap ? r->soon_cap * 2 : 64;
    nt__call_t *q = nt__malloc(cap * sizeof *q);
    if (!q) return NT_ENOMEM;
    for (size_t i = 0; i < r->soon_len; i++)
      q[i] = r->soon[(r->soon_head + i) % r->soon_cap];
    nt__free(r->soon);
    r->soon = q;
    r->soon_cap = cap;
    r->soon_head = 0;
  }
  nt__call_t *c = &r->soon[(r->soon_head + r->soon_len) % r->soon_cap];
  c->cb = cb;
  c->arg = arg;
  r->soon_len++;
  return 0;
}

/* Runs the calls queued before this phase began; calls they queue wait for the
 * next turn, so a callback that re-queues itself cannot starve I/O. */
void nt__run_soon(nt_reactor_t *r) {
  size_t n = r->soon_len;
  while (n--) {
    nt__call_t c = r->soon[r->soon_head];
    r->soon_head = (r->soon_head + 1) % r->soon_cap;
    r->soon_len--;
    c.cb(c.arg);
  }
}

/* --- calls from other threads ---------------------------------------------------- */

int nt_call_from_thread(nt_reactor_t *r, nt_callback cb, void *arg) {
  struct nt__thread_call *c = nt__malloc(sizeof *c);
  if (!c) return NT_ENOMEM;
  c->next = NULL;
  c->cb = cb;
  c->arg = arg;
  pthread_mutex_lock(&r->tq_lock);
  if (r->tq_tail)
    r->tq_tail->next = c;
  else
    r->tq_head = c;
  r->tq_tail = c;
  r->tq_pending++;
  pthread_mutex_unlock(&r->tq_lock);
  uint64_t one = 1;
  ssize_t w = write(r->wake_fd, &one, sizeof one);
  (void)w; /* EAGAIN: the counter is already non-zero, the loop will wake */
  return 0;
}

static void stop_cb(void *arg) { nt_reactor_stop(arg); }

int nt_reactor_stop_from_thread(nt_reactor_t *r) {
  return nt_call_from_thread(r, stop_cb, r);
}

static void wake_cb(nt_io_t *io, unsigned events) {
  nt_reactor_t *r = io->reactor;
  (void)events;
  uint64_t v;
  ssize_t n = read(r->wake_fd, &v, sizeof v);
  (void)n;
  pthread_mutex_lock(&r->tq_lock);
  struct nt__thread_call *c = r->tq_head;
  r->tq_head = r->tq_tail = NULL;
  r->tq_pending = 0;
  pthread_mutex_unlock(&r->tq_lock);
  while (c) {
    struct nt__thread_call *next = c->next;
    c->cb(c->arg);
    nt__free(c);
    c = next;
  }
}

static int tq_pending(nt_reactor_t *r) {
  pthread_mutex_lock(&r->tq_lock);
  int p = r->tq_pending != 0;
  pthread_mutex_unlock(&r->tq_lock);
  return p;
}

/* --- signals ------------------------------------------------------------------------ */

/* One self-pipe per process: the handler only writes the signal number, and
 * the owning reactor reads it on its own thread. */
static int sig_pipe[2] = {-1, -1};
static nt_reactor_t *sig_owner;
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_signal(int signum) {
  int saved = errno;
  unsigned char b = (unsigned char)signum;
  ssize_t n = write(sig_pipe[1], &b, 1);
  (void)n;
  errno = saved;
}

static void signal_io_cb(nt_io_t *io, unsigned events) {
  nt_reactor_t *r = io->reactor;
  unsigned char buf[16];
  (void)events;
  ssize_t n;
  while ((n = read(sig_pipe[0], buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) {
      if (r->signal_cb)
        r->signal_cb(r, buf[i], r->signal_arg);
      else
        nt_reactor_stop(r);
    }
  }
}

int nt_reactor_handle_signals(nt_reactor_t *r, nt_signal_cb cb, void *arg) {
  pthread_mutex_lock(&sig_lock);
  if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
    int e = -errno;
    pthread_mutex_unlock(&sig_lock);
    return e;
  }
  if (sig_owner && sig_owner != r) nt_io_stop(&sig_owner->signal_io);
  sig_owner = r;
  pthread_mutex_unlock(&sig_lock);
  r->signal_cb = cb;
  r->signal_arg = arg;
  /* Called again on the same reactor: only the callback changes; the
   * watcher is live and must not be re-initialised under the backend. */
  if (!(r->signal_io.flags & NT__IO_ACTIVE)) {
    nt_io_init(r, &r->signal_io, sig_pipe[0], signal_io_cb);
    nt_io_unref(&r->signal_io);
    int rc = nt_io_start(&r->signal_io, NT_READABLE);
    if (rc) return rc;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  return 0;
}

static void signals_release(nt_reactor_t *r) {
  pthread_mutex_lock(&sig_lock);
  if (sig_owner == r) {
    nt_io_stop(&r->signal_io);
    sig_owner = NULL;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
  }
  pthread_mutex_unlock(&sig_lock);
}

/* --- the loop ---------------------------------------------------------------------------- */

static int alive(nt_reactor_t *r) {
  return r->active > 0 || r->soon_len > 0 || tq_pending(r);
}

static int compute_timeout(nt_reactor_t *r, int block) {
  if (!block || r->soon_len || r->stop_flag) return 0;
  int64_t due = nt__timers_next_due(r);
  if (due < 0) return -1;
  if ((uint64_t)due <= r->now) return 0;
  uint64_t d = (uint64_t)due - r->now;
  return d > 3600000u ? 3600000 : (int)d;
}

static int turn(nt_reactor_t *r, int block) {
  nt_reactor_update_time(r);
  nt__timers_run(r);
  nt__run_soon(r);
  /* A blocking turn with nothing referenced would sleep for nothing; a
   * non-blocking one still collects what is ready, unreferenced watchers
   * included: an embedding loop polls the backend fd, which stays readable
   * (level-triggered) until those events are taken. */
  if (r->stop_flag || (block && !alive(r))) return 0;
  int timeout = compute_timeout(r, block);
  if (r->virtual_clock && timeout != 0) {
    /* No real sleeping on a virtual clock: look for I/O, then jump time to
     * the next timer. With neither, there is nothing that could happen. */
    int n = r->backend->wait(r, 0);
    if (n < 0) return n;
    if (n == 0 && timeout > 0) r->virtual_now += (uint64_t)timeout;
    if (n == 0 && timeout < 0 && !tq_pending(r)) {
      int rc = r->backend->wait(r, -1);
      if (rc < 0) return rc;
    }
    nt_reactor_update_time(r); /* the jump above */
  } else {
    /* The backend refreshed the time when its wait returned. */
    int n = r->backend->wait(r, timeout);
    if (n < 0) return n;
  }
  nt__timers_run(r);
  return 1;
}

int nt_reactor_run_once(nt_reactor_t *r, int block) {
  r->running = 1;
  int rc = turn(r, block);
  r->running = 0;
  /* A stop ends this call only (as it ends one run()): a loop that embeds
   * the reactor keeps calling run_once, and a stale flag would skip the
   * I/O of every later turn. */
  r->stop_flag = 0;
  /* A host loop may sleep on the backend fd next: SQEs the callbacks
   * queued must reach the kernel first. */
  if (!block && r->backend->flush) r->backend->flush(r);
  if (rc < 0) return rc;
  return alive(r) ? 1 : 0;
}

int nt_reactor_alive(const nt_reactor_t *r) {
  return alive((nt_reactor_t *)r);
}

/* --- embedding in another loop ----------------------------------------------- */

int nt_reactor_backend_fd(const nt_reactor_t *r) {
  if (!r->backend->fd) return NT_ENOTSUP;
  return r->backend->fd(r);
}

/* Reads the clock afresh rather than using the cached time: the host loop
 * may have spent a while elsewhere since the last turn, and a stale "now"
 * would make it sleep past the next timer. */
int nt_reactor_backend_timeout(const nt_reactor_t *r) {
  nt_reactor_t *m = (nt_reactor_t *)r; /* tq_lock, and the backend's flush */
  /* The host sleeps next: what is queued for the kernel goes now (io_uring
   * SQEs queued by the host's own calls since the last turn). */
  if (r->backend->flush) r->backend->flush(m);
  if (r->soon_len || tq_pending(m)) return 0;
  int64_t due = nt__timers_next_due(r);
  if (due < 0) return -1;
  uint64_t now = r->virtual_clock ? r->virtual_now : mono_ms();
  if ((uint64_t)due <= now) return 0;
  uint64_t d = (uint64_t)due - now;
  return d > 3600000u ? 3600000 : (int)d;
}

int nt_reactor_run(nt_reactor_t *r) {
  int rc = 0;
  r->stop_flag = 0;
  r->running = 1;
  while (!r->stop_flag) {
    rc = turn(r, 1);
    if (rc <= 0) break;
  }
  r->running = 0;
  r->stop_flag = 0;
  return rc < 0 ? rc : 0;
}

void nt_reactor_stop(nt_reactor_t *r) { r->stop_flag = 1; }
