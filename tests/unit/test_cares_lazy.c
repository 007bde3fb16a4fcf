/* NT_CARES_LAZY: c-ares is loaded by the first resolver, not with the
 * library (a process that only connects to addresses never maps it: issue
 * 13, nntp-get's peak memory); lookups then go through the functions it
 * loaded. The program is not linked with c-ares (tests/CMakeLists.txt). */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "nettool/resolve.h"
#include "nettool/testing.h"

static int got_status = 1;
static size_t got_n;
static uint16_t got_port;

static void on_resolved(void *arg, int status, const nt_address_t *a, size_t n) {
  (void)arg;
  got_status = status;
  got_n = n;
  if (n) got_port = ntohs(((const struct sockaddr_in *)&a[0].addr)->sin_port);
}

static void test_loaded_by_first_resolver(void **state) {
  (void)state;
  nt_reactor_t *r;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  assert_null(dlopen(NT_CARES_SONAME, RTLD_NOW | RTLD_NOLOAD));
  nt_resolver_t *res;
  nt_resolver_options_t o = {.no_hosts_file = 1};
  assert_int_equal(nt_resolver_new(r, &o, &res), 0);
  void *h = dlopen(NT_CARES_SONAME, RTLD_NOW | RTLD_NOLOAD);
  assert_non_null(h); /* loaded now */
  dlclose(h);
  nt_resolve_t *q;
  assert_int_equal(nt_resolve(res, "127.0.0.1", 119, AF_UNSPEC, on_resolved, NULL, &q), 0);
  nt_test_run_pending(r);
  assert_int_equal(got_status, 0);
  assert_int_equal(got_n, 1);
  assert_int_equal(got_port, 119);
  /* a second resolver: c-ares is set up once */
  nt_resolver_t *res2;
  assert_int_equal(nt_resolver_new(r, &o, &res2), 0);
  nt_resolver_free(res2);
  nt_resolver_free(res);
  nt_test_run_pending(r);
  assert_int_equal(nt_test_reactor_free(r), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_loaded_by_first_resolver),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
