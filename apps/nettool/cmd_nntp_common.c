/* Shared by nntp-read, nntp-list and nntp-post: the common options, the
 * server (--server, a news:// URL, $NNTPSERVER), credentials (never
 * printed), TLS, running the session, and errors in the server's words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_opts.h"
#include "cli_proxy.h"
#include "cli_text.h"
#include "commands.h"
#include "nettool/backoff.h"
#include "nettool/nntp.h"
#include "nettool/resolve.h"
#include "nettool/transport.h"

void nntp_cli_init(nntp_cli_t *s) {
  memset(s, 0, sizeof *s);
  s->timeout_ms = 30000;
}

const char *const nntp_cli_shared_help[CLI_O_END_ - CLI_O_INSECURE] = {
    [CLI_O_PORT - CLI_O_INSECURE] = "server port (default 119; 563 = NNTPS); wins over\n"
                                    "--server HOST:PORT and the URL's",
    [CLI_O_USER - CLI_O_INSECURE] =
        "authenticate (AUTHINFO); without :PASS the\n"
        "password comes from $NNTPPASS or the terminal",
    [CLI_O_CACERT - CLI_O_INSECURE] = "trust this CA bundle (PEM) for TLS (needs --tls,\n"
                                      "port 563 or an nntps:// URL)",
    [CLI_O_VERBOSE - CLI_O_INSECURE] = "show the dialogue on stderr ('> GROUP x',\n"
                                       "'< 211 ...'; AUTHINFO PASS ****)",
    [CLI_O_QUIET - CLI_O_INSECURE] = "accepted as in every command (nntp commands\n"
                                     "print no status lines)",
    [CLI_O_TIMEOUT - CLI_O_INSECURE] =
        "each reply must be complete within S seconds\n"
        "(inside an article, each line restarts it;\n"
        "default 30)",
};

int nntp_cli_own(nntp_cli_t *s, const cli_opt_t *o, const cli_val_t *v) {
  switch (o->id) {
  case 'S':
    s->server = v->str;
    return 0;
  case 'T':
    s->tls = 1;
    return 0;
  default:
    return cli_usage_error("unknown option '--%s'", o->lng);
  }
}

void nntp_cli_common(nntp_cli_t *s, const cli_common_t *co) {
  s->user_spec = co->user; /* a copy: argv's password is already wiped */
  s->cacert = co->cacert;
  s->insecure = co->insecure;
  s->quiet = co->quiet;
  s->verbose = co->verbose;
  s->port_opt = co->port;
  if (co->given & CLI_S(CLI_O_TIMEOUT)) s->timeout_ms = co->timeout_ms;
  s->connect_timeout_ms = co->connect_timeout_ms;
  s->max_time_ms = co->max_time_ms;
  s->proxy_given = cli_proxy_given(co);
  s->retries = co->retries;
  s->retry_delay_ms = co->retry_delay_ms;
}

/* HOST, HOST:PORT, [V6]:PORT, or a bare IPv6 address. */
static int set_server(nntp_cli_t *s, const char *spec, size_t n,
                      const char *what) {
  char buf[sizeof s->host];
  if (!n || n >= sizeof buf)
    return cli_usage_error("bad %s '%.*s': expected HOST[:PORT]", what,
                           (int)(n > 200 ? 200 : n), spec);
  memcpy(buf, spec, n);
  buf[n] = 0;
  char *host = buf, *port = NULL;
  if (buf[0] == '[') {
    char *close = strchr(buf, ']');
    if (!close || (close[1] && close[1] != ':'))
      return cli_usage_error("bad %s '%s': expected [IPV6]:PORT", what, buf);
    *close = 0;
    host = buf + 1;
    if (close[1]) port = close + 2;
  } else {
    char *colon = strchr(buf, ':');
    if (colon && !strchr(colon + 1, ':')) { /* one colon: HOST:PORT */
      *colon = 0;
      port = colon + 1;
    }
  }
  if (port) {
    int p = cli_port(port, 0, "port");
    if (p < 0) return NT_EXIT_USAGE;
    s->port = p;
  }
  struct sockaddr_storage ss;
  socklen_t len;
  const char *why = NULL;
  if (nt_addr_parse(host, 0, &ss, &len) != 0 && nt_hostname_check(host, &why))
    return cli_usage_error("bad %s host '%s': %s", what, host, why);
  snprintf(s->host, sizeof s->host, "%s", host);
  return 0;
}

/* news://HOST[:PORT]/GROUP, nntp://HOST[:PORT]/GROUP[/NUMBER], nntps://...,
 * news:GROUP. Returns 0 with *group set, or an exit code. */
static int parse_url(nntp_cli_t *s, const char *url, const char **group,
                     size_t *glen) {
  const char *rest;
  if (!strncasecmp(url, "nntps://", 8)) {
    s->implicit_tls = 1;
    rest = url + 8;
  } else if (!strncasecmp(url, "news://", 7)) {
    rest = url + 7;
  } else if (!strncasecmp(url, "nntp://", 7)) {
    rest = url + 7;
  } else { /* news:GROUP */
    *group = url + 5;
    *glen = strlen(*group);
    return 0;
  }
  const char *slash = strchr(rest, '/');
  size_t alen = slash ? (size_t)(slash - rest) : strlen(rest);
  if (memchr(rest, '@', alen))
    return cli_usage_error("credentials in the URL are not supported; use -u USER");
  if (alen && !s->server) {
    int rc = set_server(s, rest, alen, "URL server");
    if (rc) return rc;
  }
  if (!slash || !slash[1]) return cli_usage_error("the URL '%s' names no group", url);
  *group = slash + 1;
  const char *num = strchr(*group, '/');
  *glen = num ? (size_t)(num - *group) : strlen(*group);
  if (num) {
    char *end;
    long v = strtol(num + 1, &end, 10);
    if (*end || v <= 0) return cli_usage_error("bad article number in URL '%s'", url);
    s->url_article = (int)v;
  }
  return 0;
}

/* The password: after "USER:", else $NNTPPASS, else the terminal. */
static int credentials(nntp_cli_t *s) {
  if (!s->user_spec) return 0;
  const char *colon = strchr(s->user_spec, ':');
  size_t ulen = colon ? (size_t)(colon - s->user_spec) : strlen(s->user_spec);
  if (!ulen || ulen > 200) return cli_usage_error("bad -u: expected USER[:PASS]");
  s->user = strndup(s->user_spec, ulen);
  const char *env = getenv("NNTPPASS");
  if (colon) {
    s->pass = strdup(colon + 1);
    /* out of the process list too (ps shows argv), as ftp does */
    memset((char *)colon + 1, 'x', strlen(colon + 1));
  } else if (env) {
    s->pass = strdup(env);
  } else {
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
      return cli_usage_error("-u %s: no password (give USER:PASS, set NNTPPASS, "
                             "or run on a terminal)", s->user);
    struct termios old, quiet;
    int fd = fileno(tty), saved = tcgetattr(fd, &old) == 0;
    if (saved) {
      quiet = old;
      quiet.c_lflag &= ~(tcflag_t)ECHO;
      tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fprintf(tty, "Password for %s: ", s->user);
    fflush(tty);
    char buf[256];
    if (!fgets(buf, sizeof buf, tty)) buf[0] = 0;
    if (saved) tcsetattr(fd, TCSAFLUSH, &old);
    fputc('\n', tty);
    fclose(tty);
    buf[strcspn(buf, "\r\n")] = 0;
    s->pass = strdup(buf);
    memset(buf, 0, sizeof buf);
  }
  if (!s->user || !s->pass) {
    cli_error("out of memory");
    return NT_EXIT_INTERNAL;
  }
  if (strpbrk(s->pass, "\r\n") || strlen(s->pass) > 200)
    return cli_usage_error("bad password: it may not contain line breaks");
  return 0;
}

static int settle(nntp_cli_t *s) {
  if (s->server) {
    int rc = set_server(s, s->server, strlen(s->server), "--server");
    if (rc) return rc;
  }
  if (!s->host[0]) {
    const char *env = getenv("NNTPSERVER");
    if (!env || !*env)
      return cli_usage_error("no news server: give --server HOST, a news:// URL, "
                             "or set NNTPSERVER");
    int rc = set_server(s, env, strlen(env), "NNTPSERVER");
    if (rc) return rc;
  }
  if (s->port_opt) s->port = s->port_opt; /* --port wins over HOST:PORT */
  if (s->port == NT_NNTPS_PORT) s->implicit_tls = 1;
  if (!s->port) s->port = s->implicit_tls ? NT_NNTPS_PORT : NT_NNTP_PORT;
  cli_common_t tls_opts = {.insecure = s->insecure, .cacert = s->cacert};
  if (!s->implicit_tls && !s->tls) {
    int rc = cli_opts_tls_check(&tls_opts, 0, "--tls, port 563 or an nntps:// URL");
    if (rc) return rc;
  }
  return credentials(s);
}

int nntp_cli_server(nntp_cli_t *s) {
  int rc = settle(s);
  if (rc) nntp_cli_cleanup(s);
  return rc;
}

int nntp_cli_target(nntp_cli_t *s, const char *arg, char **group) {
  const char *g = arg;
  size_t glen = strlen(arg);
  if (!strncasecmp(arg, "news:", 5) || !strncasecmp(arg, "nntp://", 7) ||
      !strncasecmp(arg, "nntps://", 8)) {
    int rc = parse_url(s, arg, &g, &glen);
    if (rc) return rc;
  }
  *group = strndup(g, glen);
  if (!*group) return NT_EXIT_INTERNAL;
  int rc = nt_nntp_valid_group(*group)
               ? settle(s)
               : cli_usage_error("bad GROUP '%s'", *group);
  if (rc) {
    free(*group);
    *group = NULL;
    nntp_cli_cleanup(s);
  }
  return rc;
}

int nntp_cli_exit(int status) {
  if (status == 0) return NT_EXIT_OK;
  if (status == NT_ENNTP_TLSREQ || status == NT_ENNTP_NOTLS) return NT_EXIT_TLS;
  if (status == NT_ENNTP_BADREPLY) return NT_EXIT_PROTOCOL;
  if (status <= -3500 && status > -3600) return NT_EXIT_REFUSED;
  if (status <= -3200 && status > -3300) return NT_EXIT_TLS;
  switch (status) {
  case NT_ETIMEDOUT:
    return NT_EXIT_TIMEOUT;
  case NT_EUNEXPECTEDEOF:
  case NT_EPROTO:
  case NT_ELINETOOLONG:
  case NT_ETOOBIG:
  case NT_ECONNRESET:
    return NT_EXIT_PROTOCOL;
  case NT_ENOMEM:
    return NT_EXIT_INTERNAL;
  default:
    return cli_exit_for_connect(status);
  }
}

int nntp_cli_transient(int status) {
  switch (status) {
  case NT_ETIMEDOUT:
  case NT_EUNEXPECTEDEOF:
  case NT_ECONNRESET:
  case NT_ECONNREFUSED:
  case NT_ECONNABORTED:
  case NT_EPIPE:
  case NT_ENETUNREACH:
  case NT_EHOSTUNREACH:
    return 1;
  default:
    return 0;
  }
}

unsigned long long nntp_cli_backoff(const nntp_cli_t *s, int n) {
  /* the library's schedule (nettool/backoff.h): jitter, so two clients cut
   * off together do not come back together */
  return nt_backoff_delay(s->retry_delay_ms, 60000, n < 0 ? 0 : (unsigned)n);
}

void nntp_cli_end(nntp_cli_t *s, int exit_code) {
  if (!s->exit_code) s->exit_code = exit_code;
  s->finished = 1;
  if (s->client) nt_nntp_close(s->client);
}

void nntp_cli_fail(nntp_cli_t *s, const char *what, const nt_nntp_result_t *r) {
  if (s->finished) return; /* interrupted, --max-time: already said */
  /* the connection is lost: --retry reconnects (on_closed), the command
   * redoes what was not done */
  if (s->retried < s->retries && nntp_cli_transient(r->status)) {
    if (!s->retry_pending && s->client) nt_nntp_close(s->client);
    s->retry_pending = 1;
    return;
  }
  if (r->code > 0 && r->status <= -3500 && r->status > -3600) {
    const char *hint = "";
    if (r->status == NT_ENNTP_AUTHREQ && !s->user) hint = " (log in with -u USER)";
    const char *t = r->text ? r->text : "";
    cli_error("%s: %d %s%s", what, r->code, cli_text(t, strlen(t)), hint);
  } else if (r->status == NT_ETIMEDOUT && r->code > 0) { /* inside a block */
    cli_error("%s: %s port %d stopped sending: no line for %s (--timeout)", what,
              s->host, s->port, cli_secs(s->timeout_ms));
  } else if (r->status == NT_ETIMEDOUT) {
    cli_error("%s: no answer from %s port %d within %s (--timeout)", what, s->host,
              s->port, cli_secs(s->timeout_ms));
  } else if (r->status == NT_EPROTO && s->client) {
    const char *l = nt_nntp_last_line(s->client);
    cli_error("%s: %s port %d sent a malformed reply: '%s'", what, s->host, s->port,
              cli_text(l, strlen(l)));
  } else {
    cli_error("%s: %s", what, nt_strerror(r->status));
  }
  nntp_cli_end(s, nntp_cli_exit(r->status));
}

/* --- running the session ------------------------------------------------------ */

static void on_ready(nt_nntp_t *c, void *arg) {
  nntp_cli_t *s = arg;
  (void)c;
  if (s->on_ready) s->on_ready(s);
}

static nt_timer_t retry_timer;

static void on_closed(nt_nntp_t *c, int status, void *arg) {
  nntp_cli_t *s = arg;
  s->client = NULL;
  if (s->finished || s->exit_code || s->handed_over) return; /* the command ended it */
  if (!status || (s->retry_pending && !nntp_cli_transient(status)))
    status = NT_EUNEXPECTEDEOF;
  if (s->retried < s->retries && nntp_cli_transient(status)) {
    unsigned long long d = nntp_cli_backoff(s, s->retried);
    s->retried++;
    s->retry_pending = 1;
    cli_error("%s port %d: %s; retrying in %s (%d of %d)", s->host, s->port,
              nt_strerror(status), cli_secs(d), s->retried, s->retries);
    nt_timer_start(&retry_timer, d, 0);
    return;
  }
  nt_nntp_state_t st = nt_nntp_end_state(c);
  int code = nt_nntp_last_code(c);
  const char *tls_why = nt_nntp_tls_error(c);
  const char *reply = nt_nntp_last_reply(c), *line = nt_nntp_last_line(c);
  if (cli_is_dns_error(status)) {
    cli_error("resolve %s: %s", s->host, nt_strerror(status));
  } else if (status <= -3200 && status > -3300) {
    cli_error("TLS with %s port %d failed: %s", s->host, s->port,
              cli_text(tls_why[0] ? tls_why : nt_strerror(status),
                       strlen(tls_why[0] ? tls_why : nt_strerror(status))));
  } else if (status <= -3500 && status > -3600 && code > 0 && status != NT_ENNTP_NOTLS) {
    /* the server's words: a refused greeting (5xx: exit 8), an unknown
     * one (exit 7), a refused set-up step */
    const char *why = st == NT_NNTP_GREETING && status == NT_ENNTP_BADREPLY
                          ? "not an NNTP greeting"
                          : nt_strerror(status);
    cli_error("%s port %d: %s: %d %s", s->host, s->port, why, code,
              cli_text(reply, strlen(reply)));
  } else if (status == NT_EPROTO && line[0]) {
    if (st == NT_NNTP_GREETING)
      cli_error("%s port %d: not an NNTP server: it said '%s'", s->host, s->port,
                cli_text(line, strlen(line)));
    else
      cli_error("%s port %d: malformed reply: '%s'", s->host, s->port,
                cli_text(line, strlen(line)));
  } else if (status == NT_ENNTP_NOTLS) {
    cli_error("%s port %d: %s", s->host, s->port, nt_strerror(status));
  } else if (status == NT_ETIMEDOUT &&
             (st == NT_NNTP_CONNECTING || st == NT_NNTP_TLS_HANDSHAKE)) {
    cli_error("%s %s port %d: not done within %s (--connect-timeout)",
              st == NT_NNTP_CONNECTING ? "connect to" : "TLS with", s->host, s->port,
              cli_secs(s->connect_timeout_ms));
  } else if (status == NT_ETIMEDOUT) {
    cli_error("%s port %d: no %s within %s (--timeout)", s->host, s->port,
              st == NT_NNTP_GREETING ? "greeting" : "answer", cli_secs(s->timeout_ms));
  } else if (status == NT_EUNEXPECTEDEOF) {
    cli_error("%s port %d: the server closed the connection", s->host, s->port);
  } else if (cli_proxy_detail(status)) {
    const char *px = cli_proxy_detail(status);
    cli_error("connect to %s port %d: %s: %s", s->host, s->port, nt_strerror(status),
              cli_text(px, strlen(px)));
  } else if (nntp_cli_exit(status) == NT_EXIT_CONNECT ||
             nntp_cli_exit(status) == NT_EXIT_LOCAL) {
    cli_error("connect to %s port %d: %s", s->host, s->port, nt_strerror(status));
  } else {
    cli_error("%s port %d: %s", s->host, s->port, nt_strerror(status));
  }
  s->exit_code = nntp_cli_exit(status);
}

/* Ctrl-C or SIGTERM: stop at once, whatever is pending (a reply, the
 * greeting, a connect); nt_reactor_close_all then ends the session, and
 * its callbacks, seeing `finished`, say nothing more. */
static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  nntp_cli_t *s = arg;
  (void)signum;
  if (s->finished && s->exit_code) return;
  cli_error("interrupted");
  s->exit_code = NT_EXIT_INTERRUPTED;
  s->finished = 1;
  nt_reactor_stop(r);
}

/* --max-time: the whole command, from the start of the connect. */
static void on_max_time(nt_timer_t *t) {
  nntp_cli_t *s = t->data;
  if (s->finished) return;
  cli_error("%s port %d: not done within %s (--max-time)", s->host, s->port,
            cli_secs(s->max_time_ms));
  s->exit_code = NT_EXIT_TIMEOUT;
  s->finished = 1;
  nt_reactor_stop(s->reactor);
}

/* --retry: the session again, with the same options; on_ready runs again
 * (one session per process: one retry_timer). */
static void on_retry_timer(nt_timer_t *t) {
  nntp_cli_t *s = t->data;
  if (s->finished) return;
  s->retry_pending = 0;
  nt_nntp_callbacks_t cbs = {.ready = on_ready, .closed = on_closed};
  int rc = nt_nntp_connect(s->reactor, s->host, s->port, s->conn_opts, &cbs, s, &s->client);
  if (rc) {
    cli_error("connect to %s port %d: %s", s->host, s->port, nt_strerror(rc));
    nntp_cli_end(s, nntp_cli_exit(rc));
  }
}

int nntp_cli_run(nntp_cli_t *s) {
  nt_tls_ctx_t *ctx = NULL;
  int tls = s->implicit_tls ? NT_NNTP_TLS_IMPLICIT
                            : s->tls ? NT_NNTP_TLS_STARTTLS : NT_NNTP_TLS_NONE;
  if (tls) {
    nt_tls_ctx_options_t o;
    memset(&o, 0, sizeof o);
    o.ca_file = s->cacert;
    o.insecure = s->insecure;
    int rc = nt_tls_ctx_new(&o, &ctx);
    if (rc) {
      cli_error("TLS: %s", nt_tls_last_error());
      return rc == NT_ENOENT || rc == NT_EACCES ? NT_EXIT_FILE : NT_EXIT_TLS;
    }
    if (s->insecure) cli_warn_insecure(NULL);
  }
  if (s->verbose) cli_verbose_on();
  const nt_proxy_t *proxy;
  int rc = cli_proxy_for(s->proxy_given, s->verbose, s->implicit_tls ? "nntps" : "nntp",
                         s->host, &s->proxy, &proxy);
  if (rc) {
    nt_tls_ctx_free(ctx);
    return rc;
  }
  rc = nt_reactor_new(&s->reactor, NULL);
  if (rc) {
    nt_tls_ctx_free(ctx);
    cli_error("cannot start a reactor: %s", nt_strerror(rc));
    return NT_EXIT_INTERNAL;
  }
  nt_nntp_options_t o;
  memset(&o, 0, sizeof o);
  o.user = s->user;
  o.pass = s->pass;
  o.tls = tls;
  o.tls_ctx = ctx;
  if (!s->connect_timeout_ms) s->connect_timeout_ms = s->timeout_ms;
  o.connect_timeout_ms = s->connect_timeout_ms;
  o.timeout_ms = s->timeout_ms;
  o.proxy = proxy;
  o.pipeline = s->pipeline;
  o.no_compress = s->no_compress;
  s->conn_opts = &o;
  nt_nntp_callbacks_t cbs = {.ready = on_ready, .closed = on_closed};
  rc = nt_nntp_connect(s->reactor, s->host, s->port, &o, &cbs, s, &s->client);
  if (rc) {
    cli_error("connect to %s port %d: %s", s->host, s->port, nt_strerror(rc));
    s->exit_code = nntp_cli_exit(rc);
  } else {
    nt_reactor_handle_signals(s->reactor, on_signal, s);
    nt_timer_init(s->reactor, &retry_timer, on_retry_timer);
    retry_timer.data = s;
    nt_timer_t max_timer;
    nt_timer_init(s->reactor, &max_timer, on_max_time);
    max_timer.data = s;
    if (s->max_time_ms) {
      nt_timer_start(&max_timer, s->max_time_ms, 0);
      nt_timer_unref(&max_timer); /* it alone does not keep the loop going */
    }
    rc = nt_reactor_run(s->reactor);
    nt_timer_stop(&max_timer);
    nt_timer_stop(&retry_timer);
    if (s->on_stop) s->on_stop(s);
    if (rc) {
      cli_error("reactor failed: %s", nt_strerror(rc));
      s->exit_code = NT_EXIT_INTERNAL;
    }
  }
  s->finished = 1; /* what close_all ends was the command's, or is said */
  nt_reactor_close_all(s->reactor);
  nt_reactor_free(s->reactor);
  nt_tls_ctx_free(ctx); /* after the connection that used it */
  nntp_cli_cleanup(s);
  return s->exit_code;
}

void nntp_cli_cleanup(nntp_cli_t *s) {
  if (s->pass) memset(s->pass, 0, strlen(s->pass));
  free(s->user);
  free(s->pass);
  s->user = s->pass = NULL;
}
