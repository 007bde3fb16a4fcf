/* The response parser: llhttp glue. This is the only file that includes
 * llhttp.h. Settings are filled with llhttp_settings_init() and callbacks
 * assigned by name (the struct's layout changes between llhttp versions).
 * Status, field names and values may arrive split across reads: the spans
 * are accumulated in one buffer, bounded by max_header_bytes. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <llhttp.h>

#include "http-int.h"
#include "reactor-int.h"

enum phase { P_IDLE, P_HEAD, P_BODY, P_TRAILERS, P_DONE };

struct nt__http_parser {
  llhttp_t ll;
  llhttp_settings_t settings;
  const nt__http_parser_cbs_t *cbs;
  void *arg;
  /* Strings of the current message, each NUL-terminated: the reason, then
   * name/value pairs; fields[i] holds their offsets. */
  char *buf;
  size_t len, cap;
  uint32_t (*fields)[2];
  size_t nfields, fields_cap;
  size_t trailer_start; /* index of the first trailer field */
  int has_trailers;
  size_t section_start; /* buf offset where the head or trailers began */
  size_t limit;
  uint32_t reason_off;
  uint32_t cur_name, cur_value;
  int in_status, in_name, in_value;
  enum phase phase;
  int head_request;
  int interim; /* the message being parsed is a 1xx */
  int ninterim;
  int started;
  int stopped;   /* a callback asked to stop */
  int own_error; /* an NT_E* code set by the glue itself */
  int status;
  char error[256];
};

static nt__http_parser_t *P(llhttp_t *ll) {
  return (nt__http_parser_t *)ll->data;
}

static int fail(nt__http_parser_t *p, int code, const char *why) {
  p->own_error = code;
  snprintf(p->error, sizeof p->error, "%s", why);
  llhttp_set_error_reason(&p->ll, p->error);
  return -1; /* llhttp: HPE_USER or HPE_CB_*; own_error says which */
}

static int append(nt__http_parser_t *p, const char *at, size_t n) {
  size_t used = p->len - p->section_start + 4 * (p->nfields + 1);
  if (used + n + 1 > p->limit)
    return fail(p, NT_EHTTP_HEADERS_TOO_BIG,
                p->phase == P_TRAILERS ? "trailers exceed the size limit"
                                       : "headers exceed the size limit");
  if (p->len + n + 1 > p->cap) {
    size_t cap = p->cap ? p->cap : 1024;
    while (cap < p->len + n + 1) cap *= 2;
    char *b = nt__realloc(p->buf, cap);
    if (!b) return fail(p, NT_ENOMEM, "out of memory");
    p->buf = b;
    p->cap = cap;
  }
  memcpy(p->buf + p->len, at, n);
  p->len += n;
  return 0;
}

static int terminate(nt__http_parser_t *p) { return append(p, "", 1); }

/* Append/terminate failed: -1 tells llhttp to stop with an error. */
#define CHECK(expr)                                                            \
  do {                                                                         \
    if (expr) return -1;                                                       \
  } while (0)

/* --- llhttp callbacks ----------------------------------------------------- */

static int cb_message_begin(llhttp_t *ll) {
  nt__http_parser_t *p = P(ll);
  p->len = 0;
  p->nfields = 0;
  p->trailer_start = 0;
  p->has_trailers = 0;
  p->section_start = 0;
  p->reason_off = 0;
  p->in_status = p->in_name = p->in_value = 0;
  p->interim = 0;
  p->phase = P_HEAD;
  p->started = 1;
  /* The reason is first in buf; it may be empty. */
  p->in_status = 1;
  return 0;
}

static int cb_status(llhttp_t *ll, const char *at, size_t n) {
  return append(P(ll), at, n);
}

static int cb_status_complete(llhttp_t *ll) {
  nt__http_parser_t *p = P(ll);
  p->in_status = 0;
  CHECK(terminate(p));
  return 0;
}

static int cb_header_field(llhttp_t *ll, const char *at, size_t n) {
  nt__http_parser_t *p = P(ll);
  if (p->phase == P_BODY) { /* fields after the last chunk: trailers */
    p->phase = P_TRAILERS;
    p->has_trailers = 1;
    p->trailer_start = p->nfields;
    p->section_start = p->len;
  }
  if (p->in_status) { /* no reason phrase at all ("HTTP/1.1 200\r\n") */
    p->in_status = 0;
    CHECK(terminate(p));
  }
  if (!p->in_name) {
    if (p->nfields - (p->phase == P_TRAILERS ? p->trailer_start : 0) >=
        NT__HTTP_MAX_FIELDS)
      return fail(p, NT_EHTTP_HEADERS_TOO_BIG, "too many header fields");
    p->in_name = 1;
    p->cur_name = (uint32_t)p->len;
  }
  return append(p, at, n);
}

static int cb_header_field_complete(llhttp_t *ll) {
  nt__http_parser_t *p = P(ll);
  p->in_name = 0;
  CHECK(terminate(p));
  return 0;
}

static int cb_header_value(llhttp_t *ll, const char *at, size_t n) {
  nt__http_parser_t *p = P(ll);
  if (!p->in_value) {
    p->in_value = 1;
    p->cur_value = (uint32_t)p->len;
  }
  return append(p, at, n);
}

static int cb_header_value_complete(llhttp_t *ll) {
  nt__http_parser_t *p = P(ll);
  if (!p->in_value) p->cur_value = (uint32_t)p->len; /* empty value */
  p->in_value = 0;
  CHECK(terminate(p));
  /* Trailing whitespace is not part of the value (llhttp keeps it). */
  size_t end = p->len - 1;
  while (end > p->cur_value &&
         (p->buf[end - 1] == ' ' || p->buf[end - 1] == '\t'))
    p->buf[--end] = 0;
  if (p->nfields == p->fields_cap) {
    size_t cap = p->fields_cap ? p->fields_cap * 2 : 16;
    uint32_t(*f)[2] = nt__realloc(p->fields, cap * sizeof *f);
    if (!f) return fail(p, NT_ENOMEM, "out of memory");
    p->fields = f;
    p->fields_cap = cap;
  }
  p->fields[p->nfields][0] = p->cur_name;
  p->fields[p->nfields][1] = p->cur_value;
  p->nfields++;
  return 0;
}

static int cb_headers_complete(llhttp_t *ll) {
  nt__http_parser_t *p = P(ll);
  if (p->in_status) {
    p->in_status = 0;
    CHECK(terminate(p));
  }
  p->status = ll->status_code;
  if (p->status < 100) {
    fail(p, NT_EHTTP_PARSE, "invalid status code (below 100)");
    return -1;
  }
  if (p->status < 200) {
    if (p->status == 101) {
      fail(p, NT_EHTTP_PARSE, "unexpected 101 Switching Protocols");
      return -1;
    }
    if (++p->ninterim > NT__HTTP_MAX_INTERIM) {
      fail(p, NT_EHTTP_PARSE, "too many 1xx interim responses");
      return -1;
    }
    p->interim = 1;
    if (p->cbs->on_interim && p->cbs->on_interim(p->arg, p->status)) {
      p->stopped = 1;
      return HPE_PAUSED;
    }
    return 1; /* never a body */
  }
  p->phase = P_BODY;
  if (p->cbs->on_head && p->cbs->on_head(p->arg, p)) {
    p->stopped = 1;
    return HPE_PAUSED;
  }
  /* No body after HEAD, 204 or 304, whatever Content-Length says (RFC 9112
   * 6.3); llhttp leaves that decision to us. */
  return p->head_request || p->status == 204 || p->status == 304 ? 1 : 0;
}

static int cb_body(llhttp_t *ll, const char *at, size_t n) {
  nt__http_parser_t *p = P(ll);
  if (p->cbs->on_body && p->cbs->on_body(p->arg, at, n)) {
    p->stopped = 1;
    llhttp_set_error_reason(ll, "stopped");
    return HPE_USER;
  }
  return 0;
}

static int cb_message_complete(llhttp_t *ll) {
  nt__http_parser_t *p = P(ll);
  if (p->interim) { /* a 1xx: the real answer follows */
    p->interim = 0;
    p->phase = P_IDLE;
    return 0;
  }
  p->phase = P_DONE;
  int keep = llhttp_should_keep_alive(ll);
  if (p->cbs->on_complete && p->cbs->on_complete(p->arg, p, keep))
    p->stopped = 1;
  return HPE_PAUSED; /* nothing after the final response is ours */
}

/* --- the API -------------------------------------------------------------- */

int nt__http_parser_new(const nt__http_parser_cbs_t *cbs, void *arg,
                        nt__http_parser_t **out) {
  nt__http_parser_t *p = nt__calloc(1, sizeof *p);
  if (!p) return NT_ENOMEM;
  llhttp_settings_init(&p->settings);
  p->settings.on_message_begin = cb_message_begin;
  p->settings.on_status = cb_status;
  p->settings.on_status_complete = cb_status_complete;
  p->settings.on_header_field = cb_header_field;
  p->settings.on_header_field_complete = cb_header_field_complete;
  p->settings.on_header_value = cb_header_value;
  p->settings.on_header_value_complete = cb_header_value_complete;
  p->settings.on_headers_complete = cb_headers_complete;
  p->settings.on_body = cb_body;
  p->settings.on_message_complete = cb_message_complete;
  p->cbs = cbs;
  p->arg = arg;
  nt__http_parser_reset(p, 0, 0);
  *out = p;
  return 0;
}

void nt__http_parser_free(nt__http_parser_t *p) {
  if (!p) return;
  nt__free(p->buf);
  nt__free(p->fields);
  nt__free(p);
}

void nt__http_parser_reset(nt__http_parser_t *p, int head_request,
                           size_t max_header_bytes) {
  llhttp_init(&p->ll, HTTP_RESPONSE, &p->settings);
  p->ll.data = p;
  p->len = 0;
  p->nfields = 0;
  p->trailer_start = p->section_start = 0;
  p->has_trailers = 0;
  p->limit = max_header_bytes ? max_header_bytes : NT__HTTP_DEFAULT_MAX_HEADER;
  p->phase = P_IDLE;
  p->head_request = head_request;
  p->interim = p->ninterim = p->started = p->stopped = p->own_error = 0;
  p->in_status = p->in_name = p->in_value = 0;
  p->status = 0;
  p->error[0] = 0;
  /* Release a buffer grown by a big response. */
  if (p->cap > 16384) {
    nt__free(p->buf);
    p->buf = NULL;
    p->cap = 0;
  }
}

static int after_error(nt__http_parser_t *p, llhttp_errno_t e) {
  if (p->stopped) return NT__HTTP_STOPPED;
  if (p->own_error) return p->own_error;
  const char *reason = llhttp_get_error_reason(&p->ll);
  snprintf(p->error, sizeof p->error, "%s (%s)",
           reason && *reason ? reason : "parse error", llhttp_errno_name(e));
  return NT_EHTTP_PARSE;
}

int nt__http_parser_feed(nt__http_parser_t *p, const char *data, size_t len,
                         size_t *used) {
  *used = 0;
  if (p->phase == P_DONE) return NT__HTTP_DONE;
  if (p->stopped) return NT__HTTP_STOPPED;
  if (!len) return NT__HTTP_MORE;
  llhttp_errno_t e = llhttp_execute(&p->ll, data, len);
  if (e == HPE_OK) {
    *used = len;
    return NT__HTTP_MORE;
  }
  const char *pos = llhttp_get_error_pos(&p->ll);
  *used =
      (pos && pos >= data && pos <= data + len) ? (size_t)(pos - data) : len;
  if (e == HPE_PAUSED && p->phase == P_DONE)
    return p->stopped ? NT__HTTP_STOPPED : NT__HTTP_DONE;
  if (e == HPE_PAUSED_UPGRADE && !p->stopped) {
    fail(p, NT_EHTTP_PARSE, "unexpected protocol upgrade");
    return NT_EHTTP_PARSE;
  }
  return after_error(p, e);
}

int nt__http_parser_finish(nt__http_parser_t *p) {
  if (p->phase == P_DONE) return NT__HTTP_DONE;
  if (p->stopped) return NT__HTTP_STOPPED;
  if (p->phase == P_IDLE) return NT__HTTP_MORE; /* between messages */
  llhttp_errno_t e = llhttp_finish(&p->ll);
  if (p->phase == P_DONE) return p->stopped ? NT__HTTP_STOPPED : NT__HTTP_DONE;
  if (e == HPE_OK) return NT__HTTP_MORE;
  if (p->stopped) return NT__HTTP_STOPPED;
  const char *reason = llhttp_get_error_reason(&p->ll);
  snprintf(p->error, sizeof p->error, "%s (%s)",
           p->phase == P_HEAD
               ? "the connection closed inside the response head"
               : "the connection closed inside the response body",
           reason && *reason ? reason : llhttp_errno_name(e));
  return NT_EUNEXPECTEDEOF;
}

int nt__http_parser_started(const nt__http_parser_t *p) { return p->started; }

const char *nt__http_parser_error(const nt__http_parser_t *p) {
  return p->error;
}

void nt__http_parser_info(const nt__http_parser_t *p, nt__http_head_info_t *i) {
  i->status = p->status;
  i->major = p->ll.http_major;
  i->minor = p->ll.http_minor;
  i->chunked = (p->ll.flags & F_CHUNKED) != 0;
  i->content_length = -1;
  if (!i->chunked && (p->ll.flags & F_CONTENT_LENGTH))
    i->content_length = p->ll.content_length > (uint64_t)INT64_MAX
                            ? INT64_MAX
                            : (int64_t)p->ll.content_length;
  i->until_close = !p->head_request && p->status != 204 && p->status != 304 &&
                   llhttp_message_needs_eof(&p->ll);
}

const char *nt__http_parser_header(const nt__http_parser_t *p,
                                   const char *name) {
  size_t end = p->has_trailers ? p->trailer_start : p->nfields;
  for (size_t i = 0; i < end; i++)
    if (!strcasecmp(p->buf + p->fields[i][0], name))
      return p->buf + p->fields[i][1];
  return NULL;
}

int nt__http_parser_copy(const nt__http_parser_t *p, int trailers, void **block,
                         const char **reason, nt_http_header_t **fields,
                         size_t *n) {
  size_t from = 0, to = p->nfields;
  if (trailers)
    from = p->has_trailers ? p->trailer_start : to;
  else if (p->has_trailers)
    to = p->trailer_start;
  size_t count = to - from, bytes = 0;
  for (size_t i = from; i < to; i++)
    bytes +=
        strlen(p->buf + p->fields[i][0]) + strlen(p->buf + p->fields[i][1]) + 2;
  const char *rs = (!trailers && p->len) ? p->buf + p->reason_off : "";
  size_t rlen = trailers ? 0 : strlen(rs) + 1;
  char *b = nt__malloc(count * sizeof(nt_http_header_t) + bytes + rlen + 1);
  if (!b) return NT_ENOMEM;
  nt_http_header_t *h = (nt_http_header_t *)b;
  char *s = b + count * sizeof(nt_http_header_t);
  for (size_t i = from; i < to; i++) {
    size_t k = i - from;
    size_t nl = strlen(p->buf + p->fields[i][0]) + 1;
    size_t vl = strlen(p->buf + p->fields[i][1]) + 1;
    memcpy(s, p->buf + p->fields[i][0], nl);
    h[k].name = s;
    s += nl;
    memcpy(s, p->buf + p->fields[i][1], vl);
    h[k].value = s;
    s += vl;
  }
  if (reason) {
    if (!trailers)
      memcpy(s, rs, rlen);
    else
      *s = 0;
    *reason = s;
  }
  *block = b;
  *fields = count ? h : NULL;
  *n = count;
  return 0;
}
