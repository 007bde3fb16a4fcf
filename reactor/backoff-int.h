/* Private to the library: the one retry wait of nettool (HTTP download, FTP
 * transfer, tus upload, NNTP reconnects; nt_backoff_delay in
 * nettool/backoff.h is its public face for programs and the CLI). */
#ifndef NETTOOL_BACKOFF_INT_H
#define NETTOOL_BACKOFF_INT_H

#include <stdint.h>

/* The wait before retry number n (0-based), base and cap in ms, r a random
 * 32-bit value: d = min(base * 2^n, cap), then half
 * of d plus r's share of the other half ("equal jitter": never less than
 * half the schedule, so a crowd cut off together spreads out without any
 * of them coming back at once). r = 0 gives the lower bound d/2,
 * r = UINT32_MAX just under d. */
uint64_t nt__backoff(uint64_t base, uint64_t cap, int n, uint32_t r);

/* A schedule: failures in a row counted by the holder. */
typedef struct nt__backoff_s {
  uint64_t base, cap; /* ms; 0: 1000 / 60000 */
  int n;              /* waits taken since the last reset */
  uint32_t rng;       /* xorshift32 state; 0: seeded from getrandom */
} nt__backoff_t;

/* The next wait of the schedule (n counts it). */
uint64_t nt__backoff_next(nt__backoff_t *b);
/* It worked: the next failure waits the shortest again. */
void nt__backoff_reset(nt__backoff_t *b);
/* A random 32-bit value for jitter (getrandom; never 0). */
uint32_t nt__backoff_random(void);

#endif
