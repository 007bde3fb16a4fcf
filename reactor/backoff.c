/* The retry wait (backoff-int.h, nettool/backoff.h): exponential, capped,
 * with "equal jitter". One implementation for every transfer and reconnect
 * of the library and for the CLI's own retries. */
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "backoff-int.h"
#include "nettool/backoff.h"

uint64_t nt__backoff(uint64_t base, uint64_t cap, int n, uint32_t r) {
  uint64_t d = base;
  for (int i = 0; i < n && d < cap && d <= UINT64_MAX / 2; i++) d *= 2;
  if (d > cap) d = cap;
  uint64_t half = d / 2;
  return half + (uint64_t)(((double)r / 4294967296.0) * (double)(d - half));
}

uint32_t nt__backoff_random(void) {
  uint32_t r = 0;
  if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r || !r) {
    /* no entropy yet (early boot): the clock and the pid still differ
     * between two clients */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    r = (uint32_t)ts.tv_nsec ^ ((uint32_t)getpid() << 16) ^ (uint32_t)ts.tv_sec;
    if (!r) r = 0x9e3779b9u;
  }
  return r;
}

static uint32_t next_random(nt__backoff_t *b) {
  if (!b->rng) b->rng = nt__backoff_random();
  uint32_t x = b->rng; /* xorshift32: the jitter needs spread, not secrecy */
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return b->rng = x;
}

uint64_t nt__backoff_next(nt__backoff_t *b) {
  uint64_t base = b->base ? b->base : 1000, cap = b->cap ? b->cap : 60000;
  uint64_t d = nt__backoff(base, cap, b->n, next_random(b));
  if (b->n < 64) b->n++;
  return d;
}

void nt__backoff_reset(nt__backoff_t *b) { b->n = 0; }

uint64_t nt_backoff_delay(uint64_t base_ms, uint64_t cap_ms, unsigned n) {
  return nt__backoff(base_ms ? base_ms : 1000, cap_ms ? cap_ms : 60000,
                     n > 64 ? 64 : (int)n, nt__backoff_random());
}
