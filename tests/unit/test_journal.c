/* The crash-safe journal: values round-trip, damaged files are refused, and a
 * save killed at every one of its steps (fault injection), or a process
 * SIGKILLed at random moments while saving, leaves the old or the new state,
 * never anything else. */
#include <fcntl.h>
#include <setjmp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal-int.h"

static char dir[64];
static char path[128];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/nt-journal-XXXXXX");
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/file.part.journal", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  char tmp[160];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  unlink(tmp);
  unlink(path);
  rmdir(dir);
  return 0;
}

static void write_file(const char *p, const char *data, size_t len) {
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  close(fd);
}

static size_t read_file(const char *p, char *buf, size_t size) {
  int fd = open(p, O_RDONLY);
  assert_true(fd >= 0);
  ssize_t n = read(fd, buf, size);
  assert_true(n >= 0);
  close(fd);
  return (size_t)n;
}

static void test_roundtrip(void **state) {
  (void)state;
  nt_journal_t *j, *k;
  assert_int_equal(nt_journal_new(&j), 0);
  assert_int_equal(nt_journal_set(j, "url", "http://127.0.0.1:1/files/abc"), 0);
  assert_int_equal(nt_journal_set_u64(j, "offset", UINT64_MAX), 0);
  /* every byte but NUL survives */
  char all[256];
  for (int i = 1; i < 256; i++) all[i - 1] = (char)i;
  all[255] = 0;
  assert_int_equal(nt_journal_set(j, "bytes", all), 0);
  assert_int_equal(nt_journal_set(j, "empty", ""), 0);
  assert_int_equal(nt_journal_set(j, "url", "http://x.test/2"), 0); /* replace */
  assert_int_equal(nt_journal_set(j, "gone", "x"), 0);
  assert_int_equal(nt_journal_set(j, "gone", NULL), 0);
  assert_int_equal(nt_journal_count(j), 4);
  assert_int_equal(nt_journal_save(j, path), 0);
  assert_int_equal(nt_journal_load(path, &k), 0);
  assert_int_equal(nt_journal_count(k), 4);
  assert_string_equal(nt_journal_key(k, 0), "url");
  assert_null(nt_journal_key(k, 4));
  assert_string_equal(nt_journal_get(k, "url"), "http://x.test/2");
  assert_string_equal(nt_journal_get(k, "bytes"), all);
  assert_string_equal(nt_journal_get(k, "empty"), "");
  assert_null(nt_journal_get(k, "gone"));
  uint64_t v;
  assert_int_equal(nt_journal_get_u64(k, "offset", &v), 0);
  assert_true(v == UINT64_MAX);
  assert_int_equal(nt_journal_get_u64(k, "url", &v), NT_EINVAL);
  assert_int_equal(nt_journal_get_u64(k, "empty", &v), NT_EINVAL);
  assert_int_equal(nt_journal_get_u64(k, "nope", &v), NT_ENOENT);
  /* the file is text, one line per entry */
  char buf[4096];
  size_t n = read_file(path, buf, sizeof buf - 1);
  buf[n] = 0;
  assert_non_null(strstr(buf, "nettool-journal 1\nurl=http://x.test/2\n"));
  assert_non_null(strstr(buf, "%0A"));
  nt_journal_free(k);
  /* bad keys and values */
  assert_int_equal(nt_journal_set(j, "", "x"), NT_EINVAL);
  assert_int_equal(nt_journal_set(j, "a b", "x"), NT_EINVAL);
  assert_int_equal(nt_journal_set(j, "a=b", "x"), NT_EINVAL);
  char longkey[NT_JOURNAL_MAX_KEY + 2];
  memset(longkey, 'k', sizeof longkey - 1);
  longkey[sizeof longkey - 1] = 0;
  assert_int_equal(nt_journal_set(j, longkey, "x"), NT_EINVAL);
  char *big = malloc(NT_JOURNAL_MAX_VALUE + 2);
  memset(big, 'v', NT_JOURNAL_MAX_VALUE + 1);
  big[NT_JOURNAL_MAX_VALUE + 1] = 0;
  assert_int_equal(nt_journal_set(j, "big", big), NT_EINVAL);
  big[NT_JOURNAL_MAX_VALUE] = 0;
  assert_int_equal(nt_journal_set(j, "big", big), 0);
  free(big);
  nt_journal_clear(j);
  assert_int_equal(nt_journal_count(j), 0);
  for (int i = 0; i < NT_JOURNAL_MAX_ENTRIES; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%d", i);
    assert_int_equal(nt_journal_set(j, key, "v"), 0);
  }
  assert_int_equal(nt_journal_set(j, "one-more", "v"), NT_EINVAL);
  nt_journal_free(j);
  assert_int_equal(nt_journal_remove(path), 0);
  assert_int_equal(nt_journal_remove(path), 0); /* none: still 0 */
  assert_int_equal(nt_journal_load(path, &k), NT_ENOENT);
  assert_null(k);
}

/* Any damage to a saved file is refused: every truncation, every flipped
 * byte. */
static void test_damaged(void **state) {
  (void)state;
  nt_journal_t *j, *k;
  assert_int_equal(nt_journal_new(&j), 0);
  assert_int_equal(nt_journal_set(j, "url", "http://127.0.0.1/files/1"), 0);
  assert_int_equal(nt_journal_set_u64(j, "offset", 123456), 0);
  assert_int_equal(nt_journal_save(j, path), 0);
  nt_journal_free(j);
  char good[512], bad[512];
  size_t n = read_file(path, good, sizeof good);
  for (size_t cut = 0; cut < n; cut++) {
    write_file(path, good, cut);
    assert_int_equal(nt_journal_load(path, &k), NT_EJOURNAL);
    assert_null(k);
  }
  for (size_t i = 0; i < n; i++) {
    memcpy(bad, good, n);
    bad[i] ^= 0x01;
    write_file(path, bad, n);
    int rc = nt_journal_load(path, &k);
    if (rc != NT_EJOURNAL) fail_msg("byte %zu flipped: loaded (%d)", i, rc);
  }
  /* trailing garbage after the end line */
  memcpy(bad, good, n);
  memcpy(bad + n, "x=1\n", 4);
  write_file(path, bad, n + 4);
  assert_int_equal(nt_journal_load(path, &k), NT_EJOURNAL);
  /* not a journal at all; too big */
  write_file(path, "hello\n", 6);
  assert_int_equal(nt_journal_load(path, &k), NT_EJOURNAL);
  char *huge = calloc(1, NT_JOURNAL_MAX_FILE + 10);
  memcpy(huge, "nettool-journal 1\n", 18);
  write_file(path, huge, NT_JOURNAL_MAX_FILE + 10);
  free(huge);
  assert_int_equal(nt_journal_load(path, &k), NT_EJOURNAL);
  /* the good one still loads */
  write_file(path, good, n);
  assert_int_equal(nt_journal_load(path, &k), 0);
  assert_string_equal(nt_journal_get(k, "offset"), "123456");
  nt_journal_free(k);
}

/* What a run finds after a save was killed: the old state or the new one. */
static int which_state(void) {
  nt_journal_t *k;
  int rc = nt_journal_load(path, &k);
  if (rc == NT_ENOENT) return 0; /* none: the "old" state of a first save */
  if (rc) fail_msg("load after a kill: %s", nt_strerror(rc));
  uint64_t v = 0;
  assert_int_equal(nt_journal_get_u64(k, "offset", &v), 0);
  /* the value of gen is part of every state: a mix would show */
  char want[32];
  snprintf(want, sizeof want, "gen-%llu", (unsigned long long)v);
  assert_string_equal(nt_journal_get(k, "gen"), want);
  nt_journal_free(k);
  return (int)v;
}

static void save_gen(int gen, int kill_at) {
  nt_journal_t *j;
  assert_int_equal(nt_journal_new(&j), 0);
  char g[32];
  snprintf(g, sizeof g, "gen-%d", gen);
  assert_int_equal(nt_journal_set_u64(j, "offset", (uint64_t)gen), 0);
  assert_int_equal(nt_journal_set(j, "url", "http://127.0.0.1:1080/files/0123456789abcdef"), 0);
  assert_int_equal(nt_journal_set(j, "gen", g), 0);
  /* a long value, so that a half write cuts through an entry */
  char pad[600];
  memset(pad, 'a' + gen % 26, sizeof pad - 1);
  pad[sizeof pad - 1] = 0;
  assert_int_equal(nt_journal_set(j, "pad", pad), 0);
  nt__journal_kill_at = kill_at;
  int rc = nt_journal_save(j, path);
  nt__journal_kill_at = 0;
  if (kill_at)
    assert_int_equal(rc, NT__JOURNAL_KILLED);
  else
    assert_int_equal(rc, 0);
  nt_journal_free(j);
}

/* Kill the save at each step, for a first save (no journal yet) and for a
 * replacement; after each kill the next save works and replaces the stale
 * temporary file. */
static void test_kill_at_every_step(void **state) {
  (void)state;
  for (int step = 1; step <= NT__JOURNAL_STEPS; step++) {
    nt_journal_remove(path);
    save_gen(1, step); /* first save killed */
    int s = which_state();
    /* before the rename nothing exists; after it, the new state */
    assert_int_equal(s, step <= NT__JOURNAL_STEP_RENAME ? 0 : 1);
    save_gen(2, 0); /* the next run saves normally */
    assert_int_equal(which_state(), 2);
    save_gen(3, step); /* a replacement killed */
    s = which_state();
    assert_int_equal(s, step <= NT__JOURNAL_STEP_RENAME ? 2 : 3);
    save_gen(4, 0);
    assert_int_equal(which_state(), 4);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1); /* no stale temp left */
  }
}

/* A save that fails (not killed) keeps the old journal: the directory is
 * read-only... unless we are root, where a missing directory does it. */
static void test_save_error_keeps_old(void **state) {
  (void)state;
  save_gen(5, 0);
  char bad[160];
  snprintf(bad, sizeof bad, "%s/no-such-dir/j", dir);
  nt_journal_t *j;
  assert_int_equal(nt_journal_new(&j), 0);
  assert_int_equal(nt_journal_save(j, bad), NT_ENOENT);
  nt_journal_free(j);
  assert_int_equal(which_state(), 5);
}

/* A real process saving in a loop, SIGKILLed at random moments: every time,
 * the journal holds one whole state. */
static void test_sigkill_while_saving(void **state) {
  (void)state;
  srand((unsigned)time(NULL));
  nt_journal_remove(path);
  for (int round = 0; round < 20; round++) {
    int last = which_state();
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(ready[0]);
      for (int g = last + 1; g < last + 100000; g++) {
        nt_journal_t *j;
        if (nt_journal_new(&j)) _exit(3);
        char gs[32], pad[600];
        snprintf(gs, sizeof gs, "gen-%d", g);
        memset(pad, 'a' + g % 26, sizeof pad - 1);
        pad[sizeof pad - 1] = 0;
        if (nt_journal_set_u64(j, "offset", (uint64_t)g) || nt_journal_set(j, "gen", gs) ||
            nt_journal_set(j, "pad", pad) || nt_journal_save(j, path))
          _exit(4);
        nt_journal_free(j);
        if (g == last + 1 && write(ready[1], "x", 1) != 1) _exit(5);
      }
      _exit(0);
    }
    /* the kill comes after the child's first whole save (fsync may be slow
     * on a busy machine: a kill before any save would test nothing) */
    close(ready[1]);
    struct pollfd pfd = {ready[0], POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    close(ready[0]);
    struct timespec ts = {0, (long)(rand() % 20000000)}; /* 0..20 ms more */
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFEXITED(st)) assert_int_equal(WEXITSTATUS(st), 0);
    int now = which_state();
    assert_true(now > last);
  }
  assert_true(which_state() > 0); /* the saves did run between the kills */
}

static void test_file_id(void **state) {
  (void)state;
  char f[160], a[64], b[64];
  snprintf(f, sizeof f, "%s/data", dir);
  write_file(f, "hello", 5);
  int fd = open(f, O_RDONLY);
  assert_true(nt_journal_file_id(fd, a, sizeof a) > 0);
  assert_int_equal(strncmp(a, "5:", 2), 0);
  assert_true(nt_journal_file_id(fd, b, sizeof b) > 0);
  assert_string_equal(a, b);
  close(fd);
  write_file(f, "hello!", 6); /* same inode, new size */
  fd = open(f, O_RDONLY);
  nt_journal_file_id(fd, b, sizeof b);
  assert_string_not_equal(a, b);
  close(fd);
  assert_int_equal(nt_journal_file_id(-1, b, sizeof b), 0);
  unlink(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_damaged, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kill_at_every_step, setup, teardown),
      cmocka_unit_test_setup_teardown(test_save_error_keeps_old, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sigkill_while_saving, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_id, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
