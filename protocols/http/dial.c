/* Dialing: nt_tcp_connect (or the test hook) for a request, wrapped in the
 * TLS factory for https; the connection, once made, becomes an
 * nt__http_conn_t attached to the request. The request hears of it through
 * its events table (connected, connect_failed), never by name. A dial
 * outlives a request that gives up on it and is freed from the loop after
 * its last callback. */
#include <stdio.h>
#include <string.h>

#include "http-int.h"
#include "nettool/tcp.h"
#include "reactor-int.h"

struct nt__http_dial {
  nt_factory_t factory; /* data: the dial */
  nt_tls_factory_t tls;
  nt_http_client_t *client; /* may be freed before the dial ends */
  nt_reactor_t *reactor;
  nt_http_request_t *req; /* NULL once abandoned */
  const nt__http_conn_events_t *ev;
  nt_connector_t *connector;
  int https, port, hooked, finished;
  char host[256];
};

static void dial_free_cb(void *arg) { nt__free(arg); }

/* The dial has heard its last callback: freed from the loop, after the
 * connector (or the TLS glue) has let go of the factory. */
static void dial_finish(nt__http_dial_t *d) {
  d->finished = 1;
  d->connector = NULL;
  if (nt_call_soon(d->reactor, dial_free_cb, d) != 0) nt__free(d);
}

static nt_protocol_t *dial_build(nt_factory_t *f, const struct sockaddr *peer,
                                 socklen_t len) {
  (void)peer;
  (void)len;
  nt__http_dial_t *d = f->data;
  nt_http_request_t *q = d->req;
  const nt__http_conn_events_t *ev = d->ev;
  nt_protocol_t *p =
      q ? nt__http_conn_new(d->client, ev, q, d->https, d->host, d->port)
        : NULL;
  dial_finish(d);
  if (!p && q) ev->connect_failed(q, NT_ENOMEM, "out of memory");
  return p;
}

static void dial_started(nt_factory_t *f, nt_connector_t *conn) {
  nt__http_dial_t *d = f->data;
  d->connector = conn;
}

static void dial_failed(nt_factory_t *f, nt_connector_t *conn, int status) {
  nt__http_dial_t *d = f->data;
  nt_http_request_t *q = d->req;
  const nt__http_conn_events_t *ev = d->ev;
  const char *detail = d->https && !conn ? nt_tls_last_error() : NULL;
  if (status <= NT_EPROXY_BADURL && status >= NT_EPROXY_CLOSED) detail = nt_proxy_last_error();
  dial_finish(d);
  if (q) ev->connect_failed(q, status, detail);
}

static const nt_factory_ops_t dial_ops = {
    .build_protocol = dial_build,
    .started_connecting = dial_started,
    .connection_failed = dial_failed,
};

static int tls_ctx(nt_http_client_t *cl, const char **detail) {
  if (cl->tls) return 0;
  nt_tls_ctx_options_t o;
  memset(&o, 0, sizeof o);
  o.ca_file = cl->ca_file;
  o.insecure = cl->insecure;
  int rc = nt_tls_ctx_new(&o, &cl->tls);
  if (rc) *detail = nt_tls_last_error();
  return rc;
}

int nt__http_dial(nt_http_client_t *cl, nt_http_request_t *q,
                  const nt__http_conn_events_t *ev, const nt_url_t *u,
                  uint64_t timeout_ms, nt__http_dial_t **out,
                  const char **detail) {
  *detail = NULL;
  nt__http_dial_t *d = nt__calloc(1, sizeof *d);
  if (!d) return NT_ENOMEM;
  d->client = cl;
  d->reactor = cl->reactor;
  d->req = q;
  d->ev = ev;
  d->https = u->https;
  d->port = u->port;
  snprintf(d->host, sizeof d->host, "%s", u->host);
  d->factory.ops = &dial_ops;
  d->factory.data = d;
  nt_factory_t *f = &d->factory;
  int rc;
  if (u->https) {
    if ((rc = tls_ctx(cl, detail))) {
      nt__free(d);
      return rc;
    }
    nt_tls_options_t to;
    memset(&to, 0, sizeof to);
    to.server_name = d->host;
    to.handshake_timeout_ms = timeout_ms;
    if ((rc = nt_tls_factory_init(&d->tls, cl->tls, &d->factory, &to))) {
      nt__free(d);
      return rc;
    }
    f = &d->tls.base;
  }
  if (cl->connect_hook) {
    d->hooked = 1;
    rc = cl->connect_hook(cl->connect_hook_arg, cl->reactor, d->host, d->port,
                          d->https, f);
  } else {
    nt_tcp_connect_options_t o;
    memset(&o, 0, sizeof o);
    o.timeout_ms = timeout_ms;
    o.nodelay = 1;
    nt_proxy_t env_proxy; /* copied by the connector */
    rc = 0;
    if (cl->proxy) {
      if (!nt_proxy_no_proxy_match(cl->no_proxy, d->host)) o.proxy = cl->proxy;
    } else if (cl->proxy_from_env) {
      rc = nt_proxy_from_env(u->https ? "https" : "http", d->host, &env_proxy);
      if (rc == 1) o.proxy = &env_proxy;
    }
    if (rc >= 0)
      rc = nt_tcp_connect(cl->reactor, d->host, d->port, f, &o, &d->connector);
    explicit_bzero(&env_proxy, sizeof env_proxy);
  }
  if (rc) {
    nt__free(d);
    return rc;
  }
  *out = d;
  return 0;
}

void nt__http_dial_abandon(nt__http_dial_t *d) {
  if (d->finished) return;
  d->req = NULL;
  /* A plain connector is ours until its callback: cancel it. Behind TLS
   * the connector is gone once TCP is up and the handshake runs on, so the
   * dial is left to end by itself (its protocol is refused). */
  if (!d->https && !d->hooked && d->connector)
    nt_connector_cancel(d->connector);
}
