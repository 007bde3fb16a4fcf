/* The cached hosts file: parsing, case-insensitive names, families, and
 * reloading when the file changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hosts-int.h"
#include "nettool/transport.h"

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_hosts_file(void **state) {
  (void)state;
  char path[] = "/tmp/nt-hosts-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  write_file(path,
             "# comment line\n"
             "127.0.0.1   localhost loopback  # trailing comment\n"
             "::1         localhost ip6-localhost\n"
             "192.0.2.9   Mixed.Case.Example\n"
             "not-an-ip   ignored\n"
             "198.51.100.1 localhost\n");
  nt__hosts_t *h = nt__hosts_new(path);
  nt_address_t a[8];
  char buf[NT_ADDRSTRLEN];
  size_t n = nt__hosts_lookup(h, 0, "localhost", AF_UNSPEC, 80, a, 8);
  assert_int_equal(n, 3);
  assert_string_equal(nt_addr_format((struct sockaddr *)&a[0].addr, buf, sizeof buf), "127.0.0.1:80");
  assert_string_equal(nt_addr_format((struct sockaddr *)&a[1].addr, buf, sizeof buf), "[::1]:80");
  assert_int_equal(nt__hosts_lookup(h, 0, "localhost", AF_INET6, 1, a, 8), 1);
  assert_int_equal(nt__hosts_lookup(h, 0, "LOCALHOST.", AF_INET, 1, a, 8), 2);
  assert_int_equal(nt__hosts_lookup(h, 0, "mixed.case.example", AF_UNSPEC, 1, a, 8), 1);
  assert_int_equal(nt__hosts_lookup(h, 0, "ignored", AF_UNSPEC, 1, a, 8), 0);
  assert_int_equal(nt__hosts_lookup(h, 0, "local", AF_UNSPEC, 1, a, 8), 0);
  assert_int_equal(nt__hosts_lookup(h, 0, "localhost", AF_UNSPEC, 1, a, 1), 1);
  /* changed on disk: seen after the once-a-second check */
  write_file(path, "10.1.2.3 newname\n");
  assert_int_equal(nt__hosts_lookup(h, 500, "newname", AF_UNSPEC, 1, a, 8), 0);
  assert_int_equal(nt__hosts_lookup(h, 1500, "newname", AF_UNSPEC, 1, a, 8), 1);
  assert_int_equal(nt__hosts_lookup(h, 1500, "localhost", AF_UNSPEC, 1, a, 8), 0);
  /* gone: nothing found, nothing crashes */
  unlink(path);
  assert_int_equal(nt__hosts_lookup(h, 3000, "newname", AF_UNSPEC, 1, a, 8), 0);
  nt__hosts_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_hosts_file)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
