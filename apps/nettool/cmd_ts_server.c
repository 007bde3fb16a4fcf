/* nettool ts-server: the timestamp echo server, with N reactors in N threads
 * sharing the ports through SO_REUSEPORT; over TLS with --tls. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "nettool/tcp.h"
#include "nettool/timestamp.h"
#include "nettool/tls.h"
#include "nettool/udp.h"

#define DEFAULT_PORT 21567
#define MAX_WORKERS 64

static const char usage_text[] =
    "usage: nettool ts-server [--tcp PORT] [--udp PORT] [--bind ADDR] "
    "[--workers N]\n"
    "                         [--tls --cert FILE [--key FILE]] "
    "[--handshake-timeout S]\n"
    "\n"
    "Answers every chunk it receives with \"[<ctime>]: <data>\".\n"
    "\n"
    "  --tcp PORT    listen on TCP PORT (0: any free port). Default: TCP "
    "21567\n"
    "                when neither --tcp nor --udp is given\n"
    "  --udp PORT    answer datagrams on UDP PORT (0: any free port)\n"
    "  --bind ADDR   numeric IPv4/IPv6 address to listen on (default: all)\n"
    "  --workers N   run N reactors in N threads sharing the ports (1-64)\n"
    "  --tls         speak TLS (1.2 or 1.3) on the TCP port; needs --cert\n"
    "  --cert FILE   certificate chain, PEM, leaf first\n"
    "  --key FILE    its private key, PEM (default: in the --cert file)\n"
    "  --handshake-timeout S  a TLS client must finish its handshake within\n"
    "                S seconds of connecting, or is dropped (default 10)\n"
    "\n"
    "Prints one 'listening on tcp|tls|udp ADDRESS' line per port, then serves\n"
    "until SIGINT or SIGTERM, which stop it cleanly (exit 0).\n"
    "A client that sends without reading the replies is not read from while\n"
    "more than 64 KiB of replies wait for it, so it cannot make the server\n"
    "hold more; other clients are served meanwhile.\n";

typedef struct worker {
  nt_reactor_t *reactor;
  nt_listener_t *listener;
  nt_udp_t *udp;
  nt_factory_t factory;
  nt_tls_factory_t tls_factory; /* wraps factory with --tls */
  pthread_t thread;
  int started;
} worker_t;

static void *worker_main(void *arg) {
  worker_t *w = arg;
  nt_reactor_run(w->reactor);
  return NULL;
}

typedef struct {
  worker_t *workers;
  int n;
} server_t;

/* SIGINT/SIGTERM on the main reactor (worker 0): stop every reactor. */
static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  server_t *s = arg;
  (void)signum;
  for (int i = 1; i < s->n; i++) nt_reactor_stop_from_thread(s->workers[i].reactor);
  nt_reactor_stop(r);
}

static void workers_free(worker_t *ws, int n) {
  for (int i = 0; i < n; i++) {
    if (ws[i].listener) nt_listener_close(ws[i].listener);
    if (ws[i].udp) nt_udp_close(ws[i].udp);
    if (ws[i].reactor) {
      nt_reactor_close_all(ws[i].reactor);
      /* Let closes finish (connection_lost, destroy), bounded. */
      for (int k = 0; k < 100 && nt_reactor_run_once(ws[i].reactor, 0) > 0; k++)
        ;
      nt_reactor_free(ws[i].reactor);
    }
  }
  free(ws);
}

int cmd_ts_server(int argc, char **argv) {
  static const struct option opts[] = {
      {"tcp", required_argument, NULL, 't'},
      {"udp", required_argument, NULL, 'u'},
      {"bind", required_argument, NULL, 'b'},
      {"workers", required_argument, NULL, 'w'},
      {"tls", no_argument, NULL, 'T'},
      {"cert", required_argument, NULL, 'c'},
      {"key", required_argument, NULL, 'k'},
      {"handshake-timeout", required_argument, NULL, 'H'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  int tcp_port = -1, udp_port = -1, nworkers = 1;
  const char *bind_addr = NULL;
  int tls = 0;
  const char *cert_file = NULL, *key_file = NULL;
  unsigned long long hs_ms = 0;
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 't':
      if ((tcp_port = cli_port(optarg, 1, "TCP port")) < 0) return NT_EXIT_USAGE;
      break;
    case 'u':
      if ((udp_port = cli_port(optarg, 1, "UDP port")) < 0) return NT_EXIT_USAGE;
      break;
    case 'b':
      bind_addr = optarg;
      break;
    case 'w': {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (!*optarg || *end || v < 1 || v > MAX_WORKERS)
        return cli_usage_error("bad --workers '%s': expected 1 to %d", optarg,
                               MAX_WORKERS);
      nworkers = (int)v;
      break;
    }
    case 'T':
      tls = 1;
      break;
    case 'c':
      cert_file = optarg;
      break;
    case 'k':
      key_file = optarg;
      break;
    case 'H':
      if (cli_seconds(optarg, &hs_ms))
        return cli_usage_error("bad --handshake-timeout '%s': expected seconds > 0",
                               optarg);
      break;
    case 'h':
      fputs(usage_text, stdout);
      return NT_EXIT_OK;
    case ':':
      return cli_usage_error("option '%s' needs a value", argv[optind - 1]);
    default:
      return cli_usage_error("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return cli_usage_error("unexpected argument '%s'", argv[optind]);
  if (tls && !cert_file) return cli_usage_error("--tls needs --cert FILE");
  if (!tls && (cert_file || key_file || hs_ms))
    return cli_usage_error("--cert, --key and --handshake-timeout go with --tls");
  if (tls && udp_port >= 0)
    return cli_usage_error("--tls is for TCP only; drop --udp");
  if (tcp_port < 0 && udp_port < 0) tcp_port = DEFAULT_PORT;

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
    if (tcp_port >= 0) {
      nt_ts_server_factory_init(&w->factory);
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
  fflush(stdout);

  server_t srv = {ws, nworkers};
  nt_reactor_handle_signals(ws[0].reactor, on_signal, &srv);
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
