/* Line framing: the incremental line reader and the line receiver protocol
 * built on it. */
#include <string.h>

#include "nettool/framing.h"
#include "reactor-int.h"

void nt_line_reader_init(nt_line_reader_t *lr, size_t max_line) {
  memset(lr, 0, sizeof *lr);
  lr->max_line = max_line;
}

void nt_line_reader_free(nt_line_reader_t *lr) {
  nt__free(lr->buf);
  lr->buf = NULL;
  lr->len = lr->cap = 0;
}

void nt_line_reader_reset(nt_line_reader_t *lr) { nt_line_reader_free(lr); }

static int emit(nt_line_reader_t *lr, const char *line, size_t len,
                nt_frame_cb cb, void *arg) {
  if (len && line[len - 1] == '\r') len--;
  if (len > lr->max_line) return NT_ELINETOOLONG;
  return cb(arg, line, len);
}

/* Appends to the partial-line buffer. The limit counts the line's bytes plus
 * a possible "\r", so a max-length line split before its "\r\n" fits. */
static int stash(nt_line_reader_t *lr, const char *p, size_t n) {
  if (lr->len + n > lr->max_line + 1) return NT_ELINETOOLONG;
  if (lr->len + n > lr->cap) {
    size_t cap = lr->cap ? lr->cap : 128;
    while (cap < lr->len + n) cap *= 2;
    if (cap > lr->max_line + 1) cap = lr->max_line + 1;
    char *b = nt__realloc(lr->buf, cap);
    if (!b) return NT_ENOMEM;
    lr->buf = b;
    lr->cap = cap;
  }
  memcpy(lr->buf + lr->len, p, n);
  lr->len += n;
  return 0;
}

int nt_line_reader_feed(nt_line_reader_t *lr, const char *data, size_t len,
                        nt_frame_cb cb, void *arg, size_t *consumed) {
  size_t pos = 0;
  int rc = 0;
  while (pos < len) {
    const char *nl = memchr(data + pos, '\n', len - pos);
    if (!nl) {
      rc = stash(lr, data + pos, len - pos);
      if (rc) goto out;
      pos = len;
      break;
    }
    size_t n = (size_t)(nl - (data + pos));
    if (lr->len) {
      /* Finish the buffered line. */
      rc = stash(lr, data + pos, n);
      if (rc) goto out;
      pos += n + 1;
      /* Take the line out first: the callback may feed again. */
      char *line = lr->buf;
      size_t llen = lr->len;
      lr->buf = NULL;
      lr->len = lr->cap = 0;
      rc = emit(lr, line, llen, cb, arg);
      nt__free(line);
    } else {
      pos += n + 1;
      rc = emit(lr, data + pos - n - 1, n, cb, arg);
    }
    if (rc) goto out;
  }
out:
  if (consumed) *consumed = pos;
  return rc;
}

/* --- the line receiver protocol ------------------------------------------ */

static int lr_line_cb(void *arg, const char *line, size_t len) {
  nt_line_receiver_t *lr = arg;
  lr->ops->line_received(lr, line, len);
  return lr->stopped || !lr->base.transport ||
         nt_transport_is_closing(lr->base.transport);
}

static void lr_connection_made(nt_protocol_t *p, nt_transport_t *t) {
  nt_line_receiver_t *lr = (nt_line_receiver_t *)p;
  if (lr->ops->connection_made) lr->ops->connection_made(lr, t);
}

static void lr_data_received(nt_protocol_t *p, const char *data, size_t len) {
  nt_line_receiver_t *lr = (nt_line_receiver_t *)p;
  if (lr->stopped) return;
  if (lr->ops->raw_data) lr->ops->raw_data(lr, data, len);
  int rc = nt_line_reader_feed(&lr->reader, data, len, lr_line_cb, lr, NULL);
  if (rc < 0 && p->transport) nt_transport_abort_error(p->transport, rc);
}

static int lr_eof_received(nt_protocol_t *p) {
  nt_line_receiver_t *lr = (nt_line_receiver_t *)p;
  return lr->ops->eof_received ? lr->ops->eof_received(lr) : 0;
}

static void lr_connection_lost(nt_protocol_t *p, int status) {
  nt_line_receiver_t *lr = (nt_line_receiver_t *)p;
  /* the partial line is freed after: connection_lost may look at it (an
   * NNTP client asks whether a reply had begun, nntp_refuse.c) */
  if (lr->ops->connection_lost) lr->ops->connection_lost(lr, status);
  nt_line_reader_free(&lr->reader);
}

static void lr_pause_writing(nt_protocol_t *p) {
  nt_line_receiver_t *lr = (nt_line_receiver_t *)p;
  if (lr->ops->pause_writing) lr->ops->pause_writing(lr);
}

static void lr_resume_writing(nt_protocol_t *p) {
  nt_line_receiver_t *lr = (nt_line_receiver_t *)p;
  if (lr->ops->resume_writing) lr->ops->resume_writing(lr);
}

static void lr_destroy(nt_protocol_t *p) {
  nt_line_receiver_t *lr = (nt_line_receiver_t *)p;
  nt_line_reader_free(&lr->reader);
  if (lr->ops->destroy) lr->ops->destroy(lr);
}

static const nt_protocol_ops_t line_receiver_ops = {
    .connection_made = lr_connection_made,
    .data_received = lr_data_received,
    .eof_received = lr_eof_received,
    .connection_lost = lr_connection_lost,
    .pause_writing = lr_pause_writing,
    .resume_writing = lr_resume_writing,
    .destroy = lr_destroy,
};

void nt_line_receiver_init(nt_line_receiver_t *lr,
                           const nt_line_receiver_ops_t *ops, size_t max_line) {
  nt_protocol_init(&lr->base, &line_receiver_ops);
  lr->ops = ops;
  lr->stopped = 0;
  nt_line_reader_init(&lr->reader, max_line);
}

void nt_line_receiver_stop(nt_line_receiver_t *lr) { lr->stopped = 1; }

void nt_line_receiver_resume(nt_line_receiver_t *lr) {
  nt_line_reader_reset(&lr->reader);
  lr->stopped = 0;
}

int nt_line_receiver_send(nt_line_receiver_t *lr, const char *line, size_t len,
                          int crlf) {
  if (!lr->base.transport) return NT_ENOTCONN;
  struct iovec iov[2] = {{(void *)line, len},
                         {(void *)(crlf ? "\r\n" : "\n"), crlf ? 2u : 1u}};
  return nt_transport_writev(lr->base.transport, iov, 2);
}
