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
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
  TAG_CIO_POLL = 5,
  TAG_ACCEPT = 6,
  TAG_OBJ = 7, /* an object whose first byte says what it is (OBJ_*) */
  TAG_MASK = 7
};
/* what a TAG_OBJ object is (its first byte) */
enum { OBJ_DIO = 1, OBJ_DSEND = 2, OBJ_ZC = 3 };

#define BUF_GROUP 1
/* Provided buffers, shared by the reactor's connections: 1 MiB at most.
 * Small, so small messages cost little; a chunk that fills one is followed
 * by read(2)s into the reactor's 64 KiB buffer at once (cio_drain), so
 * large messages take no extra loop turns. The ring cycles through every
 * buffer it has been given, and each one it has used stays resident: it
 * gets URING_NBUFS_START at first (64 KiB, what epoll's read buffer
 * costs), and twice as many each time a receive finds it empty, so a
 * server whose connections are mostly idle keeps 64 KiB, not 1 MiB
 * (100 bytes per connection at 10,000). */
#define URING_NBUFS 512
#define URING_NBUFS_START 32
#define URING_BUFSIZE 2048
#define DRAIN_READS 4 /* per chunk, like the epoll path's reads per event */
/* Send copies of SND_MIN bytes or more come in classes (SND_MIN << k,
 * up to 64 KiB, the most a send copies) and freed ones are kept per
 * reactor, SND_CACHE_BYTES at most (see snd_get). */
#define SND_MIN 4096
#define SND_CLASSES 5
#define SND_CACHE_BYTES (1024 * 1024)
/* Batched waits (batch_next): the default bound on the wait for a batch,
 * and the most input completions one waits for. */
#define BATCH_US 100
#define BATCH_MAX 32
#ifndef IORING_FEAT_MIN_TIMEOUT /* 6.12; liburing 2.3's headers predate it */
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif

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
  /* provided-buffer ring for completion-based receives */
  struct io_uring_buf_ring *br;
  char *bufs;
  size_t br_bytes; /* the mmap of br */
  unsigned nbufs, bufsize;
  unsigned posted; /* buffers 0..posted-1 have been given to the ring */
  nt__cio_cb cio_cb; /* the owners' callback (one per reactor) */
  size_t cio_off;    /* where a cio sits in its owner's memory */
  /* cios whose recv ended for lack of buffers: re-armed after the batch */
  nt__cio_t **starved;
  size_t nstarved, starved_cap;
  /* released cios with requests in flight (nt__cio_t.zombie - 1) */
  nt__cio_t **zombies;
  size_t nzombies, zcap;
  struct nt__acc *accs; /* every listener's accept state */
  /* the ring's setup (flag_sets): DEFER_TASKRUN in use; created disabled
   * and not yet enabled (ring_own); the thread that enabled it */
  uint8_t defer, disabled;
  pthread_t owner;
  /* batched waits (see batch_next): the kernel has min_wait_usec; the
   * batch's bound in microseconds (0: off, or no min_wait_usec) and its
   * size in input completions; sends submitted since the last wait (their completions
   * count in the kernel's wait too) */
  uint8_t min_wait_ok;
  uint16_t batch;
  uint32_t batch_us;
  uint32_t sends_out;
  uint32_t dgram_inputs; /* datagram receives' completions this turn */
  uint32_t turn_large;   /* chunks that filled their buffer this turn */
  /* datagram sockets (see the dio section): their buffer group, set up
   * when the first one opens, and their states */
  struct io_uring_buf_ring *dbr;
  char *dbufs;
  size_t dbr_bytes;
  unsigned dposted;
  struct nt__dio *dios, *dstarved;
  /* zero-copy sends (see cio_zc_wanted): the mode (ZC_*), read from
   * NETTOOL_URING_SEND_ZC at the first send; the kernel refused them; the
   * buffers sent that wait for their notification */
  uint8_t zc_mode, zc_broken;
  uint32_t zc_min; /* ZC_MIN, or NETTOOL_URING_SEND_ZC_MIN */
  struct snd *zparked;
  /* freed send copies kept for the next sends (snd_get), by size class */
  struct snd *snd_cache[SND_CLASSES];
  size_t snd_cached; /* their bytes, at most SND_CACHE_BYTES */
} uring_data_t;

/* --- test hooks (reactor-int.h) ------------------------------------------- */

int (*nt__uring_setup_hook)(void);
int (*nt__uring_flags_hook)(unsigned flags);
unsigned nt__uring_nbufs_override;
int nt__uring_dgram_setup_fail;
nt__uring_stats_t nt__uring_stats;

/* --- submission ------------------------------------------------------------- */

/* The ring is created disabled when it is SINGLE_ISSUER (ur_init): the
 * thread that first hands it requests becomes its only submitter, so a
 * reactor may be created on one thread and run on another (ts-server's
 * workers), as on epoll. Its fd is registered then, from that thread
 * (registered ring fds are per thread): no fdget/fdput per enter. */
static int ring_own(uring_data_t *d) {
  if (!d->disabled) {
    /* (checked here: the registered fd means nothing on another thread) */
    if (d->defer && !pthread_equal(d->owner, pthread_self())) return NT_EBUSY;
    return 0;
  }
  /* liburing 2.3 declares io_uring_enable_rings but does not export it */
  if (syscall(__NR_io_uring_register, d->ring.ring_fd,
              IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
    return -errno;
  d->disabled = 0;
  d->owner = pthread_self();
  io_uring_register_ring_fd(&d->ring); /* an optimisation: may fail */
  return 0;
}

/* Hands the queued SQEs to the kernel now. */
static int ring_submit(uring_data_t *d) {
  int rc = ring_own(d);
  if (rc) return rc;
  nt__uring_stats.enters++;
  return io_uring_submit(&d->ring);
}

/* An SQE, flushing the submission ring to the kernel if it is full. */
static struct io_uring_sqe *get_sqe(uring_data_t *d) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);
  if (!sqe) {
    ring_submit(d);
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

static int br_setup(uring_data_t *d);
static void br_post_new(uring_data_t *d, unsigned k);
static void br_free(uring_data_t *d);
static void cio_free_parts(nt__cio_t *c);
static void snd_cache_free(uring_data_t *d);
static void dio_free_all(uring_data_t *d);
static void ur_flush(nt_reactor_t *r);

/* The setup flags, best first; a kernel that does not know one says EINVAL
 * and the next set is tried.
 * - DEFER_TASKRUN (6.1, with SINGLE_ISSUER): the task work that turns a
 *   ready socket into a completion runs only when the loop enters to wait,
 *   all of it at once, instead of interrupting the thread wherever it is
 *   (a notification, and the work run piecemeal on the way back from each
 *   system call). It requires one submitting thread: the ring is created
 *   disabled and the thread that first hands it requests becomes that
 *   thread (ring_own), so a reactor made on one thread and run on another
 *   (ts-server's workers) still works. Its cost: the kernel tells no one
 *   that such work waits, so the ring fd does not poll readable for it; a
 *   reactor embedded in another loop (nt_reactor_backend_fd) has its ring
 *   made again with the next set (ur_fd).
 * - COOP_TASKRUN (5.19): task work waits for the next system call rather
 *   than interrupting the thread.
 * - TASKRUN_FLAG: the kernel marks pending task work in the SQ ring's
 *   flags, so a submission that does not wait still enters for it. */
static const unsigned flag_sets[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
        IORING_SETUP_R_DISABLED | IORING_SETUP_TASKRUN_FLAG,
    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, 0};
#define EMBEDDABLE_SETS 1 /* flag_sets[1..] poll readable for all work */

/* Makes ring with the first set from flag_sets[first] the kernel takes. */
static int ring_create(uring_data_t *d, struct io_uring *ring, size_t first) {
  struct io_uring_params p;
  int rc = -EINVAL;
  for (size_t i = first; i < sizeof flag_sets / sizeof *flag_sets; i++) {
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_CQSIZE | flag_sets[i];
    p.cq_entries = CQ_ENTRIES;
    if (nt__uring_flags_hook && nt__uring_flags_hook(flag_sets[i]))
      rc = -EINVAL;
    else
      rc = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
    if (rc != -EINVAL) break;
  }
  if (rc < 0) return rc;
  /* Completions that do not fit must wait in the kernel, not be dropped;
   * and a poll is only safe to re-arm once the old one is known gone. */
  if (!(p.features & IORING_FEAT_NODROP)) {
    io_uring_queue_exit(ring);
    return NT_ENOTSUP;
  }
  d->defer = (p.flags & IORING_SETUP_DEFER_TASKRUN) != 0;
  d->min_wait_ok = (p.features & IORING_FEAT_MIN_TIMEOUT) != 0;
  d->disabled = (p.flags & IORING_SETUP_R_DISABLED) != 0;
  return 0;
}

unsigned nt__uring_setup_flags(const nt_reactor_t *r) {
  const uring_data_t *d = r->backend_data;
  return d->ring.flags;
}

unsigned nt__uring_batch_us(const nt_reactor_t *r) {
  const uring_data_t *d = r->backend_data;
  return d->batch_us;
}

static int ur_init(nt_reactor_t *r) {
  if (nt__uring_setup_hook) {
    int rc = nt__uring_setup_hook();
    if (rc) return rc;
  }
  uring_data_t *d = nt__calloc(1, sizeof *d);
  if (!d) return NT_ENOMEM;
  int rc = ring_create(d, &d->ring, 0);
  if (rc < 0) {
    nt__free(d);
    return rc;
  }
  /* Completion-based receives need a provided-buffer ring (5.19): a
   * kernel without one is served by epoll, as one without io_uring is. */
  rc = br_setup(d);
  if (rc) {
    io_uring_queue_exit(&d->ring);
    nt__free(d);
    return rc;
  }
  unsigned start = URING_NBUFS_START < d->nbufs ? URING_NBUFS_START : d->nbufs;
  br_post_new(d, start);
  d->r = r;
  d->batch = 1;
  d->batch_us = BATCH_US;
  const char *bu = getenv("NETTOOL_URING_BATCH_US");
  if (bu && *bu) {
    long v = strtol(bu, NULL, 10);
    d->batch_us = v >= 0 && v <= 10000 ? (uint32_t)v : BATCH_US;
  }
  if (!d->min_wait_ok) d->batch_us = 0; /* a kernel before 6.12 */
  r->backend_data = d;
  return 0;
}

static void ur_destroy(nt_reactor_t *r) {
  uring_data_t *d = r->backend_data;
  if (!d) return;
  io_uring_queue_exit(&d->ring); /* ends every request still in flight */
  snd_cache_free(d);
  /* Their completions will not come: what they held is freed now. (The
   * cios of connections still open are their owners'.) */
  for (size_t i = 0; i < d->nzombies; i++) {
    nt__cio_t *c = d->zombies[i];
    cio_free_parts(c);
    nt__free((char *)c - d->cio_off);
    nt__uring_stats.cios_live--;
  }
  nt__free(d->zombies);
  nt__free(d->starved);
  dio_free_all(d);
  while (d->accs) {
    struct nt__acc *a = d->accs;
    d->accs = *(struct nt__acc **)a; /* next is its first member */
    nt__free(a);
  }
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

/* --- completion-based stream I/O ---------------------------------------------- */

/* A cio (reactor-int.h) lives inside its owner's memory, so an idle
 * connection costs no allocation beyond its own struct: 32 bytes of state,
 * with the data held while paused and the send in flight allocated only
 * while they exist. Once the owner has closed it and given its memory back
 * (cio_release), the memory is the backend's until the last completion
 * naming the cio is in (a cancelled receive completes after the close),
 * then freed; a reactor freed before that frees it too (d->zombies). */
enum {
  C_WANT = 1 << 0,       /* the owner wants data now */
  C_RECV = 1 << 1,       /* a recv is in the ring (until its last CQE) */
  C_CANCELLING = 1 << 2, /* ... and a cancel for it was submitted */
  C_NOP = 1 << 3,        /* a NOP bringing held data back is in the ring */
  C_STARVING = 1 << 4,   /* on d->starved */
  C_BUSY = 1 << 5,       /* inside the owner's callback */
  C_SENDING = 1 << 6,    /* snd is in the ring */
  C_SEND_CANCELLED = 1 << 7,
  C_CLOSED = 1 << 8,   /* cio_close: no callback any more */
  C_RELEASED = 1 << 9, /* the owner's memory is ours */
  C_POLL = 1 << 10,    /* a POLLOUT is in the ring */
  C_POLL_WANT = 1 << 11,
  C_OOM_END = 1 << 12, /* an end to deliver that could not be held */
  C_ZC_PARKED = 1 << 13, /* a zero-copy buffer awaits its notification */
  C_NO_ZC = 1 << 14,     /* the kernel copied our zero-copy send: no more */
  C_ZC_UNSUP = 1 << 15,  /* the socket cannot (AF_UNIX...): never */
  C_INFLIGHT =
      C_RECV | C_NOP | C_STARVING | C_BUSY | C_SENDING | C_POLL | C_ZC_PARKED
};

/* Bytes that arrived while the owner did not want them (paused, or the
 * cancel not yet done), and the end of the stream after them: handed over,
 * in order, when it wants them again. */
typedef struct {
  size_t len;
  int has_end, end; /* end: 0 (end of stream) or an error */
  char data[];
} held_t;

/* The send in flight (one at a time): a copy the backend owns, so a close
 * or an abort never leaves the kernel reading freed memory. */
typedef struct snd {
  uint8_t kind;    /* OBJ_ZC: a zero-copy send's user_data is the buffer */
  uint8_t zc;      /* submitted with IORING_OP_SEND_ZC */
  uint16_t notifs; /* zero-copy notifications still to come */
  uint32_t len, off;
  nt__cio_t *cio;
  struct snd *next, *prev; /* d->zparked, once parked */
  char data[];
} snd_t;

_Static_assert(sizeof(nt__cio_t) <= sizeof(nt_io_t),
               "a cio shares its connection's room with an nt_io_t");
_Static_assert(offsetof(nt__cio_t, fd) == offsetof(nt_io_t, fd),
               "fd at the same place in both");

static uint64_t cio_ud(nt__cio_t *c, int tag) {
  return (uint64_t)(uintptr_t)c | (uint64_t)tag;
}

/* Registers a provided-buffer ring at mem (n entries) as group with ring. */
static int buf_ring_register(struct io_uring *ring, void *mem, unsigned n,
                             int group) {
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uint64_t)(uintptr_t)mem;
  reg.ring_entries = n;
  reg.bgid = (uint16_t)group;
  return io_uring_register_buf_ring(ring, &reg, 0);
}

static int br_setup(uring_data_t *d) {
  unsigned n = nt__uring_nbufs_override ? nt__uring_nbufs_override : URING_NBUFS;
  unsigned size = URING_BUFSIZE;
  size_t ring_bytes = n * sizeof(struct io_uring_buf);
  ring_bytes = (ring_bytes + 4095) & ~(size_t)4095;
  /* Reserved, not resident: a page of buffers costs memory once the kernel
   * has written into it, and only the buffers posted so far are used. */
  void *mem = mmap(NULL, ring_bytes + (size_t)n * size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return NT_ENOMEM;
  if (buf_ring_register(&d->ring, mem, n, BUF_GROUP) < 0) {
    munmap(mem, ring_bytes + (size_t)n * size);
    return NT_ENOTSUP; /* a kernel before 5.19 */
  }
  d->br = mem;
  d->bufs = (char *)mem + ring_bytes;
  d->br_bytes = ring_bytes + (size_t)n * size;
  d->nbufs = n;
  d->bufsize = size;
  d->posted = 0;
  io_uring_buf_ring_init(d->br);
  return 0;
}

/* Hands k buffers the ring has never had to it. */
static void br_post_new(uring_data_t *d, unsigned k) {
  if (k > d->nbufs - d->posted) k = d->nbufs - d->posted;
  for (unsigned i = 0; i < k; i++) {
    unsigned bid = d->posted + i;
    io_uring_buf_ring_add(d->br, d->bufs + (size_t)bid * d->bufsize,
                          d->bufsize, (unsigned short)bid,
                          io_uring_buf_ring_mask(d->nbufs), (int)i);
  }
  io_uring_buf_ring_advance(d->br, (int)k);
  d->posted += k;
  nt__uring_stats.bufs_posted += k;
}

static void br_free(uring_data_t *d) {
  if (d->br) munmap(d->br, d->br_bytes);
  d->br = NULL;
}

/* A used buffer goes back to the ring's tail: the ring cycles through the
 * buffers it was given, so giving it few keeps few resident. */
static void br_recycle(uring_data_t *d, unsigned bid) {
  io_uring_buf_ring_add(d->br, d->bufs + (size_t)bid * d->bufsize, d->bufsize,
                        (unsigned short)bid, io_uring_buf_ring_mask(d->nbufs), 0);
  io_uring_buf_ring_advance(d->br, 1);
}

static int ur_cio_open(nt_reactor_t *r, nt__cio_t *c, int fd, nt__cio_cb cb) {
  uring_data_t *d = r->backend_data;
  if (d->cio_cb && d->cio_cb != cb) return NT_ENOTSUP; /* one per reactor */
  d->cio_cb = cb;
  memset(c, 0, sizeof *c);
  c->fd = fd;
  nt__uring_stats.cios_live++;
  return 0;
}

static void cio_free_parts(nt__cio_t *c) {
  nt__free(c->held);
  c->held = NULL;
  nt__free(c->snd);
  c->snd = NULL;
}

static void zombie_drop(uring_data_t *d, nt__cio_t *c) {
  uint32_t i = c->zombie - 1;
  nt__cio_t *last = d->zombies[--d->nzombies];
  d->zombies[i] = last;
  last->zombie = i + 1;
  c->zombie = 0;
}

/* Frees the owner's memory once it is ours and nothing of the cio is in
 * flight. */
static void cio_maybe_free(uring_data_t *d, nt__cio_t *c) {
  if (!(c->bits & C_RELEASED) || (c->bits & C_INFLIGHT)) return;
  if (c->zombie) zombie_drop(d, c);
  cio_free_parts(c);
  nt__free((char *)c - d->cio_off);
  nt__uring_stats.cios_live--;
}

static void ur_cio_release(nt_reactor_t *r, nt__cio_t *c, void *mem) {
  uring_data_t *d = r->backend_data;
  d->cio_off = (size_t)((char *)c - (char *)mem); /* the same for every cio */
  c->bits |= C_CLOSED | C_RELEASED;
  if (c->bits & C_INFLIGHT) {
    if (d->nzombies == d->zcap) {
      size_t cap = d->zcap ? d->zcap * 2 : 16;
      nt__cio_t **z = nt__realloc(d->zombies, cap * sizeof *z);
      if (!z) return; /* leaked if the reactor goes first; freed otherwise */
      d->zombies = z;
      d->zcap = cap;
    }
    d->zombies[d->nzombies++] = c;
    c->zombie = (uint32_t)d->nzombies;
    return;
  }
  cio_maybe_free(d, c);
}

static void cio_arm_recv(uring_data_t *d, nt__cio_t *c) {
  struct io_uring_sqe *sqe = get_sqe(d);
  if (!sqe) return; /* cannot happen after a flush */
  io_uring_prep_recv(sqe, c->fd, NULL, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = BUF_GROUP;
  io_uring_sqe_set_data64(sqe, cio_ud(c, TAG_CIO));
  c->bits = (uint16_t)((c->bits | C_RECV) & ~C_CANCELLING);
}

static void cio_cancel(uring_data_t *d, nt__cio_t *c, int tag) {
  struct io_uring_sqe *sqe = get_sqe(d);
  if (!sqe) return;
  io_uring_prep_cancel64(sqe, cio_ud(c, tag), 0);
  io_uring_sqe_set_data64(sqe, TAG_IGNORE);
}

static void cio_cancel_recv(uring_data_t *d, nt__cio_t *c) {
  if (!(c->bits & C_RECV) || (c->bits & C_CANCELLING)) return;
  cio_cancel(d, c, TAG_CIO);
  c->bits |= C_CANCELLING; /* its last completion still comes, and is waited for */
}

/* Held data goes back to the owner from the loop, through the ring, so it
 * never runs inside the call that resumed reading. */
static void cio_post_nop(uring_data_t *d, nt__cio_t *c) {
  if (c->bits & C_NOP) return;
  struct io_uring_sqe *sqe = get_sqe(d);
  if (!sqe) return;
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, cio_ud(c, TAG_CIO_NOP));
  c->bits |= C_NOP;
}

/* What the cio should have in the ring now that the owner wants data. */
static void cio_resume(uring_data_t *d, nt__cio_t *c) {
  if ((c->bits & (C_CLOSED | C_STARVING)) || !(c->bits & C_WANT)) return;
  if (c->held || (c->bits & C_OOM_END))
    cio_post_nop(d, c);
  else if (!(c->bits & C_RECV))
    cio_arm_recv(d, c);
  /* recv in the ring and cancelling: its last completion re-arms */
}

static int ur_cio_recv(nt_reactor_t *r, nt__cio_t *c, int on) {
  uring_data_t *d = r->backend_data;
  if (on) {
    c->bits |= C_WANT;
    cio_resume(d, c);
  } else {
    c->bits &= (uint16_t)~C_WANT;
    cio_cancel_recv(d, c);
  }
  return 0;
}

/* Zero-copy sends (IORING_OP_SEND_ZC): the kernel sends from the
 * buffer's pages instead of copying them into socket buffers, and says
 * with a second completion, the notification (IORING_CQE_F_NOTIF), when it
 * no longer needs them: the buffer stays ours until then, not until the
 * send's own completion. The owner hears NT__CIO_SENT at the send's
 * completion, as for a copy (the bytes are the kernel's), and the buffer
 * is parked (d->zparked) until the notification; the connection's state
 * is kept until then too (C_ZC_PARKED: a zombie after release). One parked
 * buffer per connection: a send while one waits is a plain copy. Only
 * chunks of ZC_MIN bytes or more (the page pinning and the notification
 * cost more than copying a small one). Where the data cannot leave without
 * a copy (loopback, a device without scatter-gather) the kernel copies
 * anyway and says so in the notification (IORING_NOTIF_USAGE_ZC_COPIED,
 * asked for with IORING_SEND_ZC_REPORT_USAGE): in auto mode that
 * connection sends by copy from then on. NETTOOL_URING_SEND_ZC: 0 off
 * (the default), auto, or 1 (every chunk of ZC_MIN or more, copied or
 * not: for measuring). Off by default: on loopback it costs more CPU than
 * the copy (docs/DESIGN.md), no win was measured anywhere, and while a
 * zero-copy send is partly taken by a socket that is full the bytes are
 * both in the socket's queue and still in the owner's, so
 * nt_transport_unacked over-counts by up to a chunk (test_tcp_unacked
 * sees it; plain sends rarely stay partly taken).
 * NETTOOL_URING_SEND_ZC_MIN=BYTES moves the threshold (for measuring;
 * chunks are at most 64 KiB, tcp.c's CIO_SEND_MAX). A socket that cannot
 * (EOPNOTSUPP: AF_UNIX) sends by copy from then on; a kernel that cannot
 * (EINVAL: before 6.0, or 6.1 without usage reports) turns it off for the
 * reactor. */
#define ZC_MIN (64 * 1024)
enum { ZC_UNSET, ZC_OFF, ZC_ON, ZC_AUTO };
#ifndef IORING_SEND_ZC_REPORT_USAGE /* liburing 2.3's headers predate it */
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

static int cio_zc_wanted(uring_data_t *d, const nt__cio_t *c, size_t len) {
  if (d->zc_mode == ZC_UNSET) {
    const char *e = getenv("NETTOOL_URING_SEND_ZC");
    d->zc_mode = e && !strcmp(e, "auto") ? ZC_AUTO
                 : e && !strcmp(e, "1")  ? ZC_ON
                                         : ZC_OFF;
    const char *m = getenv("NETTOOL_URING_SEND_ZC_MIN");
    long v = m ? strtol(m, NULL, 10) : 0;
    d->zc_min = v > 0 && v <= (1L << 30) ? (uint32_t)v : ZC_MIN;
  }
  if (d->zc_mode == ZC_OFF || d->zc_broken || len < d->zc_min) return 0;
  if (c->bits & (C_ZC_PARKED | C_ZC_UNSUP)) return 0;
  return d->zc_mode == ZC_ON || !(c->bits & C_NO_ZC);
}

/* The send in flight: submitted (again, after a short send) from its own
 * buffer. */
static void cio_submit_send(uring_data_t *d, nt__cio_t *c) {
  snd_t *b = c->snd;
  struct io_uring_sqe *sqe = get_sqe(d);
  if (!sqe) return; /* cannot happen after a flush */
  if (b->zc) { /* (not counted in sends_out: two completions, one late) */
    io_uring_prep_send_zc(sqe, c->fd, b->data + b->off, b->len - b->off,
                          MSG_NOSIGNAL, IORING_SEND_ZC_REPORT_USAGE);
    io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)b | TAG_OBJ);
    b->notifs++; /* unless its completion says none comes */
    nt__uring_stats.zc_sends++;
    return;
  }
  io_uring_prep_send(sqe, c->fd, b->data + b->off, b->len - b->off,
                     MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, cio_ud(c, TAG_CIO_SEND));
  d->sends_out++;
}

/* The send's user_data, for its cancel. */
static uint64_t cio_send_ud(nt__cio_t *c) {
  snd_t *b = c->snd;
  return b && b->zc ? (uint64_t)(uintptr_t)b | TAG_OBJ
                    : cio_ud(c, TAG_CIO_SEND);
}

/* A block for a send copy of total bytes. Echoing 16 KiB messages at 1,000
 * connections, a malloc and a free per send made glibc grow and trim the
 * top of its heap around them: brk(2), a page fault per new page and a TLB
 * flush per trim took about a quarter of the server's CPU (perf, run.sh
 * --size 16384). Blocks of SND_MIN and more are therefore sized by class
 * and kept when freed (snd_put), so a busy server reuses the same few;
 * smaller ones are malloc's (its bins never trim). */
static int snd_class(size_t total) {
  if (total < SND_MIN) return -1;
  for (int k = 0; k < SND_CLASSES; k++)
    if (total <= (size_t)SND_MIN << k) return k;
  return -1;
}

static snd_t *snd_get(uring_data_t *d, size_t total) {
  int k = snd_class(total);
  if (k < 0) return nt__malloc(sizeof(snd_t) + total);
  snd_t *b = d->snd_cache[k];
  if (b) {
    d->snd_cache[k] = b->next;
    d->snd_cached -= (size_t)SND_MIN << k;
    nt__uring_stats.snd_reused++;
    return b;
  }
  return nt__malloc(sizeof(snd_t) + ((size_t)SND_MIN << k));
}

/* b->len is still the total it was got for (the class of its block). */
static void snd_put(uring_data_t *d, snd_t *b) {
  int k = snd_class(b->len);
  if (k < 0 || d->snd_cached + ((size_t)SND_MIN << k) > SND_CACHE_BYTES) {
    nt__free(b);
    return;
  }
  b->next = d->snd_cache[k];
  d->snd_cache[k] = b;
  d->snd_cached += (size_t)SND_MIN << k;
}

static void snd_cache_free(uring_data_t *d) {
  for (int k = 0; k < SND_CLASSES; k++)
    while (d->snd_cache[k]) {
      snd_t *b = d->snd_cache[k];
      d->snd_cache[k] = b->next;
      nt__free(b);
    }
  d->snd_cached = 0;
}

static int ur_cio_send(nt_reactor_t *r, nt__cio_t *c, const struct iovec *iov,
                       int n, size_t max) {
  if (c->bits & C_SENDING) return NT_EAGAIN;
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  if (total > max) total = max;
  if (total > UINT32_MAX / 2) total = UINT32_MAX / 2;
  if (!total) return NT_EINVAL;
  snd_t *b = snd_get(r->backend_data, total);
  if (!b) return NT_ENOMEM;
  memset(b, 0, sizeof *b);
  b->kind = OBJ_ZC;
  b->cio = c;
  b->zc = (uint8_t)cio_zc_wanted(r->backend_data, c, total);
  size_t off = 0;
  for (int i = 0; i < n && off < total; i++) {
    size_t k = iov[i].iov_len < total - off ? iov[i].iov_len : total - off;
    memcpy(b->data + off, iov[i].iov_base, k);
    off += k;
  }
  b->len = (uint32_t)total;
  b->off = 0;
  c->snd = b;
  c->bits |= C_SENDING;
  cio_submit_send(r->backend_data, c);
  return 0;
}

static int ur_cio_sending(const nt__cio_t *c) {
  return (c->bits & C_SENDING) != 0;
}

static void cio_call(uring_data_t *d, nt__cio_t *c, int kind, const char *data,
                     ssize_t n) {
  c->bits |= C_BUSY;
  d->cio_cb(c, kind, data, n);
  c->bits &= (uint16_t)~C_BUSY;
}

static int cio_send_done(uring_data_t *d, nt__cio_t *c, int res) {
  snd_t *b = c->snd;
  int called = 0;
  if (res == 0 && b->off < b->len) res = NT_EPIPE; /* took nothing */
  if (res > 0 && !(c->bits & C_SEND_CANCELLED)) {
    b->off += (uint32_t)res;
    if (b->off < b->len) { /* a short send: the rest goes next */
      nt__uring_stats.short_sends++;
      cio_submit_send(d, c);
      return 0;
    }
  }
  ssize_t sent = res < 0 ? (ssize_t)res : (ssize_t)b->len;
  c->snd = NULL;
  if (b->notifs) { /* the kernel may still read it: parked */
    b->next = d->zparked;
    if (b->next) b->next->prev = b;
    b->prev = NULL;
    d->zparked = b;
    c->bits |= C_ZC_PARKED;
  } else {
    snd_put(d, b);
  }
  c->bits &= (uint16_t)~(C_SENDING | C_SEND_CANCELLED);
  if (!(c->bits & C_CLOSED)) {
    cio_call(d, c, NT__CIO_SENT, NULL, sent);
    called = 1;
  }
  cio_maybe_free(d, c);
  return called;
}

/* A completion of a zero-copy send: its result (then as cio_send_done),
 * or its notification (the buffer is free; a copy reported turns zero-copy
 * off for the connection in auto mode). */
static int zc_done(uring_data_t *d, snd_t *b, int res, unsigned flags) {
  nt__cio_t *c = b->cio;
  if (flags & IORING_CQE_F_NOTIF) {
    b->notifs--;
    if ((unsigned)res & IORING_NOTIF_USAGE_ZC_COPIED) {
      nt__uring_stats.zc_copied++;
      if (d->zc_mode == ZC_AUTO && !(c->bits & C_NO_ZC)) {
        c->bits |= C_NO_ZC;
        nt__uring_stats.zc_off++;
        NT__DEBUG("io_uring: fd %d: the kernel copied a zero-copy send; "
                  "copies from now on", c->fd);
      }
    }
    if (b->notifs || c->snd == b) return 0; /* still sending from it */
    if (b->prev)
      b->prev->next = b->next;
    else
      d->zparked = b->next;
    if (b->next) b->next->prev = b->prev;
    nt__free(b);
    c->bits &= (uint16_t)~C_ZC_PARKED;
    cio_maybe_free(d, c);
    return 0;
  }
  if (!(flags & IORING_CQE_F_MORE)) b->notifs--; /* no notification */
  if ((res == -EINVAL || res == -EOPNOTSUPP) && !b->off &&
      !(c->bits & C_SEND_CANCELLED)) {
    /* The socket cannot (EOPNOTSUPP: not TCP or UDP), or the kernel
     * cannot (EINVAL: before 6.0, or no usage reports before 6.2): this
     * connection, or every one, by copy from now on. */
    if (res == -EOPNOTSUPP)
      c->bits |= C_ZC_UNSUP;
    else
      d->zc_broken = 1;
    NT__DEBUG("io_uring: zero-copy send refused (%d); copies from now on",
              res);
    b->zc = 0;
    cio_submit_send(d, c);
    return 0;
  }
  return cio_send_done(d, c, res);
}

static int ur_cio_poll_out(nt_reactor_t *r, nt__cio_t *c, int on) {
  uring_data_t *d = r->backend_data;
  if (!on) {
    c->bits &= (uint16_t)~C_POLL_WANT; /* a poll in the ring is ignored */
    return 0;
  }
  c->bits |= C_POLL_WANT;
  if (c->bits & C_POLL) return 0;
  struct io_uring_sqe *sqe = get_sqe(d);
  if (!sqe) return NT_ENOMEM;
  io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
  io_uring_sqe_set_data64(sqe, cio_ud(c, TAG_CIO_POLL));
  c->bits |= C_POLL;
  return 0;
}

static int cio_poll_done(uring_data_t *d, nt__cio_t *c) {
  int called = 0;
  c->bits &= (uint16_t)~C_POLL;
  if ((c->bits & C_POLL_WANT) && !(c->bits & C_CLOSED)) {
    c->bits &= (uint16_t)~C_POLL_WANT;
    cio_call(d, c, NT__CIO_WRITABLE, NULL, 0);
    called = 1;
  }
  cio_maybe_free(d, c);
  return called;
}

static void ur_cio_close(nt_reactor_t *r, nt__cio_t *c) {
  uring_data_t *d = r->backend_data;
  c->bits = (uint16_t)((c->bits | C_CLOSED) & ~(C_WANT | C_POLL_WANT));
  cio_cancel_recv(d, c);
  /* A send in flight is cancelled (its buffer stays ours until its last
   * completion). A graceful close never meets one: the bytes in flight
   * are still in the owner's queue, and it closes only once it is empty. */
  if ((c->bits & C_SENDING) && !(c->bits & C_SEND_CANCELLED)) {
    struct io_uring_sqe *sqe = get_sqe(d);
    if (sqe) {
      io_uring_prep_cancel64(sqe, cio_send_ud(c), 0);
      io_uring_sqe_set_data64(sqe, TAG_IGNORE);
    }
    c->bits |= C_SEND_CANCELLED;
  }
  if (c->bits & C_POLL) {
    struct io_uring_sqe *sqe = get_sqe(d);
    if (sqe) {
      io_uring_prep_poll_remove(sqe, cio_ud(c, TAG_CIO_POLL));
      io_uring_sqe_set_data64(sqe, TAG_IGNORE);
    }
  }
  nt__free(c->held);
  c->held = NULL;
  /* The owner closes the fd next, and the number may name another socket
   * at once: this cio's SQEs (a receive or a send queued this turn, the
   * cancels) go to the kernel now, while the number is still its own. */
  ur_flush(r);
}

static int hold(nt__cio_t *c, const char *p, size_t n) {
  held_t *h = c->held;
  size_t have = h ? h->len : 0;
  h = nt__realloc(h, sizeof *h + have + n);
  if (!h) return NT_ENOMEM;
  if (!c->held) h->has_end = h->end = 0;
  if (n) memcpy(h->data + have, p, n); /* hold_end passes (NULL, 0) */
  h->len = have + n;
  c->held = h;
  return 0;
}

/* The end of the stream (or an error) after what is held. */
static void hold_end(nt__cio_t *c, int end) {
  if (!c->held && hold(c, NULL, 0)) {
    c->bits |= C_OOM_END; /* no memory even for that: NT_ENOMEM ends it */
    return;
  }
  held_t *h = c->held;
  if (!h->has_end) {
    h->has_end = 1;
    h->end = end;
  }
}

static int held_has_end(const nt__cio_t *c) {
  return (c->bits & C_OOM_END) || (c->held && ((held_t *)c->held)->has_end);
}

/* The NOP posted by cio_post_nop: deliver what was held. */
static int cio_nop_done(uring_data_t *d, nt__cio_t *c) {
  int called = 0;
  c->bits &= (uint16_t)~C_NOP;
  held_t *h = c->held;
  if (h && !(c->bits & C_CLOSED) && (c->bits & C_WANT)) {
    c->held = NULL;
    if (h->len) {
      cio_call(d, c, NT__CIO_DATA, h->data, (ssize_t)h->len);
      called = 1;
    }
    if (h->has_end) {
      if (!(c->bits & C_CLOSED) && (c->bits & C_WANT)) {
        cio_call(d, c, NT__CIO_END, NULL, h->end);
        called = 1;
      } else if (!(c->bits & C_CLOSED)) {
        h->len = 0; /* paused again: the end waits for the next resume */
        c->held = h;
        h = NULL;
      }
    } else {
      cio_resume(d, c);
    }
    nt__free(h);
  } else if ((c->bits & (C_OOM_END | C_CLOSED | C_WANT)) ==
             (C_OOM_END | C_WANT)) {
    c->bits &= (uint16_t)~C_OOM_END;
    cio_call(d, c, NT__CIO_END, NULL, NT_ENOMEM);
    called = 1;
  } else {
    cio_resume(d, c);
  }
  cio_maybe_free(d, c);
  return called;
}

/* The chunk filled its buffer and the socket has more: read the rest now
 * (a few reads at most), rather than one 2 KiB buffer per loop turn.
 * Returns 1 if it met the end of the stream or an error (delivered). */
static int cio_drain(uring_data_t *d, nt__cio_t *c, const char *data,
                     size_t len) {
  size_t size;
  char *buf = nt__reactor_readbuf(d->r, &size);
  d->turn_large++;
  if (!buf) { /* the ring's next receive gets the rest */
    cio_call(d, c, NT__CIO_DATA, data, (ssize_t)len);
    return 0;
  }
  /* The chunk and what follows it go to the protocol as one piece, as one
   * read(2) on epoll would: a message is not cut at the buffer's size. */
  memcpy(buf, data, len);
#define LIVE(c) (((c)->bits & (C_CLOSED | C_WANT)) == C_WANT)
  for (int i = 0; i < DRAIN_READS && LIVE(c); i++) {
    ssize_t n = read(c->fd, buf + len, size - len);
    if (n > 0 || len) {
      size_t got = len + (size_t)(n > 0 ? n : 0);
      int e = n < 0 ? errno : 0;
      len = 0;
      cio_call(d, c, NT__CIO_DATA, buf, (ssize_t)got);
      if (n > 0 && got == size) continue; /* full: more may be there */
      if (n > 0 || e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return 0;
      if (!LIVE(c)) return 0; /* the end waits in the socket */
      cio_call(d, c, NT__CIO_END, NULL, n == 0 ? 0 : -e);
      return 1;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    cio_call(d, c, NT__CIO_END, NULL, n == 0 ? 0 : -errno);
    return 1;
  }
#undef LIVE
  return 0;
}

/* One completion of a cio's recv. Returns 1 if the owner was called. */
static int cio_recv_done(uring_data_t *d, nt__cio_t *c, int res,
                         unsigned flags) {
  int called = 0, ended = 0;
  if (!(flags & IORING_CQE_F_MORE))
    c->bits &= (uint16_t)~(C_RECV | C_CANCELLING);
  int open = !(c->bits & C_CLOSED);
  if (flags & IORING_CQE_F_BUFFER) {
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    const char *data = d->bufs + (size_t)bid * d->bufsize;
    if (open && res > 0) {
      if ((c->bits & C_WANT) && !c->held && !(c->bits & C_OOM_END)) {
        called = 1;
        if (((flags & IORING_CQE_F_SOCK_NONEMPTY) ||
             (unsigned)res == d->bufsize) &&
            !(c->bits & C_RECV))
          ended = cio_drain(d, c, data, (size_t)res);
        else
          cio_call(d, c, NT__CIO_DATA, data, res);
      } else if (!held_has_end(c)) {
        nt__uring_stats.held++;
        if (hold(c, data, (size_t)res)) hold_end(c, NT_ENOMEM);
      }
    }
    br_recycle(d, bid);
  } else if (res == -ENOBUFS) {
    nt__uring_stats.enobufs++;
    /* Every buffer is in use: give the ring more if it may have more, and
     * receive again once this batch is done (the data waits in the socket
     * meanwhile). */
    if (d->posted < d->nbufs) br_post_new(d, d->posted ? d->posted : 1);
    if (open && !(c->bits & C_STARVING)) {
      if (d->nstarved == d->starved_cap) {
        size_t cap = d->starved_cap ? d->starved_cap * 2 : 64;
        nt__cio_t **st = nt__realloc(d->starved, cap * sizeof *st);
        if (st) {
          d->starved = st;
          d->starved_cap = cap;
        }
      }
      if (d->nstarved < d->starved_cap) {
        c->bits |= C_STARVING;
        d->starved[d->nstarved++] = c;
      }
    }
  } else if (res == -ECANCELED) {
    /* we cancelled it: the owner paused or closed */
  } else if (res <= 0 && open && !held_has_end(c)) {
    ended = 1; /* end of stream, or a socket error */
    if ((c->bits & C_WANT) && !c->held) {
      cio_call(d, c, NT__CIO_END, NULL, res);
      called = 1;
    } else {
      hold_end(c, res);
    }
  }
  /* Still wanted and the request has ended (cancelled then resumed, or the
   * kernel's own choice): receive again. */
  if (!ended && !(c->bits & C_RECV)) cio_resume(d, c);
  cio_maybe_free(d, c);
  return called;
}

static void rearm_starved(uring_data_t *d) {
  size_t n = d->nstarved;
  d->nstarved = 0;
  for (size_t i = 0; i < n; i++) {
    nt__cio_t *c = d->starved[i];
    c->bits &= (uint16_t)~C_STARVING;
    cio_resume(d, c);
    cio_maybe_free(d, c);
  }
}

/* --- accept ------------------------------------------------------------------- */

/* One multishot IORING_OP_ACCEPT per listener: every connection the
 * listening socket gets is a completion carrying its fd, with no accept4(2)
 * and no readiness round trip; the request stays armed while the kernel
 * says so (IORING_CQE_F_MORE) and is armed again when it ends on its own. */
struct nt__acc {
  struct nt__acc *next, *prev; /* d->accs; next first (ur_destroy) */
  void (*cb)(void *owner, int fd);
  void *owner;
  int fd;
  uint8_t live, closed, busy;
};

static void acc_arm(uring_data_t *d, struct nt__acc *a) {
  struct io_uring_sqe *sqe = get_sqe(d);
  if (!sqe) return;
  io_uring_prep_multishot_accept(sqe, a->fd, NULL, NULL,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)a | TAG_ACCEPT);
  a->live = 1;
  nt__uring_stats.accept_arms++;
}

static struct nt__acc *ur_acc_open(nt_reactor_t *r, int fd,
                                   void (*cb)(void *owner, int fd),
                                   void *owner) {
  uring_data_t *d = r->backend_data;
  struct nt__acc *a = nt__calloc(1, sizeof *a);
  if (!a) return NULL;
  a->cb = cb;
  a->owner = owner;
  a->fd = fd;
  a->next = d->accs;
  if (a->next) a->next->prev = a;
  d->accs = a;
  acc_arm(d, a);
  return a;
}

static void acc_maybe_free(uring_data_t *d, struct nt__acc *a) {
  if (!a->closed || a->live || a->busy) return;
  if (a->prev)
    a->prev->next = a->next;
  else
    d->accs = a->next;
  if (a->next) a->next->prev = a->prev;
  nt__free(a);
}

static void ur_acc_close(nt_reactor_t *r, struct nt__acc *a) {
  uring_data_t *d = r->backend_data;
  if (a->closed) return;
  a->closed = 1;
  if (a->live) {
    struct io_uring_sqe *sqe = get_sqe(d);
    if (sqe) {
      io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)a | TAG_ACCEPT, 0);
      io_uring_sqe_set_data64(sqe, TAG_IGNORE);
    }
  }
  acc_maybe_free(d, a);
  /* The owner closes the listening fd next: an accept still queued must
   * reach the kernel while the number is this socket's, not another's. */
  ur_flush(r);
}

static int acc_done(uring_data_t *d, struct nt__acc *a, int res,
                    unsigned flags) {
  int called = 0;
  int ended = !(flags & IORING_CQE_F_MORE);
  if (ended) a->live = 0;
  /* armed again if it ended on its own after a connection or a transient
   * error; after any other error the owner decides (EMFILE: it closes
   * this, waits, opens another) */
  int rearm = ended;
  if (res >= 0) {
    if (a->closed) {
      close(res); /* accepted while its cancel was on the way */
    } else {
      nt__uring_stats.accepts++;
      a->busy = 1;
      a->cb(a->owner, res);
      a->busy = 0;
      called = 1;
    }
  } else if (res != -EINTR && res != -ECONNABORTED && res != -EAGAIN) {
    rearm = 0;
    if (!a->closed && res != -ECANCELED) {
      a->busy = 1;
      a->cb(a->owner, res);
      a->busy = 0;
      called = 1;
    }
  }
  if (rearm && !a->closed && !a->live) acc_arm(d, a);
  acc_maybe_free(d, a);
  return called;
}

/* --- completion-based datagram I/O ---------------------------------------- */

/* UDP (and AF_UNIX datagram) sockets: one multishot IORING_OP_RECVMSG per
 * socket, into a second group of provided buffers made for datagrams, and
 * one IORING_OP_SENDMSG per datagram sent, from a copy the backend owns.
 *
 * Receive: multishot, not the stream path's single-shot. A datagram
 * protocol cannot pause reading, so the reason the stream path re-arms
 * (not pulling data the protocol does not want) does not apply, and a
 * single-shot receive would take one loop turn per datagram where epoll's
 * recvmsg(2) loop takes RECVS_PER_EVENT. The request stays armed while the
 * kernel says so (IORING_CQE_F_MORE) and is armed again when it ends (a
 * socket error such as ECONNREFUSED, delivered; ENOBUFS, once the batch has
 * given buffers back). A datagram must arrive whole up to
 * NT_UDP_MAX_DATAGRAM, as epoll's 64 KiB read buffer takes it, so the
 * stream group's 2 KiB buffers cannot serve: each datagram buffer holds the
 * io_uring_recvmsg_out header, room for any address (sockaddr_storage) and
 * 65536 bytes of payload; a longer datagram comes back with MSG_TRUNC and
 * is reported as NT_EMSGSIZE, as on epoll. The group is the reactor's,
 * shared by its datagram sockets, set up when the first one opens (a
 * reactor without UDP pays nothing): DGRAM_NBUFS buffers of 68 KiB
 * reserved (2.2 MiB of address space), DGRAM_NBUFS_START given to the ring
 * at first and twice as many each time a receive finds none free. Pages
 * are resident only once written: small datagrams keep one page per buffer
 * the ring has cycled through (32 KiB at first, 128 KiB at most); the
 * worst case, after datagrams of 64 KiB on every buffer, is 2.2 MiB.
 * Fairness: a socket receives at most the free buffers of the group per
 * pass of the kernel (and the kernel requeues a multishot receive after 32
 * in a row), the loop takes at most CQE_BATCH × CQE_ROUNDS completions per
 * turn; other fds' completions are in the same batches.
 *
 * Send: the datagram (and its address) is copied into a block the backend
 * owns, submitted with the loop's one io_uring_enter: a turn's replies cost
 * one system call for the whole batch. A socket whose send buffer is full
 * does not drop the datagram (epoll's sendto answers EAGAIN at once): the
 * kernel waits for room, and the queue is bounded per socket
 * (NT__DIO_QUEUE_DGRAMS datagrams, NT__DIO_QUEUE_BYTES bytes in flight),
 * beyond which dio_send answers NT_EAGAIN synchronously. An error the send
 * meets (ECONNREFUSED, EMSGSIZE, ENETUNREACH...) comes back in its
 * completion and goes to the owner as an error, from the loop.
 *
 * Close: one cancel keyed on the fd (every request on it: the receive, the
 * sends still waiting for room) and the submission ring handed to the
 * kernel at once, so no SQE naming the fd number is left when the owner
 * closes it (a reused number must not receive a stale request). Sends
 * queued before the close are issued before the cancel, and go out if the
 * socket takes them. The state and the blocks are freed once their last
 * completion is in (or with the reactor). */
#define DGRAM_GROUP 2
#define DGRAM_NBUFS 32
#define DGRAM_NBUFS_START 8
#define DGRAM_PAYLOAD 65536 /* NT_UDP_MAX_DATAGRAM, epoll's read buffer */
#define DGRAM_BUFLEN                                                         \
  (sizeof(struct io_uring_recvmsg_out) + sizeof(struct sockaddr_storage) +    \
   DGRAM_PAYLOAD)
#define DGRAM_STRIDE ((DGRAM_BUFLEN + 4095) & ~(size_t)4095)

struct nt__dio {
  uint8_t kind; /* OBJ_DIO: first, for TAG_OBJ */
  uint8_t recv_live, closed, busy, starving, dead;
  int fd;
  unsigned nsend;
  size_t qbytes;
  struct msghdr msg; /* the multishot receive's: name and control room */
  void (*cb)(void *owner, int kind, const char *data, ssize_t n,
             const struct sockaddr *from, unsigned fromlen);
  void *owner;
  struct nt__dio *next, *prev;   /* d->dios */
  struct nt__dio *starved_next;  /* d->dstarved */
  struct dsend *sends;           /* in flight */
};

typedef struct dsend {
  uint8_t kind; /* OBJ_DSEND */
  struct nt__dio *dio;
  struct dsend *next, *prev;
  struct msghdr msg;
  struct iovec iov;
  struct sockaddr_storage to;
  size_t len;
  char data[];
} dsend_t;

static int dbr_setup(uring_data_t *d) {
  if (d->dbr) return 0;
  if (nt__uring_dgram_setup_fail) return NT_ENOTSUP;
  size_t ring_bytes = DGRAM_NBUFS * sizeof(struct io_uring_buf);
  ring_bytes = (ring_bytes + 4095) & ~(size_t)4095;
  size_t bytes = ring_bytes + (size_t)DGRAM_NBUFS * DGRAM_STRIDE;
  void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return NT_ENOMEM;
  if (buf_ring_register(&d->ring, mem, DGRAM_NBUFS, DGRAM_GROUP) < 0) {
    munmap(mem, bytes);
    return NT_ENOTSUP;
  }
  d->dbr = mem;
  d->dbufs = (char *)mem + ring_bytes;
  d->dbr_bytes = bytes;
  d->dposted = 0;
  io_uring_buf_ring_init(d->dbr);
  return 0;
}

static void dbr_add(uring_data_t *d, unsigned bid, int i) {
  io_uring_buf_ring_add(d->dbr, d->dbufs + (size_t)bid * DGRAM_STRIDE,
                        (unsigned)DGRAM_BUFLEN, (unsigned short)bid,
                        io_uring_buf_ring_mask(DGRAM_NBUFS), i);
}

static void dbr_post_new(uring_data_t *d, unsigned k) {
  if (k > DGRAM_NBUFS - d->dposted) k = DGRAM_NBUFS - d->dposted;
  for (unsigned i = 0; i < k; i++) dbr_add(d, d->dposted + i, (int)i);
  io_uring_buf_ring_advance(d->dbr, (int)k);
  d->dposted += k;
}

static void dbr_recycle(uring_data_t *d, unsigned bid) {
  dbr_add(d, bid, 0);
  io_uring_buf_ring_advance(d->dbr, 1);
}

static void dio_arm(uring_data_t *d, struct nt__dio *c) {
  struct io_uring_sqe *sqe = get_sqe(d);
  if (!sqe) return; /* cannot happen after a flush */
  io_uring_prep_recvmsg_multishot(sqe, c->fd, &c->msg, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = DGRAM_GROUP;
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c | TAG_OBJ);
  c->recv_live = 1;
  nt__uring_stats.udp_arms++;
}

static void dio_maybe_free(uring_data_t *d, struct nt__dio *c) {
  if (!c->closed || c->recv_live || c->nsend || c->busy || c->starving)
    return;
  if (c->prev)
    c->prev->next = c->next;
  else
    d->dios = c->next;
  if (c->next) c->next->prev = c->prev;
  nt__free(c);
  nt__uring_stats.dios_live--;
}

static void dio_call(struct nt__dio *c, int kind, const char *data, ssize_t n,
                     const struct sockaddr *from, unsigned fromlen) {
  c->busy = 1;
  c->cb(c->owner, kind, data, n, from, fromlen);
  c->busy = 0;
}

static int ur_dio_open(nt_reactor_t *r, int fd,
                       void (*cb)(void *owner, int kind, const char *data,
                                  ssize_t n, const struct sockaddr *from,
                                  unsigned fromlen),
                       void *owner, struct nt__dio **out) {
  uring_data_t *d = r->backend_data;
  int rc = dbr_setup(d);
  if (rc) return rc;
  if (!d->dposted) dbr_post_new(d, DGRAM_NBUFS_START);
  struct nt__dio *c = nt__calloc(1, sizeof *c);
  if (!c) return NT_ENOMEM;
  nt__uring_stats.dios_live++;
  c->kind = OBJ_DIO;
  c->fd = fd;
  c->cb = cb;
  c->owner = owner;
  c->msg.msg_namelen = sizeof(struct sockaddr_storage);
  c->next = d->dios;
  if (c->next) c->next->prev = c;
  d->dios = c;
  dio_arm(d, c);
  *out = c;
  return 0;
}

/* One completion of a socket's multishot receive. */
static int dio_recv_done(uring_data_t *d, struct nt__dio *c, int res,
                         unsigned flags) {
  int called = 0, rearm = 1;
  if (!(flags & IORING_CQE_F_MORE)) c->recv_live = 0;
  if (flags & IORING_CQE_F_BUFFER) {
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    char *buf = d->dbufs + (size_t)bid * DGRAM_STRIDE;
    struct io_uring_recvmsg_out *o =
        res > 0 ? io_uring_recvmsg_validate(buf, res, &c->msg) : NULL;
    if (o && !c->closed) {
      nt__uring_stats.udp_recvs++;
      called = 1;
      if (o->flags & MSG_TRUNC) {
        dio_call(c, NT__DIO_ERROR, NULL, NT_EMSGSIZE, NULL, 0);
      } else {
        unsigned nl = o->namelen < c->msg.msg_namelen ? o->namelen
                                                      : c->msg.msg_namelen;
        dio_call(c, NT__DIO_DATA, io_uring_recvmsg_payload(o, &c->msg),
                 (ssize_t)io_uring_recvmsg_payload_length(o, res, &c->msg),
                 io_uring_recvmsg_name(o), nl);
      }
    }
    dbr_recycle(d, bid);
  } else if (res == -ENOBUFS) {
    /* Every datagram buffer is in use: give the ring more if it may have
     * more, and receive again once this batch is done. */
    nt__uring_stats.enobufs++;
    if (d->dposted < DGRAM_NBUFS) dbr_post_new(d, d->dposted);
    if (!c->closed && !c->starving && !c->recv_live) {
      c->starving = 1;
      c->starved_next = d->dstarved;
      d->dstarved = c;
    }
    rearm = 0;
  } else if (res < 0 && res != -ECANCELED && !c->closed) {
    /* A socket error (ICMP on a connected socket...): told, and the
     * receive goes on; one the request itself meets would come back every
     * turn, so it ends receiving. */
    if (res == -EINVAL || res == -EOPNOTSUPP || res == -EBADF ||
        res == -EFAULT || res == -ENOTSOCK)
      c->dead = 1;
    dio_call(c, NT__DIO_ERROR, NULL, res, NULL, 0);
    called = 1;
  }
  if (rearm && !c->recv_live && !c->closed && !c->dead && !c->starving)
    dio_arm(d, c);
  dio_maybe_free(d, c);
  return called;
}

static void rearm_dstarved(uring_data_t *d) {
  struct nt__dio *c = d->dstarved;
  d->dstarved = NULL;
  while (c) {
    struct nt__dio *next = c->starved_next;
    c->starving = 0;
    if (!c->closed && !c->recv_live) dio_arm(d, c);
    dio_maybe_free(d, c);
    c = next;
  }
}

static int ur_dio_send(nt_reactor_t *r, struct nt__dio *c,
                       const struct iovec *iov, int n,
                       const struct sockaddr *to, unsigned tolen) {
  uring_data_t *d = r->backend_data;
  if (c->closed) return NT_ECLOSED;
  if (to && tolen > sizeof(struct sockaddr_storage)) return NT_EINVAL;
  size_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  if (c->nsend >= NT__DIO_QUEUE_DGRAMS ||
      c->qbytes + total > NT__DIO_QUEUE_BYTES) {
    nt__uring_stats.udp_queue_full++;
    return NT_EAGAIN;
  }
  dsend_t *b = nt__malloc(sizeof *b + (total ? total : 1));
  if (!b) return NT_ENOMEM;
  memset(b, 0, sizeof *b);
  b->kind = OBJ_DSEND;
  b->dio = c;
  b->len = total;
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    if (iov[i].iov_len) memcpy(b->data + off, iov[i].iov_base, iov[i].iov_len);
    off += iov[i].iov_len;
  }
  if (to && tolen) {
    memcpy(&b->to, to, tolen);
    b->msg.msg_name = &b->to;
    b->msg.msg_namelen = tolen;
  }
  b->iov.iov_base = b->data;
  b->iov.iov_len = total;
  b->msg.msg_iov = &b->iov;
  b->msg.msg_iovlen = 1;
  struct io_uring_sqe *sqe = get_sqe(d);
  if (!sqe) {
    nt__free(b);
    return NT_ENOMEM;
  }
  io_uring_prep_sendmsg(sqe, c->fd, &b->msg, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)b | TAG_OBJ);
  d->sends_out++;
  b->next = c->sends;
  if (b->next) b->next->prev = b;
  c->sends = b;
  c->nsend++;
  c->qbytes += total;
  nt__uring_stats.udp_sends++;
  return 0;
}

static int dsend_done(uring_data_t *d, dsend_t *b, int res) {
  struct nt__dio *c = b->dio;
  int called = 0;
  if (b->prev)
    b->prev->next = b->next;
  else
    c->sends = b->next;
  if (b->next) b->next->prev = b->prev;
  c->nsend--;
  c->qbytes -= b->len;
  nt__free(b);
  if (res < 0 && res != -ECANCELED && !c->closed) {
    dio_call(c, NT__DIO_ERROR, NULL, res, NULL, 0);
    called = 1;
  }
  dio_maybe_free(d, c);
  return called;
}

static void ur_dio_close(nt_reactor_t *r, struct nt__dio *c) {
  uring_data_t *d = r->backend_data;
  if (c->closed) return;
  c->closed = 1;
  if (c->recv_live || c->nsend) {
    struct io_uring_sqe *sqe = get_sqe(d);
    if (sqe) {
      io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(sqe, TAG_IGNORE);
    }
    /* Now, while fd still names this socket (see above); as the
     * embedding's flush does it (a ring not yet enabled is enabled). */
    ur_flush(r);
  }
  dio_maybe_free(d, c);
}

static void dio_free_all(uring_data_t *d) {
  while (d->dios) {
    struct nt__dio *c = d->dios;
    d->dios = c->next;
    while (c->sends) {
      dsend_t *b = c->sends;
      c->sends = b->next;
      nt__free(b);
    }
    nt__free(c);
    nt__uring_stats.dios_live--;
  }
  if (d->dbr) munmap(d->dbr, d->dbr_bytes);
  d->dbr = NULL;
  while (d->zparked) { /* the ring is gone: no notification will come */
    snd_t *b = d->zparked;
    d->zparked = b->next;
    nt__free(b);
  }
}

/* A completion whose user_data names an object of the backend's own
 * (TAG_OBJ): its first byte says which. */
static int obj_done(uring_data_t *d, void *obj, int res, unsigned flags) {
  switch (*(uint8_t *)obj) {
  case OBJ_DIO:
    d->dgram_inputs++;
    return dio_recv_done(d, obj, res, flags);
  case OBJ_DSEND:
    return dsend_done(d, obj, res);
  case OBJ_ZC:
    return zc_done(d, obj, res, flags);
  }
  return 0;
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

static nt__cio_t *ud_cio(uint64_t ud) {
  return (nt__cio_t *)(uintptr_t)(ud & ~(uint64_t)TAG_MASK);
}

/* --- batched waits ---------------------------------------------------------- */

/* A busy server's loop turn would otherwise take one message: the wait
 * returns at the first completion (often the turn's own send, which
 * completes while it is submitted), the loop handles it and enters again,
 * and with 50 connections echoing 64-byte messages that is about one
 * io_uring_enter, and its share of a sleep and a wake-up, per message
 * (perf, run.sh). The kernel can wait for a batch instead: for wait_nr
 * completions, but no longer than min_wait_usec, after which any one
 * will do (6.12, IORING_FEAT_MIN_TIMEOUT). The whole batch then costs one
 * wake-up and one pass of the kernel's task work.
 *
 * What a batch is worth waiting for is learnt from the turns themselves,
 * counting input completions (receives, accepts, polls: not our own
 * sends' completions, which the kernel counts too and so are added to
 * what it is asked for):
 * - a turn that got 2 or more inputs and all it asked for doubles the
 *   batch (up to BATCH_MAX);
 * - a turn whose wait ended at min_wait_usec with less asks next for what
 *   it got.
 * One busy connection never gets 2 inputs a turn (single-shot receives:
 * at most one per connection), so a client, a single transfer or a
 * request-response peer waits as before, for the first completion. Nor
 * does a turn in which a chunk filled its buffer (messages larger than
 * 2 KiB, bulk data): there the per-byte work outweighs what a batch saves,
 * and waiting only let more connections' data pile up (16 KiB echoes at
 * 1,000 connections took twice the CPU per message batched). With
 * many busy connections each wait is bounded by batch_us (default
 * BATCH_US, NETTOOL_URING_BATCH_US; 0 turns batching off): the most a
 * completion waits before the loop sees it. Timers are not delayed: the
 * bound never exceeds the wait's own timeout. */
static void batch_next(uring_data_t *d, unsigned asked, unsigned got,
                       unsigned inputs) {
  if (d->turn_large)
    d->batch = 1;
  else if (got < asked)
    d->batch = (uint16_t)(inputs ? inputs : 1);
  else if (inputs >= 2 && d->batch < BATCH_MAX)
    d->batch = (uint16_t)(d->batch * 2 > BATCH_MAX ? BATCH_MAX : d->batch * 2);
}

static struct __kernel_timespec ms_ts(int ms) {
  struct __kernel_timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long long)(ms % 1000) * 1000000;
  return ts;
}

/* io_uring_submit_and_wait_min_timeout, which liburing 2.3 lacks: the
 * queued SQEs go to the kernel, which waits for nr completions for at most
 * min_us, then for one until timeout_ms (< 0: none). */
static int ring_wait_min(uring_data_t *d, unsigned nr, unsigned min_us,
                         int timeout_ms) {
  struct io_uring *ring = &d->ring;
  struct io_uring_sq *sq = &ring->sq;
  unsigned tail = sq->sqe_tail;
  if (sq->sqe_head != tail) { /* liburing's __io_uring_flush_sq (no SQPOLL) */
    sq->sqe_head = tail;
    io_uring_smp_store_release(sq->ktail, tail);
  }
  struct __kernel_timespec ts = ms_ts(timeout_ms);
  struct io_uring_getevents_arg arg;
  memset(&arg, 0, sizeof arg);
  if (timeout_ms >= 0) arg.ts = (uint64_t)(uintptr_t)&ts;
  arg.pad = min_us; /* min_wait_usec since 6.12 */
  unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
  int fd = ring->ring_fd;
  if (ring->int_flags & 1) { /* liburing's INT_FLAG_REG_RING */
    flags |= IORING_ENTER_REGISTERED_RING;
    fd = ring->enter_ring_fd;
  }
  /* (liburing's wrapper returns -errno itself) */
  return io_uring_enter2((unsigned)fd, tail - *sq->khead, nr, flags,
                         (sigset_t *)&arg, sizeof arg);
}

static int ur_wait(nt_reactor_t *r, int timeout_ms) {
  uring_data_t *d = r->backend_data;
  struct io_uring_cqe *cqe = NULL;
  int rc = ring_own(d);
  if (rc == NT_EBUSY)
    NT__DEBUG("io_uring: reactor run on a thread other than its own");
  if (rc) return rc;
  nt__uring_stats.enters++;
  /* the batch's bound: no longer than the timeout, or no batch */
  unsigned min_us = d->batch > 1 ? d->batch_us : 0;
  if (timeout_ms >= 0 && (uint64_t)timeout_ms * 1000 < min_us)
    min_us = (unsigned)timeout_ms * 1000;
  unsigned asked = 1;
  if (timeout_ms == 0) {
    /* With DEFER_TASKRUN nothing completes unless the loop enters for it
     * (liburing's submit enters only when the kernel has set
     * IORING_SQ_TASKRUN, which it clears before running a bounded part of
     * the work): a turn that does not block still collects what is ready. */
    rc = d->defer ? io_uring_submit_and_get_events(&d->ring)
                  : io_uring_submit(&d->ring);
  } else if (min_us) {
    asked = d->batch + d->sends_out;
    nt__uring_stats.batch_waits++;
    rc = ring_wait_min(d, asked, min_us, timeout_ms);
  } else if (timeout_ms < 0) {
    rc = io_uring_submit_and_wait(&d->ring, 1);
  } else {
    struct __kernel_timespec ts = ms_ts(timeout_ms);
    rc = io_uring_submit_and_wait_timeout(&d->ring, &cqe, 1, &ts, NULL);
  }
  d->sends_out = 0;
  /* Callbacks start timers: they count from now (reactor-int.h). */
  nt_reactor_update_time(r);
  if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN)
    return rc;
  int n = 0;
  unsigned got = 0, inputs = 0;
  d->dgram_inputs = d->turn_large = 0;
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
    got += k;
    for (unsigned i = 0; i < k; i++) {
      unsigned tag = (unsigned)(ev[i].ud & TAG_MASK);
      inputs += tag != TAG_CIO_SEND && tag != TAG_IGNORE && tag != TAG_OBJ;
      switch (tag) {
      case TAG_POLL:
        n += dispatch_poll(r, d, &ev[i]);
        break;
      case TAG_CIO:
        n += cio_recv_done(d, ud_cio(ev[i].ud), ev[i].res, ev[i].flags);
        break;
      case TAG_CIO_NOP:
        n += cio_nop_done(d, ud_cio(ev[i].ud));
        break;
      case TAG_CIO_SEND:
        n += cio_send_done(d, ud_cio(ev[i].ud), ev[i].res);
        break;
      case TAG_CIO_POLL:
        n += cio_poll_done(d, ud_cio(ev[i].ud));
        break;
      case TAG_ACCEPT:
        n += acc_done(d, (struct nt__acc *)(uintptr_t)(ev[i].ud & ~(uint64_t)TAG_MASK),
                      ev[i].res, ev[i].flags);
        break;
      case TAG_OBJ:
        n += obj_done(d, (void *)(uintptr_t)(ev[i].ud & ~(uint64_t)TAG_MASK),
                      ev[i].res, ev[i].flags);
        break;
      }
    }
    if (d->nstarved) rearm_starved(d);
    if (d->dstarved) rearm_dstarved(d);
    if (k < CQE_BATCH) break;
  }
  if (timeout_ms != 0 && d->batch_us)
    batch_next(d, asked, got, inputs + d->dgram_inputs);
  return n;
}

/* --- embedding (nt_reactor_backend_fd) -------------------------------------- */

/* The ring fd polls readable while completions wait in the completion ring
 * (or in the kernel's overflow list, or as task work that posts them): a
 * host loop can sleep on it. What callbacks queued after the last wait is
 * still in the submission ring, invisible to the kernel, so the reactor
 * flushes it before the host sleeps (ur_flush, from backend_timeout).
 *
 * Not with DEFER_TASKRUN: there a socket that becomes ready queues work for
 * the submitting thread and tells nobody (neither the ring fd's poll nor a
 * registered eventfd is woken; only a thread waiting in io_uring_enter
 * is), so a host sleeping on the fd would sleep through the I/O. A reactor
 * asked for its fd is therefore moved to a ring made with the next flags
 * (COOP_TASKRUN), which is possible while its ring has not been enabled:
 * nothing has reached the kernel yet, the requests queued so far are
 * copied into the new ring and the buffer rings registered with it. Asked
 * after the reactor's first turn, it says NT_ENOTSUP (docs/API.md). */
static int ring_undefer(uring_data_t *d) {
  if (!d->disabled) return NT_ENOTSUP; /* requests are in the kernel */
  struct io_uring nr;
  uint8_t defer = d->defer, disabled = d->disabled;
  int rc = ring_create(d, &nr, EMBEDDABLE_SETS);
  if (rc) {
    d->defer = defer;
    d->disabled = disabled;
    return rc;
  }
  /* The queued SQEs (never submitted: the kernel's head has not moved),
   * in order; the new ring is as large as the old. */
  struct io_uring_sq *sq = &d->ring.sq;
  for (unsigned i = *sq->khead; i != sq->sqe_tail; i++) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&nr);
    memcpy(sqe, &sq->sqes[i & *sq->kring_mask], sizeof *sqe);
  }
  /* The buffer rings' memory is ours: registered with the new ring, whose
   * head starts at 0 as the old one's still is. */
  if (buf_ring_register(&nr, d->br, d->nbufs, BUF_GROUP) < 0 ||
      (d->dbr && buf_ring_register(&nr, d->dbr, DGRAM_NBUFS, DGRAM_GROUP) < 0)) {
    io_uring_queue_exit(&nr);
    d->defer = defer;
    d->disabled = disabled;
    return NT_ENOTSUP;
  }
  io_uring_queue_exit(&d->ring);
  d->ring = nr;
  return 0;
}

static int ur_fd(const nt_reactor_t *r) {
  uring_data_t *d = r->backend_data;
  if (d->defer) {
    int rc = ring_undefer(d);
    if (rc) return rc;
  }
  return d->ring.ring_fd;
}

static void ur_flush(nt_reactor_t *r) {
  uring_data_t *d = r->backend_data;
  if (io_uring_sq_ready(&d->ring)) ring_submit(d);
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
    .cio_release = ur_cio_release,
    .cio_send = ur_cio_send,
    .cio_sending = ur_cio_sending,
    .cio_poll_out = ur_cio_poll_out,
    .acc_open = ur_acc_open,
    .acc_close = ur_acc_close,
    .dio_open = ur_dio_open,
    .dio_send = ur_dio_send,
    .dio_close = ur_dio_close,
};
