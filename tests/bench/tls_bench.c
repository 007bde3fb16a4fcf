/* tls_bench: what TLS costs, nettool client against nettool server on
 * loopback, in one run:
 *   1. throughput: N bytes (default 1 GiB) through TLS vs through plain TCP,
 *      one connection each, the sender driven by pause/resume_writing;
 *   2. handshakes per second, full and resumed (closed loop, a few
 *      connections in parallel, for a fixed time);
 *   3. memory per idle TLS connection (server heap and RSS, client heap),
 *      next to the same for plain TCP.
 * The server is a child process pinned to CPU 0 and the client runs pinned
 * to CPU 1 (when there are two). Only the public API is used.
 *
 *   tls_bench --ca CA.crt --cert SERVER.crt --key SERVER.key
 *             [--bytes N] [--seconds S] [--parallel P] [--idle N]
 *             [--suites TLS13_SUITES] [--label TEXT]
 *
 * Every wait is bounded; the child is stopped by its PID. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nettool/reactor.h"
#include "nettool/tcp.h"
#include "nettool/tls.h"
#include "nettool/transport.h"

#define CHUNK (256u * 1024u)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc) {
  fprintf(stderr, "tls_bench: %s: %s %s\n", what, nt_strerror(rc),
          nt_tls_last_error());
  exit(1);
}

static void pin(int cpu) {
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}

static size_t heap_used(void) {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static size_t rss_bytes(void) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
  fclose(f);
  return (size_t)rss * (size_t)sysconf(_SC_PAGESIZE);
}

/* --- the server (child process) ------------------------------------------- */

/* Per connection, the first byte says what to do:
 *   'T' + 8-byte big-endian length: swallow that many bytes, answer "K";
 *   'M': answer "<heap bytes> <rss bytes> <cpu seconds>\n" of this process;
 *   'P': answer "p" (one request/response; brings TLS 1.3 tickets along);
 *   'I': nothing (an idle connection).  */
typedef struct srv {
  nt_protocol_t base;
  int cmd;
  unsigned char hdr[8];
  int hdr_len;
  uint64_t want, got;
} srv_t;

static void srv_data(nt_protocol_t *p, const char *d, size_t n) {
  srv_t *s = (srv_t *)p;
  while (n) {
    if (!s->cmd) {
      s->cmd = (unsigned char)*d++;
      n--;
      if (s->cmd == 'M') {
        char line[64];
        int l = snprintf(line, sizeof line, "%zu %zu %.3f\n", heap_used(),
                         rss_bytes(), cpu_s());
        nt_transport_write(p->transport, line, (size_t)l);
      } else if (s->cmd == 'P') {
        nt_transport_write(p->transport, "p", 1);
        s->cmd = 0; /* may ask again */
      }
      continue;
    }
    if (s->cmd != 'T') return; /* ignore */
    if (s->hdr_len < 8) {
      s->hdr[s->hdr_len++] = (unsigned char)*d++;
      n--;
      if (s->hdr_len == 8)
        for (int i = 0; i < 8; i++) s->want = (s->want << 8) | s->hdr[i];
      continue;
    }
    s->got += n;
    n = 0;
    if (s->got >= s->want) nt_transport_write(p->transport, "K", 1);
  }
}

static void srv_destroy(nt_protocol_t *p) { free(p); }

static const nt_protocol_ops_t srv_ops = {NULL, srv_data, NULL, NULL,
                                          NULL, NULL,     srv_destroy};

static nt_protocol_t *srv_build(nt_factory_t *f, const struct sockaddr *a,
                                socklen_t l) {
  (void)f;
  (void)a;
  (void)l;
  srv_t *s = calloc(1, sizeof *s);
  if (s) nt_protocol_init(&s->base, &srv_ops);
  return s ? &s->base : NULL;
}

static const nt_factory_ops_t srv_factory_ops = {srv_build, NULL, NULL};

static void run_server(const char *cert, const char *key, const char *suites,
                       int out_fd) {
  pin(0);
  nt_reactor_t *r;
  int rc = nt_reactor_new(&r, NULL);
  if (rc) die("reactor", rc);
  nt_tls_ctx_options_t o = {0};
  o.server = 1;
  o.cert_file = cert;
  o.key_file = key;
  o.ciphersuites = suites; /* the server's preference decides */
  nt_tls_ctx_t *ctx;
  if ((rc = nt_tls_ctx_new(&o, &ctx))) die("server context", rc);
  nt_factory_t plain = {&srv_factory_ops, NULL};
  nt_tls_factory_t tls;
  nt_tls_factory_init(&tls, ctx, &plain, NULL);
  nt_tcp_listen_options_t lo = {0};
  lo.backlog = 4096;
  lo.nodelay = 1; /* as ts-server: request/response traffic */
  nt_listener_t *lp, *lt;
  if ((rc = nt_tcp_listen(r, "127.0.0.1", 0, &plain, &lo, &lp))) die("listen", rc);
  if ((rc = nt_tcp_listen(r, "127.0.0.1", 0, &tls.base, &lo, &lt))) die("listen", rc);
  int ports[2] = {nt_listener_port(lp), nt_listener_port(lt)};
  if (write(out_fd, ports, sizeof ports) != (ssize_t)sizeof ports) exit(1);
  close(out_fd);
  nt_reactor_handle_signals(r, NULL, NULL); /* SIGTERM: clean stop */
  nt_reactor_run(r);
  nt_reactor_close_all(r);
  nt_listener_close(lp);
  nt_listener_close(lt);
  nt_reactor_free(r);
  nt_tls_ctx_free(ctx);
  exit(0);
}

/* --- client helpers ------------------------------------------------------------ */

static nt_reactor_t *R;
static int port_plain, port_tls;
static double g_server_cpu; /* from the last 'M' query */

typedef int (*cond_fn)(void *);
typedef struct {
  nt_timer_t t;
  cond_fn cond;
  void *arg;
  double deadline;
} waiter_t;

static void waiter_cb(nt_timer_t *t) {
  waiter_t *w = t->data;
  if (w->cond(w->arg) || now_s() > w->deadline) nt_reactor_stop(R);
}

/* Runs the loop until cond holds (checked every ms), at most `limit` s. */
static int run_until(cond_fn cond, void *arg, double limit) {
  waiter_t w = {.cond = cond, .arg = arg, .deadline = now_s() + limit};
  nt_timer_init(R, &w.t, waiter_cb);
  w.t.data = &w;
  nt_timer_unref(&w.t);
  nt_timer_start(&w.t, 1, 1);
  nt_reactor_run(R);
  nt_timer_stop(&w.t);
  return cond(arg);
}

/* Connects to the plain or the TLS port; f builds the protocol. */
static void connect_to(int tls, nt_factory_t *f, nt_tls_factory_t *tf,
                       nt_tls_ctx_t *ctx) {
  nt_factory_t *use = f;
  if (tls) {
    nt_tls_options_t o = {.server_name = "localhost"};
    nt_tls_factory_init(tf, ctx, f, &o);
    use = &tf->base;
  }
  int rc = nt_tcp_connect(R, "127.0.0.1", tls ? port_tls : port_plain, use,
                          NULL, NULL);
  if (rc) die("connect", rc);
}

static int g_failed;
static void any_failed(nt_factory_t *f, nt_connector_t *c, int status) {
  (void)f;
  (void)c;
  fprintf(stderr, "tls_bench: connection failed: %s (%s)\n",
          nt_strerror(status), nt_tls_last_error());
  g_failed++;
}

/* --- 1. throughput ---------------------------------------------------------------- */

typedef struct {
  nt_protocol_t base;
  uint64_t total, sent;
  int paused, done;
  double t0, t1;
} sender_t;

static char chunk[CHUNK];

static void sender_produce(sender_t *s) {
  while (!s->paused && s->sent < s->total && s->base.transport) {
    uint64_t left = s->total - s->sent;
    size_t n = left < CHUNK ? (size_t)left : CHUNK;
    if (nt_transport_write(s->base.transport, chunk, n)) return;
    s->sent += n;
  }
}

static void sender_made(nt_protocol_t *p, nt_transport_t *t) {
  sender_t *s = (sender_t *)p;
  unsigned char hdr[9] = {'T'};
  for (int i = 0; i < 8; i++) hdr[1 + i] = (unsigned char)(s->total >> (56 - 8 * i));
  nt_transport_write(t, hdr, sizeof hdr);
  sender_produce(s);
}
static void sender_data(nt_protocol_t *p, const char *d, size_t n) {
  sender_t *s = (sender_t *)p;
  if (n && d[0] == 'K') {
    s->t1 = now_s();
    s->done = 1;
    nt_transport_lose_connection(p->transport);
  }
}
static void sender_pause(nt_protocol_t *p) { ((sender_t *)p)->paused = 1; }
static void sender_resume(nt_protocol_t *p) {
  sender_t *s = (sender_t *)p;
  s->paused = 0;
  sender_produce(s);
}
static void sender_lost(nt_protocol_t *p, int st) {
  sender_t *s = (sender_t *)p;
  if (!s->done) {
    fprintf(stderr, "tls_bench: transfer lost: %s\n", nt_strerror(st));
    s->done = -1;
  }
}
static const nt_protocol_ops_t sender_ops = {sender_made,  sender_data,
                                             NULL,         sender_lost,
                                             sender_pause, sender_resume,
                                             NULL};

static sender_t g_sender;
static nt_protocol_t *sender_build(nt_factory_t *f, const struct sockaddr *a,
                                   socklen_t l) {
  (void)f;
  (void)a;
  (void)l;
  return &g_sender.base;
}
static const nt_factory_ops_t sender_factory_ops = {sender_build, NULL,
                                                    any_failed};

static int sender_done(void *arg) {
  (void)arg;
  return g_sender.done != 0 || g_failed;
}

static void server_memory(size_t *heap, size_t *rss);

/* Returns bytes per second; CPU seconds used by client and server. */
static double throughput(int tls, nt_tls_ctx_t *ctx, uint64_t total,
                         double *cpu_client, double *cpu_server) {
  size_t h, rs;
  server_memory(&h, &rs);
  double s0 = g_server_cpu, c0 = cpu_s();
  memset(&g_sender, 0, sizeof g_sender);
  nt_protocol_init(&g_sender.base, &sender_ops);
  g_sender.total = total;
  nt_factory_t f = {&sender_factory_ops, NULL};
  nt_tls_factory_t tf;
  g_sender.t0 = now_s();
  connect_to(tls, &f, &tf, ctx);
  run_until(sender_done, NULL, 600);
  if (g_sender.done != 1) die("throughput run", NT_EIO);
  *cpu_client = cpu_s() - c0;
  for (int i = 0; i < 100 && nt_reactor_run_once(R, 0) > 0; i++) {
  }
  server_memory(&h, &rs);
  *cpu_server = g_server_cpu - s0;
  return (double)total / (g_sender.t1 - g_sender.t0);
}

/* Finds out the version and cipher the throughput run would use. */
typedef struct {
  nt_protocol_t base;
  char what[128];
  int done;
} probe_t;
static probe_t g_probe;
static void probe_made(nt_protocol_t *p, nt_transport_t *t) {
  probe_t *pr = (probe_t *)p;
  snprintf(pr->what, sizeof pr->what, "%s %s", nt_tls_version(t), nt_tls_cipher(t));
  pr->done = 1;
  nt_transport_lose_connection(t);
}
static const nt_protocol_ops_t probe_ops = {probe_made, NULL, NULL, NULL,
                                            NULL,       NULL, NULL};
static nt_protocol_t *probe_build(nt_factory_t *f, const struct sockaddr *a,
                                  socklen_t l) {
  (void)f;
  (void)a;
  (void)l;
  nt_protocol_init(&g_probe.base, &probe_ops);
  return &g_probe.base;
}
static const nt_factory_ops_t probe_factory_ops = {probe_build, NULL, any_failed};
static int probe_done(void *a) {
  (void)a;
  return g_probe.done || g_failed;
}

/* --- 2. handshakes ---------------------------------------------------------------- */

typedef struct {
  nt_factory_t f[64]; /* one inner factory per slot: build knows its slot */
  nt_tls_factory_t tf[64];
  nt_tls_ctx_t *ctx;
  int parallel, active;
  long done, reused;
  double end;
} hs_t;

typedef struct {
  nt_protocol_t base;
  hs_t *h;
  int slot;
} hsconn_t;

static void hs_start(hs_t *h, int slot);

/* Handshake, one request and its answer (as any real client; with TLS 1.3
 * the session ticket comes with it), close. */
static void hs_made(nt_protocol_t *p, nt_transport_t *t) {
  hsconn_t *c = (hsconn_t *)p;
  if (nt_tls_session_reused(t)) c->h->reused++;
  nt_transport_write(t, "P", 1);
}
static void hs_data(nt_protocol_t *p, const char *d, size_t n) {
  hsconn_t *c = (hsconn_t *)p;
  (void)d;
  if (n) {
    c->h->done++;
    nt_transport_lose_connection(p->transport);
  }
}
static void hs_destroy(nt_protocol_t *p) {
  hsconn_t *c = (hsconn_t *)p;
  hs_t *h = c->h;
  int slot = c->slot;
  free(c);
  h->active--;
  if (now_s() < h->end && !g_failed) hs_start(h, slot);
}
static const nt_protocol_ops_t hs_ops = {hs_made, hs_data, NULL, NULL,
                                         NULL,    NULL,    hs_destroy};

static nt_protocol_t *hs_build(nt_factory_t *f, const struct sockaddr *a,
                               socklen_t l) {
  (void)a;
  (void)l;
  hsconn_t *c = calloc(1, sizeof *c);
  nt_protocol_init(&c->base, &hs_ops);
  c->h = f->data;
  c->slot = (int)(f - c->h->f);
  return &c->base;
}
static void hs_failed(nt_factory_t *f, nt_connector_t *c, int status) {
  hs_t *h = f->data;
  any_failed(f, c, status);
  h->active--;
}
static const nt_factory_ops_t hs_factory_ops = {hs_build, NULL, hs_failed};

static void hs_start(hs_t *h, int slot) {
  h->active++;
  nt_tls_options_t o = {.server_name = "localhost"};
  nt_tls_factory_init(&h->tf[slot], h->ctx, &h->f[slot], &o);
  nt_tcp_connect_options_t co = {0};
  co.nodelay = 1;
  int rc = nt_tcp_connect(R, "127.0.0.1", port_tls, &h->tf[slot].base, &co, NULL);
  if (rc) die("connect", rc);
}

static int hs_idle(void *arg) {
  hs_t *h = arg;
  return h->active == 0;
}

/* Returns handshakes per second; *reused_share the share resumed. */
static double handshakes(nt_tls_ctx_t *ctx, int parallel, double seconds,
                         double *reused_share) {
  hs_t *h = calloc(1, sizeof *h);
  for (int i = 0; i < 64; i++) {
    h->f[i].ops = &hs_factory_ops;
    h->f[i].data = h;
  }
  h->ctx = ctx;
  h->parallel = parallel;
  /* Warm up (and, with a cache, get a ticket): one connection. */
  h->end = 0;
  hs_start(h, 0);
  run_until(hs_idle, h, 10);
  h->done = h->reused = 0;
  double t0 = now_s();
  h->end = t0 + seconds;
  for (int i = 0; i < parallel; i++) hs_start(h, i);
  run_until(hs_idle, h, seconds + 30);
  double el = now_s() - t0;
  double rate = (double)h->done / el;
  *reused_share = h->done ? (double)h->reused / (double)h->done : 0;
  if (*reused_share > 1) *reused_share = 1; /* made but not answered yet */
  free(h);
  return rate;
}

/* --- 3. memory -------------------------------------------------------------------- */

typedef struct {
  nt_protocol_t base;
  char line[64];
  size_t len;
} memq_t;
/* The last answer (each query has its own protocol object). */
static struct {
  char line[64];
  int done;
} g_memq;
static void memq_made(nt_protocol_t *p, nt_transport_t *t) {
  (void)p;
  nt_transport_write(t, "M", 1);
}
static void memq_data(nt_protocol_t *p, const char *d, size_t n) {
  memq_t *q = (memq_t *)p;
  for (size_t i = 0; i < n && q->len + 1 < sizeof q->line; i++) {
    q->line[q->len++] = d[i];
    if (d[i] == '\n') {
      q->line[q->len] = 0;
      memcpy(g_memq.line, q->line, sizeof q->line);
      g_memq.done = 1;
      nt_transport_lose_connection(p->transport);
      return;
    }
  }
}
static void memq_destroy(nt_protocol_t *p) { free(p); }
static const nt_protocol_ops_t memq_ops = {memq_made, memq_data, NULL, NULL,
                                           NULL,      NULL,      memq_destroy};
static nt_protocol_t *memq_build(nt_factory_t *f, const struct sockaddr *a,
                                 socklen_t l) {
  (void)f;
  (void)a;
  (void)l;
  memq_t *q = calloc(1, sizeof *q);
  if (q) nt_protocol_init(&q->base, &memq_ops);
  return q ? &q->base : NULL;
}
static const nt_factory_ops_t memq_factory_ops = {memq_build, NULL, any_failed};
static int memq_done(void *a) {
  (void)a;
  return g_memq.done || g_failed;
}

/* The server's heap and RSS, asked over a plain connection. */
static void server_memory(size_t *heap, size_t *rss) {
  nt_factory_t f = {&memq_factory_ops, NULL};
  g_memq.done = 0; /* not the previous answer */
  connect_to(0, &f, NULL, NULL);
  if (!run_until(memq_done, NULL, 10) || g_failed) die("memory query", NT_EIO);
  if (sscanf(g_memq.line, "%zu %zu %lf", heap, rss, &g_server_cpu) != 3)
    die("memory reply", NT_EIO);
  for (int i = 0; i < 100 && nt_reactor_run_once(R, 0) > 0; i++) {
  }
}

typedef struct {
  nt_protocol_t base;
  int *made;
  nt_transport_t *t;
} idle_t;
static int g_idle_made;
static idle_t *g_idle;
static int g_idle_n;
static void idle_made(nt_protocol_t *p, nt_transport_t *t) {
  idle_t *c = (idle_t *)p;
  c->t = t;
  g_idle_made++;
  nt_transport_write(t, "I", 1);
}
static const nt_protocol_ops_t idle_ops = {idle_made, NULL, NULL, NULL,
                                           NULL,      NULL, NULL};
static nt_protocol_t *idle_build(nt_factory_t *f, const struct sockaddr *a,
                                 socklen_t l) {
  (void)a;
  (void)l;
  idle_t *c = &g_idle[(intptr_t)f->data];
  nt_protocol_init(&c->base, &idle_ops);
  return &c->base;
}
static const nt_factory_ops_t idle_factory_ops = {idle_build, NULL, any_failed};
static int idle_all(void *a) {
  (void)a;
  return g_idle_made == g_idle_n || g_failed;
}
static int never(void *a) {
  (void)a;
  return 0;
}

/* Opens n idle connections; per-connection memory of server and client. */
static void idle_memory(int tls, nt_tls_ctx_t *ctx, int n, double *srv_heap,
                        double *srv_rss, double *cli_heap) {
  size_t h0, r0, h1, r1;
  server_memory(&h0, &r0);
  size_t c0 = heap_used();
  g_idle = calloc((size_t)n, sizeof *g_idle);
  nt_factory_t *fs = calloc((size_t)n, sizeof *fs);
  nt_tls_factory_t *tfs = calloc((size_t)n, sizeof *tfs);
  size_t c_arrays = heap_used() - c0;
  g_idle_made = 0;
  g_idle_n = n;
  for (int i = 0; i < n; i++) {
    fs[i].ops = &idle_factory_ops;
    fs[i].data = (void *)(intptr_t)i;
    connect_to(tls, &fs[i], &tfs[i], ctx);
    if (i % 64 == 63) run_until(never, NULL, 0.01); /* spread the load */
  }
  if (!run_until(idle_all, NULL, 60)) die("idle connections", NT_ETIMEDOUT);
  run_until(never, NULL, 0.3); /* tickets, the "I" bytes, buffers released */
  size_t c1 = heap_used();
  server_memory(&h1, &r1);
  *srv_heap = ((double)h1 - (double)h0) / n;
  *srv_rss = ((double)r1 - (double)r0) / n;
  *cli_heap = ((double)c1 - (double)c0 - (double)c_arrays) / n;
  for (int i = 0; i < n; i++)
    if (g_idle[i].t) nt_transport_lose_connection(g_idle[i].t);
  run_until(never, NULL, 0.5);
  free(g_idle);
  free(fs);
  free(tfs);
}

/* --- main ---------------------------------------------------------------------------- */

static nt_tls_ctx_t *client_ctx(const char *ca, int cache) {
  nt_tls_ctx_options_t o = {0};
  o.ca_file = ca;
  o.no_session_cache = !cache;
  nt_tls_ctx_t *ctx;
  int rc = nt_tls_ctx_new(&o, &ctx);
  if (rc) die("client context", rc);
  return ctx;
}

int main(int argc, char **argv) {
  const char *ca = NULL, *cert = NULL, *key = NULL, *label = "", *suites = NULL;
  uint64_t bytes = 1ull << 30;
  double seconds = 3;
  int parallel = 4, idle_n = 1000;
  static const struct option opts[] = {
      {"ca", required_argument, NULL, 'a'},
      {"cert", required_argument, NULL, 'c'},
      {"key", required_argument, NULL, 'k'},
      {"bytes", required_argument, NULL, 'b'},
      {"seconds", required_argument, NULL, 's'},
      {"parallel", required_argument, NULL, 'p'},
      {"idle", required_argument, NULL, 'i'},
      {"label", required_argument, NULL, 'l'},
      {"suites", required_argument, NULL, 'S'},
      {NULL, 0, NULL, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
    case 'a': ca = optarg; break;
    case 'c': cert = optarg; break;
    case 'k': key = optarg; break;
    case 'b': bytes = strtoull(optarg, NULL, 0); break;
    case 's': seconds = atof(optarg); break;
    case 'p': parallel = atoi(optarg); break;
    case 'i': idle_n = atoi(optarg); break;
    case 'l': label = optarg; break;
    case 'S': suites = optarg; break;
    default:
      fprintf(stderr, "usage: tls_bench --ca F --cert F --key F [--bytes N] "
                      "[--seconds S] [--parallel P] [--idle N] [--suites S] "
                      "[--label T]\n");
      return 2;
    }
  }
  if (!ca || !cert || !key || parallel < 1 || parallel > 64 || idle_n < 1) {
    fprintf(stderr, "tls_bench: --ca, --cert and --key are required\n");
    return 2;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)idle_n * 2 + 64) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)idle_n * 2 + 64) idle_n = (int)(rl.rlim_cur / 2) - 64;
  }
  signal(SIGPIPE, SIG_IGN);
  for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (char)(i * 131);

  int fds[2];
  if (pipe(fds)) return 1;
  pid_t child = fork();
  if (child < 0) return 1;
  if (child == 0) {
    close(fds[0]);
    run_server(cert, key, suites, fds[1]);
  }
  close(fds[1]);
  int ports[2];
  if (read(fds[0], ports, sizeof ports) != (ssize_t)sizeof ports) {
    fprintf(stderr, "tls_bench: the server did not start\n");
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    return 1;
  }
  close(fds[0]);
  port_plain = ports[0];
  port_tls = ports[1];
  pin(1);
  int rc = nt_reactor_new(&R, NULL);
  if (rc) die("reactor", rc);
  nt_tls_ctx_t *full = client_ctx(ca, 0), *cached = client_ctx(ca, 1);

  nt_factory_t pf = {&probe_factory_ops, NULL};
  nt_tls_factory_t ptf;
  connect_to(1, &pf, &ptf, full);
  run_until(probe_done, NULL, 10);
  if (g_failed) die("probe", NT_ETLS_HANDSHAKE);

  printf("tls_bench%s%s: nettool client -> nettool server, 127.0.0.1, %s\n",
         *label ? " " : "", label, g_probe.what);
  double pc, ps, tc, ts;
  double plain = throughput(0, NULL, bytes, &pc, &ps);
  double tls = throughput(1, full, bytes, &tc, &ts);
  double gib = (double)bytes / (1u << 30);
  printf("throughput  %.2f GiB plain TCP: %8.1f MB/s  (CPU s/GiB: client %.2f, "
         "server %.2f)\n", gib, plain / 1e6, pc / gib, ps / gib);
  printf("throughput  %.2f GiB TLS      : %8.1f MB/s  (CPU s/GiB: client %.2f, "
         "server %.2f)\n", gib, tls / 1e6, tc / gib, ts / gib);
  printf("ratio TLS/plain               : %8.2f   (target >= 0.60)\n", tls / plain);
  fflush(stdout);

  double share;
  double hf = handshakes(full, parallel, seconds, &share);
  printf("handshakes full    (%d parallel, each with 1 request): %8.0f /s  "
         "(resumed %.0f%%)\n", parallel,
         hf, share * 100);
  double hr = handshakes(cached, parallel, seconds, &share);
  printf("handshakes resumed (%d parallel, each with 1 request): %8.0f /s  "
         "(resumed %.0f%%)\n", parallel,
         hr, share * 100);
  fflush(stdout);

  double sh, sr, chh;
  idle_memory(0, NULL, idle_n, &sh, &sr, &chh);
  printf("idle plain TCP conn (%d): server heap %6.0f B, RSS %6.0f B; client heap %6.0f B\n",
         idle_n, sh, sr, chh);
  double th, tr, tch;
  idle_memory(1, full, idle_n, &th, &tr, &tch);
  printf("idle TLS conn       (%d): server heap %6.0f B, RSS %6.0f B; client heap %6.0f B\n",
         idle_n, th, tr, tch);
  printf("memory per idle TLS connection (server, heap incl. TCP): %.1f KiB "
         "(target <= 48 KiB)\n", th / 1024);
  fflush(stdout);

  nt_reactor_close_all(R);
  for (int i = 0; i < 100 && nt_reactor_run_once(R, 0) > 0; i++) {
  }
  nt_reactor_free(R);
  nt_tls_ctx_free(full);
  nt_tls_ctx_free(cached);
  kill(child, SIGTERM);
  int st = 0;
  for (int i = 0; i < 300; i++) {
    if (waitpid(child, &st, WNOHANG) == child) return g_failed ? 1 : 0;
    usleep(10000);
  }
  kill(child, SIGKILL);
  waitpid(child, &st, 0);
  return g_failed ? 1 : 0;
}
