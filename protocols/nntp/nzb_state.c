/* The downloader's state file, one per output file, next to NAME.part: the
 * segments already written, so a killed run resumes. Replaced whole each
 * time (temp file + rename), so a kill leaves the old or the new one,
 * never half of one. Data is written (pwrite) before a segment is listed,
 * so the list never claims bytes the .part file lacks. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nzb-int.h"
#include "reactor-int.h"

int nt__nzb_state_load(const char *path, const nt_nzb_file_t *f,
                       nt__nzb_seg_t *segs, uint64_t *size, int *has_crc,
                       uint32_t *crc) {
  FILE *fp = fopen(path, "re");
  if (!fp) return 0;
  char line[4096 + 128];
  int ok = 0;
  size_t nseg = 0;
  uint64_t sz = 0;
  char crcs[16];
  if (!fgets(line, sizeof line, fp) || strcmp(line, "nettool-nzb-state 1\n")) goto out;
  if (!fgets(line, sizeof line, fp) ||
      sscanf(line, "file %zu %" SCNu64 " %15s", &nseg, &sz, crcs) != 3 ||
      nseg != f->nsegments)
    goto out;
  /* collected first, applied only when the whole file reads well */
  nt__nzb_seg_t *tmp = nt__calloc(f->nsegments, sizeof *tmp);
  if (!tmp) goto out;
  ok = 1;
  while (fgets(line, sizeof line, fp)) {
    size_t idx;
    uint64_t b, l;
    unsigned c;
    char id[4096];
    if (sscanf(line, "seg %zu %" SCNu64 " %" SCNu64 " %8x %4095s", &idx, &b, &l, &c, id) != 5 ||
        idx >= f->nsegments || strcmp(id, f->segments[idx].message_id) ||
        (sz && (b > sz || l > sz - b))) {
      ok = 0;
      break;
    }
    tmp[idx].status = NT_NZB_SEG_RESUMED;
    tmp[idx].begin = b;
    tmp[idx].len = l;
    tmp[idx].crc = c;
  }
  if (ok) {
    for (size_t i = 0; i < f->nsegments; i++)
      if (tmp[i].status == NT_NZB_SEG_RESUMED) segs[i] = tmp[i];
    *size = sz;
    *has_crc = strcmp(crcs, "-") != 0;
    *crc = *has_crc ? (uint32_t)strtoul(crcs, NULL, 16) : 0;
  }
  nt__free(tmp);
out:
  fclose(fp);
  return ok;
}

int nt__nzb_state_save(const char *path, const nt_nzb_file_t *f,
                       const nt__nzb_seg_t *segs, uint64_t size, int has_crc,
                       uint32_t crc) {
  size_t pl = strlen(path);
  char *tmp = nt__malloc(pl + 5);
  if (!tmp) return NT_ENOMEM;
  memcpy(tmp, path, pl);
  memcpy(tmp + pl, ".tmp", 5);
  FILE *fp = fopen(tmp, "we");
  if (!fp) {
    int e = -errno;
    nt__free(tmp);
    return e;
  }
  fprintf(fp, "nettool-nzb-state 1\n");
  if (has_crc) fprintf(fp, "file %zu %" PRIu64 " %08x\n", f->nsegments, size, crc);
  else fprintf(fp, "file %zu %" PRIu64 " -\n", f->nsegments, size);
  for (size_t i = 0; i < f->nsegments; i++)
    if (segs[i].status == NT_NZB_SEG_OK || segs[i].status == NT_NZB_SEG_RESUMED)
      fprintf(fp, "seg %zu %" PRIu64 " %" PRIu64 " %08x %s\n", i, segs[i].begin,
              segs[i].len, segs[i].crc, f->segments[i].message_id);
  int rc = 0;
  if (fflush(fp) || ferror(fp)) rc = -errno ? -errno : NT_EIO;
  if (fclose(fp) && !rc) rc = -errno;
  if (!rc && rename(tmp, path)) rc = -errno;
  if (rc) unlink(tmp);
  nt__free(tmp);
  return rc;
}
