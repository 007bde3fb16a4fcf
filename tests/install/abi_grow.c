/* A program built against ANOTHER release's <nettool/timestamp.h> than the
 * installed library's (consumer.sh makes the two headers): proves that an
 * options struct can grow without breaking binaries (docs/ABI.md).
 *   -DNT_ABI_OLDER: the header lacks the struct's last field, as an older
 *     release's would. The bytes after the program's smaller struct are
 *     garbage (0xA5); the library must read only the program's size, so the
 *     field it knows and the program does not is its zero default (no TLS).
 *   -DNT_ABI_NEWER: the header has one more field at the end (nt_future),
 *     as a newer release's would. Zero: the library does the request. Set
 *     (argv[3] = "set"): the library cannot do what it asks and must refuse
 *     with NT_ENOTSUP before any callback.
 * usage: abi_grow PORT WORD [set]. Exit 0 when the outcome is the right one. */
#include <nettool/errno.h>
#include <nettool/reactor.h>
#include <nettool/timestamp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *word;
  int got, status;
} run_t;

static void on_connected(nt_ts_client_t *c, void *arg) {
  run_t *run = arg;
  if (nt_ts_client_send(c, run->word, strlen(run->word)) < 0) nt_ts_client_close(c);
}

static void on_reply(nt_ts_client_t *c, const char *data, size_t len, void *arg) {
  run_t *run = arg;
  size_t wl = strlen(run->word);
  printf("reply: %.*s\n", (int)len, data);
  run->got = len >= wl && !memcmp(data + len - wl, run->word, wl);
  nt_ts_client_close(c);
}

static void on_closed(nt_ts_client_t *c, int status, void *arg) {
  (void)c;
  ((run_t *)arg)->status = status;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int set = argc > 3 && !strcmp(argv[3], "set");
  run_t run = {.word = argv[2]};
  nt_reactor_t *r;
  if (nt_reactor_new(&r, NULL) < 0) return 1;
  union {
    nt_ts_client_options_t o;
    unsigned char raw[256];
  } u;
  memset(&u, 0xA5, sizeof u);
  memset(&u.o, 0, sizeof u.o);
  u.o.connect_timeout_ms = 5000;
  u.o.reply_timeout_ms = 5000;
#ifdef NT_ABI_NEWER
  u.o.nt_future = set;
#endif
  printf("options struct: %zu bytes\n", sizeof u.o);
  nt_ts_client_callbacks_t cbs = {.connected = on_connected, .reply = on_reply,
                                  .closed = on_closed};
  nt_ts_client_t *c;
  int rc = nt_ts_client_connect(r, "127.0.0.1", atoi(argv[1]), &u.o, &cbs, &run, &c);
  if (set) {
    printf("connect: %s\n", rc < 0 ? nt_err_name(rc) : "accepted");
    nt_reactor_free(r);
    return rc == NT_ENOTSUP ? 0 : 1;
  }
  if (rc < 0) {
    fprintf(stderr, "abi_grow: connect: %s\n", nt_strerror(rc));
    return 1;
  }
  nt_reactor_run(r);
  nt_reactor_free(r);
  if (run.status) fprintf(stderr, "abi_grow: closed: %s\n", nt_strerror(run.status));
  return run.got && run.status == 0 ? 0 : 1;
}
