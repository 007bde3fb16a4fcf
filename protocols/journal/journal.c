/* The crash-safe journal (nettool/journal.h): a key/value list in memory,
 * written whole to a temporary file, fsynced and renamed over the old one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal-int.h"
#include "reactor-int.h"

int nt__journal_kill_at;

#define MAGIC "nettool-journal 1\n"

typedef struct entry {
  char *key;
  char *value;
} entry;

struct nt_journal_s {
  entry *e;
  size_t n, cap;
};

int nt_journal_new(nt_journal_t **out) {
  *out = nt__calloc(1, sizeof(nt_journal_t));
  return *out ? 0 : NT_ENOMEM;
}

void nt_journal_clear(nt_journal_t *j) {
  if (!j) return;
  for (size_t i = 0; i < j->n; i++) {
    nt__free(j->e[i].key);
    nt__free(j->e[i].value);
  }
  j->n = 0;
}

void nt_journal_free(nt_journal_t *j) {
  if (!j) return;
  nt_journal_clear(j);
  nt__free(j->e);
  nt__free(j);
}

static int key_ok(const char *k, size_t len) {
  if (len == 0 || len > NT_JOURNAL_MAX_KEY) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = k[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

static entry *find(const nt_journal_t *j, const char *key, size_t klen) {
  for (size_t i = 0; i < j->n; i++)
    if (strlen(j->e[i].key) == klen && memcmp(j->e[i].key, key, klen) == 0)
      return &j->e[i];
  return NULL;
}

/* Takes ownership of value (nt__malloc'd). */
static int set_owned(nt_journal_t *j, const char *key, size_t klen, char *value) {
  entry *e = find(j, key, klen);
  if (e) {
    nt__free(e->value);
    e->value = value;
    return 0;
  }
  if (j->n == NT_JOURNAL_MAX_ENTRIES) {
    nt__free(value);
    return NT_EINVAL;
  }
  if (j->n == j->cap) {
    size_t cap = j->cap ? j->cap * 2 : 8;
    entry *ne = nt__realloc(j->e, cap * sizeof(*ne));
    if (!ne) {
      nt__free(value);
      return NT_ENOMEM;
    }
    j->e = ne;
    j->cap = cap;
  }
  char *k = nt__malloc(klen + 1);
  if (!k) {
    nt__free(value);
    return NT_ENOMEM;
  }
  memcpy(k, key, klen);
  k[klen] = 0;
  j->e[j->n].key = k;
  j->e[j->n].value = value;
  j->n++;
  return 0;
}

int nt_journal_set(nt_journal_t *j, const char *key, const char *value) {
  if (!j || !key) return NT_EINVAL;
  size_t klen = strlen(key);
  if (!key_ok(key, klen)) return NT_EINVAL;
  if (!value) {
    entry *e = find(j, key, klen);
    if (e) {
      size_t i = (size_t)(e - j->e);
      nt__free(e->key);
      nt__free(e->value);
      memmove(&j->e[i], &j->e[i + 1], (j->n - i - 1) * sizeof(entry));
      j->n--;
    }
    return 0;
  }
  if (strlen(value) > NT_JOURNAL_MAX_VALUE) return NT_EINVAL;
  char *v = nt__strdup(value);
  if (!v) return NT_ENOMEM;
  return set_owned(j, key, klen, v);
}

int nt_journal_set_u64(nt_journal_t *j, const char *key, uint64_t value) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRIu64, value);
  return nt_journal_set(j, key, buf);
}

const char *nt_journal_get(const nt_journal_t *j, const char *key) {
  if (!j || !key) return NULL;
  entry *e = find(j, key, strlen(key));
  return e ? e->value : NULL;
}

int nt_journal_get_u64(const nt_journal_t *j, const char *key, uint64_t *out) {
  const char *v = nt_journal_get(j, key);
  if (!v) return NT_ENOENT;
  if (!*v) return NT_EINVAL;
  uint64_t x = 0;
  for (const char *p = v; *p; p++) {
    if (*p < '0' || *p > '9') return NT_EINVAL;
    unsigned d = (unsigned)(*p - '0');
    if (x > (UINT64_MAX - d) / 10) return NT_EINVAL;
    x = x * 10 + d;
  }
  *out = x;
  return 0;
}

size_t nt_journal_count(const nt_journal_t *j) { return j ? j->n : 0; }

const char *nt_journal_key(const nt_journal_t *j, size_t i) {
  return j && i < j->n ? j->e[i].key : NULL;
}

/* --- the file format -------------------------------------------------------- */

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t n) {
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

static int needs_escape(unsigned char c) {
  return c == '%' || c < 0x20 || c == 0x7f;
}

/* The whole file in one buffer (nt__malloc'd), or NULL. */
static char *serialize(const nt_journal_t *j, size_t *len) {
  size_t cap = sizeof(MAGIC) + 48;
  for (size_t i = 0; i < j->n; i++)
    cap += strlen(j->e[i].key) + 2 + 3 * strlen(j->e[i].value);
  char *buf = nt__malloc(cap);
  if (!buf) return NULL;
  size_t n = 0;
  memcpy(buf, MAGIC, sizeof(MAGIC) - 1);
  n += sizeof(MAGIC) - 1;
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < j->n; i++) {
    size_t kl = strlen(j->e[i].key);
    memcpy(buf + n, j->e[i].key, kl);
    n += kl;
    buf[n++] = '=';
    for (const unsigned char *p = (const unsigned char *)j->e[i].value; *p; p++) {
      if (needs_escape(*p)) {
        buf[n++] = '%';
        buf[n++] = hex[*p >> 4];
        buf[n++] = hex[*p & 15];
      } else {
        buf[n++] = (char)*p;
      }
    }
    buf[n++] = '\n';
  }
  uint32_t crc = crc32_update(0, (const unsigned char *)buf, n);
  n += (size_t)snprintf(buf + n, cap - n, "end=%zu %08" PRIx32 "\n", j->n, crc);
  *len = n;
  return buf;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Parses a whole file's bytes. NT_EJOURNAL unless complete and intact. */
static int parse(const char *buf, size_t len, nt_journal_t *j) {
  size_t ml = sizeof(MAGIC) - 1;
  if (len < ml || memcmp(buf, MAGIC, ml) != 0) return NT_EJOURNAL;
  size_t pos = ml, entries = 0;
  for (;;) {
    const char *nl = memchr(buf + pos, '\n', len - pos);
    if (!nl) return NT_EJOURNAL; /* no end line: truncated */
    const char *line = buf + pos;
    size_t ll = (size_t)(nl - line);
    const char *eq = memchr(line, '=', ll);
    if (!eq) return NT_EJOURNAL;
    size_t kl = (size_t)(eq - line);
    if (kl == 3 && memcmp(line, "end", 3) == 0) {
      /* "end=N CRC": the last line */
      if ((size_t)(nl + 1 - buf) != len) return NT_EJOURNAL;
      char tail[64];
      size_t tl = ll - 4;
      if (tl == 0 || tl >= sizeof tail) return NT_EJOURNAL;
      memcpy(tail, eq + 1, tl);
      tail[tl] = 0;
      char *end;
      errno = 0;
      unsigned long long cnt = strtoull(tail, &end, 10);
      if (errno || end == tail || *end != ' ' || cnt != entries) return NT_EJOURNAL;
      const char *h = end + 1;
      if (strlen(h) != 8) return NT_EJOURNAL;
      uint32_t want = 0;
      for (int i = 0; i < 8; i++) {
        int v = hexval(h[i]);
        if (v < 0) return NT_EJOURNAL;
        want = (want << 4) | (uint32_t)v;
      }
      if (crc32_update(0, (const unsigned char *)buf, pos) != want) return NT_EJOURNAL;
      return 0;
    }
    if (!key_ok(line, kl)) return NT_EJOURNAL;
    size_t vl = ll - kl - 1;
    if (vl > 3 * NT_JOURNAL_MAX_VALUE) return NT_EJOURNAL;
    char *v = nt__malloc(vl + 1);
    if (!v) return NT_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < vl; i++) {
      char c = eq[1 + i];
      if (c == '%') {
        int a = i + 2 < vl ? hexval(eq[2 + i]) : -1;
        int b = i + 2 < vl ? hexval(eq[3 + i]) : -1;
        if (a < 0 || b < 0 || (a == 0 && b == 0)) {
          nt__free(v);
          return NT_EJOURNAL;
        }
        v[o++] = (char)(a * 16 + b);
        i += 2;
      } else if (needs_escape((unsigned char)c)) {
        nt__free(v);
        return NT_EJOURNAL;
      } else {
        v[o++] = c;
      }
    }
    v[o] = 0;
    if (o > NT_JOURNAL_MAX_VALUE || find(j, line, kl)) {
      nt__free(v);
      return NT_EJOURNAL;
    }
    int rc = set_owned(j, line, kl, v);
    if (rc) return rc == NT_EINVAL ? NT_EJOURNAL : rc;
    entries++;
    pos += ll + 1;
  }
}

int nt_journal_load(const char *path, nt_journal_t **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char *buf = nt__malloc(NT_JOURNAL_MAX_FILE + 1);
  if (!buf) {
    close(fd);
    return NT_ENOMEM;
  }
  size_t len = 0;
  int rc = 0;
  for (;;) {
    ssize_t r = read(fd, buf + len, NT_JOURNAL_MAX_FILE + 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      rc = -errno;
      break;
    }
    if (r == 0) break;
    len += (size_t)r;
    if (len > NT_JOURNAL_MAX_FILE) {
      rc = NT_EJOURNAL;
      break;
    }
  }
  close(fd);
  nt_journal_t *j = NULL;
  if (!rc) rc = nt_journal_new(&j);
  if (!rc) rc = parse(buf, len, j);
  nt__free(buf);
  if (rc) {
    nt_journal_free(j);
    return rc;
  }
  *out = j;
  return 0;
}

/* The test hook: 1 if the save must "die" at this step. */
static int killed_at(int step) {
  if (nt__journal_kill_at != step) return 0;
  nt__journal_kill_at = 0;
  return 1;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -errno;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static char *tmp_path(const char *path) {
  size_t pl = strlen(path);
  char *t = nt__malloc(pl + 5);
  if (t) {
    memcpy(t, path, pl);
    memcpy(t + pl, ".tmp", 5);
  }
  return t;
}

/* fsync of the directory holding path, so the rename itself is durable. */
static int sync_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir;
  if (!slash) {
    dir = nt__strdup(".");
  } else {
    size_t dl = slash == path ? 1 : (size_t)(slash - path);
    dir = nt__malloc(dl + 1);
    if (dir) {
      memcpy(dir, path, dl);
      dir[dl] = 0;
    }
  }
  if (!dir) return NT_ENOMEM;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  nt__free(dir);
  if (fd < 0) return -errno;
  int rc = fsync(fd) < 0 && errno != EINVAL ? -errno : 0;
  close(fd);
  return rc;
}

int nt_journal_save(const nt_journal_t *j, const char *path) {
  if (!j || !path) return NT_EINVAL;
  size_t len;
  char *buf = serialize(j, &len);
  char *tmp = tmp_path(path);
  int rc = 0, fd = -1;
  if (!buf || !tmp) {
    rc = NT_ENOMEM;
    goto out;
  }
  if (len > NT_JOURNAL_MAX_FILE) {
    rc = NT_EINVAL;
    goto out;
  }
  if (killed_at(NT__JOURNAL_STEP_OPEN)) goto killed;
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    rc = -errno;
    goto out;
  }
  if (killed_at(NT__JOURNAL_STEP_WRITE)) {
    (void)write_all(fd, buf, len / 2);
    goto killed;
  }
  if ((rc = write_all(fd, buf, len))) goto out;
  if (killed_at(NT__JOURNAL_STEP_FSYNC)) goto killed;
  if (fsync(fd) < 0) {
    rc = -errno;
    goto out;
  }
  if (killed_at(NT__JOURNAL_STEP_CLOSE)) goto killed;
  int c = close(fd);
  fd = -1;
  if (c < 0) {
    rc = -errno;
    goto out;
  }
  if (killed_at(NT__JOURNAL_STEP_RENAME)) goto killed;
  if (rename(tmp, path) < 0) {
    rc = -errno;
    goto out;
  }
  if (killed_at(NT__JOURNAL_STEP_DIRSYNC)) goto killed;
  rc = sync_dir(path);
  goto out;
killed:
  rc = NT__JOURNAL_KILLED; /* leave everything as a dead process would */
  if (fd >= 0) close(fd);
  nt__free(buf);
  nt__free(tmp);
  return rc;
out:
  if (fd >= 0) {
    close(fd);
    unlink(tmp);
  } else if (rc && tmp) {
    unlink(tmp);
  }
  nt__free(buf);
  nt__free(tmp);
  return rc;
}

int nt_journal_remove(const char *path) {
  char *tmp = tmp_path(path);
  if (!tmp) return NT_ENOMEM;
  unlink(tmp);
  nt__free(tmp);
  if (unlink(path) < 0 && errno != ENOENT) return -errno;
  return 0;
}

size_t nt_journal_file_id(int fd, char *buf, size_t size) {
  struct stat st;
  if (fstat(fd, &st) < 0) return 0;
  uint64_t mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
  int n = snprintf(buf, size, "%" PRIu64 ":%" PRIu64 ":%" PRIu64 ":%" PRIu64,
                   (uint64_t)st.st_size, mtime_ns, (uint64_t)st.st_dev,
                   (uint64_t)st.st_ino);
  return n < 0 ? 0 : (size_t)n;
}
