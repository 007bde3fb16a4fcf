/* Fuzz the NZB glue (libexpat underneath): any bytes; what parses must
 * hold the promises of nzb.h (segments sorted, unique numbers, Message-IDs
 * in brackets, safe names without '/', bytes summed), and the safe-name
 * helper on the same bytes. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nettool/nzb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nt_nzb_t *n;
  char err[160];
  /* libexpat stays loaded between runs: each parse loads it for itself and
   * lets go after (NT_EXPAT_LAZY), which would map and unmap it per input
   * (the replay took 16 s instead of 0.3); with this reference a parse only
   * counts one more. Harmless where it is linked. */
  static void *expat_hold;
  if (!expat_hold) expat_hold = dlopen("libexpat.so.1", RTLD_NOW | RTLD_LOCAL);
  if (nt_nzb_parse((const char *)data, size, &n, err, sizeof err) == 0) {
    if (!n->nfiles || !n->title || !n->password) abort();
    for (size_t i = 0; i < n->nfiles; i++) {
      const nt_nzb_file_t *f = &n->files[i];
      uint64_t sum = 0;
      if (!f->nsegments || !f->name || !*f->name || strchr(f->name, '/') ||
          f->name[0] == '.' || strlen(f->name) > 200)
        abort();
      for (size_t j = 0; j < f->nsegments; j++) {
        const char *id = f->segments[j].message_id;
        if (id[0] != '<' || id[strlen(id) - 1] != '>') abort();
        if (j && f->segments[j].number <= f->segments[j - 1].number) abort();
        sum += f->segments[j].bytes;
      }
      if (sum != f->bytes) abort();
    }
    nt_nzb_free(n);
  }
  char *s = malloc(size + 1), name[256];
  memcpy(s, data, size);
  s[size] = 0;
  nt_nzb_safe_name(s, "f", name, sizeof name);
  if (!*name || strchr(name, '/') || strlen(name) > 200) abort();
  free(s);
  return 0;
}
