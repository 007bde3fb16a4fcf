/* nt_http_download (nettool/http_download.h): a download to a file that
 * resumes instead of starting over. One state machine over successive
 * nt_http requests (attempts):
 *
 *   start -> ATTEMPT -> (answer) -> DONE
 *               ^           |
 *               |           v
 *               +------- BACKOFF   (a transient failure, retries left)
 *
 * Each attempt asks for the bytes the part file lacks (Range + If-Range);
 * the answer decides what the part file becomes (download-int.h has the
 * pure decisions, download_state.c the state file). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backoff-int.h"
#include "download-int.h"
#include "http-int.h"
#include "nettool/http_download.h"
#include "reactor-int.h"

#define DEFAULT_DELAY_MS 1000
#define DEFAULT_MAX_DELAY_MS 60000
/* An attempt that moved this much body before it failed retries at once. */
#define AT_ONCE_BYTES (1u << 20)
#define MAX_RESTARTS 8 /* restarts forced by answers, per run */
#define MAX_USER_HEADERS 256

typedef enum { DL_ATTEMPT, DL_BACKOFF, DL_DONE } dl_state_t;
static const char *const dl_state_names[] = {"attempt", "backoff", "done"};

struct nt_http_download_s {
  nt_reactor_t *r;
  nt_http_client_t *client;
  nt_http_download_callbacks_t cbs;
  void *arg;
  dl_state_t state;
  /* options (copied) */
  nt_http_download_options_t o;
  char *url, *path, *part_path, *state_path, *user, *password;
  char **headers; /* the caller's, then Range and If-Range: NULL-ended */
  size_t nheaders;
  char range_hdr[64];
  char if_range_hdr[600];
  /* the part file and what its bytes are */
  int fd;
  uint64_t offset;
  nt__dl_state_t st; /* validators of the bytes in the part file */
  /* the running attempt */
  nt_http_request_t *req;
  int range_sent;  /* this attempt asked for bytes from offset */
  int writing;     /* this attempt's body goes into the part file */
  int whole_416;   /* 416 said the part file is already whole */
  int restart;     /* the answer asks to start over (after this attempt) */
  uint64_t attempt_bytes;
  int64_t retry_after_ms; /* -1: none */
  nt__digest_t *content_dg; /* Content-Digest / Content-MD5 of this body */
  nt__dl_digest_t content_want, repr_want;
  const char *content_name, *repr_name;
  int local_error; /* -errno writing the part file */
  int cancelled;
  /* counters */
  int attempts, retries, restarts, backoff_n;
  int http_status;
  uint64_t received, discarded, resumed_at;
  int64_t total;
  uint64_t deadline; /* 0: none */
  uint32_t rng;
  char verified[64];
  /* the end */
  int status;
  nt_http_progress_t last;
  char error[768];
  char final_url[NT_URL_MAX + 300];
  nt_timer_t timer; /* the backoff, then on_done from the loop */
};

static void set_state(nt_http_download_t *d, dl_state_t s) {
  if (d->state != s)
    NT__DEBUG( "http download: [%s] -> [%s]",
            dl_state_names[d->state], dl_state_names[s]);
  d->state = s;
}

static uint32_t next_random(nt_http_download_t *d) {
  /* xorshift32: the jitter needs spread, not secrecy */
  uint32_t x = d->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return d->rng = x;
}

static char *dup_or_null(const char *s) { return s ? nt__strdup(s) : NULL; }

static void wipe_free(char *s) {
  if (!s) return;
  memset(s, 0, strlen(s));
  nt__free(s);
}

static void free_download(nt_http_download_t *d) {
  nt__digest_free(d->content_dg);
  if (d->fd >= 0) close(d->fd);
  for (size_t i = 0; i < d->nheaders; i++) wipe_free(d->headers[i]);
  nt__free(d->headers);
  nt__free(d->url);
  nt__free(d->path);
  nt__free(d->part_path);
  nt__free(d->state_path);
  wipe_free(d->user);
  wipe_free(d->password);
  nt__free(d);
}

/* --- the part file -------------------------------------------------------- */

static int truncate_part(nt_http_download_t *d) {
  if (d->offset) d->discarded += d->offset;
  d->offset = 0;
  if (ftruncate(d->fd, 0) != 0) return -errno;
  return 0;
}

static int write_part(nt_http_download_t *d, const char *p, size_t n) {
  while (n) {
    ssize_t w = pwrite(d->fd, p, n, (off_t)d->offset);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -errno;
    p += w;
    n -= (size_t)w;
    d->offset += (uint64_t)w;
  }
  return 0;
}

/* Opens PATH.part: continued when its state file is for this URL and has a
 * validator, else emptied. */
static int open_part(nt_http_download_t *d, const char *url_text) {
  nt__dl_state_t old;
  int can_resume = !d->o.no_resume &&
                   nt__dl_state_load(d->state_path, &old) == 0 &&
                   !strcmp(old.url, url_text) &&
                   (old.etag[0] || old.last_modified[0]);
  d->fd = open(d->part_path,
               O_RDWR | O_CREAT | O_CLOEXEC | (can_resume ? 0 : O_TRUNC), 0666);
  if (d->fd < 0) return -errno;
  struct stat sb;
  if (fstat(d->fd, &sb) != 0) return -errno;
  if (!S_ISREG(sb.st_mode)) return NT_EINVAL;
  if (can_resume && sb.st_size > 0) {
    d->st = old;
    d->offset = (uint64_t)sb.st_size;
    d->total = old.total;
    if (old.total >= 0 && (uint64_t)old.total < d->offset) {
      /* more bytes than the whole: not what the state says */
      memset(&d->st, 0, sizeof d->st);
      d->total = -1;
      int rc = truncate_part(d);
      d->discarded = 0;
      if (rc) return rc;
    }
  } else {
    nt__dl_state_remove(d->state_path);
    if (ftruncate(d->fd, 0) != 0) return -errno;
  }
  snprintf(d->st.url, sizeof d->st.url, "%s", url_text);
  d->resumed_at = d->offset;
  return 0;
}

/* --- one attempt ---------------------------------------------------------- */

static void on_response(nt_http_request_t *q, const nt_http_response_t *resp,
                        void *arg);
static int on_body(nt_http_request_t *q, const char *data, size_t len,
                   void *arg);
static void on_done(nt_http_request_t *q, int status, void *arg);
static void on_redirect(nt_http_request_t *q, int status, const char *to,
                        void *arg);

/* The validator If-Range may carry: a strong ETag, else Last-Modified. */
static const char *validator(const nt_http_download_t *d) {
  if (d->st.etag[0] && strncmp(d->st.etag, "W/", 2)) return d->st.etag;
  if (d->st.last_modified[0]) return d->st.last_modified;
  return NULL;
}

static int start_attempt(nt_http_download_t *d) {
  d->range_sent = d->writing = d->whole_416 = d->restart = 0;
  d->attempt_bytes = 0;
  d->retry_after_ms = -1;
  d->local_error = 0;
  nt__digest_free(d->content_dg);
  d->content_dg = NULL;
  memset(&d->content_want, 0, sizeof d->content_want);
  memset(&d->repr_want, 0, sizeof d->repr_want);
  size_t n = d->nheaders;
  d->headers[n] = NULL;
  const char *v = validator(d);
  if (d->offset > 0 && v) {
    snprintf(d->range_hdr, sizeof d->range_hdr, "Range: bytes=%llu-",
             (unsigned long long)d->offset);
    snprintf(d->if_range_hdr, sizeof d->if_range_hdr, "If-Range: %s", v);
    d->headers[n] = d->range_hdr;
    d->headers[n + 1] = d->if_range_hdr;
    d->headers[n + 2] = NULL;
    d->range_sent = 1;
  } else if (d->offset > 0) { /* nothing to tell a changed file by */
    int rc = truncate_part(d);
    if (rc) return rc;
  }
  nt_http_request_options_t ro;
  memset(&ro, 0, sizeof ro);
  ro.url = d->url;
  ro.headers = (const char *const *)d->headers;
  ro.user = d->user;
  ro.password = d->password;
  ro.idle_timeout_ms = d->o.idle_timeout_ms;
  ro.connect_timeout_ms = d->o.connect_timeout_ms;
  ro.max_redirects = d->o.max_redirects;
  if (d->deadline) {
    uint64_t now = nt_reactor_now(d->r);
    ro.timeout_ms = d->deadline > now ? d->deadline - now : 1;
  }
  static const nt_http_callbacks_t cbs = {
      .on_response = on_response,
      .on_body = on_body,
      .on_done = on_done,
      .on_redirect = on_redirect,
  };
  d->attempts++;
  set_state(d, DL_ATTEMPT);
  int rc = nt_http_request_start(d->client, &ro, &cbs, d, &d->req);
  /* the two added lines are not the caller's: drop them from the array */
  d->headers[n] = NULL;
  return rc;
}

static void on_redirect(nt_http_request_t *q, int status, const char *to,
                        void *arg) {
  (void)q;
  nt_http_download_t *d = arg;
  if (d->cbs.on_redirect) d->cbs.on_redirect(d, status, to, d->arg);
}

/* The digests this answer announces, for the bytes it carries (Content-*)
 * and for the whole representation (Repr-Digest). */
static void take_digests(nt_http_download_t *d, const nt_http_response_t *r) {
  if (d->o.no_verify) return;
  const char *repr = nt_http_header_get(r->headers, r->nheaders, "Repr-Digest");
  const char *cont =
      nt_http_header_get(r->headers, r->nheaders, "Content-Digest");
  const char *md5 = nt_http_header_get(r->headers, r->nheaders, "Content-MD5");
  /* A malformed field is not checked (a server's mistake is not evidence
   * of damaged data); it is logged. */
  if (repr && nt__dl_parse_digest_field(repr, &d->repr_want) < 0)
    nt__log(NT__LOG_WARN, "http download: malformed Repr-Digest ignored");
  d->repr_name = "Repr-Digest";
  if (cont && nt__dl_parse_digest_field(cont, &d->content_want) < 0)
    nt__log(NT__LOG_WARN, "http download: malformed Content-Digest ignored");
  d->content_name = "Content-Digest";
  if (d->content_want.alg == NT__DG_NONE && md5) {
    if (nt__dl_parse_content_md5(md5, &d->content_want) < 0)
      nt__log(NT__LOG_WARN, "http download: malformed Content-MD5 ignored");
    d->content_name = "Content-MD5";
  }
  if (d->content_want.alg != NT__DG_NONE)
    d->content_dg = nt__digest_new(d->content_want.alg);
}

/* A 200 (or a 206 we did not ask for) starts the part file over; the state
 * file is written first, so a crash never leaves new bytes under an old
 * validator. */
static int begin_whole(nt_http_download_t *d, const nt_http_response_t *r) {
  if (d->offset) d->restarts++;
  int rc = truncate_part(d);
  if (rc) return rc;
  const char *etag = nt_http_header_get(r->headers, r->nheaders, "ETag");
  const char *lm = nt_http_header_get(r->headers, r->nheaders, "Last-Modified");
  snprintf(d->st.etag, sizeof d->st.etag, "%s", etag ? etag : "");
  snprintf(d->st.last_modified, sizeof d->st.last_modified, "%s",
           lm && strlen(lm) < sizeof d->st.last_modified ? lm : "");
  if (strlen(d->st.etag) >= sizeof d->st.etag - 1) d->st.etag[0] = 0;
  d->total = r->content_length;
  d->st.total = d->total;
  if (d->st.etag[0] || d->st.last_modified[0]) {
    rc = nt__dl_state_save(d->state_path, &d->st);
    if (rc) return rc;
  } else {
    nt__dl_state_remove(d->state_path); /* nothing to resume by */
  }
  d->writing = 1;
  return 0;
}

static void on_response(nt_http_request_t *q, const nt_http_response_t *r,
                        void *arg) {
  nt_http_download_t *d = arg;
  d->http_status = r->status;
  if (d->cbs.on_response) d->cbs.on_response(d, r, d->arg);
  if (d->cancelled) return;
  int s = r->status;
  if (s == 206 && d->range_sent) {
    int64_t first, last, complete;
    const char *cr =
        nt_http_header_get(r->headers, r->nheaders, "Content-Range");
    if (nt__dl_parse_content_range(cr, &first, &last, &complete) < 0 ||
        first != (int64_t)d->offset ||
        (d->total >= 0 && complete >= 0 && complete != d->total)) {
      /* not the rest of our bytes: start over rather than splice */
      nt__log(NT__LOG_INFO, "http download: 206 for another range (%s), "
                           "starting over",
              cr ? cr : "no Content-Range");
      d->restart = 1;
      nt_http_request_cancel(q);
      return;
    }
    if (complete >= 0) d->total = complete;
    d->writing = 1;
    take_digests(d, r);
    return;
  }
  if (s == 416 && d->range_sent) {
    int64_t first, last, complete;
    const char *cr =
        nt_http_header_get(r->headers, r->nheaders, "Content-Range");
    if (nt__dl_parse_content_range(cr, &first, &last, &complete) == 0 &&
        first < 0 && complete == (int64_t)d->offset) {
      d->whole_416 = 1; /* we have every byte */
      d->total = complete;
    } else {
      d->restart = 1;
    }
    return;
  }
  if (s >= 200 && s <= 299) {
    int rc = begin_whole(d, r);
    if (rc) {
      d->local_error = rc;
      nt_http_request_cancel(q);
      return;
    }
    take_digests(d, r);
    return;
  }
  if (nt__dl_retryable_status(s)) {
    const char *ra = nt_http_header_get(r->headers, r->nheaders, "Retry-After");
    if (ra) {
      struct timespec ts;
      nt_reactor_walltime(d->r, &ts);
      d->retry_after_ms = nt__dl_parse_retry_after(ra, (int64_t)ts.tv_sec);
    }
  }
}

static int on_body(nt_http_request_t *q, const char *data, size_t len,
                   void *arg) {
  (void)q;
  nt_http_download_t *d = arg;
  d->received += len;
  if (!d->writing) return 0; /* an error page, a retried answer */
  int rc = write_part(d, data, len);
  if (rc) {
    d->local_error = rc;
    return rc;
  }
  d->attempt_bytes += len;
  nt__digest_update(d->content_dg, data, len);
  return 0;
}

/* --- the end of an attempt ------------------------------------------------ */

static void done_cb(nt_timer_t *t) {
  nt_http_download_t *d = t->data;
  if (d->cbs.on_done) d->cbs.on_done(d, d->status, d->arg);
  free_download(d);
}

/* Ends the download with status: the part file is kept when it holds bytes
 * (with its state, unless the bytes were wrong), else removed. */
static void finish(nt_http_download_t *d, int status) {
  d->status = status;
  set_state(d, DL_DONE);
  if (d->fd >= 0) {
    close(d->fd);
    d->fd = -1;
  }
  if (status == NT_EDIGEST) {
    nt__dl_state_remove(d->state_path);
  } else if (status != 0 || !(d->http_status >= 200 && d->http_status <= 299)) {
    if (d->offset == 0) {
      unlink(d->part_path);
      nt__dl_state_remove(d->state_path);
    }
  }
  nt_timer_stop(&d->timer);
  nt_timer_init(d->r, &d->timer, done_cb);
  d->timer.data = d;
  nt_timer_start(&d->timer, 0, 0);
}

/* The whole representation is in the part file: check it, then rename. */
static void complete(nt_http_download_t *d) {
  unsigned char got[NT__DG_MAX];
  if (d->content_dg) {
    size_t n = nt__digest_final(d->content_dg, got);
    d->content_dg = NULL;
    if (n != d->content_want.len || memcmp(got, d->content_want.want, n)) {
      snprintf(d->error, sizeof d->error, "%s %s does not match the body",
               d->content_name, nt__digest_name(d->content_want.alg));
      finish(d, NT_EDIGEST);
      return;
    }
    snprintf(d->verified, sizeof d->verified, "%s %s", d->content_name,
             nt__digest_name(d->content_want.alg));
  }
  if (d->repr_want.alg != NT__DG_NONE) {
    size_t n = 0;
    int rc = nt__digest_fd(d->repr_want.alg, d->fd, 0, d->offset, got, &n);
    if (rc) {
      d->local_error = rc;
      finish(d, rc);
      return;
    }
    if (n != d->repr_want.len || memcmp(got, d->repr_want.want, n)) {
      snprintf(d->error, sizeof d->error, "%s %s does not match the file",
               d->repr_name, nt__digest_name(d->repr_want.alg));
      finish(d, NT_EDIGEST);
      return;
    }
    snprintf(d->verified, sizeof d->verified, "%s %s", d->repr_name,
             nt__digest_name(d->repr_want.alg));
  }
  int rc = 0;
  if (fsync(d->fd) != 0 && errno != EINVAL) rc = -errno;
  if (!rc && rename(d->part_path, d->path) != 0) rc = -errno;
  if (rc) {
    d->local_error = rc;
    finish(d, rc);
    return;
  }
  nt__dl_state_remove(d->state_path);
  finish(d, 0);
}

static void backoff_cb(nt_timer_t *t) {
  nt_http_download_t *d = t->data;
  int rc = start_attempt(d);
  if (rc) finish(d, rc);
}

/* Another attempt after why (an HTTP status or an NT_E* code), if any is
 * left and there is time for it; else the end with final. */
static void retry_or_finish(nt_http_download_t *d, int why, int final) {
  if (d->retries >= d->o.max_retries) {
    finish(d, final);
    return;
  }
  uint64_t base = d->o.retry_delay_ms ? d->o.retry_delay_ms : DEFAULT_DELAY_MS;
  uint64_t cap =
      d->o.max_retry_delay_ms ? d->o.max_retry_delay_ms : DEFAULT_MAX_DELAY_MS;
  if (cap < base) cap = base;
  /* an attempt that moved bytes was worth it: the doubling starts over.
   * One that moved a good share (AT_ONCE_BYTES) before it broke retries at
   * once: the link worked a moment ago (a reset, a cut, a restarted
   * server), and the wait would be most of what a cut costs (a 1 GiB
   * download cut every 100 MiB lost 5-10 s to the 1 s waits:
   * resume_bench.sh). When that retry moves nothing, the waits begin. */
  int at_once = d->attempt_bytes >= AT_ONCE_BYTES;
  if (d->attempt_bytes) d->backoff_n = 0;
  uint64_t delay;
  if (d->retry_after_ms >= 0)
    delay = (uint64_t)d->retry_after_ms < cap ? (uint64_t)d->retry_after_ms
                                               : cap;
  else if (at_once)
    delay = 0;
  else
    delay = nt__backoff(base, cap, d->backoff_n++, next_random(d));
  if (d->deadline && nt_reactor_now(d->r) + delay >= d->deadline) {
    finish(d, final); /* the total limit would end the wait */
    return;
  }
  d->retries++;
  if (d->cbs.on_retry) d->cbs.on_retry(d, why, delay, d->offset, d->arg);
  if (d->cancelled) return; /* cancelled from on_retry: finish ran */
  set_state(d, DL_BACKOFF);
  nt_timer_stop(&d->timer);
  nt_timer_init(d->r, &d->timer, backoff_cb);
  d->timer.data = d;
  nt_timer_start(&d->timer, delay, 0);
}

static void on_done(nt_http_request_t *q, int status, void *arg) {
  nt_http_download_t *d = arg;
  nt_http_request_progress(q, &d->last);
  snprintf(d->error, sizeof d->error, "%s", nt_http_request_error(q));
  snprintf(d->final_url, sizeof d->final_url, "%s", nt_http_request_url(q));
  d->req = NULL;
  if (d->cancelled) {
    finish(d, NT_ECANCELED);
    return;
  }
  if (d->local_error) {
    finish(d, d->local_error);
    return;
  }
  if (d->restart) { /* the answer was not the rest of our bytes */
    if (++d->restarts > MAX_RESTARTS) {
      snprintf(d->error, sizeof d->error,
               "the server's ranges did not match %d times", MAX_RESTARTS);
      finish(d, NT_EHTTP_PARSE);
      return;
    }
    memset(d->st.etag, 0, sizeof d->st.etag);
    d->st.last_modified[0] = 0;
    d->total = -1;
    int rc = truncate_part(d);
    if (!rc) rc = start_attempt(d);
    if (rc) finish(d, rc);
    return;
  }
  if (status == 0) {
    if (d->whole_416) {
      complete(d);
      return;
    }
    if (d->writing) {
      if (d->total >= 0 && d->offset != (uint64_t)d->total) {
        /* a body shorter than announced ends as an error in nt_http; a
         * 206 whose range stopped short of the whole gets here */
        snprintf(d->error, sizeof d->error,
                 "got %llu of %lld bytes", (unsigned long long)d->offset,
                 (long long)d->total);
        retry_or_finish(d, NT_EUNEXPECTEDEOF, NT_EUNEXPECTEDEOF);
        return;
      }
      complete(d);
      return;
    }
    if (nt__dl_retryable_status(d->http_status)) {
      retry_or_finish(d, d->http_status, 0);
      return;
    }
    finish(d, 0); /* an answer that is not the file: the caller's to judge */
    return;
  }
  if (nt__dl_transient(status)) {
    /* certificate errors are final; a TLS stream cut mid-body is not */
    retry_or_finish(d, status, status);
    return;
  }
  finish(d, status);
}

/* --- the API -------------------------------------------------------------- */

static int copy_headers(nt_http_download_t *d, const char *const *h) {
  size_t n = 0;
  while (h && h[n]) {
    if (!strncasecmp(h[n], "Range:", 6) || !strncasecmp(h[n], "If-Range:", 9))
      return NT_EINVAL; /* the download owns them */
    n++;
  }
  if (n > MAX_USER_HEADERS) return NT_EINVAL;
  d->headers = nt__calloc(n + 3, sizeof *d->headers);
  if (!d->headers) return NT_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    d->headers[i] = nt__strdup(h[i]);
    if (!d->headers[i]) return NT_ENOMEM;
    d->nheaders = i + 1;
  }
  return 0;
}

static char *suffixed(const char *path, const char *suffix) {
  size_t n = strlen(path) + strlen(suffix) + 1;
  char *s = nt__malloc(n);
  if (s) snprintf(s, n, "%s%s", path, suffix);
  return s;
}

int nt_http_download_start_sized(size_t opts_size, nt_http_client_t *c,
                                 const nt_http_download_options_t *opts,
                                 const nt_http_download_callbacks_t *cbs,
                                 void *arg, nt_http_download_t **out) {
  if (out) *out = NULL;
  if (!c || !opts || !cbs) return NT_EINVAL;
  nt_http_download_t *d = nt__calloc(1, sizeof *d);
  if (!d) return NT_ENOMEM;
  d->fd = -1;
  int rc = nt__opts_copy(&d->o, sizeof d->o, opts, opts_size);
  if (rc) {
    nt__free(d);
    return rc;
  }
  if (!d->o.url || !d->o.path || !*d->o.path) {
    nt__free(d);
    return NT_EINVAL;
  }
  d->client = c;
  d->r = c->reactor;
  d->cbs = *cbs;
  d->arg = arg;
  d->total = -1;
  d->state = DL_ATTEMPT;
  nt_timer_init(d->r, &d->timer, backoff_cb);
  d->timer.data = d;
  d->rng = d->o.jitter_seed;
  while (!d->rng && getrandom(&d->rng, sizeof d->rng, GRND_NONBLOCK) < 0 &&
         errno == EINTR) {
  }
  if (!d->rng) d->rng = (uint32_t)nt_reactor_now(d->r) | 1u;
  d->url = nt__strdup(d->o.url);
  d->path = nt__strdup(d->o.path);
  d->part_path = suffixed(d->o.path, ".part");
  d->state_path = suffixed(d->o.path, ".part.state");
  d->user = dup_or_null(d->o.user);
  d->password = dup_or_null(d->o.password);
  if (!d->url || !d->path || !d->part_path || !d->state_path ||
      (d->o.user && !d->user) || (d->o.password && !d->password)) {
    free_download(d);
    return NT_ENOMEM;
  }
  rc = copy_headers(d, d->o.headers);
  if (rc) {
    free_download(d);
    return rc;
  }
  d->o.url = d->o.path = d->o.user = d->o.password = NULL;
  d->o.headers = NULL;
  nt_url_t u;
  rc = nt_url_parse(d->url, &u);
  if (rc) {
    free_download(d);
    return rc;
  }
  char url_text[NT_URL_MAX + 300];
  nt_url_format(&u, url_text, sizeof url_text);
  nt_url_free(&u);
  snprintf(d->final_url, sizeof d->final_url, "%s", url_text);
  rc = open_part(d, url_text);
  if (rc) {
    free_download(d);
    return rc;
  }
  if (d->o.timeout_ms) d->deadline = nt_reactor_now(d->r) + d->o.timeout_ms;
  rc = start_attempt(d);
  if (rc) {
    /* nothing was received: leave a part file only if it was there */
    if (d->offset == 0) unlink(d->part_path);
    free_download(d);
    return rc;
  }
  if (out) *out = d;
  return 0;
}

void nt_http_download_cancel(nt_http_download_t *d) {
  if (!d || d->cancelled || d->state == DL_DONE) return;
  d->cancelled = 1;
  if (d->req) {
    nt_http_request_cancel(d->req); /* on_done finishes */
    return;
  }
  finish(d, NT_ECANCELED); /* waiting to retry */
}

void nt_http_download_info_sized(size_t info_size, const nt_http_download_t *d,
                                 nt_http_download_info_t *info) {
  nt_http_download_info_t i;
  memset(&i, 0, sizeof i);
  i.http_status = d->http_status;
  i.offset = d->offset;
  i.total = d->total;
  i.resumed_at = d->resumed_at;
  i.received = d->received;
  i.discarded = d->discarded;
  i.attempts = d->attempts;
  i.retries = d->retries;
  i.restarts = d->restarts;
  i.verified = d->verified;
  i.local = d->local_error != 0;
  if (d->req) nt_http_request_progress(d->req, &i.request);
  else i.request = d->last;
  memcpy(info, &i, info_size < sizeof i ? info_size : sizeof i);
}

const char *nt_http_download_error(const nt_http_download_t *d) {
  return d->error;
}

const char *nt_http_download_url(const nt_http_download_t *d) {
  return d->req ? nt_http_request_url(d->req) : d->final_url;
}

nt_http_request_t *nt_http_download_request(const nt_http_download_t *d) {
  return d->req;
}

const char *nt_http_download_part_path(const nt_http_download_t *d) {
  return d->part_path;
}
