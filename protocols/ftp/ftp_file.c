/* Files on top of retrieve/store: a download goes to LOCAL.part and becomes
 * LOCAL only after a complete transfer (226, clean end of the data
 * connection, matching size), so a failure never touches an existing LOCAL
 * and leaves a part file that --resume continues with REST. File I/O is
 * plain blocking write(2) on the reactor thread: the data connection is
 * read only as fast as the file takes the bytes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ftp-int.h"
#include "reactor-int.h"

typedef struct {
  nt_ftp_done_cb cb;
  void *arg;
  char *local;
  char *part;
  int fd;
  int created;     /* we made the part file (it did not exist) */
  uint64_t offset; /* resumed from */
  int file_err;    /* a local write failed: the error */
} get_t;

static void get_free(get_t *g) {
  if (g->fd >= 0) close(g->fd);
  nt__free(g->local);
  nt__free(g->part);
  nt__free(g);
}

static int open_part(get_t *g) {
  g->fd = open(g->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (g->fd < 0) return -errno;
  g->created = 1;
  return 0;
}

static int file_sink(void *ctx, const char *p, size_t n) {
  get_t *g = ctx;
  if (g->fd < 0) { /* created on the first byte: a refused RETR leaves nothing */
    int rc = open_part(g);
    if (rc) {
      g->file_err = rc;
      return rc;
    }
  }
  while (n) { /* bounded: every turn writes at least one byte or fails */
    ssize_t w = write(g->fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      g->file_err = w < 0 ? -errno : NT_EIO;
      return g->file_err;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void get_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  get_t *g = arg;
  nt_ftp_result_t r = *res;
  r.path = g->local;
  if (g->file_err) {
    r.status = g->file_err;
    r.local = 1;
  }
  if (!r.status) {
    int rc = g->fd < 0 ? open_part(g) : 0; /* an empty file */
    struct stat st;
    if (!rc && fstat(g->fd, &st) < 0) rc = -errno;
    if (!rc && close(g->fd) < 0) rc = -errno;
    g->fd = -1;
    if (rc) {
      r.status = rc;
      r.local = 1;
    } else if (res->size != UINT64_MAX && !res->local &&
               (uint64_t)st.st_size != res->size) {
      r.status = NT_EFTP_SIZE; /* what is on disk is not what the server has */
    } else if (rename(g->part, g->local) < 0) {
      r.status = -errno;
      r.local = 1;
    }
  }
  if (r.status) {
    struct stat st;
    if (g->fd >= 0) {
      close(g->fd);
      g->fd = -1;
    }
    /* An empty part file we made is litter; anything else is resumable. */
    if (g->created && stat(g->part, &st) == 0 && st.st_size == 0)
      unlink(g->part);
    else if (stat(g->part, &st) == 0)
      r.path = g->part;
  }
  if (g->cb) g->cb(f, g->arg, &r);
  get_free(g);
}

int nt_ftp_get_file_sized(size_t opts_size, nt_ftp_t *f, const char *remote,
                          const char *local, const nt_ftp_file_options_t *fo,
                          nt_ftp_done_cb cb, void *arg) {
  nt_ftp_file_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, fo, opts_size)) return NT_ENOTSUP;
  if (fo) fo = &opts_copy_;
  nt_ftp_file_options_t o;
  memset(&o, 0, sizeof o);
  if (fo) o = *fo;
  if (!local || !*local || !remote) return NT_EINVAL;
  size_t ll = strlen(local);
  if (ll + sizeof ".part" > PATH_MAX) return NT_ETOOBIG;
  get_t *g = nt__calloc(1, sizeof *g);
  if (!g) return NT_ENOMEM;
  g->fd = -1;
  g->cb = cb;
  g->arg = arg;
  g->local = nt__strdup(local);
  g->part = nt__malloc(ll + sizeof ".part");
  if (!g->local || !g->part) {
    get_free(g);
    return NT_ENOMEM;
  }
  memcpy(g->part, local, ll);
  memcpy(g->part + ll, ".part", sizeof ".part");
  if (o.resume) {
    g->fd = open(g->part, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (g->fd >= 0) {
      struct stat st;
      if (fstat(g->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int e = errno ? -errno : NT_EINVAL;
        get_free(g);
        return e;
      }
      g->offset = (uint64_t)st.st_size;
    } else if (errno != ENOENT) {
      int e = -errno;
      get_free(g);
      return e;
    }
  }
  nt_ftp_xfer_options_t xo;
  memset(&xo, 0, sizeof xo);
  xo.fd = -1;
  xo.ascii = o.ascii;
  xo.offset = g->offset;
  nt_ftp_sink_t sink = {.data = file_sink, .ctx = g};
  int rc = nt_ftp_retrieve(f, remote, &xo, &sink, get_done, g);
  if (rc) get_free(g);
  return rc;
}

/* --- uploads ------------------------------------------------------------------ */

typedef struct {
  nt_ftp_done_cb cb;
  void *arg;
  int fd;
} put_t;

static void put_done(nt_ftp_t *f, void *arg, const nt_ftp_result_t *res) {
  put_t *p = arg;
  nt_ftp_done_cb cb = p->cb;
  void *cb_arg = p->arg;
  close(p->fd);
  nt__free(p);
  if (cb) cb(f, cb_arg, res);
}

int nt_ftp_put_file_sized(size_t opts_size, nt_ftp_t *f, const char *local,
                          const char *remote, const nt_ftp_file_options_t *fo,
                          nt_ftp_done_cb cb, void *arg) {
  nt_ftp_file_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, fo, opts_size)) return NT_ENOTSUP;
  if (fo) fo = &opts_copy_;
  nt_ftp_file_options_t o;
  memset(&o, 0, sizeof o);
  if (fo) o = *fo;
  if (!local || !remote) return NT_EINVAL;
  int fd = open(local, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return -EISDIR;
  }
  put_t *p = nt__calloc(1, sizeof *p);
  if (!p) {
    close(fd);
    return NT_ENOMEM;
  }
  p->cb = cb;
  p->arg = arg;
  p->fd = fd;
  nt_ftp_xfer_options_t xo;
  memset(&xo, 0, sizeof xo);
  xo.fd = fd;
  xo.ascii = o.ascii;
  xo.append = o.append;
  xo.verify_size = o.verify_size;
  xo.length = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
  int rc = nt_ftp_store(f, remote, &xo, put_done, p);
  if (rc) {
    close(fd);
    nt__free(p);
  }
  return rc;
}
