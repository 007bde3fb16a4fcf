/* TCP: connections (a stream core over a non-blocking socket), listeners and
 * connectors for numeric addresses. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nettool/tcp.h"
#include "reactor-int.h"
#include "stream-int.h"
#include "tcp-int.h"

/* Reads per readiness event: bounded so one busy connection cannot starve the
 * others in the same loop turn. */
#define READS_PER_EVENT 4
#define ACCEPTS_PER_EVENT 64

typedef struct tcp_conn {
  nt__stream_t s;
  nt__handle_t handle;
  /* A readiness backend (epoll, poll) watches the socket with io; on one
   * with completion-based I/O (io_uring: the backend has cio_open) the
   * connection's I/O goes through cio instead, which takes io's room (an
   * idle connection costs no more than on epoll). The fd is at the same
   * place in both (reactor-int.h), so io.fd names the socket either way. */
  union {
    nt_io_t io;
    nt__cio_t cio;
  };
} tcp_conn_t;

static const nt_transport_ops_t tcp_ops;

static int is_cio(const tcp_conn_t *c) {
  return c->s.base.reactor->backend->cio_open != NULL;
}

/* --- the connection's socket -------------------------------------------- */

static void update_events(tcp_conn_t *c) {
  uint32_t f = c->s.base.flags;
  unsigned ev = 0;
  if (c->io.fd < 0) return;
  if (!(f & (NT_TRANSPORT_READ_PAUSED | NT_TRANSPORT_CLOSING |
             NT_TRANSPORT_CLOSED | NT_TRANSPORT_EOF_RECEIVED)))
    ev |= NT_READABLE;
  if (c->s.wq.head) ev |= NT_WRITABLE;
  if (is_cio(c)) {
    nt_reactor_t *r = c->s.base.reactor;
    const struct nt__backend *be = r->backend;
    int on = (ev & NT_READABLE) != 0;
    if (on != c->cio.owner_on) {
      c->cio.owner_on = (uint8_t)on;
      be->cio_recv(r, &c->cio, on);
    }
    /* The end of the send in flight flushes the queue (conn_cio_cb): the
     * socket's writability matters only when nothing is in flight (a file
     * segment that met a full socket). */
    int w = (ev & NT_WRITABLE) && !be->cio_sending(&c->cio);
    int rc = be->cio_poll_out(r, &c->cio, w);
    if (rc) nt__stream_fail(&c->s, rc);
    return;
  }
  if (ev != c->io.events) {
    int rc = nt_io_start(&c->io, ev);
    if (rc) nt__stream_fail(&c->s, rc);
  }
}

/* Bytes one send through the ring carries at most (a copy of the queue's
 * head: bounded, so a peer that reads nothing costs little more memory
 * than on epoll). */
#define CIO_SEND_MAX (64 * 1024)

/* Sending with a cio: every write is queued and goes through the ring
 * (cio_kick), so the sends of every connection a loop turn wrote to reach
 * the kernel with the turn's one io_uring_enter, not one sendmsg(2) each.
 * The bytes stay at the queue's head until the send's completion: the
 * queue's size, the water marks, write_eof's shutdown(2) and a graceful
 * close all wait for the kernel to have taken them, so nothing done on the
 * socket directly (shutdown, close, sendfile of a later file segment) can
 * overtake a send still in the submission ring. The kernel parks a send
 * until the socket has room (no writability round trip), and its
 * completion flushes the rest. What a program observes: the bytes reach
 * the socket when the loop next runs, not when write returns. */
static ssize_t tcp_sendv(nt__stream_t *s, const struct iovec *iov, int n) {
  tcp_conn_t *c = (tcp_conn_t *)s;
  if (is_cio(c)) {
    if (!s->wq.head) return NT_EAGAIN; /* queue it: the stream core does */
    /* Flushing the queue (flush_queue): nothing is taken now; once the
     * send completes, the queue's head is what went out, and the next
     * call says so. */
    if (c->cio.sent_done) {
      size_t k = c->cio.sent_done;
      c->cio.sent_done = 0;
      return (ssize_t)k;
    }
    nt_reactor_t *r = s->base.reactor;
    int rc = r->backend->cio_send(r, &c->cio, iov, n, CIO_SEND_MAX);
    return rc ? rc : NT_EAGAIN;
  }
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = (struct iovec *)iov;
  m.msg_iovlen = (size_t)n;
  for (;;) {
    ssize_t w = sendmsg(c->io.fd, &m, MSG_NOSIGNAL);
    if (w >= 0) return w;
    if (errno == EINTR) continue;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? NT_EAGAIN : -errno;
  }
}

int nt__tcp_sendfile_refused;

/* A file range goes by sendfile(2), with no copy in user space; where the
 * file's file system cannot splice (EINVAL, ENOSYS), by pread(2) into the
 * reactor's read buffer and send(2): the bytes the socket took are the
 * range's progress, the rest is read again next time. */
static ssize_t tcp_sendfile(nt__stream_t *s, int fd, uint64_t *off,
                            size_t len) {
  tcp_conn_t *c = (tcp_conn_t *)s;
  /* Not past bytes still in flight in the ring. */
  if (is_cio(c) && s->base.reactor->backend->cio_sending(&c->cio))
    return NT_EAGAIN;
  off_t o = (off_t)*off;
  for (;;) {
    ssize_t w = nt__tcp_sendfile_refused ? (errno = EINVAL, -1)
                                         : sendfile(c->io.fd, fd, &o, len);
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
  ssize_t n;
  do {
    n = pread(fd, buf, len < size ? len : size, (off_t)*off);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return n < 0 ? -errno : 0; /* 0: the file shrank */
  for (;;) {
    ssize_t w = send(c->io.fd, buf, (size_t)n, MSG_NOSIGNAL);
    if (w >= 0) {
      *off += (uint64_t)w;
      return w;
    }
    if (errno == EINTR) continue;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? NT_EAGAIN : -errno;
  }
}

/* The queue's memory head goes to the ring, if nothing is in flight. */
static void cio_kick(tcp_conn_t *c) {
  nt_reactor_t *r = c->s.base.reactor;
  const struct nt__backend *be = r->backend;
  if (be->cio_sending(&c->cio) || c->cio.sent_done) return;
  struct iovec iov[16];
  int k = 0;
  for (nt__wseg_t *g = c->s.wq.head; g && g->fd < 0 && k < 16; g = g->next) {
    iov[k].iov_base = g->data + g->start;
    iov[k].iov_len = g->end - g->start;
    k++;
  }
  if (!k) return; /* a file segment first: sendfile when writable */
  int rc = be->cio_send(r, &c->cio, iov, k, CIO_SEND_MAX);
  if (rc && rc != NT_EAGAIN) nt__stream_fail(&c->s, rc);
}

static void tcp_want_write(nt__stream_t *s, int on) {
  tcp_conn_t *c = (tcp_conn_t *)s;
  if (is_cio(c) && on) {
    cio_kick(c);
    if (c->s.base.flags & NT_TRANSPORT_CLOSED) return;
  }
  update_events(c);
}

static void tcp_read_enable(nt__stream_t *s, int on) {
  (void)on;
  update_events((tcp_conn_t *)s);
}

static int tcp_shutdown_write(nt__stream_t *s) {
  tcp_conn_t *c = (tcp_conn_t *)s;
  return shutdown(c->io.fd, SHUT_WR) == 0 ? 0 : -errno;
}

static void tcp_close(nt__stream_t *s) {
  tcp_conn_t *c = (tcp_conn_t *)s;
  if (c->io.fd < 0) return;
  if (is_cio(c))
    c->s.base.reactor->backend->cio_close(c->s.base.reactor, &c->cio);
  else
    nt_io_stop(&c->io);
  close(c->io.fd);
  c->io.fd = -1;
  nt__handle_remove(&c->handle);
  nt_reactor_unref(c->s.base.reactor); /* taken in conn_new */
}

static void tcp_free(nt__stream_t *s) {
  tcp_conn_t *c = (tcp_conn_t *)s;
  nt_reactor_t *r = c->s.base.reactor;
  /* The backend frees it once the cancelled requests naming it are in. */
  if (is_cio(c))
    r->backend->cio_release(r, &c->cio, c);
  else
    nt__free(c);
}

/* SIOCOUTQ (TIOCOUTQ) on TCP: bytes in the send queue the peer has not
 * ACKed yet (sent or not). */
static int tcp_unacked(nt__stream_t *s, uint64_t *out) {
  tcp_conn_t *c = (tcp_conn_t *)s;
  int n = 0;
  if (c->io.fd < 0) return NT_ECLOSED;
  if (ioctl(c->io.fd, TIOCOUTQ, &n) < 0) return -errno;
  *out = n > 0 ? (uint64_t)n : 0;
  return 0;
}

static int tcp_sockfd(nt__stream_t *s) {
  tcp_conn_t *c = (tcp_conn_t *)s;
  return c->io.fd < 0 ? NT_ENOTCONN : c->io.fd;
}

static const nt__stream_io_t tcp_stream_io = {
    .sendv = tcp_sendv,
    .sendfile = tcp_sendfile,
    .want_write = tcp_want_write,
    .read_enable = tcp_read_enable,
    .shutdown_write = tcp_shutdown_write,
    .close = tcp_close,
    .free = tcp_free,
    .unacked = tcp_unacked,
    .sockfd = tcp_sockfd,
};

static void do_read(tcp_conn_t *c) {
  size_t size;
  char *buf = nt__reactor_readbuf(c->s.base.reactor, &size);
  if (!buf) {
    nt__stream_fail(&c->s, NT_ENOMEM);
    return;
  }
  for (int i = 0; i < READS_PER_EVENT; i++) {
    ssize_t n = read(c->io.fd, buf, size);
    if (n > 0) {
      nt__stream_deliver(&c->s, buf, (size_t)n);
      if (c->s.base.flags & (NT_TRANSPORT_CLOSING | NT_TRANSPORT_CLOSED |
                             NT_TRANSPORT_READ_PAUSED))
        return;
      if ((size_t)n < size) return; /* drained */
      continue;
    }
    if (n == 0) {
      nt__stream_deliver_eof(&c->s);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    nt__stream_fail(&c->s, -errno);
    return;
  }
}

/* Flushes, then watches writability only if the queue is left with nothing
 * in flight (a file segment that met a full socket): with a send in flight
 * its completion is what flushes next, and a level-triggered "writable"
 * would spin. */
static void cio_flush(tcp_conn_t *c) {
  nt__stream_flush(&c->s);
  if (!(c->s.base.flags & NT_TRANSPORT_CLOSED)) update_events(c);
}

/* Completion-based I/O: the backend's callback (reactor-int.h). */
static void conn_cio_cb(nt__cio_t *cio, int kind, const char *data,
                        ssize_t n) {
  tcp_conn_t *c = nt__container_of(cio, tcp_conn_t, cio);
  if (kind == NT__CIO_DATA) {
    nt__stream_deliver(&c->s, data, (size_t)n);
  } else if (kind == NT__CIO_END) {
    if (n == 0)
      nt__stream_deliver_eof(&c->s);
    else
      nt__stream_fail(&c->s, (int)n);
  } else if (kind == NT__CIO_WRITABLE) { /* a file segment can go on */
    cio_flush(c);
  } else { /* NT__CIO_SENT: the bytes in flight are out */
    if (n < 0) {
      nt__stream_fail(&c->s, (int)n);
      return;
    }
    c->cio.sent_done = (uint32_t)n;
    cio_flush(c); /* takes them off the queue, sends the rest */
  }
}

static void conn_io_cb(nt_io_t *io, unsigned events) {
  tcp_conn_t *c = nt__container_of(io, tcp_conn_t, io);
  int can_read = (events & NT_READABLE) && (c->io.events & NT_READABLE);
  /* On an error (a reset), read first: an answer the peer sent before it
   * reset (an early HTTP 413, an FTP 5xx) is still in the receive buffer,
   * and a failing write would close the connection before it is seen. */
  if ((events & NT_IO_ERROR) && can_read) {
    do_read(c);
    can_read = 0;
  }
  if ((events & NT_WRITABLE) && !(c->s.base.flags & NT_TRANSPORT_CLOSED))
    nt__stream_flush(&c->s);
  if (can_read && (c->io.events & NT_READABLE) &&
      !(c->s.base.flags & NT_TRANSPORT_CLOSED))
    do_read(c);
}

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  return 0;
}

static void conn_close_handle(nt__handle_t *h) {
  tcp_conn_t *c = nt__container_of(h, tcp_conn_t, handle);
  nt__stream_abort(&c->s.base, NT_ECONNABORTED);
}

/* Wraps a connected non-blocking socket; takes the fd, closing it on
 * failure. The connection keeps the reactor alive until closed. */
static int conn_new(nt_reactor_t *r, int fd, tcp_conn_t **out) {
  tcp_conn_t *c = nt__malloc(sizeof *c);
  if (!c) {
    close(fd);
    return NT_ENOMEM;
  }
  nt__stream_init(&c->s, r, &tcp_ops, &tcp_stream_io);
  int rc;
  if (r->backend->cio_open) {
    rc = r->backend->cio_open(r, &c->cio, fd, conn_cio_cb);
    if (rc) {
      close(fd);
      nt__free(c);
      return rc;
    }
    c->cio.owner_on = 1;
    r->backend->cio_recv(r, &c->cio, 1); /* an SQE: cannot fail */
  } else {
    nt_io_init(r, &c->io, fd, conn_io_cb);
    nt_io_unref(&c->io);
    rc = nt_io_start(&c->io, NT_READABLE);
    if (rc) {
      close(fd);
      nt__free(c);
      return rc;
    }
  }
  nt_reactor_ref(r);
  nt__handle_add(r, &c->handle, conn_close_handle);
  *out = c;
  return 0;
}

static int sock_keepalive(int fd, int on, unsigned idle_s) {
  int v = on ? 1 : 0;
  if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) < 0) return -errno;
  if (on && idle_s) {
    int idle = (int)idle_s;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0)
      return -errno;
  }
  return 0;
}

static int sock_nodelay(int fd, int on) {
  int v = on ? 1 : 0;
  return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0 ? -errno
                                                                      : 0;
}

static const nt_transport_ops_t tcp_ops = {
    .name = "tcp",
    .writev = nt__stream_writev,
    .write_file = nt__stream_write_file,
    .write_eof = nt__stream_write_eof,
    .lose_connection = nt__stream_lose_connection,
    .abort = nt__stream_abort,
    .pause_reading = nt__stream_pause_reading,
    .resume_reading = nt__stream_resume_reading,
    .peer_address = nt__stream_peer_address,
    .host_address = nt__stream_host_address,
    .write_buffer_size = nt__stream_write_buffer_size,
};

int nt_tcp_set_nodelay(nt_transport_t *t, int on) {
  if (t->ops != &tcp_ops) return NT_EINVAL;
  tcp_conn_t *c = (tcp_conn_t *)t;
  return c->io.fd < 0 ? NT_ENOTCONN : sock_nodelay(c->io.fd, on);
}

int nt_tcp_set_keepalive(nt_transport_t *t, int on, unsigned idle_s) {
  if (t->ops != &tcp_ops) return NT_EINVAL;
  tcp_conn_t *c = (tcp_conn_t *)t;
  return c->io.fd < 0 ? NT_ENOTCONN : sock_keepalive(c->io.fd, on, idle_s);
}

int nt_tcp_fileno(nt_transport_t *t) {
  if (t->ops != &tcp_ops) return -1;
  return ((tcp_conn_t *)t)->io.fd;
}

int nt_tcp_wrap_fd(nt_reactor_t *r, int fd, nt_protocol_t *p,
                   nt_transport_t **out) {
  int rc = set_nonblock(fd);
  if (rc) return rc;
  tcp_conn_t *c;
  rc = conn_new(r, fd, &c);
  if (rc) return rc;
  if (out) *out = &c->s.base;
  nt__stream_start(&c->s, p);
  return 0;
}

/* --- listener ---------------------------------------------------------------- */

struct nt_listener_s {
  nt_io_t io;
  nt_timer_t backoff; /* accept paused after EMFILE */
  nt_factory_t *factory;
  nt_tcp_listen_options_t opts;
  /* Accepting through the ring (io_uring), or NULL: io watches instead. */
  struct nt__acc *acc;
};

static void accept_one(nt_listener_t *l, int fd, struct sockaddr_storage *ss,
                       socklen_t len) {
  nt_reactor_t *r = l->io.reactor;
  if (l->opts.nodelay) sock_nodelay(fd, 1);
  if (l->opts.keepalive_s > 0) sock_keepalive(fd, 1, (unsigned)l->opts.keepalive_s);
  nt_protocol_t *p =
      l->factory->ops->build_protocol(l->factory, (struct sockaddr *)ss, len);
  if (!p) {
    close(fd);
    return;
  }
  tcp_conn_t *c;
  if (conn_new(r, fd, &c)) {
    if (p->ops->destroy) p->ops->destroy(p);
    return;
  }
  nt__stream_start(&c->s, p);
}

static void listener_acc_cb(void *owner, int fd);

/* Accepting (again): through the ring where the backend can, else by
 * watching the socket. */
static int listener_start(nt_listener_t *l) {
  nt_reactor_t *r = l->io.reactor;
  if (r->backend->acc_open) {
    l->acc = r->backend->acc_open(r, l->io.fd, listener_acc_cb, l);
    if (l->acc) {
      nt__reactor_active_inc(r); /* as its watcher would: run() waits for it */
      return 0;
    }
  }
  return nt_io_start(&l->io, NT_READABLE);
}

static void backoff_cb(nt_timer_t *t) {
  nt_listener_t *l = nt__container_of(t, nt_listener_t, backoff);
  listener_start(l);
}

static int accept_errno_pauses(int e) {
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/* Out of descriptors: stop accepting for a moment instead of spinning on a
 * listening socket that stays readable. */
static void accept_pause(nt_listener_t *l, int e) {
  nt__log(NT__LOG_WARN, "accept: %s; pausing accepts for 100 ms",
          nt_strerror(-e));
  if (l->acc) {
    l->io.reactor->backend->acc_close(l->io.reactor, l->acc);
    l->acc = NULL;
    nt__reactor_active_dec(l->io.reactor);
  }
  nt_io_stop(&l->io);
  nt_timer_start(&l->backoff, 100, 0);
}

/* A connection the ring accepted (multishot: one request for them all). */
static void listener_acc_cb(void *owner, int fd) {
  nt_listener_t *l = owner;
  if (fd < 0) {
    if (accept_errno_pauses(-fd)) accept_pause(l, -fd);
    return;
  }
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
    close(fd); /* reset before we saw it, as accept4's ECONNABORTED */
    return;
  }
  accept_one(l, fd, &ss, len);
}

static void listener_cb(nt_io_t *io, unsigned events) {
  nt_listener_t *l = nt__container_of(io, nt_listener_t, io);
  (void)events;
  for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(io->fd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      accept_one(l, fd, &ss, len);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (accept_errno_pauses(errno)) accept_pause(l, errno);
    return;
  }
}

int nt_tcp_listen_sized(size_t opts_size, nt_reactor_t *r, const char *addr,
                        int port, nt_factory_t *f,
                        const nt_tcp_listen_options_t *opts,
                        nt_listener_t **out) {
  nt_tcp_listen_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = nt_addr_parse(addr && *addr ? addr : "::", port, &ss, &len);
  if (rc) return rc;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  nt_listener_t *l = nt__calloc(1, sizeof *l);
  if (!l) {
    close(fd);
    return NT_ENOMEM;
  }
  if (opts) l->opts = *opts;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (l->opts.reuseport &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
    goto fail;
  if (ss.ss_family == AF_INET6) {
    int v6only = l->opts.ipv6_only ? 1 : 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) goto fail;
  if (listen(fd, l->opts.backlog > 0 ? l->opts.backlog : 511) < 0) goto fail;
  l->factory = f;
  nt_io_init(r, &l->io, fd, listener_cb);
  nt_timer_init(r, &l->backoff, backoff_cb);
  rc = listener_start(l);
  if (rc) {
    close(fd);
    nt__free(l);
    return rc;
  }
  *out = l;
  return 0;
fail:
  rc = -errno;
  close(fd);
  nt__free(l);
  return rc;
}

int nt_listener_address(const nt_listener_t *l, struct sockaddr_storage *ss,
                        socklen_t *len) {
  *len = sizeof *ss;
  return getsockname(l->io.fd, (struct sockaddr *)ss, len) == 0 ? 0 : -errno;
}

int nt_listener_port(const nt_listener_t *l) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (nt_listener_address(l, &ss, &len)) return -1;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void nt_listener_close(nt_listener_t *l) {
  if (!l) return;
  if (l->acc) {
    /* The ring's accept holds the socket until its cancel is in; shutdown
     * stops the listening now (the port is free when this returns, as
     * after close on epoll) and ends that accept. */
    shutdown(l->io.fd, SHUT_RDWR);
    l->io.reactor->backend->acc_close(l->io.reactor, l->acc);
    nt__reactor_active_dec(l->io.reactor);
  }
  nt_io_stop(&l->io);
  nt_timer_stop(&l->backoff);
  close(l->io.fd);
  nt__free(l);
}

/* --- one connection attempt (the connector in connect.c races these) ----- */

struct nt__attempt {
  nt__handle_t handle;
  nt_io_t io;
  nt__attempt_cb cb;
  void *arg;
  int status;    /* failure to report from the loop */
  int cancelled; /* cancelled while its failure was queued */
};

static void attempt_release(nt__attempt_t *a) {
  nt__handle_remove(&a->handle);
  nt_io_stop(&a->io);
  if (a->io.fd >= 0) close(a->io.fd);
  a->io.fd = -1;
}

static void attempt_fail_cb(void *arg) {
  nt__attempt_t *a = arg;
  nt_reactor_unref(a->io.reactor);
  if (!a->cancelled) a->cb(a->arg, a, a->status, -1);
  nt__free(a);
}

static void attempt_fail(nt__attempt_t *a, int status) {
  attempt_release(a);
  a->status = status;
  nt_reactor_ref(a->io.reactor); /* until the failure is delivered */
  if (nt_call_soon(a->io.reactor, attempt_fail_cb, a)) attempt_fail_cb(a);
}

static void attempt_io_cb(nt_io_t *io, unsigned events) {
  nt__attempt_t *a = nt__container_of(io, nt__attempt_t, io);
  (void)events;
  int err = 0;
  socklen_t elen = sizeof err;
  if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) err = errno;
  if (!err) {
    /* Writable with no error can still be a failed connect on some stacks:
     * getpeername tells for sure. */
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (getpeername(io->fd, (struct sockaddr *)&peer, &plen) < 0)
      err = errno == ENOTCONN ? ECONNREFUSED : errno;
  }
  if (err) {
    attempt_fail(a, -err);
    return;
  }
  int fd = io->fd;
  nt__handle_remove(&a->handle);
  nt_io_stop(io);
  a->io.fd = -1;
  a->cb(a->arg, a, 0, fd);
  nt__free(a);
}

static void attempt_close_handle(nt__handle_t *h) {
  attempt_fail(nt__container_of(h, nt__attempt_t, handle), NT_ECANCELED);
}

static int tcp_attempt_start(nt_reactor_t *r, const struct sockaddr *sa,
                             socklen_t salen, nt__attempt_cb cb, void *arg,
                             nt__attempt_t **out) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  nt__attempt_t *a = nt__calloc(1, sizeof *a);
  if (!a) {
    close(fd);
    return NT_ENOMEM;
  }
  a->cb = cb;
  a->arg = arg;
  nt_io_init(r, &a->io, fd, attempt_io_cb);
  nt__handle_add(r, &a->handle, attempt_close_handle);
  *out = a;
  int rc = 0;
  if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) rc = -errno;
  if (rc == NT_EAGAIN) rc = NT_EADDRNOTAVAIL; /* no ephemeral port left */
  if (!rc) rc = nt_io_start(&a->io, NT_WRITABLE);
  /* Refused at once (loopback does that): report from the loop, like any
   * other failure. */
  if (rc) attempt_fail(a, rc);
  return 0;
}

static void tcp_attempt_cancel(nt__attempt_t *a) {
  if (a->io.fd < 0 && a->status) { /* failure already queued */
    a->cancelled = 1;
    return;
  }
  attempt_release(a);
  nt__free(a);
}

const nt__attempt_ops_t nt__tcp_attempt_ops = {
    .start = tcp_attempt_start,
    .cancel = tcp_attempt_cancel,
};
const nt__attempt_ops_t *nt__attempt_ops = &nt__tcp_attempt_ops;

int nt__tcp_adopt(nt_reactor_t *r, int fd, nt_factory_t *f,
                  const struct sockaddr *peer, socklen_t plen, int nodelay,
                  int keepalive_s) {
  if (nodelay) sock_nodelay(fd, 1);
  if (keepalive_s > 0) sock_keepalive(fd, 1, (unsigned)keepalive_s);
  nt_protocol_t *p = f->ops->build_protocol(f, peer, plen);
  if (!p) {
    close(fd);
    return NT_ECONNABORTED;
  }
  tcp_conn_t *conn;
  int rc = conn_new(r, fd, &conn);
  if (rc) {
    if (p->ops->destroy) p->ops->destroy(p);
    return rc;
  }
  nt__stream_start(&conn->s, p);
  return 0;
}
