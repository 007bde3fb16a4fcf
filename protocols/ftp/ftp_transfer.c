/* nt_ftp_transfer (nettool/ftp_transfer.h): one file over as many FTP
 * sessions as it takes. Each session is a chain of operations queued one
 * after the other's callback:
 *
 *   connect -> LOGIN -> FEAT -> [SIZE, MDTM] -> RETR/STOR/APPE
 *           -> [OPTS HASH, HASH | X<alg>] -> QUIT -> closed
 *
 * and the transfer's own state machine says what the session is for:
 *
 *   SESSION --(closed with an error that heals, retries left)--> BACKOFF
 *   BACKOFF --(timer)--> SESSION                 anything else --> DONE
 *
 * Where a retry continues: downloads from LOCAL.part's size (REST),
 * uploads from the remote file's SIZE (APPE; REST + STOR when APPE is not
 * implemented). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest-int.h"
#include "../http/download-int.h" /* which errors heal */
#include "backoff-int.h"
#include "ftp-int.h"
#include "nettool/ftp_transfer.h"
#include "nettool/journal.h"
#include "reactor-int.h"

#define DEFAULT_DELAY_MS 1000
#define DEFAULT_MAX_DELAY_MS 60000
#define STATE_KIND "ftp-get"

typedef enum { FT_SESSION, FT_BACKOFF, FT_DONE } ft_state_t;
static const char *const ft_state_names[] = {"session", "backoff", "done"};

struct nt_ftp_transfer_s {
  nt_reactor_t *r;
  nt_ftp_transfer_options_t o;
  nt_ftp_options_t session; /* o.session points here */
  nt_ftp_transfer_callbacks_t cbs;
  void *arg;
  ft_state_t state;
  char *host, *user, *password, *remote, *local, *part, *state_path;
  int fd;              /* LOCAL.part (download) or LOCAL (upload) */
  uint64_t local_size; /* upload: LOCAL's size */
  uint64_t offset;     /* bytes in place */
  uint64_t size;       /* the whole; UINT64_MAX: unknown */
  int64_t mtime;       /* MDTM; -1: unknown */
  uint64_t attempt_start, moved, moved_start, resumed_at;
  int attempts, retries, backoff_n;
  int no_appe;       /* APPE refused: REST + STOR */
  int no_put_resume; /* both refused: every upload attempt sends it all */
  int resume_refused; /* this session's failure was that refusal */
  int first_done;   /* the first session decided about an old part file */
  uint32_t rng;
  /* the session */
  nt_ftp_t *ftp;
  unsigned hashes; /* nt_ftp_parse_feat_hash of its FEAT */
  nt__dg_alg_t alg;
  char verb[16];   /* the checksum command in use */
  int failed;      /* the session's first error, or 0 */
  /* about that failure, for messages (nt_ftp_transfer_info) */
  nt_ftp_where_t where;
  int session_lost; /* the session itself failed, not one of its commands */
  int connected;    /* its control connection came up */
  int greeted;      /* the server greeted it */
  int resume_too_big; /* --resume of a part file larger than the file */
  int quitting;
  int cancelled;
  nt_ftp_result_t last; /* the reply that decided, for on_retry/on_done */
  char last_text[1024];
  char verified[32];
  int local_err;
  uint64_t deadline; /* 0: none */
  nt_timer_t timer;
};

static void set_state(nt_ftp_transfer_t *t, ft_state_t s) {
  if (t->state != s)
    NT__DEBUG("ftp transfer: [%s] -> [%s]", ft_state_names[t->state],
              ft_state_names[s]);
  t->state = s;
}

static uint32_t next_random(nt_ftp_transfer_t *t) {
  uint32_t x = t->rng;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return t->rng = x;
}

static void wipe_free(char *s) {
  if (!s) return;
  memset(s, 0, strlen(s));
  nt__free(s);
}

static void free_transfer(nt_ftp_transfer_t *t) {
  if (t->fd >= 0) close(t->fd);
  nt__free(t->host);
  wipe_free(t->user);
  wipe_free(t->password);
  nt__free(t->remote);
  nt__free(t->local);
  nt__free(t->part);
  nt__free(t->state_path);
  nt__free(t);
}

static void keep_result(nt_ftp_transfer_t *t, const nt_ftp_result_t *res) {
  t->last = *res;
  snprintf(t->last_text, sizeof t->last_text, "%s", res->text ? res->text : "");
  t->last.text = t->last_text;
  t->last.path = NULL;
}

/* --- the state file of a download ------------------------------------------ */

static void state_save(nt_ftp_transfer_t *t) {
  nt_journal_t *j;
  if (nt_journal_new(&j)) return;
  char port[16];
  snprintf(port, sizeof port, "%d", t->o.port);
  int rc = nt_journal_set(j, "kind", STATE_KIND);
  if (!rc) rc = nt_journal_set(j, "host", t->host);
  if (!rc) rc = nt_journal_set(j, "port", port);
  if (!rc) rc = nt_journal_set(j, "remote", t->remote);
  if (!rc) rc = nt_journal_set_u64(j, "size", t->size);
  if (!rc && t->mtime >= 0) rc = nt_journal_set_u64(j, "mtime", (uint64_t)t->mtime);
  if (!rc) (void)nt_journal_save(j, t->state_path);
  nt_journal_free(j);
}

/* Whether LOCAL.part's state says it holds the start of this very file. */
static int state_matches(nt_ftp_transfer_t *t) {
  nt_journal_t *j;
  if (nt_journal_load(t->state_path, &j)) return 0;
  char port[16];
  snprintf(port, sizeof port, "%d", t->o.port);
  const char *k = nt_journal_get(j, "kind"), *h = nt_journal_get(j, "host");
  const char *p = nt_journal_get(j, "port"), *rm = nt_journal_get(j, "remote");
  uint64_t size = 0, mtime = 0;
  int have_mtime = nt_journal_get_u64(j, "mtime", &mtime) == 0;
  int ok = k && !strcmp(k, STATE_KIND) && h && !strcmp(h, t->host) && p &&
           !strcmp(p, port) && rm && !strcmp(rm, t->remote) &&
           nt_journal_get_u64(j, "size", &size) == 0 && size == t->size &&
           t->size != UINT64_MAX &&
           (!have_mtime || (t->mtime >= 0 && mtime == (uint64_t)t->mtime));
  nt_journal_free(j);
  return ok;
}

/* --- the end ----------------------------------------------------------------- */

static void done_cb(nt_timer_t *tm) {
  nt_ftp_transfer_t *t = tm->data;
  nt_ftp_result_t res = t->last;
  struct stat st;
  if (!res.status) res.path = t->local;
  else if (!t->o.upload && stat(t->part, &st) == 0) res.path = t->part;
  res.local = t->local_err != 0;
  res.size = t->size;
  res.bytes = t->moved;
  if (t->cbs.on_done) t->cbs.on_done(t, &res, t->arg);
  free_transfer(t);
}

static void finish(nt_ftp_transfer_t *t, int status) {
  t->last.status = status;
  set_state(t, FT_DONE);
  if (t->fd >= 0) {
    close(t->fd);
    t->fd = -1;
  }
  if (!t->o.upload) {
    struct stat st;
    if (status == NT_EDIGEST) {
      (void)nt_journal_remove(t->state_path); /* kept to look at, not resumed */
    } else if (status && stat(t->part, &st) == 0 && st.st_size == 0) {
      unlink(t->part);
      (void)nt_journal_remove(t->state_path);
    }
  }
  nt_timer_stop(&t->timer);
  nt_timer_init(t->r, &t->timer, done_cb);
  t->timer.data = t;
  nt_timer_start(&t->timer, 0, 0);
}

/* --- which errors heal --------------------------------------------------------- */

static int heals(const nt_ftp_transfer_t *t, int status) {
  if (t->resume_too_big) return 0; /* the caller's file: not ours to cut */
  if (t->resume_refused) return 1; /* next time another way */
  if (t->local_err || status == NT_EDIGEST || status == NT_ENOTSUP) return 0;
  if (status == NT_EFTP_LOGIN || status == NT_EFTP_NOTLS) return 0;
  if (status == NT_EFTP_REPLY) /* 4xx: try again later; 5xx: no */
    return t->last.code >= 400 && t->last.code < 500;
  if (status == NT_EFTP_CLOSED) return 1; /* 421 */
  if (status == NT_EFTP_SIZE) return 1;   /* cut short: the rest later */
  return nt__dl_transient(status);
}

static void start_session(nt_ftp_transfer_t *t);

static void backoff_cb(nt_timer_t *tm) { start_session(tm->data); }

/* The session is over (closed): done, or another one later. */
static void session_over(nt_ftp_transfer_t *t, int status) {
  if (t->cancelled) {
    finish(t, NT_ECANCELED);
    return;
  }
  if (!status) {
    finish(t, 0);
    return;
  }
  if (!heals(t, status) || t->retries >= t->o.max_retries) {
    finish(t, status);
    return;
  }
  uint64_t base = t->o.retry_delay_ms ? t->o.retry_delay_ms : DEFAULT_DELAY_MS;
  uint64_t cap =
      t->o.max_retry_delay_ms ? t->o.max_retry_delay_ms : DEFAULT_MAX_DELAY_MS;
  if (cap < base) cap = base;
  if (t->moved > t->moved_start) t->backoff_n = 0; /* it moved bytes */
  uint64_t delay = nt__backoff(base, cap, t->backoff_n++, next_random(t));
  if (t->deadline && nt_reactor_now(t->r) + delay >= t->deadline) {
    finish(t, status); /* the total limit would end the wait */
    return;
  }
  t->retries++;
  if (t->cbs.on_retry)
    t->cbs.on_retry(t, status, t->last.code ? &t->last : NULL, delay,
                    t->offset, t->arg);
  if (t->cancelled) {
    finish(t, NT_ECANCELED);
    return;
  }
  set_state(t, FT_BACKOFF);
  nt_timer_stop(&t->timer);
  nt_timer_init(t->r, &t->timer, backoff_cb);
  t->timer.data = t;
  nt_timer_start(&t->timer, delay, 0);
}

/* What the session's failure was about, when it is the first. */
static void note_failure(nt_ftp_transfer_t *t, nt_ftp_t *f) {
  t->where = nt_ftp_failure_where(f);
  t->greeted = nt_ftp_last_code(f) != 0;
  t->session_lost = !strcmp(nt_ftp_state_name(f), "CLOSED");
}

/* An operation of the session failed: remember why, end the session (with
 * QUIT when it is idle: a refused login or file is not a broken session). */
static void op_failed(nt_ftp_transfer_t *t, nt_ftp_t *f,
                      const nt_ftp_result_t *res) {
  if (!t->failed) {
    t->failed = res->status ? res->status : NT_EPROTO;
    keep_result(t, res);
    if (res->local) t->local_err = res->status;
    note_failure(t, f);
  }
  t->quitting = 1;
  nt_ftp_close(f);
}

/* --- one session --------------------------------------------------------------- */

static void quit_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  (void)f, (void)arg, (void)res; /* `closed` follows either way */
}

static void end_session_ok(nt_ftp_transfer_t *t, nt_ftp_t *f) {
  t->quitting = 1;
  if (nt_ftp_quit(f, quit_done, t)) nt_ftp_close(f);
}

/* The checksum command FEAT offers, strongest first. */
static int pick_hash(nt_ftp_transfer_t *t) {
  static const struct {
    unsigned bit;
    const char *verb, *opts;
    nt__dg_alg_t alg;
  } order[] = {
      {NT_FTP_HASH_SHA256, "HASH", "HASH SHA-256", NT__DG_SHA256},
      {NT_FTP_HASH_SHA512, "HASH", "HASH SHA-512", NT__DG_SHA512},
      {NT_FTP_XSHA256, "XSHA256", NULL, NT__DG_SHA256},
      {NT_FTP_XSHA512, "XSHA512", NULL, NT__DG_SHA512},
      {NT_FTP_HASH_SHA1, "HASH", "HASH SHA-1", NT__DG_SHA1},
      {NT_FTP_XSHA1, "XSHA1", NULL, NT__DG_SHA1},
      {NT_FTP_HASH_MD5, "HASH", "HASH MD5", NT__DG_MD5},
      {NT_FTP_XMD5, "XMD5", NULL, NT__DG_MD5},
      {NT_FTP_HASH_CRC32, "HASH", "HASH CRC32", NT__DG_CRC32},
      {NT_FTP_XCRC, "XCRC", NULL, NT__DG_CRC32},
  };
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
    if (t->hashes & order[i].bit) {
      t->alg = order[i].alg;
      snprintf(t->verb, sizeof t->verb, "%s", order[i].verb);
      return (int)i;
    }
  return -1;
}

static const char *hash_opts(nt_ftp_transfer_t *t) {
  switch (t->alg) {
  case NT__DG_SHA256: return "HASH SHA-256";
  case NT__DG_SHA512: return "HASH SHA-512";
  case NT__DG_SHA1: return "HASH SHA-1";
  case NT__DG_MD5: return "HASH MD5";
  default: return "HASH CRC32";
  }
}

/* The file the checksum is of, and the path on the server. */
static void hash_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  nt_ftp_transfer_t *t = arg;
  if (res->status) {
    op_failed(t, f, res);
    return;
  }
  unsigned char want[NT__DG_MAX], got[NT__DG_MAX];
  size_t n = nt__digest_len(t->alg), gl = 0;
  if (nt_ftp_parse_hash_reply(res->text, strlen(res->text), n, want)) {
    nt_ftp_result_t r = *res;
    r.status = NT_EFTP_BADREPLY;
    op_failed(t, f, &r);
    return;
  }
  int fd = t->o.upload ? t->fd : open(t->part, O_RDONLY | O_CLOEXEC);
  int rc = fd < 0 ? -errno : nt__digest_fd(t->alg, fd, 0, UINT64_MAX, got, &gl);
  if (!t->o.upload && fd >= 0) close(fd);
  if (rc) {
    nt_ftp_result_t r = *res;
    r.status = rc;
    r.local = 1;
    op_failed(t, f, &r);
    return;
  }
  if (gl != n || memcmp(got, want, n)) {
    nt_ftp_result_t r = *res;
    r.status = NT_EDIGEST;
    op_failed(t, f, &r);
    return;
  }
  snprintf(t->verified, sizeof t->verified, "%s%s%s", t->verb,
           strcmp(t->verb, "HASH") ? "" : " ",
           strcmp(t->verb, "HASH") ? "" : nt__digest_name(t->alg));
  if (!t->o.upload) {
    if (rename(t->part, t->local) != 0) {
      nt_ftp_result_t r = *res;
      r.status = -errno;
      r.local = 1;
      op_failed(t, f, &r);
      return;
    }
    (void)nt_journal_remove(t->state_path);
  }
  /* the result stays the transfer's (its 226), kept by verify_or_end */
  end_session_ok(t, f);
}

static void opts_hash_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  nt_ftp_transfer_t *t = arg;
  if (res->status) { /* the algorithm was refused: take the X command */
    t->hashes &= ~(unsigned)(NT_FTP_HASH_SHA256 | NT_FTP_HASH_SHA512 |
                             NT_FTP_HASH_SHA1 | NT_FTP_HASH_MD5 |
                             NT_FTP_HASH_CRC32);
    if (pick_hash(t) < 0) {
      nt_ftp_result_t r = *res;
      r.status = NT_ENOTSUP;
      op_failed(t, f, &r);
      return;
    }
  }
  int rc = nt__ftp_simple_cmd(f, t->verb, t->remote, hash_done, t);
  if (rc) {
    nt_ftp_result_t r = {.status = rc, .text = ""};
    op_failed(t, f, &r);
  }
}

/* After a whole transfer: the checksum, or (none offered) the end. */
static void verify_or_end(nt_ftp_transfer_t *t, nt_ftp_t *f,
                          const nt_ftp_result_t *res) {
  int can = !t->o.ascii && t->o.verify != NT_FTP_VERIFY_NEVER && pick_hash(t) >= 0;
  if (!can && t->o.verify == NT_FTP_VERIFY_REQUIRE) {
    nt_ftp_result_t r = *res;
    r.status = NT_ENOTSUP;
    r.code = 0;
    op_failed(t, f, &r);
    return;
  }
  if (!can) {
    if (!t->o.upload) {
      if (rename(t->part, t->local) != 0) {
        nt_ftp_result_t r = *res;
        r.status = -errno;
        r.local = 1;
        op_failed(t, f, &r);
        return;
      }
      (void)nt_journal_remove(t->state_path);
    }
    keep_result(t, res);
    end_session_ok(t, f);
    return;
  }
  keep_result(t, res); /* the transfer's reply, for on_done */
  int rc = !strcmp(t->verb, "HASH")
               ? nt__ftp_simple_cmd(f, "OPTS", hash_opts(t), opts_hash_done, t)
               : nt__ftp_simple_cmd(f, t->verb, t->remote, hash_done, t);
  if (rc) {
    nt_ftp_result_t r = {.status = rc, .text = ""};
    op_failed(t, f, &r);
  }
}

/* downloads ---------------------------------------------------------------- */

static int part_sink(void *ctx, const char *p, size_t n) {
  nt_ftp_transfer_t *t = ctx;
  while (n) {
    ssize_t w = pwrite(t->fd, p, n, (off_t)t->offset);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      t->local_err = w < 0 ? -errno : NT_EIO;
      return t->local_err;
    }
    p += w;
    n -= (size_t)w;
    t->offset += (uint64_t)w;
    t->moved += (uint64_t)w;
  }
  return 0;
}

static void retr_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  nt_ftp_transfer_t *t = arg;
  if (res->status) {
    nt_ftp_result_t r = *res;
    if (t->local_err) {
      r.status = t->local_err;
      r.local = 1;
    }
    op_failed(t, f, &r);
    return;
  }
  if (t->size != UINT64_MAX && t->offset != t->size) {
    nt_ftp_result_t r = *res;
    r.status = NT_EFTP_SIZE;
    op_failed(t, f, &r);
    return;
  }
  if (fsync(t->fd) != 0 && errno != EINVAL) {
    nt_ftp_result_t r = *res;
    r.status = -errno;
    r.local = 1;
    op_failed(t, f, &r);
    return;
  }
  verify_or_end(t, f, res);
}

static void start_retr(nt_ftp_transfer_t *t, nt_ftp_t *f) {
  if (!t->first_done) {
    /* the first session decides about a part file left by an earlier
     * run: continued when its state names this file as it is now */
    t->first_done = 1;
    struct stat st;
    int matches = state_matches(t);
    int keep = fstat(t->fd, &st) == 0 && st.st_size > 0 && (t->o.resume || matches);
    t->offset = keep ? (uint64_t)st.st_size : 0;
    if (keep && !matches && t->size != UINT64_MAX && t->offset > t->size) {
      /* asked to continue a part file larger than the server's file:
       * --resume cannot help, and it is not ours to throw away */
      t->resume_too_big = 1;
      nt_ftp_result_t r = {.status = NT_EFTP_SIZE, .text = "", .size = t->size,
                           .bytes = t->offset};
      op_failed(t, f, &r);
      return;
    }
    if (!keep && ftruncate(t->fd, 0) != 0) {
      nt_ftp_result_t r = {.status = -errno, .text = "", .local = 1};
      op_failed(t, f, &r);
      return;
    }
    t->resumed_at = t->offset;
    state_save(t);
  }
  if (t->size != UINT64_MAX && t->offset > t->size) { /* it shrank */
    if (ftruncate(t->fd, 0) != 0) {
      nt_ftp_result_t r = {.status = -errno, .text = "", .local = 1};
      op_failed(t, f, &r);
      return;
    }
    t->offset = 0;
    state_save(t);
  }
  t->attempt_start = t->offset;
  nt_ftp_xfer_options_t xo;
  memset(&xo, 0, sizeof xo);
  xo.fd = -1;
  xo.ascii = t->o.ascii;
  xo.offset = t->o.ascii ? 0 : t->offset;
  if (t->o.ascii && t->offset) {
    if (ftruncate(t->fd, 0) != 0) { /* text mode has no byte offsets */
      nt_ftp_result_t r = {.status = -errno, .text = "", .local = 1};
      op_failed(t, f, &r);
      return;
    }
    t->offset = 0;
  }
  nt_ftp_sink_t sink = {.data = part_sink, .ctx = t};
  int rc = nt_ftp_retrieve(f, t->remote, &xo, &sink, retr_done, t);
  if (rc) {
    nt_ftp_result_t r = {.status = rc, .text = ""};
    op_failed(t, f, &r);
  }
}

static void mdtm_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  nt_ftp_transfer_t *t = arg;
  t->mtime = res->status ? -1 : res->mtime; /* unknown is fine */
  start_retr(t, f);
}

static void size_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res);

/* uploads ------------------------------------------------------------------ */

static void stor_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  nt_ftp_transfer_t *t = arg;
  t->moved += res->bytes;
  if (res->status) {
    if (res->status == NT_EFTP_REPLY && res->code >= 400 && res->code != 426 &&
        res->bytes == 0 && t->offset) {
      /* the server will not continue a file (APPE not implemented, or
       * ProFTPD without AllowStoreRestart: "451 Append/Restart not
       * permitted"): REST + STOR next time, then the whole file again */
      if (!t->no_appe) t->no_appe = 1;
      else t->no_put_resume = 1;
      t->resume_refused = 1;
    }
    t->offset = t->attempt_start; /* the server's SIZE says, next time */
    op_failed(t, f, res);
    return;
  }
  t->offset = t->local_size;
  verify_or_end(t, f, res);
}

static void start_stor(nt_ftp_transfer_t *t, nt_ftp_t *f, uint64_t remote) {
  t->offset = remote <= t->local_size && !t->no_put_resume ? remote : 0;
  if (!t->first_done) {
    t->first_done = 1;
    t->resumed_at = t->offset;
  }
  t->attempt_start = t->offset;
  nt_ftp_xfer_options_t xo;
  memset(&xo, 0, sizeof xo);
  xo.fd = t->fd;
  xo.ascii = t->o.ascii;
  xo.offset = t->offset;
  xo.length = t->local_size - t->offset;
  xo.verify_size = 1; /* the server's SIZE after it, where it has SIZE */
  /* APPE continues without REST (ProFTPD refuses REST + STOR unless
   * AllowStoreRestart); REST + STOR where APPE is not implemented */
  xo.append = t->offset && !t->no_appe;
  int rc = nt_ftp_store(f, t->remote, &xo, stor_done, t);
  if (rc) {
    nt_ftp_result_t r = {.status = rc, .text = ""};
    op_failed(t, f, &r);
  }
}

static void size_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  nt_ftp_transfer_t *t = arg;
  if (t->o.upload) {
    /* the partial remote file's size; none (550): from the start */
    uint64_t remote = res->status || res->size == UINT64_MAX ? 0 : res->size;
    if (res->status == NT_EFTP_REPLY && res->code >= 400 && res->code < 500) {
      op_failed(t, f, res); /* busy: ask again later */
      return;
    }
    start_stor(t, f, remote);
    return;
  }
  if (res->status && !(res->status == NT_EFTP_REPLY && res->code >= 500)) {
    op_failed(t, f, res);
    return;
  }
  t->size = res->status ? UINT64_MAX : res->size;
  if (res->status) { /* no SIZE: 550 here is the RETR's to say */
    start_retr(t, f);
    return;
  }
  if (nt_ftp_features(f) & NT_FTP_FEAT_MDTM) {
    int rc = nt_ftp_mdtm(f, t->remote, mdtm_done, t);
    if (!rc) return;
  }
  start_retr(t, f);
}

static void utf8_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  (void)f, (void)arg, (void)res; /* best effort */
}

static void feat_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  nt_ftp_transfer_t *t = arg;
  if (res->status) {
    op_failed(t, f, res);
    return;
  }
  t->hashes = nt_ftp_parse_feat_hash(res->text, strlen(res->text));
  if (nt_ftp_features(f) & NT_FTP_FEAT_UTF8) (void)nt_ftp_utf8(f, utf8_done, t);
  int rc;
  int ask_size = t->o.upload ? (t->o.resume || t->first_done) && !t->o.ascii
                             : !t->o.ascii;
  if (ask_size) {
    rc = nt_ftp_size(f, t->remote, size_done, t);
  } else if (t->o.upload) {
    start_stor(t, f, 0);
    return;
  } else {
    start_retr(t, f);
    return;
  }
  if (rc) {
    nt_ftp_result_t r = {.status = rc, .text = ""};
    op_failed(t, f, &r);
  }
}

static void login_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  nt_ftp_transfer_t *t = arg;
  if (res->status) {
    op_failed(t, f, res);
    return;
  }
  int rc = nt_ftp_feat(f, feat_done, t);
  if (rc) {
    nt_ftp_result_t r = {.status = rc, .text = ""};
    op_failed(t, f, &r);
  }
}

static void on_connected(nt_ftp_t *f, void *arg) {
  nt_ftp_transfer_t *t = arg;
  t->connected = 1;
  if (t->cbs.on_session) t->cbs.on_session(t, f, t->arg);
}

static void on_closed(nt_ftp_t *f, void *arg, int status) {
  nt_ftp_transfer_t *t = arg;
  if (!t->failed && status && !t->quitting) {
    t->failed = status;
    t->last.status = status;
    t->last.code = nt_ftp_last_code(f);
    snprintf(t->last_text, sizeof t->last_text, "%s", nt_ftp_last_reply(f));
    t->last.text = t->last_text;
    note_failure(t, f);
    t->session_lost = 1;
  }
  t->ftp = NULL;
  session_over(t, t->failed);
}

static void start_session(nt_ftp_transfer_t *t) {
  set_state(t, FT_SESSION);
  t->failed = t->quitting = t->resume_refused = 0;
  t->where = NT_FTP_WHERE_NONE;
  t->session_lost = t->connected = t->greeted = 0;
  t->moved_start = t->moved;
  t->hashes = 0;
  t->attempts++;
  memset(&t->last, 0, sizeof t->last);
  t->last_text[0] = 0;
  t->last.text = t->last_text;
  nt_ftp_options_t so = *t->o.session;
  static const nt_ftp_callbacks_t cbs = {
      .connected = on_connected,
      .closed = on_closed,
  };
  int rc = nt_ftp_connect(t->r, t->host, t->o.port, &so, &cbs, t, &t->ftp);
  if (!rc)
    rc = nt_ftp_login(t->ftp, t->user, t->password, login_done, t);
  if (rc && !t->ftp) {
    t->last.status = rc;
    session_over(t, rc);
    return;
  }
  if (rc) {
    nt_ftp_result_t r = {.status = rc, .text = ""};
    op_failed(t, t->ftp, &r);
  }
}

/* --- the API ----------------------------------------------------------------- */

static char *dup_or_null(const char *s) { return s ? nt__strdup(s) : NULL; }

static char *suffixed(const char *path, const char *suffix) {
  size_t n = strlen(path) + strlen(suffix) + 1;
  char *s = nt__malloc(n);
  if (s) snprintf(s, n, "%s%s", path, suffix);
  return s;
}

static void first_cb(nt_timer_t *tm) { start_session(tm->data); }

int nt_ftp_transfer_start_sized(size_t opts_size, size_t session_size,
                                nt_reactor_t *r,
                                const nt_ftp_transfer_options_t *opts,
                                const nt_ftp_transfer_callbacks_t *cbs,
                                void *arg, nt_ftp_transfer_t **out) {
  if (out) *out = NULL;
  if (!r || !opts || !cbs) return NT_EINVAL;
  nt_ftp_transfer_t *t = nt__calloc(1, sizeof *t);
  if (!t) return NT_ENOMEM;
  t->fd = -1;
  int rc = nt__opts_copy(&t->o, sizeof t->o, opts, opts_size);
  if (!rc)
    rc = nt__opts_copy(&t->session, sizeof t->session, t->o.session, session_size);
  t->o.session = &t->session;
  if (rc) {
    nt__free(t);
    return rc;
  }
  if (!t->o.host || !*t->o.host || !t->o.remote || !*t->o.remote ||
      !t->o.local || !*t->o.local ||
      (t->session.tls != NT_FTP_TLS_NONE && !t->session.tls_ctx)) {
    nt__free(t);
    return NT_EINVAL;
  }
  if (strlen(t->o.local) + sizeof ".part.state" > PATH_MAX) {
    nt__free(t);
    return NT_ETOOBIG;
  }
  t->r = r;
  t->cbs = *cbs;
  t->arg = arg;
  t->size = UINT64_MAX;
  t->mtime = -1;
  t->host = nt__strdup(t->o.host);
  t->user = dup_or_null(t->o.user);
  t->password = dup_or_null(t->o.password);
  t->remote = nt__strdup(t->o.remote);
  t->local = nt__strdup(t->o.local);
  t->part = suffixed(t->o.local, ".part");
  t->state_path = suffixed(t->o.local, ".part.state");
  if (!t->host || !t->remote || !t->local || !t->part || !t->state_path ||
      (t->o.user && !t->user) || (t->o.password && !t->password)) {
    free_transfer(t);
    return NT_ENOMEM;
  }
  t->o.host = t->o.user = t->o.password = t->o.remote = t->o.local = NULL;
  if (t->o.upload) {
    t->fd = open(t->local, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (t->fd < 0 || fstat(t->fd, &st) != 0) {
      rc = -errno;
      free_transfer(t);
      return rc;
    }
    if (!S_ISREG(st.st_mode)) {
      free_transfer(t);
      return S_ISDIR(st.st_mode) ? -EISDIR : NT_EINVAL;
    }
    t->local_size = (uint64_t)st.st_size;
  } else {
    t->fd = open(t->part, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    struct stat st;
    if (t->fd < 0 || fstat(t->fd, &st) != 0) {
      rc = -errno;
      free_transfer(t);
      return rc;
    }
    if (!S_ISREG(st.st_mode)) {
      free_transfer(t);
      return NT_EINVAL;
    }
  }
  t->rng = t->o.jitter_seed;
  while (!t->rng && getrandom(&t->rng, sizeof t->rng, GRND_NONBLOCK) < 0 &&
         errno == EINTR) {
  }
  if (!t->rng) t->rng = (uint32_t)nt_reactor_now(r) | 1u;
  if (t->o.timeout_ms) t->deadline = nt_reactor_now(r) + t->o.timeout_ms;
  t->state = FT_BACKOFF;
  nt_timer_init(r, &t->timer, first_cb);
  t->timer.data = t;
  nt_timer_start(&t->timer, 0, 0);
  if (out) *out = t;
  return 0;
}

void nt_ftp_transfer_cancel(nt_ftp_transfer_t *t) {
  if (!t || t->cancelled || t->state == FT_DONE) return;
  t->cancelled = 1;
  if (t->ftp) {
    nt_ftp_abort(t->ftp); /* closed -> session_over -> finish */
    return;
  }
  finish(t, NT_ECANCELED);
}

void nt_ftp_transfer_info_sized(size_t info_size, const nt_ftp_transfer_t *t,
                                nt_ftp_transfer_info_t *info) {
  nt_ftp_transfer_info_t i;
  memset(&i, 0, sizeof i);
  i.attempts = t->attempts;
  i.retries = t->retries;
  i.offset = t->offset;
  if (t->ftp && t->state == FT_SESSION && !t->o.upload)
    i.offset = t->offset; /* written as it comes */
  else if (t->ftp && t->o.upload)
    i.offset = t->attempt_start + nt_ftp_xfer_bytes(t->ftp);
  i.size = t->o.upload ? t->local_size : t->size;
  i.moved = t->moved;
  i.resumed_at = t->resumed_at;
  i.verified = t->verified;
  i.session = t->ftp;
  i.where = t->where;
  i.session_lost = t->session_lost;
  i.connected = t->connected;
  i.greeted = t->greeted;
  memcpy(info, &i, info_size < sizeof i ? info_size : sizeof i);
}
