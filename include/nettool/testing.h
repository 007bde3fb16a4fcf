/* The test reactor: a virtual clock and in-memory transports, so any protocol
 * can be driven byte by byte with no sockets and no real time (Twisted's
 * twisted.internet.testing, in C). Part of the public API: programs that
 * embed nettool test their own protocols with it. */
#ifndef NETTOOL_TESTING_H
#define NETTOOL_TESTING_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <nettool/protocol.h>
#include <nettool/reactor.h>
#include <nettool/transport.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * Ownership: the test owns the reactor and every nt_test_transport_t it
 * makes; nt_test_transport_free() releases one (aborting it first if it is
 * still open, so the protocol still gets connection_lost and destroy). The
 * protocol passed in is owned by the transport as with any transport: its
 * destroy callback runs after connection_lost.
 */

/* --- the virtual clock ------------------------------------------------------ */

/* A reactor on a virtual clock: monotonic time starts at 0 and wall time at
 * Sun Nov 22 15:11:00 2026 UTC; neither moves unless the test moves it. */
int nt_test_reactor_new(nt_reactor_t **out);

/* Runs what is pending, then frees the reactor, returning how many handles
 * were still live (timers, watchers, connections, queued calls; see
 * nt_reactor_live). A test that cleaned up after itself gets 0: check it at
 * teardown, as libuv's tests do with MAKE_VALGRIND_HAPPY. */
size_t nt_test_reactor_free(nt_reactor_t *r);

/* Moves time forward by ms, firing due timers in due-time order with the
 * clock set to each one's due time, and running queued calls after each. */
void nt_test_clock_advance(nt_reactor_t *r, uint64_t ms);

/* Runs queued calls (and timers due now) until none are left, without moving
 * time. Bounded: stops after 10,000 rounds. */
void nt_test_run_pending(nt_reactor_t *r);

/* Sets the wall time that virtual time 0 corresponds to. */
void nt_test_clock_set_wall(nt_reactor_t *r, time_t t);

/* --- the in-memory transport -------------------------------------------------- */

typedef struct nt_test_transport_s nt_test_transport_t;

/* Makes a transport for p (connection_made runs before this returns). The
 * test plays the peer: it feeds bytes and reads what the protocol wrote. */
nt_test_transport_t *nt_test_transport_new(nt_reactor_t *r, nt_protocol_t *p);
void nt_test_transport_free(nt_test_transport_t *tt);

/* The nt_transport_t the protocol sees. */
nt_transport_t *nt_test_transport_base(nt_test_transport_t *tt);

/* The peer sends bytes: data_received runs now (if the transport reads). */
void nt_test_feed(nt_test_transport_t *tt, const void *data, size_t len);
void nt_test_feed_str(nt_test_transport_t *tt, const char *s);
/* The peer half-closes: eof_received runs now. */
void nt_test_feed_eof(nt_test_transport_t *tt);
/* The peer resets the connection: it ends with NT_ECONNRESET, with whatever
 * was queued for writing dropped. */
void nt_test_reset(nt_test_transport_t *tt);

/* What the "socket" has taken from the protocol so far (not NUL-terminated
 * unless you add one: *len is the size; output[len] is always 0). */
const char *nt_test_output(nt_test_transport_t *tt, size_t *len);
void nt_test_output_clear(nt_test_transport_t *tt);

/* Short writes: from now on the socket takes at most `room` more bytes;
 * SIZE_MAX (the default) means unlimited. Bytes it does not take stay in the
 * transport's write queue, exactly as on TCP. */
void nt_test_set_room(nt_test_transport_t *tt, size_t room);
/* The peer reads n bytes: room grows by n and the queue is flushed. */
void nt_test_drain(nt_test_transport_t *tt, size_t n);

/* State seen from the peer's side. */
int nt_test_peer_got_eof(const nt_test_transport_t *tt); /* write_eof/close */
int nt_test_is_lost(const nt_test_transport_t *tt); /* connection_lost ran */
int nt_test_lost_status(const nt_test_transport_t *tt);
int nt_test_reading(const nt_test_transport_t *tt); /* not paused/closed */

/* --- splitting input at every byte boundary ----------------------------------------- */

typedef nt_protocol_t *(*nt_test_build_fn)(void *arg);
/* Called after each delivery pattern with the transport still alive (it may
 * be lost already); `how` describes the split, for assertion messages. */
typedef void (*nt_test_check_fn)(void *arg, nt_test_transport_t *tt,
                                 const char *how);

/*
 * Feeds input to a fresh protocol (from build) once for every way of cutting
 * it in two (at each byte boundary), once whole, and once one byte at a time,
 * running queued calls between pieces; then calls check. With eof non-zero,
 * the peer half-closes after the input. Returns the number of runs.
 */
size_t nt_test_each_split(nt_reactor_t *r, const void *input, size_t len,
                          int eof, nt_test_build_fn build,
                          nt_test_check_fn check, void *arg);

/* --- a connected pair ------------------------------------------------------------------ */

typedef struct nt_test_pair_s nt_test_pair_t;

/* Connects two protocols through memory: each one's output is the other's
 * input, moved by nt_test_pair_pump (and run on the reactor's queue). */
nt_test_pair_t *nt_test_pair_new(nt_reactor_t *r, nt_protocol_t *client,
                                 nt_protocol_t *server);
/* Moves bytes (and half-closes, and closes) both ways until nothing moves;
 * returns the number of bytes moved. */
size_t nt_test_pair_pump(nt_test_pair_t *pair);
nt_test_transport_t *nt_test_pair_client(nt_test_pair_t *pair);
nt_test_transport_t *nt_test_pair_server(nt_test_pair_t *pair);
void nt_test_pair_free(nt_test_pair_t *pair);

/* --- fault injection ------------------------------------------------------------------ */

/* Makes every nettool allocation after the next n fail (n = -1: never). */
void nt_test_fail_alloc_after(long n);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
