/* OpenSSL loaded on first use (see ossl-lazy.h): the pointers the stubs in
 * ossl_lazy_x86_64.S jump through start at each stub's slow path, which
 * calls nt__ossl_resolve; that loads libssl once (pthread_once: stubs may
 * be called from several threads) and points every stub at its function.
 * dlopen(RTLD_LOCAL): OpenSSL's symbols do not join the program's
 * namespace, so a program with its own OpenSSL is not affected. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/opensslv.h>

#include "nettool/errno.h"
#include "ossl-lazy.h"

#define NT__STR2(x) #x
#define NT__STR(x) NT__STR2(x)
/* The soname of the OpenSSL nettool was built with ("libssl.so.3"). */
#define SSL_SONAME "libssl.so." NT__STR(OPENSSL_SHLIB_VERSION)

/* The stubs' pointers (defined in the .S file). */
#define NT__OSSL_PTR(n) extern void *nt__ossl_p_##n __attribute__((visibility("hidden")));
NT__OSSL_SYMS(NT__OSSL_PTR)
#undef NT__OSSL_PTR

static const struct {
  const char *name;
  void **ptr;
} syms[] = {
#define NT__OSSL_ENTRY(n) {#n, &nt__ossl_p_##n},
    NT__OSSL_SYMS(NT__OSSL_ENTRY)
#undef NT__OSSL_ENTRY
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_status = NT_ENOTSUP;
static char load_error[512];

static void load(void) {
  void *h = dlopen(SSL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    snprintf(load_error, sizeof load_error, "cannot load %s: %s", SSL_SONAME,
             e ? e : "?");
    return;
  }
  /* every name first: all or nothing, so no stub is left half resolved */
  void *fn[sizeof syms / sizeof syms[0]];
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    fn[i] = dlsym(h, syms[i].name);
    if (!fn[i]) {
      snprintf(load_error, sizeof load_error, "%s has no %s", SSL_SONAME,
               syms[i].name);
      return; /* the handle stays open: harmless, and dlclose could race */
    }
  }
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
    __atomic_store_n(syms[i].ptr, fn[i], __ATOMIC_RELEASE);
  load_status = 0;
}

int nt__ossl_load(void) {
  pthread_once(&once, load);
  return load_status;
}

const char *nt__ossl_error(void) { return load_error; }

/* The stubs' slow path: *ptr is the function once this returns. A stub has
 * no way to return an error of its own, so a missing OpenSSL ends the
 * process with one clear line (entry points check nt__ossl_load first). */
__attribute__((visibility("hidden"))) void nt__ossl_resolve(void) {
  if (nt__ossl_load() == 0) return;
  char msg[600];
  int n = snprintf(msg, sizeof msg, "nettool: TLS/digests unavailable: %s\n", load_error);
  if (n > 0) {
    ssize_t w = write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
    (void)w;
  }
  abort();
}
