/* NNTP pool (nettool/nntp_pool.h): N client connections to one server,
 * one queue of requests. A request waits in the pool's queue (retries,
 * which keep their order, go first) until a READY connection has room:
 * its pipelining window (nt_nntp_pipeline_window) plus one, so the
 * connection always has the next command at hand and no connection
 * hoards work the others could do. A connection's failure sends its
 * unanswered requests back to the queue (each at most `attempts` times),
 * and the slot connects again after a delay that doubles per failure in
 * a row. A server that refuses pipelining (RFC 3977 3.5 lets it; such
 * servers hang up on a second command) is handled by each client itself
 * (it connects again and sends its commands one at a time, nntp.h); the
 * pool then hands out one request at a time per connection and opens new
 * ones without pipelining. A connection that still dies with more than
 * one command in flight makes the pool fall back the same way. */
#include <stdio.h>
#include <string.h>

#include "nettool/nntp_pool.h"
#include "nntp-int.h"
#include "reactor-int.h"

#define MAX_CONNECTIONS 128

enum { PREQ_FETCH, PREQ_OVER, PREQ_GROUP };

typedef struct preq preq_t;
typedef struct pconn pconn_t;

struct preq {
  preq_t *next;
  int kind;
  nt_nntp_fetch_t what;
  char *group, *spec;
  nt_nntp_pool_line_cb line;
  nt_nntp_pool_over_cb over;
  nt_nntp_pool_done_cb done;
  void *arg;
  unsigned attempts;
  pconn_t *conn; /* the connection it is in flight on */
  int delivered; /* lines were handed out in this attempt */
  char *buf;     /* collected lines */
  size_t len, cap;
  int toobig;
  uint64_t lines, bytes;
};

struct pconn {
  nt_nntp_pool_t *pool;
  unsigned index;
  nt_nntp_t *c; /* NULL: not connected (maybe waiting for retry_timer) */
  int ready;
  int given_up; /* refused for good: no reconnect */
  char *group;  /* the group selected on this connection */
  size_t nflight;
  size_t died_with; /* requests lost when it failed */
  unsigned fails;   /* failures in a row of this slot */
  nt_timer_t retry_timer;
  int timer_on;
};

struct nt_nntp_pool_s {
  nt_reactor_t *r;
  char *host;
  int port;
  nt_nntp_options_t conn_opts; /* strings point into the copies below */
  char *user, *pass, *tls_name;
  nt_nntp_pool_options_t o;
  nt_nntp_pool_callbacks_t cbs;
  void *arg;
  pconn_t *conns;
  unsigned n;
  preq_t *qhead, *qtail; /* waiting */
  preq_t *rhead, *rtail; /* waiting again after a connection failed */
  size_t queued;
  unsigned pipeline; /* per-connection ceiling; 1 after a refusal */
  unsigned fails_in_row;
  int closing; /* 1: nt_nntp_pool_close; 2: given up (closed(status)) */
  int finished, finish_queued;
  int status; /* for closed() */
  nt_nntp_pool_stats_t st;
  char last_reply[256];
  int last_code;
};

static void dispatch(nt_nntp_pool_t *p);
static void conn_open(pconn_t *k);

/* --- requests ------------------------------------------------------------------- */

static void preq_free(preq_t *q) {
  nt__free(q->group);
  nt__free(q->spec);
  nt__free(q->buf);
  nt__free(q);
}

static void push(preq_t **head, preq_t **tail, preq_t *q) {
  q->next = NULL;
  if (*tail)
    (*tail)->next = q;
  else
    *head = q;
  *tail = q;
}

static preq_t *pop(nt_nntp_pool_t *p) {
  preq_t **head = p->rhead ? &p->rhead : &p->qhead;
  preq_t **tail = p->rhead ? &p->rtail : &p->qtail;
  preq_t *q = *head;
  if (!q) return NULL;
  *head = q->next;
  if (!*head) *tail = NULL;
  p->queued--;
  return q;
}

/* Tells the caller and frees q. */
static void finish(nt_nntp_pool_t *p, preq_t *q, const nt_nntp_result_t *res,
                   int status, unsigned conn_index) {
  nt_nntp_pool_result_t r;
  memset(&r, 0, sizeof r);
  r.status = status;
  r.code = res ? res->code : 0;
  r.text = res && res->text ? res->text : "";
  r.spec = q->spec ? q->spec : "";
  r.group = q->group ? q->group : "";
  r.message_id = res && res->message_id ? res->message_id : "";
  if (res) {
    r.number = q->kind == PREQ_GROUP ? res->count : res->number;
    r.low = res->low;
    r.high = res->high;
  }
  if (!q->line && q->kind == PREQ_FETCH && !status) {
    r.data = q->buf ? q->buf : "";
    r.len = q->len;
  }
  r.lines = q->lines;
  r.bytes = q->bytes;
  r.attempts = q->attempts;
  r.conn_index = conn_index;
  if (status)
    p->st.failed++;
  else
    p->st.done++;
  if (q->done) q->done(p, &r, q->arg);
  preq_free(q);
}

static void fail_waiting(nt_nntp_pool_t *p, int status) {
  preq_t *q;
  while ((q = pop(p)) != NULL) finish(p, q, NULL, status, 0);
}

/* A connection error (as opposed to the server's answer or our limits):
 * worth another connection. */
static int retryable(int status) {
  if (status >= 0) return 0;
  if (status <= -3500 && status > -3600) return 0; /* NT_ENNTP_* */
  return status != NT_ETOOBIG && status != NT_ENOMEM && status != NT_EINVAL;
}

/* --- callbacks from the connections' requests ------------------------------------------- */

static void keep_line(nt_nntp_pool_t *p, preq_t *q, const char *line, size_t len) {
  q->lines++;
  q->bytes += len + 2;
  p->st.bytes += len + 2;
  q->delivered = 1;
  if (q->line) {
    q->line(p, line, len, q->arg);
    return;
  }
  if (q->toobig) return;
  size_t need = q->len + len + 3;
  if (need > p->o.max_collect) {
    q->toobig = 1;
    return;
  }
  if (need > q->cap) {
    size_t cap = q->cap ? q->cap : 4096;
    while (cap < need) cap *= 2;
    char *b = nt__realloc(q->buf, cap);
    if (!b) {
      q->toobig = 2;
      return;
    }
    q->buf = b;
    q->cap = cap;
  }
  memcpy(q->buf + q->len, line, len);
  q->len += len;
  q->buf[q->len++] = '\r';
  q->buf[q->len++] = '\n';
  q->buf[q->len] = 0;
}

static void on_line(nt_nntp_t *c, const char *line, size_t len, void *arg) {
  preq_t *q = arg;
  (void)c;
  keep_line(q->conn->pool, q, line, len);
}

static void on_over(nt_nntp_t *c, const nt_nntp_overview_t *o, void *arg) {
  preq_t *q = arg;
  nt_nntp_pool_t *p = q->conn->pool;
  (void)c;
  q->lines++;
  q->delivered = 1;
  if (q->over) q->over(p, o, q->arg);
}

static void on_done(nt_nntp_t *c, const nt_nntp_result_t *res, void *arg) {
  preq_t *q = arg;
  pconn_t *k = q->conn;
  nt_nntp_pool_t *p = k->pool;
  (void)c;
  k->nflight--;
  p->st.in_flight--;
  q->conn = NULL;
  int st = res->status;
  if (retryable(st) && !p->closing && q->attempts < p->o.attempts) {
    k->died_with++;
    /* forget this attempt and queue it again, ahead of new work */
    if (q->delivered) {
      if (q->line) q->line(p, NULL, 0, q->arg);
      if (q->over) q->over(p, NULL, q->arg);
    }
    q->delivered = 0;
    q->len = 0;
    q->toobig = 0;
    q->lines = q->bytes = 0;
    push(&p->rhead, &p->rtail, q);
    p->queued++;
    p->st.retried++;
    return; /* dispatched once the connection's end is known */
  }
  if (retryable(st)) k->died_with++;
  if (!st && q->toobig) st = q->toobig == 2 ? NT_ENOMEM : NT_ETOOBIG;
  if (!retryable(st)) {
    /* an answer: the server and this connection work */
    p->fails_in_row = 0;
    k->fails = 0;
  }
  finish(p, q, res, st, k->index);
  dispatch(p);
}

static void on_group_done(nt_nntp_t *c, const nt_nntp_result_t *res, void *arg) {
  pconn_t *k = arg;
  (void)c;
  if (res->status && k->group) { /* the next request selects it again */
    nt__free(k->group);
    k->group = NULL;
  }
}

/* --- sending ---------------------------------------------------------------------------- */

static int send_on(pconn_t *k, preq_t *q) {
  nt_nntp_t *c = k->c;
  int rc;
  if (q->group && q->kind != PREQ_GROUP &&
      (!k->group || strcmp(k->group, q->group) != 0)) {
    char *g = nt__strdup(q->group);
    if (!g) return NT_ENOMEM;
    rc = nt_nntp_group(c, q->group, on_group_done, k);
    if (rc) {
      nt__free(g);
      return rc;
    }
    nt__free(k->group);
    k->group = g;
  }
  q->conn = k;
  switch (q->kind) {
  case PREQ_FETCH:
    rc = nt_nntp_fetch(c, q->what, q->spec, on_line, on_done, q);
    break;
  case PREQ_OVER:
    rc = nt_nntp_over(c, q->spec, on_over, on_done, q);
    break;
  default:
    rc = nt_nntp_group(c, q->group, on_done, q);
    if (!rc) {
      nt__free(k->group);
      k->group = nt__strdup(q->group); /* NULL: selected again next time */
    }
    break;
  }
  if (rc) {
    q->conn = NULL;
    return rc;
  }
  q->attempts++;
  k->nflight++;
  k->pool->st.in_flight++;
  return 0;
}

static size_t room(const pconn_t *k) {
  if (!k->c || !k->ready) return 0;
  size_t w = k->pool->pipeline <= 1 ? 1 : (size_t)nt_nntp_pipeline_window(k->c) + 1;
  return k->nflight < w ? w - k->nflight : 0;
}

static void dispatch(nt_nntp_pool_t *p) {
  if (p->finished) return;
  for (unsigned i = 0; i < p->n && p->queued; i++) {
    pconn_t *k = &p->conns[i];
    /* a connection fell back by itself (nntp.h): the others will be
     * refused too, and connections opened from now on start at one */
    if (k->c && p->pipeline > 1 && nt_nntp_pipeline_refused(k->c)) {
      p->pipeline = 1;
      p->st.pipeline = 1;
      p->conn_opts.pipeline = 1;
    }
    while (p->queued && room(k)) {
      preq_t *q = pop(p);
      int rc = send_on(k, q);
      if (rc) {
        /* this connection is going away: back to the front */
        q->next = p->rhead;
        p->rhead = q;
        if (!p->rtail) p->rtail = q;
        p->queued++;
        break;
      }
    }
  }
}

/* --- connections -------------------------------------------------------------------------- */

static void free_pool(nt_nntp_pool_t *p) {
  for (unsigned i = 0; i < p->n; i++) {
    nt_timer_stop(&p->conns[i].retry_timer);
    nt__free(p->conns[i].group);
  }
  if (p->pass) {
    volatile char *s = p->pass;
    while (*s) *s++ = 0;
  }
  nt__free(p->user);
  nt__free(p->pass);
  nt__free(p->tls_name);
  nt__free(p->host);
  nt__free(p->conns);
  nt__free(p);
}

static int alive(const nt_nntp_pool_t *p) {
  int n = 0;
  for (unsigned i = 0; i < p->n; i++) n += p->conns[i].c != NULL || p->conns[i].timer_on;
  return n;
}

/* The end: every connection is gone (closing) or none can come back. */
static void maybe_finish(nt_nntp_pool_t *p) {
  if (p->finished || alive(p)) return;
  p->finished = 1;
  int status = p->closing == 1 ? 0 : (p->status ? p->status : NT_ECONNABORTED);
  fail_waiting(p, status ? status : NT_ECANCELED);
  if (p->cbs.closed) p->cbs.closed(p, status, p->arg);
  free_pool(p);
}

static void finish_cb(void *arg) {
  nt_nntp_pool_t *p = arg;
  p->finish_queued = 0;
  maybe_finish(p);
}

/* From the loop, once: the pool may be freed there. */
static void schedule_finish(nt_nntp_pool_t *p) {
  if (p->finish_queued) return;
  if (nt_call_soon(p->r, finish_cb, p) == 0)
    p->finish_queued = 1;
  else
    maybe_finish(p);
}

static void on_ready(nt_nntp_t *c, void *arg) {
  pconn_t *k = arg;
  nt_nntp_pool_t *p = k->pool;
  (void)c;
  k->ready = 1;
  k->died_with = 0;
  if (p->cbs.connected) p->cbs.connected(p, k->index, p->arg);
  dispatch(p);
}

static void retry_cb(nt_timer_t *t) {
  pconn_t *k = nt__container_of(t, pconn_t, retry_timer);
  k->timer_on = 0;
  if (k->pool->closing) {
    maybe_finish(k->pool);
    return;
  }
  conn_open(k);
}

/* A refusal no other connection will change (credentials, TLS). */
static int fatal(int status) {
  return status == NT_ENNTP_AUTHFAIL || status == NT_ENNTP_TLSREQ ||
         status == NT_ENNTP_NOTLS || status == NT_ENNTP_AUTHREQ ||
         status == NT_ETLS_VERIFY || status == NT_EINVAL;
}

static void on_closed(nt_nntp_t *c, int status, void *arg) {
  pconn_t *k = arg;
  nt_nntp_pool_t *p = k->pool;
  int was_ready = k->ready;
  k->c = NULL;
  k->ready = 0;
  nt__free(k->group);
  k->group = NULL;
  if (status) {
    const char *lr = nt_nntp_last_reply(c);
    if (nt_nntp_last_code(c)) {
      p->last_code = nt_nntp_last_code(c);
      snprintf(p->last_reply, sizeof p->last_reply, "%s", lr);
    }
  }
  /* More than one command in flight and the server hung up on them:
   * it does not take pipelining. */
  if (status && was_ready && p->pipeline > 1 && nt_nntp_peak_in_flight(c) > 1 &&
      k->died_with > 0) {
    nt__log(NT__LOG_INFO,
            "nntp pool: the server closed a connection with %zu commands in "
            "flight: one command at a time from now on",
            nt_nntp_peak_in_flight(c));
    p->pipeline = 1;
    p->st.pipeline = 1;
    p->conn_opts.pipeline = 1;
  }
  if (p->closing) {
    schedule_finish(p);
    return;
  }
  if (!status) status = NT_EUNEXPECTEDEOF; /* we did not ask it to close */
  k->fails++;
  p->fails_in_row++;
  if (!p->status || !was_ready) p->status = status;
  if (fatal(status) || p->fails_in_row >= p->o.attempts * (p->n > 1 ? 2 : 1) + 1) {
    if (fatal(status)) p->status = status;
    k->given_up = 1;
    p->closing = 2; /* nothing more can work: end it */
    fail_waiting(p, p->status);
    for (unsigned i = 0; i < p->n; i++) {
      pconn_t *o = &p->conns[i];
      if (o->timer_on) {
        nt_timer_stop(&o->retry_timer);
        o->timer_on = 0;
      }
      if (o->c) nt_nntp_close(o->c);
    }
    schedule_finish(p);
    return;
  }
  unsigned shift = k->fails > 8 ? 8 : k->fails - 1;
  uint64_t delay = was_ready && k->fails == 1 ? 0 : p->o.retry_delay_ms << shift;
  k->timer_on = 1;
  nt_timer_start(&k->retry_timer, delay, 0);
  dispatch(p); /* retries may go to the other connections now */
}

static const nt_nntp_callbacks_t conn_cbs = {.ready = on_ready, .closed = on_closed};

static void conn_open(pconn_t *k) {
  nt_nntp_pool_t *p = k->pool;
  nt_nntp_options_t o = p->conn_opts;
  o.pipeline = p->pipeline;
  nt_nntp_t *c = NULL;
  int rc = nt_nntp_connect(p->r, p->host, p->port, &o, &conn_cbs, k, &c);
  if (rc) {
    k->fails++;
    p->fails_in_row++;
    p->status = rc;
    k->timer_on = 1;
    nt_timer_start(&k->retry_timer, p->o.retry_delay_ms << (k->fails > 8 ? 8 : k->fails - 1), 0);
    return;
  }
  k->c = c;
  k->nflight = 0;
}

/* --- the API ---------------------------------------------------------------------------------- */

static char *dup_or_null(const char *s, int *err) {
  if (!s) return NULL;
  char *d = nt__strdup(s);
  if (!d) *err = NT_ENOMEM;
  return d;
}

int nt_nntp_pool_new_sized(size_t pool_opts_size, size_t conn_opts_size,
                           nt_reactor_t *r, const char *host, int port,
                           const nt_nntp_options_t *conn,
                           const nt_nntp_pool_options_t *opts,
                           const nt_nntp_pool_callbacks_t *cbs, void *arg,
                           nt_nntp_pool_t **out) {
  nt_nntp_pool_options_t po;
  nt_nntp_options_t co;
  memset(&po, 0, sizeof po);
  memset(&co, 0, sizeof co);
  if (opts && NT__OPTS_COPY(po, opts, pool_opts_size)) return NT_ENOTSUP;
  if (conn && NT__OPTS_COPY(co, conn, conn_opts_size)) return NT_ENOTSUP;
  if (!r || !host || !out) return NT_EINVAL;
  if (port < 0 || port > 65535) return NT_EBADPORT;
  if (co.tls && !co.tls_ctx) return NT_EINVAL;
  if (co.user && !co.pass) return NT_EINVAL;
  if (po.connections > MAX_CONNECTIONS) return NT_EINVAL;
  nt_nntp_pool_t *p = nt__calloc(1, sizeof *p);
  if (!p) return NT_ENOMEM;
  p->n = po.connections ? po.connections : 1;
  p->conns = nt__calloc(p->n, sizeof *p->conns);
  int err = p->conns ? 0 : NT_ENOMEM;
  p->host = dup_or_null(host, &err);
  p->user = dup_or_null(co.user, &err);
  p->pass = dup_or_null(co.pass, &err);
  p->tls_name = dup_or_null(co.tls_server_name, &err);
  if (err) {
    if (!p->conns) p->n = 0;
    free_pool(p);
    return err;
  }
  p->r = r;
  p->port = port;
  p->conn_opts = co;
  p->conn_opts.user = p->user;
  p->conn_opts.pass = p->pass;
  p->conn_opts.tls_server_name = p->tls_name;
  p->o = po;
  if (!p->o.attempts) p->o.attempts = 3;
  if (!p->o.retry_delay_ms) p->o.retry_delay_ms = 250;
  if (!p->o.max_collect) p->o.max_collect = (size_t)64 << 20;
  if (!p->o.max_queued) p->o.max_queued = 1000000;
  p->pipeline = co.pipeline ? co.pipeline : 64;
  p->st.pipeline = p->pipeline;
  if (cbs) p->cbs = *cbs;
  p->arg = arg;
  for (unsigned i = 0; i < p->n; i++) {
    p->conns[i].pool = p;
    p->conns[i].index = i;
    nt_timer_init(r, &p->conns[i].retry_timer, retry_cb);
  }
  nt_nntp_t *c = po.adopt;
  if (c) {
    /* the caller's connection becomes the first one (it counts) */
    if (c->close_asked || c->state == NT_NNTP_CLOSED || c->state == NT_NNTP_QUITTING) {
      free_pool(p);
      return NT_ENOTCONN;
    }
    if (c->cur_group && !(p->conns[0].group = nt__strdup(c->cur_group))) {
      free_pool(p);
      return NT_ENOMEM;
    }
    c->cbs = conn_cbs;
    c->arg = &p->conns[0];
    p->conns[0].ready = c->state == NT_NNTP_READY || c->ready_told;
    if (nt_nntp_pipeline_refused(c)) p->pipeline = p->st.pipeline = p->conn_opts.pipeline = 1;
  } else {
    /* The first connection checks the arguments; a bad one fails here. */
    nt_nntp_options_t o = p->conn_opts;
    o.pipeline = p->pipeline;
    int rc = nt_nntp_connect(r, p->host, port, &o, &conn_cbs, &p->conns[0], &c);
    if (rc) {
      free_pool(p);
      return rc;
    }
  }
  p->conns[0].c = c;
  for (unsigned i = 1; i < p->n; i++) conn_open(&p->conns[i]);
  *out = p;
  return 0;
}

static int enqueue(nt_nntp_pool_t *p, int kind, nt_nntp_fetch_t what,
                   const char *group, const char *spec, nt_nntp_pool_line_cb line,
                   nt_nntp_pool_over_cb over, nt_nntp_pool_done_cb done, void *arg) {
  if (p->closing || p->finished) return NT_ENOTCONN;
  if (p->queued >= p->o.max_queued) return NT_EBUSY;
  preq_t *q = nt__calloc(1, sizeof *q);
  if (!q) return NT_ENOMEM;
  int err = 0;
  q->group = dup_or_null(group, &err);
  q->spec = dup_or_null(spec, &err);
  if (err) {
    preq_free(q);
    return err;
  }
  q->kind = kind;
  q->what = what;
  q->line = line;
  q->over = over;
  q->done = done;
  q->arg = arg;
  push(&p->qhead, &p->qtail, q);
  p->queued++;
  dispatch(p);
  return 0;
}

static int valid_number(const char *s) {
  if (!s || !*s || strlen(s) > 20) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

int nt_nntp_pool_fetch(nt_nntp_pool_t *p, nt_nntp_fetch_t what,
                       const char *group, const char *spec,
                       nt_nntp_pool_line_cb line, nt_nntp_pool_done_cb done,
                       void *arg) {
  if (!p || (unsigned)what > NT_NNTP_STAT || !spec) return NT_EINVAL;
  if (group && !nt_nntp_valid_group(group)) return NT_EINVAL;
  if (!nt_nntp_valid_message_id(spec) && !(group && valid_number(spec)))
    return NT_EINVAL;
  return enqueue(p, PREQ_FETCH, what, group, spec, line, NULL, done, arg);
}

int nt_nntp_pool_over(nt_nntp_pool_t *p, const char *group, const char *range,
                      nt_nntp_pool_over_cb over, nt_nntp_pool_done_cb done,
                      void *arg) {
  if (!p || !group || !nt_nntp_valid_group(group) || !range ||
      !nt_nntp_valid_range(range))
    return NT_EINVAL;
  return enqueue(p, PREQ_OVER, NT_NNTP_STAT, group, range, NULL, over, done, arg);
}

int nt_nntp_pool_group(nt_nntp_pool_t *p, const char *group,
                       nt_nntp_pool_done_cb done, void *arg) {
  if (!p || !group || !nt_nntp_valid_group(group)) return NT_EINVAL;
  return enqueue(p, PREQ_GROUP, NT_NNTP_STAT, group, NULL, NULL, NULL, done, arg);
}

void nt_nntp_pool_close(nt_nntp_pool_t *p) {
  if (!p || p->closing || p->finished) return;
  p->closing = 1;
  fail_waiting(p, NT_ECANCELED);
  for (unsigned i = 0; i < p->n; i++) {
    pconn_t *k = &p->conns[i];
    if (k->timer_on) {
      nt_timer_stop(&k->retry_timer);
      k->timer_on = 0;
    }
    if (k->c) nt_nntp_close(k->c);
  }
  if (!alive(p)) schedule_finish(p);
}

static void nntp_pool_stats_full(const nt_nntp_pool_t *p,
                                 nt_nntp_pool_stats_t *st) {
  *st = p->st;
  st->connections = st->connecting = st->compressed = 0;
  for (unsigned i = 0; i < p->n; i++) {
    const pconn_t *k = &p->conns[i];
    if (k->c && k->ready) st->connections++;
    if (k->c && !k->ready) st->connecting++;
    if (k->c && k->ready && nt_nntp_is_compressed(k->c)) st->compressed++;
  }
  st->queued = p->queued;
  st->pipeline = p->pipeline;
}

void nt_nntp_pool_stats_sized(size_t out_size, const nt_nntp_pool_t *p,
                              nt_nntp_pool_stats_t *st) {
  /* the caller's struct may be an older, smaller one (docs/ABI.md) */
  nt_nntp_pool_stats_t full;
  memset(&full, 0, sizeof full);
  nntp_pool_stats_full(p, &full);
  if (st) memcpy(st, &full, out_size < sizeof full ? out_size : sizeof full);
}

const char *nt_nntp_pool_last_reply(const nt_nntp_pool_t *p) { return p->last_reply; }
int nt_nntp_pool_last_code(const nt_nntp_pool_t *p) { return p->last_code; }
