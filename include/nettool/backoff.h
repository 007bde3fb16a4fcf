/* The retry wait nettool's transfers use (HTTP download, FTP transfer, tus
 * upload, NNTP reconnects), for programs that retry something on their
 * own and want the same schedule. */
#ifndef NETTOOL_BACKOFF_H
#define NETTOOL_BACKOFF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/* The wait in ms before retry number n (0 after the first failure): with
 * d = min(base_ms * 2^n, cap_ms), a random value in [d/2, d) ("equal
 * jitter": clients cut off together come back spread out). base_ms 0:
 * 1000; cap_ms 0: 60000. Thread-safe. */
uint64_t nt_backoff_delay(uint64_t base_ms, uint64_t cap_ms, unsigned n);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
