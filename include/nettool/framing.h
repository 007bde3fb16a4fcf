/* Framing helpers: lines with a maximum length, and 32-bit length-prefixed
 * messages with a maximum size (the answer to TCP's "sticky packets": TCP
 * delivers a byte stream, and a message may arrive split or glued to the
 * next). */
#ifndef NETTOOL_FRAMING_H
#define NETTOOL_FRAMING_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/protocol.h>
#include <nettool/transport.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/* --- the incremental splitters (no transport, usable by any parser) -------- */

/* Called for each complete item. Return 0 to go on, non-zero to stop feeding
 * (the rest stays unconsumed; see *consumed). */
typedef int (*nt_frame_cb)(void *arg, const char *data, size_t len);

/*
 * Line reader: lines end with "\n"; a "\r" before it is removed too, so
 * "\r\n" and "\n" both work. Complete lines inside one chunk are passed
 * without copying; only an unfinished tail is buffered. The buffer never
 * grows past max_line, and holds no memory while empty.
 */
typedef struct nt_line_reader_s {
  char *buf;
  size_t len;
  size_t cap;
  size_t max_line; /* longest line accepted, without its terminator */
} nt_line_reader_t;

void nt_line_reader_init(nt_line_reader_t *lr, size_t max_line);
void nt_line_reader_free(nt_line_reader_t *lr);

/* Feeds bytes. Returns 0 once all were used, NT_ELINETOOLONG (the reader is
 * then unusable until reset), NT_ENOMEM, or the callback's non-zero value, in
 * which case *consumed (may be NULL) tells how much of data was used. */
int nt_line_reader_feed(nt_line_reader_t *lr, const char *data, size_t len,
                        nt_frame_cb cb, void *arg, size_t *consumed);

/* Bytes of an unfinished line held. */
static inline size_t nt_line_reader_pending(const nt_line_reader_t *lr) {
  return lr->len;
}
void nt_line_reader_reset(nt_line_reader_t *lr);

/*
 * Length-prefixed reader: each message is a 32-bit big-endian length followed
 * by that many bytes. A length over max_size fails with NT_ETOOBIG before any
 * of the body is buffered.
 */
typedef struct nt_msg_reader_s {
  char *buf;
  size_t len;
  size_t cap;
  size_t max_size;
  uint8_t hdr[4];
  uint8_t hdr_len;
  uint32_t want; /* body length of the message being read */
} nt_msg_reader_t;

void nt_msg_reader_init(nt_msg_reader_t *mr, size_t max_size);
void nt_msg_reader_free(nt_msg_reader_t *mr);
int nt_msg_reader_feed(nt_msg_reader_t *mr, const char *data, size_t len,
                       nt_frame_cb cb, void *arg, size_t *consumed);

/* Writes one length-prefixed message (prefix and body in one writev).
 * NT_ETOOBIG for len over UINT32_MAX. */
int nt_msg_write(nt_transport_t *t, const void *data, size_t len);

/* --- protocols built on them (Twisted's LineReceiver, Int32StringReceiver) - */

typedef struct nt_line_receiver_s nt_line_receiver_t;

typedef struct nt_line_receiver_ops_s {
  void (*connection_made)(nt_line_receiver_t *lr, nt_transport_t *t);
  /* One line, without its terminator. To stop taking lines (for example to
   * hand the transport to another protocol) call nt_line_receiver_stop. */
  void (*line_received)(nt_line_receiver_t *lr, const char *line, size_t len);
  int (*eof_received)(nt_line_receiver_t *lr);
  /* An over-long line closes the connection with NT_ELINETOOLONG here.
   * An unfinished last line is still in lr->reader (lr->reader.len bytes)
   * during the call, freed after it. */
  void (*connection_lost)(nt_line_receiver_t *lr, int status);
  void (*pause_writing)(nt_line_receiver_t *lr);
  void (*resume_writing)(nt_line_receiver_t *lr);
  void (*destroy)(nt_line_receiver_t *lr);
  /* Optional: sees every chunk before it is split into lines (to count
   * progress, e.g. for an idle timeout). */
  void (*raw_data)(nt_line_receiver_t *lr, const char *data, size_t len);
} nt_line_receiver_ops_t;

/* Embed as the first member of your protocol struct. */
struct nt_line_receiver_s {
  nt_protocol_t base;
  const nt_line_receiver_ops_t *ops;
  nt_line_reader_t reader;
  int stopped;
};

void nt_line_receiver_init(nt_line_receiver_t *lr,
                           const nt_line_receiver_ops_t *ops, size_t max_line);
/* Stops splitting lines at once: bytes after the current line (in this chunk
 * and later ones) are no longer delivered. Used before handing the transport
 * to another protocol (STARTTLS, a raw data phase). */
void nt_line_receiver_stop(nt_line_receiver_t *lr);
/* Takes lines again after nt_line_receiver_stop, from an empty buffer:
 * bytes that came while stopped are gone (STARTTLS: the protocol's second
 * connection_made, on the TLS transport). */
void nt_line_receiver_resume(nt_line_receiver_t *lr);
/* Writes line + "\r\n" (or just "\n" with crlf zero). */
int nt_line_receiver_send(nt_line_receiver_t *lr, const char *line, size_t len,
                          int crlf);

typedef struct nt_msg_receiver_s nt_msg_receiver_t;

typedef struct nt_msg_receiver_ops_s {
  void (*connection_made)(nt_msg_receiver_t *mr, nt_transport_t *t);
  void (*message_received)(nt_msg_receiver_t *mr, const char *data,
                           size_t len);
  /* An over-size message closes the connection with NT_ETOOBIG here. */
  void (*connection_lost)(nt_msg_receiver_t *mr, int status);
  void (*destroy)(nt_msg_receiver_t *mr);
} nt_msg_receiver_ops_t;

struct nt_msg_receiver_s {
  nt_protocol_t base;
  const nt_msg_receiver_ops_t *ops;
  nt_msg_reader_t reader;
};

void nt_msg_receiver_init(nt_msg_receiver_t *mr,
                          const nt_msg_receiver_ops_t *ops, size_t max_size);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
