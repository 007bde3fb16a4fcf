/* TCP: listening, accepting, connecting to numeric addresses, and options
 * of TCP transports. Names come with the resolver (resolve.h). */
#ifndef NETTOOL_TCP_H
#define NETTOOL_TCP_H

#include <nettool/protocol.h>
#include <nettool/proxy.h>
#include <nettool/reactor.h>
#include <nettool/resolve.h>
#include <nettool/transport.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

typedef struct nt_listener_s nt_listener_t;

typedef struct nt_tcp_listen_options_s {
  int backlog;     /* 0: 511 */
  int reuseport;   /* SO_REUSEPORT: several reactors share the port */
  int ipv6_only;   /* for "::": do not accept IPv4-mapped connections */
  int nodelay;     /* TCP_NODELAY on accepted connections */
  int keepalive_s; /* >0: SO_KEEPALIVE with this idle time */
} nt_tcp_listen_options_t;

/*
 * Listens on addr:port (addr numeric, IPv4 or IPv6, NULL or "" for "::" with
 * IPv4 accepted too; port 0 picks a free port). Each accepted connection gets
 * a protocol from f->ops->build_protocol. opts may be NULL. Returns 0 and the
 * listener in *out, or NT_EBADADDR, NT_EBADPORT, NT_EADDRINUSE, NT_EACCES...
 * The listener is owned by the caller until nt_listener_close().
 */
int nt_tcp_listen_sized(size_t opts_size, nt_reactor_t *r, const char *addr,
                        int port, nt_factory_t *f,
                        const nt_tcp_listen_options_t *opts,
                        nt_listener_t **out);
#define nt_tcp_listen(...) \
  nt_tcp_listen_sized(sizeof(nt_tcp_listen_options_t), __VA_ARGS__)

/* The port actually bound, and the full local address. */
int nt_listener_port(const nt_listener_t *l);
int nt_listener_address(const nt_listener_t *l, struct sockaddr_storage *ss,
                        socklen_t *len);

/* Stops accepting and frees the listener; connections already accepted go on.
 * Must not be called from inside build_protocol. */
void nt_listener_close(nt_listener_t *l);

typedef struct nt_tcp_connect_options_s {
  /* Total time for resolving and connecting; 0: 30 s. Past it the connector
   * fails with NT_ETIMEDOUT. */
  uint64_t timeout_ms;
  int nodelay;
  int keepalive_s;
  /* Happy eyeballs: delay before racing the next address; 0: 250 ms. */
  uint64_t attempt_delay_ms;
  int family;              /* AF_UNSPEC (0), AF_INET or AF_INET6 */
  nt_resolver_t *resolver; /* NULL: the reactor's (system configuration) */
  /* Through this proxy (proxy.h; NULL or type NT_PROXY_NONE: direct;
   * copied, so it may go once the call returns): the connector connects to
   * the proxy (its name resolved, its addresses raced as above), runs the
   * SOCKS5 or CONNECT handshake for host:port within timeout_ms, and only
   * then builds the factory's protocol, whose transport is the tunnel (its
   * peer address is the proxy's). socks5:// resolves host here (family
   * applies) and sends the address; socks5h:// and http:// send the name.
   * Failures: NT_EPROXY_* (nt_proxy_last_error says what the proxy said),
   * or the connect errors of the proxy's own address. */
  const nt_proxy_t *proxy;
} nt_tcp_connect_options_t;

/*
 * Connects to host:port, where host is a name or a numeric address (which
 * skips DNS). The name is resolved, then its addresses are raced as RFC 8305
 * says: in RFC 6724 order with the families interleaved (IPv6 first when it
 * sorts first), the next attempt started after attempt_delay_ms or as soon as
 * the previous one fails, the first to connect wins and the others are
 * closed.
 *
 * On success the factory builds the protocol and connection_made follows; on
 * failure connection_failed(status) runs, from the loop, with the last error
 * seen (NT_ECONNREFUSED...), a resolver error (NT_EDNS_NXDOMAIN...),
 * NT_ETIMEDOUT or NT_ECANCELED. started_connecting runs before this returns.
 * The connector is freed by nettool once the connection is made or
 * connection_failed has returned; *out (may be NULL) is valid until then, for
 * nt_connector_cancel.
 * Returns 0, or NT_EBADPORT / NT_EDNS_BADNAME / NT_ENOMEM, in which case no
 * callback is called.
 */
int nt_tcp_connect_sized(size_t opts_size, nt_reactor_t *r, const char *host,
                         int port, nt_factory_t *f,
                         const nt_tcp_connect_options_t *opts,
                         nt_connector_t **out);
#define nt_tcp_connect(...) \
  nt_tcp_connect_sized(sizeof(nt_tcp_connect_options_t), __VA_ARGS__)

/* The same race over addresses the caller already has (ports set). */
int nt_tcp_connect_addrs_sized(size_t opts_size, nt_reactor_t *r,
                               const nt_address_t *addrs, size_t n,
                               nt_factory_t *f,
                               const nt_tcp_connect_options_t *opts,
                               nt_connector_t **out);
#define nt_tcp_connect_addrs(...) \
  nt_tcp_connect_addrs_sized(sizeof(nt_tcp_connect_options_t), __VA_ARGS__)
int nt_tcp_connect_addr_sized(size_t opts_size, nt_reactor_t *r,
                              const struct sockaddr *sa, socklen_t salen,
                              nt_factory_t *f,
                              const nt_tcp_connect_options_t *opts,
                              nt_connector_t **out);
#define nt_tcp_connect_addr(...) \
  nt_tcp_connect_addr_sized(sizeof(nt_tcp_connect_options_t), __VA_ARGS__)

/* Abandons a pending connect: connection_failed(NT_ECANCELED) follows from
 * the loop. */
void nt_connector_cancel(nt_connector_t *c);

/* Wraps an already connected, stream socket fd (it becomes the transport's,
 * made non-blocking) and starts protocol p on it: connection_made runs before
 * this returns. */
int nt_tcp_wrap_fd(nt_reactor_t *r, int fd, nt_protocol_t *p,
                   nt_transport_t **out);

/* Options of a TCP transport; NT_EINVAL for other transports. */
int nt_tcp_set_nodelay(nt_transport_t *t, int on);
int nt_tcp_set_keepalive(nt_transport_t *t, int on, unsigned idle_s);

/* The socket fd of a TCP transport, or -1. */
int nt_tcp_fileno(nt_transport_t *t);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
