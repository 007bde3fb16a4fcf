/* The resolver: c-ares 1.18 driven by the reactor. The only file that
 * includes ares.h. c-ares tells us which sockets to watch through its
 * socket-state callback; readiness goes back through ares_process_fd; one
 * reactor timer, re-armed from ares_timeout() after every call into c-ares,
 * makes its retries and timeouts happen.
 *
 * With NT_CARES_LAZY (CMake; on by default) libcares is not linked: the
 * first resolver dlopen()s it (a process that only connects to addresses,
 * like nntp-get --server 127.0.0.1, never loads it: linked, its ~80 KiB were
 * resident from the start, relocated by the dynamic linker though never
 * called). Every call goes through the table A either way. */
#include <ares.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#ifdef NT_CARES_LAZY
#include <dlfcn.h>
#endif

#include "hosts-int.h"
#include "nettool/resolve.h"
#include "nettool/transport.h"
#include "reactor-int.h"

typedef struct watch {
  nt_io_t io;
  struct watch *next;
  nt_resolver_t *res;
} watch_t;

struct nt_resolver_s {
  nt_reactor_t *reactor;
  ares_channel channel;
  watch_t *watches;
  nt_timer_t timer;
  nt_resolve_t *pending; /* lookups c-ares has not answered yet */
  nt_resolve_t *wait_head, *wait_tail; /* not yet given to c-ares */
  int inflight, max_inflight;
  nt__hosts_t *hosts; /* NULL: no hosts file */
  int freeing;
};

struct nt_resolve_s {
  nt_resolver_t *res;
  nt_reactor_t *reactor; /* outlives res: queued callbacks use it */
  nt_resolve_t *prev, *next; /* in res->pending while c-ares has it */
  nt_resolve_cb cb;
  void *arg;
  int port;
  int status;
  int in_cares;  /* c-ares still owns a query for it */
  int waiting;   /* queued behind the in-flight window */
  nt_resolve_t *wait_next;
  int family;
  char *name;
  int delivered; /* the user's callback ran (or is queued) */
  nt_address_t *addrs;
  size_t naddrs;
};

/* Every c-ares function called, without its ares_ prefix. */
#define NT__CARES_FUNCS(X) \
  X(destroy) \
  X(freeaddrinfo) \
  X(getaddrinfo) \
  X(init_options) \
  X(library_init) \
  X(process_fd) \
  X(set_servers_ports_csv) \
  X(timeout)

/* Filled once (cares_once) before the first resolver exists: every later
 * call comes through a resolver, after that pthread_once. */
static struct {
#define NT__CARES_FIELD(n) __typeof__(ares_##n) *n;
  NT__CARES_FUNCS(NT__CARES_FIELD)
#undef NT__CARES_FIELD
} A;

static pthread_once_t cares_once = PTHREAD_ONCE_INIT;
static int cares_init_status;

#ifdef NT_CARES_LAZY
#ifndef NT_CARES_SONAME
#define NT_CARES_SONAME "libcares.so.2"
#endif
/* RTLD_LOCAL: c-ares's names stay out of the program's namespace (one
 * with its own c-ares shares the same file, counted once more). */
static int cares_load(void) {
  void *h = dlopen(NT_CARES_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    nt__log(NT__LOG_ERROR, "resolver: cannot load %s: %s", NT_CARES_SONAME, e ? e : "?");
    return -1;
  }
  const char *missing = NULL;
#define NT__CARES_LOAD(n) \
  if (!missing && !(A.n = (__typeof__(A.n))dlsym(h, "ares_" #n))) missing = "ares_" #n;
  NT__CARES_FUNCS(NT__CARES_LOAD)
#undef NT__CARES_LOAD
  if (missing) { /* the handle stays: the table may be half filled */
    nt__log(NT__LOG_ERROR, "resolver: %s has no %s", NT_CARES_SONAME, missing);
    return -1;
  }
  return 0;
}
#else
static int cares_load(void) {
#define NT__CARES_LINK(n) A.n = ares_##n;
  NT__CARES_FUNCS(NT__CARES_LINK)
#undef NT__CARES_LINK
  return 0;
}
#endif

static void cares_init(void) {
  cares_init_status =
      cares_load() ? ARES_ENOTINITIALIZED : A.library_init(ARES_LIB_INIT_ALL);
}

/* --- mapping c-ares status to ours ---------------------------------------- */

static int map_status(int st) {
  switch (st) {
  case ARES_SUCCESS:
    return 0;
  case ARES_ENOTFOUND:
  case ARES_ENONAME:
    return NT_EDNS_NXDOMAIN;
  case ARES_ENODATA:
    return NT_EDNS_NODATA;
  case ARES_ETIMEOUT:
    return NT_EDNS_TIMEOUT;
  case ARES_EREFUSED:
  case ARES_ECONNREFUSED:
    /* c-ares 1.18 reports a server's REFUSED answer as ECONNREFUSED (the
     * status a query starts with), and an ICMP port-unreachable the same
     * way: the server would not answer us either way. */
    return NT_EDNS_REFUSED;
  case ARES_ESERVFAIL:
    return NT_EDNS_SERVFAIL;
  case ARES_EBADNAME:
    return NT_EDNS_BADNAME;
  case ARES_EBADRESP:
  case ARES_EFORMERR:
    return NT_EDNS_BADRESP;
  case ARES_ENOMEM:
    return NT_ENOMEM;
  case ARES_ECANCELLED:
  case ARES_EDESTRUCTION:
    return NT_ECANCELED;
  default:
    return NT_EDNS_FAIL;
  }
}

/* --- the reactor hooks --------------------------------------------------------- */

static void rearm(nt_resolver_t *res) {
  if (res->freeing) return;
  struct timeval tv;
  if (A.timeout(res->channel, NULL, &tv)) {
    uint64_t ms = (uint64_t)tv.tv_sec * 1000u + (uint64_t)(tv.tv_usec + 999) / 1000u;
    nt_timer_start(&res->timer, ms, 0);
  } else {
    nt_timer_stop(&res->timer);
  }
}

static void watch_cb(nt_io_t *io, unsigned events) {
  watch_t *w = (watch_t *)io;
  nt_resolver_t *res = w->res;
  int fd = io->fd;
  ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;
  if (events & (NT_READABLE | NT_IO_ERROR)) rfd = fd;
  if (events & (NT_WRITABLE | NT_IO_ERROR)) wfd = fd;
  /* May close the socket and free w through sock_state_cb: w is not used
   * after this call. */
  A.process_fd(res->channel, rfd, wfd);
  rearm(res);
}

static void timer_cb(nt_timer_t *t) {
  nt_resolver_t *res = nt__container_of(t, nt_resolver_t, timer);
  A.process_fd(res->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  rearm(res);
}

/* c-ares says which events it wants on fd; (0, 0) means it is done with it.
 * Must not call back into c-ares from here. */
static void sock_state_cb(void *data, ares_socket_t fd, int readable,
                          int writable) {
  nt_resolver_t *res = data;
  watch_t **pw = &res->watches, *w;
  while ((w = *pw) && w->io.fd != fd) pw = &w->next;
  unsigned ev = (readable ? NT_READABLE : 0) | (writable ? NT_WRITABLE : 0);
  if (!ev) {
    if (w) {
      nt_io_stop(&w->io);
      *pw = w->next;
      nt__free(w);
    }
    return;
  }
  if (!w) {
    w = nt__calloc(1, sizeof *w);
    if (!w) return; /* the query will time out rather than hang */
    nt_io_init(res->reactor, &w->io, fd, watch_cb);
    nt_io_unref(&w->io); /* lookups hold the reactor, not sockets */
    w->res = res;
    w->next = res->watches;
    res->watches = w;
  }
  if (nt_io_start(&w->io, ev))
    nt__log(NT__LOG_WARN, "resolver: cannot watch fd %d", (int)fd);
}

/* --- lookups ----------------------------------------------------------------------- */

static void lookup_free(nt_resolve_t *q) {
  nt__free(q->addrs);
  nt__free(q->name);
  nt__free(q);
}

static void addrinfo_cb(void *arg, int status, int timeouts,
                        struct ares_addrinfo *ai);

/* Hands q to c-ares. It may answer inside this call (hosts file, errors):
 * addrinfo_cb defers the user's callback to the loop either way. */
static void send_query(nt_resolver_t *res, nt_resolve_t *q) {
  struct ares_addrinfo_hints hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = q->family;
  hints.ai_socktype = SOCK_STREAM; /* one entry per address, not per type */
  q->in_cares = 1;
  q->next = res->pending;
  if (q->next) q->next->prev = q;
  res->pending = q;
  res->inflight++;
  A.getaddrinfo(res->channel, q->name, NULL, &hints, addrinfo_cb, q);
}

/* Fills the window from the waiting queue; cancelled ones are skipped. */
static void send_waiting(nt_resolver_t *res) {
  while (res->wait_head && res->inflight < res->max_inflight && !res->freeing) {
    nt_resolve_t *q = res->wait_head;
    res->wait_head = q->wait_next;
    if (!res->wait_head) res->wait_tail = NULL;
    q->waiting = 0;
    if (q->delivered) { /* cancelled while waiting */
      if (!q->cb) lookup_free(q);
      continue;
    }
    send_query(res, q);
  }
}

static void unlink_pending(nt_resolve_t *q) {
  if (q->prev)
    q->prev->next = q->next;
  else if (q->res && q->res->pending == q)
    q->res->pending = q->next;
  if (q->next) q->next->prev = q->prev;
  q->prev = q->next = NULL;
}

/* Runs the user's callback from the loop. */
static void deliver_cb(void *arg) {
  nt_resolve_t *q = arg;
  nt_reactor_unref(q->reactor);
  if (q->cb) q->cb(q->arg, q->status, q->addrs, q->naddrs);
  q->cb = NULL;
  /* Still owned by c-ares or by the waiting queue: freed there. */
  if (!q->in_cares && !q->waiting) lookup_free(q);
}

static void deliver(nt_resolve_t *q, nt_reactor_t *r) {
  if (q->delivered) return;
  q->delivered = 1;
  if (nt_call_soon(r, deliver_cb, q)) {
    /* Out of memory for the queue: better now than never. */
    nt_reactor_ref(r);
    deliver_cb(q);
  }
}

static void addrinfo_cb(void *arg, int status, int timeouts,
                        struct ares_addrinfo *ai) {
  nt_resolve_t *q = arg;
  (void)timeouts;
  q->in_cares = 0;
  q->res->inflight--;
  unlink_pending(q);
  send_waiting(q->res);
  if (q->delivered) { /* cancelled: the user heard NT_ECANCELED already */
    if (ai) A.freeaddrinfo(ai);
    if (!q->cb) lookup_free(q); /* and that callback has run */
    return;
  }
  q->status = map_status(status);
  if (!q->status && ai) {
    size_t n = 0;
    for (struct ares_addrinfo_node *p = ai->nodes; p; p = p->ai_next)
      if (p->ai_family == AF_INET || p->ai_family == AF_INET6) n++;
    q->addrs = n ? nt__calloc(n, sizeof *q->addrs) : NULL;
    if (n && !q->addrs) q->status = NT_ENOMEM;
    for (struct ares_addrinfo_node *p = ai->nodes; p && q->addrs; p = p->ai_next) {
      if (p->ai_family != AF_INET && p->ai_family != AF_INET6) continue;
      nt_address_t *a = &q->addrs[q->naddrs++];
      memcpy(&a->addr, p->ai_addr, p->ai_addrlen);
      a->len = (socklen_t)p->ai_addrlen;
      if (p->ai_family == AF_INET)
        ((struct sockaddr_in *)&a->addr)->sin_port = htons((uint16_t)q->port);
      else
        ((struct sockaddr_in6 *)&a->addr)->sin6_port = htons((uint16_t)q->port);
    }
    if (!q->status && !q->naddrs) q->status = NT_EDNS_NODATA;
  } else if (!q->status) {
    q->status = NT_EDNS_NODATA;
  }
  if (ai) A.freeaddrinfo(ai);
  if (q->res->freeing) {
    /* nt_resolver_free promised the answer before it returns. */
    q->delivered = 1;
    nt_reactor_unref(q->reactor);
    q->cb(q->arg, q->status, q->addrs, q->naddrs);
    lookup_free(q);
    return;
  }
  deliver(q, q->reactor);
}

int nt_hostname_check(const char *name, const char **why) {
  const char *w = NULL;
  size_t len = name ? strlen(name) : 0;
  if (len && name[len - 1] == '.') len--; /* a fully qualified trailing dot */
  if (!len)
    w = "empty name";
  else if (len > 253)
    w = "name longer than 253 bytes";
  else {
    size_t label = 0;
    for (size_t i = 0; i < len && !w; i++) {
      unsigned char c = (unsigned char)name[i];
      if (c == '.') {
        if (!label) w = "empty label";
        label = 0;
      } else if (c <= ' ' || c >= 0x7f || c == '/' || c == '\\' || c == '@' ||
                 c == ':' || c == '[' || c == ']') {
        w = "character not allowed in a host name";
      } else if (++label > 63) {
        w = "label longer than 63 bytes";
      }
    }
  }
  if (why) *why = w;
  return w ? NT_EDNS_BADNAME : 0;
}

int nt_resolve(nt_resolver_t *res, const char *name, int port, int family,
               nt_resolve_cb cb, void *arg, nt_resolve_t **out) {
  if (port < 0 || port > 65535) return NT_EBADPORT;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
    return NT_EINVAL;
  nt_resolve_t *q = nt__calloc(1, sizeof *q);
  if (!q) return NT_ENOMEM;
  q->res = res;
  q->reactor = res->reactor;
  q->cb = cb;
  q->arg = arg;
  q->port = port;
  nt_reactor_t *r = res->reactor;
  nt_reactor_ref(r); /* until the callback has run */
  struct sockaddr_storage ss;
  socklen_t len;
  if (name && nt_addr_parse(name, port, &ss, &len) == 0) {
    /* Numeric: no DNS. */
    if (family != AF_UNSPEC && ss.ss_family != family) {
      q->status = NT_EDNS_NODATA;
    } else if (!(q->addrs = nt__malloc(sizeof *q->addrs))) {
      q->status = NT_ENOMEM;
    } else {
      q->addrs->addr = ss;
      q->addrs->len = len;
      q->naddrs = 1;
    }
    if (out) *out = q;
    deliver(q, r);
    return 0;
  }
  int rc = nt_hostname_check(name, NULL);
  if (rc) {
    nt_reactor_unref(r);
    nt__free(q);
    return rc;
  }
  if (res->hosts) {
    nt_address_t found[16];
    size_t n = nt__hosts_lookup(res->hosts, nt_reactor_now(r), name, family,
                                port, found, 16);
    if (n) {
      q->addrs = nt__malloc(n * sizeof *found);
      if (q->addrs) {
        memcpy(q->addrs, found, n * sizeof *found);
        q->naddrs = n;
      } else {
        q->status = NT_ENOMEM;
      }
      if (out) *out = q;
      deliver(q, r);
      return 0;
    }
  }
  q->family = family;
  q->name = nt__strdup(name);
  if (!q->name) {
    nt_reactor_unref(r);
    nt__free(q);
    return NT_ENOMEM;
  }
  if (out) *out = q;
  if (res->inflight < res->max_inflight) {
    send_query(res, q);
    rearm(res);
  } else {
    q->waiting = 1;
    if (res->wait_tail)
      res->wait_tail->wait_next = q;
    else
      res->wait_head = q;
    res->wait_tail = q;
  }
  return 0;
}

void nt_resolve_cancel(nt_resolve_t *q) {
  if (!q || !q->cb) return; /* its callback has run */
  /* An answer already queued is replaced: the caller asked to cancel before
   * hearing it. */
  q->status = NT_ECANCELED;
  q->naddrs = 0;
  if (q->delivered) return;
  /* c-ares 1.18 cannot cancel one query: it finishes in the background and
   * addrinfo_cb frees q then. */
  deliver(q, q->reactor);
}

/* --- resolvers ------------------------------------------------------------------------ */

int nt_resolver_new_sized(size_t opts_size, nt_reactor_t *r,
                          const nt_resolver_options_t *opts,
                          nt_resolver_t **out) {
  nt_resolver_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  pthread_once(&cares_once, cares_init);
  if (cares_init_status != ARES_SUCCESS) return NT_EDNS_FAIL;
  nt_resolver_t *res = nt__calloc(1, sizeof *res);
  if (!res) return NT_ENOMEM;
  res->reactor = r;
  res->max_inflight = opts && opts->max_inflight > 0 ? opts->max_inflight : 64;
  nt_timer_init(r, &res->timer, timer_cb);
  nt_timer_unref(&res->timer);
  struct ares_options o;
  memset(&o, 0, sizeof o);
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_FLAGS;
  o.sock_state_cb = sock_state_cb;
  o.sock_state_cb_data = res;
  o.flags = ARES_FLAG_EDNS; /* bigger UDP answers before falling back to TCP */
  if (opts && opts->timeout_ms) {
    o.timeout = (int)opts->timeout_ms;
    mask |= ARES_OPT_TIMEOUTMS;
  }
  if (opts && opts->tries > 0) {
    o.tries = opts->tries;
    mask |= ARES_OPT_TRIES;
  }
  /* c-ares only asks DNS: the hosts file is ours (hosts.c). */
  o.lookups = (char *)"b";
  mask |= ARES_OPT_LOOKUPS;
  if (!(opts && opts->no_hosts_file)) {
    res->hosts = nt__hosts_new("/etc/hosts");
    if (!res->hosts) {
      nt__free(res);
      return NT_ENOMEM;
    }
  }
  int st = A.init_options(&res->channel, &o, mask);
  if (st != ARES_SUCCESS) {
    nt__hosts_free(res->hosts);
    nt__free(res);
    return st == ARES_ENOMEM ? NT_ENOMEM : NT_EDNS_FAIL;
  }
  if (opts && opts->servers) {
    st = A.set_servers_ports_csv(res->channel, opts->servers);
    if (st != ARES_SUCCESS) {
      A.destroy(res->channel);
      nt__hosts_free(res->hosts);
      nt__free(res);
      return NT_EINVAL;
    }
  }
  *out = res;
  return 0;
}

void nt_resolver_free(nt_resolver_t *res) {
  if (!res) return;
  res->freeing = 1;
  nt_timer_stop(&res->timer);
  /* Lookups still waiting for the window are answered now, cancelled. */
  while (res->wait_head) {
    nt_resolve_t *q = res->wait_head;
    res->wait_head = q->wait_next;
    q->waiting = 0;
    if (q->delivered) { /* cancelled; its queued callback frees it */
      if (!q->cb) lookup_free(q);
      continue;
    }
    q->delivered = 1;
    nt_reactor_unref(q->reactor);
    q->cb(q->arg, NT_ECANCELED, NULL, 0);
    lookup_free(q);
  }
  res->wait_tail = NULL;
  /* Answers every query c-ares still has, with EDESTRUCTION: addrinfo_cb
   * runs those callbacks now (NT_ECANCELED), since res is going. */
  A.destroy(res->channel);
  while (res->watches) {
    watch_t *w = res->watches;
    res->watches = w->next;
    nt_io_stop(&w->io);
    nt__free(w);
  }
  nt__hosts_free(res->hosts);
  nt__free(res);
}

static void default_free(void *p) { nt_resolver_free(p); }

nt_resolver_t *nt_reactor_resolver(nt_reactor_t *r) {
  if (!r->resolver) {
    nt_resolver_t *res;
    if (nt_resolver_new(r, NULL, &res)) return NULL;
    r->resolver = res;
    r->resolver_free = default_free;
  }
  return r->resolver;
}
