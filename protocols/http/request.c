/* One HTTP request from start to on_done, as an explicit state machine:
 * every event goes through step(): in_state (one switch on the state),
 * then common for what every state handles alike.
 *
 *   CONNECTING -> EXPECT -> SENDING -> WAITING    (the request goes out;
 *                                                  no Expect: no EXPECT;
 *                                                  no body: to WAITING)
 *   EXPECT/SENDING/WAITING + final head -> RECEIVING -> DONE
 *   ... + a redirect or a retryable answer -> SKIPPING (its body is read
 *       and dropped) -> CONNECTING (redirect) or BACKOFF -> CONNECTING
 *   any state + cancel, timeout or error -> DONE
 *
 * 1xx answers are skipped (Werkzeug sends "100 Continue" twice). A final
 * answer that comes while the body is still going (an early 413) stops the
 * body; the connection is then not reused. Every timer is the reactor's.
 *
 * Calls run one way. The connection and the dial report through the
 * events table this file hands to nt__http_dial (conn_events below);
 * request_send.c and request_api.c's timers report through nt__rq_step;
 * rq_set_state is the only code that changes q->state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reactor-int.h"
#include "request-int.h"

static const char *const state_names[RQ_NSTATES] = {
#define RQ_STATE_NAME(id, name) name,
    RQ_STATES(RQ_STATE_NAME)
#undef RQ_STATE_NAME
};

static const char *const event_names[EV_NEVENTS] = {
#define RQ_EVENT_NAME(id, name) name,
    RQ_EVENTS(RQ_EVENT_NAME)
#undef RQ_EVENT_NAME
};

/* The only way to change a request's state. */
static void rq_set_state(nt_http_request_t *q, rq_state_t s) {
  if (q->state != s) /* a new request is CONNECTING already (calloc) */
    NT__DEBUG("http %p: %s -> %s", (void *)q, state_names[q->state],
              state_names[s]);
  q->state = s;
}

static void step(nt_http_request_t *q, rq_event_t ev, int arg);
static const nt__http_conn_events_t conn_events;

/* --- small helpers -------------------------------------------------------- */

static void set_error(nt_http_request_t *q, const char *fmt, const char *s) {
  if (!q->error[0] && s && *s) snprintf(q->error, sizeof q->error, fmt, s);
}

static uint64_t sent_now(const nt_http_request_t *q) {
  if (!q->conn || !nt__http_conn_transport(q->conn)) return q->sent;
  size_t buffered = nt__http_conn_queued(q->conn);
  uint64_t s = q->body_queued > buffered ? q->body_queued - buffered : 0;
  return s > q->sent ? s : q->sent;
}

static void kick(nt_http_request_t *q, uint64_t delay_ms) {
  nt_timer_start(&q->kick_timer, delay_ms, 0);
}

static void set_url_text(nt_http_request_t *q) {
  nt_url_format(&q->url, q->url_text, sizeof q->url_text);
}

static int is_transient(int status) {
  switch (status) {
  case NT_ECONNREFUSED:
  case NT_ECONNRESET:
  case NT_ECONNABORTED:
  case NT_ETIMEDOUT:
  case NT_EPIPE:
  case NT_EHOSTUNREACH:
  case NT_ENETUNREACH:
  case NT_ENETDOWN:
  case NT_EUNEXPECTEDEOF:
  case NT_EDNS_TIMEOUT:
  case NT_EDNS_SERVFAIL:
    return 1;
  default:
    return 0;
  }
}

static int retryable_status(int s) {
  return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

static int is_redirect(int s) {
  return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

/* --- the connection ------------------------------------------------------- */

static void attach(nt_http_request_t *q, nt__http_conn_t *conn) {
  q->conn = conn;
  q->connected = 1;
  nt__http_conn_attach(conn, q, !strcmp(q->method, "HEAD"), q->max_header);
}

/* Lets go of the connection. keep: the exchange ended cleanly, so it goes
 * back to the pool if it can carry another request (else it is closed
 * after flushing); otherwise it is closed at once, unsent bytes dropped. */
static void detach(nt_http_request_t *q, int keep) {
  if (q->body && q->body->ops->cancel_wait) q->body->ops->cancel_wait(q->body);
  q->sent = sent_now(q);
  nt__http_conn_t *c = q->conn;
  q->conn = NULL;
  if (c) nt__http_conn_detach(c, keep && q->body_done, q->keep_alive);
}

static void teardown(nt_http_request_t *q) {
  nt_timer_stop(&q->expect_timer);
  if (q->dial) {
    nt__http_dial_abandon(q->dial);
    q->dial = NULL;
  }
  detach(q, 0);
}

static void finish(nt_http_request_t *q, int status) {
  if (q->state == RQ_DONE) return;
  teardown(q);
  rq_set_state(q, RQ_DONE);
  q->status = status;
  nt_timer_stop(&q->limit_timer);
  nt_timer_stop(&q->kick_timer);
  nt_timer_start(&q->done_timer, 0, 0);
}

/* Gives the body back its first byte for another hop. */
static int rewind_body(nt_http_request_t *q) {
  if (!q->body) return 0;
  int rc = q->body->ops->rewind(q->body);
  if (rc) set_error(q, "%s", q->body->ops->error(q->body));
  return rc;
}

/* Carries out the plan made from an answer or a failure: from the loop. */
static void proceed(nt_http_request_t *q) {
  detach(q, 1);
  switch (q->plan) {
  case PLAN_REDIRECT:
    q->redirects++;
    nt_url_free(&q->url);
    q->url = q->next_url;
    memset(&q->next_url, 0, sizeof q->next_url);
    set_url_text(q);
    if (q->cbs.on_redirect)
      q->cbs.on_redirect(q, q->plan_status, q->url_text, q->arg);
    if (q->state == RQ_DONE) return; /* cancelled in the callback */
    rq_set_state(q, RQ_CONNECTING);
    kick(q, 0);
    break;
  case PLAN_AGAIN:
    rq_set_state(q, RQ_CONNECTING);
    kick(q, 0);
    break;
  case PLAN_RETRY: {
    uint64_t delay = q->retry_delay_ms;
    if (!delay) {
      delay = DEFAULT_RETRY_DELAY_MS << (q->retries < 4 ? q->retries : 4);
      if (delay > MAX_RETRY_DELAY_MS) delay = MAX_RETRY_DELAY_MS;
    }
    q->retries++;
    if (q->cbs.on_retry) q->cbs.on_retry(q, q->plan_status, delay, q->arg);
    if (q->state == RQ_DONE) return;
    rq_set_state(q, RQ_BACKOFF);
    kick(q, delay);
    break;
  }
  case PLAN_NONE:
    break;
  }
  nt__rq_arm_limits(q); /* back-off: only the total limit runs */
}

/* A failure before any answer: retried when that makes sense. */
static void fail_or_retry(nt_http_request_t *q, int status) {
  if (q->retries < q->max_retries && is_transient(status) && !q->have_resp) {
    teardown(q);
    if (!q->body || q->body->ops->rewind(q->body) == 0) { /* replayable */
      q->plan = PLAN_RETRY;
      q->plan_status = status;
      rq_set_state(q, RQ_SKIPPING); /* until proceed, from the loop */
      proceed(q);             /* on_retry still sees why (the error) */
      if (q->state != RQ_DONE) {
        q->error[0] = 0;
        q->limit = 0;
      }
      return;
    }
  }
  finish(q, status);
}

static void begin_hop(nt_http_request_t *q) {
  if (q->body && rewind_body(q)) { /* from the first byte, every time */
    finish(q, NT_EHTTP_NO_REPLAY);
    return;
  }
  q->connected = 0;
  /* Every try gets the whole idle and connect limits (DESIGN.md); the
   * total limit runs on from the start. */
  nt__rq_progress(q);
  q->connect_due = 0;
  nt__http_conn_t *c =
      q->client ? nt__http_pool_take(q->client, &q->url) : NULL;
  if (c) {
    q->conn_reused = 1;
    attach(q, c);
    step(q, EV_CONNECTED, 0);
    return;
  }
  q->conn_reused = 0;
  if (!q->client) {
    finish(q, NT_ECANCELED);
    return;
  }
  /* The request's own timer ends the connect (and says which limit); the
   * connector's and the handshake's are only a backstop a second later. */
  q->connect_due = q->last_progress + q->connect_ms;
  nt__rq_arm_limits(q);
  const char *detail = NULL;
  int rc = nt__http_dial(q->client, q, &conn_events, &q->url,
                         q->connect_ms + 1000, &q->dial, &detail);
  if (rc) {
    set_error(q, "%s", detail);
    step(q, EV_CONNECT_FAILED, rc);
  }
}

/* --- the answer ----------------------------------------------------------- */

/* Decides what a final head means: the answer, or a redirect/retry to
 * follow after reading it. */
static void on_head(nt_http_request_t *q) {
  nt__http_parser_t *p = nt__http_conn_parser(q->conn);
  nt__http_head_info_t info;
  nt__http_parser_info(p, &info);
  nt_timer_stop(&q->expect_timer);
  if (!q->body_done) { /* an early answer: stop the body */
    if (q->body && q->body->ops->cancel_wait)
      q->body->ops->cancel_wait(q->body);
    nt__http_conn_mark_broken(q->conn);
  }
  q->plan = PLAN_NONE;
  const char *loc = nt__http_parser_header(p, "Location");
  if (is_redirect(info.status) && q->max_redirects >= 0 && loc) {
    if (q->redirects >= q->max_redirects) {
      snprintf(q->error, sizeof q->error, "stopped after %d redirects",
               q->redirects);
      finish(q, NT_EHTTP_REDIRECTS);
      return;
    }
    int rc = nt_url_resolve(&q->url, loc, &q->next_url);
    if (rc) {
      snprintf(q->error, sizeof q->error, "%d with Location '%.200s': %s",
               info.status, loc, nt_strerror(rc));
      finish(q, NT_EHTTP_BAD_REDIRECT);
      return;
    }
    if (info.status == 303 || ((info.status == 301 || info.status == 302) &&
                               !strcmp(q->method, "POST"))) {
      if (strcmp(q->method, "HEAD")) strcpy(q->method, "GET");
      q->body = NULL; /* not sent again */
    }
    q->plan = PLAN_REDIRECT;
  } else if (info.status == 417 && q->expect) {
    q->no_expect = 1; /* the server refuses Expect: send again without */
    q->plan = PLAN_AGAIN;
  } else if (retryable_status(info.status) && q->retries < q->max_retries &&
             (!q->body || q->body->ops->rewind(q->body) == 0)) {
    q->error[0] = 0;
    q->plan = PLAN_RETRY;
  }
  q->plan_status = info.status;
  if (q->plan != PLAN_NONE) {
    rq_set_state(q, RQ_SKIPPING);
    q->skipped = 0;
    /* Reading a long or endless body is not worth the connection. */
    if (info.until_close || info.content_length > (int64_t)SKIP_MAX) {
      nt__http_conn_mark_broken(q->conn);
      kick(q, 0);
    }
    return;
  }
  int rc = nt__http_parser_copy(p, 0, &q->resp_block, &q->resp.reason,
                                (nt_http_header_t **)&q->resp.headers,
                                &q->resp.nheaders);
  if (rc) {
    finish(q, rc);
    return;
  }
  q->resp.status = info.status;
  q->resp.version_major = info.major;
  q->resp.version_minor = info.minor;
  q->resp.content_length = info.content_length;
  q->resp.url = q->url_text;
  q->have_resp = 1;
  rq_set_state(q, RQ_RECEIVING);
  if (q->cbs.on_response) q->cbs.on_response(q, &q->resp, q->arg);
}

static void on_complete(nt_http_request_t *q) {
  nt__http_parser_copy(nt__http_conn_parser(q->conn), 1, &q->trailer_block,
                       NULL,
                       (nt_http_header_t **)&q->resp.trailers,
                       &q->resp.ntrailers);
  detach(q, 1);
  finish(q, 0);
}

/* The connection was lost before the answer was complete. */
static void lost_before_answer(nt_http_request_t *q, int status) {
  q->conn = NULL;
  if (q->conn_reused && !q->stale_retried && q->received == 0 &&
      (!q->body || q->body->ops->rewind(q->body) == 0)) {
    /* A kept-alive connection the server had closed: once more, fresh. */
    q->stale_retried = 1;
    q->plan = PLAN_AGAIN;
    rq_set_state(q, RQ_SKIPPING);
    kick(q, 0);
    return;
  }
  if (q->send_body && q->body && q->body->ops->verify(q->body)) {
    set_error(q, "%s", q->body->ops->error(q->body));
    q->body_failed = 1;
    finish(q, NT_EHTTP_FILE_CHANGED);
    return;
  }
  if (status == 0 || status == NT_EUNEXPECTEDEOF ||
      status == NT_ETLS_TRUNCATED) { /* no close_notify: cut all the same */
    status = NT_EUNEXPECTEDEOF;
    set_error(q, "%s",
              q->body_done
                  ? "the server closed the connection without answering"
                  : "the server closed the connection while the "
                    "request body was being sent");
  }
  fail_or_retry(q, status);
}

/* --- sending --------------------------------------------------------------- */

/* The request goes out on the attached connection: the head, then the
 * body (request_send.c pumps it), after "100 Continue" or a wait for it
 * when Expect is sent. */
static void send_request(nt_http_request_t *q) {
  char *head;
  size_t len;
  int rc = nt__rq_build_head(q, &head, &len);
  if (rc) {
    finish(q, rc);
    return;
  }
  rq_set_state(q, RQ_WAITING); /* a failed write ends in EV_LOST there */
  if (nt__rq_write_head(q, head, len)) return; /* connection_lost follows */
  q->body_done = !q->send_body;
  if (!q->send_body) return; /* WAITING for the answer */
  if (q->expect) {
    rq_set_state(q, RQ_EXPECT);
    /* Our own wait for 100 must not use up the idle limit (nothing moves
     * meanwhile): at most half of it. */
    uint64_t wait = q->expect_ms;
    if (q->idle_ms / 2 < wait) wait = q->idle_ms / 2;
    nt_timer_start(&q->expect_timer, wait, 0);
  } else {
    rq_set_state(q, RQ_SENDING);
    nt__rq_pump(q);
  }
}

/* --- the state machine ---------------------------------------------------- */

/* Events every state handles the same way. */
static void common(nt_http_request_t *q, rq_event_t ev, int arg) {
  switch (ev) {
  case EV_CANCEL:
    finish(q, NT_ECANCELED);
    break;
  case EV_TIMEOUT: /* arg: NT_HTTP_LIMIT_* */
    if (arg != NT_HTTP_LIMIT_TOTAL && q->state != RQ_RECEIVING)
      fail_or_retry(q, NT_ETIMEDOUT); /* may be retried */
    else
      finish(q, NT_ETIMEDOUT);
    break;
  case EV_FAIL:
    finish(q, arg);
    break;
  default:
    break; /* not meaningful in this state: ignored */
  }
}

/* The detail of a response cut while its body came: how much of it came.
 * The status says how the connection ended (reset, closed early), and
 * programs print the two together: this must not say that again. */
static void set_cut_error(nt_http_request_t *q, const char *note) {
  char d[160];
  if (q->have_resp && q->resp.content_length >= 0)
    snprintf(d, sizeof d, "the response body stopped after %llu of %lld bytes%s",
             (unsigned long long)q->received, (long long)q->resp.content_length, note);
  else
    snprintf(d, sizeof d, "the response body stopped after %llu bytes%s",
             (unsigned long long)q->received, note);
  set_error(q, "%s", d);
}

/* The connection ended while the final answer's body was coming. */
static void lost_receiving(nt_http_request_t *q, int status) {
  q->conn = NULL;
  /* A TLS stream cut without close_notify is a cut transfer like any
   * other, not a TLS (handshake) failure. */
  if (status == NT_ETLS_TRUNCATED) {
    status = NT_EUNEXPECTEDEOF;
    set_cut_error(q, " (no TLS close_notify)");
  }
  if (status == 0) status = NT_EUNEXPECTEDEOF;
  set_cut_error(q, "");
  finish(q, status);
}

/* CONNECTING: the dial ended (or a pooled connection was attached). */
static void connect_ended(nt_http_request_t *q, rq_event_t ev, int arg) {
  q->dial = NULL;
  q->connect_due = 0;
  if (ev == EV_CONNECT_FAILED) {
    if (arg == NT_ETIMEDOUT) q->limit = NT_HTTP_LIMIT_CONNECT; /* backstop */
    fail_or_retry(q, arg);
    return;
  }
  nt__rq_progress(q);
  nt__rq_arm_limits(q);
  send_request(q);
}

/* EXPECT, SENDING, WAITING: the request (or part of it) is out, so the
 * answer may come. 1 if ev was one of those, else 0. */
static int answer_due(nt_http_request_t *q, rq_event_t ev, int arg) {
  switch (ev) {
  case EV_HEAD:
    on_head(q);
    return 1;
  case EV_LOST:
    lost_before_answer(q, arg);
    return 1;
  default:
    return 0;
  }
}

/* What the current state does with ev: 1 if it handled it, 0 for the
 * handling every state shares (common). */
static int in_state(nt_http_request_t *q, rq_event_t ev, int arg) {
  switch (q->state) {
  case RQ_CONNECTING:
    switch (ev) {
    case EV_START:
      begin_hop(q);
      return 1;
    case EV_CONNECTED:
    case EV_CONNECT_FAILED:
      connect_ended(q, ev, arg);
      return 1;
    default:
      return 0;
    }

  case RQ_EXPECT:
    if (ev != EV_CONTINUE && ev != EV_EXPECT_TIMEOUT)
      return answer_due(q, ev, arg);
    nt_timer_stop(&q->expect_timer);
    rq_set_state(q, RQ_SENDING);
    nt__rq_pump(q);
    return 1;

  case RQ_SENDING:
    switch (ev) {
    case EV_WRITABLE:
      nt__rq_pump(q);
      return 1;
    case EV_BODY_END:
      q->body_done = 1;
      rq_set_state(q, RQ_WAITING);
      return 1;
    default:
      return answer_due(q, ev, arg);
    }

  case RQ_WAITING:
    return answer_due(q, ev, arg);

  case RQ_RECEIVING:
    switch (ev) {
    case EV_COMPLETE:
      on_complete(q);
      return 1;
    case EV_LOST:
      lost_receiving(q, arg);
      return 1;
    default:
      return 0;
    }

  case RQ_SKIPPING:
    switch (ev) {
    case EV_COMPLETE:
      proceed(q);
      return 1;
    case EV_START: /* from the loop: gave up reading the body, or lost */
      proceed(q);
      if (q->state == RQ_CONNECTING) { /* no need for another turn */
        nt_timer_stop(&q->kick_timer);
        begin_hop(q);
      }
      return 1;
    case EV_LOST:
      q->conn = NULL;
      proceed(q);
      return 1;
    case EV_FAIL: /* a cut or bad body of an answer we do not keep */
      if (q->conn) nt__http_conn_mark_broken(q->conn);
      proceed(q);
      return 1;
    default:
      return 0;
    }

  case RQ_BACKOFF:
    if (ev != EV_RETRY_DUE) return 0;
    rq_set_state(q, RQ_CONNECTING);
    begin_hop(q);
    return 1;

  case RQ_DONE:
  case RQ_NSTATES:
    break;
  }
  return 1; /* done: nothing more happens */
}

static void step(nt_http_request_t *q, rq_event_t ev, int arg) {
  NT__DEBUG("http %p: %s + %s (%d)", (void *)q, state_names[q->state],
            event_names[ev], arg);
  if (!in_state(q, ev, arg)) common(q, ev, arg);
}

/* --- parser callbacks (arg: the connection) ------------------------------- */

static nt_http_request_t *req_of(void *arg) {
  return nt__http_conn_request(arg);
}

static int still_ours(nt_http_request_t *q, void *conn) {
  return q->conn == conn && q->state != RQ_DONE ? NT__HTTP_GO : NT__HTTP_STOP;
}

static int p_interim(void *arg, int status) {
  nt_http_request_t *q = req_of(arg);
  if (!q) return NT__HTTP_STOP;
  if (status == 100) step(q, EV_CONTINUE, 0);
  return still_ours(q, arg);
}

static int p_head(void *arg, nt__http_parser_t *p) {
  (void)p;
  nt_http_request_t *q = req_of(arg);
  if (!q) return NT__HTTP_STOP;
  step(q, EV_HEAD, 0);
  return still_ours(q, arg);
}

static int p_body(void *arg, const char *data, size_t len) {
  nt_http_request_t *q = req_of(arg);
  if (!q) return NT__HTTP_STOP;
  if (q->state == RQ_RECEIVING) {
    q->received += len;
    if (q->cbs.on_body) {
      int rc = q->cbs.on_body(q, data, len, q->arg);
      if (rc) {
        if (rc > 0) rc = NT_ECANCELED;
        step(q, EV_FAIL, rc);
      }
    }
  } else if (q->state == RQ_SKIPPING) {
    q->skipped += len;
    if (q->skipped > SKIP_MAX) { /* not worth reading: drop the conn */
      nt__http_conn_mark_broken(q->conn);
      step(q, EV_START, 0);
    }
  }
  return still_ours(q, arg);
}

static int p_complete(void *arg, nt__http_parser_t *p, int keep_alive) {
  (void)p;
  nt_http_request_t *q = req_of(arg);
  if (!q) return NT__HTTP_STOP;
  q->keep_alive = keep_alive;
  step(q, EV_COMPLETE, 0);
  return NT__HTTP_GO;
}

static const nt__http_parser_cbs_t parser_cbs = {
    .on_interim = p_interim,
    .on_head = p_head,
    .on_body = p_body,
    .on_complete = p_complete,
};

/* --- what the connection reports (conn_events) ---------------------------- */

static void c_connected(nt_http_request_t *q, nt__http_conn_t *conn) {
  q->dial = NULL;
  attach(q, conn);
  step(q, EV_CONNECTED, 0);
}

static void c_connect_failed(nt_http_request_t *q, int status,
                             const char *detail) {
  q->dial = NULL;
  set_error(q, "%s", detail);
  step(q, EV_CONNECT_FAILED, status);
}

static void c_writable(nt_http_request_t *q) { step(q, EV_WRITABLE, 0); }

static void c_progress(nt_http_request_t *q) { nt__rq_progress(q); }

static void c_lost(nt_http_request_t *q, int status) {
  q->sent = sent_now(q);
  q->conn = NULL;
  step(q, EV_LOST, status);
}

static void c_failed(nt_http_request_t *q, int status, const char *detail) {
  /* the connection closed inside the body: the parser's words would say
   * again what NT_EUNEXPECTEDEOF says */
  if (status == NT_EUNEXPECTEDEOF && q->state == RQ_RECEIVING)
    set_cut_error(q, "");
  set_error(q, "%s", detail);
  step(q, EV_FAIL, status);
}

static const nt__http_conn_events_t conn_events = {
    .parser = &parser_cbs,
    .connected = c_connected,
    .connect_failed = c_connect_failed,
    .writable = c_writable,
    .progress = c_progress,
    .lost = c_lost,
    .failed = c_failed,
};

/* --- for request_send.c and request_api.c --------------------------------- */

void nt__rq_step(nt_http_request_t *q, rq_event_t ev, int arg) {
  step(q, ev, arg);
}

void nt__rq_begin(nt_http_request_t *q) {
  rq_set_state(q, RQ_CONNECTING);
  nt__rq_arm_limits(q); /* each try re-arms the others (begin_hop) */
  kick(q, 0);
}

int nt__rq_done(const nt_http_request_t *q) { return q->state == RQ_DONE; }
const char *nt__rq_state_name(const nt_http_request_t *q) {
  return state_names[q->state];
}
void nt__rq_set_error(nt_http_request_t *q, const char *fmt, const char *s) {
  set_error(q, fmt, s);
}
uint64_t nt__rq_sent_now(const nt_http_request_t *q) { return sent_now(q); }
void nt__rq_kick(nt_http_request_t *q, uint64_t delay_ms) { kick(q, delay_ms); }
void nt__rq_set_url_text(nt_http_request_t *q) { set_url_text(q); }
