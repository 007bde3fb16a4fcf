/* The stream core: try-write-first, a queue of memory and file segments
 * flushed with writev/sendfile, water marks, half-close and the deferred
 * close lifecycle (connection_lost always runs from the loop). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reactor-int.h"
#include "stream-int.h"

#define MAX_IOV 64
#define SEG_MIN_CAP 4096
#define FILE_CHUNK (1u << 30)

/* --- write queue --------------------------------------------------------- */

static void wq_append(nt__wq_t *q, nt__wseg_t *s) {
  s->next = NULL;
  if (q->tail)
    q->tail->next = s;
  else
    q->head = s;
  q->tail = s;
}

static void seg_free(nt__wseg_t *s) {
  if (s->fd >= 0) close(s->fd);
  nt__free(s);
}

/* Copies iov[], skipping its first `skip` bytes, to the tail of the queue,
 * filling the last memory segment's spare room before allocating. */
static int wq_push_iov(nt__wq_t *q, const struct iovec *iov, int n,
                       size_t skip) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  if (skip >= total) return 0;
  size_t need = total - skip;
  nt__wseg_t *t = q->tail;
  size_t room = (t && t->fd < 0) ? t->cap - t->end : 0;
  nt__wseg_t *fresh = NULL;
  if (room < need) {
    size_t cap = need - room < SEG_MIN_CAP ? SEG_MIN_CAP : need - room;
    fresh = nt__malloc(sizeof *fresh + cap);
    if (!fresh) return NT_ENOMEM;
    fresh->start = fresh->end = 0;
    fresh->cap = cap;
    fresh->fd = -1;
    fresh->foff = fresh->flen = 0;
  }
  for (int i = 0; i < n; i++) {
    const char *p = iov[i].iov_base;
    size_t len = iov[i].iov_len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    p += skip;
    len -= skip;
    skip = 0;
    while (len) {
      nt__wseg_t *dst = (room && t) ? t : fresh;
      size_t take = dst == t ? (room < len ? room : len) : len;
      memcpy(dst->data + dst->end, p, take);
      dst->end += take;
      if (dst == t) room -= take;
      p += take;
      len -= take;
    }
  }
  if (fresh) wq_append(q, fresh);
  q->bytes += need;
  return 0;
}

static void wq_consume(nt__wq_t *q, size_t n) {
  q->bytes -= n;
  while (n) {
    nt__wseg_t *s = q->head;
    size_t avail = s->end - s->start;
    if (n < avail) {
      s->start += n;
      return;
    }
    n -= avail;
    q->head = s->next;
    if (!q->head) q->tail = NULL;
    seg_free(s);
  }
}

static void wq_clear(nt__wq_t *q) {
  nt__wseg_t *s = q->head;
  while (s) {
    nt__wseg_t *n = s->next;
    seg_free(s);
    s = n;
  }
  q->head = q->tail = NULL;
  q->bytes = 0;
}

/* --- lifecycle ---------------------------------------------------------------- */

void nt__stream_init(nt__stream_t *s, nt_reactor_t *r,
                     const nt_transport_ops_t *ops, const nt__stream_io_t *io) {
  memset(s, 0, sizeof *s);
  s->base.ops = ops;
  s->base.reactor = r;
  s->base.high_water = NT_DEFAULT_HIGH_WATER;
  s->base.low_water = NT_DEFAULT_LOW_WATER;
  s->io = io;
}

void nt__stream_start(nt__stream_t *s, nt_protocol_t *p) {
  s->base.protocol = p;
  p->transport = &s->base;
  if (p->ops->connection_made) p->ops->connection_made(p, &s->base);
}

static void deliver_lost(void *arg) {
  nt__stream_t *s = arg;
  nt_protocol_t *p = s->base.protocol;
  s->base.protocol = NULL;
  if (p) {
    if (p->ops->connection_lost) p->ops->connection_lost(p, s->close_status);
    p->transport = NULL;
    if (p->ops->destroy) p->ops->destroy(p);
  }
  s->io->free(s);
}

/* Closes the socket now and queues connection_lost(status) for the loop. */
static void finish_close(nt__stream_t *s, int status) {
  if (s->base.flags & NT_TRANSPORT_CLOSED) return;
  s->base.flags |= NT_TRANSPORT_CLOSED | NT_TRANSPORT_CLOSING;
  s->close_status = status;
  wq_clear(&s->wq);
  s->io->close(s);
  if (nt_call_soon(s->base.reactor, deliver_lost, s) != 0) {
    /* Out of memory for the queue itself: deliver now rather than leak. The
     * only caller that could be on the stack is a socket callback, which
     * checks CLOSED before touching the protocol again. */
    deliver_lost(s);
  }
}

void nt__stream_fail(nt__stream_t *s, int status) { finish_close(s, status); }

/* What to do once the queue is empty. */
static void after_drain(nt__stream_t *s) {
  uint32_t f = s->base.flags;
  if (f & NT_TRANSPORT_CLOSING) {
    finish_close(s, 0);
    return;
  }
  if (f & NT_TRANSPORT_WRITE_EOF) {
    int rc = s->io->shutdown_write(s);
    if (rc) {
      finish_close(s, rc);
      return;
    }
    /* Both directions are done: nothing more can happen on it. */
    if (f & NT_TRANSPORT_EOF_RECEIVED) finish_close(s, 0);
  }
}

static void check_high_water(nt__stream_t *s) {
  nt_transport_t *t = &s->base;
  if (!(t->flags & NT_TRANSPORT_WRITE_PAUSED) && s->wq.bytes > t->high_water) {
    t->flags |= NT_TRANSPORT_WRITE_PAUSED;
    if (t->protocol && t->protocol->ops->pause_writing)
      t->protocol->ops->pause_writing(t->protocol);
  }
}

static void check_low_water(nt__stream_t *s) {
  nt_transport_t *t = &s->base;
  if ((t->flags & NT_TRANSPORT_WRITE_PAUSED) && s->wq.bytes <= t->low_water) {
    t->flags &= ~NT_TRANSPORT_WRITE_PAUSED;
    if (t->protocol && t->protocol->ops->resume_writing &&
        !(t->flags & NT_TRANSPORT_CLOSED))
      t->protocol->ops->resume_writing(t->protocol);
  }
}

/* Writes as much of the queue as the socket takes. Returns 0, or the error
 * that closed the stream. */
static int flush_queue(nt__stream_t *s) {
  while (s->wq.head) {
    nt__wseg_t *h = s->wq.head;
    ssize_t n;
    if (h->fd >= 0) {
      size_t len = h->flen > FILE_CHUNK ? FILE_CHUNK : (size_t)h->flen;
      uint64_t off = h->foff;
      n = s->io->sendfile(s, h->fd, &off, len);
      if (n == 0) n = NT_EUNEXPECTEDEOF; /* the file shrank under us */
      if (n > 0) {
        h->foff += (uint64_t)n;
        h->flen -= (uint64_t)n;
        s->wq.bytes -= (size_t)n;
        if (h->flen == 0) {
          s->wq.head = h->next;
          if (!s->wq.head) s->wq.tail = NULL;
          seg_free(h);
        }
      }
    } else {
      struct iovec iov[MAX_IOV];
      int k = 0;
      for (nt__wseg_t *g = h; g && g->fd < 0 && k < MAX_IOV; g = g->next) {
        iov[k].iov_base = g->data + g->start;
        iov[k].iov_len = g->end - g->start;
        k++;
      }
      n = s->io->sendv(s, iov, k);
      if (n > 0) wq_consume(&s->wq, (size_t)n);
    }
    if (n == NT_EAGAIN) return 0;
    if (n < 0) {
      finish_close(s, (int)n);
      return (int)n;
    }
  }
  return 0;
}

void nt__stream_flush(nt__stream_t *s) {
  if (s->base.flags & NT_TRANSPORT_CLOSED) return;
  if (flush_queue(s)) return;
  if (!s->wq.head) s->io->want_write(s, 0);
  /* resume_writing may write again (and even lose_connection or write_eof):
   * decide what "drained" means only after it has run. */
  check_low_water(s);
  if (!(s->base.flags & NT_TRANSPORT_CLOSED) && !s->wq.head) after_drain(s);
}

/* --- transport operations ----------------------------------------------------- */

int nt__stream_writev(nt_transport_t *t, const struct iovec *iov, int iovcnt) {
  nt__stream_t *s = (nt__stream_t *)t;
  if (t->flags & (NT_TRANSPORT_CLOSING | NT_TRANSPORT_CLOSED |
                  NT_TRANSPORT_WRITE_EOF))
    return NT_ECLOSED;
  size_t skip = 0;
  if (!s->wq.head) {
    /* Fast path: the socket takes it all and nothing is copied. */
    ssize_t n = s->io->sendv(s, iov, iovcnt);
    if (n == NT_EAGAIN) n = 0;
    if (n < 0) {
      finish_close(s, (int)n);
      return (int)n;
    }
    skip = (size_t)n;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
    if (skip == total) return 0;
  }
  int rc = wq_push_iov(&s->wq, iov, iovcnt, skip);
  if (rc) return rc;
  s->io->want_write(s, 1);
  check_high_water(s);
  return 0;
}

int nt__stream_write_file(nt_transport_t *t, int fd, uint64_t off,
                          uint64_t len) {
  nt__stream_t *s = (nt__stream_t *)t;
  if (t->flags & (NT_TRANSPORT_CLOSING | NT_TRANSPORT_CLOSED |
                  NT_TRANSPORT_WRITE_EOF))
    return NT_ECLOSED;
  if (len == 0) return 0;
  nt__wseg_t *seg = nt__malloc(sizeof *seg);
  if (!seg) return NT_ENOMEM;
  seg->fd = nt__dup_cloexec(fd);
  if (seg->fd < 0) {
    int e = seg->fd;
    nt__free(seg);
    return e;
  }
  seg->start = seg->end = seg->cap = 0;
  seg->foff = off;
  seg->flen = len;
  wq_append(&s->wq, seg);
  s->wq.bytes += (size_t)len;
  s->io->want_write(s, 1);
  check_high_water(s);
  return 0;
}

int nt__stream_write_eof(nt_transport_t *t) {
  nt__stream_t *s = (nt__stream_t *)t;
  if (t->flags & (NT_TRANSPORT_CLOSING | NT_TRANSPORT_CLOSED)) return NT_ECLOSED;
  if (t->flags & NT_TRANSPORT_WRITE_EOF) return 0;
  t->flags |= NT_TRANSPORT_WRITE_EOF;
  if (!s->wq.head) after_drain(s);
  return 0;
}

void nt__stream_lose_connection(nt_transport_t *t) {
  nt__stream_t *s = (nt__stream_t *)t;
  if (t->flags & (NT_TRANSPORT_CLOSING | NT_TRANSPORT_CLOSED)) return;
  t->flags |= NT_TRANSPORT_CLOSING;
  s->io->read_enable(s, 0);
  if (!s->wq.head) finish_close(s, 0);
}

void nt__stream_abort(nt_transport_t *t, int status) {
  nt__stream_t *s = (nt__stream_t *)t;
  finish_close(s, status);
}

void nt__stream_pause_reading(nt_transport_t *t) {
  nt__stream_t *s = (nt__stream_t *)t;
  if (t->flags & (NT_TRANSPORT_READ_PAUSED | NT_TRANSPORT_CLOSED)) return;
  t->flags |= NT_TRANSPORT_READ_PAUSED;
  s->io->read_enable(s, 0);
}

void nt__stream_resume_reading(nt_transport_t *t) {
  nt__stream_t *s = (nt__stream_t *)t;
  if (!(t->flags & NT_TRANSPORT_READ_PAUSED)) return;
  t->flags &= ~NT_TRANSPORT_READ_PAUSED;
  if (!(t->flags & (NT_TRANSPORT_CLOSING | NT_TRANSPORT_CLOSED |
                    NT_TRANSPORT_EOF_RECEIVED)))
    s->io->read_enable(s, 1);
}

size_t nt__stream_write_buffer_size(nt_transport_t *t) {
  return ((nt__stream_t *)t)->wq.bytes;
}

/* The address ops of every socket-backed stream (TCP, UNIX, fd streams over
 * a socket): one place that asks the kernel. */
static int sock_address(nt_transport_t *t, struct sockaddr_storage *ss,
                        socklen_t *len, int peer) {
  nt__stream_t *s = (nt__stream_t *)t;
  *len = sizeof *ss;
  int fd = s->io->sockfd ? s->io->sockfd(s) : NT_ENOTSUP;
  if (fd < 0) return fd;
  int rc = peer ? getpeername(fd, (struct sockaddr *)ss, len)
                : getsockname(fd, (struct sockaddr *)ss, len);
  return rc == 0 ? 0 : -errno;
}

int nt__stream_peer_address(nt_transport_t *t, struct sockaddr_storage *ss,
                            socklen_t *len) {
  return sock_address(t, ss, len, 1);
}

int nt__stream_host_address(nt_transport_t *t, struct sockaddr_storage *ss,
                            socklen_t *len) {
  return sock_address(t, ss, len, 0);
}

int nt_transport_unacked(nt_transport_t *t, uint64_t *out) {
  *out = 0;
  /* Every nettool transport is a stream core; one written by a user with
   * its own ops table is not, and cannot say. */
  if (t->ops->writev != nt__stream_writev) return NT_ENOTSUP;
  nt__stream_t *s = (nt__stream_t *)t;
  if (!s->io->unacked) return NT_ENOTSUP;
  if (t->flags & NT_TRANSPORT_CLOSED) return NT_ECLOSED;
  uint64_t k = 0;
  int rc = s->io->unacked(s, &k);
  if (rc) return rc;
  *out = (uint64_t)s->wq.bytes + k;
  return 0;
}

/* --- input ------------------------------------------------------------------------ */

void nt__stream_deliver(nt__stream_t *s, const char *data, size_t len) {
  nt_protocol_t *p = s->base.protocol;
  if (!p || (s->base.flags & (NT_TRANSPORT_CLOSING | NT_TRANSPORT_CLOSED)))
    return;
  if (p->ops->data_received) p->ops->data_received(p, data, len);
}

void nt__stream_deliver_eof(nt__stream_t *s) {
  nt_transport_t *t = &s->base;
  if (t->flags & (NT_TRANSPORT_CLOSED | NT_TRANSPORT_EOF_RECEIVED)) return;
  t->flags |= NT_TRANSPORT_EOF_RECEIVED;
  s->io->read_enable(s, 0);
  if (t->flags & NT_TRANSPORT_CLOSING) return; /* already closing */
  nt_protocol_t *p = t->protocol;
  int keep = p && p->ops->eof_received ? p->ops->eof_received(p) : 0;
  if (t->flags & (NT_TRANSPORT_CLOSING | NT_TRANSPORT_CLOSED)) return;
  if (!keep) {
    nt__stream_lose_connection(t);
  } else if ((t->flags & NT_TRANSPORT_WRITE_EOF) && !s->wq.head) {
    finish_close(s, 0); /* we had half-closed already: both sides are done */
  }
}
