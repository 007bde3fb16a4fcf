/* Private to the library: the reactor's internals shared by reactor/ and
 * transports/ (backend vtable, allocation shim, logging, shared buffers). */
#ifndef NETTOOL_REACTOR_INT_H
#define NETTOOL_REACTOR_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nettool/reactor.h"

#define nt__container_of(ptr, type, member)                                    \
  ((type *)((char *)(ptr)-offsetof(type, member)))

/* Completion-based stream I/O (backend_uring.c), one cio per connection,
 * embedded in the connection (no allocation of its own: an idle connection
 * costs what its struct costs). Its fields are the backend's; the owner
 * sets none of them but owner_on, a byte of its own. fd sits where
 * nt_io_t's does (a connection keeps one or the other in a union).
 * Receive: once cio_recv(r, c, 1) is called, cb(c, NT__CIO_DATA, data, n)
 * runs from the loop for each chunk received (data valid during the call
 * only), then cb(c, NT__CIO_END, NULL, n) once, n == 0 at the end of the
 * stream or an error code; never while reading is off (cio_recv(r, c, 0)):
 * what arrives meanwhile is kept and delivered, in order, once it is on
 * again. Send: cio_send copies up to max bytes of iov (so the kernel never
 * reads memory the owner may free), submits them with the loop's next wait
 * and returns 0; NT_EAGAIN while a send is in flight (cio_sending). The
 * send ends with cb(c, NT__CIO_SENT, NULL, n): n the bytes sent (all of
 * them: short sends are resubmitted inside) or an error. The owner keeps
 * those bytes queued until then, so "drained" still means "taken by the
 * kernel". cio_poll_out(r, c, 1): cb(c, NT__CIO_WRITABLE, NULL, 0) once
 * the socket can take more (one-shot; for what cannot go through the ring,
 * file segments). cio_close: no callback after it; what is in flight is
 * cancelled. The owner keeps the fd and closes it after cio_close; it
 * frees its memory (which holds c) with cio_release(r, c, mem) instead of
 * nt__free: the backend frees mem once nothing of c is in flight (the
 * completion of a cancelled receive arrives after the close, and must find
 * live memory), or when the reactor is freed. One callback per reactor. */
typedef struct nt__cio nt__cio_t;
struct nt__cio {
  void *held;         /* data kept while reading is off (backend_uring.c) */
  void *snd;          /* the send in flight: a copy the backend owns */
  uint32_t sent_done; /* the owner's: bytes the ring sent, still queued */
  uint16_t bits;      /* state (backend_uring.c) */
  uint8_t owner_on;   /* the owner's */
  uint8_t spare;
  int fd;           /* at nt_io_t's offset */
  uint32_t zombie;  /* released with requests in flight: index + 1 */
};
enum { NT__CIO_DATA, NT__CIO_END, NT__CIO_SENT, NT__CIO_WRITABLE };
typedef void (*nt__cio_cb)(nt__cio_t *c, int kind, const char *data,
                           ssize_t n);
struct iovec;
struct sockaddr;
struct nt__dio; /* backend_uring.c */

/* One poller backend per file, chosen at run time (NETTOOL_BACKEND). set()
 * moves an fd from the events the backend has to the events wanted (0 means
 * remove); wait() collects ready fds and calls nt__io_dispatch for each.
 * wait() must call nt_reactor_update_time() after the system call returns
 * (whatever it returned; the loop relies on it and reads no clock of its
 * own after the wait) and before the first dispatch: the loop's cached time is what timers
 * started inside I/O callbacks count from, and a stale one (from before the
 * wait) makes them fire early by however long the loop slept. */
struct nt__backend {
  const char *name;
  int (*init)(nt_reactor_t *r);
  void (*destroy)(nt_reactor_t *r);
  int (*set)(nt_reactor_t *r, int fd, unsigned have, unsigned want);
  int (*wait)(nt_reactor_t *r, int timeout_ms);
  /* The one pollable fd that is readable when wait() has events, for loops
   * that embed the reactor (nt_reactor_backend_fd); NULL if there is none. */
  int (*fd)(const nt_reactor_t *r);
  /* Completion-based stream I/O (io_uring); NULL on readiness backends,
   * where a backend that has cio_open uses it for every TCP connection. */
  int (*cio_open)(nt_reactor_t *r, nt__cio_t *c, int fd, nt__cio_cb cb);
  int (*cio_recv)(nt_reactor_t *r, nt__cio_t *c, int on);
  void (*cio_close)(nt_reactor_t *r, nt__cio_t *c);
  void (*cio_release)(nt_reactor_t *r, nt__cio_t *c, void *mem);
  int (*cio_send)(nt_reactor_t *r, nt__cio_t *c, const struct iovec *iov,
                  int n, size_t max);
  int (*cio_sending)(const nt__cio_t *c);
  int (*cio_poll_out)(nt_reactor_t *r, nt__cio_t *c, int on);
  /* Accepting through the ring (io_uring: one multishot accept per
   * listener, each connection a completion, no accept4 per connection);
   * NULL on readiness backends, and acc_open returns NULL where it cannot
   * (the listener then watches its socket). cb(owner, fd) from the loop for
   * each connection (fd non-blocking, close-on-exec, the owner's), or
   * cb(owner, error) when accepting stopped on an error other than a
   * transient one (EMFILE...): the owner closes it and opens it again later.
   * acc_close: no callback after it (also from inside one); the backend
   * frees it once its request is gone. The owner keeps the listening fd. */
  struct nt__acc *(*acc_open)(nt_reactor_t *r, int fd,
                              void (*cb)(void *owner, int fd), void *owner);
  void (*acc_close)(nt_reactor_t *r, struct nt__acc *a);
  /* Optional: hands the kernel what the backend has queued (io_uring's
   * SQEs), without waiting. A host loop that sleeps on fd() must not sleep
   * with requests still in user space (their completions would never make
   * the fd readable): nt_reactor_backend_timeout and run_once(r, 0) call it. */
  void (*flush)(nt_reactor_t *r);
  /* Completion-based datagram I/O (io_uring), for nt_udp_t; NULL on
   * readiness backends. dio_open: the backend's state for fd (a bound
   * datagram socket, the owner's), receiving at once: cb(owner,
   * NT__DIO_DATA, data, n, from, fromlen) from the loop for each datagram
   * (data and from valid during the call only), cb(owner, NT__DIO_ERROR,
   * NULL, err, NULL, 0) for an error the socket reported (a receive's, or a
   * send's that completed with one; NT_EMSGSIZE for a datagram longer than
   * NT_UDP_MAX_DATAGRAM). dio_send copies the datagram (iov, to) and queues
   * it for the loop's next submission: 0, NT_EAGAIN when the socket already
   * has NT__DIO_QUEUE_DGRAMS datagrams or NT__DIO_QUEUE_BYTES bytes in
   * flight, NT_ENOMEM. dio_close: no callback after it; the receive and
   * the sends still waiting for room are cancelled, and what is queued is
   * handed to the kernel now, so the owner may close fd right after. The
   * backend frees its state once nothing of it is in flight. */
  int (*dio_open)(nt_reactor_t *r, int fd,
                  void (*cb)(void *owner, int kind, const char *data,
                             ssize_t n, const struct sockaddr *from,
                             unsigned fromlen),
                  void *owner, struct nt__dio **out);
  int (*dio_send)(nt_reactor_t *r, struct nt__dio *c, const struct iovec *iov,
                  int n, const struct sockaddr *to, unsigned tolen);
  void (*dio_close)(nt_reactor_t *r, struct nt__dio *c);
};
enum { NT__DIO_DATA, NT__DIO_ERROR };
#define NT__DIO_QUEUE_DGRAMS 1024
#define NT__DIO_QUEUE_BYTES (1024 * 1024)

extern const struct nt__backend nt__backend_epoll;
extern const struct nt__backend nt__backend_poll;
#ifdef NT_HAVE_URING
extern const struct nt__backend nt__backend_uring;
/* Test hooks (backend_uring.c): a setup hook returning a negative code makes
 * the ring's setup fail with it (as io_uring_disabled, seccomp or an old
 * kernel would), so the fallback to epoll can be tested; the buffer count
 * of the provided-buffer ring (0: default; a power of two), read when the
 * ring is first used. */
extern int (*nt__uring_setup_hook)(void);
extern unsigned nt__uring_nbufs_override;
/* Nonzero: the datagram buffer group cannot be set up, as on a kernel
 * without buffer rings (udp.c then watches the socket). */
extern int nt__uring_dgram_setup_fail;
/* Called with each set of setup flags ur_init tries (best first): nonzero
 * refuses it as a kernel without them would (EINVAL), so the next is
 * tried. */
extern int (*nt__uring_flags_hook)(unsigned flags);
/* The IORING_SETUP_* flags r's ring was made with (r on io_uring). */
unsigned nt__uring_setup_flags(const nt_reactor_t *r);
/* The bound in microseconds of r's waits for a batch of completions, 0
 * when it does not batch (the kernel lacks min_wait, before 6.12, or
 * NETTOOL_URING_BATCH_US=0); r on io_uring. */
unsigned nt__uring_batch_us(const nt_reactor_t *r);
/* Counters for tests, process-wide: receives that found every provided
 * buffer in use, sends the kernel took only part of, chunks kept while
 * reading was off, cios allocated and not yet freed. */
typedef struct {
  unsigned long enobufs, short_sends, held, cios_live;
  /* provided buffers the ring has been given so far (it starts small and
   * grows when receives find it empty: every buffer it cycles through
   * stays resident), calls into the kernel (io_uring_enter, any reason) */
  unsigned long bufs_posted, enters;
  /* multishot accepts armed, connections accepted through the ring */
  unsigned long accept_arms, accepts;
  /* datagrams received and sent through the ring, multishot receives
   * armed, sends refused because the socket's queue was full, datagram
   * sockets' states not yet freed */
  unsigned long udp_recvs, udp_sends, udp_arms, udp_queue_full, dios_live;
  /* zero-copy sends submitted, notifications saying the kernel copied
   * anyway, connections that turned zero-copy off after one */
  unsigned long zc_sends, zc_copied, zc_off;
  /* send copies that reused a block a finished send left (snd_get) */
  unsigned long snd_reused;
  /* waits for a batch of completions (batch_next) */
  unsigned long batch_waits;
} nt__uring_stats_t;
extern nt__uring_stats_t nt__uring_stats;
#endif

/* Objects nettool owns on a reactor (connections, pending connectors), listed
 * so nt_reactor_close_all can end them. */
typedef struct nt__handle {
  struct nt__handle *prev, *next;
  void (*close)(struct nt__handle *h);
} nt__handle_t;

void nt__handle_add(nt_reactor_t *r, nt__handle_t *h,
                    void (*close)(nt__handle_t *h));
void nt__handle_remove(nt__handle_t *h);

typedef struct {
  nt_callback cb;
  void *arg;
} nt__call_t;

struct nt__thread_call {
  struct nt__thread_call *next;
  nt_callback cb;
  void *arg;
};

struct nt_reactor_s {
  const struct nt__backend *backend;
  void *backend_data;

  nt_io_t **watchers; /* indexed by fd */
  size_t nwatchers;

  struct nt__timer_links *timer_root; /* intrusive min-heap on (due, seq) */
  uint32_t timer_count;
  uint64_t timer_seq;

  nt__call_t *soon; /* ring buffer */
  size_t soon_head;
  size_t soon_len;
  size_t soon_cap;

  pthread_mutex_t tq_lock;
  struct nt__thread_call *tq_head, *tq_tail;
  unsigned tq_pending; /* under tq_lock */
  int wake_fd;         /* eventfd */
  nt_io_t wake_io;

  nt_io_t signal_io;
  nt_signal_cb signal_cb;
  void *signal_arg;

  uint64_t now;
  int virtual_clock;
  uint64_t virtual_now;
  struct timespec wall_base; /* virtual clock: wall time at virtual 0 */

  nt__handle_t handles; /* sentinel of the owned-handle list */

  unsigned active; /* referenced active handles + external refs */
  int stop_flag;
  int running;
  void *data;

  /* The reactor's default resolver (transports/resolve_cares.c), held here
   * opaquely so the reactor layer needs no transport header. */
  void *resolver;
  void (*resolver_free)(void *resolver);

  char *readbuf; /* shared by every stream transport of this reactor */
  size_t readbuf_size;
};

/* Runs the calls queued before this call (reactor.c). */
void nt__run_soon(nt_reactor_t *r);

/* Called by backends for each ready fd. */
void nt__io_dispatch(nt_reactor_t *r, int fd, unsigned events);

/* The reactor's shared read buffer (allocated on first use). Stream
 * transports read into it and hand slices to data_received, so idle
 * connections hold no read buffer of their own. */
char *nt__reactor_readbuf(nt_reactor_t *r, size_t *size);

void nt__reactor_active_inc(nt_reactor_t *r);
void nt__reactor_active_dec(nt_reactor_t *r);

/* nt_reactor_free, also telling how much was still live (testing_clock.c's
 * nt_test_reactor_free reports it to tests). */
int nt__reactor_free_counted(nt_reactor_t *r, size_t *live);

/* Timer heap (timer.c). */
void nt__timers_run(nt_reactor_t *r);
int64_t nt__timers_next_due(const nt_reactor_t *r); /* -1: none */
void nt__timers_free_owned(nt_reactor_t *r);

/* Allocation shim: every library allocation goes through here, so tests can
 * make the Nth allocation fail (nt_test_fail_alloc_after). */
void *nt__malloc(size_t n);
void *nt__calloc(size_t n, size_t size);
void *nt__realloc(void *p, size_t n);
void nt__free(void *p);
char *nt__strdup(const char *s);

/* Options structs that grow (docs/ABI.md "Growing a struct"): a public
 * function taking one is called through a macro that passes the caller's
 * sizeof, so a program built against an older, smaller struct is read only
 * as far as it goes. Copies min(size, dst_size) bytes of src (NULL: none)
 * into dst and zeroes the rest, so fields the caller does not know have
 * their zero default. A caller's struct larger than ours (a newer program on
 * an older library) is accepted only if the bytes we do not know are all
 * zero: otherwise it asks for something this library cannot do, NT_ENOTSUP.
 * Returns 0 or NT_ENOTSUP. */
int nt__opts_copy(void *dst, size_t dst_size, const void *src, size_t size);
#define NT__OPTS_COPY(dst, src, size) nt__opts_copy(&(dst), sizeof(dst), (src), (size))

/* Logging (log.c): to the program's handler (nettool/log.h), else to
 * stderr; filtered by nt_log_set_level, at first by $NETTOOL_LOG (none,
 * error, warn, info, debug). The values are log.h's NT_LOG_*. */
enum { NT__LOG_ERROR, NT__LOG_WARN, NT__LOG_INFO, NT__LOG_DEBUG };
void nt__log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
extern _Atomic int nt__log_level;
#define NT__DEBUG(...)                                                         \
  do {                                                                         \
    if (nt__log_level >= NT__LOG_DEBUG) nt__log(NT__LOG_DEBUG, __VA_ARGS__);   \
  } while (0)

/* io watcher private flags */
enum { NT__IO_UNREF = 1, NT__IO_ACTIVE = 2 };
/* timer private flags */
enum { NT__TIMER_UNREF = 1, NT__TIMER_ACTIVE = 2, NT__TIMER_OWNED = 4 };

#endif
