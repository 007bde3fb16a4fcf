/* nettool ts-server: the timestamp echo server, with N reactors in N threads
 * sharing the ports through SO_REUSEPORT; over TLS with --tls. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_opts.h"
#include "commands.h"
#include "nettool/endpoint.h"
#include "nettool/tcp.h"
#include "nettool/timestamp.h"
#include "nettool/tls.h"
#include "nettool/udp.h"

#define DEFAULT_PORT 21567
#define MAX_WORKERS 64
#define MAX_LISTEN 16 /* --listen endpoints */

static const cli_opt_t own_opts[] = {
    {"listen", 0, CLI_T_STR, CLI_F_REPEAT, 'l', "ENDPOINT",
     "also listen on ENDPOINT: tcp:PORT[:interface=ADDR],\n"
     "tls:PORT:cert=FILE[:key=FILE], unix:PATH[:mode=0660],\n"
     "unix:@NAME (abstract) or udp:PORT[:interface=ADDR]", 0},
    {"tcp", 0, CLI_T_STR, 0, 't', "PORT",
     "listen on TCP PORT (0: any free port). Default:\n"
     "TCP 21567 when neither --tcp nor --udp is given", 0},
    {"udp", 0, CLI_T_STR, 0, 'u', "PORT",
     "answer datagrams on UDP PORT (0: any free port)", 0},
    {"bind", 0, CLI_T_STR, 0, 'b', "ADDR",
     "numeric IPv4/IPv6 address to listen on (default: all)", 0},
    {"workers", 0, CLI_T_STR, 0, 'w', "N",
     "run N reactors in N threads sharing the ports (1-64)", 0},
    {"tls", 0, CLI_T_BOOL, 0, 'T', NULL,
     "speak TLS (1.2 or 1.3) on the TCP port; needs --cert", 0},
    {"cert", 0, CLI_T_FILE, 0, 'c', "FILE", "certificate chain, PEM, leaf first", 0},
    {"key", 0, CLI_T_FILE, 0, 'k', "FILE",
     "its private key, PEM (default: in the --cert file)", 0},
    {"handshake-timeout", 0, CLI_T_SECS, 0, 'H', "S",
     "a TLS client must finish its handshake within\n"
     "S seconds of connecting, or is dropped (default 10)", 0},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

const cli_cmd_spec_t cli_spec_ts_server = {
    "ts-server",
    "usage: nettool ts-server [--listen ENDPOINT]... [--tcp PORT] [--udp PORT]\n"
    "                         [--bind ADDR] [--workers N]\n"
    "                         [--tls --cert FILE [--key FILE]] "
    "[--handshake-timeout S]\n"
    "\n"
    "Answers every chunk it receives with \"[<ctime>]: <data>\".\n",
    0,
    own_opts,
    NULL,
    "Prints one 'listening on tcp|tls|udp|unix ADDRESS' line per port, then\n"
    "serves\n"
    "until SIGINT or SIGTERM, which stop it cleanly (exit 0).\n"
    "A client that sends without reading the replies is not read from while\n"
    "more than 64 KiB of replies wait for it, so it cannot make the server\n"
    "hold more; other clients are served meanwhile.\n"
    "With --workers, UNIX sockets are served by the first worker only.\n",
};

typedef struct {
  int tcp_port, udp_port, nworkers, tls;
  const char *bind_addr, *cert_file, *key_file;
  unsigned long long hs_ms;
  nt_endpoint_t *eps[MAX_LISTEN]; /* --listen */
  int neps;
} server_opts_t;

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  server_opts_t *so = ctx;
  switch (o->id) {
  case 't':
    if ((so->tcp_port = cli_port(v->str, 1, "TCP port")) < 0) return NT_EXIT_USAGE;
    return 0;
  case 'u':
    if ((so->udp_port = cli_port(v->str, 1, "UDP port")) < 0) return NT_EXIT_USAGE;
    return 0;
  case 'b':
    so->bind_addr = v->str;
    return 0;
  case 'w': {
    char *end;
    long n = strtol(v->str, &end, 10);
    if (!*v->str || *end || n < 1 || n > MAX_WORKERS)
      return cli_usage_error("bad --workers '%s': expected 1 to %d", v->str, MAX_WORKERS);
    so->nworkers = (int)n;
    return 0;
  }
  case 'T':
    so->tls = 1;
    return 0;
  case 'c':
    so->cert_file = v->str;
    return 0;
  case 'k':
    so->key_file = v->str;
    return 0;
  case 'H':
    so->hs_ms = v->ms;
    return 0;
  case 'l': {
    char err[300];
    if (so->neps == MAX_LISTEN)
      return cli_usage_error("at most %d --listen", MAX_LISTEN);
    if (nt_endpoint_parse(v->str, NT_ENDPOINT_SERVER, &so->eps[so->neps], err,
                          sizeof err))
      return cli_usage_error("bad --listen %s", err);
    so->neps++;
    return 0;
  }
  default:
    return cli_usage_error("unknown option '--%s'", o->lng);
  }
}

typedef struct worker {
  nt_reactor_t *reactor;
  nt_listener_t *listener;
  nt_udp_t *udp;
  nt_endpoint_listener_t *eps[MAX_LISTEN]; /* --listen: stream endpoints */
  nt_udp_t *ep_udp[MAX_LISTEN];            /* --listen: udp endpoints */
  nt_factory_t factory;
  nt_tls_factory_t tls_factory; /* wraps factory with --tls */
  pthread_t thread;
  int started;
} worker_t;

static void worker_close(worker_t *w);

/* A worker closes what it owns on its own thread: an io_uring reactor
 * runs only on the thread that first ran it (docs/API.md). */
static void *worker_main(void *arg) {
  worker_t *w = arg;
  nt_reactor_run(w->reactor);
  worker_close(w);
  return NULL;
}

/* SIGINT/SIGTERM on the main reactor (worker 0): it stops, then stops the
 * others (once each: a second stop could stay queued on a reactor whose
 * thread has already closed everything). */
static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  (void)signum, (void)arg;
  nt_reactor_stop(r);
}

/* Closes a worker's listeners and connections; its reactor stays. */
static void worker_close(worker_t *w) {
  if (w->listener) nt_listener_close(w->listener);
  w->listener = NULL;
  if (w->udp) nt_udp_close(w->udp);
  w->udp = NULL;
  for (int k = 0; k < MAX_LISTEN; k++) {
    nt_endpoint_listener_close(w->eps[k]);
    w->eps[k] = NULL;
    if (w->ep_udp[k]) nt_udp_close(w->ep_udp[k]);
    w->ep_udp[k] = NULL;
  }
  if (w->reactor) {
    nt_reactor_close_all(w->reactor);
    /* Let closes finish (connection_lost, destroy), bounded. */
    for (int k = 0; k < 100 && nt_reactor_run_once(w->reactor, 0) > 0; k++)
      ;
  }
}

/* Workers whose thread ran have closed theirs (worker_main). */
static void workers_free(worker_t *ws, int n) {
  for (int i = 0; i < n; i++) {
    if (!ws[i].started) worker_close(&ws[i]);
    if (ws[i].reactor) nt_reactor_free(ws[i].reactor);
  }
  free(ws);
}

static int ts_server(server_opts_t *so, int argc, char **argv);

int cmd_ts_server(int argc, char **argv) {
  server_opts_t so = {-1, -1, 1, 0, NULL, NULL, NULL, 0, {NULL}, 0};
  int rc = ts_server(&so, argc, argv);
  for (int i = 0; i < so.neps; i++) nt_endpoint_free(so.eps[i]);
  return rc;
}

/* --listen ENDPOINT on worker w. UNIX sockets on the first worker only
 * (one name, one socket); the other workers share the first one's ports
 * (SO_REUSEPORT), also those PORT 0 picked. */
static int listen_endpoints(worker_t *w, const worker_t *first,
                            server_opts_t *so, int nworkers, int *which) {
  for (int k = 0; k < so->neps; k++) {
    const nt_endpoint_t *ep = so->eps[k];
    int rc;
    *which = k;
    if (nt_endpoint_kind(ep) == NT_ENDPOINT_UNIX && first) continue;
    nt_endpoint_listen_options_t lo = {0};
    lo.reuseport = nworkers > 1;
    lo.nodelay = 1;
    if (first && first->eps[k]) lo.port = nt_endpoint_listener_port(first->eps[k]);
    if (first && first->ep_udp[k]) lo.port = nt_udp_port(first->ep_udp[k]);
    if (nt_endpoint_kind(ep) == NT_ENDPOINT_UDP) {
      nt_datagram_protocol_t *p = nt_ts_udp_server_new();
      if (!p) return NT_ENOMEM;
      rc = nt_endpoint_bind_datagram(w->reactor, ep, p, &lo, &w->ep_udp[k]);
      if (rc) free(p);
    } else {
      rc = nt_endpoint_listen(w->reactor, ep, &w->factory, &lo, &w->eps[k]);
    }
    if (rc) return rc;
  }
  return 0;
}

static int ts_server(server_opts_t *sop, int argc, char **argv) {
  cli_common_t co;
  int optind_;
  int prc = cli_opts_parse(&cli_spec_ts_server, argc, argv, &co, own, sop, &optind_);
  if (prc) return prc == CLI_OPTS_HELP ? NT_EXIT_OK : prc;
  server_opts_t so = *sop;
  int tcp_port = so.tcp_port, udp_port = so.udp_port, nworkers = so.nworkers;
  const char *bind_addr = so.bind_addr;
  int tls = so.tls;
  const char *cert_file = so.cert_file, *key_file = so.key_file;
  unsigned long long hs_ms = so.hs_ms;
  if (optind_ < argc)
    return cli_usage_error("unexpected argument '%s'", argv[optind_]);
  if (tls && !cert_file) return cli_usage_error("--tls needs --cert FILE");
  if (!tls && (cert_file || key_file || hs_ms))
    return cli_usage_error("--cert, --key and --handshake-timeout go with --tls");
  if (tls && udp_port >= 0)
    return cli_usage_error("--tls is for TCP only; drop --udp");
  if (tcp_port < 0 && udp_port < 0 && !so.neps) tcp_port = DEFAULT_PORT;

  /* One TLS context for every worker: OpenSSL contexts are thread-safe,
   * and a session resumed on any worker was made with the same keys. */
  nt_tls_ctx_t *tls_ctx = NULL;
  if (tls) {
    nt_tls_ctx_options_t to = {0};
    to.server = 1;
    to.cert_file = cert_file;
    to.key_file = key_file;
    to.handshake_timeout_ms = hs_ms; /* 0: 10 s */
    int trc = nt_tls_ctx_new(&to, &tls_ctx);
    if (trc) {
      cli_error("TLS: %s", nt_tls_last_error());
      return trc == NT_ENOENT || trc == NT_EACCES ? NT_EXIT_FILE : NT_EXIT_TLS;
    }
  }

  worker_t *ws = calloc((size_t)nworkers, sizeof *ws);
  if (!ws) {
    cli_error("out of memory");
    nt_tls_ctx_free(tls_ctx);
    return NT_EXIT_INTERNAL;
  }
  int rc = 0;
  const char *what = "";
  for (int i = 0; i < nworkers && !rc; i++) {
    worker_t *w = &ws[i];
    rc = nt_reactor_new(&w->reactor, NULL);
    if (rc) {
      what = "reactor";
      break;
    }
    nt_ts_server_factory_init(&w->factory);
    int which = 0;
    rc = listen_endpoints(w, i ? &ws[0] : NULL, &so, nworkers, &which);
    if (rc) {
      char buf[512];
      if (nt_endpoint_kind(so.eps[which]) == NT_ENDPOINT_TLS &&
          cli_is_tls_error(rc))
        cli_error("--listen %s: TLS: %s",
                  nt_endpoint_format(so.eps[which], buf, sizeof buf),
                  nt_tls_last_error());
      else
        cli_error("cannot listen on %s: %s",
                  nt_endpoint_format(so.eps[which], buf, sizeof buf),
                  nt_strerror(rc));
      workers_free(ws, nworkers);
      nt_tls_ctx_free(tls_ctx);
      if (rc == NT_ENOENT || rc == NT_EACCES)
        return nt_endpoint_kind(so.eps[which]) == NT_ENDPOINT_TLS
                   ? NT_EXIT_FILE
                   : cli_exit_for_listen(rc);
      return cli_is_tls_error(rc) ? NT_EXIT_TLS : cli_exit_for_listen(rc);
    }
    if (tcp_port >= 0) {
      nt_factory_t *f = &w->factory;
      if (tls_ctx) {
        nt_tls_factory_init(&w->tls_factory, tls_ctx, &w->factory, NULL);
        f = &w->tls_factory.base;
      }
      nt_tcp_listen_options_t lo = {0};
      lo.reuseport = nworkers > 1;
      lo.nodelay = 1;
      rc = nt_tcp_listen(w->reactor, bind_addr, tcp_port, f, &lo,
                         &w->listener);
      if (rc) {
        what = "tcp";
        break;
      }
      /* Port 0: the first worker picked one; the others share it. */
      tcp_port = nt_listener_port(w->listener);
    }
    if (udp_port >= 0) {
      nt_datagram_protocol_t *p = nt_ts_udp_server_new();
      if (!p) {
        rc = NT_ENOMEM;
        what = "udp";
        break;
      }
      nt_udp_options_t uo = {nworkers > 1, 0};
      rc = nt_udp_bind(w->reactor, bind_addr, udp_port, p, &uo, &w->udp);
      if (rc) {
        free(p);
        what = "udp";
        break;
      }
      udp_port = nt_udp_port(w->udp);
    }
  }
  if (rc) {
    const char *a = bind_addr ? bind_addr : "*";
    if (!strcmp(what, "reactor"))
      cli_error("cannot start a reactor: %s", nt_strerror(rc));
    else if (rc == NT_EBADADDR)
      cli_usage_error("bad --bind '%s': not a numeric IPv4 or IPv6 address", a);
    else
      cli_error("cannot listen on %s %s port %d: %s", what, a,
                !strcmp(what, "tcp") ? tcp_port : udp_port, nt_strerror(rc));
    workers_free(ws, nworkers);
    nt_tls_ctx_free(tls_ctx);
    return rc == NT_EBADADDR ? NT_EXIT_USAGE : cli_exit_for_listen(rc);
  }

  struct sockaddr_storage ss;
  socklen_t len;
  char buf[NT_ADDRSTRLEN];
  if (ws[0].listener && nt_listener_address(ws[0].listener, &ss, &len) == 0)
    printf("listening on %s %s\n", tls_ctx ? "tls" : "tcp",
           nt_addr_format((struct sockaddr *)&ss, buf, sizeof buf));
  if (ws[0].udp && nt_udp_local_address(ws[0].udp, &ss, &len) == 0)
    printf("listening on udp %s\n", nt_addr_format((struct sockaddr *)&ss, buf, sizeof buf));
  for (int k = 0; k < so.neps; k++) {
    char d[200];
    if (ws[0].eps[k])
      printf("listening on %s\n",
             nt_endpoint_listener_describe(ws[0].eps[k], d, sizeof d));
    if (ws[0].ep_udp[k] && nt_udp_local_address(ws[0].ep_udp[k], &ss, &len) == 0)
      printf("listening on udp %s\n",
             nt_addr_format((struct sockaddr *)&ss, buf, sizeof buf));
  }
  fflush(stdout);

  nt_reactor_handle_signals(ws[0].reactor, on_signal, NULL);
  for (int i = 1; i < nworkers; i++) {
    if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) == 0)
      ws[i].started = 1;
  }
  rc = nt_reactor_run(ws[0].reactor);
  for (int i = 1; i < nworkers; i++) {
    if (!ws[i].started) continue;
    nt_reactor_stop_from_thread(ws[i].reactor);
    pthread_join(ws[i].thread, NULL);
  }
  workers_free(ws, nworkers);
  nt_tls_ctx_free(tls_ctx); /* after the connections that referenced it */
  if (rc) {
    cli_error("reactor failed: %s", nt_strerror(rc));
    return NT_EXIT_INTERNAL;
  }
  return NT_EXIT_OK;
}
