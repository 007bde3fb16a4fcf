/* NT_ZLIB_LAZY with no zlib to load (nt__zlib_soname pointed at a file
 * that does not exist, before the first load): COMPRESS and yEnc's CRC32
 * cannot work, and a download says so before it starts, NT_ENOTSUP with no
 * file touched, instead of fetching every segment and calling it damaged
 * (nntp-get turns it into one line and exit 3). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "compress-int.h"
#include "nettool/errno.h"
#include "nettool/nzb.h"
#include "nettool/testing.h"

static const char nzb_xml[] =
    "<?xml version=\"1.0\"?>\n<nzb xmlns=\"http://www.newzbin.com/DTD/2003/nzb\">\n"
    "<file poster=\"t\" date=\"1\" subject=\"&quot;a.bin&quot; yEnc (1/1)\">"
    "<groups><group>t</group></groups><segments>"
    "<segment bytes=\"400\" number=\"1\">a1@t</segment></segments></file>\n</nzb>\n";

static int entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static void test_download_refused_before_start(void **state) {
  (void)state;
  nt__zlib_soname = "libnettool-test-no-such-zlib.so.1";
  assert_int_equal(nt__compress_load(), NT_ENOTSUP);

  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/nt-nozlib-XXXXXX");
  assert_non_null(mkdtemp(dir));
  nt_nzb_t *nzb = NULL;
  assert_int_equal(nt_nzb_parse(nzb_xml, sizeof nzb_xml - 1, &nzb, NULL, 0), 0);
  nt_reactor_t *r = NULL;
  assert_int_equal(nt_test_reactor_new(&r), 0);
  nt_nzb_get_options_t o = {.dir = dir, .no_resume = 1};
  nt_nzb_callbacks_t cbs;
  memset(&cbs, 0, sizeof cbs);
  nt_nzb_get_t *g = NULL;
  assert_int_equal(nt_nzb_get_new(r, nzb, &o, &cbs, NULL, &g), 0);
  assert_int_equal(nt_nzb_get_add_server(g, "news.test", 119, NULL, 0), 0);
  assert_int_equal(nt_nzb_get_start(g), NT_ENOTSUP);
  assert_int_equal(entries(dir), 0); /* no a.bin.part */
  nt_nzb_get_free(g);
  nt_nzb_free(nzb);
  assert_int_equal(nt_test_reactor_free(r), 0);
  rmdir(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_download_refused_before_start),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
