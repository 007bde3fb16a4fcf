/* Resumable uploads (nettool/tus.h): the state machine over the HTTP client.
 * The dialect (tus-int.h) says what each step sends and what an answer
 * means; this file decides what comes next, keeps the journal, and retries.
 *
 *   DISCOVER --ok--> OFFSET (journal has a URL) --ok--> APPEND ... --> DONE
 *            \                 \--gone--> CREATE --ok--> APPEND
 *             \--ok (no URL)--> CREATE
 *   APPEND --ok, more--> APPEND     --conflict--> OFFSET
 *          --gone--> CREATE         --checksum, transient--> WAIT --> OFFSET
 *   any request: network error --> WAIT (retries left) --> resync; else FAIL
 *   FAIL (terminate_on_failure and a URL) --> TERMINATE --> done
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backoff-int.h"
#include "download-int.h"
#include "http-int.h"
#include "nettool/journal.h"
#include "reactor-int.h"
#include "tus-int.h"

#define UP_STATES(X)                                                           \
  X(IDLE, "idle")                                                              \
  X(DISCOVER, "discover")                                                      \
  X(OFFSET, "offset")                                                          \
  X(CREATE, "create")                                                          \
  X(APPEND, "append")                                                          \
  X(WAIT, "wait")                                                              \
  X(TERMINATE, "terminate")                                                    \
  X(DONE, "done")

typedef enum {
#define X(s, n) UP_##s,
  UP_STATES(X)
#undef X
} up_state_t;

static const char *const state_names[] = {
#define X(s, n) n,
    UP_STATES(X)
#undef X
};

#define MAX_RESTARTS 3                /* new uploads per run when the server loses one */
#define CHECKSUM_CHUNK (8u << 20)     /* default piece with a checksum */
#define RETRY_CAP_MS 30000
#define AT_ONCE_BYTES (1u << 20) /* a PATCH that sent this much retries at once */
#define JOURNAL_SUFFIX ".nettool-upload"
#define MAX_USER_HEADERS 64

typedef struct {
  nt_http_body_t base;
  nt_upload_t *u;
  uint64_t off, len, pos;
} file_body_t;

struct nt_upload_s {
  nt_reactor_t *r;
  nt_http_client_t *client;
  const nt__upload_dialect_t *d;
  nt_upload_callbacks_t cbs;
  void *arg;
  /* copied options */
  nt_upload_options_t o;
  char *endpoint, *path, *journal_path, *metadata, *user, *password;
  char *shown; /* the endpoint without credentials: journal, messages */
  char *user_headers[MAX_USER_HEADERS];
  size_t nuser;
  /* the file */
  int fd;
  uint64_t total;
  char file_id[64];
  /* the server */
  nt__up_caps_t caps;
  int discovered;
  nt__up_ck_t ck;
  char *url; /* the upload's */
  /* the current step */
  up_state_t state;
  nt__up_call_t call;
  nt__up_request_t rq;
  const char *hdrs[NT__UP_MAX_LINES + MAX_USER_HEADERS + 1];
  char digest[128];
  nt_http_request_t *req;
  file_body_t body;
  /* progress */
  uint64_t acked, resumed_from, sent;
  int resumed_known, retries, restarts, ck_rejects, http_status;
  int in_a_row; /* retries since the server last confirmed a new byte */
  int at_once;  /* the next retry without a wait (see on_req_done) */
  /* ending */
  nt_timer_t retry_timer, total_timer;
  int stopping;     /* cancel or total timeout asked: the status to end with */
  int fail_status;  /* TERMINATE: the status to report after it */
  int finished;
  char error[400];
};

static void set_state(nt_upload_t *u, up_state_t s) {
  if (u->state != s)
    NT__DEBUG("upload: [%s] -> [%s]", state_names[u->state], state_names[s]);
  u->state = s;
}

/* --- the piece of the file a PATCH sends ----------------------------------- */

static int64_t fb_length(nt_http_body_t *b) { return (int64_t)((file_body_t *)b)->len; }
static const char *fb_type(nt_http_body_t *b) {
  (void)b;
  return NULL; /* the dialect's header says it */
}

/* Same size and mtime as when the upload started: else the bytes the server
 * has and the file's no longer belong together. */
static int same_file(nt_upload_t *u) {
  char now[64];
  if (!nt_journal_file_id(u->fd, now, sizeof now)) return -errno;
  return strcmp(now, u->file_id) ? NT_EHTTP_FILE_CHANGED : 0;
}

static int fb_next(nt_http_body_t *b, size_t max, nt_body_piece_t *out) {
  file_body_t *f = (file_body_t *)b;
  if (f->pos >= f->len) return 0;
  uint64_t n = f->len - f->pos;
  if (n > max) n = max;
  memset(out, 0, sizeof *out);
  out->fd = f->u->fd;
  out->offset = f->off + f->pos;
  out->flen = n;
  f->pos += n;
  return 1;
}
static int fb_rewind(nt_http_body_t *b) {
  ((file_body_t *)b)->pos = 0;
  return 0;
}
static int fb_verify(nt_http_body_t *b) { return same_file(((file_body_t *)b)->u); }
static const char *fb_error(nt_http_body_t *b) { return ((file_body_t *)b)->u->path; }

static const nt_http_body_ops_t file_body_ops = {
    .length = fb_length,
    .content_type = fb_type,
    .next = fb_next,
    .rewind = fb_rewind,
    .verify = fb_verify,
    .error = fb_error,
};

/* --- the journal ------------------------------------------------------------ */

/* The journal's record of what this upload is: all must match to resume.
 * No offset: the server's (HEAD) decides where a resumed upload goes on, so
 * the journal is written when the upload is made, not after every piece
 * (each save is two fsyncs: on a disk they cost 5-30 ms, per 8 MiB piece). */
static int journal_fill(nt_upload_t *u, nt_journal_t *j) {
  int rc = nt_journal_set(j, "dialect", u->d->name);
  if (!rc) rc = nt_journal_set(j, "endpoint", u->shown);
  if (!rc) rc = nt_journal_set(j, "file", u->file_id);
  if (!rc) rc = nt_journal_set(j, "metadata", u->metadata);
  if (!rc) rc = nt_journal_set_u64(j, "length", u->total);
  if (!rc && u->url) rc = nt_journal_set(j, "url", u->url);
  return rc;
}

static int journal_save(nt_upload_t *u) {
  if (!u->journal_path) return 0;
  nt_journal_t *j;
  int rc = nt_journal_new(&j);
  if (!rc) rc = journal_fill(u, j);
  if (!rc) rc = nt_journal_save(j, u->journal_path);
  nt_journal_free(j);
  if (rc)
    snprintf(u->error, sizeof u->error, "cannot write the journal %s: %s",
             u->journal_path, nt_strerror(rc));
  return rc;
}

/* Takes the upload URL from a journal that describes this very upload. */
static void journal_resume(nt_upload_t *u) {
  if (!u->journal_path) return;
  nt_journal_t *j;
  int rc = nt_journal_load(u->journal_path, &j);
  if (rc) {
    if (rc != NT_ENOENT)
      nt__log(NT__LOG_WARN, "upload: journal %s ignored: %s", u->journal_path,
              nt_strerror(rc));
    return;
  }
  static const char *const keys[] = {"dialect", "endpoint", "file", "metadata"};
  const char *want[] = {u->d->name, u->shown, u->file_id, u->metadata};
  int same = 1;
  for (size_t i = 0; i < 4; i++) {
    const char *v = nt_journal_get(j, keys[i]);
    if (!v || strcmp(v, want[i])) {
      NT__DEBUG("upload: journal %s is for another upload (%s differs): starting anew",
                u->journal_path, keys[i]);
      same = 0;
      break;
    }
  }
  const char *url = nt_journal_get(j, "url");
  if (same && url && *url) {
    u->url = nt__strdup(url);
    NT__DEBUG("upload: journal: resuming %s", url);
  }
  nt_journal_free(j);
}

/* --- ending ------------------------------------------------------------------ */

static void free_upload(nt_upload_t *u) {
  nt_timer_stop(&u->retry_timer);
  nt_timer_stop(&u->total_timer);
  nt__up_request_free(&u->rq);
  if (u->fd >= 0) close(u->fd);
  nt__free(u->endpoint);
  nt__free(u->shown);
  nt__free(u->path);
  nt__free(u->journal_path);
  nt__free(u->metadata);
  nt__free(u->user);
  nt__free(u->password);
  for (size_t i = 0; i < u->nuser; i++) nt__free(u->user_headers[i]);
  nt__free(u->url);
  nt__free(u);
}

static void done_cb(void *arg) {
  nt_upload_t *u = arg;
  if (u->cbs.on_done) u->cbs.on_done(u, u->fail_status, u->arg);
  free_upload(u);
}

/* The end, reported from the loop. */
static void finish(nt_upload_t *u, int status) {
  if (u->finished) return;
  u->finished = 1;
  u->fail_status = status;
  nt_timer_stop(&u->retry_timer);
  nt_timer_stop(&u->total_timer);
  set_state(u, UP_DONE);
  if (status == 0 && u->journal_path) nt_journal_remove(u->journal_path);
  if (status && !u->error[0]) snprintf(u->error, sizeof u->error, "%s", nt_strerror(status));
  if (nt_call_soon(u->r, done_cb, u)) {
    /* cannot queue (out of memory): report now rather than never */
    done_cb(u);
  }
}

static int send_step(nt_upload_t *u, nt__up_op_t op);

/* A failure for good: with terminate_on_failure, delete the upload first. */
static void fail(nt_upload_t *u, int status) {
  if (u->o.terminate_on_failure && u->url && u->caps.termination &&
      u->state != UP_TERMINATE) {
    u->fail_status = status;
    if (u->journal_path) nt_journal_remove(u->journal_path);
    set_state(u, UP_TERMINATE);
    if (send_step(u, NT__UP_TERMINATE) == 0) return;
  }
  if (u->state == UP_TERMINATE) status = u->fail_status;
  finish(u, status);
}

/* --- steps --------------------------------------------------------------------- */

static void on_req_done(nt_http_request_t *q, int status, void *arg);

static const nt_http_callbacks_t req_cbs = {.on_done = on_req_done};

static int send_step(nt_upload_t *u, nt__up_op_t op) {
  nt__up_request_free(&u->rq);
  memset(&u->call, 0, sizeof u->call);
  u->call.op = op;
  u->call.total = u->total;
  u->call.metadata = u->metadata;
  nt_http_body_t *body = NULL;
  if (op == NT__UP_APPEND) {
    int rc = same_file(u);
    if (rc) {
      snprintf(u->error, sizeof u->error, "%s: changed during the upload", u->path);
      return rc;
    }
    uint64_t left = u->total - u->acked;
    uint64_t chunk = u->o.chunk_size ? u->o.chunk_size
                     : u->ck ? CHECKSUM_CHUNK
                             : left;
    u->call.offset = u->acked;
    u->call.len = left < chunk ? left : chunk;
    u->call.checksum = u->ck;
    if (u->ck) {
      rc = nt__tus_digest(u->ck, u->fd, u->call.offset, u->call.len, u->digest,
                          sizeof u->digest);
      if (rc) {
        snprintf(u->error, sizeof u->error, "%s: %s", u->path, nt_strerror(rc));
        return rc;
      }
      u->call.digest_b64 = u->digest;
    }
    u->body.base.ops = &file_body_ops;
    u->body.u = u;
    u->body.off = u->call.offset;
    u->body.len = u->call.len;
    u->body.pos = 0;
    body = &u->body.base;
  }
  int rc = u->d->request(&u->caps, &u->call, &u->rq);
  if (rc) return rc;
  size_t n = 0;
  for (size_t i = 0; i < u->rq.nlines; i++) u->hdrs[n++] = u->rq.lines[i];
  for (size_t i = 0; i < u->nuser; i++) u->hdrs[n++] = u->user_headers[i];
  u->hdrs[n] = NULL;
  nt_http_request_options_t ro;
  memset(&ro, 0, sizeof ro);
  ro.url = op == NT__UP_DISCOVER || op == NT__UP_CREATE ? u->endpoint : u->url;
  ro.method = u->rq.method;
  ro.headers = u->hdrs;
  ro.user = u->user;
  ro.password = u->password;
  ro.body = body;
  ro.idle_timeout_ms = u->o.idle_timeout_ms;
  ro.connect_timeout_ms = u->o.connect_timeout_ms;
  ro.max_retries = 0; /* a retry here must ask the offset first */
  /* a piece over the threshold waits for 100 Continue (a 409/460 before the
   * bytes); the default threshold applies */
  rc = nt_http_request_start(u->client, &ro, &req_cbs, u, &u->req);
  if (rc) {
    snprintf(u->error, sizeof u->error, "%s %s: %s", u->rq.method,
             op == NT__UP_DISCOVER || op == NT__UP_CREATE ? u->shown : u->url,
             nt_strerror(rc));
    return rc;
  }
  return 0;
}

/* Starts step op; a failure to start ends the upload. */
static void step(nt_upload_t *u, up_state_t s, nt__up_op_t op) {
  set_state(u, s);
  int rc = send_step(u, op);
  if (rc) fail(u, rc);
}

/* What to ask after a pause: what the server has. */
static void resync(nt_upload_t *u) {
  if (!u->discovered)
    step(u, UP_DISCOVER, NT__UP_DISCOVER);
  else if (u->url)
    step(u, UP_OFFSET, NT__UP_OFFSET);
  else
    step(u, UP_CREATE, NT__UP_CREATE);
}

static void retry_cb(nt_timer_t *t) { resync(t->data); }

/* The shared retry wait of nettool's transfers (backoff.c): half of
 * min(base * 2^n, cap) plus a random share of the other half, n counting
 * the failures in a row, so many clients do not come back at once. */
static uint64_t backoff(nt_upload_t *u) {
  uint64_t base = u->o.retry_delay_ms ? u->o.retry_delay_ms : 1000;
  uint32_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r) r = 0;
  return nt__backoff(base, RETRY_CAP_MS, u->in_a_row - 1, r);
}

/* An error that may heal: wait and resync, or fail when no retry is left. */
static void retry_or_fail(nt_upload_t *u, int status, uint64_t retry_after_ms) {
  if (u->in_a_row >= u->o.max_retries) {
    fail(u, status);
    return;
  }
  u->retries++;
  u->in_a_row++;
  uint64_t delay = u->at_once ? 0 : backoff(u);
  u->at_once = 0;
  if (retry_after_ms > delay) delay = retry_after_ms;
  NT__DEBUG("upload: %s; retry %d of %d in %" PRIu64 " ms", u->error, u->in_a_row,
            u->o.max_retries, delay);
  if (u->cbs.on_retry) u->cbs.on_retry(u, status, delay, u->arg);
  set_state(u, UP_WAIT);
  nt_timer_start(&u->retry_timer, delay, 0);
}

/* The server does not have our upload: make a new one (a bounded number of
 * times per run). */
static void restart(nt_upload_t *u, const char *why) {
  if (u->restarts >= MAX_RESTARTS) {
    snprintf(u->error, sizeof u->error, "the server lost the upload %d times (%s)",
             u->restarts + 1, why);
    fail(u, NT_EUPLOAD_EXPIRED);
    return;
  }
  u->restarts++;
  nt__log(NT__LOG_INFO, "upload: %s: %s; starting a new upload", u->url ? u->url : "",
          why);
  nt__free(u->url);
  u->url = NULL;
  u->acked = 0;
  if (u->journal_path) nt_journal_remove(u->journal_path);
  step(u, UP_CREATE, NT__UP_CREATE);
}

static void got_offset(nt_upload_t *u, uint64_t off) {
  /* progress: the retries start again, as a connection cut every 100 MiB
   * must not use up --retry on a long upload */
  if (off > u->acked || (!u->resumed_known && off > 0)) u->in_a_row = 0;
  u->acked = off;
  if (!u->resumed_known) {
    u->resumed_known = 1;
    u->resumed_from = off;
  }
  if (u->cbs.on_offset) u->cbs.on_offset(u, off, u->arg);
}

/* After the server confirmed an offset: go on or end. */
static void advance(nt_upload_t *u) {
  if (u->acked == u->total) {
    finish(u, 0);
    return;
  }
  step(u, UP_APPEND, NT__UP_APPEND);
}

static void on_answer(nt_upload_t *u, const nt_http_response_t *resp) {
  nt__up_result_t res;
  if (u->call.op == NT__UP_TERMINATE) { /* whatever it says: the end */
    finish(u, u->fail_status);
    return;
  }
  u->d->response(&u->call, resp, &u->caps, &res);
  if (res.why[0])
    snprintf(u->error, sizeof u->error, "%s %s: %s", u->rq.method,
             u->call.op == NT__UP_DISCOVER || u->call.op == NT__UP_CREATE ? u->shown
                                                                          : u->url,
             res.why);
  switch (res.kind) {
  case NT__UP_R_TRANSIENT:
    retry_or_fail(u, NT_EUPLOAD_REFUSED, res.retry_after_ms);
    return;
  case NT__UP_R_REFUSED:
    fail(u, NT_EUPLOAD_REFUSED);
    return;
  case NT__UP_R_PROTOCOL:
    fail(u, NT_EUPLOAD_PROTOCOL);
    return;
  default:
    break;
  }
  switch (u->call.op) {
  case NT__UP_DISCOVER:
    u->discovered = 1;
    u->ck = u->o.checksum == NT_UPLOAD_CHECKSUM_OFF ? NT__UP_CK_NONE : u->caps.checksum;
    if (u->o.checksum == NT_UPLOAD_CHECKSUM_REQUIRE && !u->ck) {
      snprintf(u->error, sizeof u->error,
               "%s offers no checksum algorithm nettool has (sha1, sha256, md5)",
               u->shown);
      fail(u, NT_EUPLOAD_PROTOCOL);
      return;
    }
    if (u->caps.max_size && u->total > u->caps.max_size) {
      snprintf(u->error, sizeof u->error,
               "%s takes at most %" PRIu64 " bytes (Tus-Max-Size); the file has %" PRIu64,
               u->shown, u->caps.max_size, u->total);
      fail(u, NT_EUPLOAD_REFUSED);
      return;
    }
    resync(u);
    return;
  case NT__UP_OFFSET:
    if (res.kind == NT__UP_R_GONE) {
      restart(u, res.why);
      return;
    }
    if ((res.length >= 0 && (uint64_t)res.length != u->total) || res.offset > u->total) {
      restart(u, "the server's upload has another length");
      return;
    }
    got_offset(u, res.offset);
    advance(u);
    return;
  case NT__UP_CREATE: {
    nt_url_t base, loc;
    if (nt_url_parse(u->endpoint, &base)) {
      fail(u, NT_EHTTP_BAD_URL);
      return;
    }
    int rc = nt_url_resolve(&base, res.location, &loc);
    nt_url_free(&base);
    if (rc) {
      snprintf(u->error, sizeof u->error, "unusable Location '%.200s'", res.location);
      fail(u, NT_EUPLOAD_PROTOCOL);
      return;
    }
    char buf[NT_URL_MAX];
    size_t n = nt_url_format(&loc, buf, sizeof buf);
    nt_url_free(&loc);
    nt__free(u->url);
    u->url = n < sizeof buf ? nt__strdup(buf) : NULL;
    if (!u->url) {
      fail(u, n < sizeof buf ? NT_ENOMEM : NT_EUPLOAD_PROTOCOL);
      return;
    }
    NT__DEBUG("upload: created %s", u->url);
    got_offset(u, 0);
    /* saved before any byte goes: a kill from here on resumes this upload */
    int jr = journal_save(u);
    if (jr) {
      fail(u, jr);
      return;
    }
    advance(u);
    return;
  }
  case NT__UP_APPEND:
    if (res.kind == NT__UP_R_GONE) {
      restart(u, res.why);
      return;
    }
    if (res.kind == NT__UP_R_CONFLICT) {
      retry_or_fail(u, NT_EUPLOAD_OFFSET, 0);
      return;
    }
    if (res.kind == NT__UP_R_CHECKSUM) {
      u->ck_rejects++;
      retry_or_fail(u, NT_EUPLOAD_CHECKSUM, 0);
      return;
    }
    got_offset(u, res.offset);
    advance(u);
    return;
  case NT__UP_TERMINATE:
    finish(u, u->fail_status);
    return;
  }
}

static void on_req_done(nt_http_request_t *q, int status, void *arg) {
  nt_upload_t *u = arg;
  nt_http_progress_t p;
  nt_http_request_progress(q, &p);
  if (u->call.op == NT__UP_APPEND) u->sent += p.sent;
  u->req = NULL;
  if (u->finished) return;
  const nt_http_response_t *resp = status == 0 ? nt_http_request_response(q) : NULL;
  if (resp) u->http_status = resp->status;
  if (u->stopping) {
    if (u->state == UP_TERMINATE) {
      finish(u, u->fail_status);
      return;
    }
    fail(u, u->stopping);
    return;
  }
  if (status) {
    snprintf(u->error, sizeof u->error, "%s %s: %s%s%s", u->rq.method,
             nt_http_request_url(q), nt_strerror(status),
             *nt_http_request_error(q) ? ": " : "", nt_http_request_error(q));
    if (u->state == UP_TERMINATE) {
      finish(u, u->fail_status);
    } else if (p.body_error || status == NT_EHTTP_FILE_CHANGED) {
      fail(u, status);
    } else if (status == NT_EHTTP_BAD_URL || status == NT_EHTTP_SCHEME ||
               status == NT_EINVAL || status == NT_ENOMEM ||
               status == NT_EDNS_NXDOMAIN || status == NT_EDNS_BADNAME ||
               (status <= NT_ETLS_HANDSHAKE && status > NT_ETLS_HANDSHAKE - 100 &&
                status != NT_ETLS_TRUNCATED)) {
      fail(u, status); /* cannot heal: a bad URL or name, a bad certificate */
    } else {
      /* a PATCH that moved a good share before the connection broke: the
       * link worked a moment ago, so the retry (HEAD, then the rest) goes
       * at once; if that fails too, the waits begin. A wait per cut was
       * most of what a cut cost (resume_bench.sh for downloads). */
      u->at_once = u->call.op == NT__UP_APPEND && p.sent >= AT_ONCE_BYTES;
      retry_or_fail(u, status, 0);
    }
    return;
  }
  if (resp) on_answer(u, resp);
}

static void total_cb(nt_timer_t *t) {
  nt_upload_t *u = t->data;
  snprintf(u->error, sizeof u->error, "the upload took longer than %" PRIu64 " ms",
           u->o.timeout_ms);
  u->stopping = NT_ETIMEDOUT;
  if (u->req)
    nt_http_request_cancel(u->req);
  else
    fail(u, NT_ETIMEDOUT);
}

/* --- the API ---------------------------------------------------------------------- */

static char *dup_or_null(const char *s, int *bad) {
  if (!s) return NULL;
  char *d = nt__strdup(s);
  if (!d) *bad = 1;
  return d;
}

int nt_upload_start_sized(size_t opts_size, nt_http_client_t *c,
                          const nt_upload_options_t *opts,
                          const nt_upload_callbacks_t *cbs, void *arg,
                          nt_upload_t **out) {
  nt_upload_options_t o;
  if (out) *out = NULL;
  if (NT__OPTS_COPY(o, opts, opts_size)) return NT_ENOTSUP;
  if (!c || !opts || !o.endpoint || !o.path || !*o.path) return NT_EINVAL;
  if (o.dialect == NT_UPLOAD_DIALECT_IETF) return NT_ENOTSUP;
  if (o.dialect != NT_UPLOAD_DIALECT_TUS1) return NT_EINVAL;
  if (o.max_retries < 0) return NT_EINVAL;
  size_t nuser = 0;
  if (o.headers)
    for (; o.headers[nuser]; nuser++)
      if (nuser == MAX_USER_HEADERS || nt__http_check_header_line(o.headers[nuser]))
        return NT_EINVAL;
  nt_url_t probe;
  int rc = nt_url_parse(o.endpoint, &probe);
  if (rc) return rc;
  char shown[NT_URL_MAX];
  size_t shown_len = nt_url_format(&probe, shown, sizeof shown);
  /* credentials in the endpoint's URL: for the upload's URL too (the
   * Location resolved against it carries none) */
  nt_url_t creds;
  memset(&creds, 0, sizeof creds);
  if (!o.user && probe.user) {
    creds.user = probe.user, probe.user = NULL;
    creds.password = probe.password, probe.password = NULL;
    o.user = creds.user;
    o.password = creds.password ? creds.password : "";
  }
  nt_url_free(&probe);
  nt_upload_t *u = shown_len < sizeof shown ? nt__calloc(1, sizeof *u) : NULL;
  if (!u) {
    nt_url_free(&creds);
    return shown_len < sizeof shown ? NT_ENOMEM : NT_EHTTP_BAD_URL;
  }
  u->fd = -1;
  u->r = c->reactor;
  u->client = c;
  u->d = &nt__upload_tus1;
  if (cbs) u->cbs = *cbs;
  u->arg = arg;
  u->o = o;
  nt_timer_init(u->r, &u->retry_timer, retry_cb);
  u->retry_timer.data = u;
  nt_timer_init(u->r, &u->total_timer, total_cb);
  u->total_timer.data = u;
  int bad = 0;
  u->endpoint = dup_or_null(o.endpoint, &bad);
  u->shown = dup_or_null(shown, &bad);
  u->path = dup_or_null(o.path, &bad);
  u->user = dup_or_null(o.user, &bad);
  u->password = dup_or_null(o.password, &bad);
  if (creds.password) memset(creds.password, 0, strlen(creds.password));
  nt_url_free(&creds);
  for (size_t i = 0; i < nuser; i++) u->user_headers[u->nuser++] = dup_or_null(o.headers[i], &bad);
  if (!o.journal_path) {
    size_t pl = strlen(o.path);
    u->journal_path = nt__malloc(pl + sizeof JOURNAL_SUFFIX);
    if (u->journal_path) {
      memcpy(u->journal_path, o.path, pl);
      memcpy(u->journal_path + pl, JOURNAL_SUFFIX, sizeof JOURNAL_SUFFIX);
    } else {
      bad = 1;
    }
  } else if (*o.journal_path) {
    u->journal_path = dup_or_null(o.journal_path, &bad);
  }
  /* the copies are ours; the caller's pointers are not kept */
  u->o.endpoint = u->o.path = u->o.journal_path = u->o.user = u->o.password = NULL;
  u->o.headers = NULL;
  u->o.meta_keys = u->o.meta_values = NULL;
  if (bad) {
    free_upload(u);
    return NT_ENOMEM;
  }
  rc = nt__tus_metadata_encode(o.meta_keys, o.meta_values, o.nmeta, &u->metadata);
  if (rc) {
    free_upload(u);
    return rc;
  }
  u->fd = open(u->path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (u->fd < 0 || fstat(u->fd, &st) < 0) {
    rc = -errno;
    free_upload(u);
    return rc;
  }
  if (!S_ISREG(st.st_mode)) {
    free_upload(u);
    return S_ISDIR(st.st_mode) ? -EISDIR : NT_EINVAL; /* a size known up front */
  }
  u->total = (uint64_t)st.st_size;
  if (!nt_journal_file_id(u->fd, u->file_id, sizeof u->file_id)) {
    rc = -errno;
    free_upload(u);
    return rc;
  }
  /* one process per file and journal: a second run of the same command
   * would send the same pieces to the same upload (409s at best) */
  if (u->journal_path && flock(u->fd, LOCK_EX | LOCK_NB) < 0) {
    rc = errno == EWOULDBLOCK ? NT_EBUSY : -errno;
    free_upload(u);
    return rc;
  }
  journal_resume(u);
  if (o.timeout_ms) nt_timer_start(&u->total_timer, o.timeout_ms, 0);
  /* the first request leaves from the loop, never inside this call */
  set_state(u, UP_WAIT);
  nt_timer_start(&u->retry_timer, 0, 0);
  if (out) *out = u;
  return 0;
}

void nt_upload_cancel(nt_upload_t *u) {
  if (!u || u->finished || u->stopping) return;
  snprintf(u->error, sizeof u->error, "cancelled");
  u->stopping = NT_ECANCELED;
  if (u->req)
    nt_http_request_cancel(u->req);
  else
    fail(u, NT_ECANCELED);
}

static void upload_progress_full(const nt_upload_t *u,
                                 nt_upload_progress_t *p) {
  memset(p, 0, sizeof *p);
  p->total = u->total;
  p->acked = u->acked;
  p->resumed_from = u->resumed_from;
  p->sent = u->sent;
  if (u->req && u->call.op == NT__UP_APPEND) {
    nt_http_progress_t hp;
    nt_http_request_progress(u->req, &hp);
    p->in_flight = hp.sent;
    p->sent += hp.sent;
  }
  p->retries = u->retries;
  p->restarts = u->restarts;
  p->checksum_rejects = u->ck_rejects;
  p->state = state_names[u->state];
  p->checksum = nt__tus_checksum_name(u->ck);
}

void nt_upload_progress_sized(size_t out_size, const nt_upload_t *u,
                              nt_upload_progress_t *p) {
  /* the caller's struct may be an older, smaller one (docs/ABI.md) */
  nt_upload_progress_t full;
  memset(&full, 0, sizeof full);
  upload_progress_full(u, &full);
  if (p) memcpy(p, &full, out_size < sizeof full ? out_size : sizeof full);
}

const char *nt_upload_url(const nt_upload_t *u) { return u->url; }
int nt_upload_http_status(const nt_upload_t *u) { return u->http_status; }
const char *nt_upload_error(const nt_upload_t *u) { return u->error; }
