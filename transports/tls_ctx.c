/* The TLS context (nt_tls_ctx_t) with OpenSSL 3.0: creation, configuration
 * (versions, ciphers, certificate and key, trusted CAs, verification,
 * session caching, ALPN), what a client connection verifies, the thread's
 * last error, and the reasons given for failures. The connection glue is in
 * tls_openssl.c, the client session cache in tls_cache.c (tls-int.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "reactor-int.h"
#include "tls-int.h"

/* --- the thread's last error --------------------------------------------- */

static __thread char tl_last_error[256];

const char *nt_tls_last_error(void) { return tl_last_error; }

void nt__tls_set_last_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tl_last_error, sizeof tl_last_error, fmt, ap);
  va_end(ap);
}

const char *nt__tls_ssl_reason(unsigned long *code_out, const char *fallback) {
  unsigned long first = ERR_get_error();
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
  }
  if (code_out) *code_out = first;
  if (!first) return fallback;
  const char *r = ERR_reason_error_string(first);
  return r ? r : fallback;
}

/* --- references ------------------------------------------------------------ */

nt_tls_ctx_t *nt_tls_ctx_ref(nt_tls_ctx_t *ctx) {
  if (ctx) atomic_fetch_add(&ctx->refs, 1);
  return ctx;
}

void nt_tls_ctx_free(nt_tls_ctx_t *ctx) {
  if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1) return;
  nt__tls_cache_destroy(&ctx->sessions);
  SSL_CTX_free(ctx->ssl_ctx);
  nt__free(ctx->alpn);
  nt__free(ctx);
}

/* --- configuration ------------------------------------------------------------ */

/* Server: the first of our protocols that the client offers. */
static int alpn_select_cb(SSL *ssl, const unsigned char **out,
                          unsigned char *outlen, const unsigned char *in,
                          unsigned int inlen, void *arg) {
  nt_tls_ctx_t *ctx = arg;
  (void)ssl;
  for (size_t i = 0; i < ctx->alpn_len; i += 1u + ctx->alpn[i]) {
    const unsigned char *mine = ctx->alpn + i + 1;
    unsigned mlen = ctx->alpn[i];
    for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
      if (j + 1u + in[j] > inlen) break; /* malformed list: OpenSSL checks too */
      if (in[j] == mlen && memcmp(in + j + 1, mine, mlen) == 0) {
        *out = in + j + 1;
        *outlen = in[j];
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  /* No common protocol: go on without ALPN rather than fail, so clients
   * that offer something unexpected still get the service. */
  return SSL_TLSEXT_ERR_NOACK;
}

static int file_check(const char *what, const char *path) {
  if (access(path, R_OK) == 0) return 0;
  int e = -errno;
  nt__tls_set_last_error("cannot read %s '%s': %s", what, path,
                         strerror(errno));
  return e;
}

/* Versions, ciphers, options and modes. */
static int configure_protocol(SSL_CTX *sc, const nt_tls_ctx_options_t *o) {
  int minv = o->min_version ? o->min_version : NT_TLS_1_2;
  if ((minv != NT_TLS_1_2 && minv != NT_TLS_1_3) ||
      (o->max_version && o->max_version != NT_TLS_1_2 &&
       o->max_version != NT_TLS_1_3) ||
      (o->max_version && o->max_version < minv)) {
    nt__tls_set_last_error("bad TLS version range (TLS 1.2 is the minimum)");
    return NT_EINVAL;
  }
  if (!SSL_CTX_set_min_proto_version(sc, minv) ||
      !SSL_CTX_set_max_proto_version(sc, o->max_version)) {
    nt__tls_set_last_error("cannot set the TLS version range: %s",
                           nt__tls_ssl_reason(NULL, "unknown error"));
    return NT_ETLS_CONFIG;
  }
  /* Renegotiation is refused both ways (it has a history of attacks and
   * nothing we speak needs it); compression is off (CRIME). */
  SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                              (o->server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  static const char default_suites[] =
      "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
      "TLS_CHACHA20_POLY1305_SHA256";
  if (!SSL_CTX_set_ciphersuites(sc, o->ciphersuites ? o->ciphersuites
                                                    : default_suites)) {
    nt__tls_set_last_error("bad TLS 1.3 cipher suites '%s'",
                           o->ciphersuites ? o->ciphersuites : default_suites);
    ERR_clear_error();
    return NT_EINVAL;
  }
  if (o->ciphers && !SSL_CTX_set_cipher_list(sc, o->ciphers)) {
    nt__tls_set_last_error("bad TLS 1.2 cipher list '%s'", o->ciphers);
    ERR_clear_error();
    return NT_EINVAL;
  }
  /* Idle connections give their ~17 KiB read and write buffers back; our
   * BIO never makes OpenSSL retry a write, but allow a moved buffer anyway. */
  SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS |
                           SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return 0;
}

/* Our own certificate chain and key (required for a server). */
static int configure_identity(SSL_CTX *sc, const nt_tls_ctx_options_t *o) {
  int rc;
  if (!o->cert_file) {
    if (o->key_file) {
      nt__tls_set_last_error("a key file needs a certificate file");
      return NT_EINVAL;
    }
    if (o->server) {
      nt__tls_set_last_error("a TLS server needs a certificate and a key");
      return NT_EINVAL;
    }
    return 0;
  }
  if ((rc = file_check("certificate file", o->cert_file))) return rc;
  if (SSL_CTX_use_certificate_chain_file(sc, o->cert_file) != 1) {
    nt__tls_set_last_error("cannot load certificate '%s': %s", o->cert_file,
                           nt__tls_ssl_reason(NULL, "not a PEM certificate"));
    return NT_ETLS_CONFIG;
  }
  const char *key = o->key_file ? o->key_file : o->cert_file;
  if ((rc = file_check("key file", key))) return rc;
  if (SSL_CTX_use_PrivateKey_file(sc, key, SSL_FILETYPE_PEM) != 1) {
    unsigned long code;
    const char *why = nt__tls_ssl_reason(&code, "not a PEM private key");
    if (ERR_GET_LIB(code) == ERR_LIB_X509 &&
        ERR_GET_REASON(code) == X509_R_KEY_VALUES_MISMATCH)
      nt__tls_set_last_error("the private key '%s' does not match the "
                             "certificate '%s'", key, o->cert_file);
    else
      nt__tls_set_last_error("cannot load private key '%s': %s", key, why);
    return NT_ETLS_CONFIG;
  }
  if (SSL_CTX_check_private_key(sc) != 1) {
    ERR_clear_error();
    nt__tls_set_last_error("the private key '%s' does not match the "
                           "certificate '%s'", key, o->cert_file);
    return NT_ETLS_CONFIG;
  }
  return 0;
}

/* The CAs we trust: the caller's, or the system's. */
static int configure_trust(SSL_CTX *sc, const nt_tls_ctx_options_t *o) {
  int rc;
  if (!o->ca_file && !o->ca_dir) {
    /* Not fatal: verification will then fail with "unknown CA", which says
     * what is wrong better than refusing to start. */
    if (SSL_CTX_set_default_verify_paths(sc) != 1) ERR_clear_error();
    return 0;
  }
  if (o->ca_file) {
    if ((rc = file_check("CA file", o->ca_file))) return rc;
    if (SSL_CTX_load_verify_file(sc, o->ca_file) != 1) {
      nt__tls_set_last_error("cannot load CA file '%s': %s", o->ca_file,
                             nt__tls_ssl_reason(NULL,
                                                "no PEM certificate in it"));
      return NT_ETLS_CONFIG;
    }
  }
  if (o->ca_dir) {
    if ((rc = file_check("CA directory", o->ca_dir))) return rc;
    if (SSL_CTX_load_verify_dir(sc, o->ca_dir) != 1) {
      nt__tls_set_last_error("cannot use CA directory '%s': %s", o->ca_dir,
                             nt__tls_ssl_reason(NULL, "unusable"));
      return NT_ETLS_CONFIG;
    }
  }
  return 0;
}

/* Server: client certificates, session IDs and tickets. */
static void configure_server(nt_tls_ctx_t *ctx,
                             const nt_tls_ctx_options_t *o) {
  SSL_CTX *sc = ctx->ssl_ctx;
  if (o->verify_client) {
    SSL_CTX_set_verify(sc, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       NULL);
    if (o->ca_file) {
      STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
      if (names) SSL_CTX_set_client_CA_list(sc, names);
      ERR_clear_error();
    }
  } else {
    SSL_CTX_set_verify(sc, SSL_VERIFY_NONE, NULL);
  }
  static const unsigned char sid_ctx[] = "nettool";
  SSL_CTX_set_session_id_context(sc, sid_ctx, sizeof sid_ctx - 1);
  if (ctx->cache) {
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_SERVER);
    /* One TLS 1.3 ticket per handshake: a client keeps only the latest. */
    SSL_CTX_set_num_tickets(sc, 1);
  } else {
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(sc, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(sc, 0);
  }
}

/* Client: server verification and the session cache (tls_cache.c). */
static void configure_client(nt_tls_ctx_t *ctx,
                             const nt_tls_ctx_options_t *o) {
  SSL_CTX *sc = ctx->ssl_ctx;
  SSL_CTX_set_verify(sc, o->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                     NULL);
  if (ctx->cache) {
    /* OpenSSL's client cache is not looked up by itself; we keep our own
     * per server name, filled as sessions (and TLS 1.3 tickets) arrive. */
    SSL_CTX_set_session_cache_mode(
        sc, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(sc, nt__tls_cache_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
  }
}

/* ALPN: our list in wire format; a server picks, a client offers. */
static int configure_alpn(nt_tls_ctx_t *ctx, const nt_tls_ctx_options_t *o) {
  if (!o->alpn || !o->alpn[0]) return 0;
  size_t total = 0;
  for (const char *const *a = o->alpn; *a; a++) {
    size_t l = strlen(*a);
    if (l == 0 || l > 255) {
      nt__tls_set_last_error("bad ALPN protocol name '%s'", *a);
      return NT_EINVAL;
    }
    total += 1 + l;
  }
  ctx->alpn = nt__malloc(total);
  if (!ctx->alpn) return NT_ENOMEM;
  size_t pos = 0;
  for (const char *const *a = o->alpn; *a; a++) {
    size_t l = strlen(*a);
    ctx->alpn[pos++] = (unsigned char)l;
    memcpy(ctx->alpn + pos, *a, l);
    pos += l;
  }
  ctx->alpn_len = total;
  if (o->server) {
    SSL_CTX_set_alpn_select_cb(ctx->ssl_ctx, alpn_select_cb, ctx);
  } else if (SSL_CTX_set_alpn_protos(ctx->ssl_ctx, ctx->alpn,
                                     (unsigned)total) != 0) {
    /* (this one returns 0 on success) */
    nt__tls_set_last_error("cannot set ALPN: %s",
                           nt__tls_ssl_reason(NULL, "unknown"));
    return NT_ETLS_CONFIG;
  }
  return 0;
}

static int ctx_configure(nt_tls_ctx_t *ctx, const nt_tls_ctx_options_t *o) {
  int rc;
  if ((rc = configure_protocol(ctx->ssl_ctx, o))) return rc;
  if ((rc = configure_identity(ctx->ssl_ctx, o))) return rc;
  if ((rc = configure_trust(ctx->ssl_ctx, o))) return rc;
  if (o->server)
    configure_server(ctx, o);
  else
    configure_client(ctx, o);
  return configure_alpn(ctx, o);
}

int nt_tls_ctx_new_sized(size_t opts_size, const nt_tls_ctx_options_t *o,
                         nt_tls_ctx_t **out) {
  nt_tls_ctx_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, o, opts_size)) return NT_ENOTSUP;
  if (o) o = &opts_copy_;
  tl_last_error[0] = 0;
  if (!o || !out) {
    nt__tls_set_last_error("no options");
    return NT_EINVAL;
  }
#ifdef NETTOOL_OSSL_LAZY_H /* OpenSSL is loaded on first use */
  if (nt__ossl_load()) {
    nt__tls_set_last_error("%s", nt__ossl_error());
    return NT_ENOTSUP;
  }
#endif
  nt_tls_ctx_t *ctx = nt__calloc(1, sizeof *ctx);
  if (!ctx) {
    nt__tls_set_last_error("out of memory");
    return NT_ENOMEM;
  }
  ERR_clear_error();
  ctx->ssl_ctx =
      SSL_CTX_new(o->server ? TLS_server_method() : TLS_client_method());
  if (!ctx->ssl_ctx) {
    nt__tls_set_last_error("cannot create an OpenSSL context: %s",
                           nt__tls_ssl_reason(NULL, "out of memory"));
    nt__free(ctx);
    return NT_ENOMEM;
  }
  /* The cache callback finds the context from the SSL_CTX. */
  SSL_CTX_set_app_data(ctx->ssl_ctx, ctx);
  atomic_init(&ctx->refs, 1);
  nt__tls_cache_init(&ctx->sessions);
  ctx->server = o->server != 0;
  ctx->insecure = !o->server && o->insecure;
  ctx->cache = !o->no_session_cache;
  ctx->hs_timeout_ms = o->handshake_timeout_ms
                           ? o->handshake_timeout_ms
                           : NT_TLS_DEFAULT_HANDSHAKE_TIMEOUT_MS;
  int rc = ctx_configure(ctx, o);
  if (rc) {
    ERR_clear_error();
    nt_tls_ctx_free(ctx);
    return rc;
  }
  *out = ctx;
  return 0;
}

/* --- what a client connection verifies ------------------------------------------ */

int nt__tls_set_peer_name(const nt_tls_ctx_t *ctx, SSL *ssl, const char *name,
                          char *reason, size_t cap) {
  unsigned char bin[sizeof(struct in6_addr)];
  int is_ip = inet_pton(AF_INET, name, bin) == 1 ||
              inet_pton(AF_INET6, name, bin) == 1;
  /* SNI carries DNS names only (RFC 6066, 3). */
  if (!is_ip && !SSL_set_tlsext_host_name(ssl, name)) {
    snprintf(reason, cap, "bad server name '%s'", name);
    ERR_clear_error();
    return NT_EINVAL;
  }
  if (ctx->insecure) return 0;
  int ok;
  if (is_ip) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
  } else {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    ok = SSL_set1_host(ssl, name);
  }
  if (ok != 1) {
    snprintf(reason, cap, "cannot verify server name '%s'", name);
    ERR_clear_error();
    return NT_EINVAL;
  }
  return 0;
}

/* --- why a connection failed ------------------------------------------------------ */

/* A failed certificate verification: its code and reason. */
static int verify_failure(long v, const char *name, char *reason,
                          size_t cap) {
  const char *what = X509_verify_cert_error_string(v);
  if (!name) name = "";
  switch (v) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CERT_NOT_YET_VALID:
    snprintf(reason, cap, "%s", what);
    return NT_ETLS_CERT_EXPIRED;
  case X509_V_ERR_HOSTNAME_MISMATCH:
    snprintf(reason, cap,
             "hostname mismatch: the certificate is not valid for '%s'", name);
    return NT_ETLS_HOSTNAME;
  case X509_V_ERR_IP_ADDRESS_MISMATCH:
    snprintf(reason, cap,
             "IP address mismatch: the certificate is not valid for %s", name);
    return NT_ETLS_HOSTNAME;
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    snprintf(reason, cap, "%s (unknown CA)", what);
    return NT_ETLS_UNKNOWN_CA;
  default:
    snprintf(reason, cap, "certificate verify failed: %s", what);
    return NT_ETLS_VERIFY;
  }
}

int nt__tls_failure(SSL *ssl, int in_handshake, const char *name,
                    char *reason, size_t cap) {
  unsigned long code;
  const char *why = nt__tls_ssl_reason(&code, "unknown error");
  int lib = ERR_GET_LIB(code);
  int rsn = ERR_GET_REASON(code);
  if (lib == ERR_LIB_SSL && rsn == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) return verify_failure(v, name, reason, cap);
  }
  if (lib == ERR_LIB_SSL && rsn == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
    snprintf(reason, cap, "the client sent no certificate");
    return NT_ETLS_VERIFY;
  }
  if (lib == ERR_LIB_SSL && rsn == SSL_R_NO_RENEGOTIATION) {
    snprintf(reason, cap, "renegotiation refused");
    return NT_ETLS_PROTOCOL;
  }
  if (lib == ERR_LIB_SSL && rsn >= SSL_AD_REASON_OFFSET &&
      rsn < SSL_AD_REASON_OFFSET + 256) {
    /* A fatal alert from the peer: often it refused our certificate. */
    snprintf(reason, cap, "the peer sent a fatal alert: %s", why);
    return in_handshake ? NT_ETLS_HANDSHAKE : NT_ETLS_PROTOCOL;
  }
  snprintf(reason, cap, "%s%s", in_handshake ? "handshake failed: " : "", why);
  return in_handshake ? NT_ETLS_HANDSHAKE : NT_ETLS_PROTOCOL;
}
