/* The timestamp echo service (the classic tsTserv/tsTclnt/tsUserv/tsUclnt):
 * the server answers every chunk it receives with "[<ctime>]: <data>". */
#ifndef NETTOOL_TIMESTAMP_H
#define NETTOOL_TIMESTAMP_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/protocol.h>
#include <nettool/proxy.h>
#include <nettool/reactor.h>
#include <nettool/tls.h>
#include <nettool/udp.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/* Longest prefix nt_ts_prefix writes, with its NUL. */
#define NT_TS_PREFIX_MAX 64

/* Writes "[Sun Nov 22 15:11:00 2026]: " for the reactor's wall time, in the
 * local time zone and ctime(3) format (day of month padded with a space).
 * Returns its length. Cached per thread for the current second. */
size_t nt_ts_prefix(nt_reactor_t *r, char *buf, size_t size);

/* --- server ------------------------------------------------------------------ */

/* A TCP factory whose protocols answer each received chunk with prefix +
 * chunk (per read, not per line, as Twisted's server does). f is the
 * caller's; nothing is allocated until connections come. */
void nt_ts_server_factory_init(nt_factory_t *f);

/* A datagram protocol answering each datagram to its sender; freed by its
 * destroy (after nt_udp_close). NULL on allocation failure. */
nt_datagram_protocol_t *nt_ts_udp_server_new(void);

/* --- client ------------------------------------------------------------------- */

typedef struct nt_ts_client_s nt_ts_client_t;

typedef struct nt_ts_client_callbacks_s {
  /* Connected (TCP) or ready (UDP): requests may be sent. */
  void (*connected)(nt_ts_client_t *c, void *arg);
  /* One complete reply, without a trailing newline. */
  void (*reply)(nt_ts_client_t *c, const char *data, size_t len, void *arg);
  /* The client is done: status 0 after nt_ts_client_close or a clean close
   * by the server; NT_ECONNREFUSED, NT_ETIMEDOUT (no reply in time),
   * NT_ETOOBIG (reply over 64 KiB)... The client is freed after this
   * returns. */
  void (*closed)(nt_ts_client_t *c, int status, void *arg);
} nt_ts_client_callbacks_t;

typedef struct nt_ts_client_options_s {
  int udp; /* datagrams instead of TCP */
  /* From nt_ts_client_connect to connected(): name resolution, every TCP
   * attempt and the TLS handshake, all under this one limit; past it,
   * closed(NT_ETIMEDOUT). 0: 10 s. */
  uint64_t connect_timeout_ms;
  /* Each reply must be complete within this long of its request being sent
   * (bytes trickling in do not extend it); past it, closed(NT_ETIMEDOUT).
   * Time between requests does not count. 0: 10 s. */
  uint64_t reply_timeout_ms;
  /* TCP over TLS with this client context (NULL: plain). The host name
   * given to connect is verified against the certificate and sent as SNI.
   * The context must outlive the connect (until connected or closed). */
  nt_tls_ctx_t *tls;
  /* TCP through this proxy (proxy.h; NULL: direct; copied by the
   * connect); not with udp (NT_EINVAL). */
  const nt_proxy_t *proxy;
} nt_ts_client_options_t;

/*
 * Connects to host (a name, resolved by the reactor's resolver, or a numeric
 * address) and port; over TCP the addresses are raced (happy eyeballs). Requests go one at a time: send one,
 * wait for its reply, send the next. Over TCP a request is sent as a line
 * (with "\n"), and a reply ends at its newline, or after 200 ms of quiet for
 * servers whose replies do not end with one. Over UDP each request and reply
 * is one datagram, resent once per second until the reply timeout.
 * Returns 0 (callbacks follow), or a negative code (no callback).
 */
int nt_ts_client_connect_sized(size_t opts_size, nt_reactor_t *r,
                               const char *host, int port,
                               const nt_ts_client_options_t *opts,
                               const nt_ts_client_callbacks_t *cbs, void *arg,
                               nt_ts_client_t **out);
#define nt_ts_client_connect(...) \
  nt_ts_client_connect_sized(sizeof(nt_ts_client_options_t), __VA_ARGS__)

/* A TCP-mode client not connected anywhere yet, for running over a stream
 * transport you provide (the test reactor's in-memory one, or TLS): hand
 * nt_ts_client_protocol(c) to it; connected() follows its connection_made.
 * Once the protocol is handed over, the transport owns c (it is freed after
 * closed()). */
int nt_ts_client_new_sized(size_t opts_size, nt_reactor_t *r,
                           const nt_ts_client_options_t *opts,
                           const nt_ts_client_callbacks_t *cbs, void *arg,
                           nt_ts_client_t **out);
#define nt_ts_client_new(...) \
  nt_ts_client_new_sized(sizeof(nt_ts_client_options_t), __VA_ARGS__)
nt_protocol_t *nt_ts_client_protocol(nt_ts_client_t *c);

/* Inside closed(): non-zero if TCP had connected and the TLS handshake was
 * under way when the client ended (to tell a handshake that timed out or
 * failed from a TCP connect that did). */
int nt_ts_client_in_handshake(const nt_ts_client_t *c);

/* Sends one request. NT_EBUSY while a reply is awaited, NT_ENOTCONN before
 * connected, NT_ETOOBIG for over 64 KiB. */
int nt_ts_client_send(nt_ts_client_t *c, const char *data, size_t len);

/* Closes: closed(0) follows from the loop. */
void nt_ts_client_close(nt_ts_client_t *c);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
