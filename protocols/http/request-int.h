/* Private to protocols/http: one request's state and the functions its
 * three files share. request.c is the state machine (the one step()
 * switch), request_send.c writes the request (head, body pump, chunked
 * framing), request_api.c is the public API and the timers. */
#ifndef NETTOOL_REQUEST_INT_H
#define NETTOOL_REQUEST_INT_H

#include "http-int.h"

#define PIECE_MAX (4u << 20)   /* file range per write_file */
#define SKIP_MAX (64u * 1024u) /* body of a redirect read to keep the conn */
#define PUMP_ROUNDS 256        /* pieces per turn before yielding */
#define DEFAULT_IDLE_MS 30000
#define DEFAULT_MAX_REDIRECTS 10
#define DEFAULT_EXPECT_THRESHOLD (1u << 20)
#define DEFAULT_EXPECT_TIMEOUT_MS 1000
#define DEFAULT_RETRY_DELAY_MS 1000
#define MAX_RETRY_DELAY_MS 10000
#define MAX_METHOD 32

/* The request's states: one list, one name table and one setter
 * (rq_set_state in request.c, the only code that changes q->state). The
 * names are public: nt_http_progress_t.state. */
#define RQ_STATES(XX)                                                          \
  XX(CONNECTING, "connecting") /* getting a connection (or a pooled one) */  \
  XX(EXPECT, "expect-continue") /* head sent, waiting for 100 */             \
  XX(SENDING, "sending")        /* the body is being pumped */               \
  XX(WAITING, "waiting")        /* all sent, no answer yet */                \
  XX(RECEIVING, "receiving")    /* the final answer's body */                \
  XX(SKIPPING, "skipping") /* reading a redirect's or retry's body away */   \
  XX(BACKOFF, "backoff")   /* waiting to retry */                            \
  XX(DONE, "done")         /* on_done is due (from the loop) */

typedef enum {
#define RQ_STATE_ENUM(id, name) RQ_##id,
  RQ_STATES(RQ_STATE_ENUM)
#undef RQ_STATE_ENUM
  RQ_NSTATES
} rq_state_t;

/* What happens to a request: the only input of nt__rq_step. */
#define RQ_EVENTS(XX)                                                          \
  XX(START, "start")           /* (re)start the hop: get a connection */     \
  XX(CONNECTED, "connected")   /* a connection is attached */                \
  XX(CONNECT_FAILED, "connect-failed") /* arg: status */                     \
  XX(CONTINUE, "continue")             /* "100 Continue" */                  \
  XX(EXPECT_TIMEOUT, "expect-timeout") /* no 100 in time: send anyway */     \
  XX(WRITABLE, "writable") /* the transport or the body can go on */         \
  XX(BODY_END, "body-end") /* the whole body is queued */                    \
  XX(HEAD, "head")         /* the final response's head */                   \
  XX(COMPLETE, "complete") /* the final response ended */                    \
  XX(LOST, "lost")         /* arg: status; the connection is gone */         \
  XX(FAIL, "fail")         /* arg: status; a local or parse error */         \
  XX(TIMEOUT, "timeout")   /* arg: NT_HTTP_LIMIT_* */                        \
  XX(CANCEL, "cancel")                                                       \
  XX(RETRY_DUE, "retry-due")

typedef enum {
#define RQ_EVENT_ENUM(id, name) EV_##id,
  RQ_EVENTS(RQ_EVENT_ENUM)
#undef RQ_EVENT_ENUM
  EV_NEVENTS
} rq_event_t;

typedef enum { PLAN_NONE, PLAN_REDIRECT, PLAN_RETRY, PLAN_AGAIN } plan_t;

struct nt_http_request_s {
  nt_http_client_t *client;
  nt_http_request_t *prev, *next; /* the client's running list */
  rq_state_t state; /* written by rq_set_state (request.c) only */
  nt_http_callbacks_t cbs;
  void *arg;
  /* what is sent */
  char method[MAX_METHOD + 1];
  nt_url_t url;    /* this hop's */
  nt_url_t origin; /* the first URL: credentials go only there */
  char url_text[NT_URL_MAX + 300];
  char **extra;
  char *user, *password;
  nt_http_body_t *body;
  int send_body; /* this hop sends the body */
  int64_t body_len;
  int chunked, expect, no_expect, force_expect;
  /* options */
  uint64_t timeout_ms, idle_ms, connect_ms, expect_threshold, expect_ms;
  uint64_t retry_delay_ms;
  int max_redirects, max_retries;
  size_t max_header;
  /* the connection */
  nt__http_conn_t *conn;
  nt__http_dial_t *dial;
  int conn_reused, stale_retried, hops, connected;
  int body_done;
  int body_failed; /* the body (a file) caused the failure */
  uint64_t body_queued, sent;
  uint64_t received, skipped;
  int keep_alive;
  /* the answer */
  nt_http_response_t resp;
  void *resp_block, *trailer_block;
  int have_resp;
  plan_t plan;
  int plan_status;
  nt_url_t next_url;
  int redirects, retries;
  /* timers: limit_timer serves the three limits (request_api.c) */
  nt_timer_t limit_timer, expect_timer, kick_timer, done_timer;
  uint64_t total_due;     /* 0: no total limit */
  uint64_t connect_due;   /* 0: not connecting */
  uint64_t last_progress; /* when a byte last moved (or the try began) */
  uint64_t sent_sample;   /* nt__rq_sent_now when last looked at */
  int limit;              /* the limit that ended it (NT_HTTP_LIMIT_*) */
  int status;
  char error[768];
};

/* request.c: the state machine. Events go in through nt__rq_step; the
 * state changes only there. */
void nt__rq_step(nt_http_request_t *q, rq_event_t ev, int arg);
/* A new request enters the machine (CONNECTING); its first hop starts
 * from the loop, so no callback runs inside nt_http_request_start. */
void nt__rq_begin(nt_http_request_t *q);
int nt__rq_done(const nt_http_request_t *q);
void nt__rq_set_error(nt_http_request_t *q, const char *fmt, const char *s);
uint64_t nt__rq_sent_now(const nt_http_request_t *q);
void nt__rq_kick(nt_http_request_t *q, uint64_t delay_ms);
void nt__rq_set_url_text(nt_http_request_t *q);
const char *nt__rq_state_name(const nt_http_request_t *q);

/* request_api.c: the limits. progress: a byte moved now. arm: (re)starts
 * limit_timer for the earliest deadline left; call after a state change. */
void nt__rq_progress(nt_http_request_t *q);
void nt__rq_arm_limits(nt_http_request_t *q);
/* Looks at the bytes the socket took since the last look (progress no
 * callback reports). */
void nt__rq_note_sent(nt_http_request_t *q);
/* "1.5 s", "30 s", "0.25 s" into buf. */
const char *nt__rq_secs(char *buf, size_t size, uint64_t ms);

/* request_send.c: writing, driven by the state machine; it reports
 * through nt__rq_step (EV_WRITABLE, EV_BODY_END, EV_FAIL). */
/* Readies the hop (counters, Expect, chunked) and builds its head (*head
 * malloc'd). 0 or an error (nothing to send). */
int nt__rq_build_head(nt_http_request_t *q, char **head, size_t *len);
/* Queues the head on q->conn, then wipes and frees it (it may hold
 * credentials). 0, or an error: connection_lost follows. */
int nt__rq_write_head(nt_http_request_t *q, char *head, size_t len);
/* Queues body pieces while the transport takes them. */
void nt__rq_pump(nt_http_request_t *q);

#endif
