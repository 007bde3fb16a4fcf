/* HTTP/1.1 client: URLs, request bodies (multipart/form-data streamed from
 * disk), and requests with keep-alive, redirects, 100-continue and
 * timeouts, over TCP or TLS. Responses are parsed with llhttp. */
#ifndef NETTOOL_HTTP_H
#define NETTOOL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/errno.h>
#include <nettool/proxy.h>
#include <nettool/reactor.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * Ownership in short
 * ------------------
 *  - nt_url_t: its strings are the struct's (malloc'd); nt_url_free.
 *  - nt_multipart_t: the caller's, from nt_multipart_new to
 *    nt_multipart_free. It copies names, values and paths; it opens each
 *    file when added and keeps the descriptor until freed. Its body (and any
 *    nt_http_body_t) must outlive every request that sends it.
 *  - nt_http_client_t: the caller's; free it after its requests are done.
 *    It owns idle keep-alive connections (closed by nt_http_client_free).
 *  - nt_http_request_t: nettool's. It is valid from nt_http_request_start
 *    until its on_done callback returns (on_done runs exactly once, from the
 *    loop, never from inside a call the user made); then it is freed.
 *  - Everything a callback receives (response, headers, data) is valid only
 *    during that callback, unless said otherwise.
 *
 * Threads: one reactor's thread, like everything else.
 */

/* --- URLs ----------------------------------------------------------------- */

typedef struct nt_url_s {
  int https;      /* 0: http, 1: https */
  char *host;     /* lower case; IPv6 without brackets ("::1") */
  int port;       /* the explicit port, or 80 / 443 */
  char *target;   /* path and query, percent-encoded, starts with "/" */
  char *user;     /* decoded userinfo, NULL if none */
  char *password; /* NULL if the userinfo had no ':' */
} nt_url_t;

#define NT_URL_MAX 8192 /* longest URL accepted, in bytes */

/* Parses an absolute http:// or https:// URL ("example.org/x" is taken as
 * http). IPv6 literals in brackets, ports, userinfo (percent-decoded) and
 * query are kept; the fragment is dropped; bytes not allowed in a path
 * (spaces, controls, non-ASCII...) are percent-encoded and "." / ".."
 * segments removed. Returns 0, NT_EHTTP_BAD_URL, NT_EHTTP_SCHEME (another
 * scheme), NT_EBADPORT or NT_ENOMEM; on error *u is zeroed. */
int nt_url_parse(const char *s, nt_url_t *u);

/* Resolves a reference (a Location header: absolute, "//host/x", "/x",
 * "x", "?q") against base into *out (RFC 3986 section 5). The result has
 * only the credentials the reference itself carries. Same errors. */
int nt_url_resolve(const nt_url_t *base, const char *ref, nt_url_t *out);

void nt_url_free(nt_url_t *u);
int nt_url_copy(nt_url_t *dst, const nt_url_t *src);

/* Non-zero if a and b have the same scheme, host and port. */
int nt_url_same_origin(const nt_url_t *a, const nt_url_t *b);

/* "scheme://host[:port]/target", never the credentials. Returns the length
 * it needed (as snprintf); buf is always terminated when size > 0. */
size_t nt_url_format(const nt_url_t *u, char *buf, size_t size);

/* The Host header's value: "host", "host:8080", "[::1]:8080". */
size_t nt_url_host_header(const nt_url_t *u, char *buf, size_t size);

/* --- request bodies ------------------------------------------------------- */

typedef struct nt_http_body_s nt_http_body_t;

/* One piece of a body: memory (fd < 0: len bytes at data, valid until the
 * next call on the body) or a file range (fd >= 0, still the body's: flen
 * bytes from offset, sent with nt_transport_write_file). */
typedef struct nt_body_piece_s {
  const char *data;
  size_t len;
  int fd;
  uint64_t offset;
  uint64_t flen;
} nt_body_piece_t;

/*
 * A body is a pull producer: the client asks for the next piece only when
 * the transport can take more (it honours pause_writing/resume_writing), so
 * nothing is read ahead of the network.
 */
typedef struct nt_http_body_ops_s {
  /* Total bytes, or -1 when unknown (then sent with chunked encoding). */
  int64_t (*length)(nt_http_body_t *b);
  /* The Content-Type to send, or NULL. */
  const char *(*content_type)(nt_http_body_t *b);
  /* Next piece of at most max bytes: 1 (a piece in *out), 0 (the end),
   * NT_EAGAIN (no data yet: call wait), or an error (NT_EHTTP_FILE_CHANGED,
   * NT_EIO...). */
  int (*next)(nt_http_body_t *b, size_t max, nt_body_piece_t *out);
  /* After NT_EAGAIN: calls ready(arg) once, from the loop, when next may
   * have data. NULL when next never says NT_EAGAIN. */
  int (*wait)(nt_http_body_t *b, nt_reactor_t *r, nt_callback ready, void *arg);
  void (*cancel_wait)(nt_http_body_t *b);
  /* Back to the first byte, to send it again (307/308 redirects, retries).
   * NT_EHTTP_NO_REPLAY when it cannot (a stream already partly read). */
  int (*rewind)(nt_http_body_t *b);
  /* 0 if every file still has the size it had; NT_EHTTP_FILE_CHANGED. */
  int (*verify)(nt_http_body_t *b);
  /* Why the last call failed, e.g. the file that changed; "" if unknown. */
  const char *(*error)(nt_http_body_t *b);
} nt_http_body_ops_t;

struct nt_http_body_s {
  const nt_http_body_ops_t *ops;
};

/* A body held in memory (copied). Free with nt_http_body_memory_free. */
int nt_http_body_memory(const void *data, size_t len, const char *content_type,
                        nt_http_body_t **out);
void nt_http_body_memory_free(nt_http_body_t *b);

/* --- multipart/form-data (RFC 7578) --------------------------------------- */

typedef struct nt_multipart_s nt_multipart_t;

/* Limits: NT_EINVAL beyond them. */
#define NT_MULTIPART_MAX_PARTS 1024
#define NT_MULTIPART_MAX_NAME 1024         /* field names, filenames: bytes */
#define NT_MULTIPART_MAX_VALUE (64u << 20) /* one text field */

int nt_multipart_new(nt_multipart_t **out);
void nt_multipart_free(nt_multipart_t *m);

/* A text field (value copied; any bytes). Names and filenames may hold any
 * UTF-8, sent as it is; in the quoted header parameters '"' and '\' get a
 * backslash (\" and \\, which Werkzeug, busboy and Go unescape), and CR
 * and LF, which no header may hold, become %0D and %0A (as browsers do). */
int nt_multipart_add_field(nt_multipart_t *m, const char *name,
                           const char *value, size_t len);

/* A file part. The file is opened now (errors: NT_ENOENT, NT_EACCES,
 * -EISDIR for a directory...). filename NULL: the path's
 * last component; content_type NULL: guessed from filename's extension. A
 * regular file is streamed from disk with its size known up front; a pipe
 * or other stream ("/dev/stdin") makes the body's length unknown. */
int nt_multipart_add_file(nt_multipart_t *m, const char *name, const char *path,
                          const char *filename, const char *content_type);

/* A part read from fd until end of file (e.g. STDIN_FILENO, not closed by
 * nettool, not made non-blocking: read only when the reactor says it is
 * readable). The body's length becomes unknown (chunked). */
int nt_multipart_add_stream(nt_multipart_t *m, const char *name, int fd,
                            const char *filename, const char *content_type);

/* The body to give a request. The boundary is chosen when this is first
 * called ("nettool-" + 32 random letters and digits from getrandom, checked
 * not to occur in any text part; file contents are not scanned: 190 random
 * bits make a clash negligible); adding parts after that gives NT_EBUSY.
 * NULL on allocation failure (or if no clash-free boundary came up in 16
 * draws). The body (and its stream parts' watchers)
 * must be freed, with nt_multipart_free, before the reactor it ran on. */
nt_http_body_t *nt_multipart_body(nt_multipart_t *m);

/* The boundary (NULL before nt_multipart_body). */
const char *nt_multipart_boundary(const nt_multipart_t *m);

/* Content type from a file name's extension ("image/png"), else
 * "application/octet-stream". Static string. */
const char *nt_http_guess_type(const char *filename);

/* --- the client ----------------------------------------------------------- */

typedef struct nt_http_client_s nt_http_client_t;
typedef struct nt_http_request_s nt_http_request_t;

typedef struct nt_http_client_options_s {
  /* https: trusted CAs (NULL: the system's), or no verification at all
   * (insecure: the caller must warn the user). */
  const char *ca_file;
  int insecure;
  /* Idle keep-alive connections kept for reuse (0: 4) and for how long
   * (0: 30 s). They keep the reactor running while kept. */
  size_t max_idle;
  uint64_t idle_keep_ms;
  /* "User-Agent" (NULL: "nettool/0.1.0"). Copied. */
  const char *user_agent;
  /* Every connection through this proxy (proxy.h; NULL: direct), as a
   * tunnel (SOCKS5, or CONNECT for http:// URLs too), except to the hosts
   * no_proxy lists (nt_proxy_no_proxy_match). Both copied. */
  const nt_proxy_t *proxy;
  const char *no_proxy;
  /* With proxy NULL: each connection's proxy from the environment
   * (nt_proxy_from_env with its URL's scheme and host), so a redirect to
   * another host or scheme is judged afresh. */
  int proxy_from_env;
} nt_http_client_options_t;

/* Returns 0, NT_ENOMEM. opts may be NULL. */
int nt_http_client_new_sized(size_t opts_size, nt_reactor_t *r,
                             const nt_http_client_options_t *opts,
                             nt_http_client_t **out);
#define nt_http_client_new(...) \
  nt_http_client_new_sized(sizeof(nt_http_client_options_t), __VA_ARGS__)
/* Closes idle connections and frees the client. Requests still running are
 * cancelled first (their on_done runs later from the loop with
 * NT_ECANCELED). */
void nt_http_client_free(nt_http_client_t *c);

typedef struct nt_http_header_s {
  const char *name;
  const char *value;
} nt_http_header_t;

typedef struct nt_http_response_s {
  int status; /* 200... */
  const char *reason;
  int version_major, version_minor;
  const nt_http_header_t *headers;
  size_t nheaders;
  const nt_http_header_t *trailers; /* chunked trailers; in on_done only */
  size_t ntrailers;
  int64_t content_length; /* -1: chunked or until close */
  const char *url;        /* the URL answered (after redirects), no
                             credentials */
} nt_http_response_t;

/* Value of the first header named name (case-insensitive), or NULL. */
const char *nt_http_header_get(const nt_http_header_t *h, size_t n,
                               const char *name);

typedef struct nt_http_request_options_s {
  const char *url;    /* required; credentials in it mean Basic auth */
  const char *method; /* NULL: "POST" with a body, else "GET" */
  /* Extra header lines "Name: value", NULL-terminated array (may be NULL).
   * They replace nettool's header of the same name; "Name:" with nothing
   * after removes it ("Expect:" also stops nettool from waiting for 100
   * Continue; "Expect: 100-continue" asks for it whatever the body's size;
   * another Expect with a body is NT_EINVAL). With a multipart body a
   * Content-Type must be multipart/... and gets the body's boundary added
   * (a different boundary, another type or removing it: NT_EINVAL).
   * Checked: NT_EINVAL for a bad name or CR/LF. */
  const char *const *headers;
  /* Basic auth (NULL: the URL's userinfo, if any). Never sent to another
   * origin after a redirect, and neither is an Authorization or Cookie
   * header given above. */
  const char *user;
  const char *password;
  nt_http_body_t *body; /* NULL: none. Not owned. */
  /* The three limits of docs/DESIGN.md ("Time and timeouts"), each failing
   * with NT_ETIMEDOUT (nt_http_progress_t.limit says which):
   * total: the whole request, redirects and retries included (0: none). */
  uint64_t timeout_ms;
  /* idle: no byte moved either way for this long, counted from the first
   * connect attempt of each try (connecting and the TLS handshake move no
   * byte the request sees) to the end; an exact deadline (0: 30 s). */
  uint64_t idle_timeout_ms;
  /* connect: resolving + connecting + TLS handshake of each try (0: the
   * idle timeout). */
  uint64_t connect_timeout_ms;
  /* Redirects followed (0: default 10; -1: do not follow, the 3xx is the
   * answer). Past the limit: NT_EHTTP_REDIRECTS. */
  int max_redirects;
  /* Bodies over this many bytes, or of unknown length, are sent with
   * "Expect: 100-continue" (0: 1 MiB; UINT64_MAX: never). The body then
   * waits for "100 Continue" (or an error status) at most expect_timeout_ms
   * (0: 1 s), then goes anyway. */
  uint64_t expect_threshold;
  uint64_t expect_timeout_ms;
  /* Retries after transient failures (connect errors, timeouts, a reset
   * before any answer; status 408, 429, 500, 502, 503, 504), each after
   * retry_delay_ms (0: 1 s, doubling up to 10 s). */
  int max_retries;
  uint64_t retry_delay_ms;
  /* Limit on a response's status line + headers (and on its trailers)
   * (0: 64 KiB); beyond: NT_EHTTP_HEADERS_TOO_BIG. At most 256 fields. */
  size_t max_header_bytes;
} nt_http_request_options_t;

typedef struct nt_http_callbacks_s {
  /* The final response's head (1xx are skipped, followed redirects and
   * retried answers are not shown). May be NULL. */
  void (*on_response)(nt_http_request_t *q, const nt_http_response_t *resp,
                      void *arg);
  /* Body bytes, decoded from chunked. Return 0, or a negative NT_E* code to
   * stop the request with it (e.g. NT_ENOSPC writing a file). May be NULL. */
  int (*on_body)(nt_http_request_t *q, const char *data, size_t len, void *arg);
  /* Once, last. status 0: a whole final response arrived (whatever its HTTP
   * status); otherwise why it failed (NT_ECONNREFUSED, NT_EDNS_*,
   * NT_ETLS_*, NT_ETIMEDOUT, NT_EHTTP_*, NT_EUNEXPECTEDEOF, NT_ECANCELED,
   * NT_EHTTP_FILE_CHANGED...), with nt_http_request_error() saying more.
   * nt_http_request_response() works here. The request is freed after. */
  void (*on_done)(nt_http_request_t *q, int status, void *arg);
  /* A redirect is being followed (informational). May be NULL. */
  void (*on_redirect)(nt_http_request_t *q, int status, const char *to,
                      void *arg);
  /* A retry is scheduled after a transient failure. May be NULL. */
  void (*on_retry)(nt_http_request_t *q, int status_or_error, uint64_t delay_ms,
                   void *arg);
} nt_http_callbacks_t;

/* Starts a request. Returns 0 (on_done will run), or an error and no
 * callback: NT_EHTTP_BAD_URL, NT_EHTTP_SCHEME, NT_EBADPORT, NT_EINVAL (a
 * bad header), NT_ENOMEM. */
int nt_http_request_start_sized(size_t opts_size, nt_http_client_t *c,
                                const nt_http_request_options_t *opts,
                                const nt_http_callbacks_t *cbs, void *arg,
                                nt_http_request_t **out);
#define nt_http_request_start(...) \
  nt_http_request_start_sized(sizeof(nt_http_request_options_t), __VA_ARGS__)

/* Stops a request: on_done(NT_ECANCELED) follows from the loop. Safe from
 * inside the request's own callbacks; no effect once on_done has been
 * queued. */
void nt_http_request_cancel(nt_http_request_t *q);

typedef struct nt_http_progress_s {
  uint64_t sent;         /* body bytes the network took */
  int64_t send_total;    /* -1: unknown */
  uint64_t received;     /* response body bytes */
  int64_t receive_total; /* -1: unknown */
  int redirects, retries;
  int connected;     /* the last attempt got a connection */
  int body_error;    /* the request body (a file) made it fail */
  const char *state; /* the state machine's state name */
  int limit;         /* NT_ETIMEDOUT: which limit (NT_HTTP_LIMIT_*), else 0 */
  /* Of sent, the bytes the server's TCP stack acknowledged
   * (nt_transport_unacked; approximate over TLS); = sent where the
   * transport cannot say or the connection is gone. sent == send_total
   * with acked < sent: still in flight; acked == send_total and no
   * answer yet: the server is working on it. */
  uint64_t acked;
} nt_http_progress_t;

/* Which limit ended a request with NT_ETIMEDOUT. */
enum {
  NT_HTTP_LIMIT_CONNECT = 1, /* connect_timeout_ms */
  NT_HTTP_LIMIT_IDLE = 2,    /* idle_timeout_ms */
  NT_HTTP_LIMIT_TOTAL = 3,   /* timeout_ms */
};

void nt_http_request_progress_sized(size_t out_size, const nt_http_request_t *q,
                                    nt_http_progress_t *p);
#define nt_http_request_progress(...) \
  nt_http_request_progress_sized(sizeof(nt_http_progress_t), __VA_ARGS__)

/* The final response (during and after on_response, and in on_done); NULL
 * before. */
const nt_http_response_t *nt_http_request_response(nt_http_request_t *q);

/* The URL of the current (or last) try, after redirects, without
 * credentials: the target a failure is about. Valid until the request is
 * freed. */
const char *nt_http_request_url(const nt_http_request_t *q);

/* One line with more about a failure (llhttp's reason, the TLS reason, the
 * file that changed...), or "". Valid until the request is freed. */
const char *nt_http_request_error(const nt_http_request_t *q);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
