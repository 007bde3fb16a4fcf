/* The request API (start, cancel, progress, answers), the request's
 * timers (total, idle, 100-continue, kick, done), and freeing. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "reactor-int.h"
#include "request-int.h"

/* --- timers --------------------------------------------------------------- */

static void total_cb(nt_timer_t *t) {
  nt_http_request_t *q = t->data;
  snprintf(q->error, sizeof q->error, "the request took longer than %.1f s",
           (double)q->timeout_ms / 1000.0);
  nt__rq_step(q, EV_TIMEOUT, TIMEOUT_TOTAL);
}

static void idle_cb(nt_timer_t *t) {
  nt_http_request_t *q = t->data;
  uint64_t now = nt_reactor_now(t->reactor);
  uint64_t progress = nt__rq_sent_now(q) + (q->conn ? q->conn->bytes_in : 0) +
                      q->received + (uint64_t)q->hops;
  if (progress != q->idle_progress || q->state == RQ_CONNECTING ||
      q->state == RQ_BACKOFF || q->state == RQ_EXPECT) {
    q->idle_progress = progress;
    q->idle_last = now;
  }
  if (now - q->idle_last >= q->idle_ms) {
    snprintf(q->error, sizeof q->error, "no data moved for %.1f s",
             (double)q->idle_ms / 1000.0);
    nt__rq_step(q, EV_TIMEOUT, TIMEOUT_IDLE);
    return;
  }
  nt_timer_start(t, q->idle_last + q->idle_ms - now, 0);
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

int nt_http_request_start(nt_http_client_t *c,
                          const nt_http_request_options_t *o,
                          const nt_http_callbacks_t *cbs, void *arg,
                          nt_http_request_t **out) {
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
  strcpy(q->method, method);
  nt__rq_set_url_text(q);
  q->client = c;
  if (cbs) q->cbs = *cbs;
  q->arg = arg;
  q->body = o->body;
  q->timeout_ms = o->timeout_ms;
  q->idle_ms = o->idle_timeout_ms ? o->idle_timeout_ms : DEFAULT_IDLE_MS;
  q->connect_ms =
      o->connect_timeout_ms ? o->connect_timeout_ms : DEFAULT_CONNECT_MS;
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
  nt_timer_t *timers[] = {&q->total_timer, &q->idle_timer, &q->expect_timer,
                          &q->kick_timer, &q->done_timer};
  nt_timer_cb tcbs[] = {total_cb, idle_cb, expect_cb, kick_cb, done_cb};
  for (int i = 0; i < 5; i++) {
    nt_timer_init(c->reactor, timers[i], tcbs[i]);
    timers[i]->data = q;
  }
  q->state = RQ_CONNECTING;
  q->next = c->requests;
  if (c->requests) c->requests->prev = q;
  c->requests = q;
  q->idle_last = nt_reactor_now(c->reactor);
  if (q->timeout_ms) nt_timer_start(&q->total_timer, q->timeout_ms, 0);
  nt_timer_start(&q->idle_timer, q->idle_ms, 0);
  nt__rq_kick(q,
              0); /* connect from the loop: no callback runs inside this call */
  if (out) *out = q;
  return 0;
}

void nt_http_request_cancel(nt_http_request_t *q) {
  if (q && q->state != RQ_DONE) nt__rq_step(q, EV_CANCEL, 0);
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
    if (q->state != RQ_DONE) nt__rq_finish(q, NT_ECANCELED);
  }
}

void nt_http_request_progress(const nt_http_request_t *q,
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
  p->state = nt__rq_state_name(q->state);
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
