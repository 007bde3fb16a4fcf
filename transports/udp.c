/* UDP endpoints: bound or connected datagram sockets driving a datagram
 * protocol. On readiness backends (epoll, poll) the socket is watched and
 * read with recvmsg(2), and a send is a sendmsg(2) now: never queued. On a
 * backend with completion-based datagram I/O (io_uring: dio_open, see
 * reactor-int.h) the backend receives and sends through its ring: a send
 * is copied and queued (bounded per socket), and the errors it meets come
 * back through error_received from the loop (see udp.h). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nettool/transport.h"
#include "nettool/udp.h"
#include "reactor-int.h"
#include "unix-int.h"

/* Datagrams read per readiness event, for fairness with other fds. */
#define RECVS_PER_EVENT 32

struct nt_udp_s {
  nt_io_t io; /* fd and reactor; watched on readiness backends only */
  struct nt__dio *dio; /* the backend's, on completion-based ones */
  nt_datagram_protocol_t *protocol;
  int closed;
  /* unix.c: removes its socket file once the fd is closed. */
  void (*on_close)(void *arg);
  void *close_arg;
};

static void udp_io_cb(nt_io_t *io, unsigned events) {
  nt_udp_t *u = nt__container_of(io, nt_udp_t, io);
  (void)events;
  size_t size;
  char *buf = nt__reactor_readbuf(io->reactor, &size);
  if (!buf) return;
  for (int i = 0; i < RECVS_PER_EVENT && !u->closed; i++) {
    struct sockaddr_storage from;
    struct iovec iov = {buf, size};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t n = recvmsg(io->fd, &m, 0);
    nt_datagram_protocol_t *p = u->protocol;
    if (n >= 0) {
      if (m.msg_flags & MSG_TRUNC) {
        if (p->ops->error_received) p->ops->error_received(p, NT_EMSGSIZE);
        continue;
      }
      if (p->ops->datagram_received)
        p->ops->datagram_received(p, buf, (size_t)n,
                                  (struct sockaddr *)&from, m.msg_namelen);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    /* ICMP errors (connected sockets) and the like: tell, and go on. */
    if (p->ops->error_received) p->ops->error_received(p, -errno);
  }
}

/* From the ring (io_uring): a datagram, or an error the socket reported. */
static void udp_dio_cb(void *owner, int kind, const char *data, ssize_t n,
                       const struct sockaddr *from, unsigned fromlen) {
  nt_udp_t *u = owner;
  nt_datagram_protocol_t *p = u->protocol;
  if (kind == NT__DIO_DATA) {
    if (p->ops->datagram_received)
      p->ops->datagram_received(p, data, (size_t)n, from, (socklen_t)fromlen);
  } else if (p->ops->error_received) {
    p->ops->error_received(p, (int)n);
  }
}

int nt__udp_start_fd(nt_reactor_t *r, int fd, nt_datagram_protocol_t *p,
                     void (*on_close)(void *), void *close_arg,
                     nt_udp_t **out) {
  nt_udp_t *u = nt__calloc(1, sizeof *u);
  if (!u) {
    close(fd);
    return NT_ENOMEM;
  }
  u->protocol = p;
  u->on_close = on_close;
  u->close_arg = close_arg;
  nt_io_init(r, &u->io, fd, udp_io_cb);
  int rc = r->backend->dio_open
               ? r->backend->dio_open(r, fd, udp_dio_cb, u, &u->dio)
               : NT_ENOTSUP;
  /* A ring that cannot take datagrams (no second buffer group: a kernel
   * before 5.19) watches the socket as epoll would. */
  if (rc == NT_ENOTSUP) rc = nt_io_start(&u->io, NT_READABLE);
  if (rc) {
    close(fd);
    nt__free(u);
    return rc;
  }
  /* An open endpoint keeps the loop running, as its started watcher does
   * on readiness backends. */
  if (u->dio) nt__reactor_active_inc(r);
  p->udp = u;
  *out = u;
  if (p->ops->connection_made) p->ops->connection_made(p, u);
  return 0;
}

int nt_udp_bind_sized(size_t opts_size, nt_reactor_t *r, const char *addr,
                      int port, nt_datagram_protocol_t *p,
                      const nt_udp_options_t *opts, nt_udp_t **out) {
  nt_udp_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = nt_addr_parse(addr && *addr ? addr : "::", port, &ss, &len);
  if (rc) return rc;
  int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  if (opts && opts->reuseport &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
    goto fail;
  if (ss.ss_family == AF_INET6) {
    int v6only = opts && opts->ipv6_only ? 1 : 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) goto fail;
  return nt__udp_start_fd(r, fd, p, NULL, NULL, out);
fail:
  rc = -errno;
  close(fd);
  return rc;
}

int nt_udp_connect(nt_udp_t *u, const char *host, int port) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (port <= 0 || port > 65535) return NT_EBADPORT;
  int rc = nt_addr_parse(host, port, &ss, &len);
  if (rc) return rc;
  return nt_udp_connect_addr(u, (struct sockaddr *)&ss, len);
}

int nt_udp_connect_addr(nt_udp_t *u, const struct sockaddr *sa,
                        socklen_t len) {
  struct sockaddr_storage ss;
  memcpy(&ss, sa, len);
  /* A dual-stack socket reaches IPv4 peers through mapped addresses. */
  struct sockaddr_storage local;
  socklen_t llen = sizeof local;
  if (ss.ss_family == AF_INET &&
      getsockname(u->io.fd, (struct sockaddr *)&local, &llen) == 0 &&
      local.ss_family == AF_INET6) {
    struct sockaddr_in in4 = *(struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    memset(in6, 0, sizeof *in6);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = in4.sin_port;
    in6->sin6_addr.s6_addr[10] = 0xff;
    in6->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&in6->sin6_addr.s6_addr[12], &in4.sin_addr, 4);
    len = sizeof *in6;
  }
  return connect(u->io.fd, (struct sockaddr *)&ss, len) == 0 ? 0 : -errno;
}

int nt_udp_sendto(nt_udp_t *u, const void *data, size_t len,
                  const struct sockaddr *to, socklen_t tolen) {
  if (u->closed) return NT_ECLOSED;
  if (u->dio) {
    struct iovec iov = {(void *)data, len};
    nt_reactor_t *r = u->io.reactor;
    return r->backend->dio_send(r, u->dio, &iov, 1, to, to ? tolen : 0);
  }
  for (;;) {
    ssize_t n = sendto(u->io.fd, data, len, MSG_NOSIGNAL, to, tolen);
    if (n >= 0) return 0;
    if (errno == EINTR) continue;
    return (errno == EWOULDBLOCK) ? NT_EAGAIN : -errno;
  }
}

int nt_udp_sendtov(nt_udp_t *u, const struct iovec *iov, int iovcnt,
                   const struct sockaddr *to, socklen_t tolen) {
  if (u->closed) return NT_ECLOSED;
  if (u->dio) {
    nt_reactor_t *r = u->io.reactor;
    return r->backend->dio_send(r, u->dio, iov, iovcnt, to, to ? tolen : 0);
  }
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_name = (void *)to;
  m.msg_namelen = to ? tolen : 0;
  m.msg_iov = (struct iovec *)iov;
  m.msg_iovlen = (size_t)iovcnt;
  for (;;) {
    ssize_t n = sendmsg(u->io.fd, &m, MSG_NOSIGNAL);
    if (n >= 0) return 0;
    if (errno == EINTR) continue;
    return (errno == EWOULDBLOCK) ? NT_EAGAIN : -errno;
  }
}

int nt_udp_send(nt_udp_t *u, const void *data, size_t len) {
  return nt_udp_sendto(u, data, len, NULL, 0);
}

int nt_udp_local_address(const nt_udp_t *u, struct sockaddr_storage *ss,
                         socklen_t *len) {
  *len = sizeof *ss;
  return getsockname(u->io.fd, (struct sockaddr *)ss, len) == 0 ? 0 : -errno;
}

int nt_udp_port(const nt_udp_t *u) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (nt_udp_local_address(u, &ss, &len)) return -1;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

nt_reactor_t *nt_udp_reactor(const nt_udp_t *u) { return u->io.reactor; }

static void udp_lost_cb(void *arg) {
  nt_udp_t *u = arg;
  nt_datagram_protocol_t *p = u->protocol;
  nt_reactor_unref(u->io.reactor);
  if (p->ops->connection_lost) p->ops->connection_lost(p, 0);
  p->udp = NULL;
  if (p->ops->destroy) p->ops->destroy(p);
  nt__free(u);
}

void nt_udp_close(nt_udp_t *u) {
  if (!u || u->closed) return;
  u->closed = 1;
  if (u->dio) {
    /* Cancels what waits in the ring, and hands the kernel every request
     * naming the fd before the fd is closed. */
    u->io.reactor->backend->dio_close(u->io.reactor, u->dio);
    u->dio = NULL;
    nt__reactor_active_dec(u->io.reactor);
  } else {
    nt_io_stop(&u->io);
  }
  close(u->io.fd);
  u->io.fd = -1;
  if (u->on_close) u->on_close(u->close_arg);
  nt_reactor_ref(u->io.reactor); /* until connection_lost is delivered */
  if (nt_call_soon(u->io.reactor, udp_lost_cb, u)) udp_lost_cb(u);
}
