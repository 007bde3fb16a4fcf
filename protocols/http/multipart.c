/* multipart/form-data bodies (RFC 7578) as a pull producer: text fields
 * from memory, file parts as ranges of the open file (sent with
 * write_file: sendfile on TCP), stream parts (stdin, pipes) read only when
 * the client asks for more and the fd is readable. Nothing is read ahead of
 * the network: the client pulls a piece only when the transport can take
 * it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http-int.h"
#include "reactor-int.h"

#define STREAM_BUF (64u * 1024u)
#define MAX_TYPE 256
#define MAX_VALUES_TOTAL (256u << 20)
#define BOUNDARY_RANDOM 32
#define BOUNDARY_TRIES 16

typedef enum { PART_FIELD, PART_FILE, PART_STREAM } kind_t;

typedef struct {
  kind_t kind;
  char *name, *filename, *ctype;
  char *value; /* PART_FIELD */
  size_t vlen;
  char *path; /* PART_FILE, and streams opened by path */
  int fd;
  int own_fd;
  uint64_t size; /* PART_FILE: at the time it was added */
  char *head;    /* boundary line and part headers, made by finalize */
  size_t head_len;
} part_t;

enum { PH_HEAD, PH_DATA };
enum { MODE_UNKNOWN, MODE_WATCH, MODE_DIRECT };

struct nt_multipart_s {
  nt_http_body_t body;
  part_t *parts;
  size_t n, cap;
  size_t values_total;
  int finalized;
  char boundary[64];
  char *ctype;
  char *tail;
  size_t tail_len;
  int64_t length;
  /* the pull state */
  size_t cur;
  int phase;
  size_t head_off;  /* bytes of the part head given out */
  size_t tail_sent; /* bytes of the close delimiter given out */
  uint64_t off;
  int stream_eof;
  int consumed; /* some stream bytes were taken: no rewind */
  char *sbuf;
  /* waiting for a stream */
  int mode;
  int readable;
  nt_reactor_t *reactor;
  nt_io_t io;
  int io_fd; /* fd io was made for, -1: none */
  nt_timer_t kick;
  int kick_init;
  nt_callback ready;
  void *ready_arg;
  char err[512];
};

/* --- randomness (a hook so tests can force a boundary collision) ---------- */

static int default_random(void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom((char *)buf + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    got += (size_t)r;
  }
  return 0;
}

static nt__random_fn random_fn = default_random;

void nt__multipart_set_random(nt__random_fn fn) {
  random_fn = fn ? fn : default_random;
}

/* --- building ------------------------------------------------------------- */

int nt_multipart_new(nt_multipart_t **out) {
  nt_multipart_t *m = nt__calloc(1, sizeof *m);
  if (!m) return NT_ENOMEM;
  m->io_fd = -1;
  m->length = -1;
  *out = m;
  return 0;
}

static void part_free(part_t *p) {
  nt__free(p->name);
  nt__free(p->filename);
  nt__free(p->ctype);
  nt__free(p->value);
  nt__free(p->path);
  nt__free(p->head);
  if (p->own_fd && p->fd >= 0) close(p->fd);
}

void nt_multipart_free(nt_multipart_t *m) {
  if (!m) return;
  if (m->io_fd >= 0) nt_io_stop(&m->io);
  if (m->kick_init) nt_timer_stop(&m->kick);
  for (size_t i = 0; i < m->n; i++) part_free(&m->parts[i]);
  nt__free(m->parts);
  nt__free(m->ctype);
  nt__free(m->tail);
  nt__free(m->sbuf);
  nt__free(m);
}

static int check_name(const char *s) {
  return s && strlen(s) <= NT_MULTIPART_MAX_NAME ? 0 : NT_EINVAL;
}

static int check_type(const char *s) {
  if (!s) return 0;
  size_t n = strlen(s);
  if (n == 0 || n > MAX_TYPE || strpbrk(s, "\r\n")) return NT_EINVAL;
  return 0;
}

static part_t *new_part(nt_multipart_t *m, int *rc) {
  *rc = 0;
  if (m->finalized) {
    *rc = NT_EBUSY;
    return NULL;
  }
  if (m->n >= NT_MULTIPART_MAX_PARTS) {
    *rc = NT_EINVAL;
    return NULL;
  }
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 8;
    part_t *p = nt__realloc(m->parts, cap * sizeof *p);
    if (!p) {
      *rc = NT_ENOMEM;
      return NULL;
    }
    m->parts = p;
    m->cap = cap;
  }
  part_t *p = &m->parts[m->n];
  memset(p, 0, sizeof *p);
  p->fd = -1;
  return p;
}

static char *dup_opt(const char *s, int *oom) {
  if (!s) return NULL;
  char *d = nt__strdup(s);
  if (!d) *oom = 1;
  return d;
}

int nt_multipart_add_field(nt_multipart_t *m, const char *name,
                           const char *value, size_t len) {
  int rc;
  if (check_name(name) || (len && !value) || len > NT_MULTIPART_MAX_VALUE ||
      m->values_total + len > MAX_VALUES_TOTAL)
    return NT_EINVAL;
  part_t *p = new_part(m, &rc);
  if (!p) return rc;
  int oom = 0;
  p->kind = PART_FIELD;
  p->name = dup_opt(name, &oom);
  p->value = nt__malloc(len ? len : 1);
  if (oom || !p->value) {
    part_free(p);
    return NT_ENOMEM;
  }
  if (len) memcpy(p->value, value, len);
  p->vlen = len;
  m->values_total += len;
  m->n++;
  return 0;
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s && s[1] ? s + 1 : path;
}

static int add_fd_part(nt_multipart_t *m, const char *name, const char *path,
                       int fd, int own, const char *filename,
                       const char *ctype) {
  int rc;
  if (check_name(name) || (filename && check_name(filename)) ||
      check_type(ctype))
    return NT_EINVAL;
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  if (S_ISDIR(st.st_mode)) return -EISDIR;
  part_t *p = new_part(m, &rc);
  if (!p) return rc;
  int oom = 0;
  const char *fname = filename ? filename : path ? base_name(path) : NULL;
  if (fname && check_name(fname)) return NT_EINVAL;
  p->kind = S_ISREG(st.st_mode) && path ? PART_FILE : PART_STREAM;
  p->name = dup_opt(name, &oom);
  p->filename = dup_opt(fname, &oom);
  p->ctype = dup_opt(ctype ? ctype : nt_http_guess_type(fname), &oom);
  p->path = dup_opt(path, &oom);
  if (oom) {
    part_free(p);
    return NT_ENOMEM;
  }
  p->fd = fd;
  p->own_fd = own;
  p->size = (uint64_t)st.st_size;
  m->n++;
  return 0;
}

int nt_multipart_add_file(nt_multipart_t *m, const char *name, const char *path,
                          const char *filename, const char *content_type) {
  if (!path || !*path) return NT_EINVAL;
  if (m->finalized) return NT_EBUSY;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return -errno;
  int rc = add_fd_part(m, name, path, fd, 1, filename, content_type);
  if (rc) close(fd);
  return rc;
}

int nt_multipart_add_stream(nt_multipart_t *m, const char *name, int fd,
                            const char *filename, const char *content_type) {
  if (fd < 0) return NT_EBADF;
  int rc = add_fd_part(m, name, NULL, fd, 0, filename, content_type);
  if (!rc) m->parts[m->n - 1].kind = PART_STREAM;
  return rc;
}

/* --- finalizing: boundary, part heads, length ----------------------------- */

/* A quoted-string parameter value: '"' and '\' get a backslash; CR and LF,
 * which cannot be in a header at all, become %0D and %0A (what browsers
 * do). Other bytes, UTF-8 included, go as they are. */
static size_t escape(char *dst, const char *s) {
  size_t k = 0;
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') {
      if (dst) dst[k] = '\\', dst[k + 1] = *s;
      k += 2;
    } else if (*s == '\r' || *s == '\n') {
      if (dst) memcpy(dst + k, *s == '\r' ? "%0D" : "%0A", 3);
      k += 3;
    } else {
      if (dst) dst[k] = *s;
      k++;
    }
  }
  return k;
}

static int make_head(nt_multipart_t *m, part_t *p, int first) {
  static const char disp[] = "Content-Disposition: form-data; name=\"";
  size_t blen = strlen(m->boundary);
  size_t need = 2 + 2 + blen + 2 + sizeof disp + escape(NULL, p->name) + 3;
  if (p->filename) need += 12 + escape(NULL, p->filename);
  if (p->ctype) need += 16 + strlen(p->ctype);
  need += 8;
  char *h = nt__malloc(need);
  if (!h) return NT_ENOMEM;
  size_t k = 0;
  if (!first) h[k++] = '\r', h[k++] = '\n';
  h[k++] = '-', h[k++] = '-';
  memcpy(h + k, m->boundary, blen);
  k += blen;
  h[k++] = '\r', h[k++] = '\n';
  memcpy(h + k, disp, sizeof disp - 1);
  k += sizeof disp - 1;
  k += escape(h + k, p->name);
  h[k++] = '"';
  if (p->filename) {
    memcpy(h + k, "; filename=\"", 12);
    k += 12;
    k += escape(h + k, p->filename);
    h[k++] = '"';
  }
  h[k++] = '\r', h[k++] = '\n';
  if (p->ctype) {
    memcpy(h + k, "Content-Type: ", 14);
    k += 14;
    memcpy(h + k, p->ctype, strlen(p->ctype));
    k += strlen(p->ctype);
    h[k++] = '\r', h[k++] = '\n';
  }
  h[k++] = '\r', h[k++] = '\n';
  p->head = h;
  p->head_len = k;
  return 0;
}

static int choose_boundary(nt_multipart_t *m) {
  static const char alnum[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (int attempt = 0; attempt < BOUNDARY_TRIES; attempt++) {
    unsigned char r[BOUNDARY_RANDOM];
    int rc = random_fn(r, sizeof r);
    if (rc) return rc;
    memcpy(m->boundary, "nettool-", 8);
    for (size_t i = 0; i < sizeof r; i++) m->boundary[8 + i] = alnum[r[i] % 62];
    m->boundary[8 + sizeof r] = 0;
    size_t blen = strlen(m->boundary);
    int clash = 0;
    for (size_t i = 0; i < m->n && !clash; i++) {
      part_t *p = &m->parts[i];
      if (p->kind == PART_FIELD && p->vlen >= blen &&
          memmem(p->value, p->vlen, m->boundary, blen))
        clash = 1;
    }
    if (!clash) return 0;
  }
  snprintf(m->err, sizeof m->err,
           "could not choose a boundary absent from the text fields");
  return NT_EIO;
}

static int finalize(nt_multipart_t *m) {
  int rc = choose_boundary(m);
  if (rc) return rc;
  int64_t len = 0;
  int unknown = 0;
  for (size_t i = 0; i < m->n; i++) {
    part_t *p = &m->parts[i];
    if ((rc = make_head(m, p, i == 0))) return rc;
    len += (int64_t)p->head_len;
    if (p->kind == PART_FIELD)
      len += (int64_t)p->vlen;
    else if (p->kind == PART_FILE)
      len += (int64_t)p->size;
    else
      unknown = 1;
  }
  size_t blen = strlen(m->boundary);
  m->tail = nt__malloc(blen + 9);
  m->ctype = nt__malloc(blen + 32);
  if (!m->tail || !m->ctype) return NT_ENOMEM;
  m->tail_len =
      (size_t)sprintf(m->tail, "%s--%s--\r\n", m->n ? "\r\n" : "", m->boundary);
  sprintf(m->ctype, "multipart/form-data; boundary=%s", m->boundary);
  len += (int64_t)m->tail_len;
  m->length = unknown ? -1 : len;
  m->finalized = 1;
  return 0;
}

/* --- the body operations -------------------------------------------------- */

static nt_multipart_t *M(nt_http_body_t *b) { return (nt_multipart_t *)b; }

static int64_t mp_length(nt_http_body_t *b) { return M(b)->length; }

static const char *mp_type(nt_http_body_t *b) { return M(b)->ctype; }

static void memory_piece(nt_body_piece_t *out, const char *data, size_t len) {
  memset(out, 0, sizeof *out);
  out->fd = -1;
  out->data = data;
  out->len = len;
}

static int file_changed(nt_multipart_t *m, part_t *p) {
  struct stat st;
  if (fstat(p->fd, &st) != 0) {
    snprintf(m->err, sizeof m->err, "%s: %s", p->path, strerror(errno));
    return NT_EIO;
  }
  if ((uint64_t)st.st_size != p->size) {
    snprintf(m->err, sizeof m->err,
             "%s: size changed from %llu to %llu bytes during the upload",
             p->path, (unsigned long long)p->size,
             (unsigned long long)st.st_size);
    return NT_EHTTP_FILE_CHANGED;
  }
  return 0;
}

/* One read of a stream part: 1 (a piece), 0 (its end), NT_EAGAIN, error. */
static int stream_read(nt_multipart_t *m, part_t *p, size_t max,
                       nt_body_piece_t *out) {
  if (m->mode == MODE_UNKNOWN) {
    struct stat st;
    if (fstat(p->fd, &st) == 0 && S_ISREG(st.st_mode)) m->mode = MODE_DIRECT;
  }
  if (m->mode == MODE_UNKNOWN || (m->mode == MODE_WATCH && !m->readable))
    return NT_EAGAIN;
  if (!m->sbuf && !(m->sbuf = nt__malloc(STREAM_BUF))) return NT_ENOMEM;
  size_t want = max < STREAM_BUF ? max : STREAM_BUF;
  for (;;) {
    ssize_t n = read(p->fd, m->sbuf, want);
    if (n > 0) {
      m->readable = 0;
      m->consumed = 1;
      memory_piece(out, m->sbuf, (size_t)n);
      return 1;
    }
    if (n == 0) return 0;
    if (errno == EINTR) continue;
    m->readable = 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return NT_EAGAIN;
    snprintf(m->err, sizeof m->err, "reading %s: %s",
             p->path ? p->path : "stdin", strerror(errno));
    return -errno;
  }
}

static int mp_next(nt_http_body_t *b, size_t max, nt_body_piece_t *out) {
  nt_multipart_t *m = M(b);
  if (!max) max = 1;
  for (;;) {
    if (m->cur >= m->n) { /* the close delimiter; off counts it out */
      if (m->tail_sent >= m->tail_len) return 0;
      size_t n = m->tail_len - m->tail_sent;
      if (n > max) n = max;
      memory_piece(out, m->tail + m->tail_sent, n);
      m->tail_sent += n;
      return 1;
    }
    part_t *p = &m->parts[m->cur];
    if (m->phase == PH_HEAD) {
      size_t n = p->head_len - m->head_off;
      if (n > max) n = max;
      memory_piece(out, p->head + m->head_off, n);
      m->head_off += n;
      if (m->head_off == p->head_len) {
        m->phase = PH_DATA;
        m->off = 0;
        m->stream_eof = 0;
      }
      return 1;
    }
    if (p->kind == PART_FIELD && m->off < p->vlen) {
      size_t n = p->vlen - (size_t)m->off;
      if (n > max) n = max;
      memory_piece(out, p->value + m->off, n);
      m->off += n;
      return 1;
    }
    if (p->kind == PART_FILE) {
      int rc = file_changed(m, p);
      if (rc) return rc;
      if (m->off < p->size) {
        uint64_t n = p->size - m->off;
        if (n > max) n = max;
        memset(out, 0, sizeof *out);
        out->fd = p->fd;
        out->offset = m->off;
        out->flen = n;
        m->off += n;
        return 1;
      }
    }
    if (p->kind == PART_STREAM && !m->stream_eof) {
      int rc = stream_read(m, p, max, out);
      if (rc != 0) return rc;
      m->stream_eof = 1;
    }
    m->cur++;
    m->phase = PH_HEAD;
    m->head_off = 0;
    m->mode = MODE_UNKNOWN; /* the next stream may be another kind of fd */
    m->readable = 0;
  }
}

static void kick_cb(nt_timer_t *t) {
  nt_multipart_t *m = t->data;
  if (m->ready) {
    nt_callback cb = m->ready;
    m->ready = NULL;
    cb(m->ready_arg);
  }
}

static void io_cb(nt_io_t *io, unsigned events) {
  (void)events;
  nt_multipart_t *m = io->data;
  nt_io_stop(io);
  m->readable = 1;
  kick_cb(&m->kick);
}

static int mp_wait(nt_http_body_t *b, nt_reactor_t *r, nt_callback ready,
                   void *arg) {
  nt_multipart_t *m = M(b);
  if (m->cur >= m->n || m->parts[m->cur].kind != PART_STREAM) return NT_EINVAL;
  part_t *p = &m->parts[m->cur];
  if (m->kick_init && m->reactor != r) nt_timer_stop(&m->kick);
  if (!m->kick_init || m->reactor != r) {
    nt_timer_init(r, &m->kick, kick_cb);
    m->kick.data = m;
    m->kick_init = 1;
  }
  if (m->io_fd >= 0 && (m->io_fd != p->fd || m->reactor != r)) {
    nt_io_stop(&m->io);
    m->io_fd = -1;
  }
  m->reactor = r;
  m->ready = ready;
  m->ready_arg = arg;
  if (m->mode != MODE_DIRECT) {
    if (m->io_fd < 0) {
      nt_io_init(r, &m->io, p->fd, io_cb);
      m->io.data = m;
      m->io_fd = p->fd;
    }
    if (nt_io_start(&m->io, NT_READABLE) == 0) {
      m->mode = MODE_WATCH;
      return 0;
    }
    m->io_fd = -1; /* cannot be watched (a regular file): read directly */
    m->mode = MODE_DIRECT;
  }
  return nt_timer_start(&m->kick, 0, 0);
}

static void mp_cancel_wait(nt_http_body_t *b) {
  nt_multipart_t *m = M(b);
  m->ready = NULL;
  if (m->io_fd >= 0) nt_io_stop(&m->io);
  if (m->kick_init) nt_timer_stop(&m->kick);
}

static int mp_rewind(nt_http_body_t *b) {
  nt_multipart_t *m = M(b);
  if (m->consumed) {
    snprintf(
        m->err, sizeof m->err,
        "the body was read from a stream (stdin) and cannot be sent again");
    return NT_EHTTP_NO_REPLAY;
  }
  mp_cancel_wait(b);
  m->cur = 0;
  m->phase = PH_HEAD;
  m->head_off = 0;
  m->tail_sent = 0;
  m->off = 0;
  m->stream_eof = 0;
  m->mode = MODE_UNKNOWN;
  m->readable = 0;
  return 0;
}

static int mp_verify(nt_http_body_t *b) {
  nt_multipart_t *m = M(b);
  for (size_t i = 0; i < m->n; i++) {
    if (m->parts[i].kind != PART_FILE) continue;
    int rc = file_changed(m, &m->parts[i]);
    if (rc) return rc;
  }
  return 0;
}

static const char *mp_error(nt_http_body_t *b) { return M(b)->err; }

static const nt_http_body_ops_t mp_ops = {
    .length = mp_length,
    .content_type = mp_type,
    .next = mp_next,
    .wait = mp_wait,
    .cancel_wait = mp_cancel_wait,
    .rewind = mp_rewind,
    .verify = mp_verify,
    .error = mp_error,
};

nt_http_body_t *nt_multipart_body(nt_multipart_t *m) {
  if (!m->finalized) {
    int rc = finalize(m);
    if (rc) {
      for (size_t i = 0; i < m->n; i++) {
        nt__free(m->parts[i].head);
        m->parts[i].head = NULL;
      }
      nt__free(m->tail);
      nt__free(m->ctype);
      m->tail = m->ctype = NULL;
      return NULL;
    }
    m->body.ops = &mp_ops;
  }
  return &m->body;
}

const char *nt_multipart_boundary(const nt_multipart_t *m) {
  return m->finalized ? m->boundary : NULL;
}
