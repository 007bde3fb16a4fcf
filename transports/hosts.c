/* The hosts file (/etc/hosts), parsed once and kept: c-ares 1.18 reads and
 * parses the whole file again for every lookup, which cost more than the DNS
 * query itself in the benchmark. Reloaded when its mtime or size changes,
 * checked at most once a second (reactor time). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "hosts-int.h"
#include "nettool/transport.h"
#include "reactor-int.h"

#define MAX_ENTRIES 4096
#define CHECK_EVERY_MS 1000

typedef struct {
  char *name;
  struct sockaddr_storage addr;
  socklen_t len;
} entry_t;

struct nt__hosts {
  char *path;
  entry_t *e;
  size_t n;
  struct timespec mtime;
  off_t size;
  int loaded;
  uint64_t checked_at;
};

static void clear(nt__hosts_t *h) {
  for (size_t i = 0; i < h->n; i++) nt__free(h->e[i].name);
  nt__free(h->e);
  h->e = NULL;
  h->n = 0;
}

static void load(nt__hosts_t *h, const struct stat *st) {
  clear(h);
  h->loaded = 1;
  h->mtime = st ? st->st_mtim : (struct timespec){0, 0};
  h->size = st ? st->st_size : -1;
  FILE *f = st ? fopen(h->path, "re") : NULL;
  if (!f) return;
  size_t cap = 0;
  char line[1024];
  while (fgets(line, sizeof line, f) && h->n < MAX_ENTRIES) {
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *save, *tok = strtok_r(line, " \t\r\n", &save);
    if (!tok) continue;
    struct sockaddr_storage ss;
    socklen_t len;
    if (nt_addr_parse(tok, 0, &ss, &len)) continue;
    while ((tok = strtok_r(NULL, " \t\r\n", &save)) && h->n < MAX_ENTRIES) {
      if (h->n == cap) {
        size_t nc = cap ? cap * 2 : 32;
        entry_t *ne = nt__realloc(h->e, nc * sizeof *ne);
        if (!ne) goto out;
        h->e = ne;
        cap = nc;
      }
      entry_t *e = &h->e[h->n];
      e->name = nt__strdup(tok);
      if (!e->name) goto out;
      e->addr = ss;
      e->len = len;
      h->n++;
    }
  }
out:
  fclose(f);
}

nt__hosts_t *nt__hosts_new(const char *path) {
  nt__hosts_t *h = nt__calloc(1, sizeof *h);
  if (!h) return NULL;
  h->path = nt__strdup(path);
  if (!h->path) {
    nt__free(h);
    return NULL;
  }
  return h;
}

void nt__hosts_free(nt__hosts_t *h) {
  if (!h) return;
  clear(h);
  nt__free(h->path);
  nt__free(h);
}

static void refresh(nt__hosts_t *h, uint64_t now) {
  if (h->loaded && now - h->checked_at < CHECK_EVERY_MS) return;
  h->checked_at = now;
  struct stat st;
  int ok = stat(h->path, &st) == 0;
  if (h->loaded && ok && st.st_size == h->size &&
      st.st_mtim.tv_sec == h->mtime.tv_sec && st.st_mtim.tv_nsec == h->mtime.tv_nsec)
    return;
  if (h->loaded && !ok && h->size == -1) return;
  load(h, ok ? &st : NULL);
}

size_t nt__hosts_lookup(nt__hosts_t *h, uint64_t now, const char *name,
                        int family, int port, nt_address_t *out, size_t max) {
  refresh(h, now);
  size_t nlen = strlen(name), k = 0;
  if (nlen && name[nlen - 1] == '.') nlen--;
  for (size_t i = 0; i < h->n && k < max; i++) {
    const entry_t *e = &h->e[i];
    if (strlen(e->name) != nlen || strncasecmp(e->name, name, nlen)) continue;
    if (family != AF_UNSPEC && e->addr.ss_family != family) continue;
    int dup = 0;
    for (size_t j = 0; j < k && !dup; j++)
      dup = out[j].len == e->len && !memcmp(&out[j].addr, &e->addr, e->len);
    if (dup) continue;
    out[k].addr = e->addr;
    out[k].len = e->len;
    if (e->addr.ss_family == AF_INET)
      ((struct sockaddr_in *)&out[k].addr)->sin_port = htons((uint16_t)port);
    else
      ((struct sockaddr_in6 *)&out[k].addr)->sin6_port = htons((uint16_t)port);
    k++;
  }
  return k;
}
