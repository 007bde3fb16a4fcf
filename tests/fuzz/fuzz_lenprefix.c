/* Fuzz the length-prefixed reader: messages handed out never exceed the
 * maximum, whatever the lengths announced and however the input is cut. */
#include <stdint.h>
#include <stdlib.h>

#include "nettool/framing.h"

static int check_msg(void *arg, const char *data, size_t len) {
  (void)data;
  if (len > *(size_t *)arg) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t max = (size_t)data[0] * 4;
  size_t chunk = (size_t)(data[0] % 13) + 1;
  nt_msg_reader_t mr;
  nt_msg_reader_init(&mr, max);
  for (size_t pos = 1; pos < size; pos += chunk) {
    size_t n = size - pos < chunk ? size - pos : chunk;
    if (nt_msg_reader_feed(&mr, (const char *)data + pos, n, check_msg, &max, NULL))
      break;
  }
  nt_msg_reader_free(&mr);
  return 0;
}
