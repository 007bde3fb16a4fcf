/* A command/response engine for line-based protocols (FTP, NNTP, and any
 * SMTP/POP3-style protocol an embedding program writes): a queue of commands
 * with completion callbacks, replies read as lines with limits, a reply
 * grammar given by the protocol (nt_pp_grammar_t: FTP and NNTP shipped),
 * dot-terminated blocks streamed line by line, STARTTLS in place, and a
 * timeout on every reply. */
#ifndef NETTOOL_PINGPONG_H
#define NETTOOL_PINGPONG_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/framing.h>
#include <nettool/protocol.h>
#include <nettool/reactor.h>
#include <nettool/tls.h>
#include <nettool/transport.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * Ownership: nt_pp_t is embedded (first member) in the protocol struct that
 * uses it, and is the protocol the transport sees. Commands are copied when
 * queued. Callbacks run from the transport's data path; they may queue more
 * commands, close the connection, or (from `closed`) nothing else.
 *
 * Replies: `reply` gets the reply's code (as the grammar reads it: the
 * 3-digit code for FTP and NNTP) and the reply text (all lines of a
 * multi-line reply joined with "\n", without CRLF), valid only during the
 * call. The last reply's text stays available through nt_pp_last_reply(), so
 * errors can show the server's own words.
 *
 * When the connection ends, each command still waiting gets its reply
 * callback once with code = the negative status (NT_ECONNRESET,
 * NT_ETIMEDOUT, NT_EUNEXPECTEDEOF...), then `closed` runs.
 */

typedef struct nt_pp_s nt_pp_t;

/* What the reply callback asks for next. */
enum {
  NT_PP_DONE = 0,  /* the command is complete */
  NT_PP_BLOCK = 1, /* a dot-terminated block follows (NNTP 215, 220...) */
  NT_PP_MORE = 2,  /* a preliminary reply: another one follows (the
                    * grammar's preliminary() says so by itself: FTP 1xx) */
};

/* Reply to one command (or, with the greeting, to none). code < 0: failed. */
typedef int (*nt_pp_reply_cb)(nt_pp_t *pp, void *arg, int code,
                              const char *text, size_t len);
/* One line of a block, dot-unstuffed, without CRLF; line NULL at its end. */
typedef void (*nt_pp_line_cb)(nt_pp_t *pp, void *arg, const char *line,
                              size_t len);

/*
 * The reply grammar (curl's `endofresp`): how a line starts a reply, how a
 * multi-line reply goes on and ends, and which replies are preliminary. The
 * engine knows no protocol; a POP3 ("+OK"/"-ERR"), SMTP ("250-"/"250 ") or
 * IMAP-style client gives its own. Called only outside blocks.
 */
enum {
  NT_PP_LINE_LAST = 0, /* the reply is complete with this line */
  NT_PP_LINE_MORE = 1, /* a multi-line reply: more lines follow */
};

typedef struct nt_pp_grammar_s {
  const char *name;
  /* The first line of a reply: its code (>= 0) into *code and where its
   * text starts (an offset <= len) into *text. Returns NT_PP_LINE_LAST,
   * NT_PP_LINE_MORE, or a negative error (NT_EPROTO: not a reply), which
   * ends the connection. */
  int (*start)(const char *line, size_t len, int *code, size_t *text);
  /* A line after NT_PP_LINE_MORE, for the reply with `code`: the same
   * returns; *text: where the part of this line to keep starts. NULL:
   * the grammar has no multi-line replies. */
  int (*next)(int code, const char *line, size_t len, size_t *text);
  /* Non-zero for a preliminary reply: another reply to the same command
   * follows (FTP 1xx), as if its callback had returned NT_PP_MORE. NULL:
   * only the callback decides. */
  int (*preliminary)(int code);
} nt_pp_grammar_t;

/* FTP (RFC 959 4.2): "NNN text", or "NNN-" ... up to a line "NNN text" with
 * the same code; 1xx is preliminary. */
extern const nt_pp_grammar_t nt_pp_grammar_ftp;
/* NNTP (RFC 3977 3.2): one status line "NNN text"; multi-line data comes as
 * a block (NT_PP_BLOCK). */
extern const nt_pp_grammar_t nt_pp_grammar_nntp;

typedef struct nt_pp_ops_s {
  /* Connected; the greeting reply comes to greeting_cb given to init.
   * Called again when a TLS handshake started by nt_pp_start_tls is done
   * (reading has resumed by then). */
  void (*connected)(nt_pp_t *pp);
  /* A reply nobody asked for (e.g. FTP 421 while idle). */
  void (*unsolicited)(nt_pp_t *pp, int code, const char *text, size_t len);
  void (*closed)(nt_pp_t *pp, int status);
  void (*destroy)(nt_pp_t *pp);
  /* Optional: every line outside a block, before the grammar reads it
   * (e.g. to quote a greeting the grammar refuses). */
  void (*status_line)(nt_pp_t *pp, const char *line, size_t len);
} nt_pp_ops_t;

typedef struct nt__pp_cmd nt__pp_cmd_t;

/* The fields are the engine's: protocols use the functions below
 * (nt_pp_protocol, nt_pp_transport, nt_pp_in_block, nt_pp_start_tls...). */
struct nt_pp_s {
  nt_line_receiver_t lr; /* the protocol: line framing with a maximum */
  const nt_pp_ops_t *ops;
  const nt_pp_grammar_t *grammar;
  nt_reactor_t *reactor;
  nt_timer_t timer;
  uint64_t timeout_ms;
  size_t max_line;       /* of a reply line */
  size_t max_block_line; /* of a line inside a block */
  size_t max_reply; /* bytes of one (multi-line) reply */
  size_t max_block; /* bytes of one block; 0: unlimited (streamed) */
  int tls_starting; /* nt_pp_start_tls: reading paused until TLS is up */
  nt__pp_cmd_t *head, *tail; /* head: sent, awaiting its reply */
  int in_block;
  size_t block_bytes;
  char *reply; /* the reply being assembled, then the last one */
  size_t reply_len, reply_cap;
  int reply_code;
  int multi; /* inside a multi-line reply (the grammar said MORE) */
  int last_code;
  int close_status;
  nt__pp_cmd_t *last_sent; /* the newest command sent (pipelining) */
};

/* Give it field by field (designated initialisers): fields may be added. */
typedef struct nt_pp_options_s {
  const nt_pp_grammar_t *grammar; /* required: how replies are read */
  size_t max_line;    /* 0: 8 KiB */
  size_t max_reply;   /* 0: 64 KiB */
  size_t max_block;   /* 0: no limit: blocks are streamed, not kept */
  /* Each reply must be complete within this long of its command being sent
   * (the greeting: of the connection); trickled bytes do not extend it.
   * Inside a block, each complete line restarts it. 0: 60 s. */
  uint64_t timeout_ms;
  size_t max_block_line; /* of a line inside a block; 0 (or < max_line):
                          * max_line */
} nt_pp_options_t;

/* Initialises the engine; the greeting (the first reply, to no command)
 * goes to greeting(arg). Returns 0, NT_EINVAL (no options or no grammar) or
 * NT_ENOMEM (check it: the engine then holds nothing, and the caller frees
 * its own struct). The engine is then
 * the protocol (nt_pp_protocol) to hand to a transport, which destroys it
 * after connection_lost; one never handed over is released with
 * nt_pp_dispose(). */
int nt_pp_init_sized(size_t opts_size, nt_pp_t *pp, nt_reactor_t *r,
                     const nt_pp_ops_t *ops, const nt_pp_options_t *opts,
                     nt_pp_reply_cb greeting, void *arg);
#define nt_pp_init(...) nt_pp_init_sized(sizeof(nt_pp_options_t), __VA_ARGS__)

/* Releases an engine that never got a transport (runs ops->destroy). */
void nt_pp_dispose(nt_pp_t *pp);

/* Flags for nt_pp_command. A secret command is never logged as it is
 * (passwords): NT_PP_SECRET shows its first word ("PASS ****"),
 * NT_PP_SECRET_SHOW(n) its first n bytes ("AUTHINFO PASS ****" with 13). */
enum {
  NT_PP_SECRET = 1,
  /* May go out while earlier commands await their replies, when those are
   * NT_PP_PIPELINE too (RFC 3977 3.5 pipelining); replies still come back
   * in order. A command without it is sent alone: only once every earlier
   * reply is complete, and nothing is sent after it until its own is. The
   * caller bounds how many it queues (the window). */
  NT_PP_PIPELINE = 2,
};
#define NT_PP_SECRET_SHOW(n) (NT_PP_SECRET | ((int)((n) + 1) << 8))

/*
 * Queues a command (formatted; CRLF added; at most 1 KiB) and sends it when
 * every command before it has been answered. reply gets its reply; with
 * NT_PP_BLOCK returned, line gets the block. Returns 0, NT_EINVAL (CR or LF
 * inside the command: refused, since it would inject a second command),
 * NT_ETOOBIG, NT_ENOMEM, or NT_ENOTCONN.
 */
int nt_pp_command(nt_pp_t *pp, int flags, nt_pp_reply_cb reply,
                  nt_pp_line_cb line, void *arg, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Restarts the reply timeout of the command being answered, for progress
 * the engine cannot see (FTP: bytes on the data connection while the final
 * reply to RETR is awaited). Does nothing when no reply is awaited. */
void nt_pp_touch(nt_pp_t *pp);

/*
 * STARTTLS in place (NNTP STARTTLS, FTP AUTH TLS, or TLS from the first
 * byte in connected()): stops reading at once, so plaintext bytes after the
 * reply that allowed it are dropped (they could be injected, RFC 4642
 * 2.2.2), stops the reply timeout (opts->handshake_timeout_ms bounds the
 * handshake) and starts TLS with nt_tls_start on the transport. Commands
 * queued meanwhile wait. When the handshake is done, reading resumes with
 * an empty line buffer, the timeout of an awaited reply starts and
 * ops->connected runs again; if it fails, the connection is lost with the
 * TLS error. Returns 0, NT_ENOTCONN, or nt_tls_start's error (the engine
 * then reads again; the caller usually ends the connection).
 */
int nt_pp_start_tls_sized(size_t opts_size, nt_pp_t *pp, nt_tls_ctx_t *ctx,
                          const nt_tls_options_t *opts);
#define nt_pp_start_tls(...) \
  nt_pp_start_tls_sized(sizeof(nt_tls_options_t), __VA_ARGS__)

/*
 * Inserts a layer between the engine and its transport (NNTP COMPRESS
 * DEFLATE, RFC 8054): like nt_pp_start_tls, reading stops at once and the
 * reply timeout stops; start(lower, upper, arg) must build the new
 * transport over `lower` and later call upper's connection_made on it
 * (from the loop, not from inside start), which resumes reading and sends
 * what was queued meanwhile. Returns 0, NT_EINVAL, NT_ENOTCONN, or
 * start's error (the engine then reads again).
 */
int nt_pp_start_layer(nt_pp_t *pp,
                      int (*start)(nt_transport_t *lower, nt_protocol_t *upper,
                                   void *arg),
                      void *arg);

/* When the command whose reply is awaited went out (nt_reactor_now);
 * UINT64_MAX if none is, or for the greeting: round-trip measurements for
 * pipelining. */
uint64_t nt_pp_reply_sent_at(const nt_pp_t *pp);
/* Commands sent and not yet answered (1 without pipelining). */
size_t nt_pp_awaited(const nt_pp_t *pp);

/* Text and code of the last complete reply ("" and 0 before any). */
const char *nt_pp_last_reply(const nt_pp_t *pp);
int nt_pp_last_code(const nt_pp_t *pp);

/* Commands sent or queued and not yet answered. */
size_t nt_pp_pending(const nt_pp_t *pp);

/* The transport (NULL before connected or after closed). */
static inline nt_transport_t *nt_pp_transport(nt_pp_t *pp) {
  return pp->lr.base.transport;
}

/* The protocol to hand to a transport or factory. */
static inline nt_protocol_t *nt_pp_protocol(nt_pp_t *pp) {
  return &pp->lr.base;
}

/* Non-zero while a block (NT_PP_BLOCK) is being read. */
int nt_pp_in_block(const nt_pp_t *pp);

/* The grammar in use. */
const nt_pp_grammar_t *nt_pp_grammar(const nt_pp_t *pp);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
