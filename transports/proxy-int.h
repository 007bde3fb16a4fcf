/* Private: the proxy handshake. A pure state machine (no transport, no
 * clock), so unit tests and the fuzz target drive it byte by byte:
 *
 *   init -> [output -> sent]* -> feed ... -> DONE (tunnel open) | error
 *
 * After init and after every feed that returns 0, output() has the next
 * message to write (possibly none: more reply bytes are needed). feed()
 * consumes exactly the proxy's reply bytes and no more: what follows the
 * final reply in the same read belongs to the tunnel (an FTP or NNTP
 * greeting can arrive in the same segment as the proxy's "200").
 *
 * SOCKS5 (proxy_socks5.c): greeting -> [RFC 1929 auth] -> CONNECT request
 * -> reply. HTTP (proxy_http.c): CONNECT request -> status line and
 * headers up to the empty line.
 *
 * The glue (proxy_glue.c) runs the machine as the TCP connection's first
 * protocol and hands the transport to the real one when the tunnel is up;
 * the connector (connect.c) owns the glue while it runs. */
#ifndef NETTOOL_PROXY_INT_H
#define NETTOOL_PROXY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nettool/protocol.h"
#include "nettool/proxy.h"

/* The largest proxy reply kept: a CONNECT reply's status line and headers.
 * A SOCKS5 reply is at most 4 + 1 + 255 + 2 bytes. */
#define NT__PROXY_MAX_REPLY 16384

typedef enum {
  NT__PX_S5_METHOD, /* greeting sent, waiting for VER METHOD */
  NT__PX_S5_AUTH,   /* RFC 1929 request sent, waiting for VER STATUS */
  NT__PX_S5_REPLY,  /* CONNECT sent, waiting for the reply */
  NT__PX_HTTP_REPLY, /* CONNECT sent, waiting for the head */
  NT__PX_DONE,
  NT__PX_FAILED,
} nt__proxy_state_t;

typedef struct nt__proxy_hs {
  nt_proxy_t proxy;
  char host[256]; /* the destination, as sent (name or numeric) */
  int port;
  nt__proxy_state_t state;
  int status; /* the error once FAILED */
  /* the next message to write */
  unsigned char out[2048];
  size_t out_len;
  /* SOCKS5: the RFC 1929 request, built at init so that the password is
   * kept nowhere else (wiped once sent or not needed) */
  unsigned char auth[3 + 255 + 255];
  size_t auth_len;
  /* the reply being read */
  unsigned char in[NT__PROXY_MAX_REPLY];
  size_t in_len;
  char detail[256]; /* what the proxy said, escaped: nt_proxy_last_error */
} nt__proxy_hs_t;

/* Sets up the machine for a tunnel to host:port and builds the first
 * message. Returns 0, NT_EINVAL (an empty host, a host over 255 bytes or
 * with bytes a request line cannot carry, a port out of range, no proxy
 * type) or NT_EPROXY_BADURL (credentials over 255 bytes). */
int nt__proxy_hs_init(nt__proxy_hs_t *hs, const nt_proxy_t *p,
                      const char *host, int port);

/* The checks of init without building anything (and without logging):
 * 0, NT_EINVAL or NT_EPROXY_BADURL. */
int nt__proxy_check(const nt_proxy_t *p, const char *host, int port);

/* The bytes to write now (*len may be 0). */
const unsigned char *nt__proxy_hs_output(const nt__proxy_hs_t *hs,
                                         size_t *len);
/* They were handed to the transport; the password inside is wiped. */
void nt__proxy_hs_sent(nt__proxy_hs_t *hs);

/*
 * Feeds reply bytes. Returns 0 (all of them consumed, more needed; check
 * output), 1 (the tunnel is open; *used bytes were the proxy's, the rest
 * is the destination's) or a negative NT_E* code (the machine is FAILED;
 * hs->detail says what the proxy said). Feeding a DONE or FAILED machine
 * returns its result again with *used = 0.
 */
int nt__proxy_hs_feed(nt__proxy_hs_t *hs, const void *data, size_t len,
                      size_t *used);

/* Internal to the machine's files. */
int nt__proxy_socks5_start(nt__proxy_hs_t *hs);
int nt__proxy_socks5_feed(nt__proxy_hs_t *hs, const unsigned char *d,
                          size_t len, size_t *used);
int nt__proxy_http_start(nt__proxy_hs_t *hs);
int nt__proxy_http_feed(nt__proxy_hs_t *hs, const unsigned char *d,
                        size_t len, size_t *used);
/* Fails the machine with status and a detail line (printf format). */
int nt__proxy_fail(nt__proxy_hs_t *hs, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The connection to the proxy itself failed with status (resolving its
 * name, connecting): sets nt_proxy_last_error ("SOCKS5 proxy H:P: why")
 * and returns NT_EPROXY_CONNECT. */
int nt__proxy_unreachable(const nt_proxy_t *p, int status);
/* Copies bytes the proxy sent into a detail text, control bytes as '?'. */
void nt__proxy_escape(char *dst, size_t size, const void *src, size_t len);
/* "SOCKS5 proxy HOST:PORT" / "HTTP proxy HOST:PORT" */
const char *nt__proxy_name(const nt__proxy_hs_t *hs, char *buf, size_t size);

/* --- the glue: the machine as a protocol ---------------------------------------------- */

typedef struct nt__proxy_glue nt__proxy_glue_t;

/* The handshake's end: status 0 once the tunnel is open and the inner
 * factory's protocol has the transport (or refused it: build_protocol
 * returned NULL and the connection was closed); a negative code when the
 * handshake failed (the transport is being aborted). Called once, never
 * after nt__proxy_glue_cancel. */
typedef void (*nt__proxy_glue_cb)(void *arg, int status);

/* A protocol that runs the handshake on the transport it is given, then
 * builds inner's protocol (with peer as its peer address) and hands it the
 * transport: connection_made, then the bytes that came after the proxy's
 * reply. Until then the transport owns the glue as its protocol; after
 * the handover the glue frees itself. NULL: out of memory or a bad
 * destination (*err says which). */
nt_protocol_t *nt__proxy_glue_new(const nt_proxy_t *p, const char *host,
                                  int port, nt_factory_t *inner,
                                  const struct sockaddr *peer, socklen_t plen,
                                  nt__proxy_glue_cb cb, void *arg, int *err);
/* Abandons the handshake: the transport is aborted with status and the
 * callback is not called. */
void nt__proxy_glue_cancel(nt_protocol_t *glue, int status);

#endif
