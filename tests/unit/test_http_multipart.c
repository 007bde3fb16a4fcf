/* The multipart/form-data producer: bodies read back through a small
 * independent parser written here (RFC 7578 / RFC 2046 rules), quoting,
 * boundaries that cannot collide, files streamed as ranges, files that
 * change size, stream parts read only when readable, rewinding. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "http-int.h"
#include "nettool/http.h"
#include "nettool/testing.h"

/* --- pulling a whole body ------------------------------------------------- */

typedef struct {
  char *data;
  size_t len, cap;
  size_t pieces, file_pieces;
  uint64_t max_piece;
} blob_t;

static void blob_add(blob_t *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    b->cap = (b->len + n + 1) * 2;
    b->data = realloc(b->data, b->cap);
    assert_non_null(b->data);
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
}

/* Pulls every piece; file ranges are read with pread, as sendfile would. */
static int pull_all(nt_http_body_t *body, size_t max, blob_t *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < 1000000; i++) {
    nt_body_piece_t pc;
    int rc = body->ops->next(body, max, &pc);
    if (rc <= 0) return rc;
    out->pieces++;
    if (pc.fd >= 0) {
      out->file_pieces++;
      if (pc.flen > out->max_piece) out->max_piece = pc.flen;
      char *tmp = malloc(pc.flen ? pc.flen : 1);
      assert_int_equal(pread(pc.fd, tmp, pc.flen, (off_t)pc.offset),
                       (ssize_t)pc.flen);
      blob_add(out, tmp, pc.flen);
      free(tmp);
    } else {
      if (pc.len > out->max_piece) out->max_piece = pc.len;
      blob_add(out, pc.data, pc.len);
    }
  }
  fail_msg("body never ended");
  return -1;
}

/* --- an independent multipart parser (RFC 2046 5.1.1 + RFC 7578) ---------- */

typedef struct {
  char name[2048], filename[2048], ctype[300];
  int has_filename;
  const char *data;
  size_t len;
} part_t;

/* Reads a quoted-string parameter value with backslash escapes. */
static const char *param(const char *h, const char *key, char *out, size_t size,
                         int *found) {
  char pat[64];
  snprintf(pat, sizeof pat, "; %s=\"", key);
  const char *p = strstr(h, pat);
  *found = p != NULL;
  out[0] = 0;
  if (!p) return NULL;
  p += strlen(pat);
  size_t k = 0;
  while (*p && *p != '"') {
    if (*p == '\\' && p[1]) p++;
    assert_true(k + 1 < size);
    out[k++] = *p++;
  }
  assert_int_equal(*p, '"');
  out[k] = 0;
  return p + 1;
}

/* Splits body into parts; returns how many. Fails the test on any
 * deviation from the grammar. */
static int parse_multipart(const char *body, size_t len, const char *boundary,
                           part_t *parts, int max) {
  char delim[128];
  int dl = snprintf(delim, sizeof delim, "--%s", boundary);
  /* The first delimiter starts the body (no preamble from us). */
  assert_true(len >= (size_t)dl && !memcmp(body, delim, (size_t)dl));
  const char *p = body + dl, *end = body + len;
  int n = 0;
  for (;;) {
    if (end - p >= 4 && !memcmp(p, "--\r\n", 4)) {
      assert_true(p + 4 == end); /* nothing after the close delimiter */
      return n;
    }
    assert_true(end - p >= 2 && !memcmp(p, "\r\n", 2));
    p += 2;
    const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
    assert_non_null(hend);
    char head[8192];
    assert_true((size_t)(hend - p) < sizeof head);
    memcpy(head, p, (size_t)(hend - p) + 2);
    head[hend - p + 2] = 0;
    assert_true(n < max);
    part_t *pt = &parts[n];
    memset(pt, 0, sizeof *pt);
    const char *cd = strstr(head, "Content-Disposition: form-data");
    assert_ptr_equal(cd, head); /* first header */
    int found;
    param(cd, "name", pt->name, sizeof pt->name, &found);
    assert_true(found);
    param(cd, "filename", pt->filename, sizeof pt->filename, &pt->has_filename);
    const char *ct = strstr(head, "\r\nContent-Type: ");
    if (ct) sscanf(ct + 16, "%299[^\r]", pt->ctype);
    /* no raw CR or LF inside a header line */
    for (const char *l = head; *l; l++)
      if (*l == '\r') assert_int_equal(l[1], '\n');
    p = hend + 4;
    char close[130];
    int cl = snprintf(close, sizeof close, "\r\n%s", delim);
    const char *next = memmem(p, (size_t)(end - p), close, (size_t)cl);
    assert_non_null(next);
    pt->data = p;
    pt->len = (size_t)(next - p);
    n++;
    p = next + cl;
  }
}

/* --- files ---------------------------------------------------------------- */

static char tmpdir[64];

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/nt-mp-XXXXXX");
  assert_non_null(mkdtemp(tmpdir));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd);
}

static char *make_file(const char *name, size_t size, unsigned seed) {
  static char path[4][256];
  static int slot;
  char *p = path[slot++ % 4];
  snprintf(p, 256, "%s/%s", tmpdir, name);
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  for (size_t i = 0; i < size; i++) fputc((int)((i * 31 + seed) & 0xff), f);
  fclose(f);
  return p;
}

/* --- tests ---------------------------------------------------------------- */

static void test_round_trip(void **state) {
  (void)state;
  nt_multipart_t *m;
  assert_int_equal(nt_multipart_new(&m), 0);
  const char *big = make_file("big.bin", 3 * 1024 * 1024 + 7, 1);
  const char *one = make_file("one.txt", 1, 2);
  const char *zero = make_file("empty.json", 0, 3);
  assert_int_equal(nt_multipart_add_field(m, "title", "hello world", 11), 0);
  assert_int_equal(nt_multipart_add_field(m, "empty", "", 0), 0);
  assert_int_equal(nt_multipart_add_field(m, "bin", "a\0b\r\n--x", 9), 0);
  assert_int_equal(nt_multipart_add_file(m, "upload", big, NULL, NULL), 0);
  assert_int_equal(nt_multipart_add_file(m, "one", one, "renamed.png", NULL),
                   0);
  assert_int_equal(nt_multipart_add_file(m, "zero", zero, NULL, "x/custom"), 0);
  nt_http_body_t *b = nt_multipart_body(m);
  assert_non_null(b);
  const char *boundary = nt_multipart_boundary(m);
  assert_non_null(boundary);
  assert_true(strlen(boundary) <= 70); /* RFC 2046 */
  char want_ct[128];
  snprintf(want_ct, sizeof want_ct, "multipart/form-data; boundary=%s",
           boundary);
  assert_string_equal(b->ops->content_type(b), want_ct);
  /* adding after the body exists is refused */
  assert_int_equal(nt_multipart_add_field(m, "late", "x", 1), NT_EBUSY);

  blob_t out;
  assert_int_equal(pull_all(b, 1024 * 1024, &out), 0);
  assert_int_equal((int64_t)out.len, b->ops->length(b)); /* Content-Length */
  assert_true(out.max_piece <= 1024 * 1024);
  assert_int_equal(out.file_pieces, 5); /* 3 MiB + 7 in 1 MiB ranges, 1 B */
  part_t parts[8];
  int n = parse_multipart(out.data, out.len, boundary, parts, 8);
  assert_int_equal(n, 6);
  assert_string_equal(parts[0].name, "title");
  assert_false(parts[0].has_filename);
  assert_int_equal(parts[0].len, 11);
  assert_memory_equal(parts[0].data, "hello world", 11);
  assert_int_equal(parts[1].len, 0);
  assert_int_equal(parts[2].len, 9);
  assert_memory_equal(parts[2].data, "a\0b\r\n--x", 9);
  assert_string_equal(parts[3].name, "upload");
  assert_string_equal(parts[3].filename, "big.bin");
  assert_string_equal(parts[3].ctype, "application/octet-stream");
  assert_int_equal(parts[3].len, 3 * 1024 * 1024 + 7);
  for (size_t i = 0; i < parts[3].len; i++)
    if ((unsigned char)parts[3].data[i] != ((i * 31 + 1) & 0xff))
      fail_msg("byte %zu", i);
  assert_string_equal(parts[4].filename, "renamed.png");
  assert_string_equal(parts[4].ctype, "image/png");
  assert_int_equal(parts[4].len, 1);
  assert_string_equal(parts[5].filename, "empty.json");
  assert_string_equal(parts[5].ctype, "x/custom");
  assert_int_equal(parts[5].len, 0);

  /* rewind gives the same bytes again */
  assert_int_equal(b->ops->rewind(b), 0);
  blob_t again;
  assert_int_equal(pull_all(b, 4096, &again), 0);
  assert_int_equal(again.len, out.len);
  assert_memory_equal(again.data, out.data, out.len);
  assert_true(again.max_piece <= 4096);
  assert_int_equal(b->ops->verify(b), 0);
  free(out.data);
  free(again.data);
  nt_multipart_free(m);
}

static void test_quoting(void **state) {
  (void)state;
  nt_multipart_t *m;
  assert_int_equal(nt_multipart_new(&m), 0);
  const char *f = make_file("plain.txt", 5, 4);
  const char *odd =
      "we \"quote\" back\\slash \xc3\xa9t\xc3\xa9 \xe6\x97\xa5.txt";
  assert_int_equal(nt_multipart_add_field(m, "na\"me\\x", "v", 1), 0);
  assert_int_equal(nt_multipart_add_field(m, "line\r\nbreak", "v", 1), 0);
  assert_int_equal(nt_multipart_add_file(m, "f", f, odd, NULL), 0);
  nt_http_body_t *b = nt_multipart_body(m);
  blob_t out;
  assert_int_equal(pull_all(b, 65536, &out), 0);
  part_t parts[4];
  assert_int_equal(
      parse_multipart(out.data, out.len, nt_multipart_boundary(m), parts, 4),
      3);
  assert_string_equal(parts[0].name, "na\"me\\x");
  /* CR and LF cannot appear in a header: percent-encoded, as browsers do */
  assert_string_equal(parts[1].name, "line%0D%0Abreak");
  assert_non_null(strstr(out.data, "name=\"line%0D%0Abreak\""));
  assert_string_equal(parts[2].filename, odd); /* UTF-8 as it is */
  assert_non_null(
      strstr(out.data, "filename=\"we \\\"quote\\\" back\\\\slash "));
  assert_string_equal(parts[2].ctype, "text/plain"); /* from ".txt" */
  free(out.data);
  nt_multipart_free(m);
}

/* Every random byte is 0: the boundary is the same every time. */
static int zero_random(void *buf, size_t n) {
  memset(buf, 0, n);
  return 0;
}
static int calls;
/* First draw all zeros, then something else. */
static int two_draws(void *buf, size_t n) {
  memset(buf, calls++ ? 7 : 0, n);
  return 0;
}

static void test_boundary_never_in_text(void **state) {
  (void)state;
  /* Learn the all-zero boundary, then put it in a field. */
  nt__multipart_set_random(zero_random);
  nt_multipart_t *m;
  assert_int_equal(nt_multipart_new(&m), 0);
  nt_multipart_body(m);
  char zero_boundary[80];
  snprintf(zero_boundary, sizeof zero_boundary, "%s", nt_multipart_boundary(m));
  nt_multipart_free(m);

  char value[256];
  snprintf(value, sizeof value, "before\r\n--%s--\r\nafter", zero_boundary);
  assert_int_equal(nt_multipart_new(&m), 0);
  assert_int_equal(nt_multipart_add_field(m, "trap", value, strlen(value)), 0);
  /* only the colliding boundary available: refused, never sent */
  assert_null(nt_multipart_body(m));
  nt_multipart_free(m);

  calls = 0;
  nt__multipart_set_random(two_draws);
  assert_int_equal(nt_multipart_new(&m), 0);
  assert_int_equal(nt_multipart_add_field(m, "trap", value, strlen(value)), 0);
  nt_http_body_t *b = nt_multipart_body(m);
  assert_non_null(b);
  assert_string_not_equal(nt_multipart_boundary(m), zero_boundary);
  assert_int_equal(calls, 2);
  blob_t out;
  assert_int_equal(pull_all(b, 65536, &out), 0);
  part_t parts[2];
  assert_int_equal(
      parse_multipart(out.data, out.len, nt_multipart_boundary(m), parts, 2),
      1);
  assert_int_equal(parts[0].len, strlen(value));
  assert_memory_equal(parts[0].data, value, strlen(value));
  free(out.data);
  nt_multipart_free(m);
  nt__multipart_set_random(NULL);

  /* real boundaries differ from one body to the next */
  nt_multipart_t *a, *c;
  nt_multipart_new(&a);
  nt_multipart_new(&c);
  nt_multipart_body(a);
  nt_multipart_body(c);
  assert_string_not_equal(nt_multipart_boundary(a), nt_multipart_boundary(c));
  nt_multipart_free(a);
  nt_multipart_free(c);
}

static void test_file_changes_size(void **state) {
  (void)state;
  const char *path = make_file("grows.bin", 100000, 5);
  nt_multipart_t *m;
  assert_int_equal(nt_multipart_new(&m), 0);
  assert_int_equal(nt_multipart_add_file(m, "f", path, NULL, NULL), 0);
  nt_http_body_t *b = nt_multipart_body(m);
  nt_body_piece_t pc;
  assert_int_equal(b->ops->next(b, 4096, &pc), 1); /* the part head */
  assert_int_equal(b->ops->next(b, 4096, &pc), 1); /* first range */
  assert_true(pc.fd >= 0);
  FILE *f = fopen(path, "ab");
  fputs("more", f);
  fclose(f);
  assert_int_equal(b->ops->next(b, 4096, &pc), NT_EHTTP_FILE_CHANGED);
  assert_non_null(
      strstr(b->ops->error(b), "size changed from 100000 to 100004"));
  assert_int_equal(b->ops->verify(b), NT_EHTTP_FILE_CHANGED);
  nt_multipart_free(m);

  /* shrinking is caught too, also by verify at the end */
  path = make_file("shrinks.bin", 5000, 6);
  assert_int_equal(nt_multipart_new(&m), 0);
  assert_int_equal(nt_multipart_add_file(m, "f", path, NULL, NULL), 0);
  b = nt_multipart_body(m);
  assert_int_equal(truncate(path, 10), 0);
  blob_t out;
  assert_int_equal(pull_all(b, 65536, &out), NT_EHTTP_FILE_CHANGED);
  free(out.data);
  nt_multipart_free(m);
}

static void test_bad_input(void **state) {
  (void)state;
  nt_multipart_t *m;
  assert_int_equal(nt_multipart_new(&m), 0);
  assert_int_equal(nt_multipart_add_file(m, "f", "/nonexistent/x", NULL, NULL),
                   NT_ENOENT);
  assert_int_equal(nt_multipart_add_file(m, "f", "/tmp", NULL, NULL), -EISDIR);
  char longname[NT_MULTIPART_MAX_NAME + 2];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  assert_int_equal(nt_multipart_add_field(m, longname, "v", 1), NT_EINVAL);
  const char *f = make_file("t.txt", 1, 0);
  assert_int_equal(nt_multipart_add_file(m, "f", f, NULL, "text/plain\r\nX: y"),
                   NT_EINVAL);
  assert_int_equal(nt_multipart_add_field(m, NULL, "v", 1), NT_EINVAL);
  /* nothing was added: an empty form is just the close delimiter */
  nt_http_body_t *b = nt_multipart_body(m);
  blob_t out;
  assert_int_equal(pull_all(b, 100, &out), 0);
  char want[128];
  snprintf(want, sizeof want, "--%s--\r\n", nt_multipart_boundary(m));
  assert_string_equal(out.data, want);
  assert_int_equal(b->ops->length(b), (int64_t)strlen(want));
  free(out.data);
  nt_multipart_free(m);
}

/* A pipe part: unknown length, read only when the reactor says readable. */
static int ready_calls;
static void on_ready(void *arg) {
  (void)arg;
  ready_calls++;
}

static void test_stream_part(void **state) {
  (void)state;
  nt_reactor_t *r;
  assert_int_equal(nt_reactor_new(&r, NULL), 0);
  int pfd[2];
  assert_int_equal(pipe(pfd), 0);
  nt_multipart_t *m;
  assert_int_equal(nt_multipart_new(&m), 0);
  assert_int_equal(nt_multipart_add_field(m, "a", "1", 1), 0);
  assert_int_equal(nt_multipart_add_stream(m, "s", pfd[0], "-", NULL), 0);
  nt_http_body_t *b = nt_multipart_body(m);
  assert_int_equal(b->ops->length(b), -1);
  blob_t out;
  memset(&out, 0, sizeof out);
  nt_body_piece_t pc;
  for (int i = 0; i < 3; i++) { /* head, "1", stream head */
    assert_int_equal(b->ops->next(b, 65536, &pc), 1);
    blob_add(&out, pc.data, pc.len);
  }
  /* nothing written yet: wait, never a blocking read */
  assert_int_equal(b->ops->next(b, 65536, &pc), NT_EAGAIN);
  ready_calls = 0;
  assert_int_equal(b->ops->wait(b, r, on_ready, NULL), 0);
  nt_reactor_run_once(r, 0);
  assert_int_equal(ready_calls, 0);
  assert_int_equal(write(pfd[1], "streamed", 8), 8);
  for (int i = 0; i < 10 && !ready_calls; i++) nt_reactor_run_once(r, 1);
  assert_int_equal(ready_calls, 1);
  assert_int_equal(b->ops->next(b, 65536, &pc), 1);
  blob_add(&out, pc.data, pc.len);
  assert_int_equal(b->ops->rewind(b), NT_EHTTP_NO_REPLAY); /* consumed */
  close(pfd[1]);
  assert_int_equal(b->ops->next(b, 65536, &pc), NT_EAGAIN);
  assert_int_equal(b->ops->wait(b, r, on_ready, NULL), 0);
  for (int i = 0; i < 10 && ready_calls < 2; i++) nt_reactor_run_once(r, 1);
  for (;;) {
    int rc = b->ops->next(b, 65536, &pc);
    if (rc == 0) break;
    assert_int_equal(rc, 1);
    blob_add(&out, pc.data, pc.len);
  }
  part_t parts[2];
  assert_int_equal(
      parse_multipart(out.data, out.len, nt_multipart_boundary(m), parts, 2),
      2);
  assert_int_equal(parts[1].len, 8);
  assert_memory_equal(parts[1].data, "streamed", 8);
  assert_string_equal(parts[1].filename, "-");
  free(out.data);
  nt_multipart_free(m);
  close(pfd[0]);
  /* the body's read watcher went with it */
  assert_int_equal(nt_test_reactor_free(r), 0);
}

static void test_mime_table(void **state) {
  (void)state;
  assert_string_equal(nt_http_guess_type("a.PNG"), "image/png");
  assert_string_equal(nt_http_guess_type("dir.d/archive.tar"),
                      "application/x-tar");
  assert_string_equal(nt_http_guess_type("x.tar.gz"), "application/gzip");
  assert_string_equal(nt_http_guess_type("noext"), "application/octet-stream");
  assert_string_equal(nt_http_guess_type(".hidden"),
                      "application/octet-stream");
  assert_string_equal(nt_http_guess_type("a.7z"),
                      "application/x-7z-compressed");
  assert_string_equal(nt_http_guess_type("a.zst"), "application/zstd");
  assert_string_equal(nt_http_guess_type(NULL), "application/octet-stream");
  /* every entry is found (the table is sorted for the binary search) */
  const char *names[] = {"x.avif", "x.bmp",   "x.c",   "x.css",  "x.csv",
                         "x.docx", "x.gif",   "x.htm", "x.html", "x.ico",
                         "x.jpeg", "x.jpg",   "x.js",  "x.json", "x.md",
                         "x.mjs",  "x.mp3",   "x.mp4", "x.mpeg", "x.ogg",
                         "x.pdf",  "x.svg",   "x.txt", "x.wasm", "x.webm",
                         "x.webp", "x.woff2", "x.xml", "x.yml",  "x.zip"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    assert_string_not_equal(nt_http_guess_type(names[i]),
                            "application/octet-stream");
}

static void test_memory_body(void **state) {
  (void)state;
  nt_http_body_t *b;
  assert_int_equal(nt_http_body_memory("0123456789", 10, "text/plain", &b), 0);
  blob_t out;
  assert_int_equal(pull_all(b, 3, &out), 0);
  assert_string_equal(out.data, "0123456789");
  assert_int_equal(out.pieces, 4);
  assert_int_equal(b->ops->rewind(b), 0);
  free(out.data);
  assert_int_equal(pull_all(b, 100, &out), 0);
  assert_int_equal(out.len, 10);
  free(out.data);
  assert_string_equal(b->ops->content_type(b), "text/plain");
  nt_http_body_memory_free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_quoting),
      cmocka_unit_test(test_boundary_never_in_text),
      cmocka_unit_test(test_file_changes_size),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_stream_part),
      cmocka_unit_test(test_mime_table),
      cmocka_unit_test(test_memory_body),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
