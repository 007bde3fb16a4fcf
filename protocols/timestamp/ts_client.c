/* Timestamp client: one request at a time over TCP (line framed) or UDP
 * (one datagram each way, resent until the reply timeout). Explicit states:
 * CONNECTING -> READY <-> WAITING -> CLOSED. */
#include <string.h>

#include "nettool/resolve.h"
#include "nettool/tcp.h"
#include "nettool/timestamp.h"
#include "nettool/transport.h"
#include "reactor-int.h"

#define MAX_REPLY (64 * 1024)
#define QUIET_MS 200
#define UDP_RESEND_MS 1000

enum ts_state { TS_CONNECTING, TS_READY, TS_WAITING, TS_CLOSED };

struct nt_ts_client_s {
  nt_protocol_t proto;           /* TCP: the connection's protocol */
  nt_datagram_protocol_t dproto; /* UDP */
  nt_factory_t factory;
  nt_tls_factory_t tls_factory; /* wraps factory when opts.tls is set */
  /* TLS: what TCP connects with; it hands each connection to tls_factory
   * and so learns when TCP is up and the handshake starts. */
  nt_factory_t outer;
  /* TLS, during the handshake: the TLS glue, as the TCP connection's
   * protocol (its transport is the TCP connection: aborting it ends the
   * handshake). Valid until tcp_made or tcp_failed. */
  nt_protocol_t *hs_lower;
  int handshaking;
  nt_reactor_t *reactor;
  nt_ts_client_callbacks_t cbs;
  void *arg;
  nt_ts_client_options_t opts;
  enum ts_state state;
  int status;      /* what closed() will say */
  int close_asked; /* nt_ts_client_close was called */
  nt_connector_t *connector;
  nt_resolve_t *lookup; /* UDP: resolving the server's name */
  nt_udp_t *udp;
  char *reply;
  size_t reply_len;
  char *req; /* UDP: kept for resending */
  size_t req_len;
  nt_timer_t connect_timer; /* resolve + connect + TLS handshake */
  nt_timer_t reply_timer; /* whole reply deadline */
  nt_timer_t quiet_timer; /* TCP: quiet period; UDP: resend */
};

static void stop_timers(nt_ts_client_t *c) {
  nt_timer_stop(&c->connect_timer);
  nt_timer_stop(&c->reply_timer);
  nt_timer_stop(&c->quiet_timer);
}

static void client_free(nt_ts_client_t *c) {
  stop_timers(c);
  nt__free(c->reply);
  nt__free(c->req);
  nt__free(c);
}

/* Tells the user once, then (TCP connected) destroy or (else) here frees. */
static void report_closed(nt_ts_client_t *c, int status) {
  if (c->state == TS_CLOSED) return;
  c->state = TS_CLOSED;
  stop_timers(c);
  if (c->cbs.closed) c->cbs.closed(c, status, c->arg);
}

static void deliver_reply(nt_ts_client_t *c) {
  size_t n = c->reply_len;
  if (n && c->reply[n - 1] == '\n') n--;
  if (n && c->reply[n - 1] == '\r') n--;
  c->state = TS_READY;
  stop_timers(c);
  c->reply_len = 0;
  if (c->cbs.reply) c->cbs.reply(c, c->reply ? c->reply : "", n, c->arg);
}

static int append_reply(nt_ts_client_t *c, const char *data, size_t len) {
  if (c->reply_len + len > MAX_REPLY) return NT_ETOOBIG;
  if (!c->reply) {
    c->reply = nt__malloc(MAX_REPLY);
    if (!c->reply) return NT_ENOMEM;
  }
  memcpy(c->reply + c->reply_len, data, len);
  c->reply_len += len;
  return 0;
}

/* Ends the session with an error status. */
static void fail(nt_ts_client_t *c, int status) {
  c->status = status;
  if (c->opts.udp) {
    if (c->udp) nt_udp_close(c->udp);
  } else if (c->proto.transport) {
    nt_transport_abort_error(c->proto.transport, status);
  }
}

/* Stops whatever the connect is doing (resolving, connecting, the TLS
 * handshake); closed() follows from the loop with c->status if set. */
static void connect_abandon(nt_ts_client_t *c) {
  if (c->opts.udp) {
    if (c->lookup) nt_resolve_cancel(c->lookup);
  } else if (c->hs_lower) {
    if (c->hs_lower->transport)
      nt_transport_abort_error(c->hs_lower->transport,
                               c->status ? c->status : NT_ECANCELED);
  } else if (c->connector) {
    nt_connector_cancel(c->connector);
  }
}

/* The connect limit covers the whole way to connected(): name resolution,
 * every TCP attempt and the TLS handshake, counted from the connect call. */
static void connect_timeout_cb(nt_timer_t *t) {
  nt_ts_client_t *c = nt__container_of(t, nt_ts_client_t, connect_timer);
  if (c->state != TS_CONNECTING || c->close_asked) return;
  c->status = NT_ETIMEDOUT;
  connect_abandon(c);
}

static void reply_timeout_cb(nt_timer_t *t) {
  nt_ts_client_t *c = nt__container_of(t, nt_ts_client_t, reply_timer);
  fail(c, NT_ETIMEDOUT);
}

static void quiet_cb(nt_timer_t *t) {
  nt_ts_client_t *c = nt__container_of(t, nt_ts_client_t, quiet_timer);
  if (c->state != TS_WAITING) return;
  if (c->opts.udp) {
    nt_udp_send(c->udp, c->req, c->req_len); /* resend */
    return;
  }
  if (c->reply_len) deliver_reply(c);
}

/* --- TCP ------------------------------------------------------------------- */

static void tcp_made(nt_protocol_t *p, nt_transport_t *t) {
  nt_ts_client_t *c = (nt_ts_client_t *)p;
  (void)t;
  c->connector = NULL;
  c->hs_lower = NULL;
  c->handshaking = 0;
  nt_timer_stop(&c->connect_timer);
  c->state = TS_READY;
  if (c->close_asked) {
    nt_transport_lose_connection(t);
    return;
  }
  if (c->cbs.connected) c->cbs.connected(c, c->arg);
}

static void tcp_data(nt_protocol_t *p, const char *data, size_t len) {
  nt_ts_client_t *c = (nt_ts_client_t *)p;
  if (c->state != TS_WAITING) return; /* unsolicited bytes are ignored */
  int rc = append_reply(c, data, len);
  if (rc) {
    fail(c, rc);
    return;
  }
  if (c->reply[c->reply_len - 1] == '\n')
    deliver_reply(c);
  else
    nt_timer_start(&c->quiet_timer, QUIET_MS, 0);
}

static void tcp_lost(nt_protocol_t *p, int status) {
  nt_ts_client_t *c = (nt_ts_client_t *)p;
  if (c->status) {
    status = c->status; /* our own failure: a partial reply is not shown */
  } else if (c->close_asked) {
    status = 0; /* the user closed: whatever was awaited no longer matters */
  } else if (c->state == TS_WAITING) {
    /* The server went away mid-reply: show what came, then say so. */
    if (c->reply_len) deliver_reply(c);
    if (c->state == TS_WAITING && !status) status = NT_EUNEXPECTEDEOF;
  }
  report_closed(c, status);
}

static void tcp_destroy(nt_protocol_t *p) { client_free((nt_ts_client_t *)p); }

static const nt_protocol_ops_t ts_client_ops = {
    .connection_made = tcp_made,
    .data_received = tcp_data,
    .connection_lost = tcp_lost,
    .destroy = tcp_destroy,
};

static nt_protocol_t *tcp_build(nt_factory_t *f, const struct sockaddr *peer,
                                socklen_t len) {
  (void)peer;
  (void)len;
  return &((nt_ts_client_t *)f->data)->proto;
}

static void tcp_failed(nt_factory_t *f, nt_connector_t *conn, int status) {
  nt_ts_client_t *c = f->data;
  (void)conn;
  c->connector = NULL;
  c->hs_lower = NULL;
  /* Our own limit wins over the cancel or abort it caused. */
  report_closed(c, c->close_asked ? 0 : c->status ? c->status : status);
  client_free(c);
}

static const nt_factory_ops_t ts_client_factory_ops = {
    .build_protocol = tcp_build,
    .connection_failed = tcp_failed,
};

/* TLS: TCP is up (the connector is done with and freed); the handshake
 * starts, under what is left of the connect limit. */
static nt_protocol_t *outer_build(nt_factory_t *f, const struct sockaddr *peer,
                                  socklen_t len) {
  nt_ts_client_t *c = f->data;
  c->connector = NULL;
  nt_protocol_t *p = c->tls_factory.base.ops->build_protocol(
      &c->tls_factory.base, peer, len);
  /* NULL: the TLS factory already reported the failure, and c is gone. */
  if (p) {
    c->hs_lower = p;
    c->handshaking = 1;
  }
  return p;
}

static const nt_factory_ops_t ts_client_outer_ops = {
    .build_protocol = outer_build,
    .connection_failed = tcp_failed,
};

/* --- UDP -------------------------------------------------------------------------- */

#define FROM_DPROTO(p) nt__container_of(p, nt_ts_client_t, dproto)

static void udp_datagram(nt_datagram_protocol_t *p, const char *data,
                         size_t len, const struct sockaddr *from,
                         socklen_t fromlen) {
  nt_ts_client_t *c = FROM_DPROTO(p);
  (void)from;
  (void)fromlen;
  if (c->state != TS_WAITING) return; /* a late duplicate of a resend */
  c->reply_len = 0;
  int rc = append_reply(c, data, len);
  if (rc) {
    fail(c, rc);
    return;
  }
  deliver_reply(c);
}

static void udp_error(nt_datagram_protocol_t *p, int err) {
  fail(FROM_DPROTO(p), err);
}

static void udp_lost(nt_datagram_protocol_t *p, int status) {
  nt_ts_client_t *c = FROM_DPROTO(p);
  report_closed(c, c->status ? c->status : status);
}

static void udp_destroy(nt_datagram_protocol_t *p) {
  client_free(FROM_DPROTO(p));
}

static const nt_datagram_protocol_ops_t ts_client_udp_ops = {
    NULL, udp_datagram, udp_error, udp_lost, udp_destroy};


/* --- API ------------------------------------------------------------------------------ */

static nt_ts_client_t *client_alloc(nt_reactor_t *r,
                                   const nt_ts_client_options_t *opts,
                                   const nt_ts_client_callbacks_t *cbs,
                                   void *arg) {
  nt_ts_client_t *c = nt__calloc(1, sizeof *c);
  if (!c) return NULL;
  c->reactor = r;
  c->cbs = *cbs;
  c->arg = arg;
  if (opts) c->opts = *opts;
  if (!c->opts.connect_timeout_ms) c->opts.connect_timeout_ms = 10000;
  if (!c->opts.reply_timeout_ms) c->opts.reply_timeout_ms = 10000;
  c->state = TS_CONNECTING;
  nt_timer_init(r, &c->connect_timer, connect_timeout_cb);
  nt_timer_init(r, &c->reply_timer, reply_timeout_cb);
  nt_timer_init(r, &c->quiet_timer, quiet_cb);
  nt_protocol_init(&c->proto, &ts_client_ops);
  return c;
}

int nt_ts_client_new_sized(size_t opts_size, nt_reactor_t *r,
                           const nt_ts_client_options_t *opts,
                           const nt_ts_client_callbacks_t *cbs, void *arg,
                           nt_ts_client_t **out) {
  nt_ts_client_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  if (opts && opts->udp) return NT_EINVAL;
  nt_ts_client_t *c = client_alloc(r, opts, cbs, arg);
  if (!c) return NT_ENOMEM;
  *out = c;
  return 0;
}

nt_protocol_t *nt_ts_client_protocol(nt_ts_client_t *c) { return &c->proto; }

int nt_ts_client_in_handshake(const nt_ts_client_t *c) {
  return c->handshaking;
}

/* UDP: the name is resolved first, then the socket is bound and connected
 * to the first address. */
static void udp_resolved_cb(void *arg, int status, const nt_address_t *addrs,
                            size_t n) {
  nt_ts_client_t *c = arg;
  c->lookup = NULL;
  if (c->status) status = c->status; /* the connect limit cancelled it */
  if (!status && c->close_asked) status = NT_ECANCELED;
  if (!status) {
    int fam = addrs[0].addr.ss_family;
    (void)n;
    c->dproto.ops = &ts_client_udp_ops;
    status = nt_udp_bind(c->reactor, fam == AF_INET ? "0.0.0.0" : "::", 0,
                         &c->dproto, NULL, &c->udp);
    if (!status) {
      status = nt_udp_connect_addr(c->udp, (const struct sockaddr *)&addrs[0].addr,
                                   addrs[0].len);
      if (status) {
        /* closing frees c through connection_lost and destroy */
        c->status = status;
        nt_udp_close(c->udp);
        return;
      }
      nt_timer_stop(&c->connect_timer);
      c->state = TS_READY;
      if (c->cbs.connected) c->cbs.connected(c, c->arg);
      return;
    }
  }
  report_closed(c, c->close_asked ? 0 : status);
  client_free(c);
}

int nt_ts_client_connect_sized(size_t opts_size, nt_reactor_t *r,
                               const char *host, int port,
                               const nt_ts_client_options_t *opts,
                               const nt_ts_client_callbacks_t *cbs, void *arg,
                               nt_ts_client_t **out) {
  nt_ts_client_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  if (port <= 0 || port > 65535) return NT_EBADPORT;
  struct sockaddr_storage ss;
  socklen_t sslen;
  int rc = nt_hostname_check(host, NULL);
  if (rc && nt_addr_parse(host, port, &ss, &sslen) != 0) return rc;
  rc = 0; /* a numeric address is fine even though it is not a name */
  if (opts && opts->udp && opts->tls) return NT_EINVAL; /* no DTLS */
  if (opts && opts->udp && opts->proxy && opts->proxy->type) return NT_EINVAL;
  nt_ts_client_t *c = client_alloc(r, opts, cbs, arg);
  if (!c) return NT_ENOMEM;
  nt_timer_start(&c->connect_timer, c->opts.connect_timeout_ms, 0);
  if (c->opts.udp) {
    nt_resolver_t *res = nt_reactor_resolver(r);
    rc = res ? nt_resolve(res, host, port, AF_UNSPEC, udp_resolved_cb, c,
                          &c->lookup)
             : NT_EDNS_FAIL;
  } else {
    c->factory.ops = &ts_client_factory_ops;
    c->factory.data = c;
    nt_tcp_connect_options_t copts;
    memset(&copts, 0, sizeof copts);
    copts.timeout_ms = c->opts.connect_timeout_ms;
    copts.nodelay = 1;
    copts.proxy = c->opts.proxy;
    nt_factory_t *f = &c->factory;
    if (c->opts.tls) {
      nt_tls_options_t to;
      memset(&to, 0, sizeof to);
      to.server_name = host;
      /* The handshake's own limit is never the one that ends it: the
       * connect timer, started before, fires first. */
      to.handshake_timeout_ms = c->opts.connect_timeout_ms;
      rc = nt_tls_factory_init(&c->tls_factory, c->opts.tls, f, &to);
      c->outer.ops = &ts_client_outer_ops;
      c->outer.data = c;
      f = &c->outer;
    }
    if (!rc) rc = nt_tcp_connect(r, host, port, f, &copts, &c->connector);
  }
  if (rc) {
    nt_timer_stop(&c->connect_timer);
    nt__free(c);
    return rc;
  }
  if (out) *out = c;
  return 0;
}

int nt_ts_client_send(nt_ts_client_t *c, const char *data, size_t len) {
  if (c->state == TS_WAITING) return NT_EBUSY;
  if (c->state != TS_READY || c->close_asked) return NT_ENOTCONN;
  if (len > MAX_REPLY - NT_TS_PREFIX_MAX) return NT_ETOOBIG;
  int rc;
  if (c->opts.udp) {
    char *copy = nt__realloc(c->req, len ? len : 1);
    if (!copy) return NT_ENOMEM;
    memcpy(copy, data, len);
    c->req = copy;
    c->req_len = len;
    rc = nt_udp_send(c->udp, data, len);
    if (rc == NT_EAGAIN) rc = 0; /* the resend timer will try again */
    if (!rc) rc = nt_timer_start(&c->quiet_timer, UDP_RESEND_MS, UDP_RESEND_MS);
  } else {
    struct iovec iov[2] = {{(void *)data, len}, {"\n", 1}};
    rc = nt_transport_writev(c->proto.transport, iov, 2);
  }
  if (rc) return rc;
  c->reply_len = 0;
  c->state = TS_WAITING;
  return nt_timer_start(&c->reply_timer, c->opts.reply_timeout_ms, 0);
}

void nt_ts_client_close(nt_ts_client_t *c) {
  if (c->close_asked || c->state == TS_CLOSED) return;
  c->close_asked = 1;
  if (c->opts.udp) {
    if (c->state == TS_CONNECTING)
      nt_resolve_cancel(c->lookup); /* udp_resolved_cb reports closed(0) */
    else
      nt_udp_close(c->udp);
  } else if (c->state == TS_CONNECTING) {
    connect_abandon(c);
  } else {
    nt_transport_lose_connection(c->proto.transport);
  }
}
