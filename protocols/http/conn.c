/* Connections (one protocol per TCP or TLS connection, owning the
 * response parser and handing what it parses to the request using it) and
 * the client's pool of idle keep-alive connections. A connection knows its
 * request only as the argument of the events table it was made with
 * (nt__http_conn_events_t): it reports, the request decides. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http-int.h"
#include "reactor-int.h"

struct nt__http_conn {
  nt_protocol_t base;
  nt_http_client_t *client; /* NULL once the client is gone */
  const nt__http_conn_events_t *ev; /* how the request hears of us */
  nt_http_request_t *req; /* the request using it, NULL when idle */
  nt__http_parser_t *parser;
  nt__http_conn_t *prev, *next; /* the client's idle list */
  nt_timer_t idle_timer;
  int https, port;
  char host[256];
  int idle;         /* in the idle list */
  int broken;       /* never reuse */
  int write_paused; /* between pause_writing and resume_writing */
  int lost;
};

/* --- the pool ------------------------------------------------------------- */

static void pool_remove(nt__http_conn_t *c) {
  if (!c->idle) return;
  nt_http_client_t *cl = c->client;
  if (c->prev)
    c->prev->next = c->next;
  else if (cl && cl->idle_head == c)
    cl->idle_head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
  c->idle = 0;
  if (cl) cl->nidle--;
  nt_timer_stop(&c->idle_timer);
}

static void conn_close(nt__http_conn_t *c) {
  pool_remove(c);
  if (!c->lost && c->base.transport)
    nt_transport_lose_connection(c->base.transport);
}

static void idle_timeout_cb(nt_timer_t *t) { conn_close(t->data); }

/* Kept for reuse if it can carry another request, else closed after
 * flushing. */
static void release(nt__http_conn_t *c, int reusable) {
  nt_http_client_t *cl = c->client;
  if (!reusable || c->broken || c->lost || !cl || !c->base.transport ||
      nt_transport_is_closing(c->base.transport) || cl->nidle >= cl->max_idle) {
    conn_close(c);
    return;
  }
  c->idle = 1;
  c->prev = NULL;
  c->next = cl->idle_head;
  if (cl->idle_head) cl->idle_head->prev = c;
  cl->idle_head = c;
  cl->nidle++;
  nt_timer_start(&c->idle_timer, cl->idle_keep_ms, 0);
}

/* Closed now, queued bytes dropped. */
static void abort_conn(nt__http_conn_t *c, int status) {
  pool_remove(c);
  if (!c->lost && c->base.transport)
    nt_transport_abort_error(c->base.transport, status);
}

void nt__http_conn_detach(nt__http_conn_t *c, int clean, int reusable) {
  c->req = NULL;
  if (clean && !c->broken)
    release(c, reusable);
  else
    abort_conn(c, NT_ECANCELED);
}

void nt__http_pool_drain(nt_http_client_t *cl) {
  while (cl->idle_head) {
    nt__http_conn_t *c = cl->idle_head;
    conn_close(c); /* removes it from the list */
    c->client = NULL;
  }
}

nt__http_conn_t *nt__http_pool_take(nt_http_client_t *cl, const nt_url_t *u) {
  for (nt__http_conn_t *c = cl->idle_head; c; c = c->next) {
    if (c->https != u->https || c->port != u->port ||
        strcasecmp(c->host, u->host))
      continue;
    if (c->lost || !c->base.transport ||
        nt_transport_is_closing(c->base.transport))
      continue;
    pool_remove(c);
    return c;
  }
  return NULL;
}

/* --- what the request asks of its connection ------------------------------ */

void nt__http_conn_attach(nt__http_conn_t *c, nt_http_request_t *q,
                          int head_request, size_t max_header_bytes) {
  c->req = q;
  nt__http_parser_reset(c->parser, head_request, max_header_bytes);
}

nt_http_request_t *nt__http_conn_request(const nt__http_conn_t *c) {
  return c->req;
}

nt__http_parser_t *nt__http_conn_parser(const nt__http_conn_t *c) {
  return c->parser;
}

void nt__http_conn_mark_broken(nt__http_conn_t *c) { c->broken = 1; }

nt_transport_t *nt__http_conn_transport(const nt__http_conn_t *c) {
  return c->base.transport;
}

int nt__http_conn_can_write(const nt__http_conn_t *c) {
  return !c->write_paused && c->base.transport &&
         !nt_transport_is_closing(c->base.transport);
}

size_t nt__http_conn_queued(const nt__http_conn_t *c) {
  return c->base.transport ? nt_transport_write_buffer_size(c->base.transport)
                           : 0;
}

/* --- the connection protocol ---------------------------------------------- */

static nt__http_conn_t *C(nt_protocol_t *p) { return (nt__http_conn_t *)p; }

static void c_made(nt_protocol_t *p, nt_transport_t *t) {
  nt__http_conn_t *c = C(p);
  if (!c->req) {
    nt_transport_lose_connection(t);
    return;
  }
  c->ev->connected(c->req, c);
}

static void c_data(nt_protocol_t *p, const char *data, size_t len) {
  nt__http_conn_t *c = C(p);
  if (!c->req) { /* bytes on an idle connection: nothing we asked for */
    c->broken = 1;
    conn_close(c);
    return;
  }
  c->ev->progress(c->req);
  size_t used;
  int rc = nt__http_parser_feed(c->parser, data, len, &used);
  if (rc == NT__HTTP_MORE || rc == NT__HTTP_STOPPED) return;
  if (rc == NT__HTTP_DONE) {
    if (used < len) { /* bytes after the response: cannot be trusted */
      c->broken = 1;
      if (!c->req) conn_close(c);
    }
    return;
  }
  if (c->req) c->ev->failed(c->req, rc, nt__http_parser_error(c->parser));
}

static int c_eof(nt_protocol_t *p) {
  nt__http_conn_t *c = C(p);
  c->broken = 1;
  if (c->req) {
    int rc = nt__http_parser_finish(c->parser);
    if (rc < 0 && c->req)
      c->ev->failed(c->req, rc, nt__http_parser_error(c->parser));
  }
  return 0; /* close; connection_lost follows */
}

static void c_lost(nt_protocol_t *p, int status) {
  nt__http_conn_t *c = C(p);
  c->lost = 1;
  pool_remove(c);
  nt_http_request_t *q = c->req;
  c->req = NULL;
  if (q) c->ev->lost(q, status);
}

static void c_pause(nt_protocol_t *p) { C(p)->write_paused = 1; }

static void c_resume(nt_protocol_t *p) {
  nt__http_conn_t *c = C(p);
  c->write_paused = 0;
  if (c->req) c->ev->writable(c->req);
}

static void c_destroy(nt_protocol_t *p) {
  nt__http_conn_t *c = C(p);
  pool_remove(c);
  nt_timer_stop(&c->idle_timer);
  nt__http_parser_free(c->parser);
  nt__free(c);
}

static const nt_protocol_ops_t conn_ops = {
    .connection_made = c_made,
    .data_received = c_data,
    .eof_received = c_eof,
    .connection_lost = c_lost,
    .pause_writing = c_pause,
    .resume_writing = c_resume,
    .destroy = c_destroy,
};

nt_protocol_t *nt__http_conn_new(nt_http_client_t *cl,
                                 const nt__http_conn_events_t *ev,
                                 nt_http_request_t *q, int https,
                                 const char *host, int port) {
  nt__http_conn_t *c = nt__calloc(1, sizeof *c);
  if (!c) return NULL;
  if (nt__http_parser_new(ev->parser, c, &c->parser)) {
    nt__free(c);
    return NULL;
  }
  nt_protocol_init(&c->base, &conn_ops);
  c->client = cl;
  c->ev = ev;
  c->req = q; /* connection_made attaches it for good */
  c->https = https;
  c->port = port;
  snprintf(c->host, sizeof c->host, "%s", host);
  nt_timer_init(cl->reactor, &c->idle_timer, idle_timeout_cb);
  c->idle_timer.data = c;
  return &c->base;
}
