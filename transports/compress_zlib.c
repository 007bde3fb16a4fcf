/* The deflate layer (nettool/compress.h): a transport made from a
 * transport, as TLS is, on the stream core (stream-int.h), so the upper
 * protocol's writes get the usual queue, water marks and close lifecycle.
 * The only file that includes zlib.h.
 *
 * Two owners keep the layer alive (refs): the upper stream until the core
 * frees it (after upper's connection_lost and destroy) and the lower
 * protocol slot until lower destroys it; queued loop calls hold one more.
 * Input: lower's bytes are inflated into a 16 KiB buffer of the
 * connection's (allocated at the first input: a thread-local static one
 * was 64 KiB of every nettool thread's memory, zeroed at its start,
 * COMPRESS or not) and handed up a piece at a time; when upper pauses reading, the compressed rest is kept
 * (at most one read of lower's) and lower is paused too, so a compression
 * bomb costs nothing beyond the buffer. Output: each sendv is deflated and
 * flushed (Z_SYNC_FLUSH) to lower at once; when lower's queue is over its
 * mark, sendv says EAGAIN and the core queues upstairs instead.
 *
 * With NT_ZLIB_LAZY (CMake; on by default) the library is not linked with
 * zlib: the first layer, or the first yEnc CRC32 (nt__zlib_crc32), dlopen()s
 * it (nt__compress_load), so a process that neither compresses nor decodes
 * yEnc does not carry its ~110 KiB (issue 13). Every call goes through the
 * table Z either way. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#ifdef NT_ZLIB_LAZY
#include <dlfcn.h>
#endif

#include "compress-int.h"
#include "nettool/compress.h"
#include "reactor-int.h"
#include "stream-int.h"

/* Every zlib function called (the Init2 ones under their real names: the
 * macros pass zlib.h's version and struct size). */
#define NT__ZLIB_FUNCS(X) \
  X(crc32) \
  X(crc32_combine64) \
  X(deflate) \
  X(deflateEnd) \
  X(deflateInit2_) \
  X(inflate) \
  X(inflateEnd) \
  X(inflateInit2_)

/* Filled once, before the first layer exists (nt__compress_load). */
static struct {
#define NT__ZLIB_FIELD(n) __typeof__(n) *n;
  NT__ZLIB_FUNCS(NT__ZLIB_FIELD)
#undef NT__ZLIB_FIELD
} Z;

static pthread_once_t z_once = PTHREAD_ONCE_INIT;
static int z_status = NT_ENOTSUP;

#ifndef NT_ZLIB_SONAME
#define NT_ZLIB_SONAME "libz.so.1"
#endif
const char *nt__zlib_soname = NT_ZLIB_SONAME;

static void z_load(void) {
#ifdef NT_ZLIB_LAZY
  /* RTLD_LOCAL: zlib's names stay out of the program's namespace */
  void *h = dlopen(nt__zlib_soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    nt__log(NT__LOG_ERROR, "compress: cannot load %s: %s", nt__zlib_soname, e ? e : "?");
    return;
  }
  const char *missing = NULL;
#define NT__ZLIB_LOAD(n) \
  if (!missing && !(Z.n = (__typeof__(Z.n))dlsym(h, #n))) missing = #n;
  NT__ZLIB_FUNCS(NT__ZLIB_LOAD)
#undef NT__ZLIB_LOAD
  if (missing) { /* the handle stays: the table may be half filled */
    nt__log(NT__LOG_ERROR, "compress: %s has no %s", nt__zlib_soname, missing);
    return;
  }
#else
#define NT__ZLIB_LINK(n) Z.n = n;
  NT__ZLIB_FUNCS(NT__ZLIB_LINK)
#undef NT__ZLIB_LINK
#endif
  z_status = 0;
}

int nt__compress_load(void) {
  pthread_once(&z_once, z_load);
  return z_status;
}

int nt__zlib_crc32(uint32_t *crc, const void *buf, size_t len) {
  int rc = nt__compress_load();
  if (rc) return rc;
  const unsigned char *p = buf;
  uint32_t c = *crc;
  while (len) { /* zlib takes uInt lengths */
    uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
    c = (uint32_t)Z.crc32(c, p, n);
    p += n;
    len -= n;
  }
  *crc = c;
  return 0;
}

int nt__zlib_crc32_combine(uint32_t *crc1, uint32_t crc2, uint64_t len2) {
  int rc = nt__compress_load();
  if (rc) return rc;
  *crc1 = (uint32_t)Z.crc32_combine64(*crc1, crc2, (z_off64_t)len2);
  return 0;
}

#define OUT_CHUNK 16384u
#define IN_CHUNK 16384u
#define FILE_CHUNK 65536u

typedef struct dz_conn {
  nt__stream_t s;            /* first: the transport upper sees */
  nt_protocol_t lower_proto; /* what lower sees */
  nt_transport_t *lower;
  z_stream inf, def;
  int refs;
  int reading;     /* upper wants input (not paused) */
  int inf_pending; /* inflate may hold output it could not hand out yet */
  int lower_eof;   /* lower's EOF, passed up once held input is out */
  int ended;       /* the peer ended its deflate stream (Z_STREAM_END) */
  int want_write;  /* the core has a queue to flush */
  int drain_queued;
  char *out;  /* IN_CHUNK bytes: inflated data on its way up */
  char *held; /* compressed input kept while upper pauses reading */
  size_t held_len, held_off;
  nt_compress_stats_t st;
} dz_t;

static const nt_transport_ops_t dz_ops;
static const nt__stream_io_t dz_io;
static const nt_protocol_ops_t lower_ops;

#define FROM_LOWER(p) nt__container_of((p), dz_t, lower_proto)

static void unref(dz_t *c) {
  if (--c->refs > 0) return;
  Z.inflateEnd(&c->inf);
  Z.deflateEnd(&c->def);
  nt__free(c->out);
  nt__free(c->held);
  nt__free(c);
}

static int upper_closed(const dz_t *c) {
  return (c->s.base.flags & NT_TRANSPORT_CLOSED) != 0;
}

static void fail(dz_t *c, int status, const char *why) {
  NT__DEBUG("compress %p: %s", (void *)c, why);
  if (!upper_closed(c)) nt__stream_fail(&c->s, status);
}

/* --- input ---------------------------------------------------------------------- */

/* Inflates data and hands the output up. Returns how much of data was
 * used: all of it, unless upper paused reading or the stream ended. */
static size_t inflate_feed(dz_t *c, const char *data, size_t len) {
  if (!c->out && !(c->out = nt__malloc(IN_CHUNK))) {
    fail(c, NT_ENOMEM, "out of memory");
    return len;
  }
  char *out = c->out;
  c->inf.next_in = (Bytef *)(uintptr_t)data;
  c->inf.avail_in = (uInt)len;
  for (;;) {
    if (upper_closed(c) || !c->reading) break;
    if (!c->inf.avail_in && !c->inf_pending) break;
    if (c->ended) {
      fail(c, NT_EPROTO, "data after the end of the deflate stream");
      break;
    }
    c->inf.next_out = (Bytef *)out;
    c->inf.avail_out = IN_CHUNK;
    uInt before = c->inf.avail_in;
    int rc = Z.inflate(&c->inf, Z_NO_FLUSH);
    size_t made = IN_CHUNK - c->inf.avail_out;
    c->st.wire_in += before - c->inf.avail_in;
    c->inf_pending = c->inf.avail_out == 0; /* there may be more inside */
    if (rc == Z_STREAM_END) {
      c->ended = 1;
    } else if (rc == Z_BUF_ERROR) {
      if (!made) c->inf_pending = 0; /* needs more input */
    } else if (rc != Z_OK) {
      fail(c, NT_EPROTO, c->inf.msg ? c->inf.msg : "corrupt deflate stream");
      break;
    }
    if (made) {
      c->st.data_in += made;
      nt__stream_deliver(&c->s, out, made);
    }
    if (c->ended && !c->inf.avail_in) break;
  }
  return len - c->inf.avail_in;
}

static int hold(dz_t *c, const char *data, size_t len) {
  if (!len) return 0;
  size_t have = c->held_len - c->held_off;
  char *b = nt__malloc(have + len);
  if (!b) return NT_ENOMEM;
  if (have) memcpy(b, c->held + c->held_off, have);
  memcpy(b + have, data, len);
  nt__free(c->held);
  c->held = b;
  c->held_len = have + len;
  c->held_off = 0;
  return 0;
}

static void lower_pause(dz_t *c, int pause) {
  if (!c->lower || nt_transport_is_closing(c->lower)) return;
  if (pause)
    nt_transport_pause_reading(c->lower);
  else
    nt_transport_resume_reading(c->lower);
}

/* Feeds what was held; once it is all out, lower may read again and its
 * EOF goes up. */
static void drain(dz_t *c) {
  while (!upper_closed(c) && c->reading &&
         (c->held_off < c->held_len || c->inf_pending)) {
    size_t n = c->held_len - c->held_off;
    size_t used = inflate_feed(c, c->held + c->held_off, n);
    c->held_off += used;
    if (used < n || c->inf_pending) {
      if (!c->reading || upper_closed(c)) return;
    }
    if (c->held_off == c->held_len && !c->inf_pending) break;
  }
  if (upper_closed(c) || !c->reading) return;
  nt__free(c->held);
  c->held = NULL;
  c->held_len = c->held_off = 0;
  if (c->lower_eof) {
    nt__stream_deliver_eof(&c->s);
    return;
  }
  lower_pause(c, 0);
}

static void drain_cb(void *arg) {
  dz_t *c = arg;
  c->drain_queued = 0;
  drain(c);
  unref(c);
}

static void queue_drain(dz_t *c) {
  if (c->drain_queued) return;
  c->refs++;
  if (nt_call_soon(c->s.base.reactor, drain_cb, c)) {
    c->refs--;
    fail(c, NT_ENOMEM, "out of memory");
    return;
  }
  c->drain_queued = 1;
}

static void lower_data(nt_protocol_t *p, const char *data, size_t len) {
  dz_t *c = FROM_LOWER(p);
  if (upper_closed(c)) return;
  c->refs++;
  size_t used = 0;
  if (c->held_off == c->held_len && !c->inf_pending) used = inflate_feed(c, data, len);
  if (!upper_closed(c) && used < len && !c->ended) {
    /* upper paused (or older bytes wait): keep the rest, stop reading */
    if (hold(c, data + used, len - used))
      fail(c, NT_ENOMEM, "out of memory");
    else
      lower_pause(c, 1);
  }
  unref(c);
}

static int lower_eof(nt_protocol_t *p) {
  dz_t *c = FROM_LOWER(p);
  c->refs++;
  if (c->held_off < c->held_len || c->inf_pending)
    c->lower_eof = 1; /* after what is held */
  else
    nt__stream_deliver_eof(&c->s);
  unref(c);
  return 1; /* the layer closes lower when upper closes */
}

static void lower_lost(nt_protocol_t *p, int status) {
  dz_t *c = FROM_LOWER(p);
  c->refs++;
  c->lower = NULL;
  if (!upper_closed(c)) nt__stream_fail(&c->s, status);
  unref(c);
}

static void flush_cb(void *arg) {
  dz_t *c = arg;
  if (!upper_closed(c) && c->want_write) nt__stream_flush(&c->s);
  unref(c);
}

static void queue_flush(dz_t *c) {
  c->refs++;
  if (nt_call_soon(c->s.base.reactor, flush_cb, c)) {
    c->refs--;
    fail(c, NT_ENOMEM, "out of memory");
  }
}

static void lower_resume_writing(nt_protocol_t *p) {
  dz_t *c = FROM_LOWER(p);
  /* from the loop, not inside lower's flush (see tls_openssl.c) */
  if (c->want_write && !upper_closed(c)) queue_flush(c);
}

static void lower_destroy(nt_protocol_t *p) {
  dz_t *c = FROM_LOWER(p);
  c->lower = NULL;
  unref(c);
}

static const nt_protocol_ops_t lower_ops = {
    .connection_made = NULL,
    .data_received = lower_data,
    .eof_received = lower_eof,
    .connection_lost = lower_lost,
    .resume_writing = lower_resume_writing,
    .destroy = lower_destroy,
};

/* --- output: the stream core's "socket" --------------------------------------------------- */

static int lower_full(const dz_t *c) {
  return !c->lower || (c->lower->flags & NT_TRANSPORT_WRITE_PAUSED);
}

/* Deflates len bytes (flushing at the end when last) and writes the
 * output to lower. 0 or an error. */
static int deflate_put(dz_t *c, const void *data, size_t len, int last) {
  char out[OUT_CHUNK];
  c->def.next_in = (Bytef *)(uintptr_t)data;
  c->def.avail_in = (uInt)len;
  int flush = last ? Z_SYNC_FLUSH : Z_NO_FLUSH;
  do {
    c->def.next_out = (Bytef *)out;
    c->def.avail_out = sizeof out;
    int rc = Z.deflate(&c->def, flush);
    if (rc == Z_STREAM_ERROR) return NT_EPROTO;
    size_t made = sizeof out - c->def.avail_out;
    if (made) {
      if (!c->lower) return NT_ECLOSED;
      c->st.wire_out += made;
      int w = nt_transport_write(c->lower, out, made);
      if (w) return w;
    }
  } while (c->def.avail_out == 0 || c->def.avail_in);
  c->st.data_out += len;
  return 0;
}

static ssize_t dz_sendv(nt__stream_t *s, const struct iovec *iov, int n) {
  dz_t *c = (dz_t *)s;
  if (!c->lower) return NT_ECLOSED;
  if (lower_full(c)) return NT_EAGAIN;
  size_t total = 0;
  int last = n - 1;
  while (last > 0 && !iov[last].iov_len) last--;
  for (int i = 0; i < n; i++) {
    /* zlib counts in uInt: big pieces go in parts */
    const char *p = iov[i].iov_base;
    size_t len = iov[i].iov_len;
    do {
      size_t part = len > (1u << 30) ? (1u << 30) : len;
      int rc = deflate_put(c, p, part, i >= last && part == len);
      if (rc) return rc;
      p += part;
      len -= part;
      total += part;
    } while (len);
  }
  return (ssize_t)total;
}

static ssize_t dz_sendfile(nt__stream_t *s, int fd, uint64_t *off, size_t len) {
  dz_t *c = (dz_t *)s;
  if (!c->lower) return NT_ECLOSED;
  if (lower_full(c)) return NT_EAGAIN;
  char buf[FILE_CHUNK];
  size_t want = len < sizeof buf ? len : sizeof buf;
  ssize_t n;
  do n = pread(fd, buf, want, (off_t)*off);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (n == 0) return 0;
  int rc = deflate_put(c, buf, (size_t)n, 1);
  if (rc) return rc;
  *off += (uint64_t)n;
  return n;
}

static void dz_want_write(nt__stream_t *s, int on) {
  dz_t *c = (dz_t *)s;
  c->want_write = on;
  if (on && !lower_full(c)) queue_flush(c);
}

static void dz_read_enable(nt__stream_t *s, int on) {
  dz_t *c = (dz_t *)s;
  c->reading = on;
  if (!on) {
    lower_pause(c, 1);
    return;
  }
  if (c->held_off < c->held_len || c->inf_pending || c->lower_eof)
    queue_drain(c);
  else
    lower_pause(c, 0);
}

static int dz_shutdown_write(nt__stream_t *s) {
  dz_t *c = (dz_t *)s;
  return c->lower ? nt_transport_write_eof(c->lower) : NT_ECLOSED;
}

static void dz_close(nt__stream_t *s) {
  dz_t *c = (dz_t *)s;
  c->reading = 0;
  if (!c->lower) return;
  if (s->close_status)
    nt_transport_abort_error(c->lower, s->close_status);
  else
    nt_transport_lose_connection(c->lower);
}

static void dz_free(nt__stream_t *s) { unref((dz_t *)s); }

static const nt__stream_io_t dz_io = {
    .sendv = dz_sendv,
    .sendfile = dz_sendfile,
    .want_write = dz_want_write,
    .read_enable = dz_read_enable,
    .shutdown_write = dz_shutdown_write,
    .close = dz_close,
    .free = dz_free,
};

static int dz_peer(nt_transport_t *t, struct sockaddr_storage *ss, socklen_t *len) {
  dz_t *c = (dz_t *)t;
  return c->lower ? nt_transport_peer_address(c->lower, ss, len) : NT_ENOTCONN;
}

static int dz_host(nt_transport_t *t, struct sockaddr_storage *ss, socklen_t *len) {
  dz_t *c = (dz_t *)t;
  return c->lower ? nt_transport_host_address(c->lower, ss, len) : NT_ENOTCONN;
}

static const nt_transport_ops_t dz_ops = {
    .name = "deflate",
    .writev = nt__stream_writev,
    .write_file = nt__stream_write_file,
    .write_eof = nt__stream_write_eof,
    .lose_connection = nt__stream_lose_connection,
    .abort = nt__stream_abort,
    .pause_reading = nt__stream_pause_reading,
    .resume_reading = nt__stream_resume_reading,
    .peer_address = dz_peer,
    .host_address = dz_host,
    .write_buffer_size = nt__stream_write_buffer_size,
};

/* --- starting --------------------------------------------------------------------------------- */

static void made_cb(void *arg) {
  dz_t *c = arg;
  nt_protocol_t *up = c->s.base.protocol;
  if (!upper_closed(c) && up) {
    if (up->ops->connection_made) up->ops->connection_made(up, &c->s.base);
    if (!upper_closed(c) && c->reading) lower_pause(c, 0);
  }
  unref(c);
}

static void *z_alloc(void *opaque, uInt items, uInt size) {
  (void)opaque;
  return nt__calloc(items, size); /* the shim: fault injection in tests */
}
static void z_free(void *opaque, void *p) {
  (void)opaque;
  nt__free(p);
}

int nt_compress_start(nt_transport_t *lower, nt_protocol_t *upper,
                      nt_transport_t **out) {
  if (!lower || !upper) return NT_EINVAL;
  if (nt_transport_is_closing(lower) ||
      (lower->flags & (NT_TRANSPORT_EOF_RECEIVED | NT_TRANSPORT_WRITE_EOF)))
    return NT_ECLOSED;
  int rc = nt__compress_load();
  if (rc) return rc;
  dz_t *c = nt__calloc(1, sizeof *c);
  if (!c) return NT_ENOMEM;
  c->inf.zalloc = c->def.zalloc = z_alloc;
  c->inf.zfree = c->def.zfree = z_free;
  /* raw deflate, 32 KiB window */
  if (Z.inflateInit2_(&c->inf, -15, ZLIB_VERSION, (int)sizeof(z_stream)) != Z_OK) {
    nt__free(c);
    return NT_ENOMEM;
  }
  /* What we send is mostly short commands: a 4 KiB window and a small
   * hash table (about 24 KiB instead of 256) suit it; the peer inflates
   * any window up to 32 KiB (RFC 1951), so this is our choice alone. */
  if (Z.deflateInit2_(&c->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 4, Z_DEFAULT_STRATEGY,
                      ZLIB_VERSION, (int)sizeof(z_stream)) != Z_OK) {
    Z.inflateEnd(&c->inf);
    nt__free(c);
    return NT_ENOMEM;
  }
  nt__stream_init(&c->s, lower->reactor, &dz_ops, &dz_io);
  nt_protocol_init(&c->lower_proto, &lower_ops);
  c->refs = 3; /* upper stream, lower slot, the queued connection_made */
  c->reading = 1;
  if (nt_call_soon(lower->reactor, made_cb, c)) {
    Z.inflateEnd(&c->inf);
    Z.deflateEnd(&c->def);
    nt__free(c);
    return NT_ENOMEM;
  }
  /* Until connection_made, lower's bytes wait (the peer sends none before
   * our first compressed command anyway). */
  nt_transport_pause_reading(lower);
  c->s.base.protocol = upper;
  upper->transport = &c->s.base;
  nt_transport_set_protocol(lower, &c->lower_proto);
  c->lower_proto.transport = lower;
  c->lower = lower;
  if (out) *out = &c->s.base;
  return 0;
}

/* --- queries ------------------------------------------------------------------------------------ */

int nt_compress_is(const nt_transport_t *t) { return t && t->ops == &dz_ops; }

nt_transport_t *nt_compress_lower(nt_transport_t *t) {
  return nt_compress_is(t) ? ((dz_t *)t)->lower : NULL;
}

static int compress_stats_full(const nt_transport_t *t,
                               nt_compress_stats_t *st) {
  if (!nt_compress_is(t) || !st) return NT_EINVAL;
  *st = ((const dz_t *)t)->st;
  return 0;
}

int nt_compress_stats_sized(size_t out_size, const nt_transport_t *t,
                            nt_compress_stats_t *st) {
  /* the caller's struct may be an older, smaller one (docs/ABI.md) */
  nt_compress_stats_t full;
  memset(&full, 0, sizeof full);
  int rc = compress_stats_full(t, st ? &full : NULL);
  if (st) memcpy(st, &full, out_size < sizeof full ? out_size : sizeof full);
  return rc;
}
