/* NZB glue on libexpat: an NZB as Nyuu writes it, entities, sorting and
 * duplicate segments, names made safe, and documents that must be refused
 * (not XML, no files, segments without number or Message-ID, entity
 * bombs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#ifdef NT_EXPAT_LAZY
#include <dlfcn.h>
#endif

#include "nettool/nzb.h"
#include "nzb-expat.h"

static const char nyuu_nzb[] =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<!DOCTYPE nzb PUBLIC \"-//newzBin//DTD NZB 1.1//EN\" "
    "\"http://www.newzbin.com/DTD/nzb/nzb-1.1.dtd\">\n"
    "<nzb xmlns=\"http://www.newzbin.com/DTD/2003/nzb\">\n"
    "\t<head><meta type=\"title\">My &amp; Post</meta><meta type=\"password\">pw</meta></head>\n"
    "\t<file poster=\"Nyuu &lt;n@t.test&gt;\" date=\"1796448214\" "
    "subject=\"[1/2] - &quot;one.bin&quot; yEnc (1/1) 1\">\n"
    "\t\t<groups>\n\t\t\t<group>local.test</group>\n\t\t\t<group>alt.binaries.test</group>\n"
    "\t\t</groups>\n"
    "\t\t<segments>\n"
    "\t\t\t<segment bytes=\"133\" number=\"1\">TmFnWfSoXrFzHcUqJmVrPhYr-1796448214725@nyuu</segment>\n"
    "\t\t</segments>\n\t</file>\n"
    "\t<file poster=\"Nyuu\" date=\"1796448214\" subject=\"[2/2] - &quot;mid.bin&quot; yEnc (1/3) 700000\">\n"
    "\t\t<groups><group>local.test</group></groups>\n"
    "\t\t<segments>\n"
    "\t\t\t<segment bytes=\"88426\" number=\"3\">c@nyuu</segment>\n"
    "\t\t\t<segment bytes=\"317038\" number=\"1\"> a@nyuu </segment>\n"
    "\t\t\t<segment bytes=\"317106\" number=\"2\">&lt;b@nyuu&gt;</segment>\n"
    "\t\t\t<segment bytes=\"5\" number=\"2\">dup@nyuu</segment>\n"
    "\t\t</segments>\n\t</file>\n"
    "</nzb>\n";

static void test_nyuu(void **state) {
  (void)state;
  nt_nzb_t *n;
  char err[160];
  assert_int_equal(nt_nzb_parse(nyuu_nzb, strlen(nyuu_nzb), &n, err, sizeof err), 0);
  assert_int_equal(n->nfiles, 2);
  assert_string_equal(n->title, "My & Post");
  assert_string_equal(n->password, "pw");
  nt_nzb_file_t *f = &n->files[0];
  assert_string_equal(f->name, "one.bin");
  assert_string_equal(f->poster, "Nyuu <n@t.test>");
  assert_int_equal(f->date, 1796448214);
  assert_int_equal(f->ngroups, 2);
  assert_string_equal(f->groups[1], "alt.binaries.test");
  assert_int_equal(f->nsegments, 1);
  assert_string_equal(f->segments[0].message_id, "<TmFnWfSoXrFzHcUqJmVrPhYr-1796448214725@nyuu>");
  f = &n->files[1];
  assert_string_equal(f->name, "mid.bin");
  assert_int_equal(f->nsegments, 3); /* the repeated number 2 dropped */
  assert_int_equal(f->segments[0].number, 1);
  assert_string_equal(f->segments[0].message_id, "<a@nyuu>"); /* trimmed */
  assert_string_equal(f->segments[1].message_id, "<b@nyuu>"); /* brackets kept */
  assert_int_equal(f->segments[1].bytes, 317106);
  assert_string_equal(f->segments[2].message_id, "<c@nyuu>");
  assert_int_equal(f->bytes, 317038 + 317106 + 88426);
  nt_nzb_free(n);
}

static int parse_fails(const char *xml, int want, const char *msg_part) {
  nt_nzb_t *n = (nt_nzb_t *)1;
  char err[160];
  int rc = nt_nzb_parse(xml, strlen(xml), &n, err, sizeof err);
  if (rc != want || n != NULL) {
    fprintf(stderr, "rc %d (%s) for %s\n", rc, err, xml);
    return 0;
  }
  if (msg_part && !strstr(err, msg_part)) {
    fprintf(stderr, "message '%s' lacks '%s'\n", err, msg_part);
    return 0;
  }
  return 1;
}

static void test_refused(void **state) {
  (void)state;
  assert_true(parse_fails("not xml at all", NT_ENZB_PARSE, "line 1"));
  assert_true(parse_fails("<nzb><file subject='x'><segments>\n<segment number='1'>a@b</segment>",
                          NT_ENZB_PARSE, "line 2")); /* unclosed */
  assert_true(parse_fails("<nzb></nzb>", NT_ENZB_PARSE, "no <file>"));
  assert_true(parse_fails("<nzb><file subject='x'><segments></segments></file></nzb>",
                          NT_ENZB_PARSE, "without segments"));
  assert_true(parse_fails("<nzb><file><segments><segment>a@b</segment></segments></file></nzb>",
                          NT_ENZB_PARSE, "number"));
  assert_true(parse_fails("<nzb><file><segments><segment number='0'>a@b</segment></segments></file></nzb>",
                          NT_ENZB_PARSE, "number"));
  assert_true(parse_fails("<nzb><file><segments><segment number='1'>a b@c</segment></segments></file></nzb>",
                          NT_ENZB_PARSE, "Message-ID"));
  assert_true(parse_fails("<nzb><file><segments><segment number='1'></segment></segments></file></nzb>",
                          NT_ENZB_PARSE, "Message-ID"));
  assert_true(parse_fails("<nzb><file><file></file></file></nzb>", NT_ENZB_PARSE, "inside"));
  /* billion laughs: expat's amplification limit stops it */
  char bomb[4096];
  int o = snprintf(bomb, sizeof bomb, "<?xml version='1.0'?><!DOCTYPE nzb [<!ENTITY a0 'xxxxxxxxxx'>");
  for (int i = 1; i < 10; i++)
    o += snprintf(bomb + o, sizeof bomb - (size_t)o,
                  "<!ENTITY a%d '&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;&a%d;'>", i, i - 1,
                  i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
  snprintf(bomb + o, sizeof bomb - (size_t)o,
           "]><nzb><file subject='&a9;'><segments><segment number='1'>a@b</segment>"
           "</segments></file></nzb>");
  assert_true(parse_fails(bomb, NT_ENZB_PARSE, NULL));
}

static void test_safe_name(void **state) {
  (void)state;
  char b[256];
  assert_string_equal(nt_nzb_safe_name("[1/2] - \"a b.bin\" yEnc (1/3)", "f", b, sizeof b), "a b.bin");
  assert_string_equal(nt_nzb_safe_name("\"../../etc/passwd\"", "f", b, sizeof b), "passwd");
  assert_string_equal(nt_nzb_safe_name("\"..\\\\evil.exe\"", "f", b, sizeof b), "evil.exe");
  assert_string_equal(nt_nzb_safe_name("\".hidden\"", "f", b, sizeof b), "hidden");
  assert_string_equal(nt_nzb_safe_name("\"-rf\"", "f", b, sizeof b), "rf");
  assert_string_equal(nt_nzb_safe_name("\"..\"", "file-1", b, sizeof b), "file-1");
  assert_string_equal(nt_nzb_safe_name("", "file-2", b, sizeof b), "file-2");
  assert_string_equal(nt_nzb_safe_name("\"a\x01\x1b[31mb\"", "f", b, sizeof b), "a__[31mb");
  assert_string_equal(nt_nzb_safe_name("no quotes here", "f", b, sizeof b), "no quotes here");
  char longs[600];
  memset(longs, 'x', sizeof longs - 1);
  longs[sizeof longs - 1] = 0;
  assert_int_equal(strlen(nt_nzb_safe_name(longs, "f", b, sizeof b)), 200);
  char tiny[4];
  assert_string_equal(nt_nzb_safe_name("\"abcdef\"", "f", tiny, sizeof tiny), "abc");
}

static void test_load(void **state) {
  (void)state;
  char path[] = "/tmp/nt-test-nzb.XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, nyuu_nzb, strlen(nyuu_nzb)), (ssize_t)strlen(nyuu_nzb));
  close(fd);
  nt_nzb_t *n;
  assert_int_equal(nt_nzb_load(path, &n, NULL, 0), 0);
  assert_int_equal(n->nfiles, 2);
  nt_nzb_free(n);
  unlink(path);
  assert_int_equal(nt_nzb_load(path, &n, NULL, 0), NT_ENOENT);
  assert_int_equal(nt_nzb_load("/tmp", &n, NULL, 0), NT_EINVAL);
}

/* nt_nzb_load feeds the file to expat in 8 KiB pieces: an NZB of ~40 KB
 * (elements, entities and Message-IDs cut at the piece boundaries) gives
 * what nt_nzb_parse gives for the whole text; an error past the first
 * piece is reported with its line. */
static void test_load_pieces(void **state) {
  (void)state;
  size_t cap = 64 << 10, o = 0;
  char *x = malloc(cap);
  assert_non_null(x);
  o += (size_t)sprintf(x + o, "<?xml version=\"1.0\"?>\n<nzb xmlns=\"http://www.newzbin.com/DTD/2003/nzb\">\n"
                              "<file poster=\"p\" date=\"1\" subject=\"&quot;big.bin&quot; yEnc\">"
                              "<groups><group>g</group></groups><segments>\n");
  for (int i = 1; i <= 400; i++)
    o += (size_t)sprintf(x + o, "<segment bytes=\"%d\" number=\"%d\">part%d&amp;x-%0*d@nyuu</segment>\n",
                         1000 + i, i, i, i % 37 + 1, i);
  o += (size_t)sprintf(x + o, "</segments></file>\n</nzb>\n");
  assert_true(o > 4 * 8192 && o < cap);
  char path[] = "/tmp/nt-test-nzb.XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, x, o), (ssize_t)o);
  close(fd);
  nt_nzb_t *a, *b;
  assert_int_equal(nt_nzb_load(path, &a, NULL, 0), 0);
  assert_int_equal(nt_nzb_parse(x, o, &b, NULL, 0), 0);
  assert_int_equal(a->nfiles, 1);
  assert_int_equal(a->files[0].nsegments, 400);
  assert_int_equal(b->files[0].nsegments, 400);
  for (size_t i = 0; i < 400; i++) {
    char want[96];
    snprintf(want, sizeof want, "<part%zu&x-%0*zu@nyuu>", i + 1, (int)((i + 1) % 37 + 1), i + 1);
    assert_string_equal(a->files[0].segments[i].message_id, want);
    assert_string_equal(b->files[0].segments[i].message_id, want);
    assert_int_equal(a->files[0].segments[i].number, (int)i + 1);
    assert_int_equal(a->files[0].segments[i].bytes, 1001 + i);
  }
  assert_string_equal(a->files[0].subject, b->files[0].subject);
  nt_nzb_free(a);
  nt_nzb_free(b);
  /* broken near the end (line 402 of 403): said with its line */
  char *bad = strstr(x, "number=\"399\"");
  assert_non_null(bad);
  memcpy(bad, "number<\"399", 11);
  fd = open(path, O_WRONLY | O_TRUNC);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, x, o), (ssize_t)o);
  close(fd);
  char err[200];
  assert_int_equal(nt_nzb_load(path, &a, err, sizeof err), NT_ENZB_PARSE);
  assert_non_null(strstr(err, "(line 402)"));
  unlink(path);
  free(x);
}

/* NT_EXPAT_LAZY: libexpat is in the process only while an NZB is parsed
 * (the test program is not linked with it), and when it cannot be loaded
 * both entry points say so (NT_ENOTSUP, the file and dlopen's words). */
static void test_expat_lazy(void **state) {
  (void)state;
#ifdef NT_EXPAT_LAZY
  nt_nzb_t *n;
  char err[300];
  assert_null(dlopen(NT_EXPAT_SONAME, RTLD_NOW | RTLD_NOLOAD));
  assert_int_equal(nt_nzb_parse(nyuu_nzb, strlen(nyuu_nzb), &n, err, sizeof err), 0);
  nt_nzb_free(n);
  assert_null(dlopen(NT_EXPAT_SONAME, RTLD_NOW | RTLD_NOLOAD)); /* gone again */
  assert_int_equal(nt_nzb_parse("<nzb", 4, &n, err, sizeof err), NT_ENZB_PARSE);
  assert_null(dlopen(NT_EXPAT_SONAME, RTLD_NOW | RTLD_NOLOAD)); /* after an error too */

  nt__expat_set_soname("libnettool-test-no-expat.so.1");
  assert_int_equal(nt_nzb_parse(nyuu_nzb, strlen(nyuu_nzb), &n, err, sizeof err), NT_ENOTSUP);
  assert_null(n);
  assert_non_null(strstr(err, "cannot load libnettool-test-no-expat.so.1: "));
  char path[] = "/tmp/nt-test-nzb.XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, nyuu_nzb, strlen(nyuu_nzb)), (ssize_t)strlen(nyuu_nzb));
  close(fd);
  err[0] = 0;
  assert_int_equal(nt_nzb_load(path, &n, err, sizeof err), NT_ENOTSUP);
  assert_non_null(strstr(err, "cannot load libnettool-test-no-expat.so.1: "));
  /* a library without expat's functions (libz is loaded: yEnc's CRC32) */
  nt__expat_set_soname("libz.so.1");
  assert_int_equal(nt_nzb_load(path, &n, err, sizeof err), NT_ENOTSUP);
  assert_non_null(strstr(err, "cannot load libz.so.1: it has no XML_"));
  nt__expat_set_soname(NULL);
  assert_int_equal(nt_nzb_load(path, &n, err, sizeof err), 0);
  assert_int_equal(n->nfiles, 2);
  nt_nzb_free(n);
  unlink(path);
#else
  skip(); /* libexpat is linked */
#endif
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nyuu),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_safe_name),
      cmocka_unit_test(test_load),
      cmocka_unit_test(test_load_pieces),
      cmocka_unit_test(test_expat_lazy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
