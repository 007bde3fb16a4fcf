/* nt_http_download on the test reactor: every resume decision. A transfer
 * cut after each byte of the body continues with Range + If-Range from
 * exactly that byte (and the 206 that answers is fed at every byte
 * boundary); a changed resource (200 with another ETag), a server without
 * ranges, a 206 for the wrong range and a 416 for a whole file each do the
 * right thing to the part file; a part file and its state from an earlier
 * run (a killed process) continue; Retry-After, the backoff and its
 * jitter, errors that cannot heal; digests (Repr-Digest, Content-Digest,
 * Content-MD5) matching and not. Plus the pure parsers of download-int.h. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backoff-int.h"
#include "download-int.h"
#include "http-int.h"
#include "nettool/http.h"
#include "nettool/http_download.h"
#include "nettool/testing.h"

#define MAXC 16
#define BODY "0123456789abcdefghij" /* 20 bytes */
#define BODY_LEN 20

typedef struct {
  nt_reactor_t *r;
  nt_http_client_t *client;
  nt_factory_t *pending[MAXC];
  int npending, taken;
  int refuse; /* the hook fails connections with this status */
  nt_test_transport_t *conns[MAXC];
  int nconns;
  char dir[64], path[128], part[160], state[192];
  nt_http_download_options_t opts;
  nt_http_download_t *dl;
  /* results */
  int done, status, responses, retries_seen;
  uint64_t delays[MAXC], resume_at[MAXC];
  int why[MAXC];
  nt_http_download_info_t info;
  char verified[64];
  char error[768];
} ctx_t;

static void settle(nt_reactor_t *r) { nt_test_clock_advance(r, 0); }

static void fail_cb(void *arg) {
  ctx_t *c = arg;
  nt_factory_t *f = c->pending[c->taken++];
  f->ops->connection_failed(f, NULL, c->refuse);
}

static int hook(void *arg, nt_reactor_t *r, const char *host, int port,
                int https, nt_factory_t *f) {
  (void)r, (void)host, (void)port, (void)https;
  ctx_t *c = arg;
  assert_true(c->npending < MAXC);
  c->pending[c->npending++] = f;
  if (c->refuse) nt_call_soon(c->r, fail_cb, c);
  return 0;
}

static void on_response(nt_http_download_t *d, const nt_http_response_t *r,
                        void *arg) {
  (void)d, (void)r;
  ((ctx_t *)arg)->responses++;
}

static void on_retry(nt_http_download_t *d, int why, uint64_t delay,
                     uint64_t at, void *arg) {
  (void)d;
  ctx_t *c = arg;
  assert_true(c->retries_seen < MAXC);
  c->why[c->retries_seen] = why;
  c->delays[c->retries_seen] = delay;
  c->resume_at[c->retries_seen++] = at;
}

static void on_done(nt_http_download_t *d, int status, void *arg) {
  ctx_t *c = arg;
  c->done++;
  c->status = status;
  nt_http_download_info(d, &c->info);
  snprintf(c->verified, sizeof c->verified, "%s", c->info.verified);
  snprintf(c->error, sizeof c->error, "%s", nt_http_download_error(d));
  c->dl = NULL;
}

static const nt_http_download_callbacks_t cbs = {
    .on_response = on_response,
    .on_retry = on_retry,
    .on_done = on_done,
};

static ctx_t *new_ctx(void) {
  ctx_t *c = calloc(1, sizeof *c);
  assert_non_null(c);
  assert_int_equal(nt_test_reactor_new(&c->r), 0);
  snprintf(c->dir, sizeof c->dir, "/tmp/nt-dl-XXXXXX");
  assert_non_null(mkdtemp(c->dir));
  snprintf(c->path, sizeof c->path, "%s/out.bin", c->dir);
  snprintf(c->part, sizeof c->part, "%s.part", c->path);
  snprintf(c->state, sizeof c->state, "%s.part.state", c->path);
  c->opts.url = "http://h.test/file.bin";
  c->opts.path = c->path;
  c->opts.max_retries = 5;
  c->opts.retry_delay_ms = 100;
  c->opts.jitter_seed = 12345;
  return c;
}

/* Removes whatever the download left in the folder, then the folder. */
static void clean_dir(ctx_t *c) {
  DIR *dp = opendir(c->dir);
  if (!dp) return;
  struct dirent *e;
  char p[600];
  while ((e = readdir(dp))) {
    if (e->d_name[0] == '.') continue;
    snprintf(p, sizeof p, "%s/%s", c->dir, e->d_name);
    unlink(p);
  }
  closedir(dp);
}

static void end(ctx_t *c) {
  if (c->dl) nt_http_download_cancel(c->dl);
  settle(c->r);
  nt_http_client_free(c->client);
  c->client = NULL;
  settle(c->r);
  while (c->taken < c->npending) {
    nt_factory_t *f = c->pending[c->taken++];
    f->ops->connection_failed(f, NULL, NT_ECANCELED);
  }
  settle(c->r);
  for (int i = 0; i < c->nconns; i++) nt_test_transport_free(c->conns[i]);
  c->nconns = 0;
  settle(c->r);
  c->npending = c->taken = 0;
}

static void free_ctx(ctx_t *c) {
  clean_dir(c);
  rmdir(c->dir);
  assert_int_equal(nt_test_reactor_free(c->r), 0);
  free(c);
}

static void reset(ctx_t *c) {
  c->done = c->status = c->responses = c->retries_seen = 0;
  c->verified[0] = c->error[0] = 0;
  memset(&c->info, 0, sizeof c->info);
}

static void start(ctx_t *c) {
  reset(c);
  assert_int_equal(nt_http_client_new(c->r, NULL, &c->client), 0);
  nt__http_client_set_connect_hook(c->client, hook, c);
  assert_int_equal(nt_http_download_start(c->client, &c->opts, &cbs, c, &c->dl),
                   0);
  settle(c->r);
}

static nt_protocol_t *take_protocol(ctx_t *c) {
  assert_true(c->taken < c->npending);
  nt_factory_t *f = c->pending[c->taken++];
  nt_protocol_t *p = f->ops->build_protocol(f, NULL, 0);
  assert_non_null(p);
  return p;
}

/* The next connection answers resp (then closes, with eof). */
static nt_test_transport_t *serve(ctx_t *c, const char *resp, int eof) {
  nt_test_transport_t *tt = nt_test_transport_new(c->r, take_protocol(c));
  assert_true(c->nconns < MAXC);
  c->conns[c->nconns++] = tt;
  settle(c->r);
  nt_test_feed_str(tt, resp);
  settle(c->r);
  if (eof) {
    nt_test_feed_eof(tt);
    settle(c->r);
  }
  return tt;
}

/* Waits out the last retry's delay. */
static void wait_retry(ctx_t *c) {
  assert_true(c->retries_seen > 0);
  nt_test_clock_advance(c->r, c->delays[c->retries_seen - 1]);
  settle(c->r);
}

static const char *sent(nt_test_transport_t *tt) {
  return nt_test_output(tt, NULL);
}

static char *slurp(const char *path, size_t *len) {
  static char buf[4096];
  int fd = open(path, O_RDONLY);
  if (fd < 0) return NULL;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0) return NULL;
  buf[n] = 0;
  if (len) *len = (size_t)n;
  return buf;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static void write_file(const char *path, const char *data) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
  close(fd);
}

static void head_200(char *buf, size_t size, const char *etag, size_t k) {
  snprintf(buf, size,
           "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nETag: %s\r\n"
           "Last-Modified: Tue, 01 Dec 2026 10:00:00 GMT\r\n\r\n%.*s",
           BODY_LEN, etag, (int)k, BODY);
}

static void resp_206(char *buf, size_t size, size_t k) {
  snprintf(buf, size,
           "HTTP/1.1 206 Partial Content\r\nContent-Length: %d\r\n"
           "Content-Range: bytes %zu-%d/%d\r\nETag: \"e1\"\r\n\r\n%s",
           BODY_LEN - (int)k, k, BODY_LEN - 1, BODY_LEN, BODY + k);
}

static void check_whole(ctx_t *c, const char *want) {
  if (c->done != 1 || c->status != 0)
    fail_msg("done %d status %s (%s)", c->done, nt_err_name(c->status),
             c->error);
  size_t n;
  const char *got = slurp(c->path, &n);
  assert_non_null(got);
  assert_int_equal(n, strlen(want));
  assert_memory_equal(got, want, n);
  assert_false(exists(c->part));
  assert_false(exists(c->state));
}

/* --- cut after every byte of the body ------------------------------------- */

static void test_cut_at_every_byte(void **state) {
  (void)state;
  for (size_t k = 0; k < BODY_LEN; k++) {
    ctx_t *c = new_ctx();
    start(c);
    char resp[512];
    head_200(resp, sizeof resp, "\"e1\"", k);
    serve(c, resp, 1); /* cut after k body bytes */
    assert_int_equal(c->done, 0);
    assert_int_equal(c->retries_seen, 1);
    assert_int_equal(c->why[0], NT_EUNEXPECTEDEOF);
    assert_int_equal(c->resume_at[0], k);
    /* the state file names the bytes kept */
    nt__dl_state_t st;
    assert_int_equal(nt__dl_state_load(c->state, &st), 0);
    assert_string_equal(st.etag, "\"e1\"");
    assert_int_equal(st.total, BODY_LEN);
    wait_retry(c);
    resp_206(resp, sizeof resp, k);
    nt_test_transport_t *tt = serve(c, resp, 0);
    char want[128];
    snprintf(want, sizeof want, "Range: bytes=%zu-\r\n", k);
    if (k > 0) {
      assert_non_null(strstr(sent(tt), want));
      assert_non_null(strstr(sent(tt), "If-Range: \"e1\"\r\n"));
      check_whole(c, BODY);
      assert_int_equal(c->info.discarded, 0);
      assert_int_equal(c->info.received, BODY_LEN);
    } else { /* nothing kept: the whole again, and a 206 is no answer */
      assert_null(strstr(sent(tt), "Range:"));
      assert_null(strstr(sent(tt), "If-Range:"));
    }
    end(c);
    free_ctx(c);
  }
}

/* The answer to the resumed request, fed at every byte boundary. */
typedef struct {
  ctx_t *c;
  size_t k;
  size_t runs;
} split_t;

static void test_resume_each_split(void **state) {
  (void)state;
  /* As nt_test_each_split does, but the protocol comes from the
   * download's own second dial, after the first answer was cut. */
  static const size_t ks[] = {1, 9, 19};
  for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
    ctx_t *c = new_ctx();
    split_t s = {c, ks[i], 0};
    char resp[512];
    resp_206(resp, sizeof resp, ks[i]);
    size_t len = strlen(resp);
    /* every cut in two, whole, byte by byte: done by hand, since the
     * protocol comes from the download's own dial */
    for (size_t cut = 0; cut <= len + 1; cut++) {
      clean_dir(c);
      start(c);
      char first[512];
      head_200(first, sizeof first, "\"e1\"", ks[i]);
      serve(c, first, 1);
      wait_retry(c);
      nt_test_transport_t *tt = nt_test_transport_new(c->r, take_protocol(c));
      c->conns[c->nconns++] = tt;
      settle(c->r);
      if (cut <= len) { /* two pieces */
        nt_test_feed(tt, resp, cut);
        settle(c->r);
        nt_test_feed(tt, resp + cut, len - cut);
      } else { /* a byte at a time */
        for (size_t b = 0; b < len; b++) {
          nt_test_feed(tt, resp + b, 1);
          settle(c->r);
        }
      }
      settle(c->r);
      check_whole(c, BODY);
      s.runs++;
      end(c);
    }
    assert_int_equal(s.runs, len + 2);
    free_ctx(c);
  }
}

/* --- what the answer to a resumed request does to the part file ----------- */

static void cut_then(ctx_t *c, size_t k, const char *etag) {
  start(c);
  char resp[512];
  head_200(resp, sizeof resp, etag, k);
  serve(c, resp, 1);
  assert_int_equal(c->retries_seen, 1);
  wait_retry(c);
}

static void test_changed_resource_restarts(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  cut_then(c, 7, "\"e1\"");
  /* the file changed: If-Range fails, the server sends it all */
  nt_test_transport_t *tt =
      serve(c,
            "HTTP/1.1 200 OK\r\nContent-Length: 15\r\nETag: \"e2\"\r\n\r\n"
            "NEW-BODY-NEW-BO",
            0);
  assert_non_null(strstr(sent(tt), "Range: bytes=7-\r\n"));
  check_whole(c, "NEW-BODY-NEW-BO"); /* not spliced onto "0123456" */
  assert_int_equal(c->info.discarded, 7);
  assert_int_equal(c->info.restarts, 1);
  end(c);
  free_ctx(c);
}

static void test_server_without_ranges(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  cut_then(c, 12, "\"e1\"");
  char resp[512];
  head_200(resp, sizeof resp, "\"e1\"", BODY_LEN); /* Range ignored */
  serve(c, resp, 0);
  check_whole(c, BODY);
  assert_int_equal(c->info.discarded, 12);
  end(c);
  free_ctx(c);
}

static void test_wrong_range_restarts(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  cut_then(c, 5, "\"e1\"");
  /* a 206 from byte 3, not 5: never spliced */
  serve(c,
        "HTTP/1.1 206 Partial Content\r\nContent-Length: 17\r\n"
        "Content-Range: bytes 3-19/20\r\nConnection: close\r\n\r\n"
        "3456789abcdefghij",
        1);
  assert_int_equal(c->done, 0);
  /* started over at once, without Range */
  char resp[512];
  head_200(resp, sizeof resp, "\"e1\"", BODY_LEN);
  nt_test_transport_t *tt = serve(c, resp, 0);
  assert_null(strstr(sent(tt), "Range:"));
  check_whole(c, BODY);
  assert_int_equal(c->info.restarts, 1);
  end(c);
  free_ctx(c);
}

static void test_weak_etag_uses_last_modified(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  cut_then(c, 4, "W/\"weak\"");
  char resp[512];
  resp_206(resp, sizeof resp, 4);
  nt_test_transport_t *tt = serve(c, resp, 0);
  assert_non_null(
      strstr(sent(tt), "If-Range: Tue, 01 Dec 2026 10:00:00 GMT\r\n"));
  check_whole(c, BODY);
  end(c);
  free_ctx(c);
}

static void test_no_validator_restarts(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  start(c);
  serve(c, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456", 1);
  assert_int_equal(c->retries_seen, 1);
  assert_false(exists(c->state)); /* nothing to resume by */
  wait_retry(c);
  char resp[512];
  head_200(resp, sizeof resp, "\"e1\"", BODY_LEN);
  nt_test_transport_t *tt = serve(c, resp, 0);
  assert_null(strstr(sent(tt), "Range:")); /* never a blind Range */
  check_whole(c, BODY);
  end(c);
  free_ctx(c);
}

/* --- a previous run's part file (the process was killed) ------------------ */

static void save_state(ctx_t *c, const char *etag, int64_t total) {
  nt__dl_state_t st;
  memset(&st, 0, sizeof st);
  snprintf(st.url, sizeof st.url, "http://h.test/file.bin");
  snprintf(st.etag, sizeof st.etag, "%s", etag);
  st.total = total;
  assert_int_equal(nt__dl_state_save(c->state, &st), 0);
}

static void test_continue_after_kill(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  write_file(c->part, "0123456789a");
  save_state(c, "\"e1\"", BODY_LEN);
  start(c);
  char resp[512];
  resp_206(resp, sizeof resp, 11);
  nt_test_transport_t *tt = serve(c, resp, 0);
  assert_non_null(strstr(sent(tt), "Range: bytes=11-\r\nIf-Range: \"e1\"\r\n"));
  check_whole(c, BODY);
  assert_int_equal(c->info.resumed_at, 11);
  end(c);
  free_ctx(c);
}

static void test_state_for_another_url(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  write_file(c->part, "garbage");
  save_state(c, "\"e1\"", BODY_LEN);
  c->opts.url = "http://h.test/other.bin";
  start(c);
  char resp[512];
  head_200(resp, sizeof resp, "\"e1\"", BODY_LEN);
  nt_test_transport_t *tt = serve(c, resp, 0);
  assert_null(strstr(sent(tt), "Range:"));
  check_whole(c, BODY);
  end(c);
  free_ctx(c);
}

static void test_part_without_state_restarts(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  write_file(c->part, "0123");
  start(c);
  char resp[512];
  head_200(resp, sizeof resp, "\"e1\"", BODY_LEN);
  nt_test_transport_t *tt = serve(c, resp, 0);
  assert_null(strstr(sent(tt), "Range:"));
  check_whole(c, BODY);
  end(c);
  free_ctx(c);
}

static void test_416_already_whole(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  write_file(c->part, BODY);
  save_state(c, "\"e1\"", BODY_LEN);
  start(c);
  serve(c,
        "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */20\r\n"
        "Content-Length: 0\r\n\r\n",
        0);
  check_whole(c, BODY);
  assert_int_equal(c->info.http_status, 416);
  end(c);
  free_ctx(c);
}

static void test_no_resume_option(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  write_file(c->part, "0123456789a");
  save_state(c, "\"e1\"", BODY_LEN);
  c->opts.no_resume = 1;
  start(c);
  char resp[512];
  head_200(resp, sizeof resp, "\"e1\"", BODY_LEN);
  nt_test_transport_t *tt = serve(c, resp, 0);
  assert_null(strstr(sent(tt), "Range:"));
  check_whole(c, BODY);
  end(c);
  free_ctx(c);
}

/* --- retries: which, when ------------------------------------------------- */

static void test_404_not_retried(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  start(c);
  serve(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!", 0);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, 0);
  assert_int_equal(c->info.http_status, 404);
  assert_int_equal(c->retries_seen, 0);
  assert_false(exists(c->path));
  assert_false(exists(c->part)); /* the error page is not the file */
  end(c);
  free_ctx(c);
}

static void test_retry_after_honoured(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  cut_then(c, 6, "\"e1\"");
  serve(c,
        "HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n",
        1);
  assert_int_equal(c->retries_seen, 2);
  assert_int_equal(c->why[1], 503);
  assert_int_equal(c->delays[1], 7000);
  assert_int_equal(c->resume_at[1], 6); /* the kept bytes stay */
  nt_test_clock_advance(c->r, 6999);
  assert_int_equal(c->taken, c->npending); /* not before */
  nt_test_clock_advance(c->r, 1);
  settle(c->r);
  char resp[512];
  resp_206(resp, sizeof resp, 6);
  serve(c, resp, 0);
  check_whole(c, BODY);
  end(c);
  free_ctx(c);
}

static void test_backoff_and_give_up(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  c->refuse = NT_ECONNREFUSED;
  c->opts.max_retries = 4;
  c->opts.retry_delay_ms = 1000;
  c->opts.max_retry_delay_ms = 4000;
  start(c);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(c->retries_seen, i + 1);
    uint64_t full = 1000u << (i < 2 ? i : 2); /* 1, 2, 4, 4 s */
    assert_true(c->delays[i] >= full / 2 && c->delays[i] <= full);
    wait_retry(c);
  }
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ECONNREFUSED);
  assert_int_equal(c->info.attempts, 5);
  assert_false(exists(c->part));
  end(c);
  free_ctx(c);
}

/* A cut after 1 MiB or more of body: the retry goes at once; when it moves
 * nothing, the usual wait. A cut after less: the usual wait. */
static void test_retry_at_once_after_progress(void **state) {
  (void)state;
  enum { MOVED = (1 << 20) + 5 }; /* of 3 MiB */
  ctx_t *c = new_ctx();
  c->opts.retry_delay_ms = 1000;
  start(c);
  nt_test_transport_t *tt = serve(
      c, "HTTP/1.1 200 OK\r\nContent-Length: 3145728\r\nETag: \"e1\"\r\n\r\n", 0);
  char *chunk = malloc(MOVED);
  assert_non_null(chunk);
  memset(chunk, 'x', MOVED);
  nt_test_feed(tt, chunk, MOVED);
  free(chunk);
  settle(c->r);
  nt_test_feed_eof(tt);
  settle(c->r);
  assert_int_equal(c->retries_seen, 1);
  assert_int_equal(c->delays[0], 0);
  assert_int_equal(c->resume_at[0], MOVED);
  wait_retry(c);
  serve(c, "", 1); /* the retry moves nothing: now it waits */
  assert_int_equal(c->retries_seen, 2);
  assert_true(c->delays[1] >= 500 && c->delays[1] <= 1000);
  end(c);
  free_ctx(c);

  c = new_ctx();
  c->opts.retry_delay_ms = 1000;
  cut_then(c, 9, "\"e1\""); /* 9 bytes moved: not enough to skip the wait */
  assert_true(c->delays[0] >= 500 && c->delays[0] <= 1000);
  end(c);
  free_ctx(c);
}

static void test_certificate_not_retried(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  c->refuse = NT_ETLS_VERIFY;
  start(c);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ETLS_VERIFY);
  assert_int_equal(c->retries_seen, 0);
  end(c);
  free_ctx(c);
}

static void test_total_limit_ends_waits(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  c->refuse = NT_ECONNREFUSED;
  c->opts.max_retries = 50;
  c->opts.retry_delay_ms = 1000;
  c->opts.timeout_ms = 5000;
  start(c);
  for (int i = 0; i < 20 && !c->done; i++) wait_retry(c);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ECONNREFUSED);
  assert_true(c->retries_seen < 6);
  end(c);
  free_ctx(c);
}

static void test_cancel_keeps_part(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  cut_then(c, 9, "\"e1\"");
  nt_http_download_cancel(c->dl); /* while waiting to retry */
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ECANCELED);
  assert_true(exists(c->part));
  assert_true(exists(c->state)); /* the same command continues it */
  end(c);
  free_ctx(c);
}

/* --- digests -------------------------------------------------------------- */

/* sha-256 of BODY, base64: echo -n 0123456789abcdefghij | sha256sum */
static void b64_of(nt__dg_alg_t alg, const char *data, char *out) {
  nt__digest_t *d = nt__digest_new(alg);
  nt__digest_update(d, data, strlen(data));
  unsigned char md[NT__DG_MAX];
  size_t n = nt__digest_final(d, md);
  nt__base64(md, n, out);
}

static void test_repr_digest(void **state) {
  (void)state;
  char b64[128], resp[1024];
  for (int good = 0; good <= 1; good++) {
    ctx_t *c = new_ctx();
    cut_then(c, 8, "\"e1\"");
    b64_of(NT__DG_SHA256, good ? BODY : "something else", b64);
    /* Repr-Digest covers the whole file, checked after the resume */
    snprintf(resp, sizeof resp,
             "HTTP/1.1 206 Partial Content\r\nContent-Length: 12\r\n"
             "Content-Range: bytes 8-19/20\r\nRepr-Digest: md5=:AAAAAAAAAAAAAAAAAAAAAA==:, "
             "sha-256=:%s:\r\n\r\n%s",
             b64, BODY + 8);
    serve(c, resp, 0);
    if (good) {
      check_whole(c, BODY);
      assert_string_equal(c->verified, "Repr-Digest SHA-256");
    } else {
      assert_int_equal(c->done, 1);
      assert_int_equal(c->status, NT_EDIGEST);
      assert_false(exists(c->path));
      assert_true(exists(c->part));   /* kept to look at */
      assert_false(exists(c->state)); /* but never continued */
      assert_non_null(strstr(c->error, "Repr-Digest SHA-256"));
    }
    end(c);
    free_ctx(c);
  }
}

static void test_content_md5_of_range(void **state) {
  (void)state;
  char b64[128], resp[1024];
  for (int good = 0; good <= 1; good++) {
    ctx_t *c = new_ctx();
    cut_then(c, 8, "\"e1\"");
    /* Content-MD5 covers this answer's bytes only */
    b64_of(NT__DG_MD5, good ? BODY + 8 : BODY, b64);
    snprintf(resp, sizeof resp,
             "HTTP/1.1 206 Partial Content\r\nContent-Length: 12\r\n"
             "Content-Range: bytes 8-19/20\r\nContent-MD5: %s\r\n\r\n%s",
             b64, BODY + 8);
    serve(c, resp, 0);
    if (good) {
      check_whole(c, BODY);
      assert_string_equal(c->verified, "Content-MD5 MD5");
    } else {
      assert_int_equal(c->status, NT_EDIGEST);
      assert_true(exists(c->part));
    }
    end(c);
    free_ctx(c);
  }
}

static void test_content_digest_sha512_no_verify(void **state) {
  (void)state;
  char b64[200], resp[1024];
  for (int nv = 0; nv <= 1; nv++) {
    ctx_t *c = new_ctx();
    c->opts.no_verify = nv;
    start(c);
    b64_of(NT__DG_SHA512, "not the body", b64);
    snprintf(resp, sizeof resp,
             "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n"
             "Content-Digest: sha-512=:%s:\r\n\r\n%s",
             b64, BODY);
    serve(c, resp, 0);
    if (nv) {
      check_whole(c, BODY);
      assert_string_equal(c->verified, "");
    } else {
      assert_int_equal(c->status, NT_EDIGEST);
    }
    end(c);
    free_ctx(c);
  }
}

/* --- the pure parts ------------------------------------------------------- */

static void test_parsers(void **state) {
  (void)state;
  int64_t a, b, t;
  assert_int_equal(nt__dl_parse_content_range("bytes 5-19/20", &a, &b, &t), 0);
  assert_true(a == 5 && b == 19 && t == 20);
  assert_int_equal(nt__dl_parse_content_range("bytes 5-19/*", &a, &b, &t), 0);
  assert_true(t == -1);
  assert_int_equal(nt__dl_parse_content_range("bytes */20", &a, &b, &t), 0);
  assert_true(a == -1 && t == 20);
  const char *bad[] = {"bytes 5-4/20", "bytes 5-20/20", "items 1-2/3",
                       "bytes */*",    "bytes 1-2",     "bytes 1-2/3 x",
                       "bytes -1-2/3", "",              "bytes 99999999999999999999-1/2"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(nt__dl_parse_content_range(bad[i], &a, &b, &t), -1);
  assert_int_equal(nt__dl_parse_content_range(NULL, &a, &b, &t), -1);

  assert_int_equal(nt__dl_parse_retry_after("120", 0), 120000);
  assert_int_equal(nt__dl_parse_retry_after(" 0 ", 0), 0);
  assert_int_equal(nt__dl_parse_retry_after("soon", 0), -1);
  /* Thu, 01 Jan 1970 00:01:40 GMT is t=100 */
  assert_int_equal(
      nt__dl_parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", 90), 10000);
  assert_int_equal(
      nt__dl_parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", 200), 0);

  nt__dl_digest_t d;
  assert_int_equal(nt__dl_parse_digest_field(
                       "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:", &d),
                   0);
  assert_int_equal(d.alg, NT__DG_SHA256);
  assert_int_equal(d.len, 32);
  assert_int_equal(nt__dl_parse_digest_field("unixsum=30637, id-sha-256=:x:", &d), 0);
  assert_int_equal(d.alg, NT__DG_NONE); /* nothing we compute */
  assert_int_equal(nt__dl_parse_digest_field("sha-256=:short:", &d), -1);
  assert_int_equal(nt__dl_parse_digest_field("sha-256=:abc", &d), -1);
  assert_int_equal(nt__dl_parse_content_md5("rL0Y20zC+Fzt72VPzMSk2A==", &d), 0);
  assert_int_equal(d.alg, NT__DG_MD5);
  assert_int_equal(nt__dl_parse_content_md5("nope", &d), -1);

  assert_true(nt__dl_transient(NT_ECONNRESET));
  assert_true(nt__dl_transient(NT_ETIMEDOUT));
  assert_true(nt__dl_transient(NT_EUNEXPECTEDEOF));
  assert_true(nt__dl_transient(NT_ETLS_TRUNCATED));
  assert_false(nt__dl_transient(NT_ETLS_UNKNOWN_CA));
  assert_false(nt__dl_transient(NT_EDNS_NXDOMAIN));
  assert_false(nt__dl_transient(NT_ECANCELED));
  assert_true(nt__dl_retryable_status(503));
  assert_false(nt__dl_retryable_status(404));
  assert_false(nt__dl_retryable_status(501));

  /* the backoff: half fixed, half random, doubling up to the cap */
  assert_int_equal(nt__backoff(1000, 60000, 0, 0), 500);
  assert_true(nt__backoff(1000, 60000, 0, UINT32_MAX) <= 1000);
  assert_true(nt__backoff(1000, 60000, 0, UINT32_MAX) >= 999);
  assert_int_equal(nt__backoff(1000, 60000, 3, 0), 4000);
  assert_int_equal(nt__backoff(1000, 5000, 10, 0), 2500);
  assert_int_equal(nt__backoff(1000, 5000, 1000, 0), 2500);
}

static void test_bad_options(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  assert_int_equal(nt_http_client_new(c->r, NULL, &c->client), 0);
  nt_http_download_options_t o = c->opts;
  const char *hdrs[] = {"Range: bytes=0-1", NULL};
  o.headers = hdrs;
  nt_http_download_t *d = (nt_http_download_t *)&o;
  assert_int_equal(nt_http_download_start(c->client, &o, &cbs, c, &d),
                   NT_EINVAL);
  assert_null(d);
  o.headers = NULL;
  o.path = NULL;
  assert_int_equal(nt_http_download_start(c->client, &o, &cbs, c, &d),
                   NT_EINVAL);
  o.path = c->path;
  o.url = "ftp://x/";
  assert_int_equal(nt_http_download_start(c->client, &o, &cbs, c, &d),
                   NT_EHTTP_SCHEME);
  assert_false(exists(c->part));
  end(c);
  free_ctx(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cut_at_every_byte),
      cmocka_unit_test(test_resume_each_split),
      cmocka_unit_test(test_changed_resource_restarts),
      cmocka_unit_test(test_server_without_ranges),
      cmocka_unit_test(test_wrong_range_restarts),
      cmocka_unit_test(test_weak_etag_uses_last_modified),
      cmocka_unit_test(test_no_validator_restarts),
      cmocka_unit_test(test_continue_after_kill),
      cmocka_unit_test(test_state_for_another_url),
      cmocka_unit_test(test_part_without_state_restarts),
      cmocka_unit_test(test_416_already_whole),
      cmocka_unit_test(test_no_resume_option),
      cmocka_unit_test(test_404_not_retried),
      cmocka_unit_test(test_retry_after_honoured),
      cmocka_unit_test(test_backoff_and_give_up),
      cmocka_unit_test(test_retry_at_once_after_progress),
      cmocka_unit_test(test_certificate_not_retried),
      cmocka_unit_test(test_total_limit_ends_waits),
      cmocka_unit_test(test_cancel_keeps_part),
      cmocka_unit_test(test_repr_digest),
      cmocka_unit_test(test_content_md5_of_range),
      cmocka_unit_test(test_content_digest_sha512_no_verify),
      cmocka_unit_test(test_parsers),
      cmocka_unit_test(test_bad_options),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
