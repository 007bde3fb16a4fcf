/* NNTP reader client (RFC 3977, with AUTHINFO USER/PASS from RFC 4643 and
 * STARTTLS from RFC 4642), built on the pingpong command/response engine:
 * a queue of commands with completion callbacks, multi-line responses
 * streamed line by line (dot-unstuffed, never collected), and the article
 * model and text helpers a news reader needs (header unfolding, RFC 2047
 * encoded words decoded to UTF-8 with iconv, the "meaningful lines" filter).
 */
#ifndef NETTOOL_NNTP_H
#define NETTOOL_NNTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <nettool/errno.h>
#include <nettool/pingpong.h>
#include <nettool/protocol.h>
#include <nettool/proxy.h>
#include <nettool/reactor.h>
#include <nettool/tls.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * Ownership
 * ---------
 * nt_nntp_t is made by nt_nntp_connect (or nt_nntp_new) and freed by
 * nettool right after its closed() callback has returned; do not use it
 * after that. Strings in nt_nntp_options_t are copied (the password is
 * wiped from memory when the client is freed); the TLS context is NOT
 * copied: it is the caller's and must stay alive until closed() has run.
 * Commands are copied when queued; every pointer handed to a callback (reply
 * text, lines, parsed fields) is valid only during that call.
 *
 * Callbacks run on the reactor's thread, from the transport's data path.
 * They may queue more commands, call nt_nntp_close, or do nothing; the
 * client is never freed while one of its callbacks is on the stack.
 *
 * The rule of the library holds: when a function that takes a callback
 * returns an error, that callback is never called. Every command that was
 * accepted gets its done() callback exactly once: with status 0, with
 * NT_ENNTP_* (the server answered no; the result has its code and words),
 * or with the error that ended the connection.
 *
 * Session set-up (the state machine)
 * ----------------------------------
 *   CONNECTING -> GREETING (200 posting allowed, 201 not; any 4xx/5xx
 *      ends it with NT_ENNTP_UNAVAILABLE, another code with
 *      NT_ENNTP_BADREPLY, a line that is no reply with NT_EPROTO)
 *   -> CAPABILITIES (a server without it, 500, is treated as RFC 977: OVER
 *      and HDR are tried and fall back to XOVER and XHDR on 500)
 *   -> MODE_READER (only when CAPABILITIES lacks READER)
 *   -> STARTTLS -> TLS_HANDSHAKE -> CAPABILITIES again (tls = STARTTLS)
 *   -> AUTH_USER -> AUTH_PASS -> CAPABILITIES again (credentials given)
 *   -> COMPRESS (RFC 8054, when CAPABILITIES lists "COMPRESS DEFLATE" and
 *      no_compress is not set; 206: both directions are raw deflate from
 *      then on, over TLS when TLS is used; a refusal: go on without)
 *   -> READY: queued commands go out. (COMPRESS is listed last in the enum
 *      only so the values of the others stay as they were.)
 *
 * Pipelining (RFC 3977 3.5): ARTICLE, HEAD, BODY, STAT, OVER, HDR, GROUP,
 * LISTGROUP, NEXT, LAST, LIST and DATE go out without waiting for the
 * replies before them, up to a window of requests in flight; replies, and
 * so done() callbacks, come in the order the commands were queued. The
 * window starts at 8 and grows with the measured round trip (doubling per
 * round of replies while the round trip dominates, toward four times the
 * bandwidth-delay product in replies, up to options.pipeline; it does not
 * shrink).
 * POST, QUIT, and a command that may have to be sent again (OVER/HDR
 * before the server is known to have them: XOVER/XHDR; anything while
 * credentials are given and not yet accepted: 480) are sent alone.
 *
 * A server that cannot pipeline (RFC 3977 3.5 allows it) closes the
 * connection, or answers 400 or 500, when a second command arrives before
 * its answer. The client falls back by itself: when the connection ends
 * (EOF, reset, a 400) with a command unanswered that went out while another
 * was awaited, or such a command gets 400/500 (ARTICLE, HEAD, BODY, STAT,
 * GROUP, LISTGROUP, NEXT, LAST, DATE, OVER/HDR the server listed), it
 * connects again with the same options (TLS, AUTHINFO and COMPRESS as
 * before; ready() is not called again), selects the group (and the
 * current article, by STAT) that was selected, and sends the unanswered
 * commands again one at a time, remembering that this server does not
 * pipeline (the window stays 1: nt_nntp_pipeline_refused). Each command's
 * done() still comes once, in order; a command whose reply had begun
 * when the connection ended is not sent again (it ends with the error).
 * This happens at most once per client; a client made by nt_nntp_new
 * needs options.reconnect for it (else it ends as any lost connection).
 * A 480 (authentication required) to any command, with credentials given,
 * runs AUTHINFO and then sends that command again, once. nt_nntp_close
 * sends QUIT (QUITTING) and the session ends (CLOSED).
 */

typedef struct nt_nntp_s nt_nntp_t;

/* The states, in order: one list for the enum and nt_nntp_state_name. */
#define NT_NNTP_STATES(X)                                                  \
  X(CONNECTING, "TCP connect (and, for NNTPS, TLS handshake)")             \
  X(GREETING, "waiting for the server's 200/201")                          \
  X(CAPABILITIES, "CAPABILITIES sent")                                     \
  X(MODE_READER, "MODE READER sent")                                       \
  X(STARTTLS, "STARTTLS sent, waiting for 382")                            \
  X(TLS_HANDSHAKE, "382 received, TLS handshake running")                  \
  X(AUTH_USER, "AUTHINFO USER sent")                                       \
  X(AUTH_PASS, "AUTHINFO PASS sent")                                       \
  X(READY, "commands flow")                                                \
  X(QUITTING, "QUIT sent")                                                 \
  X(CLOSED, "the session is over")                                         \
  X(COMPRESS, "COMPRESS DEFLATE sent (after AUTH, before READY)")

#define NT__NNTP_STATE_ENUM(name, doc) NT_NNTP_##name,
typedef enum nt_nntp_state_e {
  NT_NNTP_STATES(NT__NNTP_STATE_ENUM) NT_NNTP_STATE_COUNT
} nt_nntp_state_t;
#undef NT__NNTP_STATE_ENUM

/* "READY", "AUTH_USER"...; "?" for a value out of range. */
const char *nt_nntp_state_name(nt_nntp_state_t s);
nt_nntp_state_t nt_nntp_state(const nt_nntp_t *c);
/* In closed(): the state the session was in when it ended (CONNECTING and
 * TLS_HANDSHAKE mean the connect limit ran out, the others a reply's). */
nt_nntp_state_t nt_nntp_end_state(const nt_nntp_t *c);

enum {
  NT_NNTP_TLS_NONE = 0,
  NT_NNTP_TLS_STARTTLS = 1, /* plain connect, then STARTTLS (required) */
  NT_NNTP_TLS_IMPLICIT = 2, /* NNTPS: TLS from the first byte (port 563) */
};

#define NT_NNTP_PORT 119
#define NT_NNTPS_PORT 563

typedef struct nt_nntp_options_s {
  const char *user; /* AUTHINFO USER, sent when the server asks (480) or at
                       set-up; NULL: none */
  const char *pass; /* AUTHINFO PASS; never logged */
  int tls;          /* NT_NNTP_TLS_* */
  nt_tls_ctx_t *tls_ctx;       /* required with tls; the caller's */
  const char *tls_server_name; /* name checked in the certificate; NULL:
                                  the host given to nt_nntp_connect */
  uint64_t connect_timeout_ms; /* resolving, connecting and every TLS
                                  handshake (NNTPS, STARTTLS); 0: 30 s */
  uint64_t timeout_ms;         /* a reply (status line) must be complete
                                  within this of its command (the greeting:
                                  of the connection); inside a multi-line
                                  response each line restarts it; 0: 60 s */
  size_t max_line;             /* longest status line; 0: 64 KiB */
  size_t max_block_line;       /* longest line inside a multi-line response
                                  (article lines: a 70 KB header is real
                                  life); 0: 1 MiB, never below max_line */
  size_t max_block;            /* bytes of one multi-line response (it is
                                  streamed, not kept); 0: 1 GiB */
  int no_mode_reader;          /* never send MODE READER */
  int auth_when_asked;         /* with user/pass: log in only when a
                                  command gets 480, not at set-up */
  unsigned pipeline;           /* most commands in flight at once (the
                                  window's ceiling); 0: 64; 1: no
                                  pipelining (one command at a time) */
  int no_compress;             /* never send COMPRESS DEFLATE (it is used
                                  when the server lists it) */
  const nt_proxy_t *proxy;     /* connect through this proxy (proxy.h;
                                  NULL: direct); copied by the connect */
  /* A client made by nt_nntp_new has no address of its own: to let it fall
   * back from a server that refuses pipelining (above), this hands p (the
   * same protocol as nt_nntp_protocol) to a new transport (nt_tcp_connect
   * with a factory building p, or the test reactor's transport), at once
   * or later, and returns 0; or an NT_E* error, which ends the client
   * with it. arg is the callbacks' arg. Called from the loop. NULL: such
   * a client does not reconnect. nt_nntp_connect ignores it (it
   * connects again by itself). */
  int (*reconnect)(nt_nntp_t *c, nt_protocol_t *p, void *arg);
} nt_nntp_options_t;

typedef struct nt_nntp_callbacks_s {
  /* Set-up is done (greeting, capabilities, TLS, authentication): READY.
   * Commands may be queued before this; they wait for it. */
  void (*ready)(nt_nntp_t *c, void *arg);
  /* The session is over. status 0 after nt_nntp_close (or the server
   * closing an idle session); otherwise why: NT_ECONNREFUSED,
   * NT_EDNS_NXDOMAIN, NT_ETIMEDOUT, NT_ETLS_* (nt_nntp_tls_error tells
   * why), NT_ENNTP_* (the server refused the set-up: nt_nntp_last_code and
   * nt_nntp_last_reply have its words), NT_EUNEXPECTEDEOF... The client is
   * freed when this returns. */
  void (*closed)(nt_nntp_t *c, int status, void *arg);
} nt_nntp_callbacks_t;

/* Connects to host (a name or a numeric address) and port (0: 119, or 563
 * for NNTPS). Returns 0 (callbacks follow), or NT_EINVAL (tls without a
 * context, a user without a password), NT_EBADPORT, NT_EDNS_BADNAME,
 * NT_ENOMEM (no callback then). */
int nt_nntp_connect_sized(size_t opts_size, nt_reactor_t *r, const char *host,
                          int port, const nt_nntp_options_t *opts,
                          const nt_nntp_callbacks_t *cbs, void *arg,
                          nt_nntp_t **out);
#define nt_nntp_connect(...) \
  nt_nntp_connect_sized(sizeof(nt_nntp_options_t), __VA_ARGS__)

/* A client not connected anywhere, to run over a transport you provide (the
 * test reactor's): hand nt_nntp_protocol(c) to it. From then on the
 * transport owns c. opts->tls may be STARTTLS (the upgrade runs over that
 * transport), not IMPLICIT. */
int nt_nntp_new_sized(size_t opts_size, nt_reactor_t *r,
                      const nt_nntp_options_t *opts,
                      const nt_nntp_callbacks_t *cbs, void *arg,
                      nt_nntp_t **out);
#define nt_nntp_new(...) \
  nt_nntp_new_sized(sizeof(nt_nntp_options_t), __VA_ARGS__)
nt_protocol_t *nt_nntp_protocol(nt_nntp_t *c);

/* Ends the session: QUIT after the commands already queued, then close;
 * while connecting, the attempt is cancelled. closed() follows. */
void nt_nntp_close(nt_nntp_t *c);

/* Set-up facts, valid once READY. */
int nt_nntp_posting_allowed(const nt_nntp_t *c); /* greeting 200, MODE READER */
int nt_nntp_is_tls(const nt_nntp_t *c);
int nt_nntp_authenticated(const nt_nntp_t *c);
/* Capabilities (RFC 3977 5.2): 1 if the server listed `name` (e.g. "OVER",
 * "HDR", "STARTTLS", "READER"), 0 if not, -1 if it does not support
 * CAPABILITIES. */
int nt_nntp_has_capability(const nt_nntp_t *c, const char *name);

/* COMPRESS DEFLATE is active (RFC 8054). */
int nt_nntp_is_compressed(const nt_nntp_t *c);
/* Pipelining: the window now (commands allowed in flight), the smoothed
 * round trip in ms (0 before a measurement; loopback rounds to 0), and the
 * most commands that were ever in flight at once on this connection (the
 * count starts again on the connection of a fall-back). */
unsigned nt_nntp_pipeline_window(const nt_nntp_t *c);
/* 1 once the server refused pipelining and the client fell back to one
 * command at a time (on a new connection), else 0. */
int nt_nntp_pipeline_refused(const nt_nntp_t *c);
uint64_t nt_nntp_rtt_ms(const nt_nntp_t *c);
size_t nt_nntp_peak_in_flight(const nt_nntp_t *c);
/* Requests sent and not yet answered. */
size_t nt_nntp_in_flight(const nt_nntp_t *c);

/* The last complete reply's code and text (without the code), e.g. for an
 * error message in the server's words; "" and 0 before any. */
int nt_nntp_last_code(const nt_nntp_t *c);
const char *nt_nntp_last_reply(const nt_nntp_t *c);
/* The last line the server sent outside a multi-line response, as it came
 * (at most 255 bytes, not sanitised): to quote a greeting or reply that is
 * not NNTP at all ("999 hi", "SSH-2.0-..."), which ends the session with
 * NT_EPROTO. "" before any. */
const char *nt_nntp_last_line(const nt_nntp_t *c);
/* Why TLS failed (a certificate problem...), "" if it did not. */
const char *nt_nntp_tls_error(const nt_nntp_t *c);

/* --- commands ------------------------------------------------------------------ */

/* What a command's done() gets. Pointers are valid only during the call. */
typedef struct nt_nntp_result_s {
  int status;       /* 0, NT_ENNTP_* (see code and text), or the error that
                       ended the connection */
  int code;         /* the server's reply code; 0 if there was none */
  const char *text; /* the reply after the code, e.g. "5 1 5 local.test" */
  /* GROUP, LISTGROUP: */
  uint64_t count, low, high;
  const char *group;
  /* ARTICLE, HEAD, BODY, STAT, NEXT, LAST: the article's number (0 when
   * asked by message-id) and message-id ("" if the server gave none). */
  uint64_t number;
  const char *message_id;
  time_t date;      /* DATE: the server's time (UTC) */
  uint64_t lines;   /* multi-line responses: lines received */
} nt_nntp_result_t;

typedef void (*nt_nntp_done_cb)(nt_nntp_t *c, const nt_nntp_result_t *r,
                                void *arg);
/* One line of a multi-line response: dot-unstuffed, without CRLF. */
typedef void (*nt_nntp_line_cb)(nt_nntp_t *c, const char *line, size_t len,
                                void *arg);

/* A string slice into a line (not NUL-terminated). */
typedef struct nt_nntp_str_s {
  const char *p;
  size_t n;
} nt_nntp_str_t;

/* One overview line (OVER/XOVER), fields in RFC 3977 order. */
typedef struct nt_nntp_overview_s {
  uint64_t number; /* 0 when asked by message-id */
  nt_nntp_str_t subject, from, date, message_id, references;
  uint64_t bytes, lines;
  nt_nntp_str_t extra; /* the rest (e.g. "Xref: ..."), tabs included */
} nt_nntp_overview_t;
typedef void (*nt_nntp_over_cb)(nt_nntp_t *c, const nt_nntp_overview_t *o,
                                void *arg);
/* One HDR/XHDR line: article number (0 by message-id) and the value. */
typedef void (*nt_nntp_hdr_cb)(nt_nntp_t *c, uint64_t number,
                               const char *value, size_t len, void *arg);

/* Every command returns 0 (queued; done() follows), NT_EINVAL (an argument
 * that is not a valid group name / message-id / range / wildmat, or that
 * contains CR, LF or spaces where none may be), NT_ENOTCONN (closing or
 * closed), or NT_ENOMEM. A spec is an article number ("123") or a
 * message-id ("<id@host>"); NULL means the current article. A range is
 * "N", "N-", or "N-M". */

/* GROUP: selects a group; result count/low/high/group. 411: NT_ENNTP_NOGROUP. */
int nt_nntp_group(nt_nntp_t *c, const char *group, nt_nntp_done_cb done,
                  void *arg);
/* LISTGROUP [group [range]]: article numbers, one per line. */
int nt_nntp_listgroup(nt_nntp_t *c, const char *group, const char *range,
                      nt_nntp_line_cb line, nt_nntp_done_cb done, void *arg);

typedef enum nt_nntp_fetch_e {
  NT_NNTP_ARTICLE, /* headers, empty line, body */
  NT_NNTP_HEAD,
  NT_NNTP_BODY,
  NT_NNTP_STAT     /* no lines: number and message-id only */
} nt_nntp_fetch_t;
/* ARTICLE/HEAD/BODY/STAT by number or message-id; lines streamed to line.
 * 423/430: NT_ENNTP_NOARTICLE; 412: NT_ENNTP_NOGROUPSEL. */
int nt_nntp_fetch(nt_nntp_t *c, nt_nntp_fetch_t what, const char *spec,
                  nt_nntp_line_cb line, nt_nntp_done_cb done, void *arg);
/* NEXT / LAST: move the current article pointer (421/422: NOARTICLE). */
int nt_nntp_next(nt_nntp_t *c, nt_nntp_done_cb done, void *arg);
int nt_nntp_last(nt_nntp_t *c, nt_nntp_done_cb done, void *arg);
/* OVER range|message-id (NULL: current), XOVER when the server lacks OVER. */
int nt_nntp_over(nt_nntp_t *c, const char *spec, nt_nntp_over_cb over,
                 nt_nntp_done_cb done, void *arg);
/* HDR field range|message-id, XHDR when the server lacks HDR. */
int nt_nntp_hdr(nt_nntp_t *c, const char *field, const char *spec,
                nt_nntp_hdr_cb hdr, nt_nntp_done_cb done, void *arg);
/* LIST keyword [wildmat]: keyword "ACTIVE" (NULL), "NEWSGROUPS",
 * "OVERVIEW.FMT", "ACTIVE.TIMES", "HEADERS"... Lines as the server sends
 * them; nt_nntp_parse_active parses ACTIVE and NEWGROUPS lines. */
int nt_nntp_list(nt_nntp_t *c, const char *keyword, const char *wildmat,
                 nt_nntp_line_cb line, nt_nntp_done_cb done, void *arg);
/* NEWGROUPS / NEWNEWS since a time (sent as UTC "yyyymmdd hhmmss GMT"). */
int nt_nntp_newgroups(nt_nntp_t *c, time_t since, nt_nntp_line_cb line,
                      nt_nntp_done_cb done, void *arg);
int nt_nntp_newnews(nt_nntp_t *c, const char *wildmat, time_t since,
                    nt_nntp_line_cb line, nt_nntp_done_cb done, void *arg);
/* DATE: result date. */
int nt_nntp_date(nt_nntp_t *c, nt_nntp_done_cb done, void *arg);
/* POST: article = headers, empty line, body; LF or CRLF line ends. It is
 * copied, dot-stuffed and sent after the server's 340. 240: done(0);
 * 440: NT_ENNTP_NOPOST; 441: NT_ENNTP_POSTFAIL (the text says why).
 * NT_ETOOBIG over 16 MiB, NT_EINVAL if it contains a NUL byte. */
int nt_nntp_post(nt_nntp_t *c, const char *article, size_t len,
                 nt_nntp_done_cb done, void *arg);

/* Queued commands not yet answered (including one in flight). */
size_t nt_nntp_pending(const nt_nntp_t *c);

/* --- parsers (no I/O; also the fuzz targets) ---------------------------------------- */

/* "211 5 1 5 local.test" text part -> count, low, high, group.
 * 0 or NT_ENNTP_BADREPLY. */
int nt_nntp_parse_group(const char *text, size_t len, uint64_t *count,
                        uint64_t *low, uint64_t *high, nt_nntp_str_t *group);
/* "<n> <message-id>" of 220-223 -> number, message-id. */
int nt_nntp_parse_article_reply(const char *text, size_t len, uint64_t *number,
                                nt_nntp_str_t *message_id);
/* One overview line. 0 or NT_ENNTP_BADREPLY (fewer than 8 fields, bad
 * number). */
int nt_nntp_parse_overview(const char *line, size_t len, nt_nntp_overview_t *o);
/* LIST ACTIVE / NEWGROUPS line: "group high low status". */
typedef struct nt_nntp_active_s {
  nt_nntp_str_t group;
  uint64_t high, low;
  char status; /* 'y' posting allowed, 'n' not, 'm' moderated, ... */
  nt_nntp_str_t alias_of; /* status '=': the group it is an alias of */
} nt_nntp_active_t;
int nt_nntp_parse_active(const char *line, size_t len, nt_nntp_active_t *a);
/* DATE reply text "yyyymmddhhmmss" -> UTC time. */
int nt_nntp_parse_date(const char *text, size_t len, time_t *out);
/* An RFC 5322 date ("Mon, 23 Nov 2026 12:33:31 +0100", obsolete forms
 * too) -> UTC time. 0 or NT_EINVAL. */
int nt_nntp_parse_rfc5322_date(const char *s, size_t len, time_t *out);
/* Checks: a message-id "<...>" (3-250 bytes, printable, no spaces), a
 * group name, a range "N", "N-", "N-M". 1 if valid. */
int nt_nntp_valid_message_id(const char *s);
int nt_nntp_valid_group(const char *s);
int nt_nntp_valid_range(const char *s);

/* --- text: RFC 2047 and charsets ----------------------------------------------------- */

/* Decodes a header value to UTF-8: RFC 2047 encoded words (B and Q, any
 * charset iconv knows; adjacent words joined, their whitespace dropped),
 * raw 8-bit text taken as UTF-8 if valid, else as `fallback_charset`
 * (NULL: ISO-8859-1). Undecodable bytes (and NULs) become U+FFFD; an
 * unknown charset
 * leaves the encoded word as it was. *out is malloc'ed, NUL-terminated;
 * the caller frees it. Returns 0, NT_ENOMEM, or NT_ETOOBIG (input over
 * 1 MiB). */
int nt_nntp_decode_header(const char *in, size_t len,
                          const char *fallback_charset, char **out,
                          size_t *outlen);
/* Converts text from charset to UTF-8 (the same rules for bad bytes);
 * NULL/"utf-8"/"us-ascii": checked and kept. Allocation as above. */
int nt_nntp_to_utf8(const char *charset, const char *in, size_t len,
                    char **out, size_t *outlen);
/* Encodes a UTF-8 header value as RFC 2047 B encoded words when it is not
 * pure ASCII (for POST); ASCII is copied as it is. Caller frees *out. */
int nt_nntp_encode_header(const char *utf8, char **out);

/* --- the article model ------------------------------------------------------------------- */

typedef struct nt_nntp_header_s {
  char *name;  /* as sent, e.g. "Subject" */
  char *value; /* unfolded (CRLF + whitespace -> the whitespace), raw */
} nt_nntp_header_t;

/* Body lines are handed, decoded (quoted-printable or base64 undone,
 * charset from Content-Type converted to UTF-8; 8-bit text without a
 * charset is taken as UTF-8 when valid, else as ISO-8859-1, as headers
 * are), to body_line; or, when it is NULL, kept in lines[] up to max_body
 * bytes (then NT_ETOOBIG). A MIME multipart article (nested ones too, up
 * to 8 levels) gives what a person would read: only its first text/plain
 * part, decoded by that part's own headers; text_found tells whether it
 * had one. */
typedef void (*nt_nntp_body_cb)(void *arg, const char *line, size_t len);

typedef struct nt_nntp_article_s {
  nt_nntp_header_t *headers;
  size_t nheaders;
  char **lines; /* body lines (UTF-8, NUL-terminated) when collected */
  size_t nlines;
  /* limits; 0 takes the default */
  size_t max_header_bytes; /* 256 KiB */
  size_t max_headers;      /* 1000 */
  size_t max_body;         /* 16 MiB, when collected */
  nt_nntp_body_cb body_line;
  void *body_arg;
  int text_found; /* multipart: a text/plain part was found */
  /* private */
  int in_body, body_ready, qp;
  int b64, mime, nbounds, part_last;
  unsigned b64_acc, b64_bits;
  char *bounds[8];          /* multipart boundaries, outermost first */
  char *part_ct, *part_cte; /* the current part's headers */
  void *fb;                 /* iconv from ISO-8859-1: the fallback */
  size_t header_bytes, body_bytes, cap_headers, cap_lines;
  char *charset;
  void *cd; /* iconv handle */
  char *qp_buf; /* quoted-printable soft line breaks being joined */
  size_t qp_len, qp_cap;
  int qp_failed;
} nt_nntp_article_t;

/* Zeroes a. Set limits and body_line after this. */
void nt_nntp_article_init(nt_nntp_article_t *a);
/* Feeds one line of an ARTICLE or HEAD response (headers first; the empty
 * line starts the body). For BODY, call nt_nntp_article_begin_body first.
 * Returns 0, NT_ETOOBIG (a limit), NT_ENOMEM. */
int nt_nntp_article_feed(nt_nntp_article_t *a, const char *line, size_t len);
void nt_nntp_article_begin_body(nt_nntp_article_t *a);
/* Flushes a pending quoted-printable line at the end of the response. */
int nt_nntp_article_end(nt_nntp_article_t *a);
/* The first header named `name` (case-insensitive), raw; NULL if none. */
const char *nt_nntp_article_header(const nt_nntp_article_t *a,
                                   const char *name);
/* The same, decoded to UTF-8 (malloc'ed; caller frees); NULL if none or
 * out of memory. */
char *nt_nntp_article_header_utf8(const nt_nntp_article_t *a,
                                  const char *name);
void nt_nntp_article_free(nt_nntp_article_t *a);

/* --- the "meaningful lines" filter (getLatestNNTP) ------------------------------------- */

/* Keeps the lines worth showing from a body: skips quoted lines (starting
 * with '>' or '|', except '>>>' prompt lines), attribution lines ("In
 * article ..." or ending in "wrote:" / "writes:"), leading blank lines, and
 * shows a run of blank lines as one; stops after max non-blank lines. */
typedef struct nt_nntp_filter_s {
  size_t max, shown;
  int blank_pending, started;
} nt_nntp_filter_t;

enum {
  NT_NNTP_FILTER_SKIP = 0, /* do not show the line */
  NT_NNTP_FILTER_SHOW = 1, /* show it (trailing whitespace trimmed: *len) */
  NT_NNTP_FILTER_BLANK_SHOW = 2, /* show one empty line, then this one */
};
void nt_nntp_filter_init(nt_nntp_filter_t *f, size_t max_lines);
int nt_nntp_filter_line(nt_nntp_filter_t *f, const char *line, size_t *len);
/* Non-zero once max lines were shown. */
int nt_nntp_filter_full(const nt_nntp_filter_t *f);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
