/* The session plumbing of the ftp-* commands: options, target, credentials,
 * TLS context, connect + login + FEAT + the command's work + QUIT on one
 * reactor, and one clear message with a documented exit code for whatever
 * goes wrong, in the server's own words when it said something. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_proxy.h"
#include "cli_text.h"
#include "cmd_ftp_common.h"
#include "nettool/ftp_transfer.h"
#include "nettool/resolve.h"
#include "nettool/transport.h"

void ftp_cli_init(ftp_cli_t *c) {
  memset(c, 0, sizeof *c);
  c->path_name = "PATH";
}

const char *const ftp_cli_shared_help[CLI_O_END_ - CLI_O_INSECURE] = {
    [CLI_O_PORT - CLI_O_INSECURE] = "server port (default 21; 990 for ftps:// URLs)",
    [CLI_O_USER - CLI_O_INSECURE] =
        "log in as USER (default: the URL's user, else\n"
        "~/.netrc, else anonymous); without :PASS the\n"
        "password comes from ~/.netrc or the terminal.\n"
        "Passwords are never printed.",
    [CLI_O_CACERT - CLI_O_INSECURE] = "trust this CA bundle (PEM) for TLS (needs --tls\n"
                                      "or an ftps:// URL)",
    [CLI_O_VERBOSE - CLI_O_INSECURE] = "show the dialogue on stderr ('> RETR x',\n"
                                       "'< 150 ...'; PASS ****)",
    [CLI_O_CONNECT_TIMEOUT - CLI_O_INSECURE] =
        "resolving, connecting and TLS handshakes (data\n"
        "connections too) in seconds (default: --timeout)",
    [CLI_O_TIMEOUT - CLI_O_INSECURE] =
        "a reply must be complete within S of its command;\n"
        "a data connection may go S without progress\n"
        "(default 30)",
};

int ftp_cli_own(ftp_cli_t *c, const cli_opt_t *o, const cli_val_t *v) {
  switch (o->id) {
  case 'K': { /* seconds, fractions allowed; 0: off */
    char *end;
    double s = strtod(v->str, &end);
    if (end == v->str || *end || !(s >= 0 && s <= 86400))
      return cli_usage_error("bad --keepalive '%s': seconds from 0 (off) to 86400", v->str);
    unsigned long long ms = (unsigned long long)(s * 1000 + 0.5);
    c->keepalive_ms = s == 0 ? ULLONG_MAX : ms ? ms : 1;
    return 0;
  }
  case 'A':
    c->active = 1;
    return 0;
  case 'T':
    c->tls = 1;
    return 0;
  case 'a':
    c->ascii = 1;
    return 0;
  case 'V':
    c->verify = NT_FTP_VERIFY_REQUIRE;
    c->verify_given = 1;
    return 0;
  case 'W':
    c->verify = NT_FTP_VERIFY_NEVER;
    c->verify_given = 1;
    return 0;
  default:
    return cli_usage_error("unknown option '--%s'", o->lng);
  }
}

void ftp_cli_common(ftp_cli_t *c, const cli_common_t *co) {
  c->insecure = co->insecure;
  c->cacert = co->cacert;
  c->quiet = co->quiet;
  c->verbose = co->verbose;
  c->json = co->json;
  c->user_spec = co->user; /* a copy: argv's password is already wiped */
  c->port = co->port;
  c->timeout_ms = co->timeout_ms;
  c->connect_timeout_ms = co->connect_timeout_ms;
  c->max_time_ms = co->max_time_ms;
  c->proxy_given = cli_proxy_given(co);
  c->retries = co->retries;
  c->retry_delay_ms = co->retry_delay_ms;
}

static void copy(char *dst, size_t size, const char *src) {
  snprintf(dst, size, "%s", src);
}

int ftp_cli_target(ftp_cli_t *c, char *arg) {
  if (!strncasecmp(arg, "ftp://", 6) || !strncasecmp(arg, "ftps://", 7)) {
    nt_ftp_url_t u;
    const char *why = "bad URL";
    if (nt_ftp_parse_url(arg, &u, &why)) /* the URL may hold a password: not echoed */
      return cli_usage_error("bad URL: %s", why);
    c->url = 1;
    c->implicit_tls = u.tls;
    copy(c->host, sizeof c->host, u.host);
    copy(c->path, sizeof c->path, u.path);
    if (u.port && !c->port) c->port = u.port;
    if (u.has_user) copy(c->user, sizeof c->user, u.user);
    if (u.has_pass) {
      copy(c->pass, sizeof c->pass, u.pass);
      /* out of the process list (ps shows argv), as -u's is; split as
       * nt_ftp_parse_url splits it: the authority ends at '/' */
      cli_wipe_url_password(arg, "/");
    }
    c->url_user_only = u.has_user && !u.has_pass;
    memset(&u, 0, sizeof u);
  } else {
    if (strlen(arg) >= sizeof c->host) return cli_usage_error("bad HOST: too long");
    struct sockaddr_storage ss;
    socklen_t len;
    const char *why = NULL;
    if (nt_addr_parse(arg, 0, &ss, &len) != 0 && nt_hostname_check(arg, &why))
      return cli_usage_error("bad HOST '%s': %s", arg, why ? why : "not a host name");
    copy(c->host, sizeof c->host, arg);
  }
  if (c->host[0] == '[') { /* "[::1]" as HOST */
    size_t n = strlen(c->host);
    if (n > 2 && c->host[n - 1] == ']') {
      memmove(c->host, c->host + 1, n - 2);
      c->host[n - 2] = 0;
    }
  }
  return 0;
}

/* --- credentials --------------------------------------------------------------- */

/* Reads a password from the terminal without echo. 0 or -1. */
static int prompt_password(const char *user, const char *host, char *out,
                           size_t size) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return -1;
  char msg[600];
  int n = snprintf(msg, sizeof msg, "Password for %s@%s: ", user, host);
  if (n > 0 && write(fd, msg, (size_t)n) < 0) {
    close(fd);
    return -1;
  }
  struct termios old, quiet;
  int have_tc = tcgetattr(fd, &old) == 0;
  if (have_tc) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  size_t got = 0;
  char ch;
  while (got + 1 < size) { /* bounded by size */
    ssize_t r = read(fd, &ch, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || ch == '\n' || ch == '\r') break;
    out[got++] = ch;
  }
  out[got] = 0;
  if (have_tc) tcsetattr(fd, TCSAFLUSH, &old);
  if (write(fd, "\n", 1) < 0) { /* nothing more to do */
  }
  close(fd);
  return 0;
}

static int has_crlf(const char *s) { return strpbrk(s, "\r\n") != NULL; }

static int credentials(ftp_cli_t *c) {
  int need_pass = 0;
  if (c->user_spec) {
    const char *colon = strchr(c->user_spec, ':');
    size_t ul = colon ? (size_t)(colon - c->user_spec) : strlen(c->user_spec);
    if (!ul || ul >= sizeof c->user) return cli_usage_error("bad --user: expected USER[:PASS]");
    memcpy(c->user, c->user_spec, ul);
    c->user[ul] = 0;
    if (colon) {
      if (strlen(colon + 1) >= sizeof c->pass) return cli_usage_error("bad --user: password too long");
      copy(c->pass, sizeof c->pass, colon + 1);
      /* out of the process list too (ps shows argv) */
      memset((char *)colon + 1, 'x', strlen(colon + 1));
    } else {
      need_pass = 1;
    }
  } else if (c->user[0]) {
    need_pass = c->url_user_only;
  } else {
    char l[256], p[256];
    int rc = nt_ftp_netrc_lookup(NULL, c->host, NULL, l, sizeof l, p, sizeof p);
    if (rc == 1) {
      copy(c->user, sizeof c->user, l);
      copy(c->pass, sizeof c->pass, p);
    } else if (rc < 0) {
      cli_error("warning: ~/.netrc ignored: %s", nt_strerror(rc));
    }
    memset(p, 0, sizeof p);
    return 0; /* anonymous when nothing matched */
  }
  if (!need_pass || !strcasecmp(c->user, "anonymous") || !strcasecmp(c->user, "ftp"))
    return 0;
  if (has_crlf(c->user)) return 0; /* refused by the caller */
  char l[256];
  if (nt_ftp_netrc_lookup(NULL, c->host, c->user, l, sizeof l, c->pass, sizeof c->pass) == 1)
    return 0;
  if (prompt_password(c->user, c->host, c->pass, sizeof c->pass) == 0) return 0;
  return cli_usage_error("no password for %s: give -u USER:PASS, a ~/.netrc entry, or run "
                         "on a terminal", c->user);
}

/* --- messages -------------------------------------------------------------------- */

/* The server's words on one line, made safe for a terminal: "550 Failed
 * to open file." (a multi-line reply joined with spaces). */
static const char *server_words(int code, const char *text) {
  static char buf[600];
  char clean[560];
  cli_text_clean(clean, sizeof clean, text, strlen(text), CLI_TEXT_LF_SPACE | CLI_TEXT_TRIM);
  snprintf(buf, sizeof buf, "%d %s", code, clean);
  return buf;
}

int ftp_cli_exit(int status, int local) {
  if (local) return NT_EXIT_FILE;
  if (cli_is_dns_error(status)) return NT_EXIT_RESOLVE;
  if (cli_is_tls_error(status)) return NT_EXIT_TLS;
  if (cli_exit_for_proxy(status)) return cli_exit_for_proxy(status);
  switch (status) {
  case 0:
    return NT_EXIT_OK;
  case NT_EFTP_REPLY:
  case NT_EFTP_LOGIN:
  case NT_EFTP_CLOSED:
    return NT_EXIT_REFUSED;
  case NT_EFTP_NOTLS:
    return NT_EXIT_TLS;
  case NT_ETIMEDOUT:
    return NT_EXIT_TIMEOUT;
  case NT_ECONNREFUSED:
  case NT_ENETUNREACH:
  case NT_EHOSTUNREACH:
    return NT_EXIT_CONNECT;
  case NT_EMFILE:
  case NT_ENOMEM:
  case NT_EADDRNOTAVAIL:
  case NT_EADDRINUSE:
    return NT_EXIT_LOCAL;
  case NT_ECANCELED:
    return FTP_EXIT_INTERRUPTED;
  default:
    return NT_EXIT_PROTOCOL;
  }
}

static const char *why(int status) {
  switch (status) {
  case NT_EUNEXPECTEDEOF:
    return "the server closed the connection unexpectedly";
  case NT_EPROTO:
    return "the server sent something that is not an FTP reply";
  case NT_ELINETOOLONG:
    return "the server sent a reply line over 8 KiB";
  case NT_ETOOBIG:
    return "the server sent a reply over 64 KiB";
  case NT_EFTP_DATA_PEER:
    return "a data connection came from another address than the server's and was "
           "refused; the server's never came";
  default:
    return nt_strerror(status);
  }
}

/* The same for the data connection (a listing's lines, its connection). */
static const char *data_why(int status) {
  if (status == NT_ELINETOOLONG) return "the server sent a listing line over 8 KiB";
  if (status == NT_EUNEXPECTEDEOF) return "the server closed it before the transfer began";
  return why(status);
}

static unsigned long long reply_ms(const ftp_cli_t *c) {
  return c->timeout_ms ? c->timeout_ms : 30000;
}
static unsigned long long connect_ms(const ftp_cli_t *c) {
  return c->connect_timeout_ms ? c->connect_timeout_ms : reply_ms(c);
}

static void mark(ftp_cli_t *c, int code) {
  progress_stop(&c->progress);
  c->reported = 1;
  if (!c->exit_code) c->exit_code = code;
}

void ftp_cli_end(ftp_cli_t *c, int exit_code) {
  if (!c->exit_code) c->exit_code = exit_code;
  if (c->ftp) nt_ftp_close(c->ftp);
}

static int port_of(const ftp_cli_t *c) {
  return c->port ? c->port : c->implicit_tls ? NT_FTPS_PORT : NT_FTP_PORT;
}

/* The user stopped it, or --max-time did: one line, the part file kept.
 * Returns 1 when that was the case. */
static int stopped(ftp_cli_t *c, const char *tail) {
  if (c->out_of_time) {
    mark(c, NT_EXIT_TIMEOUT);
    cli_error("timed out: gave up after %s (--max-time)%s", cli_secs(c->max_time_ms), tail);
    return 1;
  }
  if (c->interrupted) {
    mark(c, FTP_EXIT_INTERRUPTED);
    cli_error("interrupted%s", tail);
    return 1;
  }
  return 0;
}

/* A failure on the data connection of the transfer `what`. */
static void data_failed(ftp_cli_t *c, nt_ftp_where_t where, const char *what, int st,
                        const char *tail) {
  if (st == NT_ETIMEDOUT && where == NT_FTP_WHERE_DATA_CONNECT)
    cli_error("%s: data connection: timed out: no connection within %s "
              "(--connect-timeout)%s", what, cli_secs(connect_ms(c)), tail);
  else if (st == NT_ETIMEDOUT && where == NT_FTP_WHERE_DATA_TLS)
    cli_error("%s: data connection: timed out: no TLS handshake within %s "
              "(--connect-timeout)%s", what, cli_secs(connect_ms(c)), tail);
  else if (st == NT_ETIMEDOUT)
    cli_error("%s: data connection: timed out: no progress for %s (--timeout)%s", what,
              cli_secs(reply_ms(c)), tail);
  else
    cli_error("%s: data connection: %s%s%s", what, data_why(st),
              where == NT_FTP_WHERE_DATA_TLS ? " (during its TLS handshake)" : "", tail);
}

/* What the failure was about: the session's, or the transfer's record. */
static nt_ftp_where_t fail_where(const ftp_cli_t *c) {
  return c->ftp ? nt_ftp_failure_where(c->ftp) : c->xfer_where;
}

void ftp_cli_fail(ftp_cli_t *c, const char *what, const nt_ftp_result_t *r,
                  const char *part) {
  if (c->reported) {
    ftp_cli_end(c, c->exit_code);
    return;
  }
  int st = r->status;
  char tail[PATH_MAX + 128] = "";
  if (part) snprintf(tail, sizeof tail, "; partial file kept in %s (use --resume)", part);
  /* The connection itself failed (TLS, reset, timeout...): the closing
   * callback, which follows at once, says so with the whole context. */
  int replied = st == NT_EFTP_REPLY || st == NT_EFTP_LOGIN || st == NT_EFTP_NOTLS ||
                st == NT_EFTP_CLOSED || st == NT_EFTP_BADREPLY || st == NT_EFTP_SIZE;
  if (!r->local && !replied && c->ftp && !strcmp(nt_ftp_state_name(c->ftp), "CLOSED")) {
    snprintf(c->part_hint, sizeof c->part_hint, "%s", tail);
    snprintf(c->fail_what, sizeof c->fail_what, "%s", what);
    return;
  }
  if (stopped(c, tail)) {
    ftp_cli_end(c, c->exit_code);
    return;
  }
  int code = ftp_cli_exit(st, r->local);
  mark(c, code);
  if (r->local) {
    cli_error("%s: %s%s", r->path[0] ? r->path : what, nt_strerror(st), tail);
  } else if (st == NT_EFTP_SIZE) {
    struct stat pst;
    unsigned long long have = r->bytes;
    if (part && stat(part, &pst) == 0) have = (unsigned long long)pst.st_size;
    if (part && have > r->size) /* --resume cannot fix that */
      snprintf(tail, sizeof tail, "; %s kept: it is larger than the server's file, "
               "remove it to download again", part);
    cli_error("%s: size mismatch: the server's file has %llu bytes, %s %llu%s", what,
              (unsigned long long)r->size, part ? "the part file has" : "this transfer moved",
              have, tail);
  } else if ((st == NT_EFTP_REPLY || st == NT_EFTP_LOGIN) && r->code) {
    cli_error("%s%s", server_words(r->code, r->text), tail);
  } else if (st == NT_EFTP_NOTLS && r->code) {
    cli_error("the server refused TLS: %s", server_words(r->code, r->text));
  } else if (st == NT_EFTP_CLOSED && r->code) {
    cli_error("the server closed the connection: %s%s", server_words(r->code, r->text), tail);
  } else if (st == NT_EFTP_BADREPLY && r->code) {
    cli_error("%s: malformed reply: %s", what, server_words(r->code, r->text));
  } else if (fail_where(c) >= NT_FTP_WHERE_DATA_CONNECT) {
    /* The control connection is fine: it was the data connection. */
    data_failed(c, fail_where(c), what, st, tail);
  } else {
    cli_error("%s: %s%s", what, why(st), tail);
  }
  ftp_cli_end(c, code);
}

/* A limit of the session ran out (nt_ftp_failure_where says which). */
static void session_timed_out(ftp_cli_t *c, nt_ftp_where_t where, const char *tail) {
  int port = port_of(c);
  switch (where) {
  case NT_FTP_WHERE_CONNECT:
    cli_error("connect to %s port %d: timed out: no connection within %s (--connect-timeout%s)",
              c->host, port, cli_secs(connect_ms(c)),
              c->connect_timeout_ms ? "" : ", by default --timeout");
    break;
  case NT_FTP_WHERE_TLS:
    cli_error("TLS with %s port %d: timed out: no handshake within %s (--connect-timeout%s)",
              c->host, port, cli_secs(connect_ms(c)),
              c->connect_timeout_ms ? "" : ", by default --timeout");
    break;
  case NT_FTP_WHERE_DATA_CONNECT:
  case NT_FTP_WHERE_DATA:
  case NT_FTP_WHERE_DATA_TLS:
    data_failed(c, where, c->fail_what[0] ? c->fail_what : c->path, NT_ETIMEDOUT, tail);
    break;
  default:
    if (!c->ready)
      cli_error("%s port %d: connected, but no greeting within %s%s", c->host, port,
                cli_secs(reply_ms(c)),
                c->implicit_tls || c->tls ? " (--timeout)"
                                          : " (an implicit-TLS port? try ftps://)");
    else
      cli_error("%s port %d: timed out: no complete reply within %s (--timeout)%s", c->host,
                port, cli_secs(reply_ms(c)), tail);
  }
}

/* --- the session ------------------------------------------------------------------- */

uint64_t ftp_cli_bytes(void *arg) {
  ftp_cli_t *c = arg;
  return c->ftp ? nt_ftp_xfer_bytes(c->ftp) : 0;
}

uint64_t ftp_cli_total(void *arg) {
  ftp_cli_t *c = arg;
  return c->ftp ? nt_ftp_xfer_size(c->ftp) : UINT64_MAX;
}

/* The session itself failed (status): one line saying what and where,
 * the exit code for it. code/text: the last reply. */
static void session_failed(ftp_cli_t *c, int status, nt_ftp_where_t where, int code,
                           const char *text, const char *tail) {
  int exit_code = ftp_cli_exit(status, 0);
  mark(c, exit_code);
  const char *words = server_words(code, text);
  int port = port_of(c);
  if (cli_proxy_detail(status)) {
    c->exit_code = cli_exit_for_proxy(status);
    cli_error("%s port %d%s: %s: %s%s", c->host, port,
              where == NT_FTP_WHERE_DATA || where == NT_FTP_WHERE_DATA_CONNECT
                  ? " (data connection)" : "",
              nt_strerror(status), cli_text(cli_proxy_detail(status), strlen(cli_proxy_detail(status))), tail);
  } else if (cli_is_dns_error(status)) {
    cli_error("resolve %s: %s", c->host, nt_strerror(status));
  } else if (status == NT_ETIMEDOUT) {
    session_timed_out(c, where, tail);
  } else if (where == NT_FTP_WHERE_DATA || where == NT_FTP_WHERE_DATA_TLS) {
    data_failed(c, where, c->fail_what[0] ? c->fail_what : c->path, status, tail);
  } else if (cli_is_tls_error(status)) {
    const char *reason = nt_tls_last_error();
    cli_error("TLS with %s port %d failed: %s%s", c->host, port,
              reason && *reason ? cli_text(reason, strlen(reason)) : nt_strerror(status), tail);
  } else if (status == NT_EFTP_NOTLS) {
    cli_error("the server refused TLS: %s", words);
  } else if (status == NT_EFTP_CLOSED) {
    cli_error("the server closed the connection: %s%s", words, tail);
  } else if (status == NT_EFTP_REPLY) {
    cli_error("%s", words);
  } else if (!c->connected) { /* the control connection never came up */
    cli_error("connect to %s port %d: %s", c->host, port, nt_strerror(status));
    if (exit_code == NT_EXIT_PROTOCOL) c->exit_code = NT_EXIT_CONNECT;
  } else { /* connected: whatever the server sent is a protocol matter */
    cli_error("%s port %d: %s%s", c->host, port, why(status), tail);
  }
}

static void on_closed(nt_ftp_t *f, void *arg, int status) {
  ftp_cli_t *c = arg;
  c->ftp = NULL;
  nt_timer_stop(&c->max_timer);
  progress_stop(&c->progress);
  if (!status || c->reported) {
    if (status && !c->exit_code) c->exit_code = ftp_cli_exit(status, 0);
    return;
  }
  const char *tail = c->part_hint;
  if (stopped(c, tail)) return;
  session_failed(c, status, nt_ftp_failure_where(f), nt_ftp_last_code(f),
                 nt_ftp_last_reply(f), tail);
}

static void on_connected(nt_ftp_t *f, void *arg) {
  (void)f;
  ((ftp_cli_t *)arg)->connected = 1;
}

static void on_ready(nt_ftp_t *f, void *arg) {
  (void)f;
  ((ftp_cli_t *)arg)->ready = 1;
}

static void login_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *r) {
  ftp_cli_t *c = arg;
  (void)f;
  if (r->status) ftp_cli_fail(c, "login", r, NULL);
}

static void utf8_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *r) {
  (void)f, (void)arg, (void)r; /* best effort */
}

static void feat_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *r) {
  ftp_cli_t *c = arg;
  if (c->reported || !c->ftp) return;
  if (r->status) {
    ftp_cli_fail(c, "FEAT", r, NULL);
    return;
  }
  if (nt_ftp_features(f) & NT_FTP_FEAT_UTF8) nt_ftp_utf8(f, utf8_done, c);
  c->work(c);
}

/* SIGINT/SIGTERM, or --max-time: the session is aborted at once (whatever
 * it waits for); the callbacks that follow say so in one line. */
static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  ftp_cli_t *c = arg;
  (void)r, (void)signum;
  if (c->interrupted || c->out_of_time) return;
  c->interrupted = 1;
  if (!c->exit_code) c->exit_code = FTP_EXIT_INTERRUPTED;
  if (c->xfer) nt_ftp_transfer_cancel(c->xfer);
  else if (c->ftp) nt_ftp_abort(c->ftp);
}

static void max_time_cb(nt_timer_t *t) {
  ftp_cli_t *c = t->data;
  if (c->interrupted || c->out_of_time) return;
  c->out_of_time = 1;
  if (!c->exit_code) c->exit_code = NT_EXIT_TIMEOUT;
  if (c->xfer) nt_ftp_transfer_cancel(c->xfer);
  else if (c->ftp) nt_ftp_abort(c->ftp);
}

/* --- files: the library's nt_ftp_transfer (--retry, checksums) ------------- */

static uint64_t xfer_bytes(void *arg) {
  ftp_cli_t *c = arg;
  if (!c->xfer) return 0;
  nt_ftp_transfer_info_t i;
  nt_ftp_transfer_info(c->xfer, &i);
  return i.offset;
}

static uint64_t xfer_total(void *arg) {
  ftp_cli_t *c = arg;
  if (!c->xfer) return UINT64_MAX;
  nt_ftp_transfer_info_t i;
  nt_ftp_transfer_info(c->xfer, &i);
  return i.size;
}

static void xfer_session(nt_ftp_transfer_t *t, nt_ftp_t *f, void *arg) {
  (void)t;
  ftp_cli_t *c = arg;
  c->ftp = f;
  c->connected = 1;
}

static void xfer_retry(nt_ftp_transfer_t *t, int err, const nt_ftp_result_t *res,
                       uint64_t delay, uint64_t at, void *arg) {
  (void)t;
  ftp_cli_t *c = arg;
  c->ftp = NULL;
  if (c->quiet) return;
  char from[64] = "";
  if (at) snprintf(from, sizeof from, ", continuing at byte %llu", (unsigned long long)at);
  fprintf(stderr, "%s: %s, retrying in %s%s\n", cli_text(c->path, strlen(c->path)),
          res && res->code ? server_words(res->code, res->text) : nt_strerror(err),
          cli_secs(delay), from);
}

static void xfer_done(nt_ftp_transfer_t *t, const nt_ftp_result_t *res, void *arg) {
  ftp_cli_t *c = arg;
  nt_ftp_transfer_info_t i;
  nt_ftp_transfer_info(t, &i);
  c->ftp = NULL;
  c->xfer = NULL;
  nt_timer_stop(&c->max_timer);
  progress_stop(&c->progress);
  c->json_bytes = (int64_t)i.moved;
  c->json_status = res->code;
  const char *part = !c->xfer_upload && res->path && access(res->path, F_OK) == 0 &&
                             strlen(res->path) > 5 &&
                             !strcmp(res->path + strlen(res->path) - 5, ".part")
                         ? res->path
                         : NULL;
  if (res->status == NT_EDIGEST) {
    mark(c, NT_EXIT_INTEGRITY);
    c->reported = 1;
    cli_error("%s: checksum mismatch: the %s of %s differs from the server's (%s)%s%s",
              c->path, i.verified[0] ? i.verified : "digest",
              c->xfer_upload ? "file sent" : "file received",
              server_words(res->code, res->text), part ? "; kept in " : "",
              part ? part : "");
    return;
  }
  c->xfer_where = i.where;
  if (res->status == NT_ENOTSUP && c->verify == NT_FTP_VERIFY_REQUIRE) {
    mark(c, NT_EXIT_REFUSED);
    c->reported = 1;
    cli_error("%s: --verify: the server offers no checksum command (FEAT has no "
              "HASH, XSHA256, XSHA1, XMD5 or XCRC)%s%s", c->path,
              part ? "; the file is in " : "", part ? part : "");
    return;
  }
  int replied = res->status == NT_EFTP_REPLY || res->status == NT_EFTP_LOGIN ||
                res->status == NT_EFTP_NOTLS || res->status == NT_EFTP_CLOSED ||
                res->status == NT_EFTP_BADREPLY || res->status == NT_EFTP_SIZE;
  if (res->status && i.session_lost && !res->local && !replied) {
    /* the session broke (connection, TLS, a limit): said as on_closed
     * says it for a single session */
    char tail[PATH_MAX + 128] = "";
    if (part) snprintf(tail, sizeof tail, "; partial file kept in %s (use --resume)", part);
    if (stopped(c, tail)) return;
    c->connected = i.connected;
    c->ready = i.greeted;
    session_failed(c, res->status, i.where, res->code, res->text, tail);
    return;
  }
  if (res->status) {
    ftp_cli_fail(c, c->path, res, part);
    return;
  }
  if (c->verbose && i.verified[0])
    fprintf(stderr, "verified: %s\n", i.verified);
  if (!c->quiet && isatty(STDERR_FILENO))
    fprintf(stderr, "%s: %llu bytes%s\n", c->xfer_local,
            (unsigned long long)(i.size != UINT64_MAX ? i.size : i.offset),
            i.retries ? " (after retries)" : "");
  mark(c, NT_EXIT_OK);
}

/* Starts the transfer: 0, or the exit code (message printed). */
static int start_transfer(ftp_cli_t *c, const nt_ftp_options_t *o) {
  nt_ftp_transfer_options_t to;
  memset(&to, 0, sizeof to);
  to.host = c->host;
  to.port = port_of(c);
  to.session = o; /* copied by nt_ftp_transfer_start */
  to.user = c->user[0] ? c->user : NULL;
  to.password = c->pass;
  to.remote = c->path;
  to.local = c->xfer_local;
  to.upload = c->xfer_upload;
  to.ascii = c->ascii;
  to.resume = c->xfer_resume;
  to.max_retries = c->retries;
  to.retry_delay_ms = c->retry_delay_ms;
  to.verify = (nt_ftp_verify_t)c->verify;
  static const nt_ftp_transfer_callbacks_t cbs = {
      .on_session = xfer_session,
      .on_retry = xfer_retry,
      .on_done = xfer_done,
  };
  int rc = nt_ftp_transfer_start(c->reactor, &to, &cbs, c, &c->xfer);
  if (rc) {
    cli_error("%s: %s", c->xfer_upload ? c->xfer_local : c->path, nt_strerror(rc));
    return rc == NT_EINVAL ? NT_EXIT_USAGE : NT_EXIT_FILE;
  }
  progress_start(&c->progress, c->reactor, !c->quiet, xfer_bytes, xfer_total, c);
  return 0;
}

static int tls_setup(ftp_cli_t *c) {
  nt_tls_ctx_options_t o;
  memset(&o, 0, sizeof o);
  o.ca_file = c->cacert;
  o.insecure = c->insecure;
  int rc = nt_tls_ctx_new(&o, &c->tls_ctx);
  if (rc) {
    cli_error("TLS setup: %s", nt_tls_last_error());
    return rc == NT_ENOENT ? NT_EXIT_FILE : NT_EXIT_TLS;
  }
  return 0;
}

static int run(ftp_cli_t *c) {
  if (c->verbose) cli_verbose_on();
  cli_common_t tls_opts = {.insecure = c->insecure, .cacert = c->cacert};
  int trc = cli_opts_tls_check(&tls_opts, c->tls || c->implicit_tls,
                               "--tls or an ftps:// URL");
  if (trc) return trc;
  /* FTP commands are lines: a CR or LF would end one and start another. */
  if (has_crlf(c->path)) return cli_usage_error("bad %s: a CR or LF in it", c->path_name);
  if (strlen(c->path) > 900) return cli_usage_error("%s too long", c->path_name);
  const nt_proxy_t *proxy;
  int rc = cli_proxy_for(c->proxy_given, c->verbose, c->implicit_tls ? "ftps" : "ftp",
                         c->host, &c->proxy, &proxy);
  if (rc) return rc;
  if (proxy && c->active)
    return cli_usage_error("--active cannot work through a proxy (the server "
                           "cannot connect back through it); drop --active");
  rc = credentials(c);
  if (rc) return rc;
  if (has_crlf(c->user) || has_crlf(c->pass)) {
    memset(c->pass, 0, sizeof c->pass);
    return cli_usage_error("bad --user: a CR or LF in the user name or password");
  }
  rc = nt_reactor_new(&c->reactor, NULL);
  if (rc) {
    cli_error("cannot start a reactor: %s", nt_strerror(rc));
    return NT_EXIT_INTERNAL;
  }
  if (c->tls || c->implicit_tls) {
    rc = tls_setup(c);
    if (rc) {
      nt_reactor_free(c->reactor);
      return rc;
    }
  }
  nt_ftp_options_t o;
  memset(&o, 0, sizeof o);
  o.active = c->active;
  o.tls = c->implicit_tls ? NT_FTP_TLS_IMPLICIT : c->tls ? NT_FTP_TLS_EXPLICIT : NT_FTP_TLS_NONE;
  o.tls_ctx = c->tls_ctx;
  o.connect_timeout_ms = connect_ms(c);
  o.reply_timeout_ms = reply_ms(c);
  o.data_timeout_ms = reply_ms(c);
  o.keepalive_ms = c->keepalive_ms == ULLONG_MAX ? NT_FTP_KEEPALIVE_OFF : c->keepalive_ms;
  o.proxy = proxy;
  nt_timer_init(c->reactor, &c->max_timer, max_time_cb);
  c->max_timer.data = c;
  nt_timer_unref(&c->max_timer); /* the session keeps the loop alive, not this */
  if (c->max_time_ms) nt_timer_start(&c->max_timer, c->max_time_ms, 0);
  if (c->xfer_local) { /* a file: retried (--retry) and checked (checksum) */
    rc = start_transfer(c, &o);
    memset(c->pass, 0, sizeof c->pass);
    if (rc) {
      nt_timer_stop(&c->max_timer);
      nt_tls_ctx_free(c->tls_ctx);
      nt_reactor_free(c->reactor);
      return rc;
    }
    goto loop;
  }
  nt_ftp_callbacks_t cbs = {.connected = on_connected, .ready = on_ready, .closed = on_closed};
  rc = nt_ftp_connect(c->reactor, c->host, port_of(c), &o, &cbs, c, &c->ftp);
  if (rc) {
    nt_timer_stop(&c->max_timer);
    cli_error("connect to %s port %d: %s", c->host, port_of(c), nt_strerror(rc));
    nt_tls_ctx_free(c->tls_ctx);
    nt_reactor_free(c->reactor);
    return cli_exit_for_connect(rc);
  }
  /* Queued now, run once the greeting (and TLS) is done. A login that
   * cannot even be queued ends the session: no command runs without it. */
  rc = nt_ftp_login(c->ftp, c->user[0] ? c->user : NULL, c->pass, login_done, c);
  memset(c->pass, 0, sizeof c->pass);
  if (rc) {
    cli_error("login: %s", nt_strerror(rc));
    c->reported = 1;
    ftp_cli_end(c, NT_EXIT_INTERNAL);
  } else {
    nt_ftp_feat(c->ftp, feat_done, c);
  }
loop:
  nt_reactor_handle_signals(c->reactor, on_signal, c);
  rc = nt_reactor_run(c->reactor);
  nt_timer_stop(&c->max_timer);
  progress_stop(&c->progress);
  nt_reactor_close_all(c->reactor);
  nt_tls_ctx_free(c->tls_ctx);
  nt_reactor_free(c->reactor);
  if (rc) {
    cli_error("reactor failed: %s", nt_strerror(rc));
    return NT_EXIT_INTERNAL;
  }
  return c->exit_code;
}

/* --json: the transfer's object; the file's SHA-256 once it is whole. */
static void print_json(ftp_cli_t *c, int code, double t0) {
  cli_json_xfer_t x;
  char hex[65] = "";
  cli_json_xfer_init(&x, cli_cmd);
  x.host = c->host;
  x.port = port_of(c);
  x.path = c->path;
  x.file = c->json_file;
  x.status = c->json_status ? c->json_status : -1;
  x.exit_code = code;
  x.bytes = c->json_bytes;
  x.seconds = cli_now() - t0;
  x.error = code && cli_last_error[0] ? cli_last_error : NULL;
  if (c->sha256 && code == NT_EXIT_OK && c->json_file &&
      strcmp(c->json_file, "-") && cli_sha256_file(c->json_file, hex) == 0)
    x.sha256 = hex;
  cli_json_print(&x);
}

int ftp_cli_run(ftp_cli_t *c) {
  double t0 = cli_now();
  c->json_bytes = -1;
  cli_last_error[0] = 0;
  int code = run(c);
  if (c->json) print_json(c, code, t0);
  return code;
}
