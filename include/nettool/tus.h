/* Resumable uploads: one local file sent to a server in pieces that survive
 * a dropped connection, a restarted server, or a killed process. The wire
 * protocol is a dialect: tus 1.0 (https://tus.io/protocols/resumable-upload,
 * with its creation, checksum and termination extensions) now; the IETF
 * draft (draft-ietf-httpbis-resumable-upload) is the second dialect the
 * design leaves room for (NT_UPLOAD_DIALECT_IETF is reserved: NT_ENOTSUP).
 *
 * How an upload goes (tus 1.0):
 *   OPTIONS endpoint       what the server offers (Tus-Version, Tus-Extension,
 *                          Tus-Checksum-Algorithm, Tus-Max-Size)
 *   HEAD upload-URL        only when the journal names an upload: its offset
 *                          (404/410: the server lost it, a new one is made)
 *   POST endpoint          creation: Upload-Length, Upload-Metadata; the
 *                          answer's Location is the upload URL
 *   PATCH upload-URL       the bytes from Upload-Offset, in pieces of
 *                          chunk_size, each with Upload-Checksum when the
 *                          server offers an algorithm nettool has (sha1...)
 * The journal (nettool/journal.h, next to the file: FILE.nettool-upload unless
 * journal_path says) keeps the upload URL and the file's identity (size,
 * mtime, device, inode) plus the endpoint and the metadata; it is saved once
 * the creation answered (before the first byte; not after every piece: the
 * offset is the server's to say), and removed when the server has every
 * byte. Running the same upload
 * again (same file unchanged, same endpoint, same metadata) after any kill
 * asks the server for the offset (HEAD: the server's word, never the
 * journal's, decides where to go on) and continues from there. A changed file
 * or other parameters start a new upload.
 *
 * Errors that can heal (connect errors, resets, timeouts, 5xx, 408, 429, a
 * piece whose checksum the server refused) are retried max_retries times in
 * a row (the count starts again when the server confirms new bytes), each
 * after a delay (retry_delay_ms doubling, up to 30 s, with
 * jitter; Retry-After is honoured; none after a PATCH that sent 1 MiB or
 * more before its connection broke), and every retry asks the offset again
 * before sending: nothing the server has is sent twice except the piece that
 * was in flight.
 *
 * Ownership: nt_upload_t is nettool's: valid from nt_upload_start until its
 * on_done returns, then freed. The options' strings are copied. The
 * nt_http_client_t must outlive the upload.
 */
#ifndef NETTOOL_TUS_H
#define NETTOOL_TUS_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/errno.h>
#include <nettool/http.h>
#include <nettool/reactor.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

typedef struct nt_upload_s nt_upload_t;

enum {
  NT_UPLOAD_DIALECT_TUS1 = 0, /* tus 1.0.0 (the default) */
  NT_UPLOAD_DIALECT_IETF = 1, /* reserved: draft-ietf-httpbis-resumable-upload */
};

/* Checksum choice (nt_upload_options_t.checksum). */
enum {
  NT_UPLOAD_CHECKSUM_AUTO = 0, /* when the server offers one nettool has */
  NT_UPLOAD_CHECKSUM_OFF = 1,  /* never */
  NT_UPLOAD_CHECKSUM_REQUIRE = 2, /* fail (NT_EUPLOAD_PROTOCOL) without one */
};

#define NT_UPLOAD_MAX_METADATA 64 /* key/value pairs */

typedef struct nt_upload_options_s {
  const char *endpoint; /* required: the creation URL ("http://h/files") */
  const char *path;     /* required: the local file (a regular file) */
  /* The journal's path (NULL: path + ".nettool-upload"). "" keeps no
   * journal (a killed process then starts over). */
  const char *journal_path;
  int dialect; /* NT_UPLOAD_DIALECT_* */
  /* Metadata sent with the creation (tus: Upload-Metadata, values base64):
   * keys[i] = values[i], nmeta pairs. Keys: 1..64 bytes of [A-Za-z0-9._-];
   * values any bytes (NUL-terminated here). */
  const char *const *meta_keys;
  const char *const *meta_values;
  size_t nmeta;
  /* Extra request header lines for every request ("Name: value"; NULL-
   * terminated; may be NULL), as nt_http_request_options_t.headers. */
  const char *const *headers;
  const char *user, *password; /* Basic auth, as nt_http_request_options_t */
  /* Bytes per PATCH (0: the rest of the file in one request without a
   * checksum, 8 MiB with one). */
  uint64_t chunk_size;
  int checksum; /* NT_UPLOAD_CHECKSUM_* */
  /* Retries of errors that can heal (0: none), counted since the server
   * last confirmed a new byte: an upload that moves on between failures
   * never runs out of them. And the first delay (0: 1 s, doubling). */
  int max_retries;
  uint64_t retry_delay_ms;
  /* Each request's idle and connect limits (0: the HTTP client's
   * defaults) and the whole upload's (0: none). */
  uint64_t idle_timeout_ms;
  uint64_t connect_timeout_ms;
  uint64_t timeout_ms;
  /* Ask the server to delete the upload (tus termination, DELETE) when it
   * fails for good or is cancelled; the journal goes too. */
  int terminate_on_failure;
} nt_upload_options_t;

typedef struct nt_upload_progress_s {
  uint64_t total;     /* the file's size */
  uint64_t acked;     /* bytes the server has confirmed (its Upload-Offset) */
  uint64_t in_flight; /* bytes of the current PATCH the network took, not yet
                         confirmed (lost if it fails) */
  uint64_t resumed_from; /* the server's offset when this run first learnt it */
  uint64_t sent;      /* body bytes sent by this run, resent ones included */
  int retries;        /* retries so far (all of them) */
  int restarts;       /* new uploads made because the server lost one */
  int checksum_rejects; /* pieces the server refused by checksum */
  const char *state;  /* the state machine's state ("patch", "head"...) */
  const char *checksum; /* the algorithm in use ("sha1"), or NULL */
} nt_upload_progress_t;

typedef struct nt_upload_callbacks_s {
  /* Once, last: 0 when the server has every byte, else why not:
   * NT_EUPLOAD_PROTOCOL (not a tus server, or a broken answer),
   * NT_EUPLOAD_REFUSED (a 4xx such as 413 or 401; nt_upload_http_status),
   * NT_EUPLOAD_CHECKSUM (pieces refused by checksum past the retries),
   * NT_EUPLOAD_OFFSET, NT_EHTTP_FILE_CHANGED (the file changed during the
   * upload), the HTTP client's errors (NT_ECONNREFUSED, NT_ETIMEDOUT...),
   * -errno for the file or the journal, NT_ECANCELED. The upload is freed
   * after. */
  void (*on_done)(nt_upload_t *u, int status, void *arg);
  /* A retry is scheduled (informational; may be NULL). */
  void (*on_retry)(nt_upload_t *u, int status_or_error, uint64_t delay_ms,
                   void *arg);
  /* The server acknowledged bytes up to offset (may be NULL). */
  void (*on_offset)(nt_upload_t *u, uint64_t offset, void *arg);
} nt_upload_callbacks_t;

/* Starts an upload. Returns 0 (on_done will run, from the loop), or an error
 * and no callback: NT_EINVAL (missing endpoint or path, bad metadata key,
 * a journal path too long), NT_ENOTSUP (the IETF dialect, or an options
 * struct from a newer nettool), NT_EHTTP_BAD_URL, -errno opening the file
 * (-EISDIR, NT_ENOENT...), NT_EBUSY (another upload with a journal holds the
 * file: flock(2) on it, released when that upload ends), NT_ENOMEM. */
int nt_upload_start_sized(size_t opts_size, nt_http_client_t *c,
                          const nt_upload_options_t *opts,
                          const nt_upload_callbacks_t *cbs, void *arg,
                          nt_upload_t **out);
#define nt_upload_start(...) \
  nt_upload_start_sized(sizeof(nt_upload_options_t), __VA_ARGS__)

/* Stops: on_done(NT_ECANCELED) follows from the loop. The journal stays (the
 * next run resumes) unless terminate_on_failure. Safe from callbacks. */
void nt_upload_cancel(nt_upload_t *u);

void nt_upload_progress_sized(size_t out_size, const nt_upload_t *u,
                              nt_upload_progress_t *p);
#define nt_upload_progress(...) \
  nt_upload_progress_sized(sizeof(nt_upload_progress_t), __VA_ARGS__)

/* The upload's URL (the creation's Location, or the journal's), or NULL
 * before one is known. Valid until the upload is freed. */
const char *nt_upload_url(const nt_upload_t *u);

/* The HTTP status of the answer that ended the upload (0 if none). */
int nt_upload_http_status(const nt_upload_t *u);

/* One line with more about a failure, or "". */
const char *nt_upload_error(const nt_upload_t *u);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
