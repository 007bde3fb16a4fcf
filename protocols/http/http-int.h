/* Private to protocols/http: the response parser glue (the only user of
 * llhttp is http_parse.c), the request head writer, connections and the
 * pool, and the events table through which connections report to the
 * request (they never call it by name). */
#ifndef NETTOOL_HTTP_INT_H
#define NETTOOL_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "nettool/http.h"
#include "nettool/protocol.h"
#include "nettool/tls.h"
#include "nettool/transport.h"

/* --- response parser (http_parse.c) --------------------------------------- */

typedef struct nt__http_parser nt__http_parser_t;

/* Return values of the callbacks. */
enum { NT__HTTP_GO = 0, NT__HTTP_STOP = 1 };

typedef struct nt__http_parser_cbs {
  /* A 1xx interim response (never 101: that is an error). */
  int (*on_interim)(void *arg, int status);
  /* The final response's head; the accessors below work from here on. */
  int (*on_head)(void *arg, nt__http_parser_t *p);
  int (*on_body)(void *arg, const char *data, size_t len);
  /* The final response is complete (trailers readable). */
  int (*on_complete)(void *arg, nt__http_parser_t *p, int keep_alive);
} nt__http_parser_cbs_t;

#define NT__HTTP_DEFAULT_MAX_HEADER (64u * 1024u)
#define NT__HTTP_MAX_FIELDS 256
#define NT__HTTP_MAX_INTERIM 32

int nt__http_parser_new(const nt__http_parser_cbs_t *cbs, void *arg,
                        nt__http_parser_t **out);
void nt__http_parser_free(nt__http_parser_t *p);
/* Ready for the response to a new request. head_request: no body follows. */
void nt__http_parser_reset(nt__http_parser_t *p, int head_request,
                           size_t max_header_bytes);

/* Result of feed. */
enum {
  NT__HTTP_MORE = 0,    /* all used; the response is not complete */
  NT__HTTP_DONE = 1,    /* the final response ended; *used bytes were its */
  NT__HTTP_STOPPED = 2, /* a callback returned NT__HTTP_STOP */
};
/* Feeds response bytes. Returns one of the above or an error:
 * NT_EHTTP_PARSE (llhttp's reason in nt__http_parser_error) or
 * NT_EHTTP_HEADERS_TOO_BIG. */
int nt__http_parser_feed(nt__http_parser_t *p, const char *data, size_t len,
                         size_t *used);
/* The peer closed. Returns NT__HTTP_DONE (the body ran until the close and
 * on_complete was called), NT__HTTP_MORE (no response had started),
 * NT__HTTP_STOPPED, or NT_EUNEXPECTEDEOF (a response was cut short). */
int nt__http_parser_finish(nt__http_parser_t *p);
/* Some byte of a response has been seen since the reset. */
int nt__http_parser_started(const nt__http_parser_t *p);
const char *nt__http_parser_error(const nt__http_parser_t *p);

typedef struct nt__http_head_info {
  int status, major, minor;
  int64_t content_length; /* -1: none */
  int chunked;
  int until_close; /* the body runs until the connection closes */
} nt__http_head_info_t;
void nt__http_parser_info(const nt__http_parser_t *p, nt__http_head_info_t *i);
/* First final-head field with that name (case-insensitive), or NULL; valid
 * until the next feed. */
const char *nt__http_parser_header(const nt__http_parser_t *p,
                                   const char *name);
/* Copies the head (reason + fields) or the trailers into one allocation
 * *block (free it): *reason (head only), *fields[*n]. */
int nt__http_parser_copy(const nt__http_parser_t *p, int trailers, void **block,
                         const char **reason, nt_http_header_t **fields,
                         size_t *n);

/* --- request head (request_head.c) ---------------------------------------- */

typedef struct nt__http_head_params {
  const char *method;
  const nt_url_t *url;
  const char *user_agent;
  const char *user, *password; /* Basic auth; NULL: none */
  const char *const *extra;    /* "Name: value" lines, NULL-terminated */
  int drop_credentials;        /* leave out Authorization and Cookie lines */
  const char *content_type;    /* NULL: none */
  int64_t content_length;      /* -1: chunked; -2: no body */
  int expect_continue;
} nt__http_head_params_t;

#define NT__HTTP_MAX_EXTRA 100
#define NT__HTTP_MAX_EXTRA_LINE 8192

/* Checks one "Name: value" line: 0 or NT_EINVAL. */
int nt__http_check_header_line(const char *line);
/* Builds the request head; *out is malloc'd. 0 or NT_ENOMEM. */
int nt__http_build_head(const nt__http_head_params_t *hp, char **out,
                        size_t *len);
/* Base64 of src into dst (room for 4*ceil(n/3)+1); returns the length. */
size_t nt__base64(const unsigned char *src, size_t n, char *dst);

/* --- multipart (multipart.c) ---------------------------------------------- */

/* Test hook: the source of the boundary's random bytes (NULL: getrandom). */
typedef int (*nt__random_fn)(void *buf, size_t n);
void nt__multipart_set_random(nt__random_fn fn);

/* --- client, connections, pool (conn.c) ----------------------------------- */

typedef struct nt__http_conn nt__http_conn_t;
typedef struct nt__http_dial nt__http_dial_t;

/* What a connection (and the dial making it) reports to the request using
 * it: conn.c and dial.c call these and nothing of the request by name
 * (the request hands the table to nt__http_dial; a pooled connection keeps
 * the one it was made with for its next request). The request drives the
 * connection through the nt__http_conn_* functions below; calls go one
 * way: request -> connection -> (this table) -> request's events. */
typedef struct nt__http_conn_events {
  /* The response parser's callbacks; arg: the connection
   * (nt__http_conn_request gives the request). */
  const nt__http_parser_cbs_t *parser;
  /* The dial's connection is up (TCP, and TLS for https). */
  void (*connected)(nt_http_request_t *q, nt__http_conn_t *conn);
  /* The dial failed; detail: a reason (may be NULL). */
  void (*connect_failed)(nt_http_request_t *q, int status,
                         const char *detail);
  /* The transport takes writes again (resume_writing). */
  void (*writable)(nt_http_request_t *q);
  /* Bytes arrived: progress for the idle limit. */
  void (*progress)(nt_http_request_t *q);
  /* The connection is gone (it no longer refers to q). */
  void (*lost)(nt_http_request_t *q, int status);
  /* A parse error or a response cut short by the close. */
  void (*failed)(nt_http_request_t *q, int status, const char *detail);
} nt__http_conn_events_t;

/* Test hook: replaces nt_tcp_connect. It must, from the loop, either build
 * a protocol with f and give it a transport, or call
 * f->ops->connection_failed(f, NULL, status). */
typedef int (*nt__http_connect_fn)(void *arg, nt_reactor_t *r, const char *host,
                                   int port, int https, nt_factory_t *f);

struct nt_http_client_s {
  nt_reactor_t *reactor;
  char *ca_file;
  int insecure;
  size_t max_idle;
  uint64_t idle_keep_ms;
  char *user_agent;
  nt_tls_ctx_t *tls; /* made on the first https request */
  nt__http_conn_t *idle_head;
  size_t nidle;
  nt_http_request_t *requests; /* running, to cancel on free */
  nt__http_connect_fn connect_hook;
  void *connect_hook_arg;
  nt_proxy_t *proxy; /* copies of the options' proxy fields */
  char *no_proxy;
  int proxy_from_env;
};

void nt__http_client_set_connect_hook(nt_http_client_t *c,
                                      nt__http_connect_fn fn, void *arg);

/* Starts connecting for q, which hears of it through ev (connected or
 * connect_failed, from the loop). *detail gets a reason on failure. 0, or
 * an error (then nothing will be called). */
int nt__http_dial(nt_http_client_t *c, nt_http_request_t *q,
                  const nt__http_conn_events_t *ev, const nt_url_t *u,
                  uint64_t timeout_ms, nt__http_dial_t **out,
                  const char **detail);
/* The request no longer wants this connection. */
void nt__http_dial_abandon(nt__http_dial_t *d);

/* An idle connection to u's origin, detached from the pool, or NULL. */
nt__http_conn_t *nt__http_pool_take(nt_http_client_t *c, const nt_url_t *u);
/* A connection for the client: its protocol (the transport comes next),
 * reporting to q (when the transport is up: ev->connected). */
nt_protocol_t *nt__http_conn_new(nt_http_client_t *cl,
                                   const nt__http_conn_events_t *ev,
                                   nt_http_request_t *q, int https,
                                   const char *host, int port);
/* Closes every idle connection (client free); they outlive the client. */
void nt__http_pool_drain(nt_http_client_t *c);
/* q uses conn from now on; its parser is readied for q's response. */
void nt__http_conn_attach(nt__http_conn_t *c, nt_http_request_t *q,
                          int head_request, size_t max_header_bytes);
/* The request is done with conn. clean: the exchange ended cleanly, so
 * conn is kept for reuse if reusable (and not broken), else closed after
 * flushing; not clean (or broken): closed now, queued bytes dropped. */
void nt__http_conn_detach(nt__http_conn_t *c, int clean, int reusable);
/* The request using conn, or NULL (idle, or lost). */
nt_http_request_t *nt__http_conn_request(const nt__http_conn_t *c);
/* The response parser (the request reads the head and trailers). */
nt__http_parser_t *nt__http_conn_parser(const nt__http_conn_t *c);
/* Never reuse conn (an early answer, a body not worth reading...). */
void nt__http_conn_mark_broken(nt__http_conn_t *c);
/* The transport, or NULL before it is made. */
nt_transport_t *nt__http_conn_transport(const nt__http_conn_t *c);
/* The transport takes writes now (not paused, not closing). */
int nt__http_conn_can_write(const nt__http_conn_t *c);
/* Bytes queued for the socket and not yet taken. */
size_t nt__http_conn_queued(const nt__http_conn_t *c);

/* The client's running requests (request_api.c). */
void nt__http_client_forget(nt_http_client_t *c, nt_http_request_t *q);
/* Ends every running request with NT_ECANCELED (client free). */
void nt__http_client_cancel_all(nt_http_client_t *c);

#endif
