/* Shared by the unit tests whose cases each get a fresh test reactor
 * (test_memory_transport.c, test_tls.c): the cmocka setup/teardown pair.
 * teardown fails the case if anything it opened is still live. Include it
 * once per test program, after <cmocka.h>. */
#ifndef NETTOOL_TEST_REACTOR_FIXTURE_H
#define NETTOOL_TEST_REACTOR_FIXTURE_H

#include <stdlib.h>

#include "nettool/testing.h"

typedef struct {
  nt_reactor_t *r;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f || nt_test_reactor_new(&f->r)) {
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  size_t live = nt_test_reactor_free(f->r);
  free(f);
  assert_int_equal(live, 0); /* each test closed what it opened */
  return 0;
}

#endif
