/* The proxy handshake as a protocol: the first protocol of a connection to
 * a proxy. It writes the machine's messages, feeds it what the proxy says,
 * and once the tunnel is open builds the real protocol and hands it the
 * transport (nt_transport_set_protocol + connection_made + the bytes that
 * came after the proxy's reply), then frees itself. Whatever went wrong
 * before that reaches the connector through the callback, once. */
#include <string.h>

#include "nettool/errno.h"
#include "nettool/transport.h"
#include "proxy-int.h"
#include "reactor-int.h"

struct nt__proxy_glue {
  nt_protocol_t base;
  nt__proxy_hs_t hs;
  nt_factory_t *inner;
  struct sockaddr_storage peer;
  socklen_t plen;
  nt__proxy_glue_cb cb;
  void *arg;
  int finished; /* the callback ran, or will never run */
  int in_data;  /* inside data_received: free after it returns */
  int handed;   /* the transport is the inner protocol's */
};

/* The machine may have held a password: wiped before the memory goes. */
static void wipe_free(nt__proxy_glue_t *g) {
  explicit_bzero(g, sizeof *g);
  nt__free(g);
}

static void report(nt__proxy_glue_t *g, int status) {
  if (g->finished) return;
  g->finished = 1;
  if (g->cb) g->cb(g->arg, status);
}

static void fail(nt__proxy_glue_t *g, int status) {
  nt_transport_t *t = g->base.transport;
  int already = g->finished;
  report(g, status);
  if (!already && t && !nt_transport_is_closing(t)) nt_transport_abort_error(t, status);
}

/* Writes what the machine has to say. */
static int flush(nt__proxy_glue_t *g) {
  size_t n;
  const unsigned char *out = nt__proxy_hs_output(&g->hs, &n);
  if (!n) return 0;
  int rc = nt_transport_write(g->base.transport, out, n);
  nt__proxy_hs_sent(&g->hs);
  return rc;
}

static void glue_made(nt_protocol_t *p, nt_transport_t *t) {
  nt__proxy_glue_t *g = (nt__proxy_glue_t *)p;
  (void)t;
  int rc = flush(g);
  if (rc) fail(g, rc);
}

/* The tunnel is open: the inner protocol takes over. */
static void hand_over(nt__proxy_glue_t *g, const char *rest, size_t n) {
  nt_transport_t *t = g->base.transport;
  nt_protocol_t *p = g->inner->ops->build_protocol(
      g->inner, (const struct sockaddr *)&g->peer, g->plen);
  g->handed = 1;
  report(g, 0);
  if (!p) { /* refused, as a listener's factory may: close it */
    g->handed = 0;
    nt_transport_abort(t);
    return;
  }
  nt_transport_set_protocol(t, p);
  g->base.transport = NULL;
  p->ops->connection_made(p, t);
  if (n && !nt_transport_is_closing(t) && t->protocol == p && p->ops->data_received)
    p->ops->data_received(p, rest, n);
}

static void glue_data(nt_protocol_t *p, const char *data, size_t len) {
  nt__proxy_glue_t *g = (nt__proxy_glue_t *)p;
  if (g->finished) return;
  g->in_data = 1;
  size_t off = 0;
  while (!g->finished) {
    size_t used;
    int rc = nt__proxy_hs_feed(&g->hs, data + off, len - off, &used);
    off += used;
    if (rc < 0) {
      fail(g, rc);
      break;
    }
    if (rc == 1) {
      hand_over(g, data + off, len - off);
      break;
    }
    if ((rc = flush(g))) {
      fail(g, rc);
      break;
    }
    if (off >= len) break;
  }
  g->in_data = 0;
  if (g->handed) wipe_free(g);
}

static int glue_eof(nt_protocol_t *p) {
  nt__proxy_glue_t *g = (nt__proxy_glue_t *)p;
  if (!g->finished) {
    nt__proxy_fail(&g->hs, NT_EPROXY_CLOSED, "closed the connection during the handshake");
    fail(g, NT_EPROXY_CLOSED);
  }
  return 0;
}

static void glue_lost(nt_protocol_t *p, int status) {
  nt__proxy_glue_t *g = (nt__proxy_glue_t *)p;
  g->base.transport = NULL;
  if (!g->finished) {
    if (!status) status = NT_EPROXY_CLOSED;
    nt__proxy_fail(&g->hs, status, "connection lost during the handshake: %s",
                   nt_strerror(status));
    report(g, status);
  }
}

static void glue_destroy(nt_protocol_t *p) {
  nt__proxy_glue_t *g = (nt__proxy_glue_t *)p;
  wipe_free(g);
}

static const nt_protocol_ops_t glue_ops = {
    .connection_made = glue_made,
    .data_received = glue_data,
    .eof_received = glue_eof,
    .connection_lost = glue_lost,
    .destroy = glue_destroy,
};

nt_protocol_t *nt__proxy_glue_new(const nt_proxy_t *p, const char *host,
                                  int port, nt_factory_t *inner,
                                  const struct sockaddr *peer, socklen_t plen,
                                  nt__proxy_glue_cb cb, void *arg, int *err) {
  nt__proxy_glue_t *g = nt__calloc(1, sizeof *g);
  if (!g) {
    *err = NT_ENOMEM;
    return NULL;
  }
  int rc = nt__proxy_hs_init(&g->hs, p, host, port);
  if (rc) {
    wipe_free(g);
    *err = rc;
    return NULL;
  }
  nt_protocol_init(&g->base, &glue_ops);
  g->inner = inner;
  if (peer && plen <= sizeof g->peer) {
    memcpy(&g->peer, peer, plen);
    g->plen = plen;
  }
  g->cb = cb;
  g->arg = arg;
  return &g->base;
}

void nt__proxy_glue_cancel(nt_protocol_t *glue, int status) {
  nt__proxy_glue_t *g = (nt__proxy_glue_t *)glue;
  g->finished = 1;
  g->cb = NULL;
  nt_transport_t *t = g->base.transport;
  if (t && !nt_transport_is_closing(t)) nt_transport_abort_error(t, status);
}
