/* The request API (start, cancel, progress, answers), the request's
 * timers (total, idle, 100-continue, kick, done), and freeing. Timers and
 * API calls reach the state machine as events (nt__rq_step). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "reactor-int.h"
#include "request-int.h"

/* --- the limits ----------------------------------------------------------- */

/* One timer serves the three limits of docs/DESIGN.md ("Time and
 * timeouts"). Progress is recorded when it happens (nt__rq_progress, from
 * the connection's data and the body pump), never guessed when the timer
 * fires; the timer, when it fires, checks every deadline and re-arms for
 * the earliest one left. "No progress for S" so ends S after the last
 * byte, not up to 2S. The one progress no callback reports is the socket
 * taking queued request bytes: while some are queued it is looked at every
 * min(250 ms, S/10), so an upload stall is seen within that. */

const char *nt__rq_secs(char *buf, size_t size, uint64_t ms) {
  if (ms % 1000 == 0)
    snprintf(buf, size, "%llu s", (unsigned long long)(ms / 1000));
  else {
    snprintf(buf, size, "%llu.%03llu", (unsigned long long)(ms / 1000),
             (unsigned long long)(ms % 1000));
    size_t n = strlen(buf);
    while (buf[n - 1] == '0') buf[--n] = 0; /* 1.500 -> 1.5 */
    snprintf(buf + n, size - n, " s");
  }
  return buf;
}

static uint64_t now_of(const nt_http_request_t *q) {
  return nt_reactor_now(q->limit_timer.reactor);
}

void nt__rq_progress(nt_http_request_t *q) { q->last_progress = now_of(q); }

void nt__rq_note_sent(nt_http_request_t *q) {
  uint64_t s = nt__rq_sent_now(q);
  if (s != q->sent_sample) {
    q->sent_sample = s;
    nt__rq_progress(q);
  }
}

/* Between tries (back-off) nothing is expected to move. */
static int idle_applies(const nt_http_request_t *q) {
  return q->state != RQ_BACKOFF && q->state != RQ_DONE;
}

static int out_queued(const nt_http_request_t *q) {
  return q->conn && nt__http_conn_queued(q->conn) > 0;
}

void nt__rq_arm_limits(nt_http_request_t *q) {
  if (nt__rq_done(q)) return;
  uint64_t now = now_of(q), due = UINT64_MAX;
  if (q->total_due) due = q->total_due;
  if (q->connect_due && q->connect_due < due) due = q->connect_due;
  if (idle_applies(q)) {
    uint64_t d = q->last_progress + q->idle_ms;
    if (d < due) due = d;
    if (out_queued(q)) {
      uint64_t look = q->idle_ms / 10;
      if (look > 250) look = 250;
      if (look == 0) look = 1;
      if (now + look < due) due = now + look;
    }
  }
  if (due == UINT64_MAX) {
    nt_timer_stop(&q->limit_timer);
    return;
  }
  nt_timer_start(&q->limit_timer, due > now ? due - now : 0, 0);
}

static void timed_out(nt_http_request_t *q, int limit, const char *fmt,
                      uint64_t ms) {
  char b[32];
  snprintf(q->error, sizeof q->error, fmt, nt__rq_secs(b, sizeof b, ms));
  q->limit = limit;
  nt__rq_step(q, EV_TIMEOUT, limit);
}

static void limit_cb(nt_timer_t *t) {
  nt_http_request_t *q = t->data;
  uint64_t now = nt_reactor_now(t->reactor);
  nt__rq_note_sent(q);
  if (q->total_due && now >= q->total_due)
    timed_out(q, NT_HTTP_LIMIT_TOTAL, "the request took longer than %s",
              q->timeout_ms);
  else if (q->connect_due && now >= q->connect_due)
    timed_out(q, NT_HTTP_LIMIT_CONNECT, "no connection within %s",
              q->connect_ms);
  else if (idle_applies(q) && now - q->last_progress >= q->idle_ms)
    timed_out(q, NT_HTTP_LIMIT_IDLE, "no byte moved for %s", q->idle_ms);
  nt__rq_arm_limits(q); /* a retry, or not due yet: the next deadline */
}

static void expect_cb(nt_timer_t *t) {
  nt__rq_step(t->data, EV_EXPECT_TIMEOUT, 0);
}

static void kick_cb(nt_timer_t *t) {
  nt_http_request_t *q = t->data;
  switch (q->state) {
  case RQ_BACKOFF:
    nt__rq_step(q, EV_RETRY_DUE, 0);
    break;
  case RQ_SENDING:
    nt__rq_step(q, EV_WRITABLE, 0);
    break;
  default:
    nt__rq_step(q, EV_START, 0);
  }
}

static void free_request(nt_http_request_t *q) {
  nt_url_free(&q->url);
  nt_url_free(&q->origin);
  nt_url_free(&q->next_url);
  for (char **e = q->extra; e && *e; e++) nt__free(*e);
  nt__free(q->extra);
  if (q->password) memset(q->password, 0, strlen(q->password));
  nt__free(q->user);
  nt__free(q->password);
  nt__free(q->resp_block);
  nt__free(q->trailer_block);
  nt__free(q);
}

static void done_cb(nt_timer_t *t) {
  nt_http_request_t *q = t->data;
  if (q->client) nt__http_client_forget(q->client, q);
  if (q->cbs.on_done) q->cbs.on_done(q, q->status, q->arg);
  free_request(q);
}

/* --- the API -------------------------------------------------------------- */

static int token(const char *s) {
  if (!s || !*s || strlen(s) > MAX_METHOD) return 0;
  for (; *s; s++)
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
          (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-.^_`|~", *s)))
      return 0;
  return 1;
}

static char *dup_opt(const char *s, int *oom) {
  if (!s) return NULL;
  char *d = nt__strdup(s);
  if (!d) *oom = 1;
  return d;
}

/* The value of a "Name: value" line if it is name's, trailing blanks
 * included, or NULL. */
static const char *value_of(const char *line, const char *name) {
  size_t n = strlen(name);
  if (strncasecmp(line, name, n) || line[n] != ':') return NULL;
  const char *v = line + n + 1;
  while (*v == ' ' || *v == '\t') v++;
  return v;
}

static size_t trimmed_len(const char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  return n;
}

/* The boundary parameter of a media type: *len bytes at the result (quotes
 * left out), or NULL. */
static const char *boundary_param(const char *type, size_t *len) {
  for (const char *p = strchr(type, ';'); p; p = strchr(p + 1, ';')) {
    const char *k = p + 1;
    while (*k == ' ' || *k == '\t') k++;
    if (strncasecmp(k, "boundary=", 9)) continue;
    k += 9;
    if (*k == '"') {
      const char *e = strchr(++k, '"');
      *len = e ? (size_t)(e - k) : strlen(k);
    } else {
      *len = strcspn(k, "; \t");
    }
    return k;
  }
  return NULL;
}

/* A caller's Content-Type for a multipart body: the parts are framed by
 * the body's boundary, so a type without it would make a form no server
 * can parse. multipart/... without a boundary gets the body's; anything
 * else is NT_EINVAL. */
static int fix_content_type(char **line, nt_http_body_t *body) {
  const char *bt = body ? body->ops->content_type(body) : NULL;
  size_t blen, ulen;
  const char *bb = bt && !strncasecmp(bt, "multipart/", 10)
                       ? boundary_param(bt, &blen)
                       : NULL;
  const char *v = value_of(*line, "Content-Type");
  if (!v || !bb) return 0; /* not a multipart body: the type is the caller's */
  if (!*v || strncasecmp(v, "multipart/", 10)) return NT_EINVAL;
  const char *ub = boundary_param(v, &ulen);
  if (ub) return ulen == blen && !memcmp(ub, bb, blen) ? 0 : NT_EINVAL;
  size_t n = trimmed_len(*line);
  size_t size = n + 11 + blen + 1;
  char *fixed = nt__malloc(size);
  if (!fixed) return NT_ENOMEM;
  snprintf(fixed, size, "%.*s; boundary=%.*s", (int)n, *line, (int)blen, bb);
  nt__free(*line);
  *line = fixed;
  return 0;
}

/* What the caller's Expect and Content-Type lines mean for this body. */
static int apply_extras(nt_http_request_t *q, nt_http_body_t *body) {
  for (char **e = q->extra; *e; e++) {
    const char *v = value_of(*e, "Expect");
    if (v) {
      size_t n = trimmed_len(v);
      if (n == 0)
        q->no_expect = 1; /* "Expect:" removes ours: never wait for 100 */
      else if (n == 12 && !strncasecmp(v, "100-continue", 12))
        q->force_expect = 1;
      else if (body)
        return NT_EINVAL; /* nettool could not honour another expectation */
    }
    int rc = fix_content_type(e, body);
    if (rc) return rc;
  }
  return 0;
}

int nt_http_request_start_sized(size_t opts_size, nt_http_client_t *c,
                                const nt_http_request_options_t *o,
                                const nt_http_callbacks_t *cbs, void *arg,
                                nt_http_request_t **out) {
  nt_http_request_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, o, opts_size)) return NT_ENOTSUP;
  if (o) o = &opts_copy_;
  if (!c || !o || !o->url) return NT_EINVAL;
  const char *method = o->method ? o->method : o->body ? "POST" : "GET";
  if (!token(method)) return NT_EINVAL;
  size_t nextra = 0;
  for (const char *const *e = o->headers; e && *e; e++, nextra++) {
    if (nextra >= NT__HTTP_MAX_EXTRA) return NT_EINVAL;
    int rc = nt__http_check_header_line(*e);
    if (rc) return rc;
  }
  nt_http_request_t *q = nt__calloc(1, sizeof *q);
  if (!q) return NT_ENOMEM;
  int rc = nt_url_parse(o->url, &q->url);
  if (rc) {
    nt__free(q);
    return rc;
  }
  int oom = nt_url_copy(&q->origin, &q->url) != 0;
  q->extra = nt__calloc(nextra + 1, sizeof *q->extra);
  if (!q->extra) oom = 1;
  for (size_t i = 0; i < nextra && !oom; i++)
    q->extra[i] = dup_opt(o->headers[i], &oom);
  if (o->user) {
    q->user = dup_opt(o->user, &oom);
    q->password = dup_opt(o->password ? o->password : "", &oom);
  } else if (q->url.user) {
    q->user = dup_opt(q->url.user, &oom);
    q->password = dup_opt(q->url.password ? q->url.password : "", &oom);
  }
  if (oom) {
    free_request(q);
    return NT_ENOMEM;
  }
  if ((rc = apply_extras(q, o->body)) != 0) {
    free_request(q);
    return rc;
  }
  strcpy(q->method, method);
  nt__rq_set_url_text(q);
  q->client = c;
  if (cbs) q->cbs = *cbs;
  q->arg = arg;
  q->body = o->body;
  q->timeout_ms = o->timeout_ms;
  q->idle_ms = o->idle_timeout_ms ? o->idle_timeout_ms : DEFAULT_IDLE_MS;
  q->connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms : q->idle_ms;
  q->max_redirects = o->max_redirects == 0  ? DEFAULT_MAX_REDIRECTS
                     : o->max_redirects < 0 ? -1
                                            : o->max_redirects;
  q->max_retries = o->max_retries > 0 ? o->max_retries : 0;
  q->retry_delay_ms = o->retry_delay_ms;
  q->expect_threshold =
      o->expect_threshold ? o->expect_threshold : DEFAULT_EXPECT_THRESHOLD;
  q->expect_ms =
      o->expect_timeout_ms ? o->expect_timeout_ms : DEFAULT_EXPECT_TIMEOUT_MS;
  q->max_header = o->max_header_bytes;
  q->resp.content_length = -1;
  nt_timer_t *timers[] = {&q->limit_timer, &q->expect_timer, &q->kick_timer,
                          &q->done_timer};
  nt_timer_cb tcbs[] = {limit_cb, expect_cb, kick_cb, done_cb};
  for (int i = 0; i < 4; i++) {
    nt_timer_init(c->reactor, timers[i], tcbs[i]);
    timers[i]->data = q;
  }
  q->next = c->requests;
  if (c->requests) c->requests->prev = q;
  c->requests = q;
  q->last_progress = nt_reactor_now(c->reactor);
  if (q->timeout_ms) q->total_due = q->last_progress + q->timeout_ms;
  nt__rq_begin(q); /* connects from the loop: no callback runs in here */
  if (out) *out = q;
  return 0;
}

void nt_http_request_cancel(nt_http_request_t *q) {
  if (q) nt__rq_step(q, EV_CANCEL, 0);
}

void nt__http_client_forget(nt_http_client_t *c, nt_http_request_t *q) {
  if (q->prev)
    q->prev->next = q->next;
  else if (c->requests == q)
    c->requests = q->next;
  if (q->next) q->next->prev = q->prev;
  q->prev = q->next = NULL;
  q->client = NULL;
}

void nt__http_client_cancel_all(nt_http_client_t *c) {
  while (c->requests) {
    nt_http_request_t *q = c->requests;
    nt__http_client_forget(c, q);
    nt__rq_step(q, EV_CANCEL, 0); /* nothing, when it is done already */
  }
}

/* sent less what the kernel (and the transport's queue) still hold
 * unacknowledged; the queue holds request bytes of this request only (one
 * request in flight per connection while a body is sent). */
static uint64_t acked_now(const nt_http_request_t *q, uint64_t sent) {
  nt_transport_t *t = q->conn ? nt__http_conn_transport(q->conn) : NULL;
  uint64_t un = 0;
  if (!t || nt_transport_unacked(t, &un) != 0) return sent;
  uint64_t a = q->body_queued > un ? q->body_queued - un : 0;
  return a < sent ? a : sent;
}

static void http_request_progress_full(const nt_http_request_t *q,
                                       nt_http_progress_t *p) {
  memset(p, 0, sizeof *p);
  p->sent = nt__rq_sent_now(q);
  p->send_total =
      q->body ? (q->hops ? q->body_len : q->body->ops->length(q->body)) : -1;
  p->received = q->received;
  p->receive_total = q->have_resp ? q->resp.content_length : -1;
  p->redirects = q->redirects;
  p->retries = q->retries;
  p->connected = q->connected;
  p->body_error = q->body_failed;
  p->state = nt__rq_state_name(q);
  p->limit = q->status == NT_ETIMEDOUT ? q->limit : 0;
  p->acked = acked_now(q, p->sent);
}

void nt_http_request_progress_sized(size_t out_size, const nt_http_request_t *q,
                                    nt_http_progress_t *p) {
  /* the caller's struct may be an older, smaller one (docs/ABI.md) */
  nt_http_progress_t full;
  memset(&full, 0, sizeof full);
  http_request_progress_full(q, &full);
  if (p) memcpy(p, &full, out_size < sizeof full ? out_size : sizeof full);
}

const char *nt_http_request_url(const nt_http_request_t *q) {
  return q->url_text;
}

const nt_http_response_t *nt_http_request_response(nt_http_request_t *q) {
  return q->have_resp ? &q->resp : NULL;
}

const char *nt_http_request_error(const nt_http_request_t *q) {
  return q->error;
}

const char *nt_http_header_get(const nt_http_header_t *h, size_t n,
                               const char *name) {
  for (size_t i = 0; i < n; i++)
    if (!strcasecmp(h[i].name, name)) return h[i].value;
  return NULL;
}
