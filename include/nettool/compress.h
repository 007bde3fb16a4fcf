/* A compressing transport: raw DEFLATE (RFC 1951) in both directions over
 * another transport, as NNTP COMPRESS DEFLATE (RFC 8054) and IMAP COMPRESS
 * (RFC 4978) use it, with zlib. Every write is flushed (Z_SYNC_FLUSH), so a
 * command is never held back waiting for more. Started in place like
 * STARTTLS, over TCP, TLS or the test reactor's in-memory transport. */
#ifndef NETTOOL_COMPRESS_H
#define NETTOOL_COMPRESS_H

#include <stdint.h>

#include <nettool/protocol.h>
#include <nettool/transport.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * Puts a deflate layer over `lower`, which is live: `upper` (the protocol
 * that spoke uncompressed until now) gets a second connection_made with
 * the new transport, from the loop (never inside this call). From then on
 * lower belongs to the layer; the layer and lower end together, and upper
 * sees connection_lost once. Bytes lower delivers are inflated before
 * upper sees them; a corrupt stream ends the connection with NT_EPROTO;
 * more than 1 GiB of output from one read (a compression bomb does not
 * need that much: output is handed up in 64 KiB pieces and reading stops
 * when upper pauses it) is not kept anywhere. write_file is supported
 * (read, compressed, sent). Returns 0, NT_EINVAL, NT_ECLOSED (lower is
 * closing or half-closed), NT_ENOMEM or NT_ENOTSUP (zlib, loaded by the
 * first layer in the usual build, cannot be loaded); *out (may be NULL)
 * gets the new transport.
 */
int nt_compress_start(nt_transport_t *lower, nt_protocol_t *upper,
                      nt_transport_t **out);

/* Non-zero for a transport made by nt_compress_start. */
int nt_compress_is(const nt_transport_t *t);
/* The transport under the layer (NULL once it is gone). */
nt_transport_t *nt_compress_lower(nt_transport_t *t);

/* Bytes through the layer so far: received compressed (wire_in) and
 * inflated (data_in); sent before (data_out) and after (wire_out)
 * compression. */
typedef struct nt_compress_stats_s {
  uint64_t wire_in, data_in, data_out, wire_out;
} nt_compress_stats_t;
/* Returns 0, or NT_EINVAL for a transport that is not a compress layer. */
int nt_compress_stats_sized(size_t out_size, const nt_transport_t *t,
                            nt_compress_stats_t *st);
#define nt_compress_stats(...) \
  nt_compress_stats_sized(sizeof(nt_compress_stats_t), __VA_ARGS__)

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
