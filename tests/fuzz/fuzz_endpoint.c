/* Fuzz the endpoint parser: the input is the string (NUL-free prefix), read
 * for both roles. Accepted strings must print a canonical form that parses
 * back to the same form; refused ones must leave a one-line message and no
 * endpoint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nettool/endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char spec[1024];
  if (size >= sizeof spec) size = sizeof spec - 1;
  memcpy(spec, data, size);
  spec[size] = 0;
  for (int role = NT_ENDPOINT_SERVER; role <= NT_ENDPOINT_CLIENT; role++) {
    nt_endpoint_t *ep = NULL;
    char err[200];
    int rc = nt_endpoint_parse(spec, role, &ep, err, sizeof err);
    if (rc) {
      if (ep || !err[0] || strchr(err, '\n')) abort();
      continue;
    }
    char a[4096], b[4096];
    nt_endpoint_format(ep, a, sizeof a);
    nt_endpoint_t *again = NULL;
    if (nt_endpoint_parse(a, role, &again, err, sizeof err)) abort();
    nt_endpoint_format(again, b, sizeof b);
    if (strcmp(a, b)) abort();
    if (nt_endpoint_kind(again) != nt_endpoint_kind(ep) ||
        nt_endpoint_port(again) != nt_endpoint_port(ep))
      abort();
    nt_endpoint_free(again);
    nt_endpoint_free(ep);
  }
  return 0;
}
