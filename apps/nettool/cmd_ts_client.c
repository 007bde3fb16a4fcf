/* nettool ts-client: sends each stdin line to a timestamp server and prints
 * each reply, one at a time (tsTclnt/tsUclnt). An empty line or EOF ends the
 * session. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_opts.h"
#include "cli_proxy.h"
#include "cli_text.h"
#include "commands.h"
#include "nettool/endpoint.h"
#include "nettool/framing.h"
#include "nettool/resolve.h"
#include "nettool/timestamp.h"
#include "nettool/tls.h"
#include "nettool/unix.h"

#define MAX_LINE (60 * 1024)
#define MAX_QUEUED 64 /* lines read ahead of the replies */

static const cli_opt_t own_opts[] = {
    {"udp", 0, CLI_T_BOOL, 0, 'u', NULL, "use UDP datagrams instead of TCP", 0},
    {"tls", 0, CLI_T_BOOL, 0, 'T', NULL,
     "speak TLS over TCP; the server's certificate and name\n"
     "are verified against the system's CAs", 0},
    {NULL, 0, 0, 0, 0, NULL, NULL, 0},
};

static const char *const shared_help[CLI_O_END_ - CLI_O_INSECURE] = {
    [CLI_O_CACERT - CLI_O_INSECURE] = "trust the CAs in FILE (PEM) instead (needs --tls)",
    [CLI_O_QUIET - CLI_O_INSECURE] = "accepted as in every command (only errors go to\n"
                                     "stderr)",
    [CLI_O_TIMEOUT - CLI_O_INSECURE] =
        "each reply must be complete within S seconds of its\n"
        "line being sent (default 10); time spent waiting for\n"
        "input does not count",
    [CLI_O_CONNECT_TIMEOUT - CLI_O_INSECURE] =
        "name resolution, TCP connect and TLS handshake\n"
        "together (default: --timeout)",
    [CLI_O_MAX_TIME - CLI_O_INSECURE] = "the whole session (default: no limit)",
    [CLI_O_JSON - CLI_O_INSECURE] =
        "print a JSON object per reply instead of the reply\n"
        "({\"event\":\"reply\",\"request\",\"reply\",\"seconds\"}),\n"
        "and one at the end ({\"event\":\"end\",\"replies\",\n"
        "\"exit_code\",\"error\",\"seconds\"})",
};

const cli_cmd_spec_t cli_spec_ts_client = {
    "ts-client",
    "usage: nettool ts-client HOST PORT | ENDPOINT [--udp] [--timeout S]\n"
    "                         [--connect-timeout S] [--max-time S]\n"
    "                         [--tls [--cacert FILE] [-k]] [-q] [--json]\n"
    "\n"
    "Sends each line read from stdin to the timestamp server at HOST:PORT\n"
    "and prints each reply. An empty line or end of input ends the session.\n"
    "HOST is a name or a numeric IPv4/IPv6 address; over TCP its addresses\n"
    "are raced (happy eyeballs). Replies are printed as they come; on a\n"
    "terminal, control characters in them are shown as '?'.\n"
    "ENDPOINT names the server in one word instead: tcp:HOST:PORT,\n"
    "tls:HOST:PORT[:cacert=FILE], udp:HOST:PORT, unix:PATH or unix:@NAME\n"
    "(a Linux abstract socket); --udp and --tls then go unsaid.\n",
    CLI_S_TLS | CLI_S_TIMES | CLI_S(CLI_O_QUIET) | CLI_S(CLI_O_JSON) |
        CLI_S(CLI_O_PROXY),
    own_opts,
    shared_help,
    "Exit codes: 0 ok, 2 usage, 4 connect, 5 resolve, 6 TLS, 7 protocol,\n"
    "9 file (--cacert), 10 timeout (any of the three limits), 11 bad input,\n"
    "130 interrupted by SIGINT/SIGTERM (docs/EXIT-CODES.md).\n",
};

typedef struct {
  nt_reactor_t *reactor;
  nt_ts_client_t *client;
  nt_io_t in_io;
  int in_watch;   /* stdin is watched by the reactor (else: a regular file) */
  int in_reading; /* we want stdin input now */
  int in_eof;
  int in_queued;  /* a read of a regular-file stdin is queued */
  nt_line_reader_t reader;
  char **lines; /* FIFO of lines to send; NULL entry: the ending empty line */
  size_t head, count, cap;
  int ready;    /* connected and no reply awaited */
  int connected;
  int closing;
  int prompt;   /* stdin is a terminal */
  int status;   /* session result */
  int in_handshake; /* the session ended during the TLS handshake */
  int interrupted;  /* SIGINT/SIGTERM */
  int max_time_hit; /* --max-time */
  int tty_out;      /* stdout is a terminal: replies are sanitised */
  int input_error;
  const char *host;
  int port;
  int udp;
  int tls_opt; /* --tls */
  char *inflight; /* --json: the line awaiting its reply */
  double sent_at; /* --json: when it was sent */
} client_t;

/* --json: what the closing object needs, kept outside the session so that
 * every way out of cmd_ts_client prints it. */
static struct {
  int on;
  const char *host;
  int port;
  long replies;
  double t0;
} js;

static void json_head(const char *event) {
  fputs("{\"command\":\"ts-client\",\"event\":", stdout);
  cli_json_string(stdout, event);
  fputs(",\"host\":", stdout);
  cli_json_string(stdout, js.host ? js.host : "");
  fprintf(stdout, ",\"port\":%d", js.port);
}

/* The reply's bytes as a JSON string (a NUL in them cannot be one: U+FFFD). */
static void json_bytes(const char *data, size_t len) {
  char *z = malloc(len + 1);
  if (!z) {
    cli_json_string(stdout, "");
    return;
  }
  for (size_t i = 0; i < len; i++) z[i] = data[i] ? data[i] : (char)0xff;
  z[len] = 0;
  cli_json_string(stdout, z);
  free(z);
}

static void stdin_set(client_t *c, int on);

static void show_prompt(client_t *c) {
  if (c->prompt && !c->closing) {
    fputs("> ", stdout);
    fflush(stdout);
  }
}

static void finish(client_t *c) {
  if (c->closing) return;
  c->closing = 1;
  stdin_set(c, 0);
  if (c->client) nt_ts_client_close(c->client);
}

/* Sends the next queued line when the client is free. */
static void pump(client_t *c) {
  if (!c->ready || c->closing) return;
  if (c->count == 0) {
    if (c->in_eof) finish(c);
    return;
  }
  char *line = c->lines[c->head];
  c->head = (c->head + 1) % c->cap;
  c->count--;
  if (!line) { /* empty line: the session ends, as with tsTclnt */
    finish(c);
    return;
  }
  int rc = nt_ts_client_send(c->client, line, strlen(line));
  free(c->inflight);
  c->inflight = NULL;
  if (js.on && !rc) {
    c->inflight = line;
    c->sent_at = cli_now();
  } else {
    free(line);
  }
  if (rc) {
    cli_error("send: %s", nt_strerror(rc));
    c->status = rc;
    finish(c);
    return;
  }
  c->ready = 0;
  if (c->count < MAX_QUEUED / 2 && !c->in_eof) stdin_set(c, 1);
}

static int queue_line(void *arg, const char *line, size_t len) {
  client_t *c = arg;
  if (c->count == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    char **l = malloc(cap * sizeof *l);
    if (!l) return NT_ENOMEM;
    for (size_t i = 0; i < c->count; i++) l[i] = c->lines[(c->head + i) % c->cap];
    free(c->lines);
    c->lines = l;
    c->cap = cap;
    c->head = 0;
  }
  char *copy = NULL;
  if (len) {
    copy = malloc(len + 1);
    if (!copy) return NT_ENOMEM;
    memcpy(copy, line, len);
    copy[len] = 0;
  }
  c->lines[(c->head + c->count) % c->cap] = copy;
  c->count++;
  if (!len) { /* nothing after an empty line matters */
    c->in_eof = 1;
    return 1;
  }
  return 0;
}

static void read_stdin(client_t *c) {
  char buf[16384];
  ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    if (n < 0) cli_error("reading stdin: %s", strerror(errno));
    /* A last line without a newline still counts. */
    if (nt_line_reader_pending(&c->reader)) {
      nt_line_reader_feed(&c->reader, "\n", 1, queue_line, c, NULL);
    }
    c->in_eof = 1;
    stdin_set(c, 0);
    pump(c);
    return;
  }
  int rc = nt_line_reader_feed(&c->reader, buf, (size_t)n, queue_line, c, NULL);
  if (rc < 0) {
    if (rc == NT_ELINETOOLONG)
      cli_error("input line longer than %d bytes", MAX_LINE);
    else
      cli_error("reading stdin: %s", nt_strerror(rc));
    c->input_error = 1;
    finish(c);
    return;
  }
  if (c->in_eof || c->count >= MAX_QUEUED) stdin_set(c, 0);
  pump(c);
}

static void stdin_io_cb(nt_io_t *io, unsigned events) {
  (void)events;
  read_stdin(io->data);
}

static void stdin_file_cb(void *arg) {
  client_t *c = arg;
  c->in_queued = 0;
  if (c->in_reading) {
    read_stdin(c);
    if (c->in_reading && !c->in_queued) {
      c->in_queued = 1;
      nt_call_soon(c->reactor, stdin_file_cb, c);
    }
  }
}

/* Starts or stops taking stdin input. epoll cannot watch regular files (they
 * are always readable), so those are read from the call-soon queue. */
static void stdin_set(client_t *c, int on) {
  if (on && (c->in_eof || c->closing)) on = 0;
  c->in_reading = on;
  if (c->in_watch) {
    if (on)
      nt_io_start(&c->in_io, NT_READABLE);
    else
      nt_io_stop(&c->in_io);
  } else if (on && !c->in_queued) {
    c->in_queued = 1;
    nt_call_soon(c->reactor, stdin_file_cb, c);
  }
}

static void on_connected(nt_ts_client_t *tc, void *arg) {
  client_t *c = arg;
  (void)tc;
  c->ready = 1;
  c->connected = 1;
  show_prompt(c);
  stdin_set(c, 1);
  pump(c);
}

static void on_reply(nt_ts_client_t *tc, const char *data, size_t len,
                     void *arg) {
  client_t *c = arg;
  (void)tc;
  /* The server's bytes reach a terminal only with controls made visible
   * (no escape sequences); to a file or pipe they go as they are: they are
   * the echo service's data. */
  if (js.on) {
    js.replies++;
    json_head("reply");
    fputs(",\"request\":", stdout);
    cli_json_string(stdout, c->inflight ? c->inflight : "");
    fputs(",\"reply\":", stdout);
    json_bytes(data, len);
    fprintf(stdout, ",\"seconds\":%.6f}", cli_now() - c->sent_at);
    free(c->inflight);
    c->inflight = NULL;
  } else if (c->tty_out)
    cli_text_put(stdout, data, len, CLI_TEXT_KEEP_LF);
  else
    fwrite(data, 1, len, stdout);
  fputc('\n', stdout);
  fflush(stdout);
  c->ready = 1;
  show_prompt(c);
  pump(c);
}

static void on_closed(nt_ts_client_t *tc, int status, void *arg) {
  client_t *c = arg;
  c->in_handshake = nt_ts_client_in_handshake(tc);
  c->client = NULL;
  c->closing = 1;
  stdin_set(c, 0);
  if (!c->status) c->status = status;
}

/* SIGINT/SIGTERM stop the session at once, whatever it waits for (the
 * connection, a reply, input): exit 130. */
static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  client_t *c = arg;
  (void)signum;
  if (c->interrupted || c->max_time_hit) return;
  c->interrupted = 1;
  nt_reactor_stop(r);
}

/* --max-time: the whole session, from the start of the connect. */
static void on_max_time(nt_timer_t *t) {
  client_t *c = t->data;
  if (c->interrupted || c->max_time_hit) return;
  c->max_time_hit = 1;
  nt_reactor_stop(c->reactor);
}

static int own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  client_t *c = ctx;
  (void)v;
  if (o->id == 'u') c->udp = 1;
  else if (o->id == 'T') c->tls_opt = 1;
  return 0;
}

static int ts_client(int argc, char **argv);

/* ts-client ENDPOINT: the endpoint says the transport (tcp, tls, udp or
 * unix) and the server; the flags that would say it too are refused. The
 * endpoint (its strings back c->host and js.host) lives until
 * cmd_ts_client returns. */
static nt_endpoint_t *g_ep;

static int endpoint_args(client_t *c, const char *spec, cli_common_t *co) {
  char err[300];
  if (nt_endpoint_parse(spec, NT_ENDPOINT_CLIENT, &g_ep, err, sizeof err))
    return cli_usage_error("bad ENDPOINT %s", err);
  nt_endpoint_t *ep = g_ep;
  int rc = 0;
  if (c->udp || c->tls_opt)
    rc = cli_usage_error("--udp and --tls go with HOST PORT; the endpoint "
                         "names its transport");
  else if (nt_endpoint_cacert(ep) && co->cacert)
    rc = cli_usage_error("--cacert and the endpoint's cacert= both given");
  if (rc) return rc; /* g_ep is freed by cmd_ts_client */
  switch (nt_endpoint_kind(ep)) {
  case NT_ENDPOINT_UDP:
    c->udp = 1;
    break;
  case NT_ENDPOINT_TLS:
    c->tls_opt = 1;
    if (nt_endpoint_cacert(ep)) co->cacert = nt_endpoint_cacert(ep);
    break;
  default:
    break;
  }
  if (nt_endpoint_kind(ep) == NT_ENDPOINT_UNIX) {
    c->host = nt_endpoint_path(ep);
    c->port = 0;
  } else {
    c->host = nt_endpoint_host(ep);
    c->port = nt_endpoint_port(ep);
  }
  if (nt_endpoint_timeout_ms(ep) && !(co->given & CLI_S(CLI_O_CONNECT_TIMEOUT))) {
    co->connect_timeout_ms = nt_endpoint_timeout_ms(ep);
    co->given |= CLI_S(CLI_O_CONNECT_TIMEOUT);
  }
  return 0;
}

/* unix: a UNIX connect is answered at once (accepted, or refused: ENOENT,
 * ECONNREFUSED, EAGAIN for a full backlog), so it is made here and the
 * socket then runs the client (connected() before this returns). */
static int connect_unix(client_t *c, const char *name,
                        const nt_ts_client_options_t *o,
                        const nt_ts_client_callbacks_t *cbs) {
  struct sockaddr_storage ss;
  socklen_t len;
  int rc = nt_unix_addr(name, &ss, &len);
  if (rc) return rc;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
    rc = -errno;
    close(fd);
    return rc;
  }
  nt_ts_client_options_t uo = *o;
  uo.udp = 0;
  uo.tls = NULL;
  rc = nt_ts_client_new(c->reactor, &uo, cbs, c, &c->client);
  if (rc) {
    close(fd);
    return rc;
  }
  /* From here the client is the transport's (closed() reports the end). */
  return nt_unix_wrap_fd(c->reactor, fd, nt_ts_client_protocol(c->client),
                         NULL);
}

int cmd_ts_client(int argc, char **argv) {
  memset(&js, 0, sizeof js);
  js.t0 = cli_now();
  cli_last_error[0] = 0;
  int code = ts_client(argc, argv);
  if (js.on) {
    json_head("end");
    fprintf(stdout, ",\"replies\":%ld,\"exit_code\":%d", js.replies, code);
    if (code && cli_last_error[0]) {
      fputs(",\"error\":", stdout);
      cli_json_string(stdout, cli_last_error);
    }
    fprintf(stdout, ",\"seconds\":%.6f}\n", cli_now() - js.t0);
    fflush(stdout);
  }
  nt_endpoint_free(g_ep); /* c.host and js.host pointed into it */
  g_ep = NULL;
  return code;
}

static int ts_client(int argc, char **argv) {
  client_t c;
  memset(&c, 0, sizeof c);
  cli_common_t co;
  int first;
  int prc = cli_opts_parse(&cli_spec_ts_client, argc, argv, &co, own, &c, &first);
  if (prc) return prc == CLI_OPTS_HELP ? NT_EXIT_OK : prc;
  const char *unix_name = NULL;
  if (argc - first == 1) {
    int erc = endpoint_args(&c, argv[first], &co);
    if (erc) return erc;
    unix_name = nt_endpoint_path(g_ep);
  }
  unsigned long long timeout_ms = co.given & CLI_S(CLI_O_TIMEOUT) ? co.timeout_ms : 10000;
  unsigned long long connect_ms = co.connect_timeout_ms, max_ms = co.max_time_ms;
  int tls = c.tls_opt, insecure = co.insecure;
  const char *cacert = co.cacert;
  if (!g_ep && argc - first != 2)
    return cli_usage_error("expected HOST and PORT, or an ENDPOINT");
  cli_common_t tls_opts = {.insecure = insecure, .cacert = cacert};
  if (!tls && (cacert || insecure))
    return cli_opts_tls_check(&tls_opts, 0, "--tls");
  if (tls && c.udp) return cli_usage_error("--tls is for TCP only; drop --udp");
  if (!g_ep) {
    c.host = argv[first];
    if ((c.port = cli_port(argv[first + 1], 0, "port")) < 0) return NT_EXIT_USAGE;
  }
  js.on = co.json;
  js.host = c.host;
  js.port = c.port;
  /* TCP only: the environment's proxies are for TCP (as curl's) */
  nt_proxy_t proxy_buf;
  const nt_proxy_t *proxy = NULL;
  const nt_proxy_t *proxy_opt = cli_proxy_given(&co);
  if (c.udp && proxy_opt && proxy_opt->type != NT_PROXY_NONE)
    return cli_usage_error("--proxy is for TCP only; drop --udp");
  if (!c.udp) {
    int prc = cli_proxy_for(proxy_opt, 0, "ts", c.host, &proxy_buf, &proxy);
    if (prc) return prc;
  }

  int rc = nt_reactor_new(&c.reactor, NULL);
  if (rc) {
    cli_error("cannot start a reactor: %s", nt_strerror(rc));
    return NT_EXIT_INTERNAL;
  }
  nt_line_reader_init(&c.reader, MAX_LINE);
  c.tty_out = isatty(STDOUT_FILENO);
  c.prompt = isatty(STDIN_FILENO) && c.tty_out && !js.on;
  nt_io_init(c.reactor, &c.in_io, STDIN_FILENO, stdin_io_cb);
  c.in_io.data = &c;
  struct stat st;
  c.in_watch = !(fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode));
  if (c.in_watch && nt_io_start(&c.in_io, NT_READABLE) != 0) c.in_watch = 0;
  nt_io_stop(&c.in_io);

  nt_tls_ctx_t *tls_ctx = NULL;
  if (tls) {
    nt_tls_ctx_options_t to;
    memset(&to, 0, sizeof to);
    to.ca_file = cacert;
    to.insecure = insecure;
    rc = nt_tls_ctx_new(&to, &tls_ctx);
    if (rc) {
      cli_error("TLS: %s", nt_tls_last_error());
      nt_reactor_free(c.reactor);
      nt_line_reader_free(&c.reader);
      return rc == NT_ENOENT ? NT_EXIT_FILE : NT_EXIT_TLS;
    }
    if (insecure) cli_warn_insecure(NULL);
  }
  if (!connect_ms) connect_ms = timeout_ms;
  nt_ts_client_options_t o = {.udp = c.udp,
                              .connect_timeout_ms = connect_ms,
                              .reply_timeout_ms = timeout_ms,
                              .tls = tls_ctx,
                              .proxy = proxy};
  nt_ts_client_callbacks_t cbs = {on_connected, on_reply, on_closed};
  if (unix_name)
    rc = connect_unix(&c, unix_name, &o, &cbs);
  else
    rc = nt_ts_client_connect(c.reactor, c.host, c.port, &o, &cbs, &c, &c.client);
  if (rc) {
    const char *why = NULL;
    if (rc == NT_EDNS_BADNAME) nt_hostname_check(c.host, &why);
    if (rc == NT_EDNS_BADNAME)
      cli_usage_error("bad HOST '%s': %s", c.host, why ? why : "not a host name");
    else if (unix_name)
      cli_error("connect to unix:%s: %s", unix_name, nt_strerror(rc));
    else
      cli_error("connect to %s:%d: %s", c.host, c.port, nt_strerror(rc));
    nt_reactor_free(c.reactor);
    nt_tls_ctx_free(tls_ctx);
    nt_line_reader_free(&c.reader);
    return rc == NT_EDNS_BADNAME ? NT_EXIT_USAGE : cli_exit_for_connect(rc);
  }
  nt_reactor_handle_signals(c.reactor, on_signal, &c);
  nt_timer_t max_timer;
  nt_timer_init(c.reactor, &max_timer, on_max_time);
  max_timer.data = &c;
  if (max_ms) {
    nt_timer_start(&max_timer, max_ms, 0);
    nt_timer_unref(&max_timer); /* it alone does not keep the loop going */
  }
  rc = nt_reactor_run(c.reactor);
  nt_timer_stop(&max_timer);
  stdin_set(&c, 0);
  if (c.client) {
    /* Stopped early (a signal, --max-time, the reactor failing): end the
     * session now, without waiting for anything. */
    c.closing = 1;
    nt_ts_client_close(c.client);
  }
  nt_reactor_close_all(c.reactor);
  /* Let what the closes queued run (UDP's connection_lost), bounded. */
  for (int k = 0; k < 100 && nt_reactor_run_once(c.reactor, 0) > 0; k++)
    ;
  nt_reactor_free(c.reactor);
  nt_tls_ctx_free(tls_ctx);
  nt_line_reader_free(&c.reader);
  while (c.count) {
    free(c.lines[c.head]);
    c.head = (c.head + 1) % c.cap;
    c.count--;
  }
  free(c.lines);
  free(c.inflight);
  if (c.prompt && !js.on) fputc('\n', stdout);

  if (rc) {
    cli_error("reactor failed: %s", nt_strerror(rc));
    return NT_EXIT_INTERNAL;
  }
  if (c.interrupted) {
    cli_error("interrupted");
    return NT_EXIT_INTERRUPTED;
  }
  if (c.max_time_hit) {
    cli_error("%s port %d: not done within %s (--max-time)", c.host, c.port,
              cli_secs(max_ms));
    return NT_EXIT_TIMEOUT;
  }
  if (c.input_error) return NT_EXIT_INPUT;
  int st_code = c.status;
  if (st_code == 0) return NT_EXIT_OK;
  const char *proto = c.udp ? "udp" : unix_name ? "unix" : "tcp";
  if (!c.connected) {
    if (st_code == NT_ETIMEDOUT)
      cli_error("%s %s:%d: not done within %s (--connect-timeout%s)",
                c.in_handshake ? "TLS with" : "connect to", c.host, c.port,
                cli_secs(connect_ms),
                tls ? ", TLS handshake included" : "");
    else if (cli_is_dns_error(st_code))
      cli_error("resolve %s: %s", c.host, nt_strerror(st_code));
    else if (cli_is_tls_error(st_code))
      cli_error("TLS with %s:%d failed: %s", c.host, c.port,
                *nt_tls_last_error() ? nt_tls_last_error() : nt_strerror(st_code));
    else if (cli_proxy_detail(st_code))
      cli_error("connect to %s:%d: %s: %s", c.host, c.port, nt_strerror(st_code),
                cli_text(cli_proxy_detail(st_code), strlen(cli_proxy_detail(st_code))));
    else
      cli_error("connect to %s:%d: %s", c.host, c.port,
                st_code == NT_ETIMEDOUT ? "timed out" : nt_strerror(st_code));
    return cli_exit_for_connect(st_code);
  }
  switch (st_code) {
  case NT_ETIMEDOUT:
    cli_error("%s %s port %d: no reply within %s (--timeout)", proto, c.host,
              c.port, cli_secs(timeout_ms));
    break;
  case NT_EUNEXPECTEDEOF:
    cli_error("%s %s port %d: the server closed the connection before replying",
              proto, c.host, c.port);
    break;
  default:
    cli_error("%s %s port %d: %s", proto, c.host, c.port, nt_strerror(st_code));
  }
  return cli_exit_for_session(st_code);
}
