/* Private: the parsed endpoint, shared by endpoint_parse.c (the string) and
 * endpoint.c (listening and connecting). */
#ifndef NETTOOL_ENDPOINT_INT_H
#define NETTOOL_ENDPOINT_INT_H

#include "nettool/endpoint.h"
#include "nettool/tls.h"

struct nt_endpoint_s {
  nt_endpoint_kind_t kind;
  int role;
  char *host;   /* client host / server interface (NULL: all) */
  int port;     /* -1 unix */
  char *path;   /* unix */
  char *cacert; /* tls client */
  char *cert, *key; /* tls server */
  unsigned mode;    /* unix server; 0: not given */
  int backlog;      /* 0: default */
  uint64_t timeout_ms;
  /* tls client: the wrapper the connect uses, and the context made for it
   * (endpoint.c). */
  nt_tls_factory_t tls_factory;
  nt_tls_ctx_t *tls_ctx;
};

#endif
