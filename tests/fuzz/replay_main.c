/* Runs a fuzz target without libFuzzer: every file of a corpus directory,
 * then 20,000 seeded mutations of them (bit flips, truncations, splices,
 * random bytes). Deterministic, so a CI failure reproduces; the sanitizer
 * build turns memory errors into failures. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT 65536
#define MUTATIONS 20000

typedef struct {
  uint8_t *data;
  size_t size;
} input_t;

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint32_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

int main(int argc, char **argv) {
  input_t in[512];
  size_t n = 0;
  if (argc > 1) {
    DIR *d = opendir(argv[1]);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 512) {
      if (e->d_name[0] == '.') continue;
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
      FILE *f = fopen(path, "rb");
      if (!f) continue;
      in[n].data = malloc(REPLAY_MAX_INPUT);
      in[n].size = fread(in[n].data, 1, REPLAY_MAX_INPUT, f);
      fclose(f);
      LLVMFuzzerTestOneInput(in[n].data, in[n].size);
      n++;
    }
    if (d) closedir(d);
  }
  if (n == 0) {
    fprintf(stderr, "no corpus files in %s\n", argc > 1 ? argv[1] : "(none)");
    return 1;
  }
  uint8_t *buf = malloc(REPLAY_MAX_INPUT);
  for (int i = 0; i < MUTATIONS; i++) {
    input_t *a = &in[next_rand() % n];
    size_t len = a->size;
    memcpy(buf, a->data, len);
    switch (next_rand() % 5) {
    case 0: /* flip bits */
      for (int k = 0; k < 4 && len; k++) buf[next_rand() % len] ^= (uint8_t)(1u << (next_rand() % 8));
      break;
    case 1: /* truncate */
      if (len) len = next_rand() % len;
      break;
    case 2: { /* splice another input's tail */
      input_t *b = &in[next_rand() % n];
      size_t at = len ? next_rand() % len : 0;
      size_t from = b->size ? next_rand() % b->size : 0;
      size_t take = b->size - from;
      if (at + take > REPLAY_MAX_INPUT) take = REPLAY_MAX_INPUT - at;
      memcpy(buf + at, b->data + from, take);
      len = at + take;
      break;
    }
    case 3: /* random bytes */
      len = next_rand() % 512;
      for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)next_rand();
      break;
    default: /* duplicate a region */
      if (len && len * 2 < REPLAY_MAX_INPUT) {
        memcpy(buf + len, buf, len);
        len *= 2;
      }
    }
    LLVMFuzzerTestOneInput(buf, len);
  }
  printf("%zu corpus files, %d mutations: ok\n", n, MUTATIONS);
  for (size_t i = 0; i < n; i++) free(in[i].data);
  free(buf);
  return 0;
}
