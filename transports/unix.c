/* UNIX domain sockets: stream connections (a stream core over a
 * non-blocking AF_UNIX socket, with SCM_RIGHTS descriptor passing and
 * SO_PEERCRED), listeners with Twisted's stale-file rule, connectors
 * (connect.c's, which hand AF_UNIX sockets back here) and datagram endpoints
 * (udp.c's nt_udp_t on an AF_UNIX socket). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "nettool/tcp.h"
#include "nettool/unix.h"
#include "reactor-int.h"
#include "stream-int.h"
#include "unix-int.h"

#define READS_PER_EVENT 4
#define ACCEPTS_PER_EVENT 64
#define MAX_IOV 64
#define DEFAULT_HELD_FDS 64
/* Room for the kernel's SCM_MAX_FD (253) descriptors in one message. */
#define RECV_FDS_MAX 253

/* --- names ------------------------------------------------------------- */

int nt_unix_addr(const char *name, struct sockaddr_storage *ss,
                 socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (!name || !*name) return NT_EINVAL;
  struct sockaddr_un *un = (struct sockaddr_un *)ss;
  un->sun_family = AF_UNIX;
  size_t n = strlen(name);
  if (name[0] == '@') {
    /* Abstract: a NUL, then the name; the length says where it ends. */
    if (n - 1 > sizeof un->sun_path - 1) return -ENAMETOOLONG;
    memcpy(un->sun_path + 1, name + 1, n - 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    return 0;
  }
  if (n >= sizeof un->sun_path) return -ENAMETOOLONG;
  memcpy(un->sun_path, name, n + 1);
  *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  return 0;
}

char *nt_unix_addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
                          size_t size) {
  const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
  size_t off = offsetof(struct sockaddr_un, sun_path);
  if (!size) return buf;
  if (sa->sa_family != AF_UNIX || len <= off) {
    snprintf(buf, size, "(unnamed)");
    return buf;
  }
  size_t n = len - off;
  if (n > sizeof un->sun_path) n = sizeof un->sun_path;
  if (un->sun_path[0] == 0) {
    /* Abstract names may hold any byte: show the printable ones. */
    size_t k = 0;
    buf[k++] = '@';
    for (size_t i = 1; i < n && k + 1 < size; i++) {
      unsigned char ch = (unsigned char)un->sun_path[i];
      buf[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    buf[k < size ? k : size - 1] = 0;
    return buf;
  }
  snprintf(buf, size, "%.*s", (int)strnlen(un->sun_path, n), un->sun_path);
  return buf;
}

static int is_abstract(const struct sockaddr_storage *ss) {
  return ((const struct sockaddr_un *)ss)->sun_path[0] == 0;
}

/* Is anyone accepting at this path? Connect and see (non-blocking: a full
 * backlog, EAGAIN, is a live server too). 1 live, 0 dead, <0 error. */
static int probe_live(int type, const struct sockaddr_storage *ss,
                      socklen_t len) {
  int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int rc = connect(fd, (const struct sockaddr *)ss, len) == 0 ? 1 : -errno;
  close(fd);
  if (rc == 1 || rc == -EAGAIN || rc == -EINPROGRESS) return 1;
  if (rc == -ECONNREFUSED) return 0;
  return rc;
}

int nt__unix_bind(int fd, int type, const struct sockaddr_storage *ss,
                  socklen_t len) {
  if (bind(fd, (const struct sockaddr *)ss, len) == 0) return 0;
  int err = -errno;
  if (err != NT_EADDRINUSE || is_abstract(ss)) return err;
  const char *path = ((const struct sockaddr_un *)ss)->sun_path;
  struct stat st;
  /* Only a socket file is ever removed; a regular file of that name stays. */
  if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) return NT_EADDRINUSE;
  int live = probe_live(type, ss, len);
  if (live < 0) return live;
  if (live) return NT_EADDRINUSE;
  nt__log(NT__LOG_INFO, "unix: removing stale socket %s", path);
  if (unlink(path) != 0 && errno != ENOENT) return -errno;
  return bind(fd, (const struct sockaddr *)ss, len) == 0 ? 0 : -errno;
}

/* The file a bound socket made, to remove it at close only if it is still
 * that file (another process may have replaced it meanwhile). */
typedef struct owned_path {
  dev_t dev;
  ino_t ino;
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
} owned_path_t;

static owned_path_t *own_path(const struct sockaddr_storage *ss) {
  if (is_abstract(ss)) return NULL;
  const char *path = ((const struct sockaddr_un *)ss)->sun_path;
  struct stat st;
  if (stat(path, &st) != 0) return NULL;
  owned_path_t *o = nt__calloc(1, sizeof *o);
  if (!o) return NULL;
  o->dev = st.st_dev;
  o->ino = st.st_ino;
  memcpy(o->path, path, strnlen(path, sizeof o->path - 1));
  return o;
}

static void release_path(void *arg) {
  owned_path_t *o = arg;
  if (!o) return;
  struct stat st;
  if (lstat(o->path, &st) == 0 && st.st_dev == o->dev && st.st_ino == o->ino)
    unlink(o->path);
  nt__free(o);
}

/* --- the connection --------------------------------------------------------- */

/* Descriptors to send with the byte at stream position pos. */
typedef struct fdrec {
  struct fdrec *next;
  uint64_t pos;
  int n;
  int fds[];
} fdrec_t;

typedef struct unix_conn {
  nt__stream_t s;
  nt_io_t io;
  nt__handle_t handle;
  uint64_t sent;             /* bytes the socket has taken */
  fdrec_t *out_head, *out_tail;
  int *held;                 /* received, not yet taken */
  unsigned nheld, max_held;  /* max_held 0: receiving is off */
} unix_conn_t;

static const nt_transport_ops_t unix_ops;

static void update_events(unix_conn_t *c) {
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

static void fdrec_free(fdrec_t *r) {
  for (int i = 0; i < r->n; i++) close(r->fds[i]);
  nt__free(r);
}

static void pop_out(unix_conn_t *c) {
  fdrec_t *r = c->out_head;
  c->out_head = r->next;
  if (!c->out_head) c->out_tail = NULL;
  fdrec_free(r);
}

/* Sends iov; when descriptors wait for a later byte, stops before it, and
 * when they belong to the first byte of this send, attaches them. */
static ssize_t unix_sendv(nt__stream_t *s, const struct iovec *iov, int n) {
  unix_conn_t *c = (unix_conn_t *)s;
  struct msghdr m;
  memset(&m, 0, sizeof m);
  struct iovec cut[MAX_IOV];
  union {
    char buf[CMSG_SPACE(sizeof(int) * NT_UNIX_MAX_FDS)];
    struct cmsghdr align;
  } ctl;
  m.msg_iov = (struct iovec *)iov;
  m.msg_iovlen = (size_t)n;
  fdrec_t *r = c->out_head;
  int attach = r && r->pos == c->sent;
  /* Never past the byte the next descriptors belong to. */
  fdrec_t *stop = attach ? r->next : r;
  if (stop) {
    uint64_t limit = stop->pos - c->sent;
    int k = 0;
    for (int i = 0; i < n && k < MAX_IOV && limit; i++) {
      cut[k] = iov[i];
      if (cut[k].iov_len > limit) cut[k].iov_len = (size_t)limit;
      limit -= cut[k].iov_len;
      k++;
    }
    m.msg_iov = cut;
    m.msg_iovlen = (size_t)k;
  }
  if (attach) {
    struct cmsghdr *cm;
    memset(&ctl, 0, sizeof ctl);
    m.msg_control = ctl.buf;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)r->n);
    cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)r->n);
    memcpy(CMSG_DATA(cm), r->fds, sizeof(int) * (size_t)r->n);
  }
  for (;;) {
    ssize_t w = sendmsg(c->io.fd, &m, MSG_NOSIGNAL);
    if (w >= 0) {
      c->sent += (uint64_t)w;
      if (attach && w > 0) pop_out(c);
      return w;
    }
    if (errno == EINTR) continue;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? NT_EAGAIN : -errno;
  }
}

static ssize_t unix_sendfile(nt__stream_t *s, int fd, uint64_t *off,
                             size_t len) {
  unix_conn_t *c = (unix_conn_t *)s;
  /* Descriptors always ride on bytes from memory (nt_unix_send_fds), so a
   * file range only has to stop short of them. */
  if (c->out_head && c->out_head->pos - c->sent < len)
    len = (size_t)(c->out_head->pos - c->sent);
  off_t o = (off_t)*off;
  for (;;) {
    ssize_t w = sendfile(c->io.fd, fd, &o, len);
    if (w >= 0) {
      *off = (uint64_t)o;
      c->sent += (uint64_t)w;
      return w;
    }
    if (errno == EINTR) continue;
    return (errno == EAGAIN || errno == EWOULDBLOCK) ? NT_EAGAIN : -errno;
  }
}

static void unix_want_write(nt__stream_t *s, int on) {
  (void)on;
  update_events((unix_conn_t *)s);
}

static void unix_read_enable(nt__stream_t *s, int on) {
  (void)on;
  update_events((unix_conn_t *)s);
}

static int unix_shutdown_write(nt__stream_t *s) {
  unix_conn_t *c = (unix_conn_t *)s;
  return shutdown(c->io.fd, SHUT_WR) == 0 ? 0 : -errno;
}

static void unix_close(nt__stream_t *s) {
  unix_conn_t *c = (unix_conn_t *)s;
  if (c->io.fd < 0) return;
  nt_io_stop(&c->io);
  close(c->io.fd);
  c->io.fd = -1;
  while (c->out_head) pop_out(c);
  for (unsigned i = 0; i < c->nheld; i++) close(c->held[i]);
  c->nheld = 0;
  nt__handle_remove(&c->handle);
  nt_reactor_unref(c->s.base.reactor); /* taken in conn_new */
}

static void unix_free(nt__stream_t *s) {
  unix_conn_t *c = (unix_conn_t *)s;
  nt__free(c->held);
  nt__free(c);
}

static int unix_sockfd(nt__stream_t *s) {
  unix_conn_t *c = (unix_conn_t *)s;
  return c->io.fd < 0 ? NT_ENOTCONN : c->io.fd;
}

static const nt__stream_io_t unix_stream_io = {
    .sendv = unix_sendv,
    .sendfile = unix_sendfile,
    .want_write = unix_want_write,
    .read_enable = unix_read_enable,
    .shutdown_write = unix_shutdown_write,
    .close = unix_close,
    .free = unix_free,
    .sockfd = unix_sockfd,
};

/* Keeps the descriptors of one received message; NT_ETOOBIG past the
 * protocol's limit (they are closed then). */
static int hold_fds(unix_conn_t *c, struct msghdr *m) {
  int rc = 0;
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char *p = CMSG_DATA(cm);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, p + i * sizeof fd, sizeof fd);
      if (!rc && c->nheld < c->max_held) {
        c->held[c->nheld++] = fd;
      } else {
        close(fd);
        rc = NT_ETOOBIG;
      }
    }
  }
  if (m->msg_flags & MSG_CTRUNC) rc = NT_ETOOBIG;
  return rc;
}

static ssize_t read_some(unix_conn_t *c, char *buf, size_t size) {
  if (!c->max_held) return read(c->io.fd, buf, size);
  union {
    char buf[CMSG_SPACE(sizeof(int) * RECV_FDS_MAX)];
    struct cmsghdr align;
  } ctl;
  struct iovec iov = {buf, size};
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctl.buf;
  m.msg_controllen = sizeof ctl.buf;
  ssize_t n = recvmsg(c->io.fd, &m, MSG_CMSG_CLOEXEC);
  if (n >= 0 && m.msg_controllen) {
    int rc = hold_fds(c, &m);
    if (rc) {
      nt__stream_fail(&c->s, rc);
      errno = 0;
      return -2; /* closed */
    }
  }
  return n;
}

static void do_read(unix_conn_t *c) {
  size_t size;
  char *buf = nt__reactor_readbuf(c->s.base.reactor, &size);
  if (!buf) {
    nt__stream_fail(&c->s, NT_ENOMEM);
    return;
  }
  for (int i = 0; i < READS_PER_EVENT; i++) {
    ssize_t n = read_some(c, buf, size);
    if (n == -2) return;
    if (n > 0) {
      nt__stream_deliver(&c->s, buf, (size_t)n);
      if (c->s.base.flags & (NT_TRANSPORT_CLOSING | NT_TRANSPORT_CLOSED |
                             NT_TRANSPORT_READ_PAUSED))
        return;
      if ((size_t)n < size && !c->max_held) return; /* drained */
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
  unix_conn_t *c = nt__container_of(io, unix_conn_t, io);
  int can_read = (events & NT_READABLE) && (c->io.events & NT_READABLE);
  /* As TCP: on an error read first, so what the peer sent before it went
   * away is seen before a failing write closes the connection. */
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

static void conn_close_handle(nt__handle_t *h) {
  unix_conn_t *c = nt__container_of(h, unix_conn_t, handle);
  nt__stream_abort(&c->s.base, NT_ECONNABORTED);
}

/* Wraps a connected non-blocking socket; takes the fd, closing it on
 * failure. The connection keeps the reactor alive until closed. */
static int conn_new(nt_reactor_t *r, int fd, unix_conn_t **out) {
  unix_conn_t *c = nt__calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return NT_ENOMEM;
  }
  nt__stream_init(&c->s, r, &unix_ops, &unix_stream_io);
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

static const nt_transport_ops_t unix_ops = {
    .name = "unix",
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

int nt_unix_is_unix(const nt_transport_t *t) {
  return t && t->ops == &unix_ops;
}

int nt_unix_fileno(nt_transport_t *t) {
  if (!nt_unix_is_unix(t)) return -1;
  return ((unix_conn_t *)t)->io.fd;
}

static int unix_peer_cred_full(nt_transport_t *t, nt_unix_cred_t *out) {
  if (!nt_unix_is_unix(t)) return NT_EINVAL;
  unix_conn_t *c = (unix_conn_t *)t;
  if (c->io.fd < 0) return NT_ENOTCONN;
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (getsockopt(c->io.fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
    return -errno;
  out->pid = cr.pid;
  out->uid = cr.uid;
  out->gid = cr.gid;
  return 0;
}

int nt_unix_peer_cred_sized(size_t out_size, nt_transport_t *t,
                            nt_unix_cred_t *out) {
  /* the caller's struct may be an older, smaller one (docs/ABI.md) */
  nt_unix_cred_t full;
  memset(&full, 0, sizeof full);
  int rc = unix_peer_cred_full(t, out ? &full : NULL);
  if (out) memcpy(out, &full, out_size < sizeof full ? out_size : sizeof full);
  return rc;
}

int nt_unix_send_fds(nt_transport_t *t, const void *data, size_t len,
                     const int *fds, int nfds) {
  if (!nt_unix_is_unix(t) || !len || nfds < 0 || nfds > NT_UNIX_MAX_FDS ||
      (nfds && !fds))
    return NT_EINVAL;
  if (t->flags & (NT_TRANSPORT_CLOSING | NT_TRANSPORT_CLOSED |
                  NT_TRANSPORT_WRITE_EOF))
    return NT_ECLOSED;
  if (!nfds) return nt_transport_write(t, data, len);
  unix_conn_t *c = (unix_conn_t *)t;
  fdrec_t *r = nt__malloc(sizeof *r + sizeof(int) * (size_t)nfds);
  if (!r) return NT_ENOMEM;
  r->next = NULL;
  r->n = 0;
  for (int i = 0; i < nfds; i++) {
    int d = nt__dup_cloexec(fds[i]);
    if (d < 0) {
      fdrec_free(r);
      return d;
    }
    r->fds[r->n++] = d;
  }
  /* Its byte comes after everything the transport has accepted so far. */
  r->pos = c->sent + c->s.wq.bytes;
  if (c->out_tail)
    c->out_tail->next = r;
  else
    c->out_head = r;
  c->out_tail = r;
  int rc = nt_transport_write(t, data, len);
  if (rc && c->out_tail == r && !(t->flags & NT_TRANSPORT_CLOSED)) {
    /* Not accepted (no memory): withdraw the record again. */
    fdrec_t **pp = &c->out_head;
    while (*pp != r) pp = &(*pp)->next;
    *pp = NULL;
    c->out_tail = NULL;
    for (fdrec_t *q = c->out_head; q; q = q->next) c->out_tail = q;
    fdrec_free(r);
  }
  return rc;
}

int nt_unix_recv_fds(nt_transport_t *t, unsigned max) {
  if (!nt_unix_is_unix(t)) return NT_EINVAL;
  unix_conn_t *c = (unix_conn_t *)t;
  if (!max) max = DEFAULT_HELD_FDS;
  if (max < c->nheld) return NT_EINVAL;
  int *h = nt__realloc(c->held, sizeof(int) * max);
  if (!h) return NT_ENOMEM;
  c->held = h;
  c->max_held = max;
  return 0;
}

int nt_unix_take_fds(nt_transport_t *t, int *fds, int n) {
  if (!nt_unix_is_unix(t) || n < 0) return NT_EINVAL;
  unix_conn_t *c = (unix_conn_t *)t;
  int k = (unsigned)n < c->nheld ? n : (int)c->nheld;
  if (!k) return 0; /* held may still be NULL */
  memcpy(fds, c->held, sizeof(int) * (size_t)k);
  memmove(c->held, c->held + k, sizeof(int) * (c->nheld - (unsigned)k));
  c->nheld -= (unsigned)k;
  return k;
}

int nt_unix_held_fds(nt_transport_t *t) {
  if (!nt_unix_is_unix(t)) return NT_EINVAL;
  return (int)((unix_conn_t *)t)->nheld;
}

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -errno;
  return 0;
}

int nt_unix_wrap_fd(nt_reactor_t *r, int fd, nt_protocol_t *p,
                    nt_transport_t **out) {
  int rc = set_nonblock(fd);
  if (rc) return rc;
  unix_conn_t *c;
  rc = conn_new(r, fd, &c);
  if (rc) return rc;
  if (out) *out = &c->s.base;
  nt__stream_start(&c->s, p);
  return 0;
}

int nt__unix_adopt(nt_reactor_t *r, int fd, nt_factory_t *f,
                   const struct sockaddr *peer, socklen_t plen) {
  nt_protocol_t *p = f->ops->build_protocol(f, peer, plen);
  if (!p) {
    close(fd);
    return NT_ECONNABORTED;
  }
  unix_conn_t *c;
  int rc = conn_new(r, fd, &c);
  if (rc) {
    if (p->ops->destroy) p->ops->destroy(p);
    return rc;
  }
  nt__stream_start(&c->s, p);
  return 0;
}

/* --- listener ---------------------------------------------------------------- */

struct nt_unix_listener_s {
  nt_io_t io;
  nt_timer_t backoff; /* accepts paused after EMFILE */
  nt_factory_t *factory;
  owned_path_t *owned;
  char name[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
};

static void backoff_cb(nt_timer_t *t) {
  nt_unix_listener_t *l = nt__container_of(t, nt_unix_listener_t, backoff);
  nt_io_start(&l->io, NT_READABLE);
}

static void listener_cb(nt_io_t *io, unsigned events) {
  nt_unix_listener_t *l = nt__container_of(io, nt_unix_listener_t, io);
  (void)events;
  for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(io->fd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      nt__unix_adopt(io->reactor, fd, l->factory, (struct sockaddr *)&ss, len);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
        errno == ENOMEM) {
      nt__log(NT__LOG_WARN, "accept: %s; pausing accepts for 100 ms",
              nt_strerror(-errno));
      nt_io_stop(io);
      nt_timer_start(&l->backoff, 100, 0);
    }
    return;
  }
}

int nt_unix_listen_sized(size_t opts_size, nt_reactor_t *r, const char *name,
                         nt_factory_t *f, const nt_unix_listen_options_t *opts,
                         nt_unix_listener_t **out) {
  nt_unix_listen_options_t o;
  if (NT__OPTS_COPY(o, opts, opts_size)) return NT_ENOTSUP;
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = nt_unix_addr(name, &ss, &len);
  if (rc) return rc;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  rc = nt__unix_bind(fd, SOCK_STREAM, &ss, len);
  if (rc) {
    close(fd);
    return rc;
  }
  nt_unix_listener_t *l = nt__calloc(1, sizeof *l);
  if (!l) {
    rc = NT_ENOMEM;
    goto fail;
  }
  l->owned = own_path(&ss);
  if (o.mode && !is_abstract(&ss) &&
      chmod(((struct sockaddr_un *)&ss)->sun_path, (mode_t)o.mode) != 0) {
    rc = -errno;
    goto fail;
  }
  if (listen(fd, o.backlog > 0 ? o.backlog : 511) < 0) {
    rc = -errno;
    goto fail;
  }
  snprintf(l->name, sizeof l->name, "%s", name);
  l->factory = f;
  nt_io_init(r, &l->io, fd, listener_cb);
  nt_timer_init(r, &l->backoff, backoff_cb);
  rc = nt_io_start(&l->io, NT_READABLE);
  if (rc) goto fail;
  *out = l;
  return 0;
fail:
  close(fd);
  if (l) {
    release_path(l->owned);
    nt__free(l);
  } else if (!is_abstract(&ss)) {
    unlink(((struct sockaddr_un *)&ss)->sun_path);
  }
  return rc;
}

const char *nt_unix_listener_name(const nt_unix_listener_t *l) {
  return l->name;
}

int nt_unix_listener_fileno(const nt_unix_listener_t *l) { return l->io.fd; }

void nt_unix_listener_close(nt_unix_listener_t *l) {
  if (!l) return;
  nt_io_stop(&l->io);
  nt_timer_stop(&l->backoff);
  close(l->io.fd);
  release_path(l->owned);
  nt__free(l);
}

/* --- connecting ----------------------------------------------------------- */

int nt_unix_connect_sized(size_t opts_size, nt_reactor_t *r, const char *name,
                          nt_factory_t *f,
                          const nt_unix_connect_options_t *opts,
                          nt_connector_t **out) {
  nt_unix_connect_options_t o;
  if (NT__OPTS_COPY(o, opts, opts_size)) return NT_ENOTSUP;
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = nt_unix_addr(name, &ss, &len);
  if (rc) return rc;
  /* connect.c's connector: one attempt, its timeout, cancel, and
   * connection_failed from the loop; the socket comes back through
   * nt__unix_adopt. */
  nt_tcp_connect_options_t co;
  memset(&co, 0, sizeof co);
  co.timeout_ms = o.timeout_ms;
  return nt_tcp_connect_addr(r, (struct sockaddr *)&ss, len, f, &co, out);
}

/* --- datagrams ------------------------------------------------------------------ */

int nt_unix_dgram_bind(nt_reactor_t *r, const char *name,
                       nt_datagram_protocol_t *p, nt_udp_t **out) {
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = 0;
  if (name) {
    rc = nt_unix_addr(name, &ss, &len);
    if (rc) return rc;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (name) {
    rc = nt__unix_bind(fd, SOCK_DGRAM, &ss, len);
  } else {
    /* Autobind: the kernel picks an abstract name, so peers can answer. */
    sa_family_t fam = AF_UNIX;
    rc = bind(fd, (struct sockaddr *)&fam, sizeof fam) == 0 ? 0 : -errno;
  }
  if (rc) {
    close(fd);
    return rc;
  }
  owned_path_t *owned = name ? own_path(&ss) : NULL;
  rc = nt__udp_start_fd(r, fd, p, owned ? release_path : NULL, owned, out);
  if (rc) release_path(owned);
  return rc;
}
