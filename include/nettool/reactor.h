/* The reactor: one single-threaded event loop with I/O watchers, timers, a
 * call-soon queue, thread-safe wake-ups and signal handling. */
#ifndef NETTOOL_REACTOR_H
#define NETTOOL_REACTOR_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

#include <nettool/errno.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * Ownership and threads
 * ---------------------
 * A reactor is created by nt_reactor_new() and freed by nt_reactor_free(),
 * which may be called only when the reactor is not running. Every other
 * function here must be called from the thread that runs the reactor, except
 * nt_call_from_thread() and nt_reactor_stop_from_thread(), which any thread
 * may call.
 *
 * Handles (nt_io_t, nt_timer_t) are allocated by the caller, usually embedded
 * in a larger struct, and must stay valid while active. Stopping a handle
 * takes effect at once: its callback is not called again, even if an event
 * for it was already collected in the current loop turn.
 *
 * Time is in milliseconds from a monotonic clock, read once per loop turn
 * (nt_reactor_now); a reactor made with virtual_clock set never reads the
 * system clocks, and time moves only when a test advances it (testing.h).
 */

typedef struct nt_reactor_s nt_reactor_t;
typedef struct nt_io_s nt_io_t;
typedef struct nt_timer_s nt_timer_t;

typedef void (*nt_callback)(void *arg);

typedef struct nt_reactor_options_s {
  /* "epoll" or "poll"; NULL takes $NETTOOL_BACKEND, else "epoll". */
  const char *backend;
  /* Non-zero: time is virtual and moved by nt_test_clock_advance(); run()
   * jumps to the next timer instead of sleeping. Used by the test reactor. */
  int virtual_clock;
} nt_reactor_options_t;

/* Creates a reactor. opts may be NULL. Returns 0 or NT_EBACKEND (unknown
 * backend name), NT_ENOMEM, or the error of the backend's setup syscall. */
int nt_reactor_new_sized(size_t opts_size, nt_reactor_t **out,
                         const nt_reactor_options_t *opts);
#define nt_reactor_new(...) \
  nt_reactor_new_sized(sizeof(nt_reactor_options_t), __VA_ARGS__)

/* Frees the reactor. Handles still registered are forgotten, not closed:
 * close transports and listeners first; anything still live is reported in
 * one warning line (see nt_reactor_live). Returns NT_EBUSY, freeing nothing,
 * if called while the reactor is running. */
int nt_reactor_free(nt_reactor_t *r);

/* What is still live on a reactor: started timers and pending delayed calls,
 * started I/O watchers (not the reactor's own), connections and connection
 * attempts nettool owns, queued calls. A lookup in flight counts through its
 * resolver's sockets and timer. */
typedef struct nt_reactor_live_s {
  size_t timers, watchers, handles, calls;
} nt_reactor_live_t;

/* Returns the total of *out's counts (out may be NULL). */
size_t nt_reactor_live(const nt_reactor_t *r, nt_reactor_live_t *out);

/* Name of the backend in use: "epoll" or "poll". */
const char *nt_reactor_backend_name(const nt_reactor_t *r);

/* Runs until nt_reactor_stop() is called or nothing is left to do: no active
 * referenced handle, no pending call. Returns 0, or a negative code if the
 * backend failed. */
int nt_reactor_run(nt_reactor_t *r);

/* Runs one loop turn. With block non-zero it waits for at least one event or
 * timer; otherwise it only runs what is ready: timers due, queued calls,
 * calls from threads, ready I/O (unreferenced watchers included). A
 * nt_reactor_stop() inside ends this call only. Returns 1 if there is still
 * work to do (as nt_reactor_alive), 0 if none, or a negative code. */
int nt_reactor_run_once(nt_reactor_t *r, int block);

/* Non-zero while run() would go on: a referenced active handle, a queued
 * call or a call from a thread not yet run. */
int nt_reactor_alive(const nt_reactor_t *r);

/* --- embedding in another event loop (GLib, libuv, Qt...) -----------------
 * The host loop polls nt_reactor_backend_fd() for reading, sleeps at most
 * nt_reactor_backend_timeout() ms, and calls nt_reactor_run_once(r, 0) when
 * the fd is readable or the timeout has passed (apps/examples/glib_embed.c,
 * docs/API.md). Never call nt_reactor_run() then. */

/* An fd that is readable whenever the reactor has I/O to dispatch (the
 * epoll fd, or the io_uring ring's fd: readable while completions wait;
 * also woken by nt_call_from_thread). Owned by the reactor: poll it, never
 * read or close it. NT_ENOTSUP on the poll backend, which has no such fd:
 * create the reactor with backend "epoll" (the default) or "io_uring". On
 * io_uring, ask for it before the reactor's first turn (the ring is then
 * made again in a form whose fd wakes a sleeping host); NT_ENOTSUP after. */
int nt_reactor_backend_fd(const nt_reactor_t *r);

/* How long the host loop may sleep, in ms, from a fresh clock reading:
 * -1 no timer (only I/O can bring work), 0 something is ready now (a timer
 * due, a queued call, a call from a thread), else the time to the next
 * timer, unreferenced ones included (at most one hour). Call it right
 * before each sleep (GLib's prepare): on io_uring it also hands the kernel
 * the requests queued since the last turn (a write made from a host
 * callback), without which the ring fd would never become readable. */
int nt_reactor_backend_timeout(const nt_reactor_t *r);

/* Ends every connection and pending connection attempt made on this reactor:
 * connections are aborted (connection_lost(NT_ECONNABORTED), then destroy),
 * attempts fail with NT_ECANCELED; those callbacks run before it returns.
 * Listeners and UDP endpoints are the caller's and are not touched. Call it
 * (then close your listeners) before nt_reactor_free. */
void nt_reactor_close_all(nt_reactor_t *r);

/* Makes run() return after the current loop turn. */
void nt_reactor_stop(nt_reactor_t *r);

/* Thread-safe stop, for workers stopped by another thread. */
int nt_reactor_stop_from_thread(nt_reactor_t *r);

/* The loop turn's cached monotonic time in ms, and a fresh reading. */
uint64_t nt_reactor_now(const nt_reactor_t *r);
void nt_reactor_update_time(nt_reactor_t *r);

/* Wall-clock time: the system's, or the virtual clock's when virtual. Used for
 * timestamps shown to people, never for timeouts. */
void nt_reactor_walltime(const nt_reactor_t *r, struct timespec *ts);

/* Keeps the reactor alive while something outside it (a worker thread that
 * will call nt_call_from_thread) still has work for it; pair every ref with
 * one unref. */
void nt_reactor_ref(nt_reactor_t *r);
void nt_reactor_unref(nt_reactor_t *r);

/* User data slot. */
void nt_reactor_set_data(nt_reactor_t *r, void *data);
void *nt_reactor_get_data(const nt_reactor_t *r);

/* --- signals -------------------------------------------------------------- */

typedef void (*nt_signal_cb)(nt_reactor_t *r, int signum, void *arg);

/* Turns SIGINT and SIGTERM into a clean stop of this reactor: with cb NULL the
 * reactor stops; otherwise cb runs on the loop thread (and may stop it, or
 * stop worker reactors). One reactor per process owns the signals at a time;
 * calling it on another reactor moves them. The watcher does not keep the
 * reactor alive. Returns 0 or a negative code. */
int nt_reactor_handle_signals(nt_reactor_t *r, nt_signal_cb cb, void *arg);

/* --- I/O watchers ----------------------------------------------------------- */

enum {
  NT_READABLE = 1,
  NT_WRITABLE = 2,
  NT_IO_ERROR = 4, /* error or hang-up seen on the fd; delivered with both
                      NT_READABLE and NT_WRITABLE so a read or write shows it */
};

typedef void (*nt_io_cb)(nt_io_t *io, unsigned events);

struct nt_io_s {
  void *data; /* user data */
  nt_reactor_t *reactor;
  nt_io_cb cb;
  int fd;
  uint8_t events;     /* wanted: NT_READABLE | NT_WRITABLE */
  uint8_t registered; /* what the backend has */
  uint16_t flags;     /* private */
};

/* Prepares a watcher for fd; does not watch yet. The caller keeps the fd. */
void nt_io_init(nt_reactor_t *r, nt_io_t *io, int fd, nt_io_cb cb);

/* Sets the events watched (0 stops watching). Returns 0, or NT_EPERM when the
 * fd cannot be watched (epoll refuses regular files), or another code. */
int nt_io_start(nt_io_t *io, unsigned events);
int nt_io_stop(nt_io_t *io);

/* A watcher that does not keep the reactor alive on its own. */
void nt_io_unref(nt_io_t *io);

/* --- timers ------------------------------------------------------------------ */

typedef void (*nt_timer_cb)(nt_timer_t *t);

struct nt__timer_links {
  struct nt__timer_links *left, *right, *parent;
};

struct nt_timer_s {
  void *data; /* user data */
  nt_reactor_t *reactor;
  nt_timer_cb cb;
  uint64_t due;    /* absolute, ms */
  uint64_t repeat; /* 0: one-shot */
  /* private: */
  uint64_t seq;    /* start order, so equal due times fire in order */
  struct nt__timer_links links_; /* the reactor's timer heap runs through these */
  uint32_t flags;
};

/* Prepares a caller-owned timer. */
void nt_timer_init(nt_reactor_t *r, nt_timer_t *t, nt_timer_cb cb);

/* Starts (or restarts) the timer: fires after timeout_ms, then every
 * repeat_ms if that is non-zero. O(log n). Allocates nothing and cannot
 * fail: always returns 0 (the int is kept for source compatibility). */
int nt_timer_start(nt_timer_t *t, uint64_t timeout_ms, uint64_t repeat_ms);

/* Stops the timer; O(log n). Safe on a stopped timer and from its own
 * callback. */
void nt_timer_stop(nt_timer_t *t);

int nt_timer_is_active(const nt_timer_t *t);

/* A timer that does not keep the reactor alive on its own. */
void nt_timer_unref(nt_timer_t *t);

/* Reactor-owned delayed calls (Twisted's callLater). The handle stays valid
 * until the call has run (one-shot) or until nt_call_cancel(); the reactor
 * frees it. Returns NULL on allocation failure. */
nt_timer_t *nt_call_later(nt_reactor_t *r, uint64_t delay_ms, nt_callback cb,
                          void *arg);
nt_timer_t *nt_call_every(nt_reactor_t *r, uint64_t interval_ms,
                          nt_callback cb, void *arg);

/* Cancels a pending nt_call_later/nt_call_every and frees it. Must not be
 * called after a one-shot call has run. */
void nt_call_cancel(nt_timer_t *t);

/* Runs cb(arg) on the next loop turn, in FIFO order. Uses no allocation per
 * call once the queue has grown. Returns 0 or NT_ENOMEM. */
int nt_call_soon(nt_reactor_t *r, nt_callback cb, void *arg);

/* Thread-safe: queues cb(arg) to run on the loop thread and wakes the loop
 * (eventfd). The queued call keeps the reactor alive until it has run. */
int nt_call_from_thread(nt_reactor_t *r, nt_callback cb, void *arg);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
