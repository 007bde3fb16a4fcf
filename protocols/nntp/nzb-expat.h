/* libexpat for the length of one NZB parse (issue 13: nntp-get's peak
 * memory). Linked, libexpat's ~170 KiB of pages are resident for the whole
 * life of every process that uses libnettool, and in nntp-get they count in
 * the peak, which comes later, while the download's buffers fill: the NZB
 * is parsed first and never again. With NT_EXPAT_LAZY (CMake; on by
 * default where dlopen() exists) the library is not linked with libexpat:
 * nt__expat_open() dlopen()s it for one parse and nt__expat_close()
 * dlclose()s it after, so its pages leave before the download starts.
 * Without it the same calls hand out the linked functions.
 *
 * Unlike OpenSSL (ossl-lazy.h: a hundred functions called from many files,
 * behind stubs), expat is called by one file (nzb.c), ten functions, from
 * one place that can report an error: a table of pointers, filled per
 * parse, is enough. dlopen() counts references, so parses in several
 * threads each hold their own. The price: mapping and relocating libexpat
 * again for each parse, ~0.5 ms (measured on a loaded 2-core machine; a
 * program that parses many NZBs can keep a dlopen() of its own to make it
 * a reference count). Private to the library. */
#ifndef NETTOOL_NZB_EXPAT_H
#define NETTOOL_NZB_EXPAT_H

#include <stddef.h>

#include <expat.h>

/* Every expat function nzb.c calls, without its XML_ prefix. */
#define NT__EXPAT_FUNCS(X) \
  X(ErrorString) \
  X(GetCurrentLineNumber) \
  X(GetErrorCode) \
  X(Parse) \
  X(ParserCreate) \
  X(ParserFree) \
  X(SetCharacterDataHandler) \
  X(SetElementHandler) \
  X(SetUserData) \
  X(StopParser)

typedef struct nt__expat {
  void *handle; /* dlopen()'s; NULL when libexpat is linked */
#define NT__EXPAT_FIELD(n) __typeof__(XML_##n) *n;
  NT__EXPAT_FUNCS(NT__EXPAT_FIELD)
#undef NT__EXPAT_FIELD
} nt__expat_t;

/* Fills x: 0, or NT_ENOTSUP with a message in err ("cannot load
 * libexpat.so.1: ..."); x holds nothing then. */
int nt__expat_open(nt__expat_t *x, char *err, size_t errlen);
/* Lets go of what nt__expat_open took (after the last parser is freed). */
void nt__expat_close(nt__expat_t *x);

/* Test hook (tests/unit/test_nzb.c): the file nt__expat_open loads, NULL
 * for the one nettool was built with. Not thread-safe; tests only. */
void nt__expat_set_soname(const char *soname);

#endif
