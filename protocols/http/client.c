/* The client: options, the TLS context (made on the first https request),
 * the idle pool's head and the running requests; freeing cancels those and
 * closes the idle connections. */
#include <string.h>

#include "http-int.h"
#include "reactor-int.h"

#define DEFAULT_MAX_IDLE 4
#define DEFAULT_IDLE_KEEP_MS 30000

int nt_http_client_new_sized(size_t opts_size, nt_reactor_t *r,
                             const nt_http_client_options_t *o,
                             nt_http_client_t **out) {
  nt_http_client_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, o, opts_size)) return NT_ENOTSUP;
  if (o) o = &opts_copy_;
  nt_http_client_t *c = nt__calloc(1, sizeof *c);
  if (!c) return NT_ENOMEM;
  c->reactor = r;
  c->max_idle = o && o->max_idle ? o->max_idle : DEFAULT_MAX_IDLE;
  c->idle_keep_ms =
      o && o->idle_keep_ms ? o->idle_keep_ms : DEFAULT_IDLE_KEEP_MS;
  c->insecure = o ? o->insecure : 0;
  int oom = 0;
  if (o && o->ca_file && !(c->ca_file = nt__strdup(o->ca_file))) oom = 1;
  if (o && o->user_agent && !(c->user_agent = nt__strdup(o->user_agent)))
    oom = 1;
  if (o && o->proxy && o->proxy->type != NT_PROXY_NONE) {
    if ((c->proxy = nt__malloc(sizeof *c->proxy)))
      *c->proxy = *o->proxy;
    else
      oom = 1;
  }
  if (o && o->no_proxy && !(c->no_proxy = nt__strdup(o->no_proxy))) oom = 1;
  c->proxy_from_env = o ? o->proxy_from_env : 0;
  if (oom) {
    nt__free(c->proxy);
    nt__free(c->no_proxy);
    nt__free(c->ca_file);
    nt__free(c->user_agent);
    nt__free(c);
    return NT_ENOMEM;
  }
  *out = c;
  return 0;
}

void nt_http_client_free(nt_http_client_t *c) {
  if (!c) return;
  nt__http_client_cancel_all(c);
  nt__http_pool_drain(c);
  nt_tls_ctx_free(c->tls);
  nt__free(c->ca_file);
  nt__free(c->user_agent);
  if (c->proxy) explicit_bzero(c->proxy, sizeof *c->proxy);
  nt__free(c->proxy);
  nt__free(c->no_proxy);
  nt__free(c);
}

void nt__http_client_set_connect_hook(nt_http_client_t *c,
                                      nt__http_connect_fn fn, void *arg) {
  c->connect_hook = fn;
  c->connect_hook_arg = arg;
}
