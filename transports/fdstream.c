/* A stream transport over file descriptors (pipes, TTYs, stdin/stdout,
 * sockets handed in, regular files) on the shared stream core, so half-close,
 * water marks and the close lifecycle are TCP's. Regular files, which no
 * poller watches, are served by a zero-delay timer: no thread. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fdstream-int.h"
#include "nettool/fdstream.h"
#include "reactor-int.h"
#include "stream-int.h"

/* Reads per readiness event (per pump tick for files): bounded so one busy
 * stream cannot starve the others in the same loop turn. */
#define READS_PER_EVENT 4

struct nt__fds {
  nt__stream_t s;
  nt_io_t rio; /* rfd; also wfd when they are the same fd */
  nt_io_t wio; /* wfd when it differs from rfd */
  nt_timer_t pump; /* serves the fds no poller can watch */
  nt__handle_t handle;
  int rfd, wfd;
  int rsaved, wsaved;   /* file status flags to put back; -1: untouched */
  uint8_t rpump, wpump; /* not pollable: served by the pump */
  uint8_t whup;  /* wfd is a pipe: its reader going away shows as an error */
  uint8_t wsock; /* wfd (== rfd) is a socket: write_eof is shutdown(2) */
  unsigned flags;
  nt__fds_freed_cb freed;
  void *arg;
};

static const nt_transport_ops_t fd_ops, pipe_ops;

nt_transport_t *nt__fds_transport(nt__fds_t *f) { return &f->s.base; }

/* --- the descriptors ------------------------------------------------------ */

/* Gives an fd back: its flags as they were, then closed if it is ours. A
 * standard descriptor (0, 1, 2) is pointed at /dev/null rather than closed,
 * so the next open() cannot take its number and receive stray output. */
static void release_fd(const nt__fds_t *f, int fd, int saved) {
  if (saved >= 0) fcntl(fd, F_SETFL, saved);
  if (!(f->flags & NT__FDS_OWN)) return;
  if (fd <= 2) {
    int n = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (n >= 0) {
      dup2(n, fd);
      close(n);
      return;
    }
  }
  close(fd);
}

static int reading(const nt__fds_t *f) {
  return f->rfd >= 0 &&
         !(f->s.base.flags & (NT_TRANSPORT_READ_PAUSED | NT_TRANSPORT_CLOSING |
                              NT_TRANSPORT_CLOSED | NT_TRANSPORT_EOF_RECEIVED));
}

static int set_io(nt_io_t *io, unsigned ev) {
  if (ev == io->events) return 0;
  return nt_io_start(io, ev);
}

/* Makes the watchers (or the pump) match what the stream needs now. */
static void update(nt__fds_t *f) {
  if (f->s.base.flags & NT_TRANSPORT_CLOSED) return;
  int rd = reading(f);
  int wr = f->wfd >= 0 && f->s.wq.head != NULL;
  int pump = 0, rc = 0;
  if (f->rfd >= 0 && f->rfd == f->wfd) {
    if (f->rpump)
      pump = rd || wr;
    else
      rc = set_io(&f->rio, (rd ? NT_READABLE : 0u) | (wr ? NT_WRITABLE : 0u));
  } else {
    if (f->rfd >= 0) {
      if (f->rpump)
        pump |= rd;
      else
        rc = set_io(&f->rio, rd ? NT_READABLE : 0u);
    }
    if (!rc && f->wfd >= 0) {
      if (f->wpump)
        pump |= wr;
      else /* a pipe's write end is never readable: asking for it reports
              only the error that says its reader is gone */
        rc = set_io(&f->wio, wr ? NT_WRITABLE : f->whup ? NT_READABLE : 0u);
    }
  }
  if (rc) {
    nt__stream_fail(&f->s, rc);
    return;
  }
  if (pump && !nt_timer_is_active(&f->pump))
    nt_timer_start(&f->pump, 0, 0);
  else if (!pump)
    nt_timer_stop(&f->pump);
}

static ssize_t fds_sendv(nt__stream_t *s, const struct iovec *iov, int n) {
  nt__fds_t *f = (nt__fds_t *)s;
  if (f->wfd < 0) return NT_EPIPE;
  if (n > IOV_MAX) n = IOV_MAX;
  for (;;) {
    ssize_t w = writev(f->wfd, iov, n);
    if (w >= 0) return w;
    if (errno == EINTR) continue;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? NT_EAGAIN : -errno;
  }
}

/* sendfile(2) takes any output fd since Linux 2.6.33; where it refuses
 * (EINVAL: an fd opened O_APPEND, some devices) the range goes through the
 * reactor's read buffer. */
static ssize_t fds_sendfile(nt__stream_t *s, int fd, uint64_t *off,
                            size_t len) {
  nt__fds_t *f = (nt__fds_t *)s;
  if (f->wfd < 0) return NT_EPIPE;
  off_t o = (off_t)*off;
  for (;;) {
    ssize_t w = sendfile(f->wfd, fd, &o, len);
    if (w >= 0) {
      *off = (uint64_t)o;
      return w;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return NT_EAGAIN;
    if (errno != EINVAL && errno != ENOSYS) return -errno;
    break;
  }
  size_t size;
  char *buf = nt__reactor_readbuf(s->base.reactor, &size);
  if (!buf) return NT_ENOMEM;
  ssize_t n = pread(fd, buf, len < size ? len : size, (off_t)*off);
  if (n <= 0) return n < 0 ? -errno : 0;
  for (;;) {
    ssize_t w = write(f->wfd, buf, (size_t)n);
    if (w >= 0) {
      *off += (uint64_t)w;
      return w;
    }
    if (errno == EINTR) continue;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? NT_EAGAIN : -errno;
  }
}

static void fds_want_write(nt__stream_t *s, int on) {
  (void)on;
  update((nt__fds_t *)s);
}

static void fds_read_enable(nt__stream_t *s, int on) {
  (void)on;
  update((nt__fds_t *)s);
}

/* Half-close: a separate write fd is closed (the reader sees end of file);
 * a socket is shut down; a TTY, read and written through one fd, cannot
 * half-close and stays as it is. */
static int fds_shutdown_write(nt__stream_t *s) {
  nt__fds_t *f = (nt__fds_t *)s;
  if (f->wfd < 0) return 0;
  if (f->wfd == f->rfd)
    return !f->wsock || shutdown(f->wfd, SHUT_WR) == 0 ? 0 : -errno;
  nt_io_stop(&f->wio);
  release_fd(f, f->wfd, f->wsaved);
  f->wfd = -1;
  f->wio.fd = -1;
  update(f);
  return 0;
}

static void fds_close(nt__stream_t *s) {
  nt__fds_t *f = (nt__fds_t *)s;
  nt_timer_stop(&f->pump);
  nt_io_stop(&f->rio);
  nt_io_stop(&f->wio);
  if (f->rfd >= 0) release_fd(f, f->rfd, f->rsaved);
  if (f->wfd >= 0 && f->wfd != f->rfd) release_fd(f, f->wfd, f->wsaved);
  f->rfd = f->wfd = -1;
  f->rio.fd = f->wio.fd = -1;
  if (f->flags & NT__FDS_HANDLE) nt__handle_remove(&f->handle);
  if (!(f->flags & NT__FDS_NOREF)) nt_reactor_unref(s->base.reactor);
}

static void fds_free(nt__stream_t *s) {
  nt__fds_t *f = (nt__fds_t *)s;
  nt__fds_freed_cb cb = f->freed;
  void *arg = f->arg;
  int status = s->close_status;
  nt__free(f);
  if (cb) cb(arg, status);
}

/* Only a socket has addresses (a pipe or a file has none). */
static int fds_sockfd(nt__stream_t *s) {
  nt__fds_t *f = (nt__fds_t *)s;
  return f->wsock && f->rfd >= 0 ? f->rfd : NT_ENOTSUP;
}

static const nt__stream_io_t fds_stream_io = {
    .sendv = fds_sendv,
    .sendfile = fds_sendfile,
    .want_write = fds_want_write,
    .read_enable = fds_read_enable,
    .shutdown_write = fds_shutdown_write,
    .close = fds_close,
    .free = fds_free,
    .sockfd = fds_sockfd,
};

static void do_read(nt__fds_t *f) {
  size_t size;
  char *buf = nt__reactor_readbuf(f->s.base.reactor, &size);
  if (!buf) {
    nt__stream_fail(&f->s, NT_ENOMEM);
    return;
  }
  for (int i = 0; i < READS_PER_EVENT; i++) {
    ssize_t n = read(f->rfd, buf, size);
    if (n > 0) {
      nt__stream_deliver(&f->s, buf, (size_t)n);
      if (!reading(f)) return;
      if (!f->rpump && (size_t)n < size) return; /* drained */
      continue;
    }
    if (n == 0) {
      nt__stream_deliver_eof(&f->s);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    nt__stream_fail(&f->s, -errno);
    return;
  }
}

static void rio_cb(nt_io_t *io, unsigned events) {
  nt__fds_t *f = nt__container_of(io, nt__fds_t, rio);
  int can_read = (events & NT_READABLE) && reading(f);
  /* On an error, read first: what the peer wrote before it went is still
   * there, and a failing write would end the stream before it is seen. */
  if ((events & NT_IO_ERROR) && can_read) {
    do_read(f);
    can_read = 0;
  }
  if ((events & NT_WRITABLE) && f->s.wq.head &&
      !(f->s.base.flags & NT_TRANSPORT_CLOSED))
    nt__stream_flush(&f->s);
  if (can_read && reading(f)) do_read(f);
}

static void wio_cb(nt_io_t *io, unsigned events) {
  nt__fds_t *f = nt__container_of(io, nt__fds_t, wio);
  if (f->s.wq.head) {
    nt__stream_flush(&f->s); /* a gone reader shows as EPIPE here */
    return;
  }
  if (!(events & NT_IO_ERROR)) return;
  /* Nothing queued and the pipe's reader is gone: nothing was lost. A
   * write-only stream is over; otherwise the next write fails. */
  f->whup = 0;
  if (f->rfd < 0)
    nt__stream_fail(&f->s, 0);
  else
    update(f);
}

static void pump_cb(nt_timer_t *t) {
  nt__fds_t *f = nt__container_of(t, nt__fds_t, pump);
  if (f->wpump && f->s.wq.head) nt__stream_flush(&f->s);
  if (f->s.base.flags & NT_TRANSPORT_CLOSED) return;
  if (f->rpump && reading(f)) do_read(f);
  update(f);
}

static void fds_close_handle(nt__handle_t *h) {
  nt__fds_t *f = nt__container_of(h, nt__fds_t, handle);
  nt__stream_abort(&f->s.base, NT_ECONNABORTED);
}

/* Decides how fd is served: pumped (regular files; fds the backend refuses,
 * as epoll refuses /dev/null) or watched, made non-blocking. */
static int prepare(nt__fds_t *f, int fd, uint8_t *pump, int *saved,
                   uint8_t *hup, uint8_t *sock) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
    *pump = 1;
    return 0;
  }
  if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
    nt_io_t probe;
    nt_io_init(f->s.base.reactor, &probe, fd, NULL);
    nt_io_unref(&probe);
    int rc = nt_io_start(&probe, NT_READABLE);
    nt_io_stop(&probe);
    if (rc == NT_EPERM) {
      *pump = 1;
      return 0;
    }
    if (rc) return rc;
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -errno;
  if (!(fl & O_NONBLOCK)) {
    if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
    *saved = fl;
  }
  if (hup) *hup = S_ISFIFO(st.st_mode);
  if (sock) *sock = S_ISSOCK(st.st_mode);
  return 0;
}

int nt__fds_new(nt_reactor_t *r, int rfd, int wfd, unsigned flags,
                nt__fds_freed_cb freed, void *arg, nt__fds_t **out) {
  if (rfd < 0 && wfd < 0) return NT_EBADF;
  nt__fds_t *f = nt__malloc(sizeof *f);
  if (!f) return NT_ENOMEM;
  nt__stream_init(&f->s, r, (flags & NT__FDS_PIPE) ? &pipe_ops : &fd_ops,
                  &fds_stream_io);
  f->rfd = rfd;
  f->wfd = wfd;
  f->rsaved = f->wsaved = -1;
  f->rpump = f->wpump = f->whup = f->wsock = 0;
  f->flags = flags;
  f->freed = freed;
  f->arg = arg;
  f->handle.next = f->handle.prev = NULL;
  nt_io_init(r, &f->rio, rfd, rio_cb);
  nt_io_unref(&f->rio);
  nt_io_init(r, &f->wio, wfd == rfd ? -1 : wfd, wio_cb);
  nt_io_unref(&f->wio);
  nt_timer_init(r, &f->pump, pump_cb);
  nt_timer_unref(&f->pump);
  int rc = 0;
  if (rfd >= 0)
    rc = prepare(f, rfd, &f->rpump, &f->rsaved, NULL,
                 wfd == rfd ? &f->wsock : NULL);
  if (!rc && wfd >= 0 && wfd != rfd)
    rc = prepare(f, wfd, &f->wpump, &f->wsaved, &f->whup, NULL);
  if (wfd == rfd) f->wpump = f->rpump;
  if (rc) {
    if (f->rsaved >= 0) fcntl(rfd, F_SETFL, f->rsaved);
    nt__free(f);
    return rc;
  }
  /* A one-way stream starts with the other way already finished. */
  if (rfd < 0) f->s.base.flags |= NT_TRANSPORT_EOF_RECEIVED;
  if (wfd < 0) f->s.base.flags |= NT_TRANSPORT_WRITE_EOF;
  if (!(flags & NT__FDS_NOREF)) nt_reactor_ref(r);
  if (flags & NT__FDS_HANDLE) nt__handle_add(r, &f->handle, fds_close_handle);
  *out = f;
  return 0;
}

void nt__fds_start(nt__fds_t *f, nt_protocol_t *p) {
  nt__stream_start(&f->s, p);
  update(f);
}

#define FDS_OPS(nm)                                                            \
  {                                                                            \
    .name = nm, .writev = nt__stream_writev,                                   \
    .write_file = nt__stream_write_file, .write_eof = nt__stream_write_eof,    \
    .lose_connection = nt__stream_lose_connection, .abort = nt__stream_abort,  \
    .pause_reading = nt__stream_pause_reading,                                 \
    .resume_reading = nt__stream_resume_reading,                               \
    .peer_address = nt__stream_peer_address,                                   \
    .host_address = nt__stream_host_address,                                   \
    .write_buffer_size = nt__stream_write_buffer_size,                         \
  }
static const nt_transport_ops_t fd_ops = FDS_OPS("fd");
static const nt_transport_ops_t pipe_ops = FDS_OPS("pipe");

/* --- the public API (nettool/fdstream.h) -------------------------------------- */

int nt_fdstream_open_sized(size_t opts_size, nt_reactor_t *r, int rfd, int wfd,
                           nt_protocol_t *p, const nt_fdstream_options_t *opts,
                           nt_transport_t **out) {
  nt_fdstream_options_t o;
  if (NT__OPTS_COPY(o, opts, opts_size)) return NT_ENOTSUP;
  if (!p) return NT_EINVAL;
  unsigned fl = NT__FDS_HANDLE | (o.keep_open ? 0u : NT__FDS_OWN);
  nt__fds_t *f;
  int rc = nt__fds_new(r, rfd, wfd, fl, NULL, NULL, &f);
  if (rc) return rc;
  if (out) *out = &f->s.base;
  nt__fds_start(f, p);
  return 0;
}

int nt_stdio_open_sized(size_t opts_size, nt_reactor_t *r, nt_protocol_t *p,
                        const nt_fdstream_options_t *opts,
                        nt_transport_t **out) {
  return nt_fdstream_open_sized(opts_size, r, STDIN_FILENO, STDOUT_FILENO, p,
                                opts, out);
}
