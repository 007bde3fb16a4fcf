/* Resumable uploads (tus 1.0) on the test reactor: every state transition of
 * the upload (discover, create, offset, append, wait, terminate, done), each
 * with the answers that lead out of it; the checksum extension (each piece's
 * Upload-Checksum checked against OpenSSL here, 460 and a retry); the
 * journal (written after creation and each piece, resumed from, ignored when
 * it is for another file, removed when done); answers split at every byte
 * boundary; honest progress (confirmed bytes apart from bytes in flight);
 * the header parsers. The test plays the server through a connect hook and
 * in-memory transports; every answer says "Connection: close", so each
 * request is one connection. */
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
#include <openssl/evp.h>

#include "http-int.h"
#include "nettool/journal.h"
#include "nettool/testing.h"
#include "nettool/tus.h"
#include "tus-int.h"

#define MAXC 64
#define EP "http://h.test/files"

static void settle(nt_reactor_t *r) { nt_test_clock_advance(r, 0); }

typedef struct {
  nt_reactor_t *r;
  nt_http_client_t *client;
  nt_factory_t *pending[MAXC];
  int npending, taken, refuse;
  nt_test_transport_t *conns[MAXC];
  int nconns;
  char dir[64], path[128], journal[160];
  nt_upload_options_t o;
  nt_upload_t *up;
  int done, status, retries_seen, offsets_seen;
  uint64_t last_delay;
  char error[512], url[256];
  nt_upload_progress_t p;
} ctx_t;

static void fail_cb(void *arg) {
  ctx_t *c = arg;
  nt_factory_t *f = c->pending[c->taken++];
  f->ops->connection_failed(f, NULL, NT_ECONNREFUSED);
}

static int hook(void *arg, nt_reactor_t *r, const char *host, int port, int https,
                nt_factory_t *f) {
  (void)r, (void)host, (void)port, (void)https;
  ctx_t *c = arg;
  assert_true(c->npending < MAXC);
  c->pending[c->npending++] = f;
  if (c->refuse) {
    c->refuse--;
    nt_call_soon(c->r, fail_cb, c);
  }
  return 0;
}

static void on_done(nt_upload_t *u, int status, void *arg) {
  ctx_t *c = arg;
  c->done++;
  c->status = status;
  nt_upload_progress(u, &c->p);
  snprintf(c->error, sizeof c->error, "%s", nt_upload_error(u));
  snprintf(c->url, sizeof c->url, "%s", nt_upload_url(u) ? nt_upload_url(u) : "");
  c->up = NULL;
}
static void on_retry(nt_upload_t *u, int st, uint64_t delay, void *arg) {
  (void)u, (void)st;
  ctx_t *c = arg;
  c->retries_seen++;
  c->last_delay = delay;
}
static void on_offset(nt_upload_t *u, uint64_t off, void *arg) {
  (void)u, (void)off;
  ((ctx_t *)arg)->offsets_seen++;
}
static const nt_upload_callbacks_t cbs = {on_done, on_retry, on_offset};

static void write_file(const char *p, const char *data, size_t n) {
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, n), (ssize_t)n);
  close(fd);
}

#define DATA "0123456789"

static ctx_t *new_ctx(void) {
  ctx_t *c = calloc(1, sizeof *c);
  assert_int_equal(nt_test_reactor_new(&c->r), 0);
  assert_int_equal(nt_http_client_new(c->r, NULL, &c->client), 0);
  nt__http_client_set_connect_hook(c->client, hook, c);
  snprintf(c->dir, sizeof c->dir, "/tmp/nt-tus-XXXXXX");
  assert_non_null(mkdtemp(c->dir));
  snprintf(c->path, sizeof c->path, "%s/f.bin", c->dir);
  snprintf(c->journal, sizeof c->journal, "%s.nettool-upload", c->path);
  write_file(c->path, DATA, 10);
  c->o.endpoint = EP;
  c->o.path = c->path;
  return c;
}

static void start(ctx_t *c) {
  c->done = c->status = c->retries_seen = c->offsets_seen = 0;
  assert_int_equal(nt_upload_start(c->client, &c->o, &cbs, c, &c->up), 0);
  assert_int_equal(c->npending - c->taken, 0); /* nothing inside start */
  settle(c->r);
}

static void free_conns(ctx_t *c) {
  for (int i = 0; i < c->nconns; i++) nt_test_transport_free(c->conns[i]);
  c->nconns = 0;
  settle(c->r);
}

static void free_ctx(ctx_t *c) {
  if (c->up) {
    nt_upload_cancel(c->up);
    settle(c->r);
  }
  nt_http_client_free(c->client);
  settle(c->r);
  while (c->taken < c->npending) {
    nt_factory_t *f = c->pending[c->taken++];
    f->ops->connection_failed(f, NULL, NT_ECANCELED);
  }
  settle(c->r);
  free_conns(c);
  assert_int_equal(nt_test_reactor_free(c->r), 0);
  nt_journal_remove(c->journal);
  unlink(c->path);
  rmdir(c->dir);
  free(c);
}

/* File pieces wait in the transport's queue until the "socket" drains it
 * (as sendfile on a socket that is writable again). */
static void flush(ctx_t *c, nt_test_transport_t *tt) {
  size_t before, after;
  do {
    nt_test_output(tt, &before);
    nt_test_drain(tt, 0);
    settle(c->r);
    nt_test_output(tt, &after);
  } while (after != before);
}

/* The next request: its connection accepted, what the client sent. */
static nt_test_transport_t *next_conn(ctx_t *c) {
  settle(c->r);
  if (c->taken >= c->npending) fail_msg("no request pending (done %d: %s)", c->done, c->error);
  nt_factory_t *f = c->pending[c->taken++];
  nt_protocol_t *p = f->ops->build_protocol(f, NULL, 0);
  assert_non_null(p);
  nt_test_transport_t *tt = nt_test_transport_new(c->r, p);
  assert_true(c->nconns < MAXC);
  c->conns[c->nconns++] = tt;
  flush(c, tt);
  return tt;
}

/* Expects a request starting with `line` and containing every NULL-ended
 * `has` string, then answers it. Returns what was sent (static copy). */
static const char *serve(ctx_t *c, const char *line, const char *answer, ...) {
  static char sent[8192];
  nt_test_transport_t *tt = next_conn(c);
  size_t n;
  const char *out = nt_test_output(tt, &n);
  snprintf(sent, sizeof sent, "%.*s", (int)n, out);
  if (strncmp(sent, line, strlen(line))) fail_msg("sent '%s', want '%s...'", sent, line);
  va_list ap;
  va_start(ap, answer);
  for (const char *h; (h = va_arg(ap, const char *));)
    if (!strstr(sent, h)) fail_msg("request lacks '%s':\n%s", h, sent);
  va_end(ap);
  nt_test_feed_str(tt, answer);
  settle(c->r);
  return sent;
}

#define OPTIONS_OK                                                             \
  "HTTP/1.1 204 No Content\r\nTus-Resumable: 1.0.0\r\nTus-Version: 1.0.0\r\n" \
  "Tus-Extension: creation,termination\r\nConnection: close\r\n\r\n"
#define OPTIONS_CK                                                             \
  "HTTP/1.1 204 No Content\r\nTus-Resumable: 1.0.0\r\nTus-Version: 1.0.0\r\n" \
  "Tus-Extension: creation,checksum\r\nTus-Checksum-Algorithm: md5,sha1\r\n"   \
  "Connection: close\r\n\r\n"
#define CREATED(loc)                                                           \
  "HTTP/1.1 201 Created\r\nTus-Resumable: 1.0.0\r\nLocation: " loc "\r\n"      \
  "Content-Length: 0\r\nConnection: close\r\n\r\n"
#define PATCHED(off)                                                           \
  "HTTP/1.1 204 No Content\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: " off     \
  "\r\nConnection: close\r\n\r\n"
#define HEADOK(off, len)                                                       \
  "HTTP/1.1 200 OK\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: " off "\r\n"      \
  "Upload-Length: " len "\r\nCache-Control: no-store\r\nContent-Length: 0\r\n" \
  "Connection: close\r\n\r\n"
#define STATUS(code)                                                           \
  "HTTP/1.1 " code " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

static void journal_has(ctx_t *c, const char *key, const char *want) {
  nt_journal_t *j;
  int rc = nt_journal_load(c->journal, &j);
  if (rc) fail_msg("journal: %s", nt_strerror(rc));
  const char *v = nt_journal_get(j, key);
  if (!v || strcmp(v, want)) fail_msg("journal %s = '%s', want '%s'", key, v ? v : "(none)", want);
  nt_journal_free(j);
}

/* --- the way through ---------------------------------------------------------- */

static void test_fresh_upload(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  const char *keys[] = {"note"}, *vals[] = {"h\xc3\xa9llo"};
  c->o.meta_keys = keys;
  c->o.meta_values = vals;
  c->o.nmeta = 1;
  start(c);
  serve(c, "OPTIONS /files HTTP/1.1\r\n", OPTIONS_OK, NULL);
  assert_int_equal(access(c->journal, F_OK), -1); /* nothing before creation */
  serve(c, "POST /files HTTP/1.1\r\n", CREATED("/files/abc"), "\r\nUpload-Length: 10\r\n",
        "\r\nTus-Resumable: 1.0.0\r\n", "\r\nUpload-Metadata: note aMOpbGxv\r\n", NULL);
  /* the journal names the upload before a byte is sent */
  journal_has(c, "url", "http://h.test/files/abc");
  journal_has(c, "length", "10");
  const char *sent = serve(c, "PATCH /files/abc HTTP/1.1\r\n", PATCHED("10"),
                           "\r\nUpload-Offset: 0\r\n",
                           "\r\nContent-Type: application/offset+octet-stream\r\n",
                           "\r\nContent-Length: 10\r\n", "\r\n\r\n" DATA, NULL);
  assert_null(strstr(sent, "Upload-Checksum")); /* not offered */
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, 0);
  assert_string_equal(c->url, "http://h.test/files/abc");
  assert_int_equal(c->p.acked, 10);
  assert_int_equal(c->p.total, 10);
  assert_int_equal(c->p.resumed_from, 0);
  assert_int_equal(c->p.sent, 10);
  assert_int_equal(access(c->journal, F_OK), -1); /* removed when done */
  free_ctx(c);
}

static void test_empty_file(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  write_file(c->path, "", 0);
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("http://h.test/files/e"), "Upload-Length: 0\r\n", NULL);
  settle(c->r);
  assert_int_equal(c->done, 1); /* no PATCH for nothing */
  assert_int_equal(c->status, 0);
  free_ctx(c);
}

/* sha1 of DATA[off, off+len) as tus sends it */
static void sha1_b64(size_t off, size_t len, char *out) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned dl;
  EVP_Digest(DATA + off, len, d, &dl, EVP_sha1(), NULL);
  nt__base64(d, dl, out);
}

static void test_checksum_pieces(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  c->o.chunk_size = 4;
  c->o.max_retries = 1;
  start(c);
  serve(c, "OPTIONS", OPTIONS_CK, NULL);
  serve(c, "POST", CREATED("/files/ck"), NULL);
  char want[128], b64[64];
  sha1_b64(0, 4, b64);
  snprintf(want, sizeof want, "\r\nUpload-Checksum: sha1 %s\r\n", b64);
  struct stat j0, j1;
  assert_int_equal(stat(c->journal, &j0), 0);
  serve(c, "PATCH /files/ck", PATCHED("4"), want, "Upload-Offset: 0\r\n", "\r\n\r\n0123", NULL);
  /* not rewritten after a piece (a save renames a new file over it) */
  assert_int_equal(stat(c->journal, &j1), 0);
  assert_int_equal(j0.st_ino, j1.st_ino);
  sha1_b64(4, 4, b64);
  snprintf(want, sizeof want, "\r\nUpload-Checksum: sha1 %s\r\n", b64);
  /* the server says the piece arrived damaged: 460, a retry, HEAD first */
  serve(c, "PATCH /files/ck", STATUS("460"), want, "Upload-Offset: 4\r\n", "\r\n\r\n4567", NULL);
  assert_int_equal(c->retries_seen, 1);
  assert_true(c->last_delay >= 500 && c->last_delay <= 1000);
  nt_upload_progress(c->up, &c->p);
  assert_string_equal(c->p.state, "wait");
  assert_int_equal(c->p.checksum_rejects, 1);
  assert_string_equal(c->p.checksum, "sha1");
  nt_test_clock_advance(c->r, 1000);
  serve(c, "HEAD /files/ck", HEADOK("4", "10"), "Cache-Control: no-store", NULL);
  serve(c, "PATCH /files/ck", PATCHED("8"), want, "\r\n\r\n4567", NULL);
  sha1_b64(8, 2, b64);
  snprintf(want, sizeof want, "\r\nUpload-Checksum: sha1 %s\r\n", b64);
  serve(c, "PATCH /files/ck", PATCHED("10"), want, "Content-Length: 2\r\n", "\r\n\r\n89", NULL);
  settle(c->r);
  assert_int_equal(c->status, 0);
  assert_int_equal(c->p.sent, 14); /* 10 + the 4 resent */
  free_ctx(c);
}

static void test_checksum_gives_up(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  start(c);
  serve(c, "OPTIONS", OPTIONS_CK, NULL);
  serve(c, "POST", CREATED("/files/ck"), NULL);
  serve(c, "PATCH", STATUS("460"), "Upload-Checksum: sha1 ", NULL);
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_EUPLOAD_CHECKSUM);
  assert_non_null(strstr(c->error, "460"));
  /* the journal stays: the next run asks the server */
  journal_has(c, "url", "http://h.test/files/ck");
  free_ctx(c);
}

static void test_checksum_off_and_require(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  c->o.checksum = NT_UPLOAD_CHECKSUM_OFF;
  start(c);
  serve(c, "OPTIONS", OPTIONS_CK, NULL);
  serve(c, "POST", CREATED("/files/x"), NULL);
  const char *sent = serve(c, "PATCH", PATCHED("10"), NULL);
  assert_null(strstr(sent, "Upload-Checksum"));
  settle(c->r);
  assert_int_equal(c->status, 0);
  free_ctx(c);

  c = new_ctx();
  c->o.checksum = NT_UPLOAD_CHECKSUM_REQUIRE;
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  settle(c->r);
  assert_int_equal(c->status, NT_EUPLOAD_PROTOCOL);
  assert_non_null(strstr(c->error, "checksum"));
  free_ctx(c);
}

/* A "killed" run (cancelled: the journal stays, as after SIGKILL), then the
 * same upload again: HEAD, and only the rest is sent. */
static void test_resume_from_journal(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/r"), NULL);
  next_conn(c); /* the PATCH goes out... and the process dies */
  nt_upload_cancel(c->up);
  settle(c->r);
  assert_int_equal(c->status, NT_ECANCELED);
  journal_has(c, "url", "http://h.test/files/r");
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "HEAD /files/r HTTP/1.1", HEADOK("6", "10"), "Tus-Resumable: 1.0.0", NULL);
  serve(c, "PATCH /files/r", PATCHED("10"), "Upload-Offset: 6\r\n", "Content-Length: 4\r\n",
        "\r\n\r\n6789", NULL);
  settle(c->r);
  assert_int_equal(c->status, 0);
  assert_int_equal(c->p.resumed_from, 6);
  assert_int_equal(c->p.sent, 4);
  assert_int_equal(c->p.restarts, 0);
  free_ctx(c);
}

/* The journal is for another file (or a changed one): a new upload. */
static void test_journal_other_file(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  nt_journal_t *j;
  assert_int_equal(nt_journal_new(&j), 0);
  nt_journal_set(j, "dialect", "tus 1.0.0");
  nt_journal_set(j, "endpoint", EP);
  nt_journal_set(j, "file", "10:1:2:3"); /* not this file's identity */
  nt_journal_set(j, "metadata", "");
  nt_journal_set(j, "url", "http://h.test/files/old");
  assert_int_equal(nt_journal_save(j, c->journal), 0);
  nt_journal_free(j);
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST /files", CREATED("/files/new"), NULL); /* no HEAD */
  journal_has(c, "url", "http://h.test/files/new");
  serve(c, "PATCH /files/new", PATCHED("10"), NULL);
  settle(c->r);
  assert_int_equal(c->status, 0);
  /* a damaged journal is ignored the same way */
  write_file(c->journal, "nettool-journal 1\nurl=x\n", 24);
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST /files", CREATED("/files/new2"), NULL);
  serve(c, "PATCH /files/new2", PATCHED("10"), NULL);
  settle(c->r);
  assert_int_equal(c->status, 0);
  free_ctx(c);
}

/* The server lost the upload: HEAD 404 (and 410, 403), PATCH 404/410. */
static void test_lost_upload(void **state) {
  (void)state;
  static const char *const heads[] = {STATUS("404"), STATUS("410"), STATUS("403")};
  for (size_t i = 0; i < 3; i++) {
    ctx_t *c = new_ctx();
    start(c);
    serve(c, "OPTIONS", OPTIONS_OK, NULL);
    serve(c, "POST", CREATED("/files/a"), NULL);
    next_conn(c);
    nt_upload_cancel(c->up);
    settle(c->r);
    start(c);
    serve(c, "OPTIONS", OPTIONS_OK, NULL);
    serve(c, "HEAD /files/a", heads[i], NULL);
    serve(c, "POST /files", CREATED("/files/b"), NULL);
    journal_has(c, "url", "http://h.test/files/b");
    serve(c, "PATCH /files/b", PATCHED("10"), "Upload-Offset: 0\r\n", NULL);
    settle(c->r);
    assert_int_equal(c->status, 0);
    assert_int_equal(c->p.restarts, 1);
    free_ctx(c);
  }
  /* mid-upload: PATCH 410 */
  ctx_t *c = new_ctx();
  c->o.chunk_size = 5;
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/a"), NULL);
  serve(c, "PATCH /files/a", PATCHED("5"), NULL);
  serve(c, "PATCH /files/a", STATUS("410"), NULL);
  serve(c, "POST /files", CREATED("/files/c"), NULL);
  serve(c, "PATCH /files/c", PATCHED("5"), "Upload-Offset: 0\r\n", NULL);
  serve(c, "PATCH /files/c", PATCHED("10"), NULL);
  settle(c->r);
  assert_int_equal(c->status, 0);
  /* a server that keeps losing it: bounded */
  free_ctx(c);
  c = new_ctx();
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  for (int i = 0; i < 4; i++) {
    serve(c, "POST", CREATED("/files/z"), NULL);
    serve(c, "PATCH", STATUS("404"), NULL);
  }
  settle(c->r);
  assert_int_equal(c->status, NT_EUPLOAD_EXPIRED);
  free_ctx(c);
}

/* HEAD: a different length, or an offset past the end: a new upload. */
static void test_head_mismatch(void **state) {
  (void)state;
  static const char *const answers[] = {HEADOK("3", "11"), HEADOK("12", "10")};
  for (int i = 0; i < 2; i++) {
    ctx_t *c = new_ctx();
    start(c);
    serve(c, "OPTIONS", OPTIONS_OK, NULL);
    serve(c, "POST", CREATED("/files/a"), NULL);
    next_conn(c);
    nt_upload_cancel(c->up);
    settle(c->r);
    start(c);
    serve(c, "OPTIONS", OPTIONS_OK, NULL);
    serve(c, "HEAD /files/a", answers[i], NULL);
    serve(c, "POST", CREATED("/files/b"), NULL);
    serve(c, "PATCH /files/b", PATCHED("10"), NULL);
    settle(c->r);
    assert_int_equal(c->status, 0);
    free_ctx(c);
  }
}

/* 409: the offset was not the server's; HEAD tells, and it goes on. */
static void test_conflict(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  c->o.max_retries = 2;
  c->o.retry_delay_ms = 100;
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/a"), NULL);
  serve(c, "PATCH", STATUS("409"), NULL);
  assert_int_equal(c->retries_seen, 1);
  nt_test_clock_advance(c->r, 100);
  serve(c, "HEAD", HEADOK("7", "10"), NULL);
  serve(c, "PATCH", PATCHED("10"), "Upload-Offset: 7\r\n", "\r\n\r\n789", NULL);
  settle(c->r);
  assert_int_equal(c->status, 0);
  free_ctx(c);
  /* without retries: NT_EUPLOAD_OFFSET */
  c = new_ctx();
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/a"), NULL);
  serve(c, "PATCH", STATUS("409"), NULL);
  settle(c->r);
  assert_int_equal(c->status, NT_EUPLOAD_OFFSET);
  free_ctx(c);
}

/* Network errors and 5xx: wait (doubling, Retry-After), then ask. */
static void test_transient(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  c->o.max_retries = 4;
  c->o.retry_delay_ms = 1000;
  c->refuse = 1;
  start(c);
  settle(c->r);
  assert_int_equal(c->retries_seen, 1); /* connection refused */
  assert_true(c->last_delay >= 500 && c->last_delay <= 1000);
  c->taken = c->npending; /* the refused one */
  nt_test_clock_advance(c->r, 1000);
  serve(c, "OPTIONS", STATUS("503"), NULL);
  assert_int_equal(c->retries_seen, 2);
  assert_true(c->last_delay >= 1000 && c->last_delay <= 2000); /* doubled */
  nt_test_clock_advance(c->r, 2000);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", "HTTP/1.1 503 X\r\nRetry-After: 7\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        NULL);
  assert_int_equal(c->last_delay, 7000); /* Retry-After wins */
  nt_test_clock_advance(c->r, 6999);
  assert_int_equal(c->npending, c->taken); /* not yet */
  nt_test_clock_advance(c->r, 1);
  serve(c, "POST", CREATED("/files/t"), NULL);
  /* the connection resets in the middle of the PATCH: HEAD, then the rest */
  nt_test_transport_t *tt = next_conn(c);
  nt_test_reset(tt);
  settle(c->r);
  assert_int_equal(c->retries_seen, 4);
  nt_test_clock_advance(c->r, 30000);
  serve(c, "HEAD /files/t", HEADOK("3", "10"), NULL);
  serve(c, "PATCH /files/t", PATCHED("10"), "Upload-Offset: 3\r\n", NULL);
  settle(c->r);
  assert_int_equal(c->status, 0);
  assert_int_equal(c->p.retries, 4);
  free_ctx(c);
  /* out of retries: the last error */
  c = new_ctx();
  c->refuse = 1;
  start(c);
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ECONNREFUSED);
  free_ctx(c);
}

/* A PATCH that sent 1 MiB or more before its connection broke: the retry
 * (HEAD, then the rest) goes at once; when that fails too, the wait. One that
 * sent less waits as before. */
static void test_retry_at_once(void **state) {
  (void)state;
  enum { SIZE = (2 << 20) + 10 };
  ctx_t *c = new_ctx();
  char *data = malloc(SIZE);
  assert_non_null(data);
  memset(data, 'd', SIZE);
  write_file(c->path, data, SIZE);
  free(data);
  c->o.max_retries = 3;
  c->o.retry_delay_ms = 1000;
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/q"), NULL);
  nt_test_transport_t *tt = next_conn(c); /* the PATCH's head, then the body */
  nt_test_feed_str(tt, "HTTP/1.1 100 Continue\r\n\r\n");
  flush(c, tt);
  nt_upload_progress(c->up, &c->p);
  assert_true(c->p.in_flight >= (1 << 20));
  nt_test_reset(tt);
  settle(c->r);
  assert_int_equal(c->retries_seen, 1);
  assert_int_equal(c->last_delay, 0);
  /* no clock advance: the HEAD is already asked; refused */
  assert_int_equal(c->npending - c->taken, 1);
  nt_factory_t *f = c->pending[c->taken++];
  f->ops->connection_failed(f, NULL, NT_ECONNREFUSED);
  settle(c->r);
  assert_int_equal(c->retries_seen, 2);
  assert_true(c->last_delay >= 500); /* the waits begin */
  nt_test_clock_advance(c->r, c->last_delay);
  serve(c, "HEAD /files/q", HEADOK("1048576", "2097162"), NULL);
  serve(c, "PATCH /files/q", PATCHED("2097162"), "Upload-Offset: 1048576\r\n", NULL);
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, 0);
  free_ctx(c);

  /* 10 bytes sent, then the reset: the usual wait */
  c = new_ctx();
  c->o.max_retries = 3;
  c->o.retry_delay_ms = 1000;
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/q"), NULL);
  tt = next_conn(c);
  nt_test_reset(tt);
  settle(c->r);
  assert_int_equal(c->retries_seen, 1);
  assert_true(c->last_delay >= 500 && c->last_delay <= 1000);
  free_ctx(c);
}

/* --retry counts failures in a row: progress between them starts again. */
static void test_retries_reset_on_progress(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  c->o.chunk_size = 2;
  c->o.max_retries = 1;
  c->o.retry_delay_ms = 10;
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/p"), NULL);
  for (int i = 0; i < 5; i++) { /* each piece: a reset, then HEAD, then ok */
    char off[8], next[8], head[256], patched[256];
    snprintf(off, sizeof off, "%d", 2 * i);
    snprintf(next, sizeof next, "%d", 2 * i + 2);
    nt_test_reset(next_conn(c));
    settle(c->r);
    assert_int_equal(c->done, 0);
    nt_test_clock_advance(c->r, 10);
    snprintf(head, sizeof head, HEADOK("%s", "10"), off);
    serve(c, "HEAD", head, NULL);
    snprintf(patched, sizeof patched, PATCHED("%s"), next);
    serve(c, "PATCH", patched, NULL);
  }
  settle(c->r);
  assert_int_equal(c->status, 0);
  assert_int_equal(c->p.retries, 5); /* 5 in all, never 2 in a row */
  free_ctx(c);
  /* two in a row without progress: the end */
  c = new_ctx();
  c->o.max_retries = 1;
  c->o.retry_delay_ms = 10;
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/p"), NULL);
  nt_test_reset(next_conn(c));
  nt_test_clock_advance(c->r, 10);
  serve(c, "HEAD", HEADOK("0", "10"), NULL);
  nt_test_reset(next_conn(c));
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_ECONNRESET);
  free_ctx(c);
}

/* Answers that end it. */
static void test_errors(void **state) {
  (void)state;
  struct {
    const char *options, *post, *patch;
    int status;
    const char *why;
  } cases[] = {
      {STATUS("200"), NULL, NULL, NT_EUPLOAD_PROTOCOL, "Tus-Version"},
      {STATUS("405"), NULL, NULL, NT_EUPLOAD_PROTOCOL, "not a tus endpoint"},
      {STATUS("501"), NULL, NULL, NT_EUPLOAD_PROTOCOL, "not a tus endpoint"},
      {STATUS("401"), NULL, NULL, NT_EUPLOAD_REFUSED, "401"},
      {"HTTP/1.1 204 X\r\nTus-Version: 0.2.2\r\nConnection: close\r\n\r\n", NULL, NULL,
       NT_EUPLOAD_PROTOCOL, "0.2.2"},
      {"HTTP/1.1 204 X\r\nTus-Version: 1.0.0\r\nConnection: close\r\n\r\n", NULL, NULL,
       NT_EUPLOAD_PROTOCOL, "creation"},
      /* no Tus-Version: Tus-Resumable 1.0.0 is enough (as @uploadx/core
       * answers); the limit shows the discovery went through */
      {"HTTP/1.1 204 X\r\nTus-Resumable: 1.0.0\r\nTus-Extension: creation\r\n"
       "Tus-Max-Size: 9\r\nConnection: close\r\n\r\n",
       NULL, NULL, NT_EUPLOAD_REFUSED, "Tus-Max-Size"},
      {"HTTP/1.1 204 X\r\nTus-Resumable: 0.2.2\r\nTus-Extension: creation\r\n"
       "Connection: close\r\n\r\n",
       NULL, NULL, NT_EUPLOAD_PROTOCOL, "Tus-Version"},
      {"HTTP/1.1 204 X\r\nTus-Version: 0.2.2\r\nTus-Resumable: 1.0.0\r\n"
       "Tus-Extension: creation\r\nConnection: close\r\n\r\n",
       NULL, NULL, NT_EUPLOAD_PROTOCOL, "0.2.2"},
      {"HTTP/1.1 204 X\r\nTus-Version: 1.0.0\r\nTus-Extension: creation\r\n"
       "Tus-Max-Size: 9\r\nConnection: close\r\n\r\n",
       NULL, NULL, NT_EUPLOAD_REFUSED, "Tus-Max-Size"},
      {"HTTP/1.1 204 X\r\nTus-Version: 1.0.0\r\nTus-Extension: creation\r\n"
       "Tus-Max-Size: -1\r\nConnection: close\r\n\r\n",
       NULL, NULL, NT_EUPLOAD_PROTOCOL, "Tus-Max-Size"},
      {OPTIONS_OK, STATUS("413"), NULL, NT_EUPLOAD_REFUSED, "413"},
      {OPTIONS_OK, STATUS("412"), NULL, NT_EUPLOAD_PROTOCOL, "412"},
      {OPTIONS_OK, STATUS("200"), NULL, NT_EUPLOAD_PROTOCOL, "HTTP 200"},
      {OPTIONS_OK, STATUS("201"), NULL, NT_EUPLOAD_PROTOCOL, "Location"},
      {OPTIONS_OK, CREATED("http://[bad"), NULL, NT_EUPLOAD_PROTOCOL, "Location"},
      {OPTIONS_OK, CREATED("/files/e"), STATUS("204"), NT_EUPLOAD_PROTOCOL, "no Upload-Offset"},
      {OPTIONS_OK, CREATED("/files/e"), PATCHED("x1"), NT_EUPLOAD_PROTOCOL, "bad Upload-Offset"},
      {OPTIONS_OK, CREATED("/files/e"), PATCHED("11"), NT_EUPLOAD_PROTOCOL, "answered Upload-Offset 11"},
      {OPTIONS_OK, CREATED("/files/e"), STATUS("400"), NT_EUPLOAD_REFUSED, "400"},
      {OPTIONS_OK, CREATED("/files/e"), STATUS("302"), NT_EUPLOAD_PROTOCOL, "302"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ctx_t *c = new_ctx();
    start(c);
    serve(c, "OPTIONS", cases[i].options, NULL);
    if (cases[i].post) serve(c, "POST", cases[i].post, NULL);
    if (cases[i].patch) serve(c, "PATCH", cases[i].patch, NULL);
    settle(c->r);
    if (c->done != 1 || c->status != cases[i].status || !strstr(c->error, cases[i].why))
      fail_msg("case %zu: done %d status %s error '%s'", i, c->done, nt_err_name(c->status),
               c->error);
    free_ctx(c);
  }
}

/* terminate_on_failure: DELETE, then the failure is reported. */
static void test_terminate(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  c->o.terminate_on_failure = 1;
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/d"), NULL);
  serve(c, "PATCH", STATUS("400"), NULL);
  serve(c, "DELETE /files/d HTTP/1.1", STATUS("204"), "Tus-Resumable: 1.0.0", NULL);
  settle(c->r);
  assert_int_equal(c->status, NT_EUPLOAD_REFUSED);
  assert_int_equal(access(c->journal, F_OK), -1);
  free_ctx(c);
  /* cancel during a PATCH: DELETE too */
  c = new_ctx();
  c->o.terminate_on_failure = 1;
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/d"), NULL);
  next_conn(c);
  nt_upload_cancel(c->up);
  serve(c, "DELETE /files/d", STATUS("500"), NULL); /* whatever it says */
  settle(c->r);
  assert_int_equal(c->status, NT_ECANCELED);
  free_ctx(c);
}

/* The file changes between two pieces: stop, never mix two versions. */
static void test_file_changed(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  c->o.chunk_size = 5;
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/a"), NULL);
  nt_test_transport_t *tt = next_conn(c);
  write_file(c->path, "0123456789AB", 12);
  nt_test_feed_str(tt, PATCHED("5"));
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->status, NT_EHTTP_FILE_CHANGED);
  free_ctx(c);
}

/* Progress counts what the server confirmed; bytes in flight apart. */
static void test_progress_honest(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  start(c);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/p"), NULL);
  settle(c->r);
  assert_int_equal(c->taken, c->npending - 1);
  nt_factory_t *f = c->pending[c->taken++];
  nt_test_transport_t *tt = nt_test_transport_new(c->r, f->ops->build_protocol(f, NULL, 0));
  c->conns[c->nconns++] = tt;
  flush(c, tt);
  nt_upload_progress(c->up, &c->p);
  assert_string_equal(c->p.state, "append");
  assert_int_equal(c->p.acked, 0);
  assert_int_equal(c->p.in_flight, 10); /* the kernel took it... */
  nt_test_reset(tt); /* ...and it is lost */
  settle(c->r);
  assert_int_equal(c->done, 1);
  assert_int_equal(c->p.acked, 0); /* never counted as done */
  assert_int_equal(c->p.in_flight, 0);
  free_ctx(c);
}

/* --- every answer split at every byte ------------------------------------------------- */

typedef struct {
  ctx_t *c;
  int phase; /* which answer is split: 0 OPTIONS, 1 POST, 2 HEAD, 3 PATCH */
  size_t runs;
} split_t;

static nt_protocol_t *take(ctx_t *c) {
  settle(c->r);
  assert_true(c->taken < c->npending);
  nt_factory_t *f = c->pending[c->taken++];
  nt_protocol_t *p = f->ops->build_protocol(f, NULL, 0);
  assert_non_null(p);
  return p;
}

static nt_protocol_t *split_build(void *arg) {
  split_t *s = arg;
  ctx_t *c = s->c;
  if (s->phase == 2) { /* a journal to resume from */
    nt_journal_t *j;
    char id[64];
    int fd = open(c->path, O_RDONLY);
    nt_journal_file_id(fd, id, sizeof id);
    close(fd);
    nt_journal_new(&j);
    nt_journal_set(j, "dialect", "tus 1.0.0");
    nt_journal_set(j, "endpoint", EP);
    nt_journal_set(j, "file", id);
    nt_journal_set(j, "metadata", "");
    nt_journal_set(j, "url", "http://h.test/files/s");
    nt_journal_save(j, c->journal);
    nt_journal_free(j);
  }
  start(c);
  if (s->phase >= 1) serve(c, "OPTIONS", OPTIONS_OK, NULL);
  if (s->phase == 3) serve(c, "POST", CREATED("/files/s"), NULL);
  return take(c);
}

static void split_check(void *arg, nt_test_transport_t *tt, const char *how) {
  (void)tt;
  split_t *s = arg;
  ctx_t *c = s->c;
  settle(c->r);
  s->runs++;
  if (s->phase == 3) {
    if (c->done != 1 || c->status) fail_msg("%s: done %d %s %s", how, c->done, nt_err_name(c->status), c->error);
  } else {
    if (c->done) fail_msg("%s: ended early: %s", how, c->error);
    nt_upload_progress(c->up, &c->p);
    const char *want = s->phase == 0 ? "create" : "append";
    if (strcmp(c->p.state, want)) fail_msg("%s: state %s, want %s", how, c->p.state, want);
    if (s->phase == 2 && c->p.acked != 4) fail_msg("%s: offset %llu", how, (unsigned long long)c->p.acked);
    if (s->phase == 1) journal_has(c, "url", "http://h.test/files/s");
    nt_upload_cancel(c->up);
    settle(c->r);
  }
  /* the connections of this run */
  while (c->taken < c->npending) {
    nt_factory_t *f = c->pending[c->taken++];
    f->ops->connection_failed(f, NULL, NT_ECANCELED);
  }
  settle(c->r);
  free_conns(c);
  c->npending = c->taken = 0;
  nt_journal_remove(c->journal);
}

static void test_each_split(void **state) {
  (void)state;
  static const char *const answers[] = {
      "HTTP/1.1 204 No Content\r\nTus-Resumable: 1.0.0\r\nTus-Version: 1.0.0,0.2.2\r\n"
      "Tus-Extension: creation,creation-with-upload,termination,checksum\r\n"
      "Tus-Checksum-Algorithm: sha1\r\nTus-Max-Size: 1000\r\nConnection: close\r\n\r\n",
      CREATED("http://h.test/files/s"),
      HEADOK("4", "10"),
      PATCHED("10"),
  };
  for (int phase = 0; phase < 4; phase++) {
    ctx_t *c = new_ctx();
    split_t s = {c, phase, 0};
    size_t n = nt_test_each_split(c->r, answers[phase], strlen(answers[phase]), 0, split_build,
                                  split_check, &s);
    assert_int_equal(n, s.runs);
    assert_true(n >= strlen(answers[phase]));
    free_ctx(c);
  }
}

/* Credentials in the endpoint: on every request (the upload's URL from the
 * Location carries none), never in the journal or a message. */
static void test_credentials(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  c->o.endpoint = "http://al:s3cret@h.test/files";
  start(c);
  const char *auth = "\r\nAuthorization: Basic YWw6czNjcmV0\r\n";
  serve(c, "OPTIONS", OPTIONS_OK, auth, NULL);
  serve(c, "POST /files", CREATED("/files/cr"), auth, NULL);
  journal_has(c, "endpoint", EP);
  nt_test_transport_t *tt = next_conn(c);
  size_t n;
  const char *sent = nt_test_output(tt, &n);
  assert_non_null(strstr(sent, auth));
  nt_test_feed_str(tt, STATUS("400"));
  settle(c->r);
  assert_int_equal(c->status, NT_EUPLOAD_REFUSED);
  assert_null(strstr(c->error, "s3cret"));
  assert_string_equal(c->url, "http://h.test/files/cr");
  free_ctx(c);
}

/* Two uploads of one file with journals: the second is refused (NT_EBUSY)
 * while the first runs; once it ended, the file is free again. */
static void test_lock(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  start(c);
  nt_upload_t *second;
  assert_int_equal(nt_upload_start(c->client, &c->o, &cbs, c, &second), NT_EBUSY);
  nt_upload_options_t o = c->o;
  o.journal_path = ""; /* no journal: no lock either */
  assert_int_equal(nt_upload_start(c->client, &o, &cbs, c, &second), 0);
  nt_upload_cancel(second);
  settle(c->r);
  serve(c, "OPTIONS", OPTIONS_OK, NULL);
  serve(c, "POST", CREATED("/files/l"), NULL);
  serve(c, "PATCH", PATCHED("10"), NULL);
  settle(c->r);
  assert_int_equal(c->status, 0);
  start(c); /* free again */
  nt_upload_cancel(c->up);
  settle(c->r);
  assert_int_equal(c->status, NT_ECANCELED);
  free_ctx(c);
}

/* --- the API's checks and the parsers ---------------------------------------------- */

static void test_bad_options(void **state) {
  (void)state;
  ctx_t *c = new_ctx();
  nt_upload_t *u;
  nt_upload_options_t o = c->o;
  o.dialect = NT_UPLOAD_DIALECT_IETF;
  assert_int_equal(nt_upload_start(c->client, &o, &cbs, c, &u), NT_ENOTSUP);
  o = c->o;
  o.endpoint = "ftp://h.test/";
  assert_int_equal(nt_upload_start(c->client, &o, &cbs, c, &u), NT_EHTTP_SCHEME);
  o = c->o;
  o.path = "/nonexistent/x";
  assert_int_equal(nt_upload_start(c->client, &o, &cbs, c, &u), NT_ENOENT);
  o.path = c->dir;
  assert_int_equal(nt_upload_start(c->client, &o, &cbs, c, &u), -EISDIR);
  o = c->o;
  const char *k[] = {"bad key"}, *v[] = {"x"};
  o.meta_keys = k, o.meta_values = v, o.nmeta = 1;
  assert_int_equal(nt_upload_start(c->client, &o, &cbs, c, &u), NT_EINVAL);
  o = c->o;
  const char *h[] = {"Bad Header Line", NULL};
  o.headers = h;
  assert_int_equal(nt_upload_start(c->client, &o, &cbs, c, &u), NT_EINVAL);
  /* a newer caller's struct with a field we do not know set */
  struct {
    nt_upload_options_t o;
    int future;
  } big = {c->o, 1};
  assert_int_equal(nt_upload_start_sized(sizeof big, c->client, &big.o, &cbs, c, &u), NT_ENOTSUP);
  assert_int_equal(c->npending, 0);
  free_ctx(c);
}

static void meta_cb(void *arg, const char *k, const char *v, size_t len) {
  char *out = arg;
  size_t n = strlen(out);
  snprintf(out + n, 256 - n, "[%s=%.*s]", k, (int)len, v);
}

static void test_parsers(void **state) {
  (void)state;
  uint64_t x;
  assert_int_equal(nt__tus_parse_u64(" 42 ", &x), 0);
  assert_true(x == 42);
  assert_int_equal(nt__tus_parse_u64("18446744073709551615", &x), 0);
  assert_true(x == UINT64_MAX);
  assert_int_equal(nt__tus_parse_u64("18446744073709551616", &x), -1);
  assert_int_equal(nt__tus_parse_u64("", &x), -1);
  assert_int_equal(nt__tus_parse_u64("+1", &x), -1);
  assert_int_equal(nt__tus_parse_u64("1 2", &x), -1);
  assert_int_equal(nt__tus_parse_u64("0x10", &x), -1);
  assert_true(nt__tus_list_has("1.0.0,0.2.2", "1.0.0"));
  assert_true(nt__tus_list_has(" creation , Checksum", "checksum"));
  assert_false(nt__tus_list_has("creation-with-upload", "creation"));
  assert_false(nt__tus_list_has("", "creation"));
  assert_false(nt__tus_list_has(NULL, "creation"));
  assert_int_equal(nt__tus_pick_checksum("md5, sha256"), NT__UP_CK_SHA256);
  assert_int_equal(nt__tus_pick_checksum("crc32,md5"), NT__UP_CK_MD5);
  assert_int_equal(nt__tus_pick_checksum("sha256,sha1"), NT__UP_CK_SHA1);
  assert_int_equal(nt__tus_pick_checksum("crc32"), NT__UP_CK_NONE);
  assert_true(nt__tus_retry_after("5") == 5000);
  assert_true(nt__tus_retry_after("99999") == 3600000);
  assert_true(nt__tus_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0);
  const char *k[] = {"filename", "empty", "x.y-z_1"}, *v[] = {"a b,c.txt", "", "\x01\xff"};
  char *enc;
  assert_int_equal(nt__tus_metadata_encode(k, v, 3, &enc), 0);
  assert_string_equal(enc, "filename YSBiLGMudHh0,empty,x.y-z_1 Af8=");
  char out[256] = "";
  assert_int_equal(nt__tus_metadata_decode(enc, meta_cb, out), 0);
  assert_string_equal(out, "[filename=a b,c.txt][empty=][x.y-z_1=\x01\xff]");
  free(enc);
  const char *dup[] = {"a", "a"};
  assert_int_equal(nt__tus_metadata_encode(dup, v, 2, &enc), NT_EINVAL);
  assert_int_equal(nt__tus_metadata_encode(k, v, 0, &enc), 0);
  assert_string_equal(enc, "");
  free(enc);
  assert_int_equal(nt__tus_metadata_decode("a YQ=,b", NULL, NULL), -1);
  assert_int_equal(nt__tus_metadata_decode("a Y", NULL, NULL), -1);
  assert_int_equal(nt__tus_metadata_decode("a YQ==x", NULL, NULL), -1);
  assert_int_equal(nt__tus_metadata_decode("a b c", NULL, NULL), -1);
  assert_int_equal(nt__tus_metadata_decode(",", NULL, NULL), -1);
  assert_int_equal(nt__tus_metadata_decode("", NULL, NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fresh_upload),
      cmocka_unit_test(test_empty_file),
      cmocka_unit_test(test_checksum_pieces),
      cmocka_unit_test(test_checksum_gives_up),
      cmocka_unit_test(test_checksum_off_and_require),
      cmocka_unit_test(test_resume_from_journal),
      cmocka_unit_test(test_journal_other_file),
      cmocka_unit_test(test_lost_upload),
      cmocka_unit_test(test_head_mismatch),
      cmocka_unit_test(test_conflict),
      cmocka_unit_test(test_transient),
      cmocka_unit_test(test_retries_reset_on_progress),
      cmocka_unit_test(test_retry_at_once),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_terminate),
      cmocka_unit_test(test_file_changed),
      cmocka_unit_test(test_progress_honest),
      cmocka_unit_test(test_each_split),
      cmocka_unit_test(test_credentials),
      cmocka_unit_test(test_lock),
      cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_parsers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
