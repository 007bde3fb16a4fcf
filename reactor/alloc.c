/* Allocation shim with fault injection for tests (fail the Nth allocation). */
#include <stdlib.h>
#include <string.h>

#include "reactor-int.h"
#include "nettool/testing.h"

/* -1: never fail; otherwise the number of allocations left before failing.
 * Not thread-safe on purpose: it is a single-threaded test switch. */
static long fail_countdown = -1;

void nt_test_fail_alloc_after(long n) { fail_countdown = n; }

static int should_fail(void) {
  if (fail_countdown < 0) return 0;
  if (fail_countdown == 0) return 1;
  fail_countdown--;
  return 0;
}

void *nt__malloc(size_t n) { return should_fail() ? NULL : malloc(n); }

void *nt__calloc(size_t n, size_t size) {
  return should_fail() ? NULL : calloc(n, size);
}

void *nt__realloc(void *p, size_t n) {
  return should_fail() ? NULL : realloc(p, n);
}

void nt__free(void *p) { free(p); }

char *nt__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = nt__malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}
