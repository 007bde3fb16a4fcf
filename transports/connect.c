/* The connector: host name -> connection. Resolves through the reactor's
 * resolver, then races the addresses with happy eyeballs (RFC 8305).
 * States: RESOLVING -> CONNECTING -> DONE; through a proxy (proxy.h):
 * [RESOLVING_DEST ->] RESOLVING -> CONNECTING (to the proxy) -> PROXY (the
 * handshake, proxy_glue.c, under the same timeout) -> DONE. */
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "nettool/tcp.h"
#include "proxy-int.h"
#include "reactor-int.h"
#include "tcp-int.h"
#include "unix-int.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_ATTEMPT_DELAY_MS 250
#define MAX_ADDRESSES 64

enum conn_state { C_RESOLVING_DEST, C_RESOLVING, C_CONNECTING, C_PROXY, C_DONE };

struct nt_connector_s {
  nt__handle_t handle;
  nt_reactor_t *reactor;
  nt_factory_t *factory;
  nt_tcp_connect_options_t opts;
  enum conn_state state;
  nt_resolve_t *lookup; /* while its callback has not run */
  nt_address_t *addrs;
  nt__attempt_t **attempts; /* attempts[i] races addrs[i] */
  size_t naddrs, next, active;
  nt_timer_t timeout;
  nt_timer_t stagger;
  int last_error;
  int status;   /* the failure reported */
  int reported; /* connection_failed has run, or a connection was made */
  /* Through a proxy: its copy, the destination, and the handshake (the won
   * connection's protocol until the tunnel is open). */
  nt_proxy_t *proxy;
  char *dest;
  int dest_port, glue_err;
  nt_protocol_t *glue;
  nt_factory_t glue_factory;
};

static void maybe_free(nt_connector_t *c) {
  if (c->state != C_DONE || !c->reported || c->lookup) return;
  if (c->proxy) explicit_bzero(c->proxy, sizeof *c->proxy);
  nt__free(c->proxy);
  nt__free(c->dest);
  nt__free(c->addrs);
  nt__free(c->attempts);
  nt__free(c);
}

static void stop_everything(nt_connector_t *c) {
  nt__handle_remove(&c->handle);
  nt_timer_stop(&c->timeout);
  nt_timer_stop(&c->stagger);
  for (size_t i = 0; i < c->naddrs; i++) {
    if (c->attempts[i]) {
      nt__attempt_ops->cancel(c->attempts[i]);
      c->attempts[i] = NULL;
    }
  }
  c->active = 0;
  if (c->lookup) nt_resolve_cancel(c->lookup); /* its callback still comes */
  if (c->glue) { /* a timeout or a cancel during the proxy's handshake */
    nt_protocol_t *g = c->glue;
    c->glue = NULL;
    nt__proxy_glue_cancel(g, c->status ? c->status : NT_ECANCELED);
  }
}

static void report_failure_cb(void *arg) {
  nt_connector_t *c = arg;
  nt_reactor_unref(c->reactor);
  nt_factory_t *f = c->factory;
  if (f->ops->connection_failed) f->ops->connection_failed(f, c, c->status);
  c->reported = 1;
  maybe_free(c);
}

/* Ends the connect with an error, reported from the loop. */
static void fail(nt_connector_t *c, int status) {
  if (c->state == C_DONE) return;
  /* Not reaching the proxy is not the destination's fault: say so (a
   * timeout stays one: the connect limit ran out). */
  if (c->proxy && (c->state == C_RESOLVING || c->state == C_CONNECTING) &&
      status != NT_ETIMEDOUT && status != NT_ECANCELED && status != NT_ENOMEM)
    status = nt__proxy_unreachable(c->proxy, status);
  c->state = C_DONE;
  c->status = status;
  stop_everything(c);
  nt_reactor_ref(c->reactor); /* until reported */
  if (nt_call_soon(c->reactor, report_failure_cb, c)) report_failure_cb(c);
}

static void start_next(nt_connector_t *c);
static void proxy_adopt(nt_connector_t *c, size_t i, int fd);

static void attempt_cb(void *arg, nt__attempt_t *a, int status, int fd) {
  nt_connector_t *c = arg;
  size_t i = 0;
  while (i < c->naddrs && c->attempts[i] != a) i++;
  if (i == c->naddrs) { /* not ours any more */
    if (fd >= 0) close(fd);
    return;
  }
  c->attempts[i] = NULL;
  c->active--;
  if (status) {
    c->last_error = status;
    /* A failed attempt starts the next one at once (RFC 8305 section 5). */
    if (c->next < c->naddrs) {
      start_next(c);
    } else if (!c->active) {
      fail(c, c->last_error);
    }
    return;
  }
  if (c->proxy) {
    proxy_adopt(c, i, fd);
    return;
  }
  /* The winner: close the losers and hand the socket to the factory. */
  c->state = C_DONE;
  c->reported = 1;
  stop_everything(c);
  const nt_address_t *peer = &c->addrs[i];
  if (peer->addr.ss_family == AF_UNIX) /* nt_unix_connect */
    nt__unix_adopt(c->reactor, fd, c->factory,
                   (const struct sockaddr *)&peer->addr, peer->len);
  else
    nt__tcp_adopt(c->reactor, fd, c->factory,
                  (const struct sockaddr *)&peer->addr, peer->len,
                  c->opts.nodelay, c->opts.keepalive_s);
  maybe_free(c);
}

static void start_next(nt_connector_t *c) {
  nt_timer_stop(&c->stagger);
  while (c->next < c->naddrs) {
    size_t i = c->next++;
    const nt_address_t *a = &c->addrs[i];
    int rc = nt__attempt_ops->start(c->reactor, (const struct sockaddr *)&a->addr,
                                    a->len, attempt_cb, c, &c->attempts[i]);
    if (rc) {
      c->attempts[i] = NULL;
      c->last_error = rc;
      continue; /* e.g. no IPv6 on this host: straight to the next */
    }
    c->active++;
    if (c->next < c->naddrs)
      nt_timer_start(&c->stagger, c->opts.attempt_delay_ms, 0);
    return;
  }
  if (!c->active) fail(c, c->last_error ? c->last_error : NT_ECONNREFUSED);
}

static void stagger_cb(nt_timer_t *t) {
  start_next(nt__container_of(t, nt_connector_t, stagger));
}

static void timeout_cb(nt_timer_t *t) {
  fail(nt__container_of(t, nt_connector_t, timeout), NT_ETIMEDOUT);
}

/* RFC 8305 section 4: keep the resolver's order within each family, and
 * alternate families starting with the family of the first address. */
static void interleave(nt_address_t *a, size_t n) {
  if (n < 3) return; /* two addresses are in a fine order either way */
  nt_address_t *out = nt__malloc(n * sizeof *out);
  if (!out) return; /* keep the resolver's order */
  sa_family_t first = a[0].addr.ss_family;
  size_t next_first = 0, next_other = 0, k = 0;
  for (int other = 0; k < n; other = !other) {
    size_t *p = other ? &next_other : &next_first;
    while (*p < n && (a[*p].addr.ss_family == first) == other) (*p)++;
    if (*p < n) out[k++] = a[(*p)++];
  }
  memcpy(a, out, n * sizeof *out);
  nt__free(out);
}

static int set_addresses(nt_connector_t *c, const nt_address_t *addrs,
                         size_t n) {
  if (n > MAX_ADDRESSES) n = MAX_ADDRESSES;
  c->addrs = nt__malloc(n * sizeof *addrs);
  c->attempts = nt__calloc(n, sizeof *c->attempts);
  if (!c->addrs || !c->attempts) return NT_ENOMEM;
  memcpy(c->addrs, addrs, n * sizeof *addrs);
  c->naddrs = n;
  interleave(c->addrs, n);
  return 0;
}

static void resolved_cb(void *arg, int status, const nt_address_t *addrs,
                        size_t n) {
  nt_connector_t *c = arg;
  c->lookup = NULL;
  if (c->state != C_RESOLVING) {
    maybe_free(c);
    return;
  }
  if (status) {
    fail(c, status);
    return;
  }
  int rc = set_addresses(c, addrs, n);
  if (rc) {
    fail(c, rc);
    return;
  }
  c->state = C_CONNECTING;
  start_next(c);
}

static void close_handle(nt__handle_t *h) {
  fail(nt__container_of(h, nt_connector_t, handle), NT_ECANCELED);
}

static nt_connector_t *connector_new(nt_reactor_t *r, nt_factory_t *f,
                                     const nt_tcp_connect_options_t *opts) {
  nt_connector_t *c = nt__calloc(1, sizeof *c);
  if (!c) return NULL;
  c->reactor = r;
  c->factory = f;
  if (opts) c->opts = *opts;
  if (!c->opts.timeout_ms) c->opts.timeout_ms = DEFAULT_TIMEOUT_MS;
  if (!c->opts.attempt_delay_ms) c->opts.attempt_delay_ms = DEFAULT_ATTEMPT_DELAY_MS;
  nt_timer_init(r, &c->timeout, timeout_cb);
  nt_timer_init(r, &c->stagger, stagger_cb);
  return c;
}

/* Common tail: timers, handle, started_connecting, first attempt. */
static int begin(nt_connector_t *c, nt_connector_t **out) {
  nt_timer_start(&c->timeout, c->opts.timeout_ms, 0);
  nt__handle_add(c->reactor, &c->handle, close_handle);
  if (out) *out = c;
  if (c->factory->ops->started_connecting)
    c->factory->ops->started_connecting(c->factory, c);
  if (c->state == C_CONNECTING) start_next(c);
  return 0;
}

/* --- through a proxy ------------------------------------------------------------------- */

/* The handshake ended (glue callback): the tunnel is up and the factory's
 * protocol has it, or the connect fails. */
static void glue_done(void *arg, int status) {
  nt_connector_t *c = arg;
  c->glue = NULL;
  if (status) {
    fail(c, status);
    return;
  }
  c->state = C_DONE;
  c->reported = 1;
  stop_everything(c);
  maybe_free(c);
}

static nt_protocol_t *glue_build(nt_factory_t *f, const struct sockaddr *peer,
                                 socklen_t len) {
  nt_connector_t *c = f->data;
  c->glue = nt__proxy_glue_new(c->proxy, c->dest, c->dest_port, c->factory,
                               peer, len, glue_done, c, &c->glue_err);
  return c->glue;
}

static const nt_factory_ops_t glue_factory_ops = {.build_protocol = glue_build};

/* The connection to the proxy is up: the losers go, the timeout and the
 * handle stay, the handshake starts on it. */
static void proxy_adopt(nt_connector_t *c, size_t i, int fd) {
  c->state = C_PROXY;
  nt_timer_stop(&c->stagger);
  for (size_t k = 0; k < c->naddrs; k++) {
    if (c->attempts[k]) {
      nt__attempt_ops->cancel(c->attempts[k]);
      c->attempts[k] = NULL;
    }
  }
  c->active = 0;
  const nt_address_t *peer = &c->addrs[i];
  int rc = nt__tcp_adopt(c->reactor, fd, &c->glue_factory,
                         (const struct sockaddr *)&peer->addr, peer->len,
                         c->opts.nodelay, c->opts.keepalive_s);
  if (rc && c->state == C_PROXY) {
    c->glue = NULL; /* destroyed by adopt */
    fail(c, c->glue_err ? c->glue_err : rc);
  }
}

/* Connects to the proxy itself: its address, or its name resolved. */
static int dial_proxy(nt_connector_t *c) {
  nt_address_t a;
  memset(&a, 0, sizeof a);
  if (nt_addr_parse(c->proxy->host, c->proxy->port, &a.addr, &a.len) == 0) {
    int rc = set_addresses(c, &a, 1);
    if (!rc) c->state = C_CONNECTING;
    return rc;
  }
  nt_resolver_t *res = c->opts.resolver ? c->opts.resolver : nt_reactor_resolver(c->reactor);
  if (!res) return NT_EDNS_FAIL;
  c->state = C_RESOLVING;
  return nt_resolve(res, c->proxy->host, c->proxy->port, AF_UNSPEC, resolved_cb,
                    c, &c->lookup);
}

/* socks5://: the destination's name was resolved here; the proxy gets its
 * first address (RFC 6724 order). */
static void dest_resolved_cb(void *arg, int status, const nt_address_t *addrs,
                             size_t n) {
  nt_connector_t *c = arg;
  c->lookup = NULL;
  if (c->state != C_RESOLVING_DEST) {
    maybe_free(c);
    return;
  }
  if (status || !n) {
    fail(c, status ? status : NT_EDNS_NODATA);
    return;
  }
  char ip[INET6_ADDRSTRLEN];
  const struct sockaddr *sa = (const struct sockaddr *)&addrs[0].addr;
  const void *bin = sa->sa_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
  char *dest = inet_ntop(sa->sa_family, bin, ip, sizeof ip) ? nt__strdup(ip) : NULL;
  if (!dest) {
    fail(c, NT_ENOMEM);
    return;
  }
  nt__free(c->dest);
  c->dest = dest;
  int rc = dial_proxy(c);
  if (rc)
    fail(c, rc);
  else if (c->state == C_CONNECTING)
    start_next(c);
}

static int proxy_connect(nt_reactor_t *r, const char *host, int port,
                         nt_factory_t *f, const nt_tcp_connect_options_t *opts,
                         nt_connector_t **out) {
  const nt_proxy_t *p = opts->proxy;
  if (!host || !*host) return NT_EDNS_BADNAME;
  char dest[256];
  size_t hl = strlen(host);
  if (hl >= sizeof dest) return NT_EDNS_BADNAME;
  memcpy(dest, host, hl + 1);
  if (hl > 2 && dest[0] == '[' && dest[hl - 1] == ']') { /* "[::1]" */
    memmove(dest, dest + 1, hl - 2);
    dest[hl - 2] = 0;
  }
  unsigned char bin[16];
  int numeric = inet_pton(AF_INET, dest, bin) == 1 || inet_pton(AF_INET6, dest, bin) == 1;
  int rc = numeric ? 0 : nt_hostname_check(dest, NULL);
  if (rc) return rc;
  rc = nt__proxy_check(p, dest, port); /* what the handshake would refuse */
  if (rc) return rc == NT_EINVAL ? NT_EPROXY_BADURL : rc;
  nt_resolver_t *res = opts->resolver ? opts->resolver : nt_reactor_resolver(r);
  nt_connector_t *c = connector_new(r, f, opts);
  if (!c) return NT_ENOMEM;
  c->opts.proxy = NULL;
  c->proxy = nt__malloc(sizeof *c->proxy);
  c->dest = nt__strdup(dest);
  c->dest_port = port;
  c->glue_factory.ops = &glue_factory_ops;
  c->glue_factory.data = c;
  if (!c->proxy || !c->dest) {
    rc = NT_ENOMEM;
  } else {
    *c->proxy = *p;
    if (p->type == NT_PROXY_SOCKS5 && !numeric) {
      c->state = C_RESOLVING_DEST;
      rc = res ? nt_resolve(res, dest, port, c->opts.family, dest_resolved_cb, c,
                            &c->lookup)
               : NT_EDNS_FAIL;
    } else {
      rc = dial_proxy(c);
    }
  }
  if (rc) {
    if (c->proxy) explicit_bzero(c->proxy, sizeof *c->proxy);
    nt__free(c->proxy);
    nt__free(c->dest);
    nt__free(c->addrs);
    nt__free(c->attempts);
    nt__free(c);
    return rc;
  }
  return begin(c, out);
}

static int proxy_connect_addr(nt_reactor_t *r, const nt_address_t *a,
                              nt_factory_t *f, const nt_tcp_connect_options_t *opts,
                              nt_connector_t **out) {
  char ip[INET6_ADDRSTRLEN];
  const struct sockaddr *sa = (const struct sockaddr *)&a->addr;
  int port;
  const void *bin;
  if (sa->sa_family == AF_INET) {
    bin = &((const struct sockaddr_in *)sa)->sin_addr;
    port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    bin = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
  } else {
    return NT_EINVAL; /* a proxy tunnels TCP only */
  }
  if (!inet_ntop(sa->sa_family, bin, ip, sizeof ip)) return NT_EBADADDR;
  if (port <= 0) return NT_EBADPORT;
  return proxy_connect(r, ip, port, f, opts, out);
}

int nt_tcp_connect_addrs_sized(size_t opts_size, nt_reactor_t *r,
                               const nt_address_t *addrs, size_t n,
                               nt_factory_t *f,
                               const nt_tcp_connect_options_t *opts,
                               nt_connector_t **out) {
  nt_tcp_connect_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  if (!n) return NT_EINVAL;
  if (opts && opts->proxy && opts->proxy->type != NT_PROXY_NONE)
    return proxy_connect_addr(r, &addrs[0], f, opts, out);
  nt_connector_t *c = connector_new(r, f, opts);
  if (!c) return NT_ENOMEM;
  int rc = set_addresses(c, addrs, n);
  if (rc) {
    nt__free(c->addrs);
    nt__free(c->attempts);
    nt__free(c);
    return rc;
  }
  c->state = C_CONNECTING;
  return begin(c, out);
}

int nt_tcp_connect_addr_sized(size_t opts_size, nt_reactor_t *r,
                              const struct sockaddr *sa, socklen_t salen,
                              nt_factory_t *f,
                              const nt_tcp_connect_options_t *opts,
                              nt_connector_t **out) {
  nt_tcp_connect_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  nt_address_t a;
  memset(&a, 0, sizeof a);
  memcpy(&a.addr, sa, salen);
  a.len = salen;
  return nt_tcp_connect_addrs(r, &a, 1, f, opts, out);
}

int nt_tcp_connect_sized(size_t opts_size, nt_reactor_t *r, const char *host,
                         int port, nt_factory_t *f,
                         const nt_tcp_connect_options_t *opts,
                         nt_connector_t **out) {
  nt_tcp_connect_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  if (port <= 0 || port > 65535) return NT_EBADPORT;
  if (opts && opts->proxy && opts->proxy->type != NT_PROXY_NONE)
    return proxy_connect(r, host, port, f, opts, out);
  nt_address_t a;
  if (host && nt_addr_parse(host, port, &a.addr, &a.len) == 0)
    return nt_tcp_connect_addrs(r, &a, 1, f, opts, out);
  int rc = nt_hostname_check(host, NULL);
  if (rc) return rc;
  nt_resolver_t *res = opts && opts->resolver ? opts->resolver : nt_reactor_resolver(r);
  if (!res) return NT_EDNS_FAIL;
  nt_connector_t *c = connector_new(r, f, opts);
  if (!c) return NT_ENOMEM;
  c->state = C_RESOLVING;
  rc = nt_resolve(res, host, port, c->opts.family, resolved_cb, c, &c->lookup);
  if (rc) {
    nt__free(c);
    return rc;
  }
  return begin(c, out);
}

void nt_connector_cancel(nt_connector_t *c) {
  if (c) fail(c, NT_ECANCELED);
}
