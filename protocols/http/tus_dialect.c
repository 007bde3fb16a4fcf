/* The tus 1.0.0 dialect of resumable uploads (tus-int.h): the words of
 * https://tus.io/protocols/resumable-upload (core, creation, checksum,
 * termination). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http-int.h"
#include "reactor-int.h"
#include "tus-int.h"

#define TUS_VERSION "1.0.0"

void nt__up_request_free(nt__up_request_t *req) {
  for (size_t i = 0; i < req->nlines; i++) nt__free(req->lines[i]);
  req->nlines = 0;
}

static int add(nt__up_request_t *req, const char *fmt, ...) {
  if (req->nlines == NT__UP_MAX_LINES) return NT_EINVAL;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = nt__malloc((size_t)n + 1);
  if (!s) return NT_ENOMEM;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  req->lines[req->nlines++] = s;
  return 0;
}

static int tus_request(const nt__up_caps_t *caps, const nt__up_call_t *call,
                       nt__up_request_t *req) {
  (void)caps;
  int rc = 0;
  req->nlines = 0;
  switch (call->op) {
  case NT__UP_DISCOVER:
    req->method = "OPTIONS"; /* the one request without Tus-Resumable */
    return 0;
  case NT__UP_OFFSET:
    req->method = "HEAD";
    /* a cached HEAD would give an old offset */
    rc = add(req, "Cache-Control: no-store");
    break;
  case NT__UP_CREATE:
    req->method = "POST";
    rc = add(req, "Upload-Length: %llu", (unsigned long long)call->total);
    if (!rc && call->metadata && *call->metadata)
      rc = add(req, "Upload-Metadata: %s", call->metadata);
    break;
  case NT__UP_APPEND:
    req->method = "PATCH";
    rc = add(req, "Upload-Offset: %llu", (unsigned long long)call->offset);
    if (!rc) rc = add(req, "Content-Type: application/offset+octet-stream");
    if (!rc && call->checksum != NT__UP_CK_NONE)
      rc = add(req, "Upload-Checksum: %s %s", nt__tus_checksum_name(call->checksum),
               call->digest_b64);
    break;
  case NT__UP_TERMINATE:
    req->method = "DELETE";
    break;
  }
  if (!rc) rc = add(req, "Tus-Resumable: " TUS_VERSION);
  if (rc) nt__up_request_free(req);
  return rc;
}

static const char *hdr(const nt_http_response_t *r, const char *name) {
  return nt_http_header_get(r->headers, r->nheaders, name);
}

static void why(nt__up_result_t *res, nt__up_result_kind_t kind, const char *fmt, ...) {
  res->kind = kind;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->why, sizeof res->why, fmt, ap);
  va_end(ap);
}

/* The statuses every operation reads the same way. 1 if it decided. */
static int common_status(const nt_http_response_t *r, nt__up_result_t *res) {
  int s = r->status;
  /* 501 and 505 say what the server cannot do, not when */
  if ((s >= 500 && s != 501 && s != 505) || s == 408 || s == 429 || s == 423) {
    res->retry_after_ms = nt__tus_retry_after(hdr(r, "Retry-After"));
    why(res, NT__UP_R_TRANSIENT, "HTTP %d", s);
    return 1;
  }
  if (s == 412) { /* Precondition Failed: our Tus-Resumable is not theirs */
    const char *v = hdr(r, "Tus-Version");
    why(res, NT__UP_R_PROTOCOL, "HTTP 412: the server speaks tus %s, not " TUS_VERSION,
        v ? v : "(no Tus-Version)");
    return 1;
  }
  if (s == 413) {
    why(res, NT__UP_R_REFUSED, "HTTP 413: the file is larger than the server takes");
    return 1;
  }
  return 0;
}

static void tus_response(const nt__up_call_t *call, const nt_http_response_t *r,
                         nt__up_caps_t *caps, nt__up_result_t *res) {
  memset(res, 0, sizeof *res);
  res->length = -1;
  int s = r->status;
  if (common_status(r, res)) return;
  switch (call->op) {
  case NT__UP_DISCOVER: {
    if (s != 200 && s != 204) {
      /* authentication is the user's to fix; anything else: not tus */
      int auth = s == 401 || s == 403 || s == 407;
      why(res, auth ? NT__UP_R_REFUSED : NT__UP_R_PROTOCOL,
          "OPTIONS answered HTTP %d%s", s, auth ? "" : ": not a tus endpoint");
      return;
    }
    /* The protocol says OPTIONS lists Tus-Version; @uploadx/core 7 (a tus
     * server with the checksum extension) sends only Tus-Resumable, which
     * tus-js-client takes as enough. Either naming 1.0.0 will do; a
     * Tus-Version without it is a server we cannot talk to. */
    const char *v = hdr(r, "Tus-Version");
    const char *tr = hdr(r, "Tus-Resumable");
    if (v ? !nt__tus_list_has(v, TUS_VERSION) : !tr || !nt__tus_list_has(tr, TUS_VERSION)) {
      why(res, NT__UP_R_PROTOCOL, "no Tus-Version " TUS_VERSION " in the OPTIONS answer%s%s",
          v ? ": " : "", v ? v : "");
      return;
    }
    const char *ext = hdr(r, "Tus-Extension");
    caps->creation = nt__tus_list_has(ext, "creation");
    caps->termination = nt__tus_list_has(ext, "termination");
    caps->checksum = nt__tus_list_has(ext, "checksum")
                         ? nt__tus_pick_checksum(hdr(r, "Tus-Checksum-Algorithm"))
                         : NT__UP_CK_NONE;
    caps->max_size = 0;
    const char *mx = hdr(r, "Tus-Max-Size");
    if (mx && nt__tus_parse_u64(mx, &caps->max_size)) {
      why(res, NT__UP_R_PROTOCOL, "bad Tus-Max-Size '%.60s'", mx);
      return;
    }
    if (!caps->creation) {
      why(res, NT__UP_R_PROTOCOL, "the server does not offer the creation extension");
      return;
    }
    res->kind = NT__UP_R_OK;
    return;
  }
  case NT__UP_OFFSET:
    if (s == 404 || s == 410 || s == 403) {
      why(res, NT__UP_R_GONE, "HEAD answered HTTP %d", s);
      return;
    }
    break;
  case NT__UP_CREATE:
    if (s != 201) break;
    res->location = hdr(r, "Location");
    if (!res->location || !*res->location) {
      why(res, NT__UP_R_PROTOCOL, "201 Created without a Location");
      return;
    }
    res->kind = NT__UP_R_OK;
    return;
  case NT__UP_APPEND:
    if (s == 404 || s == 410) {
      why(res, NT__UP_R_GONE, "PATCH answered HTTP %d", s);
      return;
    }
    if (s == 409) {
      why(res, NT__UP_R_CONFLICT, "PATCH answered HTTP 409 (offset)");
      return;
    }
    if (s == 460) {
      why(res, NT__UP_R_CHECKSUM, "PATCH answered HTTP 460 (checksum mismatch)");
      return;
    }
    break;
  case NT__UP_TERMINATE:
    if (s == 204 || s == 200 || s == 404 || s == 410) {
      res->kind = NT__UP_R_OK;
      return;
    }
    break;
  }
  if (call->op == NT__UP_OFFSET || call->op == NT__UP_APPEND) {
    if (s != 200 && s != 204) {
      why(res, s >= 400 ? NT__UP_R_REFUSED : NT__UP_R_PROTOCOL, "%s answered HTTP %d",
          call->op == NT__UP_OFFSET ? "HEAD" : "PATCH", s);
      return;
    }
    const char *o = hdr(r, "Upload-Offset");
    if (!o || nt__tus_parse_u64(o, &res->offset)) {
      why(res, NT__UP_R_PROTOCOL, "%s Upload-Offset%s%.40s%s", o ? "bad" : "no",
          o ? " '" : "", o ? o : "", o ? "'" : "");
      return;
    }
    const char *l = hdr(r, "Upload-Length");
    uint64_t len;
    if (l && !nt__tus_parse_u64(l, &len) && len <= INT64_MAX) res->length = (int64_t)len;
    if (call->op == NT__UP_APPEND &&
        (res->offset < call->offset || res->offset > call->offset + call->len)) {
      why(res, NT__UP_R_PROTOCOL,
          "PATCH at %llu with %llu bytes answered Upload-Offset %llu",
          (unsigned long long)call->offset, (unsigned long long)call->len,
          (unsigned long long)res->offset);
      return;
    }
    res->kind = NT__UP_R_OK;
    return;
  }
  why(res, s >= 400 ? NT__UP_R_REFUSED : NT__UP_R_PROTOCOL, "%s answered HTTP %d",
      call->op == NT__UP_CREATE ? "POST (creation)" : "DELETE", s);
}

const nt__upload_dialect_t nt__upload_tus1 = {
    .name = "tus 1.0.0",
    .request = tus_request,
    .response = tus_response,
};
