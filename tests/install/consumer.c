/* A program using the INSTALLED library, built outside the tree (through
 * pkg-config by consumer.sh): one request to a timestamp server on
 * 127.0.0.1, the reply checked. usage: consumer PORT WORD
 * Prints "reply: <reply>" and "version: <nt_version()>"; exits 0 when the
 * reply echoes WORD, 1 otherwise. */
#include <nettool/errno.h>
#include <nettool/reactor.h>
#include <nettool/timestamp.h>
#include <nettool/version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *word;
  int got;    /* the reply held the word */
  int status; /* closed()'s */
} run_t;

static void on_connected(nt_ts_client_t *c, void *arg) {
  run_t *run = arg;
  int rc = nt_ts_client_send(c, run->word, strlen(run->word));
  if (rc < 0) {
    fprintf(stderr, "consumer: send: %s\n", nt_strerror(rc));
    nt_ts_client_close(c);
  }
}

static void on_reply(nt_ts_client_t *c, const char *data, size_t len, void *arg) {
  run_t *run = arg;
  printf("reply: %.*s\n", (int)len, data);
  /* "[<time>]: WORD" */
  size_t wl = strlen(run->word);
  run->got = len >= wl && !memcmp(data + len - wl, run->word, wl) && data[0] == '[';
  nt_ts_client_close(c);
}

static void on_closed(nt_ts_client_t *c, int status, void *arg) {
  (void)c;
  ((run_t *)arg)->status = status;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: consumer PORT WORD\n");
    return 2;
  }
  /* The headers and the library are of one release. */
  if (strcmp(nt_version(), NT_VERSION_STRING) != 0 || nt_version_number() != NT_VERSION_HEX) {
    fprintf(stderr, "consumer: library %s, headers %s\n", nt_version(), NT_VERSION_STRING);
    return 1;
  }
  printf("version: %s\n", nt_version());
  run_t run = {.word = argv[2]};
  nt_reactor_t *r;
  int rc = nt_reactor_new(&r, NULL);
  if (rc < 0) return 1;
  nt_ts_client_options_t opts = {.connect_timeout_ms = 5000, .reply_timeout_ms = 5000};
  nt_ts_client_callbacks_t cbs = {.connected = on_connected, .reply = on_reply,
                                  .closed = on_closed};
  nt_ts_client_t *c;
  rc = nt_ts_client_connect(r, "127.0.0.1", atoi(argv[1]), &opts, &cbs, &run, &c);
  if (rc < 0) {
    fprintf(stderr, "consumer: connect: %s\n", nt_strerror(rc));
    return 1;
  }
  nt_reactor_run(r);
  nt_reactor_free(r);
  if (run.status != 0) fprintf(stderr, "consumer: closed: %s\n", nt_strerror(run.status));
  return run.got && run.status == 0 ? 0 : 1;
}
