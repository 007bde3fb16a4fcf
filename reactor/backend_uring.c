/* Linux io_uring backend (liburing): the ring is the wait.
 *
 * Readiness: every watched fd has at most one one-shot IORING_OP_POLL_ADD in
 * the ring, re-armed after its event is dispatched while the watcher still
 * wants events. One-shot, not multishot, because the reactor's contract is
 * level-triggered (a callback that leaves data unread, a paused reader that
 * resumes, must be told again): a poll armed on a ready fd completes at
 * once. The arming costs no system call of its own: SQEs queue up in the
 * submission ring and go to the kernel with the next wait, one
 * io_uring_enter for the whole loop turn (submit + wait + timeout).
 *
 * A poll's user_data carries (generation, fd): changing or stopping a watch
 * bumps the fd's generation and removes the old poll, so a completion of the
 * old request (already in the completion ring, or raced by a close and a
 * reuse of the fd number) is recognised as stale and dropped.
 *
 * Completion-based stream I/O (nt__cio_*, reactor-int.h), for TCP
 * connections: receives are IORING_OP_RECV into a ring of provided buffers
 * shared by the whole reactor (an idle connection holds no buffer, a busy
 * one needs no read(2) per message), and sends are IORING_OP_SEND from a
 * copy the cio owns; both go to the kernel with the loop's one
 * io_uring_enter, whatever the number of connections. A receive is
 * single-shot and re-armed after each chunk rather than multishot: a
 * multishot receive keeps pulling data (up to every free buffer) after the
 * protocol has paused reading, which would then have to be held in memory;
 * single-shot bounds that to one buffer per connection, and gives each
 * connection one chunk per turn (epoll's fairness). The re-arm is one SQE
 * in the same submission, no system call. See the cio section below. */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reactor-int.h"

#define SQ_ENTRIES 512
#define CQ_ENTRIES 8192
#define CQE_BATCH 256
#define CQE_ROUNDS 8 /* batches per wait: bounded, the loop has timers too */

/* user_data tags (low 3 bits; cio pointers are 8-aligned) */
enum {
  TAG_POLL = 0,
  TAG_CIO = 1, /* a cio's multishot recv */
  TAG_IGNORE = 2,
  TAG_CIO_NOP = 3,
  TAG_CIO_SEND = 4,
  TAG_MASK = 7
};

#define BUF_GROUP 1
/* Provided buffers, shared by the reactor's connections: 1 MiB in all.
 * Small, so small messages cost little (the ring cycles through every
 * buffer, and each one it has used stays resident); a chunk that fills one
 * is followed by read(2)s into the reactor's 64 KiB buffer at once
 * (cio_drain), so large messages take no extra loop turns. */
#define URING_NBUFS 512
#define URING_BUFSIZE 2048
#define DRAIN_READS 4 /* per chunk, like the epoll path's reads per event */

typedef struct {
  uint32_t gen;   /* bumped when the armed poll is removed */
  uint8_t want;   /* NT_READABLE | NT_WRITABLE the watcher asks for */
  uint8_t armed;  /* mask of the poll in the ring, 0: none */
} fdstate_t;

struct nt__cio;

typedef struct {
  struct io_uring ring;
  nt_reactor_t *r;
  fdstate_t *fds;
  size_t nfds;
  /* provided-buffer ring for completion-based receives (lazily set up) */
  struct io_uring_buf_ring *br;
  char *bufs;
  size_t br_bytes; /* the mmap of br */
  unsigned nbufs, bufsize;
  int br_state; /* 0 not tried, 1 ready, -1 unavailable */
  /* cios whose recv ended for lack of buffers: re-armed after the batch */
  struct nt__cio *starved;
  struct nt__cio *cios; /* all of them (list head) */
} uring_data_t;

/* --- test hooks (reactor-int.h) ------------------------------------------- */

int (*nt__uring_setup_hook)(void);
unsigned nt__uring_nbufs_override;
nt__uring_stats_t nt__uring_stats;

/* --- submission ------------------------------------------------------------- */

/* An SQE, flushing the submission ring to the kernel if it is full. */
static struct io_uring_sqe *get_sqe(uring_data_t *d) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
  if (!sqe) {
    io_uring_submit(&d->ring);
    sqe = io_uring_get_sqe(&d->ring);
  }
  return sqe;
}

static uint64_t poll_ud(int fd, uint32_t gen) {
  return ((uint64_t)gen << 32) | ((uint64_t)(uint32_t)fd << 3) | TAG_POLL;
}

static int arm(uring_data_t *d, int fd) {
  fdstate_t *st = &d->fds[fd];
  struct io_uring_sqe *sqe = get_sqe(d);
  if (!sqe) return NT_ENOMEM;
  unsigned mask = 0;
  if (st->want & NT_READABLE) mask |= POLLIN;
  if (st->want & NT_WRITABLE) mask |= POLLOUT;
  io_uring_prep_poll_add(sqe, fd, mask);
  io_uring_sqe_set_data64(sqe, poll_ud(fd, st->gen));
  st->armed = st->want;
  return 0;
}

static void disarm(uring_data_t *d, int fd) {
  fdstate_t *st = &d->fds[fd];
  if (!st->armed) return;
  struct io_uring_sqe *sqe = get_sqe(d);
  if (sqe) {
    io_uring_prep_poll_remove(sqe, poll_ud(fd, st->gen));
    io_uring_sqe_set_data64(sqe, TAG_IGNORE);
  }
  st->gen++;
  st->armed = 0;
}

/* --- init / destroy ------------------------------------------------------------ */

static void br_free(uring_data_t *d);
static void cio_free(nt__cio_t *c);
static void cio_call(nt__cio_t *c, int kind, const char *data, ssize_t n);

static int ur_init(nt_reactor_t *r) {
  if (nt__uring_setup_hook) {
    int rc = nt__uring_setup_hook();
    if (rc) return rc;
  }
  uring_data_t *d = nt__calloc(1, sizeof *d);
  if (!d) return NT_ENOMEM;
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN |
            IORING_SETUP_TASKRUN_FLAG;
  p.cq_entries = CQ_ENTRIES;
  int rc = io_uring_queue_init_params(SQ_ENTRIES, &d->ring, &p);
  if (rc == -EINVAL) { /* a kernel before 5.19: no cooperative task runs */
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE;
    p.cq_entries = CQ_ENTRIES;
    rc = io_uring_queue_init_params(SQ_ENTRIES, &d->ring, &p);
  }
  if (rc < 0) {
    nt__free(d);
    return rc;
  }
  /* Completions that do not fit must wait in the kernel, not be dropped;
   * and a poll is only safe to re-arm once the old one is known gone. */
  if (!(p.features & IORING_FEAT_NODROP)) {
    io_uring_queue_exit(&d->ring);
    nt__free(d);
    return NT_ENOTSUP;
  }
  d->r = r;
  r->backend_data = d;
  return 0;
}

static void ur_destroy(nt_reactor_t *r) {
  uring_data_t *d = r->backend_data;
  if (!d) return;
  io_uring_queue_exit(&d->ring); /* ends every request still in flight */
  while (d->cios) cio_free(d->cios); /* their completions will not come */
  br_free(d);
  nt__free(d->fds);
  nt__free(d);
  r->backend_data = NULL;
}

static int grow_fds(uring_data_t *d, int fd) {
  if ((size_t)fd < d->nfds) return 0;
  size_t n = d->nfds ? d->nfds : 64;
  while (n <= (size_t)fd) n *= 2;
  fdstate_t *f = nt__realloc(d->fds, n * sizeof *f);
  if (!f) return NT_ENOMEM;
  memset(f + d->nfds, 0, (n - d->nfds) * sizeof *f);
  d->fds = f;
  d->nfds = n;
  return 0;
}

static int ur_set(nt_reactor_t *r, int fd, unsigned have, unsigned want) {
  uring_data_t *d = r->backend_data;
  if (!want) {
    if ((size_t)fd < d->nfds) {
      disarm(d, fd);
      d->fds[fd].want = 0;
    }
    return 0;
  }
  if (!have) {
    /* Refuse what epoll refuses, so every backend says the same: poll(2)
     * on a regular file or directory is always "ready". */
    struct stat sb;
    if (fstat(fd, &sb) < 0) return -errno;
    if (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)) return NT_EPERM;
  }
  int rc = grow_fds(d, fd);
  if (rc) return rc;
  fdstate_t *st = &d->fds[fd];
  if (st->armed && st->armed != want) disarm(d, fd);
  st->want = (uint8_t)want;
  if (!st->armed) return arm(d, fd);
  return 0;
}

/* --- completion-based receive ----------------------------------------------------- */

/* One per stream connection, owned by the backend: it outlives its owner
 * while a request naming it is still in the ring (the completion of a
 * cancelled recv arrives after the transport has closed, and must find live
 * memory). Freed when closed and nothing of it is in flight. */
struct nt__cio {
  uring_data_t *d;
  nt__cio_cb cb;
  void *owner; /* NULL once closed */
  int fd;
  uint8_t want;       /* the owner wants data now */
  uint8_t recv_live;  /* a multishot recv is in the ring (until its last CQE) */
  uint8_t cancelling; /* ... and a cancel for it was submitted */
  uint8_t nop;        /* a NOP bringing held data back is in the ring */
  uint8_t starving;   /* on d->starved */
  uint8_t busy;       /* inside the owner's callback */
  uint8_t has_end;    /* held_end is to be delivered after held */
  int held_end;       /* 0 (end of stream) or an error */
  /* Bytes that arrived while the owner did not want them (paused, or the
   * cancel not yet done): handed over, in order, when it wants them again. */
  char *held;
  size_t held_len;
  struct nt__cio *next_starved;
  struct nt__cio *prev, *next; /* every cio of the ring, for destroy */
  /* The send in flight (one at a time): a copy the cio owns, so a close or
   * an abort never leaves the kernel reading freed memory. */
  char *sbuf;
  size_t slen, soff;
  uint8_t sending, send_cancelled;
};

static uint64_t cio_ud(nt__cio_t *c, int tag) {
  return (uint64_t)(uintptr_t)c | (uint64_t)tag;
}

static int br_setup(uring_data_t *d) {
  if (d->br_state) return d->br_state > 0 ? 0 : NT_ENOTSUP;
  d->br_state = -1;
  unsigned n = nt__uring_nbufs_override ? nt__uring_nbufs_override : URING_NBUFS;
  unsigned size = URING_BUFSIZE;
  size_t ring_bytes = n * sizeof(struct io_uring_buf);
  ring_bytes = (ring_bytes + 4095) & ~(size_t)4095;
  void *mem = mmap(NULL, ring_bytes + (size_t)n * size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return NT_ENOMEM;
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uint64_t)(uintptr_t)mem;
  reg.ring_entries = n;
  reg.bgid = BUF_GROUP;
  if (io_uring_register_buf_ring(&d->ring, &reg, 0) < 0) {
    munmap(mem, ring_bytes + (size_t)n * size);
    return NT_ENOTSUP; /* a kernel before 5.19 */
  }
  d->br = mem;
  d->bufs = (char *)mem + ring_bytes;
  d->br_bytes = ring_bytes + (size_t)n * size;
  d->nbufs = n;
  d->bufsize = size;
  io_uring_buf_ring_init(d->br);
  for (unsigned i = 0; i < n; i++)
    io_uring_buf_ring_add(d->br, d->bufs + (size_t)i * size, size,
                          (unsigned short)i, io_uring_buf_ring_mask(n), (int)i);
  io_uring_buf_ring_advance(d->br, (int)n);
  d->br_state = 1;
  return 0;
}

static void br_free(uring_data_t *d) {
  if (d->br) munmap(d->br, d->br_bytes);
  d->br = NULL;
}

static void br_recycle(uring_data_t *d, unsigned bid) {
  io_uring_buf_ring_add(d->br, d->bufs + (size_t)bid * d->bufsize, d->bufsize,
                        (unsigned short)bid, io_uring_buf_ring_mask(d->nbufs), 0);
  io_uring_buf_ring_advance(d->br, 1);
}

static nt__cio_t *ur_cio_open(nt_reactor_t *r, int fd, nt__cio_cb cb,
                              void *owner) {
  uring_data_t *d = r->backend_data;
  if (br_setup(d)) return NULL;
  nt__cio_t *c = nt__calloc(1, sizeof *c);
  if (!c) return NULL;
  c->d = d;
  c->cb = cb;
  c->owner = owner;
  c->fd = fd;
  c->next = d->cios;
  if (c->next) c->next->prev = c;
  d->cios = c;
  nt__uring_stats.cios_live++;
  return c;
}

static void cio_free(nt__cio_t *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    c->d->cios = c->next;
  if (c->next) c->next->prev = c->prev;
  nt__free(c->held);
  nt__free(c->sbuf);
  nt__free(c);
  nt__uring_stats.cios_live--;
}

static void cio_maybe_free(nt__cio_t *c) {
  if (!c->owner && !c->recv_live && !c->nop && !c->starving && !c->busy &&
      !c->sending)
    cio_free(c);
}

static void cio_arm_recv(nt__cio_t *c) {
  struct io_uring_sqe *sqe = get_sqe(c->d);
  if (!sqe) { /* cannot happen after a flush; say so rather than stall */
    c->has_end = 1;
    c->held_end = NT_ENOMEM;
    return;
  }
  io_uring_prep_recv(sqe, c->fd, NULL, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = BUF_GROUP;
  io_uring_sqe_set_data64(sqe, cio_ud(c, TAG_CIO));
  c->recv_live = 1;
  c->cancelling = 0;
}

static void cio_cancel_recv(nt__cio_t *c) {
  if (!c->recv_live || c->cancelling) return;
  struct io_uring_sqe *sqe = get_sqe(c->d);
  if (!sqe) return;
  io_uring_prep_cancel64(sqe, cio_ud(c, TAG_CIO), 0);
  io_uring_sqe_set_data64(sqe, TAG_IGNORE);
  c->cancelling = 1; /* its last completion still comes, and is waited for */
}

/* Held data goes back to the owner from the loop, through the ring, so it
 * never runs inside the call that resumed reading. */
static void cio_post_nop(nt__cio_t *c) {
  if (c->nop) return;
  struct io_uring_sqe *sqe = get_sqe(c->d);
  if (!sqe) return;
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, cio_ud(c, TAG_CIO_NOP));
  c->nop = 1;
}

/* What the cio should have in the ring now that the owner wants data. */
static void cio_resume(nt__cio_t *c) {
  if (!c->owner || !c->want || c->starving) return;
  if (c->held_len || c->has_end)
    cio_post_nop(c);
  else if (!c->recv_live)
    cio_arm_recv(c);
  /* recv_live && cancelling: its last completion re-arms */
}

static int ur_cio_recv(nt__cio_t *c, int on) {
  c->want = (uint8_t)(on != 0);
  if (on)
    cio_resume(c);
  else
    cio_cancel_recv(c);
  return 0;
}

/* The send in flight: submitted (again, after a short send) from its own
 * buffer. */
static void cio_submit_send(nt__cio_t *c) {
  struct io_uring_sqe *sqe = get_sqe(c->d);
  if (!sqe) return; /* cannot happen after a flush */
  io_uring_prep_send(sqe, c->fd, c->sbuf + c->soff, c->slen - c->soff,
                     MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, cio_ud(c, TAG_CIO_SEND));
}

static int ur_cio_send(nt__cio_t *c, const struct iovec *iov, int n,
                       size_t max) {
  if (c->sending) return NT_EAGAIN;
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  if (total > max) total = max;
  if (!total) return NT_EINVAL;
  char *b = nt__malloc(total);
  if (!b) return NT_ENOMEM;
  size_t off = 0;
  for (int i = 0; i < n && off < total; i++) {
    size_t k = iov[i].iov_len < total - off ? iov[i].iov_len : total - off;
    memcpy(b + off, iov[i].iov_base, k);
    off += k;
  }
  c->sbuf = b;
  c->slen = total;
  c->soff = 0;
  c->sending = 1;
  cio_submit_send(c);
  return 0;
}

static int ur_cio_sending(const nt__cio_t *c) { return c->sending; }

static int cio_send_done(nt__cio_t *c, int res) {
  int called = 0;
  if (res == 0 && c->soff < c->slen) res = NT_EPIPE; /* took nothing */
  if (res > 0 && !c->send_cancelled) {
    c->soff += (size_t)res;
    if (c->soff < c->slen) { /* a short send: the rest goes next */
      nt__uring_stats.short_sends++;
      cio_submit_send(c);
      return 0;
    }
  }
  nt__free(c->sbuf);
  c->sbuf = NULL;
  c->sending = 0;
  if (c->owner) {
    cio_call(c, NT__CIO_SENT, NULL, res < 0 ? (ssize_t)res : (ssize_t)c->slen);
    called = 1;
  }
  cio_maybe_free(c);
  return called;
}

static void ur_cio_close(nt__cio_t *c) {
  if (!c) return;
  c->owner = NULL;
  c->want = 0;
  cio_cancel_recv(c);
  /* A send in flight is cancelled (its buffer stays ours until its last
   * completion). A graceful close never meets one: the bytes in flight
   * are still in the owner's queue, and it closes only once it is empty. */
  if (c->sending && !c->send_cancelled) {
    struct io_uring_sqe *sqe = get_sqe(c->d);
    if (sqe) {
      io_uring_prep_cancel64(sqe, cio_ud(c, TAG_CIO_SEND), 0);
      io_uring_sqe_set_data64(sqe, TAG_IGNORE);
    }
    c->send_cancelled = 1;
  }
  nt__free(c->held);
  c->held = NULL;
  c->held_len = 0;
  cio_maybe_free(c);
}

static int hold(nt__cio_t *c, const char *p, size_t n) {
  char *h = nt__realloc(c->held, c->held_len + n);
  if (!h) return NT_ENOMEM;
  memcpy(h + c->held_len, p, n);
  c->held = h;
  c->held_len += n;
  return 0;
}

static void cio_call(nt__cio_t *c, int kind, const char *data, ssize_t n) {
  c->busy = 1;
  c->cb(c->owner, kind, data, n);
  c->busy = 0;
}

/* The NOP posted by cio_post_nop: deliver what was held. */
static int cio_nop_done(nt__cio_t *c) {
  int called = 0;
  c->nop = 0;
  if (c->owner && c->want && c->held_len) {
    char *h = c->held;
    size_t n = c->held_len;
    c->held = NULL;
    c->held_len = 0;
    cio_call(c, NT__CIO_DATA, h, (ssize_t)n);
    nt__free(h);
    called = 1;
  }
  if (c->owner && c->want && c->has_end) {
    c->has_end = 0;
    cio_call(c, NT__CIO_END, NULL, c->held_end);
    called = 1;
  } else {
    cio_resume(c);
  }
  cio_maybe_free(c);
  return called;
}

/* The chunk filled its buffer and the socket has more: read the rest now
 * (a few reads at most), rather than one 2 KiB buffer per loop turn.
 * Returns 1 if it met the end of the stream or an error (delivered). */
static int cio_drain(nt__cio_t *c, const char *data, size_t len) {
  size_t size;
  char *buf = nt__reactor_readbuf(c->d->r, &size);
  if (!buf) { /* the ring's next receive gets the rest */
    cio_call(c, NT__CIO_DATA, data, (ssize_t)len);
    return 0;
  }
  /* The chunk and what follows it go to the protocol as one piece, as one
   * read(2) on epoll would: a message is not cut at the buffer's size. */
  memcpy(buf, data, len);
  for (int i = 0; i < DRAIN_READS && c->owner && c->want; i++) {
    ssize_t n = read(c->fd, buf + len, size - len);
    if (n > 0 || len) {
      size_t got = len + (size_t)(n > 0 ? n : 0);
      int e = n < 0 ? errno : 0;
      len = 0;
      cio_call(c, NT__CIO_DATA, buf, (ssize_t)got);
      if (n > 0 && got == size) continue; /* full: more may be there */
      if (n > 0 || e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return 0;
      if (!c->owner || !c->want) return 0; /* the end waits in the socket */
      cio_call(c, NT__CIO_END, NULL, n == 0 ? 0 : -e);
      return 1;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    cio_call(c, NT__CIO_END, NULL, n == 0 ? 0 : -errno);
    return 1;
  }
  return 0;
}

/* One completion of a cio's recv. Returns 1 if the owner was called. */
static int cio_recv_done(uring_data_t *d, nt__cio_t *c, int res,
                         unsigned flags) {
  int called = 0, ended = 0;
  if (!(flags & IORING_CQE_F_MORE)) {
    c->recv_live = 0;
    c->cancelling = 0;
  }
  if (flags & IORING_CQE_F_BUFFER) {
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    const char *data = d->bufs + (size_t)bid * d->bufsize;
    if (c->owner && res > 0) {
      if (c->want && !c->held_len && !c->has_end) {
        called = 1;
        if (((flags & IORING_CQE_F_SOCK_NONEMPTY) || (unsigned)res == d->bufsize) &&
            !c->recv_live)
          ended = cio_drain(c, data, (size_t)res);
        else
          cio_call(c, NT__CIO_DATA, data, res);
      } else if (!c->has_end) {
        nt__uring_stats.held++;
        if (hold(c, data, (size_t)res)) {
          c->has_end = 1;
          c->held_end = NT_ENOMEM;
        }
      }
    }
    br_recycle(d, bid);
  } else if (res == -ENOBUFS) {
    nt__uring_stats.enobufs++;
    /* Every buffer is in use: receive again once this batch has given some
     * back (the data waits in the socket meanwhile). */
    if (c->owner && !c->starving) {
      c->starving = 1;
      c->next_starved = d->starved;
      d->starved = c;
    }
  } else if (res == -ECANCELED) {
    /* we cancelled it: the owner paused or closed */
  } else if (res <= 0 && c->owner && !c->has_end) {
    ended = 1; /* end of stream, or a socket error */
    if (c->want && !c->held_len) {
      cio_call(c, NT__CIO_END, NULL, res);
      called = 1;
    } else {
      c->has_end = 1;
      c->held_end = res;
    }
  }
  /* Still wanted and the request has ended (cancelled then resumed, or the
   * kernel's own choice): receive again. */
  if (!ended && !c->recv_live) cio_resume(c);
  cio_maybe_free(c);
  return called;
}

static void rearm_starved(uring_data_t *d) {
  nt__cio_t *c = d->starved;
  d->starved = NULL;
  while (c) {
    nt__cio_t *next = c->next_starved;
    c->starving = 0;
    cio_resume(c);
    cio_maybe_free(c);
    c = next;
  }
}

/* --- wait ------------------------------------------------------------------- */

typedef struct {
  uint64_t ud;
  int32_t res;
  uint32_t flags;
} cqe_copy_t;

static int dispatch_poll(nt_reactor_t *r, uring_data_t *d, const cqe_copy_t *e) {
  int fd = (int)((e->ud >> 3) & 0x1fffffff);
  uint32_t gen = (uint32_t)(e->ud >> 32);
  if ((size_t)fd >= d->nfds || d->fds[fd].gen != gen || !d->fds[fd].armed)
    return 0; /* a poll that was removed or replaced */
  d->fds[fd].armed = 0;
  unsigned ev = 0;
  if (e->res < 0) {
    if (e->res == -ECANCELED) return 0;
    ev = NT_READABLE | NT_WRITABLE | NT_IO_ERROR;
  } else {
    unsigned m = (unsigned)e->res;
    if (m & (POLLIN | POLLRDHUP)) ev |= NT_READABLE;
    if (m & POLLOUT) ev |= NT_WRITABLE;
    if (m & (POLLERR | POLLHUP | POLLNVAL))
      ev |= NT_READABLE | NT_WRITABLE | NT_IO_ERROR;
  }
  nt__io_dispatch(r, fd, ev);
  /* Level-triggered: still wanted, so watch again (the callback may have
   * changed the watch, or closed the fd and had the number reused; set()
   * armed those already). */
  if ((size_t)fd < d->nfds && d->fds[fd].want && !d->fds[fd].armed &&
      d->fds[fd].gen == gen)
    arm(d, fd);
  return 1;
}

static int ur_wait(nt_reactor_t *r, int timeout_ms) {
  uring_data_t *d = r->backend_data;
  struct io_uring_cqe *cqe = NULL;
  int rc;
  if (timeout_ms == 0) {
    rc = io_uring_submit(&d->ring);
  } else if (timeout_ms < 0) {
    rc = io_uring_submit_and_wait(&d->ring, 1);
  } else {
    struct __kernel_timespec ts;
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
    rc = io_uring_submit_and_wait_timeout(&d->ring, &cqe, 1, &ts, NULL);
  }
  /* Callbacks start timers: they count from now (reactor-int.h). */
  nt_reactor_update_time(r);
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
    return rc;
  int n = 0;
  for (int round = 0; round < CQE_ROUNDS; round++) {
    struct io_uring_cqe *cqes[CQE_BATCH];
    cqe_copy_t ev[CQE_BATCH];
    unsigned k = io_uring_peek_batch_cqe(&d->ring, cqes, CQE_BATCH);
    if (!k) break;
    /* Copied out and released first: callbacks may submit, and the
     * completion ring must not be held while they run. */
    for (unsigned i = 0; i < k; i++) {
      ev[i].ud = cqes[i]->user_data;
      ev[i].res = cqes[i]->res;
      ev[i].flags = cqes[i]->flags;
    }
    io_uring_cq_advance(&d->ring, k);
    for (unsigned i = 0; i < k; i++) {
      switch (ev[i].ud & TAG_MASK) {
      case TAG_POLL:
        n += dispatch_poll(r, d, &ev[i]);
        break;
      case TAG_CIO:
        n += cio_recv_done(d, (nt__cio_t *)(uintptr_t)(ev[i].ud & ~(uint64_t)TAG_MASK),
                           ev[i].res, ev[i].flags);
        break;
      case TAG_CIO_NOP:
        n += cio_nop_done((nt__cio_t *)(uintptr_t)(ev[i].ud & ~(uint64_t)TAG_MASK));
        break;
      case TAG_CIO_SEND:
        n += cio_send_done((nt__cio_t *)(uintptr_t)(ev[i].ud & ~(uint64_t)TAG_MASK),
                           ev[i].res);
        break;
      }
    }
    if (d->starved) rearm_starved(d);
    if (k < CQE_BATCH) break;
  }
  return n;
}

/* --- embedding (nt_reactor_backend_fd) -------------------------------------- */

/* The ring fd polls readable while completions wait in the completion ring
 * (or in the kernel's overflow list, or as task work that posts them): a
 * host loop can sleep on it. What callbacks queued after the last wait is
 * still in the submission ring, invisible to the kernel, so the reactor
 * flushes it before the host sleeps (ur_flush, from backend_timeout). */
static int ur_fd(const nt_reactor_t *r) {
  const uring_data_t *d = r->backend_data;
  return d->ring.ring_fd;
}

static void ur_flush(nt_reactor_t *r) {
  uring_data_t *d = r->backend_data;
  if (io_uring_sq_ready(&d->ring)) io_uring_submit(&d->ring);
}

const struct nt__backend nt__backend_uring = {
    .name = "io_uring",
    .init = ur_init,
    .destroy = ur_destroy,
    .set = ur_set,
    .wait = ur_wait,
    .fd = ur_fd,
    .flush = ur_flush,
    .cio_open = ur_cio_open,
    .cio_recv = ur_cio_recv,
    .cio_close = ur_cio_close,
    .cio_send = ur_cio_send,
    .cio_sending = ur_cio_sending,
};
