/* TCP: connections (a stream core over a non-blocking socket), listeners and
 * connectors for numeric addresses. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nettool/tcp.h"
#include "reactor-int.h"
#include "stream-int.h"

/* Reads per readiness event: bounded so one busy connection cannot starve the
 * others in the same loop turn. */
#define READS_PER_EVENT 4
#define ACCEPTS_PER_EVENT 64

typedef struct tcp_conn {
  nt__stream_t s;
  nt_io_t io;
  nt__handle_t handle;
} tcp_conn_t;

static const nt_transport_ops_t tcp_ops;

/* --- the connection's socket -------------------------------------------- */

static void update_events(tcp_conn_t *c) {
  uint32_t f = c->s.base.flags;
  unsigned ev = 0;
  if (c->io.fd < 0) return;
  if (!(f & (NT_TRANSPORT_READ_PAUSED | NT_TRANSPORT_CLOSING |
             NT_TRANSPORT_CLOSED | NT_TRANSPORT_EOF_RECEIVED)))
    ev |= NT_READABLE;
  if (c->s.wq.head) ev |= NT_WRITABLE;
  if (ev != c->io.events) {
    int rc = nt_io_start(&c->io, ev);
    if (rc) nt__stream_fail(&c->s, rc);
  }
}

static ssize_t tcp_sendv(nt__stream_t *s, const struct iovec *iov, int n) {
  tcp_conn_t *c = (tcp_conn_t *)s;
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

static ssize_t tcp_sendfile(nt__stream_t *s, int fd, uint64_t *off,
                            size_t len) {
  tcp_conn_t *c = (tcp_conn_t *)s;
  off_t o = (off_t)*off;
  for (;;) {
    ssize_t w = sendfile(c->io.fd, fd, &o, len);
    if (w >= 0) {
      *off = (uint64_t)o;
      return w;
    }
    if (errno == EINTR) continue;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? NT_EAGAIN : -errno;
  }
}

static void tcp_want_write(nt__stream_t *s, int on) {
  (void)on;
  update_events((tcp_conn_t *)s);
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
  nt_io_stop(&c->io);
  close(c->io.fd);
  c->io.fd = -1;
  nt__handle_remove(&c->handle);
  nt_reactor_unref(c->s.base.reactor); /* taken in conn_new */
}

static void tcp_free(nt__stream_t *s) { nt__free(s); }

static const nt__stream_io_t tcp_stream_io = {
    tcp_sendv,   tcp_sendfile, tcp_want_write, tcp_read_enable,
    tcp_shutdown_write, tcp_close, tcp_free};

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

static void conn_io_cb(nt_io_t *io, unsigned events) {
  tcp_conn_t *c = nt__container_of(io, tcp_conn_t, io);
  if (events & NT_WRITABLE) nt__stream_flush(&c->s);
  if ((events & NT_READABLE) && (c->io.events & NT_READABLE) &&
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
  nt_io_init(r, &c->io, fd, conn_io_cb);
  nt_io_unref(&c->io);
  int rc = nt_io_start(&c->io, NT_READABLE);
  if (rc) {
    close(fd);
    nt__free(c);
    return rc;
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

static int tcp_peer(nt_transport_t *t, struct sockaddr_storage *ss,
                    socklen_t *len) {
  tcp_conn_t *c = (tcp_conn_t *)t;
  *len = sizeof *ss;
  if (c->io.fd < 0) return NT_ENOTCONN;
  return getpeername(c->io.fd, (struct sockaddr *)ss, len) == 0 ? 0 : -errno;
}

static int tcp_host(nt_transport_t *t, struct sockaddr_storage *ss,
                    socklen_t *len) {
  tcp_conn_t *c = (tcp_conn_t *)t;
  *len = sizeof *ss;
  if (c->io.fd < 0) return NT_ENOTCONN;
  return getsockname(c->io.fd, (struct sockaddr *)ss, len) == 0 ? 0 : -errno;
}

static const nt_transport_ops_t tcp_ops = {
    "tcp",
    nt__stream_writev,
    nt__stream_write_file,
    nt__stream_write_eof,
    nt__stream_lose_connection,
    nt__stream_abort,
    nt__stream_pause_reading,
    nt__stream_resume_reading,
    tcp_peer,
    tcp_host,
    nt__stream_write_buffer_size,
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

static void backoff_cb(nt_timer_t *t) {
  nt_listener_t *l = nt__container_of(t, nt_listener_t, backoff);
  nt_io_start(&l->io, NT_READABLE);
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
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
        errno == ENOMEM) {
      /* Out of descriptors: stop accepting for a moment instead of spinning
       * on a listening socket that stays readable. */
      nt__log(NT__LOG_WARN, "accept: %s; pausing accepts for 100 ms",
              nt_strerror(-errno));
      nt_io_stop(io);
      nt_timer_start(&l->backoff, 100, 0);
    }
    return;
  }
}

int nt_tcp_listen(nt_reactor_t *r, const char *addr, int port, nt_factory_t *f,
                  const nt_tcp_listen_options_t *opts, nt_listener_t **out) {
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = nt_addr_parse(addr, port, &ss, &len);
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
  rc = nt_io_start(&l->io, NT_READABLE);
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
  nt_io_stop(&l->io);
  nt_timer_stop(&l->backoff);
  close(l->io.fd);
  nt__free(l);
}

/* --- connector ----------------------------------------------------------------- */

enum { CONN_PENDING, CONN_DONE };

struct nt_connector_s {
  nt__handle_t handle;
  nt_io_t io;
  nt_timer_t timer;
  nt_factory_t *factory;
  nt_tcp_connect_options_t opts;
  int state;
  int status; /* failure to report */
};

static void connector_release(nt_connector_t *c) {
  nt__handle_remove(&c->handle);
  nt_io_stop(&c->io);
  nt_timer_stop(&c->timer);
  if (c->io.fd >= 0) close(c->io.fd);
  c->io.fd = -1;
}

static void connector_fail_cb(void *arg) {
  nt_connector_t *c = arg;
  nt_reactor_unref(c->io.reactor);
  if (c->factory->ops->connection_failed)
    c->factory->ops->connection_failed(c->factory, c, c->status);
  nt__free(c);
}

/* Ends the attempt with an error; the factory hears it from the loop. */
static void connector_fail(nt_connector_t *c, int status) {
  if (c->state == CONN_DONE) return;
  c->state = CONN_DONE;
  c->status = status;
  connector_release(c);
  nt_reactor_ref(c->io.reactor); /* until the failure is delivered */
  if (nt_call_soon(c->io.reactor, connector_fail_cb, c)) connector_fail_cb(c);
}

static void connector_io_cb(nt_io_t *io, unsigned events) {
  nt_connector_t *c = nt__container_of(io, nt_connector_t, io);
  (void)events;
  int err = 0;
  socklen_t elen = sizeof err;
  if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) err = errno;
  if (err) {
    connector_fail(c, -err);
    return;
  }
  nt_reactor_t *r = io->reactor;
  struct sockaddr_storage peer;
  socklen_t plen = sizeof peer;
  if (getpeername(io->fd, (struct sockaddr *)&peer, &plen) < 0) {
    connector_fail(c, errno == ENOTCONN ? NT_ECONNREFUSED : -errno);
    return;
  }
  int fd = io->fd;
  nt__handle_remove(&c->handle);
  nt_io_stop(io);
  nt_timer_stop(&c->timer);
  c->io.fd = -1;
  c->state = CONN_DONE;
  if (c->opts.nodelay) sock_nodelay(fd, 1);
  if (c->opts.keepalive_s > 0) sock_keepalive(fd, 1, (unsigned)c->opts.keepalive_s);
  nt_factory_t *f = c->factory;
  nt__free(c);
  nt_protocol_t *p = f->ops->build_protocol(f, (struct sockaddr *)&peer, plen);
  if (!p) {
    close(fd);
    return;
  }
  tcp_conn_t *conn;
  if (conn_new(r, fd, &conn)) {
    if (p->ops->destroy) p->ops->destroy(p);
    return;
  }
  nt__stream_start(&conn->s, p);
}

static void connector_timeout_cb(nt_timer_t *t) {
  nt_connector_t *c = nt__container_of(t, nt_connector_t, timer);
  connector_fail(c, NT_ETIMEDOUT);
}

static void connector_close_handle(nt__handle_t *h) {
  connector_fail(nt__container_of(h, nt_connector_t, handle), NT_ECANCELED);
}

void nt_connector_cancel(nt_connector_t *c) {
  if (c) connector_fail(c, NT_ECANCELED);
}

int nt_tcp_connect_addr(nt_reactor_t *r, const struct sockaddr *sa,
                        socklen_t salen, nt_factory_t *f,
                        const nt_tcp_connect_options_t *opts,
                        nt_connector_t **out) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  nt_connector_t *c = nt__calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return NT_ENOMEM;
  }
  if (opts) c->opts = *opts;
  c->factory = f;
  nt_io_init(r, &c->io, fd, connector_io_cb);
  nt_timer_init(r, &c->timer, connector_timeout_cb);
  nt__handle_add(r, &c->handle, connector_close_handle);
  int rc = 0;
  if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) rc = -errno;
  if (rc == NT_EAGAIN) rc = NT_EADDRNOTAVAIL; /* no ephemeral port left */
  if (out) *out = c;
  if (f->ops->started_connecting) f->ops->started_connecting(f, c);
  if (rc) {
    /* Refused at once (can happen on loopback): report it from the loop, as
     * any other failure, since the caller was promised a callback. */
    connector_fail(c, rc);
    return 0;
  }
  rc = nt_io_start(&c->io, NT_WRITABLE);
  if (!rc)
    rc = nt_timer_start(&c->timer, c->opts.timeout_ms ? c->opts.timeout_ms
                                                       : 30000,
                        0);
  if (rc) connector_fail(c, rc);
  return 0;
}

int nt_tcp_connect(nt_reactor_t *r, const char *host, int port,
                   nt_factory_t *f, const nt_tcp_connect_options_t *opts,
                   nt_connector_t **out) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (port <= 0 || port > 65535) return NT_EBADPORT;
  int rc = nt_addr_parse(host, port, &ss, &len);
  if (rc) return rc;
  return nt_tcp_connect_addr(r, (struct sockaddr *)&ss, len, f, opts, out);
}
