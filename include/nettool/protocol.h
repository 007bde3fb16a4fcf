/* The protocol/factory contract: what a transport calls on the code that
 * speaks a protocol, and how such code is built per connection. */
#ifndef NETTOOL_PROTOCOL_H
#define NETTOOL_PROTOCOL_H

#include <stddef.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

typedef struct nt_protocol_s nt_protocol_t;
typedef struct nt_protocol_ops_s nt_protocol_ops_t;
typedef struct nt_factory_s nt_factory_t;
typedef struct nt_factory_ops_s nt_factory_ops_t;
typedef struct nt_transport_s nt_transport_t;
typedef struct nt_connector_s nt_connector_t;

/*
 * A protocol is a struct whose first member is nt_protocol_t:
 *
 *     struct echo { nt_protocol_t base; size_t seen; };
 *
 * Lifecycle, in this order and from the reactor's thread only:
 *   connection_made   once, with the transport (also stored in p->transport)
 *   data_received     any number of times; data is valid only during the call
 *   eof_received      at most once, when the peer half-closed
 *   connection_lost   exactly once if connection_made was called
 *   destroy           exactly once, last: frees the protocol
 *
 * Callbacks may call any transport operation, including lose_connection and
 * abort; the transport then delivers no more data, and connection_lost comes
 * later, from the loop, never from inside the callback that closed it. So a
 * protocol is never freed while one of its callbacks is on the stack.
 * Callbacks a protocol does not need are NULL.
 */
struct nt_protocol_ops_s {
  void (*connection_made)(nt_protocol_t *p, nt_transport_t *t);
  void (*data_received)(nt_protocol_t *p, const char *data, size_t len);
  /* Returns non-zero to keep the connection half-open, so the protocol can
   * still write and then call lose_connection itself. NULL or zero: the
   * transport flushes and closes. */
  int (*eof_received)(nt_protocol_t *p);
  /* status 0: closed cleanly (either side, after a clean shutdown); otherwise
   * a negative NT_E* code saying why (NT_ECONNRESET, NT_ELINETOOLONG...). */
  void (*connection_lost)(nt_protocol_t *p, int status);
  /* Backpressure: the transport's write buffer crossed its high-water mark;
   * stop producing until resume_writing (buffer drained below low water). */
  void (*pause_writing)(nt_protocol_t *p);
  void (*resume_writing)(nt_protocol_t *p);
  /* Frees the protocol. NULL: the protocol is owned elsewhere. */
  void (*destroy)(nt_protocol_t *p);
};

struct nt_protocol_s {
  const nt_protocol_ops_t *ops;
  nt_transport_t *transport; /* set before connection_made; NULL after
                                connection_lost */
};

/* Initialises the base of a protocol. */
static inline void nt_protocol_init(nt_protocol_t *p,
                                    const nt_protocol_ops_t *ops) {
  p->ops = ops;
  p->transport = NULL;
}

/*
 * A factory builds one protocol per connection. The caller owns the factory
 * and must keep it alive as long as any listener or connector uses it
 * (factories outlive their protocols).
 */
struct nt_factory_ops_s {
  /* Builds the protocol for a new connection; peer is the remote address.
   * Returning NULL refuses the connection (it is closed at once). */
  nt_protocol_t *(*build_protocol)(nt_factory_t *f, const struct sockaddr *peer,
                                   socklen_t peerlen);
  /* Client side: a connection attempt began; c may be cancelled. */
  void (*started_connecting)(nt_factory_t *f, nt_connector_t *c);
  /* Client side: the attempt failed (NT_ECONNREFUSED, NT_ETIMEDOUT,
   * NT_ECANCELED...); no protocol was built. */
  void (*connection_failed)(nt_factory_t *f, nt_connector_t *c, int status);
};

struct nt_factory_s {
  const nt_factory_ops_t *ops;
  void *data; /* user data */
};

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
