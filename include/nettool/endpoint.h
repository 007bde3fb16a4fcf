/* Endpoint strings (Twisted's serverFromString/clientFromString): one
 * string names where to listen or what to connect to, is parsed once with a
 * clear message for what is wrong, and then gives a listener or a
 * connector for any factory.
 *
 * Syntax: TYPE:ARG[:ARG...], each ARG positional or KEY=VALUE; a ':' or
 * '\' inside a value is written "\:" or "\\" (an IPv6 address may instead
 * be put in brackets: "[::1]"). TYPE is case-insensitive.
 *
 *   servers (listen)                          clients (connect)
 *   tcp:PORT[:interface=ADDR][:backlog=N]     tcp:HOST:PORT[:timeout=S]
 *   tls:PORT:cert=FILE[:key=FILE]             tls:HOST:PORT[:cacert=FILE]
 *       [:interface=ADDR][:backlog=N]             [:timeout=S]
 *   unix:PATH[:mode=0660][:backlog=N]         unix:PATH[:timeout=S]
 *   unix:@ABSTRACT                            unix:@ABSTRACT
 *   udp:PORT[:interface=ADDR]                 udp:HOST:PORT
 *
 * Positional args may also be given by name (tcp:port=80, tcp:host=H:port=P,
 * unix:path=P; Twisted's unix:address=P too). PORT 0 (servers) picks a free
 * port. interface is a numeric IPv4/IPv6 address. timeout is in seconds.
 */
#ifndef NETTOOL_ENDPOINT_H
#define NETTOOL_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/protocol.h>
#include <nettool/reactor.h>
#include <nettool/tls.h>
#include <nettool/udp.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

typedef struct nt_endpoint_s nt_endpoint_t;

typedef enum nt_endpoint_kind_e {
  NT_ENDPOINT_TCP = 1,
  NT_ENDPOINT_TLS = 2,
  NT_ENDPOINT_UNIX = 3,
  NT_ENDPOINT_UDP = 4,
} nt_endpoint_kind_t;

/* What the string is for: listening or connecting (the same type takes
 * different arguments in each). */
enum { NT_ENDPOINT_SERVER = 1, NT_ENDPOINT_CLIENT = 2 };

/*
 * Parses spec for role. Returns 0 and a new endpoint in *out (the caller's,
 * nt_endpoint_free), or NT_EINVAL and one line saying what is wrong in err
 * (if errlen > 0; e.g. "tcp:80x: bad port '80x' (0-65535)"), *out NULL.
 */
int nt_endpoint_parse(const char *spec, int role, nt_endpoint_t **out,
                      char *err, size_t errlen);
void nt_endpoint_free(nt_endpoint_t *ep);

nt_endpoint_kind_t nt_endpoint_kind(const nt_endpoint_t *ep);
int nt_endpoint_role(const nt_endpoint_t *ep);
/* Clients: the host; servers: the interface, or NULL for all. */
const char *nt_endpoint_host(const nt_endpoint_t *ep);
int nt_endpoint_port(const nt_endpoint_t *ep); /* -1 for unix */
/* unix: the name ("/path" or "@abstract"); NULL otherwise. */
const char *nt_endpoint_path(const nt_endpoint_t *ep);
/* tls: the files given (NULL if not). */
const char *nt_endpoint_cacert(const nt_endpoint_t *ep);
const char *nt_endpoint_cert(const nt_endpoint_t *ep);
const char *nt_endpoint_key(const nt_endpoint_t *ep);
uint64_t nt_endpoint_timeout_ms(const nt_endpoint_t *ep); /* 0: not given */
/* The endpoint written back in canonical form (keys explicit), into buf;
 * returns buf. */
char *nt_endpoint_format(const nt_endpoint_t *ep, char *buf, size_t size);

/* --- listening ------------------------------------------------------------- */

typedef struct nt_endpoint_listener_s nt_endpoint_listener_t;

typedef struct nt_endpoint_listen_options_s {
  int reuseport; /* tcp/tls: SO_REUSEPORT (several reactors, one port) */
  int nodelay;   /* tcp/tls: TCP_NODELAY on accepted connections */
  /* tls: the server context to use; NULL: one is made from the endpoint's
   * cert= and key= (the listener holds its own reference either way). */
  nt_tls_ctx_t *tls;
  /* tcp/tls/udp: > 0 listens on this port instead of the endpoint's: with
   * PORT 0 and reuseport, the port the first reactor's listener got. */
  int port;
} nt_endpoint_listen_options_t;

/*
 * Listens on a server endpoint of kind tcp, tls or unix; every accepted
 * connection gets a protocol from f (over TLS: after the handshake, as
 * nt_tls_factory_init does). udp endpoints are bound with
 * nt_endpoint_bind_datagram instead (NT_EINVAL here). Returns 0 or the
 * transport's error (NT_EADDRINUSE...; NT_ETLS_CONFIG for a bad cert=/key=).
 * The listener is the caller's until nt_endpoint_listener_close; f must
 * outlive it. ep may be freed once this returns.
 */
int nt_endpoint_listen_sized(size_t opts_size, nt_reactor_t *r,
                             const nt_endpoint_t *ep, nt_factory_t *f,
                             const nt_endpoint_listen_options_t *opts,
                             nt_endpoint_listener_t **out);
#define nt_endpoint_listen(...) \
  nt_endpoint_listen_sized(sizeof(nt_endpoint_listen_options_t), __VA_ARGS__)

/* The TCP/TLS port bound (-1 for unix). */
int nt_endpoint_listener_port(const nt_endpoint_listener_t *l);
/* "tcp 127.0.0.1:8080", "tls [::]:443", "unix /run/x.sock" into buf. */
char *nt_endpoint_listener_describe(const nt_endpoint_listener_t *l, char *buf,
                                    size_t size);
void nt_endpoint_listener_close(nt_endpoint_listener_t *l);

/* udp server endpoints: binds and starts p (udp.h); of opts (may be NULL)
 * reuseport and port apply. NT_EINVAL for other kinds. */
int nt_endpoint_bind_datagram_sized(size_t opts_size, nt_reactor_t *r,
                                    const nt_endpoint_t *ep,
                                    nt_datagram_protocol_t *p,
                                    const nt_endpoint_listen_options_t *opts,
                                    nt_udp_t **out);
#define nt_endpoint_bind_datagram(...) \
  nt_endpoint_bind_datagram_sized(sizeof(nt_endpoint_listen_options_t), \
                                  __VA_ARGS__)

/* --- connecting -------------------------------------------------------------- */

typedef struct nt_endpoint_connect_options_s {
  uint64_t timeout_ms; /* 0: the endpoint's timeout=, else 30 s */
  /* tls: the client context; NULL: one made from the endpoint's cacert=
   * (else the system's CAs), verifying the host name. */
  nt_tls_ctx_t *tls;
} nt_endpoint_connect_options_t;

/*
 * Connects a client endpoint of kind tcp, tls or unix, as nt_tcp_connect /
 * nt_unix_connect do (started_connecting before this returns, then
 * connection_made or connection_failed; over TLS a failed handshake is a
 * connection_failed with NT_ETLS_*). For tls the endpoint carries the TLS
 * wrapper, so ep must stay alive until the connection is made or failed,
 * and one endpoint makes one TLS connect at a time. Returns 0 or an error
 * (no callback then); NT_EINVAL for udp.
 */
int nt_endpoint_connect_sized(size_t opts_size, nt_reactor_t *r,
                              nt_endpoint_t *ep, nt_factory_t *f,
                              const nt_endpoint_connect_options_t *opts,
                              nt_connector_t **out);
#define nt_endpoint_connect(...) \
  nt_endpoint_connect_sized(sizeof(nt_endpoint_connect_options_t), __VA_ARGS__)

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
