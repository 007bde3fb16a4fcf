/* The NZB downloader: every segment fetched with BODY <message-id> over N
 * connections per server, decoded (yenc.c) into a per-command buffer,
 * checked, and written with pwrite at the part's offset; NAME.part is
 * renamed to NAME when every segment of the file checked (and the whole
 * file's CRC32, when the post gave one).
 *
 * Work moves through servers in the order they were added: a segment that
 * is missing (430/423), damaged (CRC32, size, not yEnc) or refused on
 * server i is queued on server i+1; on the last one it ends MISSING,
 * DAMAGED (the damaged copy is written: PAR2 can repair it) or FAILED.
 * A connection that breaks puts its commands back at the front of its
 * server's queue (each such segment counts a try: after `retries` of them
 * it moves on, in case it is what breaks them). The server then gets a new
 * connection after a wait (nt__backoff: exponential, with jitter; one wait
 * per outage, however many of its connections broke with it), up to
 * `retries` waits in a row (a connection that gets through set-up starts
 * the count over); then its queue moves on. An error that cannot heal
 * (credentials refused, TLS, a 502 greeting, a name that does not exist)
 * moves the queue on at once.
 *
 * A connection refused before it was ready (connect refused, a provider's
 * "400 too many connections") never sent its commands: they go back to
 * the front of the queue without a try counted. When other connections to
 * the server work, that is a connection limit: no new connection is made
 * (no reconnect storm), the working ones carry on.
 *
 * Each connection keeps `window` BODY commands queued (answers come in
 * order, so each command owns a slot: its decoder). The answers come one
 * after the other, so the connection's one CONN_BUF buffer holds the
 * decoded bytes of the answer being read; it is written out whenever it
 * fills and when the answer ends (a damaged copy written this way is
 * overwritten by the next server's good one). The download
 * ends when every segment ended: the connections are closed, the state
 * files written, done() called, and everything freed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backoff-int.h"
#include "compress-int.h"
#include "nettool/yenc.h"
#include "nzb-int.h"
#include "reactor-int.h"

#define MAX_SERVERS 32
#define STATE_SAVE_MS 250 /* at most 4 state files a second per file */
/* Decoded bytes before they go to disk (pwrite): a part of any size
 * streams through it, so memory does not grow with article size, with the
 * window or with the connections. One buffer for the whole download (the
 * reactor runs one callback at a time): the part decoding into it owns it
 * (nt_nzb_get_s.owner) and its bytes go to disk when another part's line
 * comes. A reactor read (up to 64 KiB) is one connection's, so that costs
 * about one extra pwrite per read; 32 KiB is ~23 pwrites for a 700 KiB part
 * (a few microseconds each, beside the copy they make anyway). The
 * nzb_bench.sh peak-memory target counts every KiB (4 connections x 2
 * slots x 256 KiB was 2 MiB; one 32 KiB buffer per connection 128 KiB). A
 * yEnc line longer than this cannot be placed (its part is reported
 * damaged); real lines are 128-256 bytes. */
#define CONN_BUF (32u << 10)

typedef struct job_s {
  uint32_t file, seg;
} job_t;

typedef struct server_s {
  char *host, *user, *pass, *sni;
  int port, want;
  nt_nntp_options_t nntp;
  nt_proxy_t proxy; /* the caller's, copied (nntp.proxy points here) */
  job_t *q;         /* FIFO: q[head..tail) */
  size_t head, tail, cap;
  int nconns, nready; /* connections open / through set-up */
  int waits, dead;    /* reconnect waits in a row; gave up */
  int last_error;
  nt_nzb_get_t *g;
  nt_timer_t timer; /* the reconnect wait */
  int timer_init, waiting;
  nt__backoff_t backoff;
  size_t idx; /* in nt_nzb_get_s.sv */
} server_t;

struct conn_s;
typedef struct slot_s {
  struct conn_s *conn;
  job_t job;
  int busy, err, io_err;
  nt_yenc_t y;
  unsigned char *buf; /* the download's buffer (nt_nzb_get_s.buf), not owned */
} slot_t;

typedef struct conn_s {
  nt_nzb_get_t *g;
  size_t sv;
  nt_nntp_t *c;
  int inflight, next_slot, closing;
  int ready; /* through set-up: its commands went out */
  slot_t *slots;
  struct conn_s *prev, *next;
} conn_t;

typedef struct file_s {
  nt__nzb_seg_t *segs;
  char *part, *final, *state;
  int fd;
  uint64_t size;
  int has_crc;
  uint32_t crc;
  size_t pending, failed;
  int ended, dirty;
  uint64_t saved_at;
} file_t;

struct nt_nzb_get_s {
  nt_reactor_t *r;
  const nt_nzb_t *nzb;
  nt_nzb_get_options_t o;
  nt_nzb_callbacks_t cb;
  void *arg;
  char *dir;
  server_t *sv[MAX_SERVERS]; /* owned; ~1 KiB each, only as many as added */
  size_t nsv;
  file_t *files;
  conn_t *conns;
  size_t nconns, pending;
  nt_nzb_progress_t p;
  int started, finishing, cancelled, fatal, done_called;
  unsigned char *buf; /* CONN_BUF bytes: decoded data on its way to disk */
  slot_t *owner;      /* whose decoded bytes are in buf (none: NULL) */
  nt__nzb_connect_fn connect; /* test hook; NULL: nt_nntp_connect */
  void *connect_arg;
};

static void maybe_finish(nt_nzb_get_t *g);
static void kick(nt_nzb_get_t *g, size_t sv);

const char *nt_nzb_seg_status_name(nt_nzb_seg_status_t s) {
  switch (s) {
  case NT_NZB_SEG_OK: return "ok";
  case NT_NZB_SEG_RESUMED: return "resumed";
  case NT_NZB_SEG_MISSING: return "missing";
  case NT_NZB_SEG_DAMAGED: return "damaged";
  case NT_NZB_SEG_FAILED: return "failed";
  default: return "pending";
  }
}

static void wipe(void *p, size_t n) {
  volatile unsigned char *v = p;
  while (n--) *v++ = 0;
}

void nt__nzb_get_set_connect_hook(nt_nzb_get_t *g, nt__nzb_connect_fn fn, void *arg) {
  g->connect = fn;
  g->connect_arg = arg;
}

static char *path_join(const char *dir, const char *name, const char *ext) {
  size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
  char *p = nt__malloc(n);
  if (p) snprintf(p, n, "%s/%s%s", dir, name, ext);
  return p;
}

int nt_nzb_get_new_sized(size_t opts_size, nt_reactor_t *r, const nt_nzb_t *nzb,
                         const nt_nzb_get_options_t *opts,
                         const nt_nzb_callbacks_t *cbs, void *arg,
                         nt_nzb_get_t **out) {
  *out = NULL;
  if (!r || !nzb || !nzb->nfiles) return NT_EINVAL;
  nt_nzb_get_t *g = nt__calloc(1, sizeof *g);
  if (!g) return NT_ENOMEM;
  int rc = NT__OPTS_COPY(g->o, opts, opts_size);
  if (rc) {
    nt__free(g);
    return rc;
  }
  if (g->o.connections <= 0) g->o.connections = 4;
  if (g->o.connections > 64) g->o.connections = 64;
  if (g->o.window <= 0) g->o.window = 2;
  if (g->o.window > 64) g->o.window = 64;
  if (g->o.retries == 0) g->o.retries = 3;
  if (g->o.retries < 0) g->o.retries = 0; /* no second chance */
  if (g->o.retries > 100) g->o.retries = 100;
  if (!g->o.retry_delay_ms) g->o.retry_delay_ms = 1000;
  if (!g->o.max_retry_delay_ms) g->o.max_retry_delay_ms = 60000;
  if (g->o.max_retry_delay_ms < g->o.retry_delay_ms)
    g->o.max_retry_delay_ms = g->o.retry_delay_ms;
  g->r = r;
  g->nzb = nzb;
  if (cbs) g->cb = *cbs;
  g->arg = arg;
  g->dir = nt__strdup(g->o.dir && *g->o.dir ? g->o.dir : ".");
  g->files = nt__calloc(nzb->nfiles, sizeof *g->files);
  if (!g->dir || !g->files) {
    nt_nzb_get_free(g);
    return NT_ENOMEM;
  }
  g->o.dir = g->dir;
  for (size_t i = 0; i < nzb->nfiles; i++) {
    file_t *f = &g->files[i];
    f->fd = -1;
    const char *name = nzb->files[i].name;
    f->segs = nt__calloc(nzb->files[i].nsegments, sizeof *f->segs);
    f->part = path_join(g->dir, name, ".part");
    f->final = path_join(g->dir, name, "");
    f->state = path_join(g->dir, name, ".part.state");
    if (!f->segs || !f->part || !f->final || !f->state) {
      nt_nzb_get_free(g);
      return NT_ENOMEM;
    }
  }
  *out = g;
  return 0;
}

int nt_nzb_get_add_server_sized(size_t nntp_opts_size, nt_nzb_get_t *g,
                                const char *host, int port,
                                const nt_nntp_options_t *nntp,
                                int connections) {
  if (!g || g->started || !host || !*host || g->nsv == MAX_SERVERS || port < 0 ||
      port > 65535)
    return NT_EINVAL;
  server_t *s = nt__calloc(1, sizeof *s);
  if (!s) return NT_ENOMEM;
  int rc = NT__OPTS_COPY(s->nntp, nntp, nntp ? nntp_opts_size : 0);
  if (rc) {
    nt__free(s);
    return rc;
  }
  s->host = nt__strdup(host);
  s->user = s->nntp.user ? nt__strdup(s->nntp.user) : NULL;
  s->pass = s->nntp.pass ? nt__strdup(s->nntp.pass) : NULL;
  s->sni = s->nntp.tls_server_name ? nt__strdup(s->nntp.tls_server_name) : NULL;
  if (!s->host || (s->nntp.user && !s->user) || (s->nntp.pass && !s->pass) ||
      (s->nntp.tls_server_name && !s->sni)) {
    nt__free(s->host);
    nt__free(s->user);
    nt__free(s->pass);
    nt__free(s->sni);
    nt__free(s);
    return NT_ENOMEM;
  }
  s->nntp.user = s->user;
  s->nntp.pass = s->pass;
  s->nntp.tls_server_name = s->sni;
  if (s->nntp.proxy) { /* by value: the caller's may go away */
    s->proxy = *s->nntp.proxy;
    s->nntp.proxy = &s->proxy;
  }
  s->port = port;
  s->g = g;
  s->backoff.base = g->o.retry_delay_ms;
  s->backoff.cap = g->o.max_retry_delay_ms;
  s->want = connections > 0 ? (connections > 64 ? 64 : connections) : g->o.connections;
  s->idx = g->nsv;
  g->sv[g->nsv++] = s;
  return 0;
}

static void free_slots(conn_t *k, int n) {
  if (k->g->owner >= k->slots && k->g->owner < k->slots + n) k->g->owner = NULL;
  nt__free(k->slots);
}

void nt_nzb_get_free(nt_nzb_get_t *g) {
  if (!g) return;
  for (size_t i = 0; i < g->nsv; i++) {
    server_t *s = g->sv[i];
    if (s->pass) memset(s->pass, 0, strlen(s->pass));
    if (s->timer_init) nt_timer_stop(&s->timer);
    wipe(&s->proxy, sizeof s->proxy);
    nt__free(s->host);
    nt__free(s->user);
    nt__free(s->pass);
    nt__free(s->sni);
    nt__free(s->q);
    nt__free(s);
  }
  if (g->files)
    for (size_t i = 0; i < g->nzb->nfiles; i++) {
      file_t *f = &g->files[i];
      if (f->fd >= 0) close(f->fd);
      nt__free(f->segs);
      nt__free(f->part);
      nt__free(f->final);
      nt__free(f->state);
    }
  nt__free(g->files);
  nt__free(g->dir);
  nt__free(g->buf);
  nt__free(g);
}

/* --- queues ------------------------------------------------------------------------ */

static int push(server_t *s, job_t j, int front) {
  if (front && s->head > 0) {
    s->q[--s->head] = j;
    return 0;
  }
  if (s->tail == s->cap || (front && s->head == 0)) {
    size_t live = s->tail - s->head;
    size_t nc = s->cap ? s->cap * 2 : 64;
    if (nc < live + 2) nc = live + 2;
    job_t *q = nt__malloc(nc * sizeof *q);
    if (!q) return NT_ENOMEM;
    size_t off = front ? 1 : 0;
    if (live) memcpy(q + off, s->q + s->head, live * sizeof *q);
    nt__free(s->q);
    s->q = q;
    s->cap = nc;
    s->head = off;
    s->tail = off + live;
  }
  if (front) s->q[--s->head] = j;
  else s->q[s->tail++] = j;
  return 0;
}

static size_t queued(const server_t *s) { return s->tail - s->head; }

/* --- files -------------------------------------------------------------------------- */

static void save_state(nt_nzb_get_t *g, size_t fi, int force) {
  file_t *f = &g->files[fi];
  if (!f->dirty || f->ended == 2) return;
  uint64_t now = nt_reactor_now(g->r);
  if (!force && now - f->saved_at < STATE_SAVE_MS) return;
  if (nt__nzb_state_save(f->state, &g->nzb->files[fi], f->segs, f->size, f->has_crc,
                         f->crc) == 0) {
    f->dirty = 0;
    f->saved_at = now;
  }
}

static int seg_order(const void *a, const void *b) {
  const nt__nzb_seg_t *x = *(nt__nzb_seg_t *const *)a, *y = *(nt__nzb_seg_t *const *)b;
  return (x->begin > y->begin) - (x->begin < y->begin);
}

/* Every segment of the file ended: rename it when all are good. */
static void end_file(nt_nzb_get_t *g, size_t fi) {
  file_t *f = &g->files[fi];
  const nt_nzb_file_t *nf = &g->nzb->files[fi];
  int status = 0;
  if (f->failed) {
    status = NT_ENZB_INCOMPLETE;
  } else {
    /* the parts must tile 0..size exactly; their CRCs combine in order */
    nt__nzb_seg_t **v = nt__malloc(nf->nsegments * sizeof *v);
    if (!v) {
      status = NT_ENOMEM;
    } else {
      for (size_t i = 0; i < nf->nsegments; i++) v[i] = &f->segs[i];
      qsort(v, nf->nsegments, sizeof *v, seg_order);
      uint64_t at = 0;
      uint32_t crc = 0;
      for (size_t i = 0; i < nf->nsegments && !status; i++) {
        if (v[i]->begin != at) status = NT_EYENC_SIZE; /* a gap or an overlap */
        crc = i ? nt_yenc_crc_combine(crc, v[i]->crc, v[i]->len) : v[i]->crc;
        at += v[i]->len;
      }
      nt__free(v);
      if (!status && at != f->size) status = NT_EYENC_SIZE;
      if (!status && f->has_crc && crc != f->crc) status = NT_EYENC_CRC;
    }
    if (!status && f->fd >= 0 && ftruncate(f->fd, (off_t)f->size) < 0) status = -errno;
    if (!status && f->fd >= 0 && close(f->fd) < 0) status = -errno;
    if (!status) f->fd = -1;
    if (!status && rename(f->part, f->final) < 0) status = -errno;
  }
  if (f->fd >= 0) {
    close(f->fd);
    f->fd = -1;
  }
  if (!status) {
    unlink(f->state);
    f->ended = 2; /* renamed: no state any more */
    g->p.files_done++;
  } else {
    f->ended = 1;
    save_state(g, fi, 1);
  }
  if (g->cb.file) g->cb.file(g, fi, status ? f->part : f->final, status, g->arg);
}

/* A segment ended for good (every server it could go to was asked). */
static void seg_end(nt_nzb_get_t *g, job_t j, nt_nzb_seg_status_t st, int error) {
  file_t *f = &g->files[j.file];
  nt__nzb_seg_t *s = &f->segs[j.seg];
  if (st == NT_NZB_SEG_MISSING && s->broke_error) {
    /* a server it left because its connections kept breaking may well
     * have it: not proven missing, it failed (with that server's error) */
    st = NT_NZB_SEG_FAILED;
    error = s->broke_error;
    s->server = s->broke_server;
  }
  s->status = (uint8_t)st;
  s->error = error;
  f->pending--;
  g->pending--;
  g->p.segments_done++;
  g->p.bytes_done += g->nzb->files[j.file].segments[j.seg].bytes;
  if (st != NT_NZB_SEG_OK) {
    f->failed++;
    g->p.segments_failed++;
  } else {
    f->dirty = 1;
    save_state(g, j.file, 0);
  }
  if (g->cb.segment) g->cb.segment(g, j.file, j.seg, st, error, s->server, g->arg);
  if (!f->pending) end_file(g, j.file);
  if (g->cb.progress) g->cb.progress(g, &g->p, g->arg);
}

/* Server s could not give the segment (why: error): the next server, or
 * the end of it. */
static void next_server(nt_nzb_get_t *g, job_t j, nt_nzb_seg_status_t st, int error) {
  nt__nzb_seg_t *s = &g->files[j.file].segs[j.seg];
  s->error = error;
  size_t nx = (size_t)s->server + 1;
  while (nx < g->nsv && g->sv[nx]->dead) nx++;
  if (nx >= g->nsv || g->cancelled || g->fatal) {
    seg_end(g, j, st, error);
    return;
  }
  s->server = (uint8_t)nx;
  s->tries = 0;
  if (push(g->sv[nx], j, 0)) {
    seg_end(g, j, NT_NZB_SEG_FAILED, NT_ENOMEM);
    return;
  }
  kick(g, nx);
}

/* The decoded bytes in the slot's buffer go to the file at their place
 * (the part's =ypart begin, plus what was written before), and the buffer
 * starts empty again: a part streams through CONN_BUF bytes. 0,
 * NT_EYENC_SIZE (the part does not fit the file: nothing written), or a
 * file error (-errno). */
static int flush(nt_nzb_get_t *g, slot_t *sl) {
  file_t *f = &g->files[sl->job.file];
  const nt_yenc_info_t *in = &sl->y.info;
  size_t len = nt_yenc_output_len(&sl->y);
  if (!len) return 0;
  if (!f->size) f->size = in->size;
  uint64_t off = in->begin - 1 + sl->y.out_done;
  if (in->begin < 1 || in->size != f->size || in->end > f->size || off + len > in->end)
    return NT_EYENC_SIZE;
  size_t done = 0;
  while (done < len) {
    ssize_t w = pwrite(f->fd, sl->buf + done, len - done, (off_t)(off + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return w < 0 ? -errno : NT_EIO;
    done += (size_t)w;
  }
  nt_yenc_output_taken(&sl->y);
  return 0;
}

/* A part that checked: its last bytes written, its place and CRC32 kept
 * for the state file and the whole file's CRC32. */
static int write_part(nt_nzb_get_t *g, job_t j, slot_t *sl) {
  file_t *f = &g->files[j.file];
  const nt_yenc_info_t *in = &sl->y.info;
  int rc = flush(g, sl);
  if (rc) return rc;
  if (in->part && in->has_crc && !f->has_crc) { /* the whole file's CRC32 */
    f->has_crc = 1;
    f->crc = in->crc32;
  }
  nt__nzb_seg_t *s = &f->segs[j.seg];
  s->begin = in->begin - 1;
  s->len = sl->y.decoded;
  s->crc = sl->y.crc;
  g->p.decoded += sl->y.decoded;
  return 0;
}

static void fatal(nt_nzb_get_t *g, int err) {
  if (!g->fatal) g->fatal = err;
  nt_nzb_get_cancel(g);
}

/* --- connections -------------------------------------------------------------------- */

/* The part in sl decodes into the shared buffer from now on: the bytes of
 * the part that had it go to disk first (a failure is that part's). */
static void take_buf(nt_nzb_get_t *g, slot_t *sl) {
  slot_t *o = g->owner;
  if (o && o != sl) {
    int rc = flush(g, o);
    if (rc) {
      if (rc < 0 && rc > -3000) o->io_err = rc;
      if (!o->err) o->err = rc;
      nt_yenc_output_taken(&o->y); /* dropped: its part fails anyway */
    }
  }
  g->owner = sl;
}

static void on_line(nt_nntp_t *c, const char *line, size_t len, void *arg) {
  slot_t *sl = arg;
  (void)c;
  if (sl->err) return;
  take_buf(sl->conn->g, sl);
  if (nt_yenc_output_len(&sl->y) + len > CONN_BUF) { /* no room: to disk first */
    int rc = flush(sl->conn->g, sl);
    if (rc < 0 && rc > -3000) sl->io_err = rc;
    if (rc) {
      sl->err = rc;
      return;
    }
  }
  sl->err = nt_yenc_feed_line(&sl->y, line, len);
}

static int is_refusal(int st) { return st <= -3500 && st > -3600; }

static void fill(conn_t *k);
static void fill_server(nt_nzb_get_t *g, size_t sv, conn_t *except);

static void on_done(nt_nntp_t *c, const nt_nntp_result_t *res, void *arg) {
  slot_t *sl = arg;
  conn_t *k = sl->conn;
  nt_nzb_get_t *g = k->g;
  server_t *s = g->sv[k->sv];
  job_t j = sl->job;
  nt__nzb_seg_t *sg = &g->files[j.file].segs[j.seg];
  (void)c;
  sl->busy = 0;
  k->inflight--;
  if (g->cancelled) { /* stays pending: resumed next time */
    if (g->owner == sl) g->owner = NULL;
    maybe_finish(g);
    return;
  }
  if (sl->io_err) { /* the disk, not the server */
    fatal(g, sl->io_err);
    seg_end(g, j, NT_NZB_SEG_FAILED, sl->io_err);
  } else if (res->status == 0) {
    int rc = sl->err ? sl->err : nt_yenc_finish(&sl->y);
    if (rc == 0) {
      int w = write_part(g, j, sl);
      if (w == NT_EYENC_SIZE) {
        next_server(g, j, NT_NZB_SEG_DAMAGED, w);
      } else if (w) {
        fatal(g, w);
        seg_end(g, j, NT_NZB_SEG_FAILED, w);
      } else {
        nt__backoff_reset(&s->backoff); /* the server delivers */
        seg_end(g, j, NT_NZB_SEG_OK, 0);
      }
    } else {
      /* damaged here: another server may have a good copy; the last one
       * writes what it got when it is placeable (PAR2 repairs blocks) */
      size_t nx = k->sv + 1;
      while (nx < g->nsv && g->sv[nx]->dead) nx++;
      if (nx >= g->nsv && (rc == NT_EYENC_CRC || rc == NT_EYENC_SIZE))
        flush(g, sl); /* best effort (what fits its place); stays DAMAGED */
      next_server(g, j, NT_NZB_SEG_DAMAGED, rc);
    }
  } else if (res->status == NT_ENNTP_NOARTICLE) {
    next_server(g, j, NT_NZB_SEG_MISSING, res->status);
  } else if (is_refusal(res->status) && res->code > 0) { /* this command's "no" */
    s->last_error = res->status;
    next_server(g, j, NT_NZB_SEG_FAILED, res->status);
  } else if (!k->ready) {
    /* never sent: the connection was refused or its set-up failed (a
     * provider's "400 too many connections"). Not this segment's doing:
     * back to the front of the queue, no try counted; on_closed decides
     * about the server. */
    s->last_error = res->status;
    sg->error = res->status;
    if (s->dead) next_server(g, j, NT_NZB_SEG_FAILED, res->status);
    else if (push(s, j, 1)) seg_end(g, j, NT_NZB_SEG_FAILED, NT_ENOMEM);
    else fill_server(g, k->sv, k); /* a working connection may be idle */
  } else { /* the connection broke with it in flight: again on this
            * server, or (after `retries` of those) the next */
    s->last_error = res->status;
    sg->error = res->status;
    if (++sg->tries > g->o.retries || s->dead) {
      if (!s->dead) { /* the server is fine for the others: it gave up on
                       * this one, it did not say it has not got it */
        sg->broke_error = res->status;
        sg->broke_server = (uint8_t)k->sv;
      }
      next_server(g, j, NT_NZB_SEG_FAILED, res->status);
    } else if (push(s, j, 1)) {
      seg_end(g, j, NT_NZB_SEG_FAILED, NT_ENOMEM);
    }
  }
  if (g->owner == sl) g->owner = NULL; /* written, or not to be */
  if (!k->closing && k->c) fill(k);
  maybe_finish(g);
}

static void fill(conn_t *k) {
  nt_nzb_get_t *g = k->g;
  server_t *s = g->sv[k->sv];
  while (!k->closing && !g->cancelled && k->inflight < g->o.window && queued(s)) {
    slot_t *sl = &k->slots[k->next_slot];
    if (sl->busy) break; /* answers come in order: the oldest is still out */
    job_t j = s->q[s->head];
    const nt_nzb_segment_t *seg = &g->nzb->files[j.file].segments[j.seg];
    if (!g->buf && !(g->buf = nt__malloc(CONN_BUF))) break;
    if (g->owner == sl) g->owner = NULL;
    sl->buf = g->buf;
    nt_yenc_init(&sl->y);
    nt_yenc_set_output(&sl->y, sl->buf, CONN_BUF);
    sl->err = sl->io_err = 0;
    sl->job = j;
    if (nt_nntp_fetch(k->c, NT_NNTP_BODY, seg->message_id, on_line, on_done, sl)) break;
    s->head++;
    sl->busy = 1;
    k->inflight++;
    k->next_slot = (k->next_slot + 1) % g->o.window;
  }
}

static void unlink_conn(nt_nzb_get_t *g, conn_t *k) {
  if (k->prev) k->prev->next = k->next;
  else g->conns = k->next;
  if (k->next) k->next->prev = k->prev;
  g->nconns--;
  g->sv[k->sv]->nconns--;
}

static void on_ready(nt_nntp_t *c, void *arg) {
  conn_t *k = arg;
  (void)c;
  server_t *s = k->g->sv[k->sv];
  k->ready = 1;
  s->nready++;
  s->waits = 0; /* it works: breakage counts afresh */
}

/* Fills the server's working connections (other than `except`). */
static void fill_server(nt_nzb_get_t *g, size_t sv, conn_t *except) {
  for (conn_t *k = g->conns; k; k = k->next)
    if (k != except && k->sv == sv && k->c && !k->closing) fill(k);
}

/* Whether a connection that ended with status (the server's last code:
 * code) may do better next time. */
static int heals(int status, int code) {
  switch (status) {
  case NT_ETIMEDOUT:
  case NT_EUNEXPECTEDEOF:
  case NT_ECONNRESET:
  case NT_ECONNREFUSED:
  case NT_ECONNABORTED:
  case NT_EPIPE:
  case NT_ENETUNREACH:
  case NT_EHOSTUNREACH:
  case NT_EDNS_TIMEOUT:
  case NT_EDNS_SERVFAIL:
  case NT_ETLS_TRUNCATED:
  case NT_EPROXY_TARGET:
  case NT_EPROXY_CLOSED:
  case NT_EPROXY_CONNECT:
    return 1;
  case NT_ENNTP_UNAVAILABLE: /* 400: for now (busy, a connection limit);
                                502: for good */
    return code != 502;
  default: /* credentials, TLS, not a news server, names, the proxy's no */
    return 0;
  }
}

static void on_wait_over(nt_timer_t *t) {
  server_t *s = t->data;
  s->waiting = 0;
  kick(s->g, s->idx);
}

static void server_dead(nt_nzb_get_t *g, size_t sv, int why) {
  server_t *s = g->sv[sv];
  nt__log(NT__LOG_INFO, "nzb: %s port %d: %s; giving up on this server", s->host, s->port,
          nt_strerror(why ? why : s->last_error));
  s->dead = 1;
  s->waiting = 0;
  if (s->timer_init) nt_timer_stop(&s->timer);
  while (queued(s)) {
    job_t j = s->q[s->head++];
    next_server(g, j, NT_NZB_SEG_FAILED, why ? why : s->last_error);
  }
}

static void on_closed(nt_nntp_t *c, int status, void *arg) {
  conn_t *k = arg;
  nt_nzb_get_t *g = k->g;
  size_t sv = k->sv;
  server_t *s = g->sv[sv];
  int code = c ? nt_nntp_last_code(c) : 0;
  k->c = NULL;
  unlink_conn(g, k);
  free_slots(k, g->o.window);
  int unexpected = !k->closing, was_ready = k->ready;
  if (was_ready) s->nready--;
  nt__free(k);
  if (unexpected && !g->cancelled && !g->finishing && !s->dead) {
    if (!status) status = NT_EUNEXPECTEDEOF;
    s->last_error = status;
    if (!heals(status, code)) {
      if (s->nready) s->want = s->nconns; /* odd, but the others work */
      else server_dead(g, sv, status);
    } else if (!was_ready && s->nready) {
      /* refused while others work: the server takes fewer connections
       * than asked (a provider's limit, "400 too many connections"); the
       * ones that work carry on, no new ones (no reconnect storm) */
      s->want = s->nconns;
      fill_server(g, sv, NULL);
    } else if (s->waiting) {
      /* the same outage: one new attempt is already on its way */
    } else if (s->waits >= g->o.retries) {
      if (!s->nconns) server_dead(g, sv, status);
      else s->want = s->nconns;
    } else { /* a new connection after a wait; the work waits in the queue */
      s->waits++;
      if (!s->timer_init) {
        nt_timer_init(g->r, &s->timer, on_wait_over);
        s->timer.data = s;
        s->timer_init = 1;
      }
      s->waiting = 1;
      uint64_t d = nt__backoff_next(&s->backoff);
      nt__log(NT__LOG_INFO, "nzb: %s port %d: %s; a new connection in %llu ms (%d of %d)",
              s->host, s->port, nt_strerror(status), (unsigned long long)d, s->waits,
              g->o.retries);
      if (nt_timer_start(&s->timer, d, 0)) {
        s->waiting = 0;
        kick(g, sv);
      }
    }
  }
  maybe_finish(g);
}

static int open_conn(nt_nzb_get_t *g, size_t sv) {
  server_t *s = g->sv[sv];
  conn_t *k = nt__calloc(1, sizeof *k);
  if (!k) return NT_ENOMEM;
  k->slots = nt__calloc((size_t)g->o.window, sizeof *k->slots);
  if (!k->slots) {
    nt__free(k);
    return NT_ENOMEM;
  }
  k->g = g;
  k->sv = sv;
  for (int i = 0; i < g->o.window; i++) k->slots[i].conn = k;
  nt_nntp_callbacks_t cbs = {.ready = on_ready, .closed = on_closed};
  int rc = g->connect ? g->connect(g->connect_arg, g->r, s->host, s->port, &s->nntp,
                                   &cbs, k, &k->c)
                      : nt_nntp_connect(g->r, s->host, s->port, &s->nntp, &cbs, k, &k->c);
  if (rc) {
    free_slots(k, g->o.window);
    nt__free(k);
    return rc;
  }
  k->next = g->conns;
  if (g->conns) g->conns->prev = k;
  g->conns = k;
  g->nconns++;
  s->nconns++;
  fill(k); /* commands wait in the client's queue until READY */
  return 0;
}

/* Work arrived on server sv: open connections as needed, fill them. */
static void kick(nt_nzb_get_t *g, size_t sv) {
  server_t *s = g->sv[sv];
  if (g->cancelled || s->dead) return;
  fill_server(g, sv, NULL);
  /* the open connections took what their windows hold; more for the rest
   * (unless a reconnect wait is on: the timer kicks again) */
  while (queued(s) && s->nconns < s->want && !s->waiting) {
    int rc = open_conn(g, sv);
    if (rc) {
      s->last_error = rc;
      if (!s->nconns) server_dead(g, sv, rc);
      return;
    }
  }
}

/* --- the end --------------------------------------------------------------------------- */

static void finalize(void *arg) {
  nt_nzb_get_t *g = arg;
  if (g->done_called) return;
  g->done_called = 1;
  for (size_t i = 0; i < g->nzb->nfiles; i++) save_state(g, i, 1);
  int status = g->fatal                ? g->fatal
               : g->cancelled          ? NT_ECANCELED
               : g->p.segments_failed  ? NT_ENZB_INCOMPLETE
               : g->p.files_done < g->p.files ? NT_ENZB_INCOMPLETE
                                              : 0;
  if (g->cb.done) g->cb.done(g, status, g->arg);
  nt_nzb_get_free(g);
}

static void maybe_finish(nt_nzb_get_t *g) {
  if (g->done_called) return;
  if (g->pending && !g->cancelled) return;
  if (!g->finishing) {
    g->finishing = 1;
    for (size_t i = 0; i < g->nsv; i++)
      if (g->sv[i]->timer_init) nt_timer_stop(&g->sv[i]->timer);
    for (conn_t *k = g->conns; k; k = k->next)
      if (!k->closing && k->c) {
        k->closing = 1;
        nt_nntp_close(k->c);
      }
  }
  if (g->nconns == 0) {
    if (nt_call_soon(g->r, finalize, g)) finalize(g);
  }
}

void nt_nzb_get_cancel(nt_nzb_get_t *g) {
  if (!g || g->cancelled || g->done_called) return;
  g->cancelled = 1;
  maybe_finish(g);
}

/* --- start ------------------------------------------------------------------------------ */

static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

int nt_nzb_get_start(nt_nzb_get_t *g) {
  if (!g || g->started) return NT_EINVAL;
  if (!g->nsv) return NT_EINVAL;
  /* Every yEnc part's CRC32 is checked with zlib's (loaded lazily): without
   * it every segment would pass for damaged, so say so before any work. */
  if (nt__compress_load()) return NT_ENOTSUP;
  struct stat st;
  if (stat(g->dir, &st) < 0) return -errno;
  if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
  const nt_nzb_t *nzb = g->nzb;
  g->p.files = nzb->nfiles;
  for (size_t i = 0; i < nzb->nfiles; i++) {
    file_t *f = &g->files[i];
    const nt_nzb_file_t *nf = &nzb->files[i];
    g->p.segments += nf->nsegments;
    g->p.bytes += nf->bytes;
    int have_part = exists(f->part);
    if (!g->o.no_resume && !have_part && exists(f->final) && !exists(f->state)) {
      /* done by an earlier run */
      for (size_t s = 0; s < nf->nsegments; s++) f->segs[s].status = NT_NZB_SEG_RESUMED;
      f->ended = 2;
      g->p.files_done++;
      g->p.segments_done += nf->nsegments;
      g->p.bytes_done += nf->bytes;
      continue;
    }
    int resumed = 0;
    if (!g->o.no_resume && have_part)
      resumed = nt__nzb_state_load(f->state, nf, f->segs, &f->size, &f->has_crc, &f->crc);
    f->fd = open(f->part, O_RDWR | O_CREAT | O_CLOEXEC | (resumed ? 0 : O_TRUNC), 0644);
    if (f->fd < 0) return -errno;
    for (size_t s = 0; s < nf->nsegments; s++) {
      if (f->segs[s].status == NT_NZB_SEG_RESUMED) {
        g->p.segments_done++;
        g->p.bytes_done += nf->segments[s].bytes;
      } else {
        f->pending++;
      }
    }
    g->pending += f->pending;
  }
  /* every pending segment starts on the first server */
  for (size_t i = 0; i < nzb->nfiles; i++)
    for (size_t s = 0; s < nzb->files[i].nsegments; s++)
      if (g->files[i].segs[s].status == NT_NZB_SEG_PENDING &&
          push(g->sv[0], (job_t){(uint32_t)i, (uint32_t)s}, 0))
        return NT_ENOMEM;
  g->started = 1;
  if (g->cb.progress) g->cb.progress(g, &g->p, g->arg);
  /* files whose every segment was resumed end now (renamed) */
  for (size_t i = 0; i < nzb->nfiles; i++)
    if (!g->files[i].ended && !g->files[i].pending) end_file(g, i);
  kick(g, 0);
  maybe_finish(g);
  return 0;
}

nt_nzb_seg_status_t nt_nzb_get_segment_status(const nt_nzb_get_t *g, size_t file,
                                              size_t seg) {
  if (!g || file >= g->nzb->nfiles || seg >= g->nzb->files[file].nsegments)
    return NT_NZB_SEG_PENDING;
  return (nt_nzb_seg_status_t)g->files[file].segs[seg].status;
}

const char *nt_nzb_get_path(const nt_nzb_get_t *g, size_t file) {
  if (!g || file >= g->nzb->nfiles) return "";
  return g->files[file].ended == 2 ? g->files[file].final : g->files[file].part;
}
