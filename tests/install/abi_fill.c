/* The other ABI direction (docs/ABI.md): structs the library FILLS for the
 * program. A program built against ANOTHER release's headers than the
 * installed library's (consumer.sh makes them):
 *   -DNT_ABI_OLDER: nt_http_progress_t and nt_ftp_entry_t lack their last
 *     field, as an older release's would. The program's struct is smaller
 *     than the library's; the `_sized` functions get the program's sizeof
 *     through their macros and must write only that much: guard bytes
 *     (0xA5) right after the program's struct stay untouched.
 *   neither: the same checks with this release's headers (the whole struct
 *     is written, the guard after it is not).
 * Fill functions checked: nt_http_request_progress (a request started
 * towards 127.0.0.1:PORT, read before the loop runs, then cancelled) and
 * nt_ftp_parse_mlsd (pure).
 * usage: abi_fill PORT. Exit 0 when every check holds; each failure is
 * printed. */
#include <nettool/errno.h>
#include <nettool/ftp.h>
#include <nettool/http.h>
#include <nettool/reactor.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 0xA5
#define ROOM 256

static int failures;

static void fail(const char *what) {
  printf("FAIL: %s\n", what);
  failures++;
}

/* Bytes [from, ROOM) of raw are all GUARD. */
static int guard_intact(const unsigned char *raw, size_t from) {
  for (size_t i = from; i < ROOM; i++)
    if (raw[i] != GUARD) {
      printf("guard byte %zu (struct size %zu) is 0x%02x\n", i, from, raw[i]);
      return 0;
    }
  return 1;
}

static void on_done(nt_http_request_t *q, int status, void *arg) {
  (void)q;
  *(int *)arg = status;
}

static void check_http_progress(int port) {
  nt_reactor_t *r;
  nt_http_client_t *c;
  if (nt_reactor_new(&r, NULL) < 0 || nt_http_client_new(r, NULL, &c) < 0) {
    fail("reactor and HTTP client");
    return;
  }
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/abi", port);
  nt_http_request_options_t o;
  memset(&o, 0, sizeof o);
  o.url = url;
  nt_http_callbacks_t cbs;
  memset(&cbs, 0, sizeof cbs);
  cbs.on_done = on_done;
  int status = 1;
  nt_http_request_t *q;
  if (nt_http_request_start(c, &o, &cbs, &status, &q) < 0) {
    fail("nt_http_request_start");
    nt_http_client_free(c);
    nt_reactor_free(r);
    return;
  }
  union {
    nt_http_progress_t p;
    unsigned char raw[ROOM];
  } u;
  memset(&u, GUARD, sizeof u);
  nt_http_request_progress(q, &u.p);
  printf("nt_http_progress_t: %zu bytes\n", sizeof u.p);
  /* the fields this struct has were written: nothing sent or received
   * yet, no body, a state name */
  if (u.p.sent != 0 || u.p.received != 0 || u.p.send_total != -1 ||
      u.p.receive_total != -1 || !u.p.state || !*u.p.state)
    fail("nt_http_request_progress filled the fields the program knows");
  if (!guard_intact(u.raw, sizeof u.p))
    fail("nt_http_request_progress wrote past the program's struct");
  nt_http_request_cancel(q);
  nt_reactor_run(r); /* on_done(NT_ECANCELED) */
  if (status != NT_ECANCELED) fail("the cancelled request's on_done");
  nt_http_client_free(c);
  nt_reactor_run(r);
  nt_reactor_free(r);
}

static void check_mlsd(void) {
  static const char line[] =
      "type=file;size=1234;modify=20260102030405;UNIX.mode=0640; a b.txt";
  union {
    nt_ftp_entry_t e;
    unsigned char raw[ROOM];
  } u;
  memset(&u, GUARD, sizeof u);
  int rc = nt_ftp_parse_mlsd(line, strlen(line), &u.e);
  printf("nt_ftp_entry_t: %zu bytes\n", sizeof u.e);
  if (rc != 0 || u.e.type != NT_FTP_ENTRY_FILE || u.e.size != 1234 ||
      u.e.name_len != 7 || memcmp(u.e.name, "a b.txt", 7) != 0)
    fail("nt_ftp_parse_mlsd filled the fields the program knows");
#ifndef NT_ABI_OLDER
  if (u.e.unix_mode != 0640) fail("nt_ftp_parse_mlsd: UNIX.mode");
#endif
  if (!guard_intact(u.raw, sizeof u.e))
    fail("nt_ftp_parse_mlsd wrote past the program's struct");
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: abi_fill PORT\n");
    return 2;
  }
  check_http_progress(atoi(argv[1]));
  check_mlsd();
  printf("%s\n", failures ? "abi_fill: FAILED" : "abi_fill: ok");
  return failures ? 1 : 0;
}
