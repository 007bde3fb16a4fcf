/* Fuzz the line reader: the first byte picks the maximum line length and the
 * chunk size, the rest is fed in chunks; every line handed out must respect
 * the limit and contain no newline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nettool/framing.h"

static int check_line(void *arg, const char *line, size_t len) {
  size_t max = *(size_t *)arg;
  if (len > max || memchr(line, '\n', len)) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t max = (size_t)(data[0] & 0x3f) + 1;
  size_t chunk = (size_t)(data[0] >> 6) * 7 + 1;
  nt_line_reader_t lr;
  nt_line_reader_init(&lr, max);
  for (size_t pos = 1; pos < size; pos += chunk) {
    size_t n = size - pos < chunk ? size - pos : chunk;
    if (nt_line_reader_feed(&lr, (const char *)data + pos, n, check_line, &max, NULL))
      break;
    if (nt_line_reader_pending(&lr) > max + 1) abort();
  }
  nt_line_reader_free(&lr);
  return 0;
}
