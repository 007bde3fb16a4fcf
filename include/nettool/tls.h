/* TLS (OpenSSL) as a transport over any stream transport: TCP from the first
 * byte (direct TLS), a connection upgraded in the middle of a conversation
 * (STARTTLS: FTP AUTH TLS, NNTP STARTTLS), or the test reactor's in-memory
 * transport, so handshakes and failures are unit-tested with no sockets. */
#ifndef NETTOOL_TLS_H
#define NETTOOL_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/errno.h>
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
 * Shape (Twisted's TLSMemoryBIOProtocol): a glue object is at once the
 * protocol of the lower transport (it receives ciphertext) and a transport
 * itself (ops name "tls"), whose protocol sees plaintext. Everything in
 * transport.h works on it: writes copy only what cannot be encrypted now;
 * pause_writing/resume_writing follow the same water marks as on TCP (the
 * TLS transport takes plaintext only while the lower transport is below its
 * own high-water mark; the records of one big write reach it together, so
 * TCP sees one sendmsg per batch of records, not one per 16 KiB record;
 * write_buffer_size counts the plaintext waiting above TLS);
 * write_file reads and encrypts the file piece by piece as the lower
 * transport drains, never more than its room ahead, never the whole file;
 * pause_reading stops reading the lower transport.
 *
 * Security defaults: a client verifies the certificate chain AND the host
 * name (a DNS name against the certificate's DNS names, an IP address
 * against its IP SANs); turning that off takes `insecure`. TLS 1.2 is the
 * minimum version. Renegotiation is refused both ways. Idle connections
 * release OpenSSL's 2 x ~17 KiB record buffers.
 *
 * Closing: lose_connection flushes, sends close_notify, then closes the
 * lower transport. connection_lost(0) then means every byte was encrypted
 * and handed to the lower transport, which finishes sending on its own (a
 * failure of that last flush is not reported). A peer's close_notify
 * arrives as eof_received (and a
 * clean connection_lost(0)); a peer that closes the connection WITHOUT one is
 * reported as connection_lost(NT_ETLS_TRUNCATED), never as a clean end,
 * because a truncation attack looks exactly like that. write_eof sends
 * close_notify and half-closes the lower transport.
 *
 * Errors: handshake and certificate failures have their own codes
 * (NT_ETLS_CERT_EXPIRED, NT_ETLS_HOSTNAME, NT_ETLS_UNKNOWN_CA, NT_ETLS_VERIFY,
 * NT_ETLS_HANDSHAKE...), and a one-line reason that says why ("certificate
 * has expired", "hostname mismatch: ...", "unable to get local issuer
 * certificate (unknown CA)", "peer sent alert: ..."): nt_tls_error_reason()
 * for a transport still around (e.g. inside connection_lost), and
 * nt_tls_last_error() for the last failure on this thread (e.g. inside a
 * factory's connection_failed, or after nt_tls_ctx_new failed).
 *
 * Ownership
 * ---------
 * nt_tls_ctx_t is reference counted: nt_tls_ctx_new gives the caller one
 * reference, nt_tls_ctx_ref another, nt_tls_ctx_free drops one, and every
 * TLS connection holds its own, so the caller may drop its reference while
 * connections still run. A context may be shared by reactors in several
 * threads (e.g. ts-server workers), each holding a reference.
 * A TLS transport is freed by nettool after its protocol's connection_lost
 * and destroy, like any transport; the lower transport is closed by the TLS
 * transport and freed by its own code.
 * nt_tls_factory_t is the caller's (embed it anywhere); see below.
 * nt_tls_session_t values are owned by whoever got them from
 * nt_tls_get_session, until nt_tls_session_free.
 *
 * Example: a verified client, in the shape of nt_tcp_connect
 * ----------------------------------------------------------
 *     nt_tls_ctx_options_t o = {0};
 *     o.ca_file = cacert;            // NULL: the system's trusted CAs
 *     o.insecure = insecure;         // the CLI must warn on stderr
 *     nt_tls_ctx_t *ctx;
 *     if (nt_tls_ctx_new(&o, &ctx) != 0)
 *       fprintf(stderr, "TLS: %s\n", nt_tls_last_error());
 *
 *     // my_factory is the plain factory you would give to nt_tcp_connect.
 *     nt_tls_factory_t tf;           // e.g. a member of your client struct
 *     nt_tls_options_t co = {0};
 *     co.server_name = host;         // name or IP literal to verify (+SNI)
 *     nt_tls_factory_init(&tf, ctx, &my_factory, &co);
 *     nt_tcp_connect(r, host, port, &tf.base, NULL, NULL);
 *     ... nt_reactor_run(r) ...
 *     nt_tls_ctx_free(ctx);  // once connects are over: each connection
 *                            // took its own reference when TCP connected
 *
 * my_factory's build_protocol runs once the handshake has succeeded (with
 * the peer's address); its protocol then sees plaintext through the "tls"
 * transport. If the TCP connect fails, connection_failed(status) as usual;
 * if the handshake fails, connection_failed(f, NULL, NT_ETLS_...) with
 * nt_tls_last_error() telling why, e.g.:
 *     "nettool: ts-client: TLS handshake with 127.0.0.1 port 4433 failed:
 *      certificate has expired"
 *
 * A server: wrap the server factory the same way and listen on &tf.base:
 *     o.server = 1; o.cert_file = "server.crt"; o.key_file = "server.key";
 *     nt_tls_factory_init(&tf, ctx, &ts_factory, NULL);
 *     nt_tcp_listen(r, "127.0.0.1", 4433, &tf.base, NULL, &listener);
 */

typedef struct nt_tls_ctx_s nt_tls_ctx_t;
typedef struct nt_tls_session_s nt_tls_session_t;

/* Protocol versions, for min_version/max_version. */
enum { NT_TLS_1_2 = 0x0303, NT_TLS_1_3 = 0x0304 };

#define NT_TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS 10000u

typedef struct nt_tls_ctx_options_s {
  /* 0: a client context; non-zero: a server context. */
  int server;
  /* Trusted CAs: a PEM bundle and/or a hashed directory (c_rehash). Both
   * NULL: the system's store (Debian: /etc/ssl/certs). A server uses them to
   * verify client certificates when verify_client is set. */
  const char *ca_file;
  const char *ca_dir;
  /* Certificate chain (PEM, leaf first) and its private key (PEM; NULL: in
   * cert_file too). Required for a server; optional for a client (a client
   * certificate, for servers that ask for one). */
  const char *cert_file;
  const char *key_file;
  /* Client: do NOT verify the server's certificate chain or name. Anyone on
   * the path can then read and change the traffic; the CLI says so on
   * stderr whenever this is used. */
  int insecure;
  /* Server: require a client certificate signed by one of the trusted CAs
   * (mutual TLS). */
  int verify_client;
  /* NT_TLS_1_2 or NT_TLS_1_3; 0: TLS 1.2 minimum, newest maximum. A minimum
   * below TLS 1.2 is refused (NT_EINVAL). */
  int min_version;
  int max_version;
  /* ALPN protocol names ("h2", "http/1.1", "ftp"...), in order of
   * preference, ending with NULL; NULL for none. A server picks the first of
   * its own list that the client offers, and goes on without ALPN when none
   * matches. Copied. */
  const char *const *alpn;
  /* Cipher choices, in OpenSSL's syntax; NULL: nettool's defaults.
   * ciphersuites is for TLS 1.3 (default "TLS_AES_128_GCM_SHA256:
   * TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256": AES-128-GCM first,
   * as fast hardware AES makes it the cheapest strong choice); ciphers is for
   * TLS 1.2 (default: OpenSSL's, for the widest reach among old servers). */
  const char *ciphersuites;
  const char *ciphers;
  /* Non-zero turns the session cache off. By default a server keeps
   * sessions (TLS 1.2 session IDs, TLS 1.3 tickets) so clients can resume,
   * and a client remembers the latest session per server name and offers it
   * on its next connection to that name (FTPS data connections then resume
   * the control connection's session, as vsftpd's require_ssl_reuse wants).
   */
  int no_session_cache;
  /* Default handshake timeout of this context's connections; 0: 10 s. */
  uint64_t handshake_timeout_ms;
} nt_tls_ctx_options_t;

/* Creates a context. Returns 0 and *out, or NT_EINVAL (bad options),
 * NT_ENOENT (a file is missing), NT_ETLS_CONFIG (unreadable certificate or
 * key, key not matching the certificate, bad CA bundle), NT_ENOMEM; then
 * nt_tls_last_error() says which file and why. */
int nt_tls_ctx_new_sized(size_t opts_size, const nt_tls_ctx_options_t *opts,
                         nt_tls_ctx_t **out);
#define nt_tls_ctx_new(...) \
  nt_tls_ctx_new_sized(sizeof(nt_tls_ctx_options_t), __VA_ARGS__)

/* Takes one more reference to ctx, for another owner (a worker thread, a
 * client object) that drops it with nt_tls_ctx_free. Returns ctx (NULL is
 * fine). Thread-safe. */
nt_tls_ctx_t *nt_tls_ctx_ref(nt_tls_ctx_t *ctx);

/* Drops the caller's reference (NULL is fine); the last one frees the
 * context. Thread-safe. */
void nt_tls_ctx_free(nt_tls_ctx_t *ctx);

/* Per-connection settings; every field may be 0/NULL. */
typedef struct nt_tls_options_s {
  /* Client: the server's name (DNS name or IP literal, "[::1]" allowed).
   * It is checked against the certificate (unless the context is insecure)
   * and a DNS name is sent as SNI. NULL: the peer's IP address, from the
   * lower transport, is checked against the certificate's IP SANs. Copied.
   * Ignored by servers. */
  const char *server_name;
  /* Client: a session to resume (from nt_tls_get_session, maybe of another
   * connection to the same server). The connection takes its own copy when
   * it starts, so one session may be offered on any number of connections
   * (an FTPS control session on every data connection); NULL: the
   * context's cache is used. */
  nt_tls_session_t *session;
  /* 0: the context's default. The handshake fails with NT_ETIMEDOUT after
   * this long. */
  uint64_t handshake_timeout_ms;
  /* nt_tls_start only: bytes already read from the lower transport that
   * belong to the TLS stream (the start of a ClientHello that came in the
   * same read as the STARTTLS command). Copied. */
  const void *initial_data;
  size_t initial_len;
} nt_tls_options_t;

/*
 * Factory wrapper (Twisted's TLSMemoryBIOFactory)
 * -----------------------------------------------
 * Give &f->base to nt_tcp_connect or nt_tcp_listen (or build protocols with
 * it for the test reactor). For each connection it makes a TLS glue, runs
 * the handshake, and only then asks `inner` to build the protocol, which
 * gets connection_made with the TLS transport. inner's started_connecting
 * and connection_failed (TCP failures) are passed through. When the
 * handshake fails (or times out), inner->ops->connection_failed runs with
 * c == NULL and an NT_ETLS_* / NT_ETIMEDOUT status, from the loop, on
 * servers too (so a server may log it); no protocol is built.
 *
 * Lifetime: f, ctx and the session in opts are used only while connections
 * start (build_protocol of the lower transport); each connection then holds
 * its own references, and `inner` must stay alive until its build_protocol
 * or connection_failed has run for every connection started. f needs no
 * clean-up: there is nothing to free.
 */
typedef struct nt_tls_factory_s {
  nt_factory_t base; /* what you pass to nt_tcp_connect / nt_tcp_listen */
  /* private: set by nt_tls_factory_init, read by the TLS transport only */
  nt_factory_t *inner;
  nt_tls_ctx_t *ctx;
  nt_tls_session_t *session;
  uint64_t handshake_timeout_ms;
  int has_name;
  char server_name[256];
} nt_tls_factory_t;

/* Initialises f. Client or server follows the context. Returns 0, or
 * NT_EINVAL (NULL argument, server_name longer than 255 bytes). */
int nt_tls_factory_init_sized(size_t opts_size, nt_tls_factory_t *f,
                              nt_tls_ctx_t *ctx, nt_factory_t *inner,
                              const nt_tls_options_t *opts);
#define nt_tls_factory_init(...) \
  nt_tls_factory_init_sized(sizeof(nt_tls_options_t), __VA_ARGS__)

/*
 * STARTTLS: upgrades `lower` (a stream transport, open, e.g. the TCP
 * connection of an FTP control channel after "234 AUTH TLS OK") in place.
 *
 *  - The lower transport's current protocol is detached (not told, not
 *    destroyed: it is the caller's again, as with nt_transport_set_protocol)
 *    and the TLS glue becomes the lower's protocol. Bytes written to lower
 *    before this call go out first, in plaintext.
 *  - `upper` becomes the protocol of the new TLS transport, owned by it from
 *    now on; upper->transport points to it at once. Writes made before the
 *    handshake completes are queued and encrypted after it.
 *  - When the handshake completes, upper's connection_made runs with the TLS
 *    transport. upper may be the very protocol that spoke plaintext before:
 *    this second connection_made is then its "TLS is up" signal.
 *  - If it fails: upper's connection_lost(NT_ETLS_... or NT_ETIMEDOUT), then
 *    destroy, with no connection_made.
 *  - Reading on lower is resumed (the handshake needs it).
 * Never calls upper's callbacks before returning. Returns 0 and *out (may be
 * NULL), or NT_ECLOSED (lower is closing), NT_EINVAL, NT_ENOMEM,
 * NT_ETLS_CONFIG; on error nothing changed and upper is still the caller's.
 * It may be called from inside the lower protocol's data_received.
 */
int nt_tls_start_sized(size_t opts_size, nt_transport_t *lower,
                       nt_tls_ctx_t *ctx, nt_protocol_t *upper,
                       const nt_tls_options_t *opts, nt_transport_t **out);
#define nt_tls_start(...) \
  nt_tls_start_sized(sizeof(nt_tls_options_t), __VA_ARGS__)

/* --- queries on a TLS transport (NULL / 0 / NT_EINVAL on other transports) */

/* Non-zero for a transport made by this module. */
int nt_tls_is_tls(const nt_transport_t *t);

/* The transport TLS runs over (e.g. to set TCP options on it); NULL once it
 * is gone. */
nt_transport_t *nt_tls_lower(nt_transport_t *t);

/* Non-zero once the handshake has completed. */
int nt_tls_handshake_done(nt_transport_t *t);

/* "TLSv1.3", "TLSv1.2"; the cipher suite, e.g. "TLS_AES_256_GCM_SHA384";
 * the ALPN protocol agreed ("" if none). Static or owned by the transport:
 * valid while it is. */
const char *nt_tls_version(nt_transport_t *t);
const char *nt_tls_cipher(nt_transport_t *t);
const char *nt_tls_alpn(nt_transport_t *t);

/* Server: the name the client asked for with SNI ("" if none: clients send
 * none for IP addresses). Client: the name being verified. */
const char *nt_tls_server_name(nt_transport_t *t);

/* Non-zero if the handshake resumed an earlier session. */
int nt_tls_session_reused(nt_transport_t *t);

/* Why the connection failed ("" if it did not): e.g. "certificate has
 * expired". Valid while the transport is (inside connection_lost too). */
const char *nt_tls_error_reason(nt_transport_t *t);

/* The reason of the last TLS failure reported on this thread (a failed
 * nt_tls_ctx_new, a handshake that failed, a truncation...); "" if none. The
 * string is thread-local and is overwritten by the next failure. */
const char *nt_tls_last_error(void);

/* --- sessions ----------------------------------------------------------------- */

/* A new reference to the current session of t (client or server side), to
 * resume it on another connection (opts.session); NULL if there is none
 * yet. With TLS 1.3 the resumable session arrives in a ticket just after the
 * handshake: get it once some application data has come back (an FTP
 * reply, say), or check nt_tls_session_resumable. Free with
 * nt_tls_session_free. */
nt_tls_session_t *nt_tls_get_session(nt_transport_t *t);
int nt_tls_session_resumable(const nt_tls_session_t *s);
void nt_tls_session_free(nt_tls_session_t *s);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
