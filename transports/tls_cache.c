/* The client session cache: the latest session per server name, so the next
 * connection to that name resumes it (FTPS data connections then resume the
 * control connection's session, as vsftpd's require_ssl_reuse wants).
 * OpenSSL's own client cache is not looked up by itself, hence this one. The
 * key a connection's sessions go under travels with its SSL object (ex
 * data), so this file needs nothing of the connection glue. */
#include <pthread.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "reactor-int.h"
#include "tls-int.h"

static int key_index = -1;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void key_index_init(void) {
  key_index = SSL_get_ex_new_index(0, "nettool cache key", NULL, NULL, NULL);
}

void nt__tls_cache_init(nt__tls_cache_t *cache) {
  memset(cache, 0, sizeof *cache);
  pthread_mutex_init(&cache->lock, NULL);
}

void nt__tls_cache_destroy(nt__tls_cache_t *cache) {
  for (int i = 0; i < NT__TLS_CACHE_SLOTS; i++) {
    nt__free(cache->slots[i].key);
    if (cache->slots[i].sess) SSL_SESSION_free(cache->slots[i].sess);
  }
  pthread_mutex_destroy(&cache->lock);
}

/* The slot of key, or the one to reuse for it (a free one, else the least
 * recently used). Called with the lock held. */
static nt__tls_cache_slot_t *slot_for(nt__tls_cache_t *cache, const char *key,
                                      int *found) {
  nt__tls_cache_slot_t *oldest = &cache->slots[0];
  for (int i = 0; i < NT__TLS_CACHE_SLOTS; i++) {
    nt__tls_cache_slot_t *s = &cache->slots[i];
    if (s->key && !strcmp(s->key, key)) {
      *found = 1;
      return s;
    }
    if (!s->key) {
      if (oldest->key) oldest = s;
    } else if (oldest->key && s->stamp < oldest->stamp) {
      oldest = s;
    }
  }
  *found = 0;
  return oldest;
}

/* OpenSSL calls this for each new session of a client connection: after a
 * full TLS 1.2 handshake, and for each TLS 1.3 ticket. */
int nt__tls_cache_new_session(SSL *ssl, SSL_SESSION *sess) {
  const char *name = key_index >= 0 ? SSL_get_ex_data(ssl, key_index) : NULL;
  nt_tls_ctx_t *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  if (!name || !ctx || !ctx->cache) return 0;
  nt__tls_cache_t *cache = &ctx->sessions;
  pthread_mutex_lock(&cache->lock);
  int found;
  nt__tls_cache_slot_t *slot = slot_for(cache, name, &found);
  if (!found) {
    char *key = nt__strdup(name);
    if (key) {
      nt__free(slot->key);
      slot->key = key;
      if (slot->sess) SSL_SESSION_free(slot->sess);
      slot->sess = NULL;
    } else {
      slot = NULL;
    }
  }
  int kept = 0;
  if (slot) {
    if (slot->sess) SSL_SESSION_free(slot->sess);
    slot->sess = sess;
    slot->stamp = ++cache->stamp;
    kept = 1;
  }
  pthread_mutex_unlock(&cache->lock);
  return kept;
}

/* A copy is offered: OpenSSL marks the session it resumes as used up (TLS
 * 1.3 tickets are single-use for a client with a cache), and the caller's,
 * or the cache's, must stay good for the next connection (every FTPS data
 * connection resumes the control session). The servers we meet accept a
 * ticket more than once. */
int nt__tls_offer_session(SSL *ssl, SSL_SESSION *sess) {
  SSL_SESSION *copy = SSL_SESSION_dup(sess);
  if (!copy) return 0;
  int ok = SSL_set_session(ssl, copy); /* takes its own reference */
  SSL_SESSION_free(copy);
  return ok == 1;
}

int nt__tls_cache_offer(nt__tls_cache_t *cache, SSL *ssl, const char *name,
                        int has_session) {
  /* The name outlives ssl: the glue frees the SSL object first. */
  pthread_once(&key_once, key_index_init);
  if (key_index < 0 || !SSL_set_ex_data(ssl, key_index, (void *)name)) {
    ERR_clear_error();
    return 0; /* no caching for this connection; it still works */
  }
  if (has_session) return 0;
  int offered = 0;
  pthread_mutex_lock(&cache->lock);
  for (int i = 0; i < NT__TLS_CACHE_SLOTS; i++) {
    nt__tls_cache_slot_t *s = &cache->slots[i];
    if (s->key && s->sess && !strcmp(s->key, name)) {
      if (SSL_SESSION_is_resumable(s->sess))
        offered = nt__tls_offer_session(ssl, s->sess);
      s->stamp = ++cache->stamp;
      break;
    }
  }
  pthread_mutex_unlock(&cache->lock);
  ERR_clear_error();
  return offered;
}
