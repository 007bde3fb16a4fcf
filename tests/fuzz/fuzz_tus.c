/* Fuzz what resumable uploads read from a server (protocols/http/tus_*.c):
 * the input is "op status\nName: value\n..." -- an operation (0-4), an HTTP
 * status and header lines -- handed to the tus 1.0 dialect's answer reader,
 * whose result must be self-consistent (an accepted PATCH answer lies within
 * the piece sent); every header value also goes through the number, list,
 * Retry-After and Upload-Metadata parsers, and decoded metadata must encode
 * back to what was decoded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/tus-int.h"

#define MAXH 32

typedef struct {
  const char *keys[NT_UPLOAD_MAX_METADATA];
  char *vals[NT_UPLOAD_MAX_METADATA];
  size_t n;
  int binary; /* a value with a NUL cannot be encoded back */
} meta_t;

static void on_meta(void *arg, const char *k, const char *v, size_t len) {
  meta_t *m = arg;
  if (m->n == NT_UPLOAD_MAX_METADATA) return;
  if (strlen(v) != len) m->binary = 1;
  m->keys[m->n] = strdup(k);
  m->vals[m->n++] = strdup(v);
}

static void check_value(const char *v) {
  uint64_t x;
  if (nt__tus_parse_u64(v, &x) == 0 && x == 0 && !strchr(v, '0')) abort();
  (void)nt__tus_list_has(v, "creation");
  nt__up_ck_t ck = nt__tus_pick_checksum(v);
  if (ck != NT__UP_CK_NONE && !nt__tus_list_has(v, nt__tus_checksum_name(ck))) abort();
  if (nt__tus_retry_after(v) > 3600000) abort();
  meta_t m = {0};
  if (nt__tus_metadata_decode(v, on_meta, &m) == 0 && !m.binary) {
    char *enc = NULL;
    if (nt__tus_metadata_encode(m.keys, (const char *const *)m.vals, m.n, &enc) == 0) {
      meta_t back = {0};
      if (nt__tus_metadata_decode(enc, on_meta, &back) != 0 || back.n != m.n) abort();
      for (size_t i = 0; i < back.n; i++) {
        if (strcmp(back.keys[i], m.keys[i]) || strcmp(back.vals[i], m.vals[i])) abort();
        free((void *)back.keys[i]);
        free(back.vals[i]);
      }
      free(enc);
    }
  }
  for (size_t i = 0; i < m.n; i++) {
    free((void *)m.keys[i]);
    free(m.vals[i]);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 16384) return 0;
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = 0;
  nt_http_header_t h[MAXH];
  size_t nh = 0;
  char *save = NULL, *line = strtok_r(buf, "\n", &save);
  int op = 0, status = 0;
  if (line) {
    op = atoi(line) % 5;
    if (op < 0) op = -op;
    char *sp = strchr(line, ' ');
    status = sp ? atoi(sp + 1) : 0;
    line = strtok_r(NULL, "\n", &save);
  }
  for (; line && nh < MAXH; line = strtok_r(NULL, "\n", &save)) {
    char *colon = strchr(line, ':');
    if (!colon) continue;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ') v++;
    h[nh].name = line;
    h[nh++].value = v;
    check_value(v);
  }
  nt_http_response_t r;
  memset(&r, 0, sizeof r);
  r.status = status;
  r.reason = "";
  r.headers = h;
  r.nheaders = nh;
  r.content_length = -1;
  nt__up_call_t call;
  memset(&call, 0, sizeof call);
  call.op = (nt__up_op_t)op;
  call.offset = 100;
  call.len = 50;
  call.total = 1000;
  nt__up_caps_t caps;
  memset(&caps, 0, sizeof caps);
  nt__up_result_t res;
  nt__upload_tus1.response(&call, &r, &caps, &res);
  if (res.kind == NT__UP_R_OK) {
    if (call.op == NT__UP_APPEND && (res.offset < 100 || res.offset > 150)) abort();
    if (call.op == NT__UP_CREATE && (!res.location || !*res.location)) abort();
    if (call.op == NT__UP_DISCOVER && !caps.creation) abort();
  } else if (!res.why[0]) {
    abort(); /* every failure says why */
  }
  /* and the request side for the same call */
  nt__up_request_t rq;
  memset(&rq, 0, sizeof rq);
  call.metadata = "filename YQ==";
  call.checksum = caps.checksum;
  call.digest_b64 = "AAAA";
  if (nt__upload_tus1.request(&caps, &call, &rq) == 0) nt__up_request_free(&rq);
  free(buf);
  return 0;
}
