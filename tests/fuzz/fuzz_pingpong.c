/* Fuzz the command/response engine as a hostile server: the input is what
 * the server sends (first byte: FTP or NNTP style, and chunk size), fed
 * through the in-memory transport to a client that queues commands and asks
 * for blocks. Anything may happen except a crash, a leak or unbounded
 * memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nettool/pingpong.h"
#include "nettool/testing.h"

static int on_reply(nt_pp_t *pp, void *arg, int code, const char *t, size_t n) {
  (void)arg, (void)t;
  if (n > pp->max_reply) abort();
  if (code < 0) return NT_PP_DONE;
  if (code == 150) return NT_PP_MORE;
  if (code >= 210 && code < 240) return NT_PP_BLOCK;
  if (nt_pp_pending(pp) < 4)
    nt_pp_command(pp, 0, on_reply, NULL, NULL, "NEXT %d", code);
  return NT_PP_DONE;
}

static void on_line(nt_pp_t *pp, void *arg, const char *line, size_t n) {
  (void)pp, (void)arg;
  if (line && memchr(line, '\n', n)) abort();
}

static int on_greeting(nt_pp_t *pp, void *arg, int code, const char *t, size_t n) {
  (void)arg, (void)t, (void)n;
  if (code < 0) return NT_PP_DONE;
  nt_pp_command(pp, 0, on_reply, on_line, NULL, "LIST");
  nt_pp_command(pp, NT_PP_SECRET, on_reply, on_line, NULL, "PASS x");
  return NT_PP_DONE;
}

static void on_destroy(nt_pp_t *pp) { free(pp); }
static const nt_pp_ops_t ops = {.destroy = on_destroy};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static nt_reactor_t *r;
  if (!r && nt_test_reactor_new(&r)) abort();
  nt_pp_t *pp = calloc(1, sizeof *pp);
  nt_pp_options_t o = {.grammar = (data[0] & 1) ? &nt_pp_grammar_nntp : &nt_pp_grammar_ftp,
                       .max_line = 128,
                       .max_reply = 1024,
                       .max_block = 4096,
                       .timeout_ms = 1000};
  nt_pp_init(pp, r, &ops, &o, on_greeting, NULL);
  nt_test_transport_t *tt = nt_test_transport_new(r, &pp->lr.base);
  size_t chunk = (size_t)(data[0] >> 1) % 17 + 1;
  for (size_t pos = 1; pos < size && !nt_test_is_lost(tt); pos += chunk) {
    size_t n = size - pos < chunk ? size - pos : chunk;
    nt_test_feed(tt, data + pos, n);
    nt_test_run_pending(r);
  }
  nt_test_clock_advance(r, 2000); /* let the idle timeout fire */
  nt_test_transport_free(tt);
  return 0;
}
