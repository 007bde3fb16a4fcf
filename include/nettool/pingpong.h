/* A command/response engine for line-based protocols (FTP, NNTP, and any
 * SMTP/POP3-style protocol an embedding program writes): a queue of commands
 * with completion callbacks, replies read as lines with limits, FTP-style
 * multi-line replies, NNTP-style dot-terminated blocks streamed line by line,
 * and a timeout on every reply. */
#ifndef NETTOOL_PINGPONG_H
#define NETTOOL_PINGPONG_H

#include <stddef.h>
#include <stdint.h>

#include "framing.h"
#include "protocol.h"
#include "reactor.h"
#include "transport.h"

/*
 * Ownership: nt_pp_t is embedded (first member) in the protocol struct that
 * uses it, and is the protocol the transport sees. Commands are copied when
 * queued. Callbacks run from the transport's data path; they may queue more
 * commands, close the connection, or (from `closed`) nothing else.
 *
 * Replies: `reply` gets the 3-digit code and the reply text (all lines of a
 * multi-line FTP reply joined with "\n", without CRLF), valid only during the
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
  NT_PP_MORE = 2,  /* a preliminary reply (FTP 1xx): another one follows */
};

/* Reply to one command (or, with the greeting, to none). code < 0: failed. */
typedef int (*nt_pp_reply_cb)(nt_pp_t *pp, void *arg, int code,
                              const char *text, size_t len);
/* One line of a block, dot-unstuffed, without CRLF; line NULL at its end. */
typedef void (*nt_pp_line_cb)(nt_pp_t *pp, void *arg, const char *line,
                              size_t len);

typedef enum { NT_PP_STYLE_FTP, NT_PP_STYLE_NNTP } nt_pp_style_t;

typedef struct nt_pp_ops_s {
  /* Connected; the greeting reply comes to greeting_cb given to init. */
  void (*connected)(nt_pp_t *pp);
  /* A reply nobody asked for (e.g. FTP 421 while idle). */
  void (*unsolicited)(nt_pp_t *pp, int code, const char *text, size_t len);
  void (*closed)(nt_pp_t *pp, int status);
  void (*destroy)(nt_pp_t *pp);
} nt_pp_ops_t;

typedef struct nt__pp_cmd nt__pp_cmd_t;

struct nt_pp_s {
  nt_line_receiver_t lr; /* the protocol: line framing with a maximum */
  const nt_pp_ops_t *ops;
  nt_pp_style_t style;
  nt_reactor_t *reactor;
  nt_timer_t timer;
  uint64_t timeout_ms;
  size_t max_reply; /* bytes of one (multi-line) reply */
  size_t max_block; /* bytes of one block; 0: unlimited (streamed) */
  nt__pp_cmd_t *head, *tail; /* head: sent, awaiting its reply */
  int in_block;
  size_t block_bytes;
  char *reply; /* the reply being assembled, then the last one */
  size_t reply_len, reply_cap;
  int reply_code;
  int multi; /* inside an FTP "NNN-" reply */
  int last_code;
  int close_status;
};

typedef struct nt_pp_options_s {
  nt_pp_style_t style;
  size_t max_line;    /* 0: 8 KiB */
  size_t max_reply;   /* 0: 64 KiB */
  size_t max_block;   /* 0: no limit: blocks are streamed, not kept */
  /* Each reply must be complete within this long of its command being sent
   * (the greeting: of the connection); trickled bytes do not extend it.
   * Inside a block, each complete line restarts it. 0: 60 s. */
  uint64_t timeout_ms;
} nt_pp_options_t;

/* Initialises the engine; the greeting (the first reply, to no command)
 * goes to greeting(arg). Returns 0 or NT_ENOMEM. The engine is then the
 * protocol to hand to a transport, which destroys it after connection_lost;
 * one never handed over is released with nt_pp_dispose(). */
int nt_pp_init(nt_pp_t *pp, nt_reactor_t *r, const nt_pp_ops_t *ops,
               const nt_pp_options_t *opts, nt_pp_reply_cb greeting,
               void *arg);

/* Releases an engine that never got a transport (runs ops->destroy). */
void nt_pp_dispose(nt_pp_t *pp);

/* Flags for nt_pp_command. */
enum { NT_PP_SECRET = 1 /* never logged as it is (passwords) */ };

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

/* Text and code of the last complete reply ("" and 0 before any). */
const char *nt_pp_last_reply(const nt_pp_t *pp);
int nt_pp_last_code(const nt_pp_t *pp);

/* Commands sent or queued and not yet answered. */
size_t nt_pp_pending(const nt_pp_t *pp);

/* The transport (NULL before connected or after closed). */
static inline nt_transport_t *nt_pp_transport(nt_pp_t *pp) {
  return pp->lr.base.transport;
}

#endif
