/* Endpoints -> listeners and connectors: each kind handed to its transport
 * (tcp.c, unix.c, udp.c), with TLS wrapped around TCP by nt_tls_factory. */
#include <stdio.h>
#include <string.h>

#include "endpoint-int.h"
#include "nettool/tcp.h"
#include "nettool/unix.h"
#include "reactor-int.h"

struct nt_endpoint_listener_s {
  nt_endpoint_kind_t kind;
  nt_listener_t *tcp;
  nt_unix_listener_t *unix_l;
  nt_tls_factory_t tls_factory; /* tls: wraps the caller's factory */
  nt_tls_ctx_t *tls_ctx;        /* tls: our reference */
};

int nt_endpoint_listen_sized(size_t opts_size, nt_reactor_t *r,
                             const nt_endpoint_t *ep, nt_factory_t *f,
                             const nt_endpoint_listen_options_t *opts,
                             nt_endpoint_listener_t **out) {
  nt_endpoint_listen_options_t o;
  if (NT__OPTS_COPY(o, opts, opts_size)) return NT_ENOTSUP;
  if (ep->role != NT_ENDPOINT_SERVER || ep->kind == NT_ENDPOINT_UDP)
    return NT_EINVAL;
  nt_endpoint_listener_t *l = nt__calloc(1, sizeof *l);
  if (!l) return NT_ENOMEM;
  l->kind = ep->kind;
  int rc = 0;
  if (ep->kind == NT_ENDPOINT_UNIX) {
    nt_unix_listen_options_t uo;
    memset(&uo, 0, sizeof uo);
    uo.backlog = ep->backlog;
    uo.mode = ep->mode;
    rc = nt_unix_listen(r, ep->path, f, &uo, &l->unix_l);
  } else {
    nt_factory_t *lf = f;
    if (ep->kind == NT_ENDPOINT_TLS) {
      if (o.tls) {
        l->tls_ctx = nt_tls_ctx_ref(o.tls);
      } else {
        nt_tls_ctx_options_t to;
        memset(&to, 0, sizeof to);
        to.server = 1;
        to.cert_file = ep->cert;
        to.key_file = ep->key;
        rc = nt_tls_ctx_new(&to, &l->tls_ctx);
      }
      if (!rc) rc = nt_tls_factory_init(&l->tls_factory, l->tls_ctx, f, NULL);
      lf = &l->tls_factory.base;
    }
    if (!rc) {
      nt_tcp_listen_options_t lo;
      memset(&lo, 0, sizeof lo);
      lo.backlog = ep->backlog;
      lo.reuseport = o.reuseport;
      lo.nodelay = o.nodelay;
      rc = nt_tcp_listen(r, ep->host, o.port > 0 ? o.port : ep->port, lf, &lo,
                         &l->tcp);
    }
  }
  if (rc) {
    nt_tls_ctx_free(l->tls_ctx);
    nt__free(l);
    return rc;
  }
  *out = l;
  return 0;
}

int nt_endpoint_listener_port(const nt_endpoint_listener_t *l) {
  return l->tcp ? nt_listener_port(l->tcp) : -1;
}

char *nt_endpoint_listener_describe(const nt_endpoint_listener_t *l, char *buf,
                                    size_t size) {
  if (l->unix_l) {
    snprintf(buf, size, "unix %s", nt_unix_listener_name(l->unix_l));
    return buf;
  }
  struct sockaddr_storage ss;
  socklen_t len;
  char a[NT_ADDRSTRLEN] = "?";
  if (nt_listener_address(l->tcp, &ss, &len) == 0)
    nt_addr_format((struct sockaddr *)&ss, a, sizeof a);
  snprintf(buf, size, "%s %s", l->kind == NT_ENDPOINT_TLS ? "tls" : "tcp", a);
  return buf;
}

void nt_endpoint_listener_close(nt_endpoint_listener_t *l) {
  if (!l) return;
  if (l->tcp) nt_listener_close(l->tcp);
  if (l->unix_l) nt_unix_listener_close(l->unix_l);
  /* Connections still in their handshake hold their own reference. */
  nt_tls_ctx_free(l->tls_ctx);
  nt__free(l);
}

int nt_endpoint_bind_datagram_sized(size_t opts_size, nt_reactor_t *r,
                                    const nt_endpoint_t *ep,
                                    nt_datagram_protocol_t *p,
                                    const nt_endpoint_listen_options_t *opts,
                                    nt_udp_t **out) {
  nt_endpoint_listen_options_t o;
  if (NT__OPTS_COPY(o, opts, opts_size)) return NT_ENOTSUP;
  if (ep->role != NT_ENDPOINT_SERVER || ep->kind != NT_ENDPOINT_UDP)
    return NT_EINVAL;
  nt_udp_options_t uo;
  memset(&uo, 0, sizeof uo);
  uo.reuseport = o.reuseport;
  return nt_udp_bind(r, ep->host, o.port > 0 ? o.port : ep->port, p, &uo, out);
}

int nt_endpoint_connect_sized(size_t opts_size, nt_reactor_t *r,
                              nt_endpoint_t *ep, nt_factory_t *f,
                              const nt_endpoint_connect_options_t *opts,
                              nt_connector_t **out) {
  nt_endpoint_connect_options_t o;
  if (NT__OPTS_COPY(o, opts, opts_size)) return NT_ENOTSUP;
  if (ep->role != NT_ENDPOINT_CLIENT) return NT_EINVAL;
  uint64_t timeout = o.timeout_ms ? o.timeout_ms : ep->timeout_ms;
  switch (ep->kind) {
  case NT_ENDPOINT_UNIX: {
    nt_unix_connect_options_t uo;
    memset(&uo, 0, sizeof uo);
    uo.timeout_ms = timeout;
    return nt_unix_connect(r, ep->path, f, &uo, out);
  }
  case NT_ENDPOINT_TCP:
  case NT_ENDPOINT_TLS: {
    nt_factory_t *cf = f;
    if (ep->kind == NT_ENDPOINT_TLS) {
      nt_tls_ctx_t *ctx = o.tls;
      if (!ctx) {
        if (!ep->tls_ctx) {
          nt_tls_ctx_options_t to;
          memset(&to, 0, sizeof to);
          to.ca_file = ep->cacert;
          int rc = nt_tls_ctx_new(&to, &ep->tls_ctx);
          if (rc) return rc;
        }
        ctx = ep->tls_ctx;
      }
      nt_tls_options_t tlo;
      memset(&tlo, 0, sizeof tlo);
      tlo.server_name = ep->host;
      tlo.handshake_timeout_ms = timeout;
      int rc = nt_tls_factory_init(&ep->tls_factory, ctx, f, &tlo);
      if (rc) return rc;
      cf = &ep->tls_factory.base;
    }
    nt_tcp_connect_options_t co;
    memset(&co, 0, sizeof co);
    co.timeout_ms = timeout;
    co.nodelay = 1;
    return nt_tcp_connect(r, ep->host, ep->port, cf, &co, out);
  }
  default:
    return NT_EINVAL;
  }
}
