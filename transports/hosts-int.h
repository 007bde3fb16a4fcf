/* Private: the cached hosts file used by the resolver (hosts.c). */
#ifndef NETTOOL_HOSTS_INT_H
#define NETTOOL_HOSTS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "nettool/resolve.h"

typedef struct nt__hosts nt__hosts_t;

nt__hosts_t *nt__hosts_new(const char *path);
void nt__hosts_free(nt__hosts_t *h);

/* Up to max addresses for name (case-insensitive, trailing dot ignored) of
 * family (AF_UNSPEC: any), in file order, with port set. now is the reactor's
 * time, used to re-check the file at most once a second. */
size_t nt__hosts_lookup(nt__hosts_t *h, uint64_t now, const char *name,
                        int family, int port, nt_address_t *out, size_t max);

#endif
