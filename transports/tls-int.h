/* Private to the TLS transport: what its three files share, plus test hooks.
 *
 *   tls_ctx.c     the context (nt_tls_ctx_t): creation, configuration, ALPN,
 *                 verification settings of a connection, the thread's last
 *                 error and the reason strings of failures;
 *   tls_cache.c   the client session cache (latest session per server name);
 *   tls_openssl.c the connection glue: state machine, BIO, stream io,
 *                 factory wrapper, STARTTLS, queries.
 *
 * Calls go one way: tls_openssl.c -> tls_ctx.c -> tls_cache.c (the glue also
 * calls the cache directly). OpenSSL's types are only declared here, so this
 * header pulls in no OpenSSL header: only the tls_*.c files include those.
 * There is no backend ops table: OpenSSL is the one TLS library. */
#ifndef NETTOOL_TLS_INT_H
#define NETTOOL_TLS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "nettool/tls.h"
#include "nettool/transport.h"

struct ssl_st;         /* SSL */
struct ssl_ctx_st;     /* SSL_CTX */
struct ssl_session_st; /* SSL_SESSION */

/* --- the client session cache (tls_cache.c) ------------------------------- */

/* Latest session of this many server names. */
#define NT__TLS_CACHE_SLOTS 32

typedef struct nt__tls_cache_slot {
  char *key; /* server name or IP */
  struct ssl_session_st *sess;
  uint64_t stamp; /* last use, for LRU replacement */
} nt__tls_cache_slot_t;

typedef struct nt__tls_cache {
  pthread_mutex_t lock; /* guards the slots (a context may be shared) */
  nt__tls_cache_slot_t slots[NT__TLS_CACHE_SLOTS];
  uint64_t stamp;
} nt__tls_cache_t;

void nt__tls_cache_init(nt__tls_cache_t *cache);
/* Frees every session kept. */
void nt__tls_cache_destroy(nt__tls_cache_t *cache);

/* OpenSSL's new-session callback of a client context with a cache
 * (SSL_CTX_sess_set_new_cb): keeps the session under the name that
 * nt__tls_cache_offer attached to ssl. Returns 1 when it kept the reference. */
int nt__tls_cache_new_session(struct ssl_st *ssl,
                              struct ssl_session_st *sess);

/* Client connection about to handshake with `name`: attaches the name to
 * ssl (the key its new sessions are kept under) and, unless the connection
 * already has a session to offer, offers the cached one. Returns 1 if a
 * session was offered. */
int nt__tls_cache_offer(nt__tls_cache_t *cache, struct ssl_st *ssl,
                        const char *name, int has_session);

/* Offers sess for resumption on ssl, as a copy (see tls_cache.c). Returns 1
 * if set. */
int nt__tls_offer_session(struct ssl_st *ssl, struct ssl_session_st *sess);

/* --- the context (tls_ctx.c) --------------------------------------------- */

struct nt_tls_ctx_s {
  struct ssl_ctx_st *ssl_ctx;
  atomic_int refs;
  int server;
  int insecure;
  int cache; /* the session cache is on */
  uint64_t hs_timeout_ms;
  unsigned char *alpn; /* wire format: length-prefixed names */
  size_t alpn_len;
  nt__tls_cache_t sessions; /* clients only */
};

/* The thread's last error (nt_tls_last_error), printf-style. */
void nt__tls_set_last_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* The reason of the most relevant OpenSSL error queued (the first one: later
 * entries are consequences), or `fallback`. Empties the queue. */
const char *nt__tls_ssl_reason(unsigned long *code_out, const char *fallback);

/* Client: what to verify on ssl (unless the context is insecure) and SNI,
 * for `name`, a DNS name or an IP literal. Returns 0, or NT_EINVAL with the
 * reason in reason[cap]. */
int nt__tls_set_peer_name(const nt_tls_ctx_t *ctx, struct ssl_st *ssl,
                          const char *name, char *reason, size_t cap);

/* After an SSL call on ssl failed with an OpenSSL error (not a failure of
 * the lower transport): the status to report (NT_ETLS_*), with the reason in
 * reason[cap]. `name` is the name verified (for a mismatch), maybe NULL.
 * Empties OpenSSL's error queue. */
int nt__tls_failure(struct ssl_st *ssl, int in_handshake, const char *name,
                    char *reason, size_t cap);

/* --- test hooks (tls_openssl.c) ------------------------------------------ */

/* Starts a TLS 1.2 renegotiation from this side of an established TLS
 * connection (client: a new ClientHello; server: a HelloRequest), lifting
 * this side's own refusal first. The peer, if it is nettool, must refuse it.
 * Returns 0, or NT_EINVAL (not TLS / not established / TLS 1.3) or
 * NT_ETLS_PROTOCOL (OpenSSL refused to start it). */
int nt__tls_test_renegotiate(nt_transport_t *t);

#endif
