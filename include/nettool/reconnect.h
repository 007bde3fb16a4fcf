/* A client service that keeps one connection up: it connects, and whenever
 * the attempt fails or the connection ends it tries again after a delay that
 * grows exponentially, with jitter, up to a maximum, and starts over after a
 * successful connection (Twisted's ClientService and
 * ReconnectingClientFactory). */
#ifndef NETTOOL_RECONNECT_H
#define NETTOOL_RECONNECT_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/protocol.h>
#include <nettool/reactor.h>
#include <nettool/transport.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

typedef struct nt_reconnect_s nt_reconnect_t;

/* What on_event reports. */
enum {
  NT_RECONNECT_CONNECTING = 1, /* an attempt starts (attempt number in n) */
  NT_RECONNECT_CONNECTED,      /* connection_made ran; the delay is reset */
  NT_RECONNECT_DISCONNECTED,   /* the connection ended (status: why) */
  NT_RECONNECT_FAILED,         /* an attempt failed (status: why) */
  NT_RECONNECT_WAITING,        /* next attempt in delay_ms */
  NT_RECONNECT_GAVE_UP,        /* max_retries consecutive failures */
};

/*
 * The delay before retry k (k = 0 after the first failure, or after a
 * connection that was made and then lost) is
 *     min(initial_delay_ms * factor^k, max_delay_ms)
 * then moved by a uniformly random amount within +-jitter of itself, and
 * never past max_delay_ms. The first attempt starts at once.
 */
typedef struct nt_reconnect_options_s {
  uint64_t initial_delay_ms; /* 0: 1000 */
  uint64_t max_delay_ms;     /* 0: 60000 */
  double factor;             /* 0: 2.0 (values below 1 are taken as 1) */
  double jitter;             /* fraction of the delay; 0: 0.1; < 0: none */
  /* Consecutive failed attempts before giving up (GAVE_UP); 0: never. */
  unsigned max_retries;
  /* Seed of the jitter's generator; 0: from getrandom(2). Tests set it. */
  uint64_t seed;
  /* Each attempt's limit (nt_tcp_connect's timeout_ms); 0: 30 s. */
  uint64_t connect_timeout_ms;
  /* Connects some other way (TLS is a wrapped factory and needs none of
   * this; UNIX sockets, endpoints...): starts one attempt with factory f
   * and the usual nt_connector_t contract: the outcome (connection_failed,
   * or a protocol from f) comes from the loop, and the connector is stored
   * in *out for nt_connector_cancel. Returns 0 or an error (counted as a
   * failed attempt). NULL: nt_tcp_connect(host, port). nt_unix_connect
   * (unix.h) or nt_endpoint_connect (endpoint.h) fit in a three-line
   * wrapper; attempts never overlap, as a TLS endpoint requires.
   * Note: with the default TCP connect and a TLS factory, "connected" is
   * the TCP connection (a failed handshake then ends a connection, and the
   * schedule starts over); through nt_endpoint_connect a failed handshake
   * is a failed attempt. */
  int (*connect)(void *arg, nt_reactor_t *r, nt_factory_t *f,
                 nt_connector_t **out);
  void *connect_arg;
  /* Told of every step, for logs and tests; may be NULL. n: the attempt
   * number (CONNECTING), failed attempts in a row (FAILED, GAVE_UP). */
  void (*on_event)(nt_reconnect_t *rc, int event, int status,
                   uint64_t delay_ms, unsigned n, void *arg);
  void *event_arg;
} nt_reconnect_options_t;

/*
 * Starts the service: the first attempt begins before this returns. Each
 * connection's protocol comes from f->ops->build_protocol, as with
 * nt_tcp_connect (f may be a TLS factory, tls.h); f's started_connecting
 * and connection_failed are called too, for every attempt. The service
 * keeps the reactor running until nt_reconnect_stop.
 *
 * Returns 0, or NT_EINVAL / NT_EBADPORT / NT_ENOMEM / NT_ENOTSUP, with no
 * callback called. host and f must stay valid until nt_reconnect_stop.
 */
int nt_reconnect_start_sized(size_t opts_size, nt_reactor_t *r,
                             const char *host, int port, nt_factory_t *f,
                             const nt_reconnect_options_t *opts,
                             nt_reconnect_t **out);
#define nt_reconnect_start(...) \
  nt_reconnect_start_sized(sizeof(nt_reconnect_options_t), __VA_ARGS__)

/*
 * Stops for good and frees the service: a pending attempt is cancelled (no
 * connection will be made from it), a waiting retry never starts, and a live
 * connection is closed with lose_connection (its protocol still gets
 * connection_lost and destroy, from the loop). Neither f nor on_event is
 * called after this returns. May be called from any callback, including
 * on_event and the protocol's.
 */
void nt_reconnect_stop(nt_reconnect_t *rc);

/* The live connection's protocol (as f built it), or NULL. */
nt_protocol_t *nt_reconnect_protocol(const nt_reconnect_t *rc);

/* Failed attempts in a row now (0 after a connection was made). */
unsigned nt_reconnect_failures(const nt_reconnect_t *rc);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
