/* TLS over any stream transport, with OpenSSL 3.0: the connection glue.
 * The context and its configuration are in tls_ctx.c, the client session
 * cache in tls_cache.c (shared declarations: tls-int.h); only these tls_*.c
 * files include OpenSSL headers.
 *
 * A glue object (tls_conn_t) is two things at once: the protocol of the lower
 * transport (it receives ciphertext: lower_* callbacks) and a stream
 * transport itself (the stream core of stream.c, whose "socket" operations
 * below SSL_write plaintext and hand the records to the lower transport).
 * OpenSSL talks to the lower transport through a custom BIO: its write side
 * calls nt_transport_write(lower) directly (the lower transport tries the
 * socket first, so a record is copied only when the socket is full), its
 * read side hands OpenSSL the bytes of the current lower data_received call,
 * so ciphertext is not copied unless it must wait (reading paused).
 *
 * States (one switch, in tls_on): NEW -> HANDSHAKING -> OPEN ->
 * PEER_CLOSED (close_notify received; we may still write) -> CLOSED (failed
 * or shut down; the lower transport is being closed).
 *
 * Lifetime: the glue is referenced by the upper stream (until its io->free,
 * after the upper protocol's destroy) and by the lower transport (until the
 * glue's destroy as the lower's protocol), plus one reference per queued
 * drain call; it is freed when the last goes, always from a loop callback,
 * so never while one of its own functions is on the stack. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "nettool/tls.h"
#include "reactor-int.h"
#include "stream-int.h"
#include "tls-int.h"

/* Plaintext per SSL_write/SSL_read: one full TLS record (2^14 bytes). */
#define TLS_CHUNK 16384
/* Records handled per input event before yielding to the loop (fairness;
 * a 64 KiB read holds at most a few full records anyway). */
#define MAX_RECORDS_PER_EVENT 256
/* Records gathered into one write to the lower transport (one sendmsg on
 * TCP instead of one per record), and the room one record may take: 16 KiB
 * of plaintext plus header, tag and padding. */
#define BATCH_RECORDS 8
#define RECORD_MAX (TLS_CHUNK + 256)
#define BATCH_CAP (BATCH_RECORDS * RECORD_MAX)
/* write_file reads this much of the file at a time, at most. */
#define FILE_BUF (BATCH_RECORDS * TLS_CHUNK)

/* --- the connection ---------------------------------------------------------- */

/* The states, in order (NEW is 0: a zeroed glue is NEW). */
#define TLS_STATES(XX)                                                        \
  XX(NEW)         /* built; the lower transport has not started it yet */     \
  XX(HANDSHAKING) /* SSL_do_handshake until it completes */                   \
  XX(OPEN)        /* application data both ways */                            \
  XX(PEER_CLOSED) /* the peer's close_notify came: we may still write */      \
  XX(CLOSED)      /* failed or shut down; the lower transport is closing */

#define TLS_STATE_ENUM(name) TLS_##name,
#define TLS_STATE_NAME(name) #name,
typedef enum { TLS_STATES(TLS_STATE_ENUM) } tls_state_t;
static const char *const tls_state_names[] = {TLS_STATES(TLS_STATE_NAME)};
#undef TLS_STATE_ENUM
#undef TLS_STATE_NAME

/* What happened, for tls_on. */
typedef enum {
  EV_INPUT,   /* ciphertext arrived (or a paused reader resumed) */
  EV_EOF,     /* the lower transport's peer half-closed */
  EV_LOST,    /* the lower transport is gone */
  EV_TIMEOUT, /* the handshake took too long */
} tls_event_t;

typedef struct tls_conn {
  nt__stream_t s;            /* the TLS transport (first: casts) */
  nt_protocol_t lower_proto; /* the glue as the lower transport's protocol */
  nt_transport_t *lower;     /* NULL once the lower transport is lost */
  nt_tls_ctx_t *ctx;         /* one reference */
  SSL *ssl;
  tls_state_t state;
  int refs;
  unsigned stream_ready : 1;  /* s and the timer are initialised */
  unsigned lower_eof : 1;     /* the lower's peer half-closed */
  unsigned sent_close_notify : 1;
  unsigned drain_queued : 1;
  unsigned flush_queued : 1;
  unsigned has_session : 1;   /* a session was set before the handshake */
  unsigned fatal : 1;         /* ended by a TLS error (its session is void) */
  int lower_err;              /* why the BIO could not write to lower */
  char *obuf;                 /* ciphertext batch, only during a big write */
  size_t olen;
  char *fbuf;                 /* file bytes read by write_file (FILE_BUF) */
  nt_factory_t *inner;        /* factory path, until the upper is built */
  uint64_t hs_timeout_ms;
  nt_timer_t hs_timer;
  struct sockaddr_storage peer;
  socklen_t peer_len;
  /* ciphertext: the current data_received chunk, then what had to wait */
  const char *feed;
  size_t feed_len;
  char *in_buf;
  size_t in_off, in_len;
  char *name;    /* server name (or the peer's IP); cache key */
  char *alpn;    /* NUL-terminated copy, made on demand */
  char reason[200];
} tls_conn_t;

static const nt_transport_ops_t tls_ops;
static const nt__stream_io_t tls_stream_io;
static const nt_protocol_ops_t lower_ops;

#define FROM_LOWER(p) nt__container_of(p, tls_conn_t, lower_proto)

static void set_state(tls_conn_t *c, tls_state_t st) {
  NT__DEBUG("tls %p: [%s] -> [%s]", (void *)c, tls_state_names[c->state],
            tls_state_names[st]);
  c->state = st;
}

static void conn_free(tls_conn_t *c) {
  if (c->stream_ready) nt_timer_stop(&c->hs_timer);
  if (c->ssl) {
    /* OpenSSL voids the session of a connection freed without close_notify
     * (the TLS 1.0 rule), even when other connections share it, e.g. an
     * FTPS control session resumed by a data connection that the server
     * just closed. Since TLS 1.1 only a fatal alert voids a session (RFC
     * 5246, 7.2.1), so keep it unless this connection died of a TLS error. */
    if (!c->fatal)
      SSL_set_shutdown(c->ssl, SSL_get_shutdown(c->ssl) | SSL_SENT_SHUTDOWN);
    SSL_free(c->ssl);
  }
  nt_tls_ctx_free(c->ctx);
  nt__free(c->in_buf);
  nt__free(c->fbuf);
  nt__free(c->name);
  nt__free(c->alpn);
  nt__free(c);
}

static void conn_unref(tls_conn_t *c) {
  if (--c->refs == 0) conn_free(c);
}

/* c->reason is written: it becomes the thread's last error too. */
static void reason_set(tls_conn_t *c) {
  nt__tls_set_last_error("%s", c->reason);
  NT__DEBUG("tls %p: %s", (void *)c, c->reason);
}

/* Records why the connection failed, here and for nt_tls_last_error. */
static void set_reason(tls_conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_reason(tls_conn_t *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->reason, sizeof c->reason, fmt, ap);
  va_end(ap);
  reason_set(c);
}

/* --- input: the current chunk, then the backlog --------------------------------- */

static size_t input_pending(const tls_conn_t *c) {
  return (c->in_len - c->in_off) + c->feed_len;
}

static size_t input_take(tls_conn_t *c, char *out, size_t n) {
  size_t got = 0;
  if (c->in_off < c->in_len) {
    size_t k = c->in_len - c->in_off;
    if (k > n) k = n;
    memcpy(out, c->in_buf + c->in_off, k);
    c->in_off += k;
    got = k;
    if (c->in_off == c->in_len) c->in_off = c->in_len = 0;
  }
  if (got < n && c->feed_len) {
    size_t k = c->feed_len < n - got ? c->feed_len : n - got;
    memcpy(out + got, c->feed, k);
    c->feed += k;
    c->feed_len -= k;
    got += k;
  }
  return got;
}

static void input_drop(tls_conn_t *c) {
  nt__free(c->in_buf);
  c->in_buf = NULL;
  c->in_off = c->in_len = 0;
  c->feed = NULL;
  c->feed_len = 0;
}

/* Keeps what is left of the current chunk for later (reading is paused), so
 * the lower transport's buffer can be reused. Bounded by one lower read:
 * the lower transport is paused when this happens. */
static int input_keep_feed(tls_conn_t *c) {
  if (!c->feed_len) return 0;
  size_t have = c->in_len - c->in_off;
  char *b = nt__malloc(have + c->feed_len);
  if (!b) return NT_ENOMEM;
  if (have) memcpy(b, c->in_buf + c->in_off, have);
  memcpy(b + have, c->feed, c->feed_len);
  nt__free(c->in_buf);
  c->in_buf = b;
  c->in_off = 0;
  c->in_len = have + c->feed_len;
  c->feed = NULL;
  c->feed_len = 0;
  return 0;
}

/* --- the BIO between OpenSSL and the lower transport ----------------------------- */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_write_ex(BIO *b, const char *data, size_t len, size_t *written) {
  tls_conn_t *c = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (!c->lower) {
    c->lower_err = NT_ECLOSED;
    return 0;
  }
  /* The lower transport takes everything (queueing what the socket does
   * not), so OpenSSL never has to retry; backpressure is applied above, by
   * not encrypting while the lower transport is over its high-water mark.
   * During a big write, records are gathered first (see batch_begin). */
  if (c->obuf && c->olen + len <= BATCH_CAP) {
    memcpy(c->obuf + c->olen, data, len);
    c->olen += len;
    *written = len;
    return 1;
  }
  if (c->obuf && c->olen) {
    int frc = nt_transport_write(c->lower, c->obuf, c->olen);
    c->olen = 0;
    if (frc) {
      c->lower_err = frc;
      return 0;
    }
  }
  int rc = nt_transport_write(c->lower, data, len);
  if (rc) {
    c->lower_err = rc;
    return 0;
  }
  *written = len;
  return 1;
}

static int bio_read_ex(BIO *b, char *out, size_t n, size_t *readbytes) {
  tls_conn_t *c = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  size_t got = input_take(c, out, n);
  if (!got) {
    /* Never "end of file": the lower transport's EOF is handled by the glue,
     * which tells a clean close_notify from a truncation. */
    BIO_set_retry_read(b);
    return 0;
  }
  *readbytes = got;
  return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1; /* every write already went to the lower transport */
  default:
    return 0;
  }
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static int bio_destroy(BIO *b) {
  BIO_set_data(b, NULL); /* the glue is not the BIO's to free */
  return 1;
}

static void bio_method_init(void) {
  BIO_METHOD *m =
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "nettool");
  if (!m) return;
  BIO_meth_set_write_ex(m, bio_write_ex);
  BIO_meth_set_read_ex(m, bio_read_ex);
  BIO_meth_set_ctrl(m, bio_ctrl);
  BIO_meth_set_create(m, bio_create);
  BIO_meth_set_destroy(m, bio_destroy);
  bio_method = m;
}

/* --- building ----------------------------------------------------------------------- */

/* A glue for ctx; the reactor-dependent half waits for stream_setup. */
static tls_conn_t *conn_new(nt_tls_ctx_t *ctx, const char *name,
                            nt_tls_session_t *session, uint64_t timeout_ms,
                            int *err) {
  pthread_once(&bio_once, bio_method_init);
  *err = NT_ENOMEM;
  if (!bio_method) {
    nt__tls_set_last_error("cannot create the OpenSSL BIO method");
    return NULL;
  }
  tls_conn_t *c = nt__calloc(1, sizeof *c);
  if (!c) {
    nt__tls_set_last_error("out of memory");
    return NULL;
  }
  c->ctx = nt_tls_ctx_ref(ctx);
  c->refs = 2; /* the upper stream and the lower transport */
  c->state = TLS_NEW;
  c->hs_timeout_ms = timeout_ms ? timeout_ms : ctx->hs_timeout_ms;
  nt_protocol_init(&c->lower_proto, &lower_ops);
  if (name && *name) {
    /* "[::1]" -> "::1": brackets are URL syntax, not part of the name. */
    size_t l = strlen(name);
    if (l >= 2 && name[0] == '[' && name[l - 1] == ']') {
      c->name = nt__malloc(l - 1);
      if (c->name) {
        memcpy(c->name, name + 1, l - 2);
        c->name[l - 2] = 0;
      }
    } else {
      c->name = nt__strdup(name);
    }
    if (!c->name) goto fail;
  }
  ERR_clear_error();
  c->ssl = SSL_new(ctx->ssl_ctx);
  if (!c->ssl) goto fail_ssl;
  BIO *bio = BIO_new(bio_method);
  if (!bio) goto fail_ssl;
  BIO_set_data(bio, c);
  SSL_set_bio(c->ssl, bio, bio); /* one reference, for both directions */
  SSL_set_app_data(c->ssl, c);
  if (ctx->server) {
    SSL_set_accept_state(c->ssl);
  } else {
    SSL_set_connect_state(c->ssl);
    if (session) {
      if (!nt__tls_offer_session(c->ssl, (SSL_SESSION *)session))
        goto fail_ssl;
      c->has_session = 1;
    }
  }
  *err = 0;
  return c;
fail_ssl:
  nt__tls_set_last_error("cannot create a TLS connection: %s",
                         nt__tls_ssl_reason(NULL, "out of memory"));
fail:
  conn_free(c);
  return NULL;
}

static void hs_timeout_cb(nt_timer_t *t);

static void stream_setup(tls_conn_t *c, nt_reactor_t *r) {
  nt__stream_init(&c->s, r, &tls_ops, &tls_stream_io);
  nt_timer_init(r, &c->hs_timer, hs_timeout_cb);
  /* The lower transport keeps the reactor alive, not this timer. */
  nt_timer_unref(&c->hs_timer);
  c->stream_ready = 1;
}

/* Client: what to verify, and SNI. Returns 0 or a negative code. */
static int client_setup(tls_conn_t *c) {
  char ip[INET6_ADDRSTRLEN];
  if (!c->name) {
    /* No name given: check the address we actually reached against the
     * certificate's IP SANs, rather than not checking at all. */
    const void *a = NULL;
    if (c->peer.ss_family == AF_INET)
      a = &((struct sockaddr_in *)&c->peer)->sin_addr;
    else if (c->peer.ss_family == AF_INET6)
      a = &((struct sockaddr_in6 *)&c->peer)->sin6_addr;
    if (!a || !inet_ntop(c->peer.ss_family, a, ip, sizeof ip)) {
      if (c->ctx->insecure) return 0;
      set_reason(c, "no server name to verify and no peer address");
      return NT_EINVAL;
    }
    c->name = nt__strdup(ip);
    if (!c->name) return NT_ENOMEM;
  }
  int rc = nt__tls_set_peer_name(c->ctx, c->ssl, c->name, c->reason,
                                 sizeof c->reason);
  if (rc) {
    reason_set(c);
    return rc;
  }
  if (c->ctx->cache &&
      nt__tls_cache_offer(&c->ctx->sessions, c->ssl, c->name, c->has_session))
    c->has_session = 1;
  return 0;
}

/* --- failure ------------------------------------------------------------------------- */

/* After an SSL call failed with ssl_err: the status to report, with the
 * reason set. */
static int classify(tls_conn_t *c, int ssl_err, int in_handshake) {
  if (ssl_err == SSL_ERROR_SYSCALL && c->lower_err) {
    ERR_clear_error();
    set_reason(c, "writing to the connection failed: %s",
               nt_strerror(c->lower_err));
    return c->lower_err;
  }
  c->fatal = 1;
  int st = nt__tls_failure(c->ssl, in_handshake, c->name, c->reason,
                           sizeof c->reason);
  reason_set(c);
  return st;
}

/* Ends the glue's side: no more TLS; the lower transport is closed (gently
 * if nothing is left to send, so a fatal alert OpenSSL just queued reaches
 * the peer; otherwise at once, so a peer that does not read cannot hold the
 * connection open). The upper stream is not touched. */
static void fail_quiet(tls_conn_t *c, int status) {
  if (c->state == TLS_CLOSED) return;
  set_state(c, TLS_CLOSED);
  if (c->stream_ready) nt_timer_stop(&c->hs_timer);
  input_drop(c);
  nt_transport_t *lower = c->lower;
  if (lower && !nt_transport_is_closing(lower)) {
    if (nt_transport_write_buffer_size(lower) == 0 && status != NT_ETIMEDOUT)
      nt_transport_lose_connection(lower);
    else
      nt_transport_abort_error(lower, status);
  }
}

/* Fails the connection: the upper protocol (if any) gets
 * connection_lost(status) from the loop. */
static void tls_fail(tls_conn_t *c, int status) {
  if (c->state == TLS_CLOSED) return;
  fail_quiet(c, status);
  nt__stream_fail(&c->s, status);
}

/* --- handshake and reading ----------------------------------------------------------------- */

static int upper_reading(const tls_conn_t *c) {
  return c->s.base.protocol &&
         !(c->s.base.flags &
           (NT_TRANSPORT_READ_PAUSED | NT_TRANSPORT_CLOSING |
            NT_TRANSPORT_CLOSED | NT_TRANSPORT_EOF_RECEIVED));
}

/* Reads from the lower transport only when the input goes somewhere. */
static void sync_lower_reading(tls_conn_t *c) {
  if (!c->lower || nt_transport_is_closing(c->lower)) return;
  int want;
  switch (c->state) {
  case TLS_HANDSHAKING:
    want = 1;
    break;
  case TLS_OPEN:
    want = upper_reading(c);
    break;
  default:
    want = 0;
  }
  if (want)
    nt_transport_resume_reading(c->lower);
  else
    nt_transport_pause_reading(c->lower);
}

static void handshake_done(tls_conn_t *c) {
  nt_timer_stop(&c->hs_timer);
  set_state(c, TLS_OPEN);
  NT__DEBUG("tls %p: %s %s%s", (void *)c, SSL_get_version(c->ssl),
            SSL_get_cipher_name(c->ssl),
            SSL_session_reused(c->ssl) ? " (resumed)" : "");
  if (c->inner) {
    /* Factory path: only now is there something for the inner factory. */
    nt_factory_t *inner = c->inner;
    c->inner = NULL;
    nt_protocol_t *p = inner->ops->build_protocol(
        inner, (struct sockaddr *)&c->peer, c->peer_len);
    if (!p) {
      nt__stream_lose_connection(&c->s.base); /* refused: close_notify */
      return;
    }
    nt__stream_start(&c->s, p);
  } else {
    /* STARTTLS: the upper protocol is attached already and may have written
     * during the handshake; that goes first, then connection_made. */
    if (c->s.wq.head) nt__stream_flush(&c->s);
    nt_protocol_t *p = c->s.base.protocol;
    if (p && !nt_transport_is_closing(&c->s.base) && p->ops->connection_made)
      p->ops->connection_made(p, &c->s.base);
  }
  if (c->state == TLS_OPEN) sync_lower_reading(c);
}

/* Returns 1 once the handshake is done, 0 while it needs input (or failed:
 * then the state is CLOSED). */
static int handshake_step(tls_conn_t *c) {
  ERR_clear_error();
  c->lower_err = 0;
  int r = SSL_do_handshake(c->ssl);
  if (r == 1) return 1;
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ) return 0;
  tls_fail(c, classify(c, e, 1));
  return 0;
}

static void queue_drain(tls_conn_t *c);

/* Decrypts what input there is and hands it up while the upper reads. */
static void read_step(tls_conn_t *c) {
  char buf[TLS_CHUNK];
  for (int i = 0; i < MAX_RECORDS_PER_EVENT; i++) {
    if (c->state != TLS_OPEN) return;
    if (!upper_reading(c)) {
      if (input_keep_feed(c)) tls_fail(c, NT_ENOMEM);
      return;
    }
    ERR_clear_error();
    c->lower_err = 0;
    size_t n = 0;
    int r = SSL_read_ex(c->ssl, buf, sizeof buf, &n);
    if (r == 1) {
      nt__stream_deliver(&c->s, buf, n);
      continue;
    }
    int e = SSL_get_error(c->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
      return; /* all input used */
    case SSL_ERROR_ZERO_RETURN:
      /* The peer's close_notify: a clean end of its data. */
      input_drop(c);
      set_state(c, TLS_PEER_CLOSED);
      sync_lower_reading(c);
      nt__stream_deliver_eof(&c->s);
      return;
    default:
      tls_fail(c, classify(c, e, 0));
      return;
    }
  }
  /* Fairness: more records wait; take them on the next loop turn. */
  if (input_keep_feed(c)) {
    tls_fail(c, NT_ENOMEM);
    return;
  }
  queue_drain(c);
}

static void truncated(tls_conn_t *c) {
  set_reason(c, "the peer closed the connection without a TLS close_notify "
                "(truncated)");
  tls_fail(c, NT_ETLS_TRUNCATED);
}

/* The state machine: what an event means in each state. */
static void tls_on(tls_conn_t *c, tls_event_t ev, int status) {
  switch (c->state) {
  case TLS_NEW:
    break; /* not started: nothing can arrive yet */

  case TLS_HANDSHAKING:
    if (ev == EV_TIMEOUT) {
      set_reason(c, "TLS handshake timed out after %llu ms",
                 (unsigned long long)c->hs_timeout_ms);
      tls_fail(c, NT_ETIMEDOUT);
      break;
    }
    if (ev == EV_LOST) {
      set_reason(c, "the connection was lost during the TLS handshake: %s",
                 status ? nt_strerror(status) : "closed");
      tls_fail(c, status ? status : NT_ETLS_HANDSHAKE);
      break;
    }
    if (!handshake_step(c)) {
      if (c->state == TLS_HANDSHAKING && c->lower_eof) {
        set_reason(c, "the peer closed the connection during the TLS "
                      "handshake");
        tls_fail(c, NT_ETLS_HANDSHAKE);
      }
      break;
    }
    handshake_done(c);
    if (c->state != TLS_OPEN) break;
    /* Application data may have come in the same read as the peer's last
     * handshake flight. */
    __attribute__((fallthrough));

  case TLS_OPEN:
    if (ev == EV_LOST) {
      if (status) {
        set_reason(c, "the connection was lost: %s", nt_strerror(status));
        tls_fail(c, status);
      } else {
        truncated(c);
      }
      break;
    }
    read_step(c);
    if (c->state == TLS_OPEN && c->lower_eof && !input_pending(c) &&
        upper_reading(c))
      truncated(c);
    break;

  case TLS_PEER_CLOSED:
    input_drop(c); /* nothing may follow close_notify */
    if (ev == EV_LOST) {
      if (status) set_reason(c, "the connection was lost: %s", nt_strerror(status));
      tls_fail(c, status);
    }
    break;

  case TLS_CLOSED:
    input_drop(c);
    break;
  }
}

static void drain_cb(void *arg) {
  tls_conn_t *c = arg;
  c->drain_queued = 0;
  tls_on(c, EV_INPUT, 0);
  /* A pending EOF waited behind the input. */
  if (c->state == TLS_OPEN && c->lower_eof && !input_pending(c) &&
      upper_reading(c))
    truncated(c);
  conn_unref(c);
}

/* Delivers held input from the loop, as a socket would after resume. */
static void queue_drain(tls_conn_t *c) {
  if (c->drain_queued) return;
  c->refs++;
  c->drain_queued = 1;
  if (nt_call_soon(c->s.base.reactor, drain_cb, c) != 0) {
    c->drain_queued = 0;
    c->refs--;
    tls_fail(c, NT_ENOMEM);
  }
}

static void hs_timeout_cb(nt_timer_t *t) {
  tls_conn_t *c = nt__container_of(t, tls_conn_t, hs_timer);
  c->refs++;
  tls_on(c, EV_TIMEOUT, 0);
  conn_unref(c);
}

/* Starts the handshake once the lower transport is known. */
static void conn_begin(tls_conn_t *c) {
  set_state(c, TLS_HANDSHAKING);
  if (!c->ctx->server) {
    int rc = client_setup(c);
    if (rc) {
      fail_quiet(c, rc);
      nt__stream_fail(&c->s, rc);
      return;
    }
  }
  nt_timer_start(&c->hs_timer, c->hs_timeout_ms, 0);
  sync_lower_reading(c);
  /* A client speaks first (ClientHello); a server may have initial data. */
  tls_on(c, EV_INPUT, 0);
}

/* --- the glue as the lower transport's protocol ----------------------------------------- */

static void lower_made_in(nt_protocol_t *p, nt_transport_t *t) {
  tls_conn_t *c = FROM_LOWER(p);
  c->lower = t;
  stream_setup(c, t->reactor);
  conn_begin(c);
}

static void lower_data_in(nt_protocol_t *p, const char *data, size_t len) {
  tls_conn_t *c = FROM_LOWER(p);
  if (c->state == TLS_CLOSED || c->state == TLS_PEER_CLOSED) return;
  if (c->in_off < c->in_len) {
    /* Older bytes wait: keep the order. */
    c->feed = data;
    c->feed_len = len;
    if (input_keep_feed(c)) {
      tls_fail(c, NT_ENOMEM);
      return;
    }
  } else {
    c->feed = data;
    c->feed_len = len;
  }
  tls_on(c, EV_INPUT, 0);
  /* The lower's buffer is reused after we return. */
  if (c->feed_len && c->state != TLS_CLOSED && input_keep_feed(c))
    tls_fail(c, NT_ENOMEM);
  c->feed = NULL;
  c->feed_len = 0;
}

static int lower_eof_in(nt_protocol_t *p) {
  tls_conn_t *c = FROM_LOWER(p);
  c->lower_eof = 1;
  tls_on(c, EV_EOF, 0);
  switch (c->state) {
  case TLS_PEER_CLOSED:
    /* Both sides of TLS said goodbye on the reading side; the upper may
     * still be writing, and closes the lower itself when it is done. */
    return 1;
  case TLS_OPEN:
    return 1; /* held input first (reading is paused); drain decides */
  default:
    return 0;
  }
}

static void lower_lost_in(nt_protocol_t *p, int status) {
  tls_conn_t *c = FROM_LOWER(p);
  c->lower = NULL; /* not to be used after connection_lost */
  tls_on(c, EV_LOST, status);
}

static void tls_want_write(nt__stream_t *s, int on);

static void lower_resume_writing_in(nt_protocol_t *p) {
  tls_conn_t *c = FROM_LOWER(p);
  /* Not now, from inside the lower's flush: the stream core finishes a
   * close once its queue looks empty, without looking again after
   * resume_writing returns, so records written (and a close_notify plus
   * lose_connection) from here would be dropped. The next loop turn is as
   * good. */
  if (c->s.wq.head) tls_want_write(&c->s, 1);
}

/* Every way into the glue holds a reference for as long as it runs: under
 * memory pressure the stream core delivers connection_lost and destroy at
 * once (when nt_call_soon fails), so the lower transport may destroy the
 * glue as its protocol from inside a write the glue itself is making. */
static void lower_made(nt_protocol_t *p, nt_transport_t *t) {
  tls_conn_t *c = FROM_LOWER(p);
  c->refs++;
  lower_made_in(p, t);
  conn_unref(c);
}

static void lower_data(nt_protocol_t *p, const char *data, size_t len) {
  tls_conn_t *c = FROM_LOWER(p);
  c->refs++;
  lower_data_in(p, data, len);
  conn_unref(c);
}

static int lower_eof(nt_protocol_t *p) {
  tls_conn_t *c = FROM_LOWER(p);
  c->refs++;
  int keep = lower_eof_in(p);
  conn_unref(c);
  return keep;
}

static void lower_lost(nt_protocol_t *p, int status) {
  tls_conn_t *c = FROM_LOWER(p);
  c->refs++;
  lower_lost_in(p, status);
  conn_unref(c);
}

static void lower_resume_writing(nt_protocol_t *p) {
  tls_conn_t *c = FROM_LOWER(p);
  c->refs++;
  lower_resume_writing_in(p);
  conn_unref(c);
}

static void lower_destroy(nt_protocol_t *p) {
  tls_conn_t *c = FROM_LOWER(p);
  c->lower = NULL;
  if (c->state == TLS_NEW) {
    /* The lower transport gave up before connection_made: the upper stream
     * never started, so its reference goes too. */
    c->refs--;
  }
  conn_unref(c);
}

static const nt_protocol_ops_t lower_ops = {
    .connection_made = lower_made,
    .data_received = lower_data,
    .eof_received = lower_eof,
    .connection_lost = lower_lost,
    /* no pause_writing: the lower's WRITE_PAUSED flag is read instead */
    .resume_writing = lower_resume_writing,
    .destroy = lower_destroy,
};

/* --- the TLS transport's "socket" (stream core io) ------------------------------------------ */

static int lower_full(const tls_conn_t *c) {
  return !c->lower || (c->lower->flags & NT_TRANSPORT_WRITE_PAUSED);
}

/* Batching for big writes: the records of one sendv/sendfile call go to the
 * lower transport together. The buffer lives only during the call, so idle
 * connections keep nothing; small writes (a reply line) skip it. */
static void batch_begin(tls_conn_t *c, size_t total) {
  if (total > TLS_CHUNK) {
    c->obuf = nt__malloc(BATCH_CAP); /* NULL: unbatched, still correct */
    c->olen = 0;
  }
}

static int batch_flush(tls_conn_t *c) {
  if (!c->obuf || !c->olen) return 0;
  size_t n = c->olen;
  c->olen = 0;
  if (!c->lower) return NT_ECLOSED;
  int rc = nt_transport_write(c->lower, c->obuf, n);
  if (rc) fail_quiet(c, rc);
  return rc;
}

/* Ends a batch; the status of the call so far (rc) wins. */
static int batch_end(tls_conn_t *c, int rc) {
  if (!rc) rc = batch_flush(c);
  nt__free(c->obuf);
  c->obuf = NULL;
  c->olen = 0;
  return rc;
}

/* Room for the next record. The batch goes out when full, or as soon as it
 * would take the lower transport past its high-water mark, so the lower's
 * queue never exceeds the mark by more than a record, as with unbatched
 * writes. Returns 1 to go on, 0 to stop (the lower is full), or a status. */
static int batch_room(tls_conn_t *c) {
  if (c->obuf && c->olen &&
      (BATCH_CAP - c->olen < RECORD_MAX ||
       (c->lower && nt_transport_write_buffer_size(c->lower) + c->olen >=
                        c->lower->high_water))) {
    int rc = batch_flush(c);
    if (rc) return rc;
  }
  return !lower_full(c);
}

/* Encrypts len bytes (one record at most). Returns 0 or a status; on error
 * the glue is closed (the stream core then closes the upper with it). */
static int encrypt(tls_conn_t *c, const void *data, size_t len) {
  ERR_clear_error();
  c->lower_err = 0;
  size_t w = 0;
  int r = SSL_write_ex(c->ssl, data, len, &w);
  if (r == 1) return 0;
  int e = SSL_get_error(c->ssl, r);
  int st = classify(c, e, 0);
  fail_quiet(c, st);
  return st;
}

static int writable(const tls_conn_t *c) {
  switch (c->state) {
  case TLS_NEW:
  case TLS_HANDSHAKING:
    return NT_EAGAIN; /* queued until the handshake is done */
  case TLS_OPEN:
  case TLS_PEER_CLOSED:
    if (c->sent_close_notify) return NT_ECLOSED;
    return lower_full(c) ? NT_EAGAIN : 0;
  case TLS_CLOSED:
    break;
  }
  return NT_ECLOSED;
}

/* Takes plaintext while the lower transport is under its high-water mark,
 * so what cannot go out yet waits as plaintext in the stream core's queue,
 * with the same water marks and pause_writing as on TCP. Small pieces are
 * gathered into full records. */
static ssize_t tls_sendv_in(nt__stream_t *s, const struct iovec *iov, int n) {
  tls_conn_t *c = (tls_conn_t *)s;
  int rc = writable(c);
  if (rc) return rc;
  char buf[TLS_CHUNK];
  size_t taken = 0, total = 0;
  for (int k = 0; k < n; k++) total += iov[k].iov_len;
  batch_begin(c, total);
  int i = 0;
  size_t off = 0;
  while (i < n) {
    rc = batch_room(c);
    if (rc <= 0) break;
    rc = 0;
    size_t rem = iov[i].iov_len - off;
    if (rem == 0) {
      i++;
      off = 0;
      continue;
    }
    const char *src;
    size_t len;
    if (rem >= TLS_CHUNK || i == n - 1) {
      /* Encrypt straight from the caller's buffer. */
      src = (const char *)iov[i].iov_base + off;
      len = rem < TLS_CHUNK ? rem : TLS_CHUNK;
      off += len;
    } else {
      len = 0;
      while (i < n && len < TLS_CHUNK) {
        size_t r2 = iov[i].iov_len - off;
        size_t k = r2 < TLS_CHUNK - len ? r2 : TLS_CHUNK - len;
        memcpy(buf + len, (const char *)iov[i].iov_base + off, k);
        len += k;
        off += k;
        if (off == iov[i].iov_len) {
          i++;
          off = 0;
        }
      }
      src = buf;
    }
    rc = encrypt(c, src, len);
    if (rc) break;
    taken += len;
  }
  rc = batch_end(c, rc < 0 ? rc : 0);
  if (rc) return rc;
  if (taken == 0) return NT_EAGAIN;
  return (ssize_t)taken;
}

/* write_file over TLS: read and encrypt up to a batch of records at a time
 * (128 KiB, less when the lower transport has less room), as the lower
 * transport drains; the stream core calls again while we take. The file is
 * never read far ahead of the lower's water marks. Reads bigger than a
 * record go through one buffer per connection, made on the first and kept
 * until the file segment is done (not one malloc per call), so only a
 * connection in the middle of a file holds it. */
static ssize_t tls_sendfile_in(nt__stream_t *s, int fd, uint64_t *off,
                               size_t len) {
  tls_conn_t *c = (tls_conn_t *)s;
  int rc = writable(c);
  if (rc) return rc;
  size_t want = len < FILE_BUF ? len : FILE_BUF;
  if (c->lower) {
    /* no more than the lower's room (at least one record) */
    size_t q = nt_transport_write_buffer_size(c->lower);
    size_t room = q < c->lower->high_water ? c->lower->high_water - q : 0;
    if (room < TLS_CHUNK) room = TLS_CHUNK;
    if (want > room) want = room;
  }
  char small[TLS_CHUNK];
  char *buf = small;
  if (want > sizeof small) {
    if (!c->fbuf) c->fbuf = nt__malloc(FILE_BUF);
    if (!c->fbuf) return NT_ENOMEM;
    buf = c->fbuf;
  }
  ssize_t got;
  do {
    got = pread(fd, buf, want, (off_t)*off);
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return got < 0 ? -errno : 0; /* 0: the file shrank; the
                                              * stream core reports it */
  batch_begin(c, (size_t)got);
  for (size_t pos = 0; pos < (size_t)got && !rc; pos += TLS_CHUNK) {
    size_t k = (size_t)got - pos < TLS_CHUNK ? (size_t)got - pos : TLS_CHUNK;
    if (c->obuf && BATCH_CAP - c->olen < RECORD_MAX) rc = batch_flush(c);
    if (!rc) rc = encrypt(c, buf + pos, k);
  }
  rc = batch_end(c, rc);
  if (rc) return rc;
  *off += (uint64_t)got;
  if ((size_t)got == len) {
    /* The segment is done: an idle connection keeps no file buffer. */
    nt__free(c->fbuf);
    c->fbuf = NULL;
  }
  return got;
}

static void flush_cb(void *arg) {
  tls_conn_t *c = arg;
  c->flush_queued = 0;
  if ((c->state == TLS_OPEN || c->state == TLS_PEER_CLOSED) && c->s.wq.head &&
      !lower_full(c))
    nt__stream_flush(&c->s);
  conn_unref(c);
}

/* The stream core queued something (write_file always queues) and waits to
 * hear that the "socket" can take it. If the lower transport has room now,
 * that is on the next loop turn, as a writable socket would be; otherwise
 * the lower's resume_writing (or the end of the handshake) says so. */
static void tls_want_write(nt__stream_t *s, int on) {
  tls_conn_t *c = (tls_conn_t *)s;
  if (!on || c->flush_queued || lower_full(c) ||
      (c->state != TLS_OPEN && c->state != TLS_PEER_CLOSED))
    return;
  c->refs++;
  c->flush_queued = 1;
  if (nt_call_soon(c->s.base.reactor, flush_cb, c) != 0) {
    c->flush_queued = 0;
    c->refs--;
  }
}

static void tls_read_enable_in(nt__stream_t *s, int on) {
  tls_conn_t *c = (tls_conn_t *)s;
  if (on && c->state == TLS_OPEN &&
      (input_pending(c) || SSL_pending(c->ssl) || c->lower_eof))
    queue_drain(c); /* before resuming the lower: held bytes come first */
  sync_lower_reading(c);
}

/* Sends close_notify. Returns 0 or a status. */
static int send_close_notify(tls_conn_t *c) {
  if (c->sent_close_notify) return 0;
  c->sent_close_notify = 1;
  ERR_clear_error();
  c->lower_err = 0;
  int r = SSL_shutdown(c->ssl);
  if (r >= 0) return 0;
  int st = classify(c, SSL_get_error(c->ssl, r), 0);
  return st;
}

static int tls_shutdown_write_in(nt__stream_t *s) {
  tls_conn_t *c = (tls_conn_t *)s;
  switch (c->state) {
  case TLS_OPEN:
  case TLS_PEER_CLOSED: {
    int rc = send_close_notify(c);
    if (!rc && c->lower) rc = nt_transport_write_eof(c->lower);
    return rc;
  }
  case TLS_NEW:
  case TLS_HANDSHAKING:
    return NT_ENOTCONN;
  case TLS_CLOSED:
    break;
  }
  return NT_ECLOSED;
}

/* The stream core closes the TLS transport: after lose_connection drained
 * (close_status 0), an abort, or a failure. */
static void tls_close_in(nt__stream_t *s) {
  tls_conn_t *c = (tls_conn_t *)s;
  int status = s->close_status;
  switch (c->state) {
  case TLS_OPEN:
  case TLS_PEER_CLOSED:
    if (status == 0) {
      /* A clean end: close_notify, then flush and close. An abort sends no
       * close_notify, so the peer does not take it for a clean end. */
      int rc = send_close_notify(c);
      set_state(c, TLS_CLOSED);
      if (c->lower && !nt_transport_is_closing(c->lower)) {
        if (rc)
          nt_transport_abort_error(c->lower, rc);
        else
          nt_transport_lose_connection(c->lower);
      }
      input_drop(c);
      break;
    }
    fail_quiet(c, status);
    break;
  case TLS_NEW:
  case TLS_HANDSHAKING:
    fail_quiet(c, status ? status : NT_ECONNABORTED);
    break;
  case TLS_CLOSED:
    break;
  }
}

static void tls_free(nt__stream_t *s) {
  tls_conn_t *c = (tls_conn_t *)s;
  if (c->inner) {
    /* Factory path, and the handshake never completed: tell the factory as
     * it would hear of a failed connect. */
    nt_factory_t *inner = c->inner;
    c->inner = NULL;
    int status = s->close_status ? s->close_status : NT_ETLS_HANDSHAKE;
    if (c->reason[0]) nt__tls_set_last_error("%s", c->reason);
    if (inner->ops->connection_failed)
      inner->ops->connection_failed(inner, NULL, status);
  }
  conn_unref(c);
}

/* The stream core's entry points, holding a reference (see lower_made). */
static ssize_t tls_sendv(nt__stream_t *s, const struct iovec *iov, int n) {
  tls_conn_t *c = (tls_conn_t *)s;
  c->refs++;
  ssize_t r = tls_sendv_in(s, iov, n);
  conn_unref(c);
  return r;
}

static ssize_t tls_sendfile(nt__stream_t *s, int fd, uint64_t *off,
                            size_t len) {
  tls_conn_t *c = (tls_conn_t *)s;
  c->refs++;
  ssize_t r = tls_sendfile_in(s, fd, off, len);
  conn_unref(c);
  return r;
}

static void tls_read_enable(nt__stream_t *s, int on) {
  tls_conn_t *c = (tls_conn_t *)s;
  c->refs++;
  tls_read_enable_in(s, on);
  conn_unref(c);
}

static int tls_shutdown_write(nt__stream_t *s) {
  tls_conn_t *c = (tls_conn_t *)s;
  c->refs++;
  int r = tls_shutdown_write_in(s);
  conn_unref(c);
  return r;
}

static void tls_close(nt__stream_t *s) {
  tls_conn_t *c = (tls_conn_t *)s;
  c->refs++;
  tls_close_in(s);
  conn_unref(c);
}

/* The lower transport's unacknowledged ciphertext plus the records not yet
 * handed to it: approximate in plaintext bytes (record headers, MACs,
 * padding and post-handshake messages are counted too). */
static int tls_unacked(nt__stream_t *s, uint64_t *out) {
  tls_conn_t *c = (tls_conn_t *)s;
  if (!c->lower) return NT_ECLOSED;
  int rc = nt_transport_unacked(c->lower, out);
  if (rc == 0) *out += c->olen;
  return rc;
}

static const nt__stream_io_t tls_stream_io = {
    .sendv = tls_sendv,
    .sendfile = tls_sendfile,
    .want_write = tls_want_write,
    .read_enable = tls_read_enable,
    .shutdown_write = tls_shutdown_write,
    .close = tls_close,
    .free = tls_free,
    .unacked = tls_unacked,
};

static int tls_peer(nt_transport_t *t, struct sockaddr_storage *ss,
                    socklen_t *len) {
  tls_conn_t *c = (tls_conn_t *)t;
  if (c->lower) return nt_transport_peer_address(c->lower, ss, len);
  if (!c->peer_len) return NT_ENOTCONN;
  memcpy(ss, &c->peer, c->peer_len);
  *len = c->peer_len;
  return 0;
}

static int tls_host(nt_transport_t *t, struct sockaddr_storage *ss,
                    socklen_t *len) {
  tls_conn_t *c = (tls_conn_t *)t;
  return c->lower ? nt_transport_host_address(c->lower, ss, len) : NT_ENOTCONN;
}

static const nt_transport_ops_t tls_ops = {
    .name = "tls",
    .writev = nt__stream_writev,
    .write_file = nt__stream_write_file,
    .write_eof = nt__stream_write_eof,
    .lose_connection = nt__stream_lose_connection,
    .abort = nt__stream_abort,
    .pause_reading = nt__stream_pause_reading,
    .resume_reading = nt__stream_resume_reading,
    .peer_address = tls_peer,
    .host_address = tls_host,
    .write_buffer_size = nt__stream_write_buffer_size,
};

/* --- the factory wrapper ---------------------------------------------------------------- */

static nt_protocol_t *wrap_build(nt_factory_t *f, const struct sockaddr *peer,
                                 socklen_t len) {
  nt_tls_factory_t *tf = (nt_tls_factory_t *)f;
  int err;
  tls_conn_t *c = conn_new(tf->ctx, tf->has_name ? tf->server_name : NULL,
                           tf->session, tf->handshake_timeout_ms, &err);
  if (!c) {
    /* The connect succeeded but we cannot go on: say so, as TCP would say
     * a failed connect (a listener just refuses the connection). */
    if (!tf->ctx->server && tf->inner->ops->connection_failed)
      tf->inner->ops->connection_failed(tf->inner, NULL, err);
    return NULL;
  }
  if (peer && len <= sizeof c->peer) {
    memcpy(&c->peer, peer, len);
    c->peer_len = len;
  }
  c->inner = tf->inner;
  return &c->lower_proto;
}

static void wrap_started(nt_factory_t *f, nt_connector_t *conn) {
  nt_tls_factory_t *tf = (nt_tls_factory_t *)f;
  if (tf->inner->ops->started_connecting)
    tf->inner->ops->started_connecting(tf->inner, conn);
}

static void wrap_failed(nt_factory_t *f, nt_connector_t *conn, int status) {
  nt_tls_factory_t *tf = (nt_tls_factory_t *)f;
  if (tf->inner->ops->connection_failed)
    tf->inner->ops->connection_failed(tf->inner, conn, status);
}

static const nt_factory_ops_t wrap_ops = {
    .build_protocol = wrap_build,
    .started_connecting = wrap_started,
    .connection_failed = wrap_failed,
};

int nt_tls_factory_init_sized(size_t opts_size, nt_tls_factory_t *f,
                              nt_tls_ctx_t *ctx, nt_factory_t *inner,
                              const nt_tls_options_t *opts) {
  nt_tls_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  if (!f || !ctx || !inner || !inner->ops || !inner->ops->build_protocol)
    return NT_EINVAL;
  memset(f, 0, sizeof *f);
  f->base.ops = &wrap_ops;
  f->base.data = f;
  f->inner = inner;
  f->ctx = ctx;
  if (opts) {
    if (opts->server_name) {
      size_t l = strlen(opts->server_name);
      if (l >= sizeof f->server_name) return NT_EINVAL;
      memcpy(f->server_name, opts->server_name, l + 1);
      f->has_name = 1;
    }
    f->session = opts->session;
    f->handshake_timeout_ms = opts->handshake_timeout_ms;
  }
  return 0;
}

/* --- STARTTLS ---------------------------------------------------------------------------- */

int nt_tls_start_sized(size_t opts_size, nt_transport_t *lower,
                       nt_tls_ctx_t *ctx, nt_protocol_t *upper,
                       const nt_tls_options_t *opts, nt_transport_t **out) {
  nt_tls_options_t opts_copy_;
  if (NT__OPTS_COPY(opts_copy_, opts, opts_size)) return NT_ENOTSUP;
  if (opts) opts = &opts_copy_;
  if (!lower || !ctx || !upper) return NT_EINVAL;
  if (nt_transport_is_closing(lower) ||
      (lower->flags & (NT_TRANSPORT_EOF_RECEIVED | NT_TRANSPORT_WRITE_EOF)))
    return NT_ECLOSED;
  nt_tls_options_t none = {0};
  if (!opts) opts = &none;
  int err;
  tls_conn_t *c = conn_new(ctx, opts->server_name, opts->session,
                           opts->handshake_timeout_ms, &err);
  if (!c) return err;
  if (opts->initial_len) {
    c->in_buf = nt__malloc(opts->initial_len);
    if (!c->in_buf) {
      conn_free(c);
      return NT_ENOMEM;
    }
    memcpy(c->in_buf, opts->initial_data, opts->initial_len);
    c->in_len = opts->initial_len;
  }
  c->peer_len = sizeof c->peer;
  if (nt_transport_peer_address(lower, &c->peer, &c->peer_len) != 0)
    c->peer_len = 0;
  stream_setup(c, lower->reactor);
  c->s.base.protocol = upper;
  upper->transport = &c->s.base;
  nt_transport_set_protocol(lower, &c->lower_proto);
  c->lower = lower;
  if (out) *out = &c->s.base;
  c->refs++;
  conn_begin(c);
  conn_unref(c);
  return 0;
}

/* --- queries ------------------------------------------------------------------------------ */

int nt_tls_is_tls(const nt_transport_t *t) { return t && t->ops == &tls_ops; }

static tls_conn_t *as_tls(nt_transport_t *t) {
  return nt_tls_is_tls(t) ? (tls_conn_t *)t : NULL;
}

nt_transport_t *nt_tls_lower(nt_transport_t *t) {
  tls_conn_t *c = as_tls(t);
  return c ? c->lower : NULL;
}

int nt_tls_handshake_done(nt_transport_t *t) {
  tls_conn_t *c = as_tls(t);
  return c && c->ssl && SSL_is_init_finished(c->ssl);
}

const char *nt_tls_version(nt_transport_t *t) {
  tls_conn_t *c = as_tls(t);
  return c && nt_tls_handshake_done(t) ? SSL_get_version(c->ssl) : "";
}

const char *nt_tls_cipher(nt_transport_t *t) {
  tls_conn_t *c = as_tls(t);
  const char *n = c && nt_tls_handshake_done(t) ? SSL_get_cipher_name(c->ssl)
                                                : NULL;
  return n ? n : "";
}

const char *nt_tls_alpn(nt_transport_t *t) {
  tls_conn_t *c = as_tls(t);
  if (!c) return "";
  if (!c->alpn) {
    const unsigned char *d = NULL;
    unsigned len = 0;
    SSL_get0_alpn_selected(c->ssl, &d, &len);
    if (!len) return "";
    c->alpn = nt__malloc(len + 1u);
    if (!c->alpn) return "";
    memcpy(c->alpn, d, len);
    c->alpn[len] = 0;
  }
  return c->alpn;
}

const char *nt_tls_server_name(nt_transport_t *t) {
  tls_conn_t *c = as_tls(t);
  if (!c) return "";
  if (!c->ctx->server) return c->name ? c->name : "";
  const char *n = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
  return n ? n : "";
}

int nt_tls_session_reused(nt_transport_t *t) {
  tls_conn_t *c = as_tls(t);
  return c && nt_tls_handshake_done(t) && SSL_session_reused(c->ssl);
}

const char *nt_tls_error_reason(nt_transport_t *t) {
  tls_conn_t *c = as_tls(t);
  return c ? c->reason : "";
}

nt_tls_session_t *nt_tls_get_session(nt_transport_t *t) {
  tls_conn_t *c = as_tls(t);
  return c ? (nt_tls_session_t *)SSL_get1_session(c->ssl) : NULL;
}

int nt_tls_session_resumable(const nt_tls_session_t *s) {
  return s && SSL_SESSION_is_resumable((const SSL_SESSION *)s);
}

void nt_tls_session_free(nt_tls_session_t *s) {
  if (s) SSL_SESSION_free((SSL_SESSION *)s);
}

/* --- test hooks (tls-int.h) ------------------------------------------------------------------ */

int nt__tls_test_renegotiate(nt_transport_t *t) {
  tls_conn_t *c = as_tls(t);
  if (!c || c->state != TLS_OPEN || SSL_version(c->ssl) != TLS1_2_VERSION)
    return NT_EINVAL;
  /* (no reference held: tests call it from the top level, not from inside
   * a callback of this connection) */
  SSL_clear_options(c->ssl, SSL_OP_NO_RENEGOTIATION);
  ERR_clear_error();
  c->lower_err = 0;
  if (SSL_renegotiate(c->ssl) != 1) {
    ERR_clear_error();
    return NT_ETLS_PROTOCOL;
  }
  /* Sends the ClientHello (or HelloRequest); the answer comes through
   * SSL_read in read_step like any record. */
  int r = SSL_do_handshake(c->ssl);
  if (r != 1) {
    int e = SSL_get_error(c->ssl, r);
    if (e != SSL_ERROR_WANT_READ) {
      tls_fail(c, classify(c, e, 0));
      return NT_ETLS_PROTOCOL;
    }
  }
  return 0;
}
