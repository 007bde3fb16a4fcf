/* Private to protocols/ftp/: the client struct, its states and operations.
 * Calls run one way: ftp_client.c (queue, life) -> ftp_state.c (every state
 * change) -> ftp_data.c (the data channel, ftp-data.h, which sees none of
 * this and reports through callbacks). ftp-data.h also has the hook through
 * which data connections are opened (unit tests replace it with scripted
 * connections on the test reactor). */
#ifndef NETTOOL_FTP_INT_H
#define NETTOOL_FTP_INT_H

#include <stdint.h>
#include <sys/socket.h>

#include "ftp-data.h"
#include "nettool/framing.h"
#include "nettool/ftp.h"
#include "nettool/pingpong.h"
#include "nettool/tcp.h"
#include "nettool/tls.h"

/* The control connection's states: one enum, one name table (ftp_state.c),
 * one setter (nt__ftp_set_state), one switch over replies (nt__ftp_reply). */
#define NT__FTP_STATES(XX)                                                     \
  XX(CONNECTING)   /* TCP (and implicit TLS) connect in progress */            \
  XX(GREETING)     /* waiting for 220 */                                       \
  XX(AUTH_TLS)     /* AUTH TLS sent */                                         \
  XX(TLS_HANDSHAKE) /* control connection upgrading to TLS */                  \
  XX(READY)        /* idle: the next operation may start */                    \
  XX(USER)                                                                     \
  XX(PASS)                                                                     \
  XX(PBSZ)                                                                     \
  XX(PROT)                                                                     \
  XX(FEAT)                                                                     \
  XX(OPTS)         /* OPTS UTF8 ON */                                          \
  XX(SIMPLE)       /* a one-command operation: CWD, PWD, MKD, RMD, DELE... */  \
  XX(RNFR)                                                                     \
  XX(RNTO)                                                                     \
  XX(TYPE)                                                                     \
  XX(SIZE)                                                                     \
  XX(EPSV)                                                                     \
  XX(PASV)                                                                     \
  XX(DATA_CONNECT) /* passive: connecting the data connection */               \
  XX(EPRT)                                                                     \
  XX(PORT)                                                                     \
  XX(REST)                                                                     \
  XX(XFER_CMD)     /* RETR/STOR/APPE/LIST/NLST/MLSD sent, no reply yet */      \
  XX(XFER)         /* 1xx seen: data flows; waiting for the final reply */     \
  XX(VERIFY)       /* SIZE after an upload */                                  \
  XX(QUIT)                                                                     \
  XX(CLOSED)

typedef enum {
#define NT__FTP_STATE_ENUM(name) NT__FTP_##name,
  NT__FTP_STATES(NT__FTP_STATE_ENUM)
#undef NT__FTP_STATE_ENUM
  NT__FTP_NSTATES
} nt__ftp_state_t;

typedef enum {
  NT__OP_LOGIN,
  NT__OP_FEAT,
  NT__OP_UTF8,
  NT__OP_SIMPLE, /* verb + optional argument */
  NT__OP_RENAME,
  NT__OP_SIZE,
  NT__OP_XFER,
  NT__OP_QUIT,
} nt__ftp_op_kind_t;

typedef enum {
  NT__X_RETR,
  NT__X_STOR,
  NT__X_APPE,
  NT__X_LIST,
  NT__X_NLST,
  NT__X_MLSD,
} nt__ftp_xcmd_t;

typedef struct nt__ftp_op nt__ftp_op_t;

struct nt__ftp_op {
  nt__ftp_op_t *next;
  nt__ftp_op_kind_t kind;
  nt_ftp_done_cb cb;
  void *arg;
  char verb[8]; /* SIMPLE */
  char *a1;     /* path, user, RNFR name */
  char *a2;     /* password, RNTO name */
  /* transfers */
  nt__ftp_xcmd_t xcmd;
  nt_ftp_xfer_options_t xo;
  nt_ftp_sink_t sink;
  nt_ftp_line_cb line;
  void *line_arg;
  /* progress and result */
  int status;
  int code;
  char *text;
  uint64_t bytes;
  uint64_t size; /* UINT64_MAX: unknown */
  int64_t mtime;
  char *path;
  int prelim;    /* 1xx seen */
  int final_ok;  /* positive final reply seen */
  int data_done; /* the data connection has ended */
  /* How the data connection failed (0: cleanly or not yet). Kept apart
   * from status: a 4xx/5xx reply to the transfer command wins over it,
   * whichever arrives first (servers reset the data connection, then
   * send 550). status holds our own failures (the sink, a long line). */
  int data_err;
  int data_err_tls; /* ...during the data connection's TLS handshake */
  int upload_started;
};

struct nt_ftp_s {
  nt_pp_t pp; /* first: the control connection's protocol */
  nt_reactor_t *reactor;
  nt_ftp_options_t opts;
  nt_ftp_callbacks_t cbs;
  void *arg;
  char *host;        /* as given to connect */
  char *server_name; /* for TLS verification */
  nt__ftp_state_t state;
  nt__ftp_op_t *cur;                /* the running operation */
  nt__ftp_op_t *queue, *queue_tail; /* waiting */
  unsigned features;
  int have_features;
  char type;   /* 'A', 'I' or 0 (unknown) */
  int no_epsv; /* refused once: PASV from then on */
  int no_eprt;
  int prot_p;         /* data connections protected */
  int tls_up;         /* the control connection is TLS */
  int attached;       /* a transport owns the protocol */
  int closed;         /* `closed` has run */
  int quitting;       /* QUIT sent or close asked */
  int dispatching, redispatch;
  int close_status;   /* why the session ends (421...) */
  int close_code;
  char *close_text;
  /* connecting */
  nt_factory_t factory;
  nt_tls_factory_t tls_factory;
  nt_connector_t *connector;
  /* data: the channel (ftp_data.c) and its deadlines (ftp_state.c) */
  nt__ftp_dchan_t *data;   /* the running transfer's data channel */
  nt_timer_t data_timer;   /* the data connection's deadlines */
  uint64_t progress_at;    /* reactor time of the last data progress */
  uint64_t progress_seen;  /* uploads: bytes counted at the last sample */
  uint64_t data_hs_at;     /* the data connection's TLS handshake began */
  uint64_t data_failed_at; /* the data connection failed: grace for the reply */
  uint64_t connect_at; /* nt_ftp_connect began (implicit TLS counts from it) */
  /* The final reply's wait (ftp_state.c, nt__ftp_final_wait_ms): from
   * final_at (we finished writing an upload, or the server ended the data
   * of a download; 0: not yet) for final_wait_ms, scaled by what the
   * kernel still held unacknowledged then */
  uint64_t upload_at;     /* the upload's first byte was queued */
  uint64_t final_at;
  uint64_t final_wait_ms;
  uint64_t touched_at;    /* the reply timeout was last restarted (progress) */
  int final_touched;      /* the reply timeout was moved to the final wait's end */
  /* keepalive NOOPs (ftp_state.c): written straight to the control
   * transport, outside pingpong's queue, so the transfer command stays the
   * one awaited; the next noops_out 200 replies are theirs, wherever they
   * come (replies keep the order of commands) */
  uint64_t noop_at;   /* the last NOOP went out, or the transfer's 1xx came */
  unsigned noops_out; /* NOOPs not answered yet */
  nt_ftp_where_t where; /* what the last failure was about */
};

/* ftp_state.c: every state change. The client hands it replies
 * (nt__ftp_reply), connection events and operations; it drives the data
 * channel (ftp-data.h), which reports back through callbacks. */
extern const char *const nt__ftp_state_names[NT__FTP_NSTATES];
void nt__ftp_set_state(nt_ftp_t *f, nt__ftp_state_t s);
int nt__ftp_reply(nt_pp_t *pp, void *arg, int code, const char *text,
                  size_t len);
void nt__ftp_start_op(nt_ftp_t *f, nt__ftp_op_t *op);
/* The control connection is up (again, once TLS is). */
void nt__ftp_on_connected(nt_ftp_t *f);
/* The data timer's callback (nt_timer_init'ed by the client). */
void nt__ftp_data_tick(nt_timer_t *t);
/* Ends the running transfer's data side: its timer and channel. */
void nt__ftp_data_end(nt_ftp_t *f, int abort);
/* The running operation was taken off (f->cur is NULL): its data side
 * ends, and the session is READY again unless it is closing. */
void nt__ftp_op_ended(nt_ftp_t *f);
/* How long the final reply (226/250) of a transfer may take once we
 * finished writing (or the server ended the data): base_ms (the reply
 * timeout) plus twice the time the kernel's `unacked` bytes take to drain
 * at the transfer's measured rate (`acked` bytes in `elapsed_ms`), within
 * [base_ms, max(base_ms, 1 h)]. Pure; ftp_state.c explains the formula. */
uint64_t nt__ftp_final_wait_ms(uint64_t base_ms, uint64_t unacked,
                               uint64_t acked, uint64_t elapsed_ms);
/* The session ends with status: CLOSED, and what a timeout was about. */
void nt__ftp_session_ended(nt_ftp_t *f, int status);
/* A reply to no command (421: the server is going away). */
void nt__ftp_unsolicited(nt_ftp_t *f, int code, const char *text, size_t len);
/* Idle: sends QUIT and returns 0; else (or if it cannot be sent) < 0. */
int nt__ftp_quit_if_idle(nt_ftp_t *f);

/* ftp_client.c: the queue and the session's life */
void nt__ftp_op_set_reply(nt__ftp_op_t *op, int code, const char *text,
                          size_t len);
void nt__ftp_op_finish(nt_ftp_t *f, int status);
/* A command with no data connection whose positive reply is the result
 * (HASH, XSHA256, OPTS HASH ...; ftp_transfer.c): verb of at most 7
 * letters, arg NULL or the rest of the line. */
int nt__ftp_simple_cmd(nt_ftp_t *f, const char *verb, const char *arg,
                       nt_ftp_done_cb cb, void *cb_arg);
void nt__ftp_dispatch(nt_ftp_t *f);
void nt__ftp_fail_session(nt_ftp_t *f, int status);

#endif
