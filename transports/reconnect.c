/* The reconnecting client service (nettool/reconnect.h): a factory of its
 * own in front of the caller's, so it sees every attempt's outcome, and a
 * proxy protocol around each connection's, so it sees the end of it
 * (Twisted's _ReconnectingProtocolProxy). One state at a time: connecting
 * (a connector pending), connected (a proxy live), waiting (the retry timer
 * running), given up or stopped. */
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "nettool/reconnect.h"
#include "nettool/tcp.h"
#include "reactor-int.h"

typedef struct proxy proxy_t;

struct nt_reconnect_s {
  nt_reactor_t *r;
  nt_factory_t wrap; /* what the connector sees; data = this */
  nt_factory_t *user;
  char *host;
  int port;
  nt_reconnect_options_t o;
  nt_timer_t retry;
  nt_connector_t *pending; /* the attempt in progress */
  proxy_t *live;           /* the connection */
  unsigned failures, attempts;
  uint64_t rng;
  int stopped;
  int busy; /* our callbacks on the stack: a stop inside frees on the way out */
};

struct proxy {
  nt_protocol_t base;
  nt_protocol_t *inner;
  nt_reconnect_t *rc; /* NULL once the service has stopped */
  int made;
};

static void attempt(nt_reconnect_t *rc);

/* --- lifetime --------------------------------------------------------------- */

static void enter(nt_reconnect_t *rc) { rc->busy++; }

/* Returns non-zero if rc was freed (it must not be touched then). */
static int leave(nt_reconnect_t *rc) {
  if (--rc->busy || !rc->stopped || rc->pending) return 0;
  nt__free(rc->host);
  nt__free(rc);
  return 1;
}

static void event(nt_reconnect_t *rc, int ev, int status, uint64_t delay,
                  unsigned n) {
  if (!rc->stopped && rc->o.on_event)
    rc->o.on_event(rc, ev, status, delay, n, rc->o.event_arg);
}

/* --- the schedule ---------------------------------------------------------------- */

/* xorshift64*: enough for jitter, and reproducible from a seed in tests. */
static double rand_unit(nt_reconnect_t *rc) {
  uint64_t x = rc->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rc->rng = x;
  return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

/* The delay before the next attempt, after `failures` failed attempts in a
 * row (0: after a connection was lost). */
static uint64_t next_delay(nt_reconnect_t *rc) {
  const nt_reconnect_options_t *o = &rc->o;
  unsigned k = rc->failures ? rc->failures - 1 : 0;
  double d = (double)o->initial_delay_ms, max = (double)o->max_delay_ms;
  for (unsigned i = 0; i < k && d < max; i++) d *= o->factor;
  if (d > max) d = max;
  if (o->jitter > 0) d += d * o->jitter * (2.0 * rand_unit(rc) - 1.0);
  if (d > max) d = max;
  if (d < 0) d = 0;
  return (uint64_t)(d + 0.5);
}

static void schedule(nt_reconnect_t *rc) {
  uint64_t d = next_delay(rc);
  event(rc, NT_RECONNECT_WAITING, 0, d, rc->failures);
  if (!rc->stopped) nt_timer_start(&rc->retry, d, 0);
}

static void failed(nt_reconnect_t *rc, int status) {
  rc->failures++;
  event(rc, NT_RECONNECT_FAILED, status, 0, rc->failures);
  if (rc->stopped) return;
  if (rc->o.max_retries && rc->failures >= rc->o.max_retries) {
    event(rc, NT_RECONNECT_GAVE_UP, status, 0, rc->failures);
    return;
  }
  schedule(rc);
}

static void retry_cb(nt_timer_t *t) {
  nt_reconnect_t *rc = nt__container_of(t, nt_reconnect_t, retry);
  enter(rc);
  attempt(rc);
  leave(rc);
}

/* --- the proxy protocol ------------------------------------------------------------ */

static void px_made(nt_protocol_t *b, nt_transport_t *t) {
  proxy_t *p = (proxy_t *)b;
  p->made = 1;
  p->inner->transport = t;
  if (p->inner->ops->connection_made) p->inner->ops->connection_made(p->inner, t);
  nt_reconnect_t *rc = p->rc;
  if (!rc) return;
  enter(rc);
  rc->failures = 0; /* a successful connection starts the schedule over */
  event(rc, NT_RECONNECT_CONNECTED, 0, 0, rc->attempts);
  leave(rc);
}

static void px_data(nt_protocol_t *b, const char *d, size_t n) {
  proxy_t *p = (proxy_t *)b;
  if (p->inner->ops->data_received) p->inner->ops->data_received(p->inner, d, n);
}

static int px_eof(nt_protocol_t *b) {
  proxy_t *p = (proxy_t *)b;
  return p->inner->ops->eof_received ? p->inner->ops->eof_received(p->inner) : 0;
}

static void px_pause(nt_protocol_t *b) {
  proxy_t *p = (proxy_t *)b;
  if (p->inner->ops->pause_writing) p->inner->ops->pause_writing(p->inner);
}

static void px_resume(nt_protocol_t *b) {
  proxy_t *p = (proxy_t *)b;
  if (p->inner->ops->resume_writing) p->inner->ops->resume_writing(p->inner);
}

static void px_lost(nt_protocol_t *b, int status) {
  proxy_t *p = (proxy_t *)b;
  if (p->inner->ops->connection_lost)
    p->inner->ops->connection_lost(p->inner, status);
  p->inner->transport = NULL;
  nt_reconnect_t *rc = p->rc;
  p->rc = NULL;
  if (!rc) return;
  enter(rc);
  rc->live = NULL;
  event(rc, NT_RECONNECT_DISCONNECTED, status, 0, rc->attempts);
  if (!rc->stopped) schedule(rc);
  leave(rc);
}

static void px_destroy(nt_protocol_t *b) {
  proxy_t *p = (proxy_t *)b;
  if (p->inner->ops->destroy) p->inner->ops->destroy(p->inner);
  nt_reconnect_t *rc = p->rc;
  nt__free(p);
  /* Destroyed without ever being connected: the transport could not be made
   * after the protocol was built (out of memory). An attempt that failed. */
  if (rc) {
    enter(rc);
    rc->live = NULL;
    failed(rc, NT_ECONNABORTED);
    leave(rc);
  }
}

static const nt_protocol_ops_t proxy_ops = {
    .connection_made = px_made,
    .data_received = px_data,
    .eof_received = px_eof,
    .connection_lost = px_lost,
    .pause_writing = px_pause,
    .resume_writing = px_resume,
    .destroy = px_destroy,
};

/* --- the factory the connector sees -------------------------------------------------- */

static nt_protocol_t *wrap_build(nt_factory_t *f, const struct sockaddr *peer,
                                 socklen_t len) {
  nt_reconnect_t *rc = f->data;
  rc->pending = NULL;
  enter(rc);
  if (rc->stopped) {
    leave(rc);
    return NULL;
  }
  nt_protocol_t *inner = rc->user->ops->build_protocol(rc->user, peer, len);
  proxy_t *p = NULL;
  if (inner && !rc->stopped) {
    p = nt__malloc(sizeof *p);
    if (p) {
      nt_protocol_init(&p->base, &proxy_ops);
      p->inner = inner;
      p->rc = rc;
      p->made = 0;
      rc->live = p;
    }
  }
  if (!p) {
    if (inner && inner->ops->destroy) inner->ops->destroy(inner);
    if (!rc->stopped) failed(rc, inner ? NT_ENOMEM : NT_ECONNABORTED);
  }
  leave(rc); /* rc lives on: the caller of a factory keeps it until stop */
  return p ? &p->base : NULL;
}

static void wrap_started(nt_factory_t *f, nt_connector_t *c) {
  nt_reconnect_t *rc = f->data;
  rc->pending = c;
  if (!rc->stopped && rc->user->ops->started_connecting)
    rc->user->ops->started_connecting(rc->user, c);
}

static void wrap_failed(nt_factory_t *f, nt_connector_t *c, int status) {
  nt_reconnect_t *rc = f->data;
  rc->pending = NULL;
  enter(rc);
  if (!rc->stopped && rc->user->ops->connection_failed)
    rc->user->ops->connection_failed(rc->user, c, status);
  if (!rc->stopped) failed(rc, status);
  leave(rc);
}

static const nt_factory_ops_t wrap_ops = {
    .build_protocol = wrap_build,
    .started_connecting = wrap_started,
    .connection_failed = wrap_failed,
};

/* --- attempts --------------------------------------------------------------------------- */

static void attempt(nt_reconnect_t *rc) {
  rc->attempts++;
  event(rc, NT_RECONNECT_CONNECTING, 0, 0, rc->attempts);
  if (rc->stopped) return;
  nt_connector_t *c = NULL;
  int e;
  if (rc->o.connect) {
    e = rc->o.connect(rc->o.connect_arg, rc->r, &rc->wrap, &c);
  } else {
    nt_tcp_connect_options_t to;
    memset(&to, 0, sizeof to);
    to.timeout_ms = rc->o.connect_timeout_ms;
    e = nt_tcp_connect(rc->r, rc->host, rc->port, &rc->wrap, &to, &c);
  }
  if (e) {
    rc->pending = NULL;
    failed(rc, e);
  } else if (c && !rc->live) {
    rc->pending = c;
  }
}

int nt_reconnect_start_sized(size_t opts_size, nt_reactor_t *r,
                             const char *host, int port, nt_factory_t *f,
                             const nt_reconnect_options_t *opts,
                             nt_reconnect_t **out) {
  nt_reconnect_options_t o;
  if (NT__OPTS_COPY(o, opts, opts_size)) return NT_ENOTSUP;
  if (!r || !f || !f->ops || !f->ops->build_protocol || !out) return NT_EINVAL;
  if (!o.connect) {
    if (!host || !*host) return NT_EINVAL;
    if (port < 1 || port > 65535) return NT_EBADPORT;
  }
  if (!o.initial_delay_ms) o.initial_delay_ms = 1000;
  if (!o.max_delay_ms) o.max_delay_ms = 60000;
  if (o.initial_delay_ms > o.max_delay_ms) o.initial_delay_ms = o.max_delay_ms;
  if (o.factor == 0) o.factor = 2.0;
  if (o.factor < 1) o.factor = 1;
  if (o.jitter == 0) o.jitter = 0.1;
  if (o.jitter > 1) o.jitter = 1;
  nt_reconnect_t *rc = nt__calloc(1, sizeof *rc);
  if (!rc) return NT_ENOMEM;
  if (host) {
    rc->host = nt__strdup(host);
    if (!rc->host) {
      nt__free(rc);
      return NT_ENOMEM;
    }
  }
  rc->r = r;
  rc->port = port;
  rc->user = f;
  rc->o = o;
  rc->wrap.ops = &wrap_ops;
  rc->wrap.data = rc;
  rc->rng = o.seed;
  if (!rc->rng && getrandom(&rc->rng, sizeof rc->rng, GRND_NONBLOCK) !=
                      (ssize_t)sizeof rc->rng)
    rc->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  if (!rc->rng) rc->rng = 0x9E3779B97F4A7C15ull;
  nt_timer_init(r, &rc->retry, retry_cb);
  *out = rc;
  enter(rc);
  attempt(rc);
  leave(rc); /* a stop from on_event inside frees it here */
  return 0;
}

void nt_reconnect_stop(nt_reconnect_t *rc) {
  if (!rc || rc->stopped) return;
  rc->stopped = 1;
  nt_timer_stop(&rc->retry);
  proxy_t *p = rc->live;
  rc->live = NULL;
  if (p) {
    p->rc = NULL;
    if (p->base.transport) nt_transport_lose_connection(p->base.transport);
  }
  /* The cancelled connector reports connection_failed(NT_ECANCELED) from
   * the loop; the service waits for it, untold, and is freed then. */
  if (rc->pending) nt_connector_cancel(rc->pending);
  enter(rc);
  leave(rc);
}

nt_protocol_t *nt_reconnect_protocol(const nt_reconnect_t *rc) {
  return rc->live && rc->live->made ? rc->live->inner : NULL;
}

unsigned nt_reconnect_failures(const nt_reconnect_t *rc) {
  return rc->failures;
}
