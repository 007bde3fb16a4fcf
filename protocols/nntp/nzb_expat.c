/* libexpat, dlopen()ed for one parse and dlclose()d after (NT_EXPAT_LAZY),
 * or linked (see nzb-expat.h for why). */
#include <stdio.h>

#include "nettool/errno.h"
#include "nzb-expat.h"

#ifdef NT_EXPAT_LAZY
#include <dlfcn.h>

#ifndef NT_EXPAT_SONAME
#define NT_EXPAT_SONAME "libexpat.so.1"
#endif

static const char *soname_override;

void nt__expat_set_soname(const char *soname) { soname_override = soname; }

int nt__expat_open(nt__expat_t *x, char *err, size_t errlen) {
  const char *so = soname_override ? soname_override : NT_EXPAT_SONAME;
  /* RTLD_LOCAL: expat's names do not join the program's namespace (a
   * program with its own expat is not affected; the same file loaded by
   * it is shared, and only counted once more) */
  void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    if (err && errlen) snprintf(err, errlen, "cannot load %s: %s", so, e ? e : "?");
    return NT_ENOTSUP;
  }
  const char *missing = NULL;
#define NT__EXPAT_LOAD(n) \
  if (!missing && !(x->n = (__typeof__(x->n))dlsym(h, "XML_" #n))) missing = "XML_" #n;
  NT__EXPAT_FUNCS(NT__EXPAT_LOAD)
#undef NT__EXPAT_LOAD
  if (missing) { /* an expat older than the one nettool was built with */
    if (err && errlen) snprintf(err, errlen, "cannot load %s: it has no %s", so, missing);
    dlclose(h);
    return NT_ENOTSUP;
  }
  x->handle = h;
  return 0;
}

void nt__expat_close(nt__expat_t *x) {
  if (x->handle) dlclose(x->handle);
  x->handle = NULL;
}

#else /* linked */

void nt__expat_set_soname(const char *soname) { (void)soname; }

int nt__expat_open(nt__expat_t *x, char *err, size_t errlen) {
  (void)err, (void)errlen;
  x->handle = NULL;
#define NT__EXPAT_LINK(n) x->n = XML_##n;
  NT__EXPAT_FUNCS(NT__EXPAT_LINK)
#undef NT__EXPAT_LINK
  return 0;
}

void nt__expat_close(nt__expat_t *x) { (void)x; }

#endif
