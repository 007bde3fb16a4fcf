/* A request body held in memory. */
#include <string.h>

#include "http-int.h"
#include "reactor-int.h"

typedef struct {
  nt_http_body_t base;
  char *data;
  size_t len, off;
  char *type;
} mem_body_t;

static int64_t mem_length(nt_http_body_t *b) {
  return (int64_t)((mem_body_t *)b)->len;
}

static const char *mem_type(nt_http_body_t *b) {
  return ((mem_body_t *)b)->type;
}

static int mem_next(nt_http_body_t *b, size_t max, nt_body_piece_t *out) {
  mem_body_t *m = (mem_body_t *)b;
  if (m->off >= m->len) return 0;
  size_t n = m->len - m->off;
  if (n > max) n = max;
  memset(out, 0, sizeof *out);
  out->fd = -1;
  out->data = m->data + m->off;
  out->len = n;
  m->off += n;
  return 1;
}

static int mem_rewind(nt_http_body_t *b) {
  ((mem_body_t *)b)->off = 0;
  return 0;
}

static int mem_verify(nt_http_body_t *b) {
  (void)b;
  return 0;
}

static const char *mem_error(nt_http_body_t *b) {
  (void)b;
  return "";
}

static const nt_http_body_ops_t mem_ops = {
    .length = mem_length,
    .content_type = mem_type,
    .next = mem_next,
    .rewind = mem_rewind,
    .verify = mem_verify,
    .error = mem_error,
}; /* never NT_EAGAIN: no wait */

int nt_http_body_memory(const void *data, size_t len, const char *content_type,
                        nt_http_body_t **out) {
  mem_body_t *m = nt__calloc(1, sizeof *m);
  if (!m) return NT_ENOMEM;
  m->base.ops = &mem_ops;
  m->data = nt__malloc(len ? len : 1);
  m->type = content_type ? nt__strdup(content_type) : NULL;
  if (!m->data || (content_type && !m->type)) {
    nt_http_body_memory_free(&m->base);
    return NT_ENOMEM;
  }
  if (len) memcpy(m->data, data, len);
  m->len = len;
  *out = &m->base;
  return 0;
}

void nt_http_body_memory_free(nt_http_body_t *b) {
  if (!b) return;
  mem_body_t *m = (mem_body_t *)b;
  nt__free(m->data);
  nt__free(m->type);
  nt__free(m);
}
