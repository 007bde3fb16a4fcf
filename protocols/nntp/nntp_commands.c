/* NNTP client: the public commands. Each checks its arguments (no CR, LF
 * or spaces can reach the wire), builds one request and queues it. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nntp-int.h"
#include "reactor-int.h"

#define MAX_POST (16u * 1024 * 1024)

static int queue(nt_nntp_t *c, nt__nntp_req_t *q, nt_nntp_done_cb done,
                 nt_nntp_line_cb line, void *arg) {
  if (!q) return NT_ENOMEM;
  q->done = done;
  q->line = line;
  q->arg = arg;
  return nt__nntp_enqueue(c, q);
}

static int closed(const nt_nntp_t *c) {
  return c->close_asked || c->state == NT_NNTP_CLOSED ||
         c->state == NT_NNTP_QUITTING;
}

/* An article spec: NULL (current), a number, or a message-id. */
static int valid_spec(const char *s) {
  return !s || nt_nntp_valid_message_id(s) || nt_nntp_valid_range(s);
}
static int valid_number_or_id(const char *s) {
  if (!s) return 1;
  if (nt_nntp_valid_message_id(s)) return 1;
  uint64_t n;
  return nt__nntp_parse_u64(s, strlen(s), &n) == 0;
}

/* A wildmat or keyword: printable, no spaces. */
static int valid_word(const char *s) {
  if (!s || !*s || strlen(s) > 400) return 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p <= ' ' || *p == 0x7f) return 0;
  return 1;
}

int nt_nntp_group(nt_nntp_t *c, const char *group, nt_nntp_done_cb done,
                  void *arg) {
  if (!nt_nntp_valid_group(group)) return NT_EINVAL;
  if (closed(c)) return NT_ENOTCONN;
  return queue(c, nt__nntp_req_new(NT__NNTP_REQ_GROUP, 0, "GROUP %s", group),
               done, NULL, arg);
}

int nt_nntp_listgroup(nt_nntp_t *c, const char *group, const char *range,
                      nt_nntp_line_cb line, nt_nntp_done_cb done, void *arg) {
  if (group && !nt_nntp_valid_group(group)) return NT_EINVAL;
  if (range && (!group || !nt_nntp_valid_range(range))) return NT_EINVAL;
  if (closed(c)) return NT_ENOTCONN;
  nt__nntp_req_t *q =
      group ? nt__nntp_req_new(NT__NNTP_REQ_LISTGROUP, 211, "LISTGROUP %s%s%s",
                               group, range ? " " : "", range ? range : "")
            : nt__nntp_req_new(NT__NNTP_REQ_LISTGROUP, 211, "LISTGROUP");
  return queue(c, q, done, line, arg);
}

int nt_nntp_fetch(nt_nntp_t *c, nt_nntp_fetch_t what, const char *spec,
                  nt_nntp_line_cb line, nt_nntp_done_cb done, void *arg) {
  static const char *const verbs[] = {"ARTICLE", "HEAD", "BODY", "STAT"};
  static const int codes[] = {220, 221, 222, 0};
  if ((unsigned)what > NT_NNTP_STAT || !valid_number_or_id(spec))
    return NT_EINVAL;
  if (closed(c)) return NT_ENOTCONN;
  nt__nntp_req_t *q = nt__nntp_req_new(NT__NNTP_REQ_FETCH, codes[what], "%s%s%s",
                                       verbs[what], spec ? " " : "",
                                       spec ? spec : "");
  return queue(c, q, done, line, arg);
}

static int move(nt_nntp_t *c, const char *verb, nt_nntp_done_cb done,
                void *arg) {
  if (closed(c)) return NT_ENOTCONN;
  return queue(c, nt__nntp_req_new(NT__NNTP_REQ_MOVE, 0, "%s", verb), done,
               NULL, arg);
}
int nt_nntp_next(nt_nntp_t *c, nt_nntp_done_cb done, void *arg) {
  return move(c, "NEXT", done, arg);
}
int nt_nntp_last(nt_nntp_t *c, nt_nntp_done_cb done, void *arg) {
  return move(c, "LAST", done, arg);
}

/* A command with its fallback (OVER/XOVER, HDR/XHDR). */
static nt__nntp_req_t *with_alt(nt__nntp_req_kind_t kind, int code,
                                const char *verb, const char *alt, int use_alt,
                                const char *args) {
  nt__nntp_req_t *q = nt__nntp_req_new(kind, code, "%s%s%s", use_alt ? alt : verb,
                                       *args ? " " : "", args);
  if (!q || use_alt) return q;
  char buf[NT__NNTP_MAX_CMD];
  int n = snprintf(buf, sizeof buf, "%s%s%s", alt, *args ? " " : "", args);
  q->alt = n >= 0 && (size_t)n < sizeof buf ? nt__strdup(buf) : NULL;
  if (!q->alt) {
    nt__nntp_req_free(q);
    return NULL;
  }
  return q;
}

int nt_nntp_over(nt_nntp_t *c, const char *spec, nt_nntp_over_cb over,
                 nt_nntp_done_cb done, void *arg) {
  if (!valid_spec(spec)) return NT_EINVAL;
  if (closed(c)) return NT_ENOTCONN;
  /* which of OVER and XOVER goes out is decided when it is sent */
  nt__nntp_req_t *q =
      with_alt(NT__NNTP_REQ_OVER, 224, "OVER", "XOVER", 0, spec ? spec : "");
  if (!q) return NT_ENOMEM;
  q->over = over;
  return queue(c, q, done, NULL, arg);
}

int nt_nntp_hdr(nt_nntp_t *c, const char *field, const char *spec,
                nt_nntp_hdr_cb hdr, nt_nntp_done_cb done, void *arg) {
  if (!valid_word(field) || strlen(field) > 100 || !valid_spec(spec))
    return NT_EINVAL;
  if (closed(c)) return NT_ENOTCONN;
  char args[NT__NNTP_MAX_CMD];
  int n = snprintf(args, sizeof args, "%s%s%s", field, spec ? " " : "", spec ? spec : "");
  if (n < 0 || (size_t)n >= sizeof args) return NT_EINVAL;
  nt__nntp_req_t *q = with_alt(NT__NNTP_REQ_HDR, 225, "HDR", "XHDR", 0, args);
  if (!q) return NT_ENOMEM;
  q->hdr = hdr;
  return queue(c, q, done, NULL, arg);
}

int nt_nntp_list(nt_nntp_t *c, const char *keyword, const char *wildmat,
                 nt_nntp_line_cb line, nt_nntp_done_cb done, void *arg) {
  if (!keyword) keyword = "ACTIVE";
  if (!valid_word(keyword) || strlen(keyword) > 40) return NT_EINVAL;
  if (wildmat && !valid_word(wildmat)) return NT_EINVAL;
  if (closed(c)) return NT_ENOTCONN;
  return queue(c,
               nt__nntp_req_new(NT__NNTP_REQ_LIST, 215, "LIST %s%s%s", keyword,
                                wildmat ? " " : "", wildmat ? wildmat : ""),
               done, line, arg);
}

static int utc_stamp(time_t t, char *buf, size_t size) {
  struct tm tm;
  if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1000 || tm.tm_year + 1900 > 9999)
    return NT_EINVAL;
  strftime(buf, size, "%Y%m%d %H%M%S", &tm);
  return 0;
}

int nt_nntp_newgroups(nt_nntp_t *c, time_t since, nt_nntp_line_cb line,
                      nt_nntp_done_cb done, void *arg) {
  char ts[32];
  if (utc_stamp(since, ts, sizeof ts)) return NT_EINVAL;
  if (closed(c)) return NT_ENOTCONN;
  return queue(c, nt__nntp_req_new(NT__NNTP_REQ_LIST, 231, "NEWGROUPS %s GMT", ts),
               done, line, arg);
}

int nt_nntp_newnews(nt_nntp_t *c, const char *wildmat, time_t since,
                    nt_nntp_line_cb line, nt_nntp_done_cb done, void *arg) {
  char ts[32];
  if (!valid_word(wildmat) || utc_stamp(since, ts, sizeof ts)) return NT_EINVAL;
  if (closed(c)) return NT_ENOTCONN;
  return queue(c,
               nt__nntp_req_new(NT__NNTP_REQ_LIST, 230, "NEWNEWS %s %s GMT",
                                wildmat, ts),
               done, line, arg);
}

int nt_nntp_date(nt_nntp_t *c, nt_nntp_done_cb done, void *arg) {
  if (closed(c)) return NT_ENOTCONN;
  return queue(c, nt__nntp_req_new(NT__NNTP_REQ_DATE, 0, "DATE"), done, NULL, arg);
}

/* Copies the article with CRLF line ends and dot-stuffing, plus ".\r\n". */
static int stuff(const char *a, size_t len, char **out, size_t *outlen) {
  size_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += a[i] == '\n';
  size_t cap = len + 2 * lines + 5; /* a '.' and a '\r' per line, ".\r\n" */
  char *b = nt__malloc(cap);
  if (!b) return NT_ENOMEM;
  size_t o = 0;
  int bol = 1;
  for (size_t i = 0; i < len; i++) {
    char ch = a[i];
    if (bol && ch == '.') b[o++] = '.';
    bol = 0;
    if (ch == '\r' && i + 1 < len && a[i + 1] == '\n') continue; /* CRLF */
    if (ch == '\n') {
      b[o++] = '\r';
      bol = 1;
    }
    b[o++] = ch;
  }
  if (!bol) {
    b[o++] = '\r';
    b[o++] = '\n';
  }
  memcpy(b + o, ".\r\n", 3);
  *out = b;
  *outlen = o + 3;
  return 0;
}

int nt_nntp_post(nt_nntp_t *c, const char *article, size_t len,
                 nt_nntp_done_cb done, void *arg) {
  if (!article) return NT_EINVAL;
  if (len > MAX_POST) return NT_ETOOBIG;
  if (memchr(article, 0, len)) return NT_EINVAL;
  if (closed(c)) return NT_ENOTCONN;
  nt__nntp_req_t *q = nt__nntp_req_new(NT__NNTP_REQ_POST, 0, "POST");
  if (!q) return NT_ENOMEM;
  int rc = stuff(article, len, &q->post, &q->post_len);
  if (rc) {
    nt__nntp_req_free(q);
    return rc;
  }
  return queue(c, q, done, NULL, arg);
}
