/* Fuzz the HTTP client as a hostile server, and the multipart builder with
 * hostile names and values.
 *
 * First byte, bit 0: 0 = response mode, 1 = multipart mode.
 * Response mode: the next byte picks the request (GET / HEAD / POST with a
 * body, Expect or not, a small header limit) and the feeding (chunk size,
 * EOF at the end); the rest is what the server sends, fed through the
 * in-memory transport, then the virtual clock runs on. Redirects to other
 * origins are refused at connect time.
 * Multipart mode: the rest is split at 0xFF bytes into (name, value,
 * filename) triples; the body is built, pulled whole and checked.
 * Anything may happen except a crash, a leak, a hang or a broken invariant. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http-int.h"
#include "nettool/http.h"
#include "nettool/testing.h"

/* --- response mode -------------------------------------------------------- */

typedef struct {
  nt_reactor_t *r;
  nt_factory_t *pending[16];
  int npending, taken;
  int done, status;
  uint64_t body_bytes;
  size_t input;
} fz_t;

static int hook(void *arg, nt_reactor_t *r, const char *host, int port,
                int https, nt_factory_t *f) {
  (void)r, (void)host, (void)port, (void)https;
  fz_t *z = arg;
  if (z->npending >= 16) return NT_ENOMEM;
  z->pending[z->npending++] = f;
  return 0;
}

static int on_body(nt_http_request_t *q, const char *d, size_t n, void *arg) {
  (void)q, (void)d;
  fz_t *z = arg;
  z->body_bytes += n;
  if (z->body_bytes > z->input) abort(); /* more body than bytes sent */
  return 0;
}

static void on_response(nt_http_request_t *q, const nt_http_response_t *r,
                        void *arg) {
  (void)q, (void)arg;
  if (r->status < 100 || r->status > 999) abort();
  for (size_t i = 0; i < r->nheaders; i++)
    if (!r->headers[i].name || !r->headers[i].value) abort();
}

static void on_done(nt_http_request_t *q, int status, void *arg) {
  fz_t *z = arg;
  z->done++;
  z->status = status;
  if (!nt_http_request_error(q)) abort();
}

static const nt_http_callbacks_t cbs = {
    .on_response = on_response,
    .on_body = on_body,
    .on_done = on_done,
};

static void settle(nt_reactor_t *r) { nt_test_clock_advance(r, 0); }

static void refuse_rest(fz_t *z, int from) {
  while (z->taken < z->npending && z->taken >= from) {
    nt_factory_t *f = z->pending[z->taken++];
    f->ops->connection_failed(f, NULL, NT_ECONNREFUSED);
    settle(z->r);
  }
}

static void response_mode(const uint8_t *data, size_t size) {
  if (size < 2) return;
  uint8_t how = data[0];
  data++, size--;
  fz_t z;
  memset(&z, 0, sizeof z);
  z.input = size;
  static nt_reactor_t *reactor; /* one for the whole run: cheaper */
  if (!reactor && nt_test_reactor_new(&reactor)) return;
  z.r = reactor;
  nt_http_client_t *c;
  if (nt_http_client_new(z.r, NULL, &c)) return;
  nt__http_client_set_connect_hook(c, hook, &z);
  nt_http_body_t *body = NULL;
  nt_http_request_options_t o;
  memset(&o, 0, sizeof o);
  o.url = "http://u:p@fuzz.test/path";
  if (how & 1) {
    nt_http_body_memory("0123456789abcdef", 16, "text/plain", &body);
    o.body = body;
  }
  if (how & 2) o.method = "HEAD";
  o.expect_threshold = (how & 4) ? 1 : UINT64_MAX;
  o.max_header_bytes = (how & 8) ? 256 : 0;
  o.max_retries = (how & 16) ? 1 : 0;
  o.retry_delay_ms = 10;
  size_t chunk = (size_t)((how >> 5) * 7 + 1);
  nt_http_request_t *q;
  if (nt_http_request_start(c, &o, &cbs, &z, &q) == 0) {
    settle(z.r);
    nt_test_transport_t *tt = NULL;
    if (z.taken < z.npending) {
      nt_factory_t *f = z.pending[z.taken++];
      nt_protocol_t *p = f->ops->build_protocol(f, NULL, 0);
      if (p) tt = nt_test_transport_new(z.r, p);
    }
    if (tt) {
      for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        nt_test_feed(tt, data + off, n);
        settle(z.r);
        refuse_rest(&z, 1); /* a redirect elsewhere, a fresh retry */
      }
      if (how & 2) nt_test_feed_eof(tt);
      settle(z.r);
      refuse_rest(&z, 1);
      nt_test_clock_advance(z.r, 1500); /* expect timeout, retries */
      refuse_rest(&z, 1);
      nt_test_clock_advance(z.r, 60000); /* idle timeout */
      refuse_rest(&z, 1);
    }
    nt_http_client_free(c);
    settle(z.r);
    refuse_rest(&z, 0);
    if (tt) nt_test_transport_free(tt);
    settle(z.r);
    if (z.done != 1) abort(); /* on_done exactly once */
  } else {
    nt_http_client_free(c);
  }
  settle(z.r);
  nt_http_body_memory_free(body);
}

/* --- multipart mode ------------------------------------------------------- */

static void multipart_mode(const uint8_t *data, size_t size) {
  nt_multipart_t *m;
  if (nt_multipart_new(&m)) return;
  char *fields[3] = {NULL, NULL, NULL};
  size_t lens[3] = {0, 0, 0};
  int k = 0;
  size_t start = 0;
  char *values[64];
  size_t vlens[64];
  int nvalues = 0;
  for (size_t i = 0; i <= size; i++) {
    if (i < size && data[i] != 0xff) continue;
    size_t n = i - start;
    fields[k] = malloc(n + 1);
    memcpy(fields[k], data + start, n);
    fields[k][n] = 0; /* names stop at a NUL: C strings */
    lens[k] = n;
    start = i + 1;
    if (++k == 3 || i == size) {
      if (fields[0] && nvalues < 64) {
        nt_multipart_add_field(m, fields[0], fields[1] ? fields[1] : "",
                               fields[1] ? lens[1] : 0);
        values[nvalues] = fields[1];
        vlens[nvalues++] = fields[1] ? lens[1] : 0;
        fields[1] = NULL;
      }
      for (int j = 0; j < 3; j++) {
        free(fields[j]);
        fields[j] = NULL;
      }
      k = 0;
    }
  }
  nt_http_body_t *b = nt_multipart_body(m);
  if (b) {
    const char *boundary = nt_multipart_boundary(m);
    size_t blen = strlen(boundary);
    for (int i = 0; i < nvalues; i++)
      if (values[i] && vlens[i] >= blen &&
          memmem(values[i], vlens[i], boundary, blen))
        abort(); /* the boundary must not occur in a value */
    int64_t total = 0;
    nt_body_piece_t pc;
    int rc;
    for (int guard = 0; (rc = b->ops->next(b, 7, &pc)) == 1 && guard < 1000000;
         guard++) {
      if (pc.fd >= 0 || pc.len > 7 || (pc.len && !pc.data)) abort();
      total += (int64_t)pc.len;
    }
    if (rc != 0 || total != b->ops->length(b)) abort();
  }
  for (int i = 0; i < nvalues; i++) free(values[i]);
  nt_multipart_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1)
    multipart_mode(data + 1, size - 1);
  else
    response_mode(data + 1, size - 1);
  return 0;
}
