/* The state of a download (PATH.part.state), kept in a journal
 * (nettool/journal.h: written whole to a temporary file, synced, renamed,
 * so a kill at any moment leaves the old state or the new): what the bytes
 * in the part file are, so a later run can ask for the rest with If-Range.
 * Keys: kind=http-download, url, etag, last-modified, total. */
#include <stdio.h>
#include <string.h>

#include "download-int.h"
#include "nettool/journal.h"
#include "reactor-int.h"

#define KIND "http-download"

int nt__dl_state_save(const char *state_path, const nt__dl_state_t *s) {
  nt_journal_t *j;
  int rc = nt_journal_new(&j);
  if (rc) return rc;
  rc = nt_journal_set(j, "kind", KIND);
  if (!rc) rc = nt_journal_set(j, "url", s->url);
  if (!rc && s->etag[0]) rc = nt_journal_set(j, "etag", s->etag);
  if (!rc && s->last_modified[0])
    rc = nt_journal_set(j, "last-modified", s->last_modified);
  if (!rc && s->total >= 0)
    rc = nt_journal_set_u64(j, "total", (uint64_t)s->total);
  if (!rc) rc = nt_journal_save(j, state_path);
  nt_journal_free(j);
  return rc;
}

static void take(char *dst, size_t size, const char *v) {
  if (!v || strlen(v) >= size) v = ""; /* too long: treated as absent */
  snprintf(dst, size, "%s", v);
}

int nt__dl_state_load(const char *state_path, nt__dl_state_t *s) {
  memset(s, 0, sizeof *s);
  s->total = -1;
  nt_journal_t *j;
  int rc = nt_journal_load(state_path, &j);
  if (rc) return rc;
  const char *kind = nt_journal_get(j, "kind");
  if (!kind || strcmp(kind, KIND) || !nt_journal_get(j, "url")) {
    nt_journal_free(j);
    return NT_EPROTO; /* another transfer's journal */
  }
  take(s->url, sizeof s->url, nt_journal_get(j, "url"));
  take(s->etag, sizeof s->etag, nt_journal_get(j, "etag"));
  take(s->last_modified, sizeof s->last_modified,
       nt_journal_get(j, "last-modified"));
  uint64_t t;
  if (nt_journal_get_u64(j, "total", &t) == 0 && t <= INT64_MAX)
    s->total = (int64_t)t;
  nt_journal_free(j);
  return 0;
}

void nt__dl_state_remove(const char *state_path) {
  (void)nt_journal_remove(state_path);
}
