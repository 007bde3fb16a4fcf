/* Driving nettool from a GLib main loop: the program's loop is GLib's, and
 * nettool's reactor is one GSource in it (the way libuv is embedded with
 * uv_backend_fd / uv_backend_timeout). On that one loop it
 *   - serves the timestamp protocol on a loopback port (nettool's server),
 *   - uploads FILE as multipart/form-data to URL (nettool's HTTP client),
 *   - ticks a GLib timer every 100 ms, and routes nettool's log lines into
 *     g_log (shown with G_MESSAGES_DEBUG=nettool and NETTOOL_LOG=debug),
 * and quits on SIGINT/SIGTERM (GLib's signal sources) or after 60 s.
 *
 *   glib_embed URL FILE [OUT]
 *     prints "reactor backend: NAME" (epoll, or io_uring when
 *     NETTOOL_BACKEND=io_uring), "ts-server on 127.0.0.1:PORT", then "upload: HTTP STATUS, N
 *     bytes sent" when the upload ends; the response body goes to OUT
 *     (default: stdout). Exit 0 if the upload got a 2xx answer.
 *
 *   cc glib_embed.c $(pkg-config --cflags --libs glib-2.0 nettool)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib-unix.h>
#include <glib.h>

#include <nettool/http.h>
#include <nettool/log.h>
#include <nettool/reactor.h>
#include <nettool/tcp.h>
#include <nettool/timestamp.h>

/* --- the reactor as a GSource ------------------------------------------------ */

typedef struct {
  GSource source;
  nt_reactor_t *reactor;
  gpointer fd_tag; /* the backend fd (epoll's or the ring's), polled by GLib */
} reactor_source_t;

/* Before GLib sleeps: how long nettool can wait (its next timer; 0 when
 * calls are queued). Ready now if that is 0. On io_uring this call also
 * submits what was queued since the last turn (by other sources too). */
static gboolean rs_prepare(GSource *s, gint *timeout) {
  reactor_source_t *rs = (reactor_source_t *)s;
  *timeout = nt_reactor_backend_timeout(rs->reactor);
  return *timeout == 0;
}

/* After GLib's poll: an fd nettool watches is ready (the epoll fd is
 * readable), or a timer came due. */
static gboolean rs_check(GSource *s) {
  reactor_source_t *rs = (reactor_source_t *)s;
  if (g_source_query_unix_fd(s, rs->fd_tag) & G_IO_IN) return TRUE;
  return nt_reactor_backend_timeout(rs->reactor) == 0;
}

/* One non-blocking turn: due timers, queued calls, ready I/O. */
static gboolean rs_dispatch(GSource *s, GSourceFunc cb, gpointer data) {
  reactor_source_t *rs = (reactor_source_t *)s;
  (void)cb, (void)data;
  int rc = nt_reactor_run_once(rs->reactor, 0);
  if (rc < 0) g_warning("nettool reactor: %s", nt_strerror(rc));
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs reactor_source_funcs = {
    .prepare = rs_prepare, .check = rs_check, .dispatch = rs_dispatch};

/* Attaches r to ctx. NULL if r has no pollable fd (the poll backend). */
static GSource *reactor_source_new(nt_reactor_t *r, GMainContext *ctx) {
  int fd = nt_reactor_backend_fd(r);
  if (fd < 0) return NULL;
  GSource *s = g_source_new(&reactor_source_funcs, sizeof(reactor_source_t));
  reactor_source_t *rs = (reactor_source_t *)s;
  rs->reactor = r;
  rs->fd_tag = g_source_add_unix_fd(s, fd, G_IO_IN);
  g_source_set_name(s, "nettool reactor");
  g_source_attach(s, ctx);
  return s;
}

/* --- nettool's log lines into GLib's log --------------------------------------- */

/* Lines may quote peers: control characters become '?' before they reach a
 * terminal through GLib's handler. */
static void log_to_glib(int level, const char *line, void *arg) {
  (void)arg;
  char buf[1024];
  size_t i = 0;
  for (; line[i] && i + 1 < sizeof buf; i++)
    buf[i] = ((unsigned char)line[i] < 0x20 || line[i] == 0x7f) ? '?' : line[i];
  buf[i] = '\0';
  GLogLevelFlags gl = level == NT_LOG_ERROR  ? G_LOG_LEVEL_CRITICAL
                      : level == NT_LOG_WARN ? G_LOG_LEVEL_WARNING
                      : level == NT_LOG_INFO ? G_LOG_LEVEL_INFO
                                             : G_LOG_LEVEL_DEBUG;
  g_log("nettool", gl, "%s", buf);
}

/* --- the program ------------------------------------------------------------------ */

typedef struct {
  GMainLoop *loop;
  nt_http_client_t *http;
  nt_multipart_t *form;
  nt_http_request_t *request; /* valid until on_done has run */
  FILE *out;
  int status;    /* HTTP status of the upload, 0 until answered */
  int done;      /* on_done has run */
  int failed;    /* its error, or 0 */
  unsigned ticks; /* a GLib timer's, to show both kinds of source run */
} app_t;

static void on_response(nt_http_request_t *q, const nt_http_response_t *resp,
                        void *arg) {
  app_t *a = arg;
  (void)q;
  a->status = resp->status;
}

static int on_body(nt_http_request_t *q, const char *data, size_t len,
                   void *arg) {
  app_t *a = arg;
  (void)q;
  return fwrite(data, 1, len, a->out) == len ? 0 : NT_EIO;
}

/* The request is finished: freeing the client and the body in here is
 * allowed (docs/API.md), and ends the keep-alive connection at once. */
static void on_done(nt_http_request_t *q, int status, void *arg) {
  app_t *a = arg;
  nt_http_progress_t p;
  nt_http_request_progress(q, &p);
  fflush(a->out);
  if (status)
    printf("upload: failed: %s %s\n", nt_strerror(status),
           nt_http_request_error(q));
  else
    printf("upload: HTTP %d, %llu bytes sent\n", a->status,
           (unsigned long long)p.sent);
  fflush(stdout);
  a->done = 1;
  a->failed = status;
  a->request = NULL;
  nt_http_client_free(a->http);
  a->http = NULL;
  nt_multipart_free(a->form);
  a->form = NULL;
}

static gboolean on_tick(gpointer arg) {
  ((app_t *)arg)->ticks++;
  return G_SOURCE_CONTINUE;
}

static gboolean on_quit(gpointer arg) {
  g_main_loop_quit(((app_t *)arg)->loop);
  return G_SOURCE_REMOVE;
}

static int start_upload(app_t *a, nt_reactor_t *r, const char *url,
                        const char *file) {
  int rc = nt_http_client_new(r, NULL, &a->http);
  if (!rc) rc = nt_multipart_new(&a->form);
  if (!rc) rc = nt_multipart_add_field(a->form, "from", "glib_embed", 10);
  if (!rc) rc = nt_multipart_add_file(a->form, "file", file, NULL, NULL);
  if (rc) return rc;
  nt_http_request_options_t o;
  memset(&o, 0, sizeof o);
  o.url = url; /* copied by nt_http_request_start */
  o.body = nt_multipart_body(a->form);
  if (!o.body) return NT_ENOMEM;
  static const nt_http_callbacks_t cbs = {
      .on_response = on_response, .on_body = on_body, .on_done = on_done};
  return nt_http_request_start(a->http, &o, &cbs, a, &a->request);
}

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: %s URL FILE [OUT]\n", argv[0]);
    return 2;
  }
  app_t a;
  memset(&a, 0, sizeof a);
  a.out = argc == 4 ? fopen(argv[3], "wb") : stdout;
  if (!a.out) {
    perror(argv[3]);
    return 1;
  }
  nt_log_set_handler(log_to_glib, NULL); /* nothing of nettool's on stderr */

  nt_reactor_t *r;
  /* Embedding needs a pollable fd: epoll's, or io_uring's ring when
   * NETTOOL_BACKEND asks for it (never poll, which has none). */
  const char *be = getenv("NETTOOL_BACKEND");
  nt_reactor_options_t ro = {be && !strcmp(be, "io_uring") ? "io_uring" : "epoll", 0};
  int rc = nt_reactor_new(&r, &ro);
  if (rc) {
    fprintf(stderr, "reactor: %s\n", nt_strerror(rc));
    return 1;
  }
  printf("reactor backend: %s\n", nt_reactor_backend_name(r));
  a.loop = g_main_loop_new(NULL, FALSE);
  GSource *rs = reactor_source_new(r, NULL);

  nt_factory_t ts_factory;
  nt_ts_server_factory_init(&ts_factory);
  nt_listener_t *ts = NULL;
  rc = nt_tcp_listen(r, "127.0.0.1", 0, &ts_factory, NULL, &ts);
  if (rc) {
    fprintf(stderr, "ts-server: %s\n", nt_strerror(rc));
    return 1;
  }
  printf("ts-server on 127.0.0.1:%d\n", nt_listener_port(ts));
  fflush(stdout);

  rc = start_upload(&a, r, argv[1], argv[2]);
  if (rc) {
    fprintf(stderr, "upload: %s\n", nt_strerror(rc));
    nt_http_client_free(a.http); /* both NULL-safe */
    a.http = NULL;
    nt_multipart_free(a.form);
    a.form = NULL;
    a.done = 1;
    a.failed = rc;
  }
  g_timeout_add(100, on_tick, &a);
  g_unix_signal_add(SIGINT, on_quit, &a);
  g_unix_signal_add(SIGTERM, on_quit, &a);
  g_timeout_add_seconds(60, on_quit, &a);

  g_main_loop_run(a.loop);

  /* Teardown, nettool side first. The reactor leaves GLib; an upload still
   * running is cancelled (its on_done, NT_ECANCELED, comes from the loop);
   * what we own is closed; then nt_reactor_run() -- allowed now that the
   * reactor is no longer embedded -- returns once nothing is left, on_done
   * included. (Not run_once(r, 1) until done: a blocking turn that ran
   * on_done in its timer phase would go on to wait for I/O.) */
  g_source_destroy(rs);
  g_source_unref(rs);
  if (a.request) nt_http_request_cancel(a.request);
  nt_listener_close(ts);
  nt_reactor_close_all(r); /* timestamp connections still open */
  nt_reactor_run(r);
  nt_reactor_free(r); /* anything forgotten: one warning, through g_log */
  g_main_loop_unref(a.loop);
  printf("glib: %u timer ticks\n", a.ticks);
  if (a.out != stdout) fclose(a.out);
  if (!a.done || a.failed) return 1;
  return a.status >= 200 && a.status < 300 ? 0 : 1;
}
