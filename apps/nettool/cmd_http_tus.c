/* nettool http-upload --resumable: FILE to a tus 1.0 endpoint through the
 * library's resumable upload (nettool/tus.h). The journal next to FILE makes
 * the same command continue after a kill; --retry continues after network
 * errors within one run. The progress line counts what the server confirmed
 * (its Upload-Offset), with the bytes sent but not yet confirmed apart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_json.h"
#include "cli_text.h"
#include "cmd_http_common.h"
#include "cmd_http_tus.h"
#include "nettool/tus.h"

typedef struct {
  http_cli_t *h;
  const tus_cli_t *t;
  nt_upload_t *up;
  nt_timer_t bar;
  int bar_on, bar_drawn, done, status, interrupted, http_status;
  uint64_t bar_last_ms, bar_last_bytes;
  double rate;
  nt_upload_progress_t p;
  char url[NT_URL_MAX];
  char error[512];
} tus_run_t;

static void human(char *buf, size_t size, double v) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  while (v >= 1024.0 && i < 4) {
    v /= 1024.0;
    i++;
  }
  snprintf(buf, size, i ? "%.1f %s" : "%.0f %s", v, unit[i]);
}

static void bar_clear(tus_run_t *t) {
  if (t->bar_drawn) fprintf(stderr, "\r\033[K");
  t->bar_drawn = 0;
}

/* confirmed / total, percent of confirmed, and what is sent but not
 * confirmed: a PATCH cut short loses those bytes, so they never count. */
static void bar_draw(nt_timer_t *tm) {
  tus_run_t *t = tm->data;
  if (!t->up) return;
  nt_upload_progress_t p;
  nt_upload_progress(t->up, &p);
  uint64_t now = nt_reactor_now(t->h->reactor);
  uint64_t moving = p.acked + p.in_flight;
  if (now - t->bar_last_ms >= 200) {
    double inst = moving >= t->bar_last_bytes
                      ? (double)(moving - t->bar_last_bytes) * 1000.0 /
                            (double)(now - t->bar_last_ms)
                      : 0;
    t->rate = t->rate == 0 ? inst : 0.7 * t->rate + 0.3 * inst;
    t->bar_last_ms = now;
    t->bar_last_bytes = moving;
  }
  char a[32], tot[32], fl[32], r[32], line[200];
  human(a, sizeof a, (double)p.acked);
  human(tot, sizeof tot, (double)p.total);
  human(fl, sizeof fl, (double)p.in_flight);
  human(r, sizeof r, t->rate);
  int pct = p.total ? (int)((double)p.acked * 100.0 / (double)p.total) : 100;
  const char *phase = !strcmp(p.state, "wait")  ? "  waiting to retry"
                      : p.in_flight && p.acked + p.in_flight >= p.total
                          ? "  waiting for the server"
                          : "";
  snprintf(line, sizeof line, "%s / %s %3d%% confirmed  +%s sent  %s/s%s", a, tot,
           pct, fl, r, phase);
  fprintf(stderr, "\r%s\033[K", line);
  fflush(stderr);
  t->bar_drawn = 1;
}

static void on_done(nt_upload_t *u, int status, void *arg) {
  tus_run_t *t = arg;
  t->done = 1;
  t->status = status;
  nt_upload_progress(u, &t->p);
  t->http_status = nt_upload_http_status(u);
  snprintf(t->url, sizeof t->url, "%s", nt_upload_url(u) ? nt_upload_url(u) : "");
  snprintf(t->error, sizeof t->error, "%s", nt_upload_error(u));
  t->up = NULL;
  nt_reactor_stop(t->h->reactor);
}

static void on_retry(nt_upload_t *u, int what, uint64_t delay, void *arg) {
  tus_run_t *t = arg;
  if (t->h->quiet) return;
  bar_clear(t);
  const char *e = nt_upload_error(u);
  fprintf(stderr, "nettool: http-upload: %s; retrying in %s\n",
          *e ? cli_text(e, strlen(e)) : nt_strerror(what), cli_secs(delay));
}

static void on_signal(nt_reactor_t *r, int signum, void *arg) {
  (void)r;
  (void)signum;
  tus_run_t *t = arg;
  t->interrupted = 1;
  if (t->up) nt_upload_cancel(t->up);
}

/* The exit code for how the upload ended (docs/EXIT-CODES.md). */
static int exit_code(const tus_run_t *t) {
  int st = t->status;
  if (t->interrupted) return NT_EXIT_INTERRUPTED;
  switch (st) {
  case 0: return NT_EXIT_OK;
  case NT_EUPLOAD_REFUSED: return NT_EXIT_REFUSED;
  case NT_EUPLOAD_PROTOCOL:
  case NT_EUPLOAD_OFFSET:
  case NT_EUPLOAD_CHECKSUM:
  case NT_EUPLOAD_EXPIRED: return NT_EXIT_PROTOCOL;
  case NT_EHTTP_FILE_CHANGED:
  case NT_EJOURNAL: return NT_EXIT_FILE;
  case NT_ETIMEDOUT: return NT_EXIT_TIMEOUT;
  default: break;
  }
  if (st < 0 && st > -3000 && st != NT_ECONNREFUSED && st != NT_ECONNRESET &&
      st != NT_EPIPE && st != NT_ENETUNREACH && st != NT_EHOSTUNREACH &&
      st != NT_ECANCELED && st != NT_ECONNABORTED && st != NT_ENOTCONN)
    return NT_EXIT_FILE; /* -errno of the file or the journal */
  return cli_exit_for_connect(st);
}

static int run_upload(http_cli_t *h, const char *file, const tus_cli_t *tc,
                      const char *const *meta_keys, const char *const *meta_values,
                      size_t nmeta, double t0);

/* A copy of the URL for us; a password in it is overwritten in argv, which
 * ps and /proc/PID/cmdline show (as the other commands do). */
static char *take_url(const char *arg) {
  char *copy = strdup(arg);
  if (copy) cli_wipe_url_password((char *)arg, "/?#"); /* nt_url_parse's split */
  return copy;
}

int http_tus_run(http_cli_t *h, const char *file, const tus_cli_t *tc,
                 const char *const *meta_keys, const char *const *meta_values,
                 size_t nmeta) {
  double t0 = cli_now();
  char *url_copy = take_url(h->url);
  if (!url_copy) return NT_EXIT_INTERNAL;
  h->url = url_copy;
  int code = run_upload(h, file, tc, meta_keys, meta_values, nmeta, t0);
  memset(url_copy, 0, strlen(url_copy));
  free(url_copy);
  h->url = NULL;
  return code;
}

static int run_upload(http_cli_t *h, const char *file, const tus_cli_t *tc,
                      const char *const *meta_keys, const char *const *meta_values,
                      size_t nmeta, double t0) {
  tus_run_t t;
  memset(&t, 0, sizeof t);
  t.h = h;
  t.t = tc;
  nt_url_t u;
  int rc = nt_url_parse(h->url, &u);
  if (rc)
    return cli_usage_error("bad URL: %s", rc == NT_EHTTP_SCHEME
                                              ? "only http:// and https://"
                                              : nt_strerror(rc));
  int https = u.https;
  nt_url_free(&u);
  if (h->cacert && access(h->cacert, R_OK) != 0) {
    cli_error("cannot read --cacert %s: %s", h->cacert, strerror(errno));
    return NT_EXIT_FILE;
  }
  if (h->insecure && https) cli_warn_insecure(NULL);
  if (h->verbose) cli_verbose_on();
  char *user = NULL;
  const char *pass = NULL;
  if (h->userpass) {
    user = strdup(h->userpass);
    if (!user) return NT_EXIT_INTERNAL;
    char *colon = strchr(user, ':');
    if (colon) *colon = 0;
    pass = colon ? colon + 1 : "";
  }
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
  rc = http_cli_proxy_options(h, &co); /* -x/--proxy, the environment */
  if (rc > 0) {
    free(user);
    nt_reactor_free(h->reactor);
    cli_common_free(&h->common);
    return rc;
  }
  rc = nt_http_client_new(h->reactor, &co, &h->client);
  if (rc) {
    free(user);
    nt_reactor_free(h->reactor);
    cli_error("%s", nt_strerror(rc));
    cli_common_free(&h->common);
    return NT_EXIT_INTERNAL;
  }
  h->headers[h->nheaders] = NULL;
  nt_upload_options_t o;
  memset(&o, 0, sizeof o);
  o.endpoint = h->url;
  o.path = file;
  o.journal_path = tc->journal;
  o.meta_keys = meta_keys;
  o.meta_values = meta_values;
  o.nmeta = nmeta;
  o.headers = h->headers;
  o.user = user;
  o.password = pass;
  o.chunk_size = tc->chunk_size;
  o.checksum = tc->checksum;
  o.terminate_on_failure = tc->terminate;
  o.max_retries = h->retries;
  o.retry_delay_ms = h->retry_delay_ms;
  o.idle_timeout_ms = h->idle_ms;
  o.connect_timeout_ms = h->connect_given ? h->connect_ms : 0;
  o.timeout_ms = h->timeout_ms;
  static const nt_upload_callbacks_t cbs = {.on_done = on_done, .on_retry = on_retry};
  rc = nt_upload_start(h->client, &o, &cbs, &t, &t.up);
  if (user) {
    memset(user, 0, strlen(user));
    free(user);
  }
  if (rc) {
    nt_http_client_free(h->client);
    nt_reactor_free(h->reactor);
    h->reactor = NULL;
    cli_common_free(&h->common);
    if (rc == NT_EINVAL) return cli_usage_error("bad -H header, -F field name or file");
    if (rc == NT_EBUSY) {
      cli_error("%s: another nettool is uploading this file (its journal is in use)", file);
      return NT_EXIT_LOCAL;
    }
    cli_error("%s: %s", file, nt_strerror(rc));
    return rc == NT_ENOMEM ? NT_EXIT_INTERNAL : NT_EXIT_FILE;
  }
  nt_reactor_handle_signals(h->reactor, on_signal, &t);
  if (!h->quiet && isatty(STDERR_FILENO)) {
    nt_timer_init(h->reactor, &t.bar, bar_draw);
    t.bar.data = &t;
    nt_timer_start(&t.bar, 250, 250);
    nt_timer_unref(&t.bar);
    t.bar_on = 1;
  }
  int run_rc = nt_reactor_run(h->reactor);
  if (t.bar_on) nt_timer_stop(&t.bar);
  bar_clear(&t);
  if (t.up) nt_upload_cancel(t.up); /* the loop failed */
  for (int i = 0; i < 100 && !t.done; i++) nt_reactor_run_once(h->reactor, 0);
  nt_http_client_free(h->client);
  h->client = NULL;
  nt_reactor_close_all(h->reactor);
  for (int i = 0; i < 10; i++) nt_reactor_run_once(h->reactor, 0);
  nt_reactor_free(h->reactor);
  h->reactor = NULL;

  int code;
  if (run_rc) {
    cli_error("reactor failed: %s", nt_strerror(run_rc));
    code = NT_EXIT_INTERNAL;
  } else if (!t.done) {
    cli_error("the upload did not end");
    code = NT_EXIT_INTERNAL;
  } else {
    code = exit_code(&t);
  }
  char summary[400];
  snprintf(summary, sizeof summary,
           "%llu of %llu bytes confirmed; the server had %llu at the start; "
           "%llu sent; %d retries, %d new uploads; checksum %s",
           (unsigned long long)t.p.acked, (unsigned long long)t.p.total,
           (unsigned long long)t.p.resumed_from, (unsigned long long)t.p.sent,
           t.p.retries, t.p.restarts, t.p.checksum ? t.p.checksum : "none");
  if (code == NT_EXIT_OK) {
    if (!h->json) printf("%s\n", t.url); /* the upload's URL on stdout */
    if (!h->quiet)
      fprintf(stderr, "nettool: http-upload: %s: %s\n", cli_text(file, strlen(file)),
              summary);
  } else if (t.interrupted) {
    cli_error("interrupted; %s; %s", summary,
              tc->terminate ? "the server was asked to delete the upload"
                            : "run the same command again to continue");
  } else if (t.done) {
    cli_error("%s%s(%s)",
              t.error[0] ? cli_text(t.error, strlen(t.error)) : nt_strerror(t.status),
              t.error[0] ? " " : " ", summary);
  }
  if (h->json) {
    cli_json_xfer_t x;
    cli_json_xfer_init(&x, "http-upload");
    char shown[NT_URL_MAX];
    nt_url_t pu;
    shown[0] = 0;
    if (nt_url_parse(h->url, &pu) == 0) { /* never the credentials */
      nt_url_format(&pu, shown, sizeof shown);
      nt_url_free(&pu);
    }
    x.url = shown;
    x.final_url = t.url[0] ? t.url : NULL;
    x.file = file;
    x.status = t.http_status ? t.http_status : -1;
    x.exit_code = code;
    x.error = code ? cli_last_error : NULL;
    x.bytes = (int64_t)t.p.acked;
    x.seconds = cli_now() - t0;
    cli_json_print(&x);
  }
  cli_common_free(&h->common);
  return code;
}
