/* http-upload and http-get: common options, one request on a reactor, the
 * output (stdout, or OUT.part renamed to OUT on success), exit codes. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_proxy.h"
#include "cli_text.h"
#include "cmd_http_common.h"
#include "nettool/http.h"
#include "nettool/http_download.h"

void http_cli_init(http_cli_t *h) {
  memset(h, 0, sizeof *h);
  h->idle_ms = 30000;
  h->max_redirs = -2;
  h->out_fd = -1;
}

const char *const http_cli_shared_help[CLI_O_END_ - CLI_O_INSECURE] = {
    [CLI_O_TIMEOUT - CLI_O_INSECURE] = "the wait for the server, as in every command:\n"
                                       "here --idle-timeout's other name",
    [CLI_O_CONNECT_TIMEOUT - CLI_O_INSECURE] =
        "each connection (DNS, TCP, TLS handshake) within\n"
        "S seconds (default: the idle timeout)",
    [CLI_O_MAX_TIME - CLI_O_INSECURE] =
        "give up after S seconds in all, retries included\n"
        "(default: none)",
    [CLI_O_USER - CLI_O_INSECURE] =
        "Basic authentication (never sent to another host\n"
        "after a redirect, never printed, hidden from ps)",
    [CLI_O_VERBOSE - CLI_O_INSECURE] =
        "show each request head sent ('> ', credentials\n"
        "masked) and the response head ('< ') on stderr",
};

int http_cli_own(void *ctx, const cli_opt_t *o, const cli_val_t *v) {
  http_cli_t *h = ctx;
  const char *arg = v->str;
  switch (o->id) {
  case 'H':
    if (h->nheaders >= HTTP_MAX_HEADERS)
      return cli_usage_error("too many -H headers (at most %d)",
                             HTTP_MAX_HEADERS);
    if (!strchr(arg, ':') || arg[0] == ':' || strpbrk(arg, "\r\n"))
      return cli_usage_error("bad header '%s': expected 'Name: value'", arg);
    if (cli_header_is_secret(arg)) {
      /* a credential: its value leaves argv (ps shows it), as -u's does */
      char *value = strchr(arg, ':') + 1;
      value += strspn(value, " \t");
      arg = cli_keep_secret((char *)arg, value);
      if (!arg) {
        cli_error("out of memory");
        return NT_EXIT_INTERNAL;
      }
    }
    h->headers[h->nheaders++] = arg;
    return 0;
  case 'o':
    h->out_path = arg;
    return 0;
  case 'I':
    h->idle_ms = v->ms;
    h->idle_given = 1;
    h->idle_name = "--idle-timeout";
    return 0;
  case 'N':
    h->connect_ms = v->ms;
    h->connect_given = 1;
    return 0;
  case 'R':
    h->max_redirs = (int)v->num;
    return 0;
  case 'Z':
    h->sha256 = 1;
    return 0;
  case 'V':
    h->no_verify = 1;
    return 0;
  default:
    return cli_usage_error("unknown option '--%s'", o->lng);
  }
}

void http_cli_common(http_cli_t *h, cli_common_t *co) {
  h->common = *co;
  co->user = NULL; /* h->common owns it now */
  h->insecure = co->insecure;
  h->cacert = co->cacert;
  h->quiet = co->quiet;
  h->verbose = co->verbose;
  h->json = co->json;
  h->userpass = h->common.user; /* already wiped from argv */
  h->retries = co->retries;
  h->retry_delay_ms = co->retry_delay_ms;
  /* --timeout is the wait for the peer in every command (DESIGN.md): for
   * HTTP that is the idle limit, as wget's -T is; --idle-timeout wins
   * when both are given. */
  if (co->given & CLI_S(CLI_O_TIMEOUT) && !h->idle_given) {
    h->idle_ms = co->timeout_ms;
    h->idle_name = "--timeout";
  }
  if (co->given & CLI_S(CLI_O_MAX_TIME)) h->timeout_ms = co->max_time_ms;
  if (co->given & CLI_S(CLI_O_CONNECT_TIMEOUT)) {
    h->connect_ms = co->connect_timeout_ms;
    h->connect_given = 1;
  }
}

/* --- secrets on the command line ------------------------------------------ */

/* A copy of an argv string, whose password part (NULL: none) is then
 * overwritten in argv itself: ps and /proc/PID/cmdline show argv (nettool
 * ftp does the same). 0 or -1 (no memory). */
static int take_secret(const char **arg, char **copy, char *pass,
                       size_t len) {
  *copy = strdup(*arg);
  if (!*copy) return -1;
  if (pass) memset(pass, 'x', len);
  *arg = *copy;
  return 0;
}

/* -u USER:PASS and http://USER:PASS@HOST/ leave argv before anything
 * slow (DNS, connect) runs. */
static int hide_secrets(http_cli_t *h) {
  if (h->userpass) {
    char *colon = strchr((char *)h->userpass, ':');
    if (take_secret(&h->userpass, &h->userpass_copy, colon ? colon + 1 : NULL,
                    colon ? strlen(colon + 1) : 0))
      return -1;
  }
  if (h->url) {
    size_t len = 0;
    char *pass = cli_url_password((char *)h->url, "/?#", &len); /* nt_url_parse's split */
    if (take_secret(&h->url, &h->url_copy, pass, len)) return -1;
  }
  return 0;
}

static void free_secret(char **s) {
  if (!*s) return;
  memset(*s, 0, strlen(*s));
  free(*s);
  *s = NULL;
}

/* --- output --------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int open_output(http_cli_t *h) {
  struct stat st;
  if (!strcmp(h->out_path, "-")) {
    h->out_fd = dup(STDOUT_FILENO);
    return h->out_fd < 0 ? -errno : 0;
  }
  if (stat(h->out_path, &st) == 0 && !S_ISREG(st.st_mode)) {
    /* /dev/null, a FIFO, a terminal: written as it is, never renamed over */
    h->out_fd = open(h->out_path, O_WRONLY | O_CLOEXEC);
    if (h->out_fd < 0) h->out_errno = errno;
    return h->out_fd < 0 ? -errno : 0;
  }
  size_t n = strlen(h->out_path) + 6;
  h->part_path = malloc(n);
  if (!h->part_path) return NT_ENOMEM;
  snprintf(h->part_path, n, "%s.part", h->out_path);
  h->out_fd =
      open(h->part_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (h->out_fd < 0) {
    h->out_errno = errno;
    return -errno;
  }
  return 0;
}

/* --- request callbacks ---------------------------------------------------- */

/* The response head as text, "HTTP/1.1 200 OK\r\n" and the fields, then
 * an empty line (curl -i's format); malloc'ed. The fields cannot hold CR
 * or LF (the parser refuses them). */
static char *head_text(http_cli_t *h, const nt_http_response_t *r) {
  size_t cap = 64 + strlen(h->reason);
  for (size_t i = 0; i < r->nheaders; i++)
    cap += strlen(r->headers[i].name) + strlen(r->headers[i].value) + 4;
  char *s = malloc(cap);
  if (!s) return NULL;
  size_t n = (size_t)snprintf(s, cap, "HTTP/%d.%d %d %s\r\n", r->version_major,
                              r->version_minor, r->status, h->reason);
  for (size_t i = 0; i < r->nheaders; i++)
    n += (size_t)snprintf(s + n, cap - n, "%s: %s\r\n", r->headers[i].name,
                          r->headers[i].value);
  snprintf(s + n, cap - n, "\r\n");
  return s;
}

/* -v: the head on stderr, one "< " line each, through cli_text. */
static void show_head(http_cli_t *h, const nt_http_response_t *r, FILE *out,
                      const char *prefix, int clean) {
  (void)clean;
  fprintf(out, "%sHTTP/%d.%d %d %s\n", prefix, r->version_major,
          r->version_minor, r->status, h->reason);
  for (size_t i = 0; i < r->nheaders; i++) {
    const char *nm = r->headers[i].name, *v = r->headers[i].value;
    fprintf(out, "%s%s: ", prefix, cli_text(nm, strlen(nm)));
    fprintf(out, "%s\n", cli_text(v, strlen(v)));
  }
  fprintf(out, "%s\n", prefix);
}

/* -D FILE: the head of the final response ("-": stdout). */
static int dump_head(http_cli_t *h, const nt_http_response_t *r) {
  char *head = head_text(h, r);
  if (!head) {
    h->out_errno = ENOMEM;
    return -1;
  }
  int fd = !strcmp(h->dump_path, "-")
               ? dup(STDOUT_FILENO)
               : open(h->dump_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                      0666);
  int rc = fd < 0 ? -errno : write_all(fd, head, strlen(head));
  if (fd >= 0 && close(fd) != 0 && !rc) rc = -errno;
  free(head);
  if (rc) {
    h->dump_errno = -rc;
    return -1;
  }
  return 0;
}

/* What every answer's head shows (status line, -v, -D): 0, or -1 when
 * the transfer must stop (-D could not be written). */
static int show_response(http_cli_t *h, const nt_http_response_t *r) {
  h->http_status = r->status;
  /* The reason phrase is the server's text: it reaches the terminal only
   * through cli_text (no ESC, OSC, C1...). */
  cli_text_clean(h->reason, sizeof h->reason, r->reason, strlen(r->reason),
                 CLI_TEXT_LF_SPACE | CLI_TEXT_TRIM);
  snprintf(h->final_url, sizeof h->final_url, "%s", r->url);
  if (h->verbose) {
    http_progress_clear(h);
    show_head(h, r, stderr, "< ", 1);
  } else if (!h->quiet) {
    http_progress_clear(h);
    fprintf(stderr, "HTTP/%d.%d %d %s\n", r->version_major, r->version_minor,
            r->status, h->reason);
  }
  if (h->dump_path && dump_head(h, r)) return -1;
  return 0;
}

static void on_response(nt_http_request_t *q, const nt_http_response_t *r,
                        void *arg) {
  http_cli_t *h = arg;
  if (show_response(h, r)) {
    nt_http_request_cancel(q);
    return;
  }
  if (h->out_path) {
    if (r->status < 200 || r->status > 299) {
      h->discard = 1; /* an error page never replaces OUT */
      return;
    }
    int rc = open_output(h);
    if (rc) {
      nt_http_request_cancel(q);
      return;
    }
  }
  if (h->include_headers) { /* -i, --head: the head goes where the body goes */
    char *head = head_text(h, r);
    int fd = h->out_path ? h->out_fd : STDOUT_FILENO;
    int wrc = head ? write_all(fd, head, strlen(head)) : NT_ENOMEM;
    if (wrc) {
      h->out_errno = wrc == NT_ENOMEM ? ENOMEM : -wrc;
      nt_http_request_cancel(q);
    }
    free(head);
  }
}

static int on_body(nt_http_request_t *q, const char *data, size_t len,
                   void *arg) {
  (void)q;
  http_cli_t *h = arg;
  h->body_bytes += len;
  cli_sha256_update(h->sha, data, len);
  if (h->discard) return 0;
  int fd = h->out_path ? h->out_fd : STDOUT_FILENO;
  if (fd < 0) return NT_EBADF;
  int rc = write_all(fd, data, len);
  if (rc) h->out_errno = -rc;
  else if (h->out_path) h->out_bytes += len;
  return rc;
}

static void on_redirect(nt_http_request_t *q, int status, const char *to,
                        void *arg) {
  (void)q;
  http_cli_t *h = arg;
  if (h->verbose) {
    http_progress_clear(h);
    fprintf(stderr, "< HTTP %d, following Location: %s\n", status,
            cli_text(to, strlen(to)));
  } else if (!h->quiet) {
    http_progress_clear(h);
    fprintf(stderr, "redirected (%d) to %s\n", status, cli_text(to, strlen(to)));
  }
  /* The redirect may lead from http to https: -k then matters, and says
   * so once, like for an https URL given on the command line. */
  if (h->insecure && !h->warned_insecure && !strncmp(to, "https://", 8)) {
    http_progress_clear(h);
    cli_warn_insecure(" (redirected to https)");
    h->warned_insecure = 1;
  }
}

static void on_retry(nt_http_request_t *q, int what, uint64_t delay,
                     void *arg) {
  http_cli_t *h = arg;
  if (h->quiet) return;
  http_progress_clear(h);
  if (what > 0)
    fprintf(stderr, "got %d, retrying in %s\n", what, cli_secs(delay));
  else {
    const char *e = nt_http_request_error(q);
    if (what == NT_ETIMEDOUT && *e) /* the limit says it better */
      fprintf(stderr, "timed out: %s, retrying in %s\n", cli_text(e, strlen(e)),
              cli_secs(delay));
    else
      fprintf(stderr, "%s%s%s, retrying in %s\n", nt_strerror(what),
              *e ? ": " : "", cli_text(e, strlen(e)), cli_secs(delay));
  }
}

static void on_done(nt_http_request_t *q, int status, void *arg) {
  http_cli_t *h = arg;
  nt_http_progress_t p;
  nt_http_request_progress(q, &p);
  h->done = 1;
  h->status = status;
  h->connected = p.connected;
  h->body_error = p.body_error;
  h->limit = p.limit;
  h->sent_bytes = p.sent;
  snprintf(h->error, sizeof h->error, "%s", nt_http_request_error(q));
  /* Errors name the target that failed, after redirects. */
  snprintf(h->final_url, sizeof h->final_url, "%s", nt_http_request_url(q));
  h->req = NULL;
  nt_reactor_stop(h->reactor);
}

/* --- -o OUT: the resumable download ---------------------------------------- */

static void dl_on_response(nt_http_download_t *d, const nt_http_response_t *r,
                           void *arg) {
  http_cli_t *h = arg;
  if (show_response(h, r)) nt_http_download_cancel(d);
}

static void dl_on_redirect(nt_http_download_t *d, int status, const char *to,
                           void *arg) {
  (void)d;
  on_redirect(NULL, status, to, arg);
}

static void dl_on_retry(nt_http_download_t *d, int what, uint64_t delay,
                        uint64_t resume_at, void *arg) {
  http_cli_t *h = arg;
  if (h->quiet) return;
  http_progress_clear(h);
  char from[64] = "";
  if (resume_at)
    snprintf(from, sizeof from, ", resuming at byte %llu",
             (unsigned long long)resume_at);
  if (what > 0) {
    fprintf(stderr, "got %d, retrying in %s%s\n", what, cli_secs(delay), from);
    return;
  }
  const char *e = nt_http_download_error(d);
  fprintf(stderr, "%s%s%s, retrying in %s%s\n", nt_strerror(what),
          *e ? ": " : "", cli_text(e, strlen(e)), cli_secs(delay), from);
}

static void dl_on_done(nt_http_download_t *d, int status, void *arg) {
  http_cli_t *h = arg;
  nt_http_download_info_t i;
  nt_http_download_info(d, &i);
  h->done = 1;
  h->status = status;
  h->http_status = i.http_status;
  h->connected = i.request.connected;
  h->limit = i.request.limit;
  h->body_bytes = i.received;
  h->out_bytes = i.offset;
  h->dl_local = i.local;
  snprintf(h->verified, sizeof h->verified, "%s", i.verified);
  snprintf(h->error, sizeof h->error, "%s", nt_http_download_error(d));
  snprintf(h->final_url, sizeof h->final_url, "%s", nt_http_download_url(d));
  if ((status || i.http_status < 200 || i.http_status > 299) && i.offset) {
    const char *part = nt_http_download_part_path(d);
    snprintf(h->part_note, sizeof h->part_note,
             status == NT_EDIGEST
                 ? "; the download is kept in %s"
                 : "; partial download kept in %s (the same command "
                   "continues it)",
             part);
  }
  if (!h->quiet && h->verbose && i.verified[0])
    fprintf(stderr, "verified: %s\n", i.verified);
  h->dl = NULL;
  nt_reactor_stop(h->reactor);
}

static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  (void)r;
  (void)signum;
  http_cli_t *h = arg;
  h->interrupted = 1;
  if (h->req) nt_http_request_cancel(h->req);
  if (h->dl) nt_http_download_cancel(h->dl);
}

/* --- exit codes and messages ---------------------------------------------- */

/* One error line; the note about a kept partial download ends it. */
__attribute__((format(printf, 2, 3))) static void fail_line(http_cli_t *h,
                                                            const char *fmt,
                                                            ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  cli_error("%s%s", buf, h->part_note);
}

/* Host and port of the target that failed (after redirects). */
static void host_of(const char *url, char *host, size_t size, int *port) {
  nt_url_t u;
  *port = 0;
  snprintf(host, size, "?");
  if (nt_url_parse(url, &u) == 0) {
    snprintf(host, size, "%s", u.host);
    *port = u.port;
    nt_url_free(&u);
  }
}

/* The first URL's proxy: a malformed proxy variable is a usage error
 * before anything starts, and -v names the proxy. Returns 0 or an exit
 * code (> 0). */
static int proxy_check(http_cli_t *h, const nt_proxy_t *given) {
  nt_url_t u;
  if (nt_url_parse(h->url, &u) != 0) return 0; /* the request says why */
  nt_proxy_t p;
  const nt_proxy_t *use;
  int rc = cli_proxy_for(given, h->verbose, u.https ? "https" : "http", u.host, &p, &use);
  nt_url_free(&u);
  explicit_bzero(&p, sizeof p);
  return rc;
}

int http_cli_proxy_options(http_cli_t *h, nt_http_client_options_t *co) {
  /* --proxy for every connection (no_proxy still applies), else the
   * environment's, judged per connection (a redirect may change host) */
  const nt_proxy_t *given = cli_proxy_given(&h->common);
  if (given && given->type != NT_PROXY_NONE) {
    co->proxy = given;
    co->no_proxy = getenv("no_proxy") && *getenv("no_proxy") ? getenv("no_proxy")
                                                              : getenv("NO_PROXY");
  } else if (!given) {
    co->proxy_from_env = 1;
  }
  return proxy_check(h, given);
}

/* A limit ran out: say which, with its value as the user wrote it. */
static int timed_out(http_cli_t *h, const char *host, int port,
                     const char *url, const char *more) {
  switch (h->limit) {
  case NT_HTTP_LIMIT_CONNECT:
    fail_line(h, "connect to %s port %d: timed out: no connection within %s "
                 "(--connect-timeout%s%s)",
              host, port,
              cli_secs(h->connect_given ? h->connect_ms : h->idle_ms),
              h->connect_given ? "" : ", by default ",
              h->connect_given ? "" : h->idle_name ? h->idle_name : "--idle-timeout");
    break;
  case NT_HTTP_LIMIT_IDLE:
    fail_line(h, "%s: timed out: no byte moved for %s (%s)", url,
              cli_secs(h->idle_ms), h->idle_name ? h->idle_name : "--idle-timeout");
    break;
  case NT_HTTP_LIMIT_TOTAL:
    fail_line(h, "%s: timed out: the transfer took longer than %s "
                 "(--max-time)",
              url, cli_secs(h->timeout_ms));
    break;
  default:
    fail_line(h, "%s: timed out%s%s", url, more ? ": " : "", more ? more : "");
  }
  return NT_EXIT_TIMEOUT;
}

static int report(http_cli_t *h) {
  int st = h->status;
  /* The detail may quote the server (a Location, a reason): cleaned. */
  const char *more = h->error[0] ? cli_text(h->error, strlen(h->error)) : NULL;
  const char *url = cli_text(h->final_url, strlen(h->final_url));
  char host[300];
  int port;
  host_of(h->final_url, host, sizeof host, &port);
  if (h->interrupted) {
    fail_line(h, "interrupted");
    return HTTP_EXIT_INTERRUPTED;
  }
  if (h->dump_errno) {
    fail_line(h, "writing %s: %s", h->dump_path, strerror(h->dump_errno));
    return NT_EXIT_FILE;
  }
  if (h->dl_local) { /* the download could not write its part file */
    fail_line(h, "writing %s.part: %s", h->out_path, nt_strerror(st));
    return NT_EXIT_FILE;
  }
  if (h->out_errno) {
    fail_line(h, "writing %s: %s",
              h->part_path  ? h->part_path
              : h->out_path ? h->out_path
                            : "stdout",
              strerror(h->out_errno));
    return NT_EXIT_FILE;
  }
  if (st == NT_EDIGEST) {
    fail_line(h, "%s: %s%s%s", url, nt_strerror(st), more ? ": " : "",
              more ? more : "");
    return NT_EXIT_INTEGRITY;
  }
  if (st == NT_EHTTP_FILE_CHANGED || h->body_error) {
    fail_line(h, "%s%s%s", nt_strerror(st), more ? ": " : "",
              more ? more : "");
    return NT_EXIT_FILE;
  }
  if (st == NT_ETIMEDOUT) return timed_out(h, host, port, url, more);
  if (cli_is_tls_error(st)) {
    if (h->connected) { /* past the handshake: the transfer broke */
      fail_line(h, "%s: the TLS connection broke during the transfer: %s",
                url, more ? more : nt_strerror(st));
      return NT_EXIT_PROTOCOL;
    }
    fail_line(h, "TLS handshake with %s port %d failed: %s", host, port,
              more ? more : nt_strerror(st));
    return NT_EXIT_TLS;
  }
  if (!h->connected && st < 0 && st != NT_ECANCELED &&
      st != NT_EHTTP_REDIRECTS && st != NT_EHTTP_BAD_REDIRECT &&
      st != NT_EHTTP_NO_REPLAY) {
    const char *px = cli_proxy_detail(st);
    if (cli_is_dns_error(st))
      fail_line(h, "resolve %s: %s", host, nt_strerror(st));
    else if (px)
      fail_line(h, "connect to %s port %d: %s: %s", host, port, nt_strerror(st),
                cli_text(px, strlen(px)));
    else
      fail_line(h, "connect to %s port %d: %s", host, port, nt_strerror(st));
    return cli_exit_for_connect(st);
  }
  if (st == NT_ENOMEM) {
    fail_line(h, "out of memory");
    return NT_EXIT_INTERNAL;
  }
  fail_line(h, "%s: %s%s%s", url, nt_strerror(st), more ? ": " : "",
            more ? more : "");
  return st == NT_ECONNREFUSED ? NT_EXIT_CONNECT : NT_EXIT_PROTOCOL;
}

/* OUT.part after a failure: a partial download is kept (like FTP's; it
 * is never renamed over OUT), an empty one removed. */
static int keep_part(const http_cli_t *h, int ok) {
  return !ok && h->part_path && h->out_fd >= 0 && h->out_bytes > 0;
}

static int finish_output(http_cli_t *h, int ok) {
  int rc = 0;
  if (h->out_fd >= 0) {
    int keep = keep_part(h, ok);
    if (ok && h->part_path && fsync(h->out_fd) != 0 && errno != EINVAL)
      rc = -errno;
    if (close(h->out_fd) != 0 && !rc) rc = -errno;
    h->out_fd = -1;
    if (h->part_path) {
      if (ok && !rc && rename(h->part_path, h->out_path) != 0) rc = -errno;
      if ((!ok || rc) && !keep) unlink(h->part_path);
    }
  }
  if (rc) {
    cli_error("writing %s: %s", h->out_path, strerror(-rc));
    return NT_EXIT_FILE;
  }
  return 0;
}

/* The URL for messages until the request says which one failed, never
 * with credentials. */
static void target_of(http_cli_t *h) {
  nt_url_t u;
  if (nt_url_parse(h->url, &u) == 0) {
    nt_url_format(&u, h->final_url, sizeof h->final_url);
    nt_url_free(&u);
  }
}

/* glibc returns freed memory at the heap's top to the kernel as soon as it
 * passes 128 KiB, so a loop that allocates and frees a ~64-128 KiB buffer
 * per write (the TLS transport's write_file does) pays brk + page faults
 * every time: a third of an https upload's time. Keeping up to 1 MiB of
 * freed memory costs no RSS that was not in use anyway. */
static void tune_malloc(void) {
#ifdef __GLIBC__
  mallopt(M_TRIM_THRESHOLD, 1 << 20);
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

static int run(http_cli_t *h) {
  if (hide_secrets(h)) {
    cli_error("out of memory");
    return NT_EXIT_INTERNAL;
  }
  nt_url_t u;
  int rc = nt_url_parse(h->url, &u);
  if (rc) {
    if (rc == NT_EHTTP_SCHEME)
      return cli_usage_error(
          "unsupported URL scheme: only http:// and https://");
    return cli_usage_error("bad URL: %s", nt_strerror(rc));
  }
  int https = u.https;
  nt_url_free(&u);
  if (h->cacert && access(h->cacert, R_OK) != 0) {
    cli_error("cannot read --cacert %s: %s", h->cacert, strerror(errno));
    return NT_EXIT_FILE;
  }
  if (h->insecure && https) {
    cli_warn_insecure(NULL);
    h->warned_insecure = 1;
  }
  /* -v: the library logs each request head as "> " lines, credentials
   * masked (protocols/http/request_head.c) */
  if (h->verbose) cli_verbose_on();
  if (h->sha256 && !(h->sha = cli_sha256_new())) {
    cli_error("cannot start SHA-256");
    return NT_EXIT_INTERNAL;
  }
  char *user = NULL;
  const char *pass = NULL;
  if (h->userpass) {
    user = strdup(h->userpass);
    if (!user) return NT_EXIT_INTERNAL;
    char *colon = strchr(user, ':');
    if (colon) {
      *colon = 0;
      pass = colon + 1;
    } else {
      pass = "";
    }
  }
  target_of(h);
  /* -o OUT (a regular file or none yet) with a plain GET: the library's
   * resumable download (Range + If-Range on retries and on the next run). */
  struct stat ost;
  h->use_dl = h->out_path && strcmp(h->out_path, "-") && !h->include_headers &&
              !h->body && !h->method && !h->upload &&
              (stat(h->out_path, &ost) != 0 || S_ISREG(ost.st_mode));

  tune_malloc();
  rc = nt_reactor_new(&h->reactor, NULL);
  if (rc) {
    free(user);
    cli_error("cannot start a reactor: %s", nt_strerror(rc));
    return NT_EXIT_INTERNAL;
  }
  nt_http_client_options_t co;
  memset(&co, 0, sizeof co);
  co.ca_file = h->cacert;
  co.insecure = h->insecure;
  rc = http_cli_proxy_options(h, &co);
  if (!rc) rc = nt_http_client_new(h->reactor, &co, &h->client);
  else if (rc > 0) {
    free(user);
    nt_reactor_free(h->reactor);
    return rc;
  }
  if (rc) {
    free(user);
    nt_reactor_free(h->reactor);
    cli_error("%s", nt_strerror(rc));
    return NT_EXIT_INTERNAL;
  }
  h->headers[h->nheaders] = NULL;
  nt_http_request_options_t o;
  memset(&o, 0, sizeof o);
  o.url = h->url;
  o.method = h->method;
  o.headers = h->headers;
  o.user = user;
  o.password = pass;
  o.body = h->body;
  o.timeout_ms = h->timeout_ms;
  o.idle_timeout_ms = h->idle_ms;
  o.connect_timeout_ms = h->connect_given ? h->connect_ms : 0; /* 0: idle */
  o.max_redirects = h->max_redirs == -2  ? 0
                    : h->max_redirs == 0 ? -1
                                         : h->max_redirs;
  o.max_retries = h->retries;
  o.retry_delay_ms = h->retry_delay_ms;
  static const nt_http_callbacks_t cbs = {
      .on_response = on_response,
      .on_body = on_body,
      .on_done = on_done,
      .on_redirect = on_redirect,
      .on_retry = on_retry,
  };
  static const nt_http_download_callbacks_t dl_cbs = {
      .on_response = dl_on_response,
      .on_redirect = dl_on_redirect,
      .on_retry = dl_on_retry,
      .on_done = dl_on_done,
  };
  if (h->use_dl) {
    nt_http_download_options_t dopt;
    memset(&dopt, 0, sizeof dopt);
    dopt.url = o.url;
    dopt.path = h->out_path;
    dopt.headers = o.headers;
    dopt.user = o.user;
    dopt.password = o.password;
    dopt.timeout_ms = o.timeout_ms;
    dopt.idle_timeout_ms = o.idle_timeout_ms;
    dopt.connect_timeout_ms = o.connect_timeout_ms;
    dopt.max_redirects = o.max_redirects;
    dopt.max_retries = h->retries;
    dopt.retry_delay_ms = h->retry_delay_ms;
    dopt.no_verify = h->no_verify;
    rc = nt_http_download_start(h->client, &dopt, &dl_cbs, h, &h->dl);
  } else {
    rc = nt_http_request_start(h->client, &o, &cbs, h, &h->req);
  }
  if (user) {
    memset(user, 0, strlen(h->userpass));
    free(user);
  }
  if (rc) {
    nt_http_client_free(h->client);
    nt_reactor_free(h->reactor);
    if (rc == NT_EINVAL && h->use_dl) {
      for (size_t i = 0; i < h->nheaders; i++)
        if (!strncasecmp(h->headers[i], "Range:", 6) ||
            !strncasecmp(h->headers[i], "If-Range:", 9))
          return cli_usage_error("-H '%s' with -o: nettool asks for ranges "
                                 "itself to resume", h->headers[i]);
    }
    if (rc != NT_EINVAL && rc != NT_ENOMEM && rc < 0 && rc > -3000 && h->use_dl) {
      cli_error("cannot open %s.part: %s", h->out_path, nt_strerror(rc));
      return NT_EXIT_FILE;
    }
    if (rc == NT_EINVAL) {
      for (size_t i = 0; i < h->nheaders; i++)
        if (!strncasecmp(h->headers[i], "Expect:", 7))
          return cli_usage_error("bad -H '%s': nettool can only honour "
                                 "'Expect: 100-continue' (or 'Expect:' "
                                 "to send none)",
                                 h->headers[i]);
      return cli_usage_error("bad -H header or method");
    }
    cli_error("%s", nt_strerror(rc));
    return NT_EXIT_INTERNAL;
  }
  nt_reactor_handle_signals(h->reactor, on_signal, h);
  http_progress_start(h);
  int run_rc = nt_reactor_run(h->reactor);
  http_progress_stop(h);
  if (h->req) nt_http_request_cancel(h->req); /* the loop failed */
  if (h->dl) nt_http_download_cancel(h->dl);
  nt_http_client_free(h->client);
  nt_reactor_close_all(h->reactor);
  for (int i = 0; i < 100 && !h->done; i++) nt_reactor_run_once(h->reactor, 0);
  if (h->cleanup) h->cleanup(h); /* the body, before its reactor goes */
  h->cleanup = NULL;
  nt_reactor_close_all(h->reactor);
  nt_reactor_free(h->reactor);
  h->reactor = NULL;

  int ok = h->done && h->status == 0 && h->http_status >= 200 &&
           h->http_status <= 299 && !h->interrupted && !h->out_errno;
  int code;
  if (run_rc) {
    cli_error("reactor failed: %s", nt_strerror(run_rc));
    code = NT_EXIT_INTERNAL;
  } else if (h->status || h->interrupted || !h->done || h->out_errno ||
             h->dump_errno) {
    if (!h->done) h->status = NT_ECANCELED;
    if (keep_part(h, 0))
      snprintf(h->part_note, sizeof h->part_note,
               "; partial download kept in %s", h->part_path);
    code = report(h);
  } else {
    code = NT_EXIT_OK;
  }
  int file_rc = finish_output(h, ok && code == NT_EXIT_OK);
  if (code == NT_EXIT_OK && file_rc) code = file_rc;
  if (code == NT_EXIT_OK && (h->http_status < 200 || h->http_status > 299)) {
    cli_error("%s: the server answered %d %s",
              cli_text(h->final_url, strlen(h->final_url)), h->http_status,
              h->reason);
    code = NT_EXIT_REFUSED;
  }
  free(h->part_path);
  h->part_path = NULL;
  return code;
}

/* --json: the transfer's object on stdout. */
static void print_json(http_cli_t *h, int code, double t0) {
  cli_json_xfer_t x;
  char hex[65] = "";
  cli_json_xfer_init(&x, cli_cmd);
  char url[NT_URL_MAX + 300] = "";
  nt_url_t u;
  if (h->url && nt_url_parse(h->url, &u) == 0) { /* no password */
    nt_url_format(&u, url, sizeof url);
    nt_url_free(&u);
  }
  x.url = url[0] ? url : NULL;
  x.final_url = h->final_url[0] ? h->final_url : NULL;
  x.status = h->http_status ? h->http_status : -1;
  x.exit_code = code;
  x.bytes = (int64_t)(h->upload ? h->sent_bytes : h->body_bytes);
  x.seconds = cli_now() - t0;
  x.file = h->out_path ? h->out_path : "-";
  if (h->sha) {
    cli_sha256_final(h->sha, hex);
    h->sha = NULL;
    /* a resumed download received only part of the body: the file's */
    if (h->use_dl && code == NT_EXIT_OK &&
        cli_sha256_file(h->out_path, hex) != 0)
      hex[0] = 0;
    x.sha256 = code == NT_EXIT_OK && hex[0] ? hex : NULL; /* whole only */
  }
  x.error = code && cli_last_error[0] ? cli_last_error : NULL;
  cli_json_print(&x);
}

int http_cli_run(http_cli_t *h) {
  double t0 = cli_now();
  cli_last_error[0] = 0;
  int code = run(h);
  if (h->json) print_json(h, code, t0);
  if (h->sha) cli_sha256_final(h->sha, (char[65]){0});
  h->sha = NULL;
  cli_common_free(&h->common);
  if (h->cleanup) h->cleanup(h); /* when run stopped before the reactor */
  h->cleanup = NULL;
  free_secret(&h->userpass_copy);
  free_secret(&h->url_copy);
  h->userpass = h->url = NULL;
  h->common.user = NULL;
  return code;
}
