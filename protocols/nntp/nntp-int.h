/* Private to protocols/nntp/: the client object, its request queue, and
 * helpers shared by the files of the NNTP client. */
#ifndef NETTOOL_NNTP_INT_H
#define NETTOOL_NNTP_INT_H

#include "nettool/nntp.h"
#include "nettool/tcp.h"

#define NT__NNTP_MAX_CMD 512 /* RFC 3977 3.1: a command line, CRLF included */

typedef enum {
  NT__NNTP_REQ_GROUP,
  NT__NNTP_REQ_LISTGROUP,
  NT__NNTP_REQ_FETCH, /* ARTICLE/HEAD/BODY/STAT */
  NT__NNTP_REQ_MOVE,  /* NEXT/LAST */
  NT__NNTP_REQ_OVER,
  NT__NNTP_REQ_HDR,
  NT__NNTP_REQ_LIST, /* LIST, NEWGROUPS, NEWNEWS */
  NT__NNTP_REQ_DATE,
  NT__NNTP_REQ_POST,
  NT__NNTP_REQ_QUIT,
} nt__nntp_req_kind_t;

typedef struct nt__nntp_req nt__nntp_req_t;
struct nt__nntp_req {
  nt__nntp_req_t *next;
  nt__nntp_req_kind_t kind;
  int block_code; /* the success code that starts a block (0: none) */
  int alt_sent;   /* the XOVER/XHDR fallback was sent */
  int auth_tried; /* a 480 already ran AUTHINFO for this request */
  int posted;     /* POST: the article went out after 340 */
  int alone;      /* sent while nothing else was awaited: a round trip */
  int begun;      /* its status line arrived (not sent again after a
                     fall-back from pipelining) */
  nt_nntp_done_cb done;
  nt_nntp_line_cb line;
  nt_nntp_over_cb over;
  nt_nntp_hdr_cb hdr;
  void *arg;
  char *post; /* POST: the dot-stuffed article, ".\r\n" included */
  size_t post_len;
  nt_nntp_result_t res; /* filled from the first reply, given to done */
  char *text;           /* copy of that reply's text (res.text points here) */
  char *alt;            /* the fallback command (XOVER/XHDR), or NULL */
  char *aux;            /* res.group / res.message_id point here */
  char cmd[NT__NNTP_MAX_CMD];
};

struct nt_nntp_s {
  nt_pp_t pp; /* first: the protocol the transport sees */
  nt_reactor_t *reactor;
  nt_nntp_callbacks_t cbs;
  void *arg;
  nt_nntp_state_t state;
  nt_nntp_state_t end_state; /* the state when the session ended */
  nt_factory_t factory;
  nt_tls_factory_t tls_factory;
  nt_factory_t tcp_factory; /* NNTPS: in front of tls_factory */
  nt_protocol_t *handshake; /* NNTPS: the TLS handshake, while CONNECTING */
  nt_connector_t *connector;
  /* options, copied */
  char *user, *pass;
  int tls_mode;
  nt_tls_ctx_t *tls_ctx;
  char *tls_name;
  uint64_t connect_timeout_ms, timeout_ms;
  size_t max_line, max_block, max_block_line;
  int no_mode_reader, auth_when_asked, no_compress;
  unsigned max_window; /* options.pipeline: 1 = no pipelining */
  /* what set-up learned */
  int posting;
  int caps_known;   /* -1 unknown (no CAPABILITIES), 0 not asked, 1 known */
  int caps_fresh;   /* capabilities asked in the current phase */
  unsigned caps;    /* NT__CAP_* */
  int mode_reader_done;
  int tls_active;
  int authed, auth_failed;
  int over_missing, hdr_missing; /* OVER/HDR answered 500: use XOVER/XHDR */
  int compress_done, compress_active;
  int ready_told;
  /* requests: head .. (unsent exclusive) are with pingpong (in flight),
   * unsent .. tail wait */
  nt__nntp_req_t *head, *tail, *unsent;
  size_t nflight;
  int barrier; /* the one in flight is not pipelined: nothing joins it */
  /* pipelining (nntp_window.c) */
  unsigned window;         /* requests in flight at most, now */
  size_t peak_flight;      /* the most that were ever in flight */
  uint64_t rtt_ms;         /* smoothed round trip (0: not measured) */
  int rtt_known;
  uint64_t round_start;    /* the window's measuring round */
  unsigned round_replies;
  nt__nntp_req_t *retry; /* waiting for AUTHINFO to finish (a 480) */
  /* the fall-back from pipelining (nntp_refuse.c) */
  char *host; /* nt_nntp_connect's, to connect again; NULL: nt_nntp_new */
  int port;
  nt_proxy_t proxy; /* a copy (password wiped at free) */
  int has_proxy;
  int (*reconnect)(nt_nntp_t *c, nt_protocol_t *p, void *arg);
  int loss_seen;  /* the current connection's end was judged */
  int refused;    /* ... as a refusal: connect again, send again */
  int reconnecting; /* between the old connection's end and the new one */
  int pipeline_refused; /* fell back: one command at a time for good */
  int said_400;   /* the server said 400 (going away) outside a reply */
  char *cur_group; /* the group selected (restored on the new connection) */
  uint64_t cur_article; /* the current article by number (0: GROUP's) */
  int close_asked;
  int status; /* what closed() will say */
  int closed_told;
  char tls_error[256];
  char last_line[256]; /* nt_nntp_last_line */
};

enum {
  NT__CAP_READER = 1u << 0,
  NT__CAP_MODE_READER = 1u << 1,
  NT__CAP_OVER = 1u << 2,
  NT__CAP_HDR = 1u << 3,
  NT__CAP_POST = 1u << 4,
  NT__CAP_STARTTLS = 1u << 5,
  NT__CAP_AUTHINFO = 1u << 6,
  NT__CAP_LIST = 1u << 7,
  NT__CAP_NEWNEWS = 1u << 8,
  NT__CAP_VERSION2 = 1u << 9,
  NT__CAP_COMPRESS = 1u << 10, /* COMPRESS DEFLATE */
};

/* nntp_client.c: the state machine and the request queue */
void nt__nntp_set_state(nt_nntp_t *c, nt_nntp_state_t s);
int nt__nntp_enqueue(nt_nntp_t *c, nt__nntp_req_t *req);
nt__nntp_req_t *nt__nntp_req_new(nt__nntp_req_kind_t kind, int block_code,
                                 const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void nt__nntp_req_free(nt__nntp_req_t *req);
/* Set-up: the next step from what is known; AUTHINFO after a 480. */
void nt__nntp_setup_next(nt_nntp_t *c);
void nt__nntp_auth_start(nt_nntp_t *c);
/* nntp_requests.c: replies to queued commands */
/* Completes the head request with status (and the reply code seen). */
void nt__nntp_finish_head(nt_nntp_t *c, int status, int code);
void nt__nntp_submit(nt_nntp_t *c);
void nt__nntp_fail_queue(nt_nntp_t *c, int status);
/* nntp_refuse.c: a server that refuses pipelining */
/* A request's connection ended (code < 0): 1 if it is kept to be sent
 * again on a new connection (the end was judged a refusal). */
int nt__nntp_refuse_lost(nt_nntp_t *c, nt__nntp_req_t *q, int code);
/* A reply to q: 1 if it is a refusal (400/500 to a pipelined command):
 * the connection is ended and q and what follows are sent again. */
int nt__nntp_refuse_reply(nt_nntp_t *c, nt__nntp_req_t *q, int code);
/* closed(): 1 if the client connects again instead of ending. */
int nt__nntp_refuse_closed(nt_nntp_t *c);
/* destroy(): 1 if the client lives on (a new connection is on its way). */
int nt__nntp_refuse_destroyed(nt_nntp_t *c);
/* A successful reply: what the new connection must restore. */
void nt__nntp_refuse_track(nt_nntp_t *c, nt__nntp_req_t *q, int code);
/* nntp_client.c, for nntp_refuse.c */
int nt__nntp_pp_init(nt_nntp_t *c);
int nt__nntp_connect_again(nt_nntp_t *c);
void nt__nntp_end_unconnected(nt_nntp_t *c, int status);
/* nntp_window.c: the pipelining window, adapted to the round trip */
void nt__nntp_window_init(nt_nntp_t *c);
/* A reply's status line arrived; sent_at: when its command went out,
 * alone: nothing else was awaited then (a clean round-trip sample). */
void nt__nntp_window_reply(nt_nntp_t *c, uint64_t sent_at, int alone);
/* A set-up reply: a round-trip sample only. */
void nt__nntp_window_rtt(nt_nntp_t *c, uint64_t sent_at);
/* nntp_caps.c */
void nt__nntp_caps_line(nt_nntp_t *c, const char *line, size_t len);
/* Maps an NNTP error reply code to NT_ENNTP_*. */
int nt__nntp_code_status(int code);
/* The number after the code, when the text starts with one. */
int nt__nntp_parse_u64(const char *s, size_t len, uint64_t *out);
/* Splits the first whitespace-separated token off [*p, end). */
nt_nntp_str_t nt__nntp_token(const char **p, const char *end);
/* UTF-8 validity of a byte string. */
int nt__nntp_utf8_valid(const char *s, size_t n);

#endif
