/* FTP transfers that survive a broken network: one file downloaded or
 * uploaded over as many sessions as it takes (connect, login, FEAT, the
 * transfer, QUIT), each retry continuing where the last one stopped (REST
 * from the part file's size; an upload asks SIZE of the partial remote
 * file and continues with APPE, or REST + STOR), then checked against the
 * server's checksum (HASH, XSHA256/XSHA1/XMD5/XCRC) when FEAT offers one.
 * Built on nettool/ftp.h. */
#ifndef NETTOOL_FTP_TRANSFER_H
#define NETTOOL_FTP_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/ftp.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * A download writes LOCAL.part and renames it to LOCAL only after a
 * complete transfer whose size matches SIZE and whose checksum, when the
 * server gives one, matches; LOCAL.part.state (nettool/journal.h: written
 * crash-safe) records the server, the path, SIZE and MDTM, so running the
 * same download after a kill continues LOCAL.part when the remote file is
 * unchanged (and starts over when it changed).
 *
 * Retried (each after a backoff that doubles, with jitter, reset after an
 * attempt that moved bytes): connection failures and resets, timeouts, a
 * data connection cut mid-transfer, 4xx replies (421, 425, 426, 450,
 * 451...). Not retried: a refused login, 5xx replies (550 no such file,
 * 553...), certificate errors, names that do not exist, local file errors,
 * a checksum mismatch (NT_EDIGEST: LOCAL.part kept, its state removed),
 * a part file larger than the server's file that `resume` asked to
 * continue (NT_EFTP_SIZE: kept as it is).
 *
 * Checked: the file's size (SIZE, after an upload too) and, unless verify
 * says NEVER, its checksum whenever FEAT offers a command for it: the
 * default, so the caller need not ask. A refused command (a 550 login,
 * file or checksum) ends its session with QUIT.
 *
 * Ownership: nt_ftp_transfer_t is nettool's from start until on_done
 * returns, then freed. Strings in the options are copied; session->tls_ctx
 * must outlive the transfer.
 */

typedef struct nt_ftp_transfer_s nt_ftp_transfer_t;

typedef enum {
  NT_FTP_VERIFY_AUTO = 0, /* when FEAT offers a checksum command */
  NT_FTP_VERIFY_NEVER,
  NT_FTP_VERIFY_REQUIRE,  /* no checksum command: NT_ENOTSUP */
} nt_ftp_verify_t;

typedef struct nt_ftp_transfer_options_s {
  const char *host; /* required */
  int port;         /* 0: 21 (990 with implicit TLS) */
  /* for every session (TLS, timeouts...); NULL: defaults. Read as the
   * caller's nt_ftp_options_t, whose size the macro passes (docs/ABI.md: an
   * options struct points to another, never embeds it). Copied at start. */
  const nt_ftp_options_t *session;
  const char *user;     /* NULL: anonymous */
  const char *password;
  const char *remote; /* required */
  const char *local;  /* required: the file read (upload) or written */
  int upload;         /* 0: RETR remote -> local; 1: STOR local -> remote */
  int ascii;          /* TYPE A (no resume, no checksum: bytes differ) */
  /* downloads: continue LOCAL.part even without a state file (--resume);
   * uploads: continue the remote file from its SIZE at the first attempt */
  int resume;
  int max_retries;             /* attempts after the first (0: none) */
  uint64_t retry_delay_ms;     /* first wait (0: 1 s) */
  uint64_t max_retry_delay_ms; /* longest wait (0: 60 s) */
  uint64_t timeout_ms;         /* everything, waits included; 0: none */
  nt_ftp_verify_t verify;
  uint32_t jitter_seed; /* 0: getrandom; tests fix it */
} nt_ftp_transfer_options_t;

typedef struct nt_ftp_transfer_callbacks_s {
  /* Each new session (connected, not logged in yet), e.g. to show
   * progress with nt_ftp_xfer_bytes. May be NULL. */
  void (*on_session)(nt_ftp_transfer_t *t, nt_ftp_t *f, void *arg);
  /* A retry is due in delay_ms after error (an NT_E* code; res, when not
   * NULL, has the reply); resume_at is the byte it continues from. */
  void (*on_retry)(nt_ftp_transfer_t *t, int error, const nt_ftp_result_t *res,
                   uint64_t delay_ms, uint64_t resume_at, void *arg);
  /* Once, last: res->status 0 or why (as nt_ftp_done_cb; res->path: LOCAL,
   * or LOCAL.part when kept; res->local: a local file error). */
  void (*on_done)(nt_ftp_transfer_t *t, const nt_ftp_result_t *res,
                  void *arg);
} nt_ftp_transfer_callbacks_t;

/* Starts it (the first session connects from the loop). 0, or NT_EINVAL
 * (no host, remote or local; TLS without tls_ctx), NT_ENOMEM, -errno
 * opening LOCAL for an upload; then no callback. */
int nt_ftp_transfer_start_sized(size_t opts_size, size_t session_size,
                                nt_reactor_t *r,
                                const nt_ftp_transfer_options_t *opts,
                                const nt_ftp_transfer_callbacks_t *cbs,
                                void *arg, nt_ftp_transfer_t **out);
#define nt_ftp_transfer_start(...)                                            \
  nt_ftp_transfer_start_sized(sizeof(nt_ftp_transfer_options_t),             \
                              sizeof(nt_ftp_options_t), __VA_ARGS__)

/* Stops it: on_done(NT_ECANCELED) follows; LOCAL.part and its state kept. */
void nt_ftp_transfer_cancel(nt_ftp_transfer_t *t);

typedef struct nt_ftp_transfer_info_s {
  int attempts, retries;
  uint64_t offset;    /* bytes in place (LOCAL.part, or on the server) */
  uint64_t size;      /* the whole file; UINT64_MAX: unknown */
  uint64_t moved;     /* data bytes moved, all attempts */
  uint64_t resumed_at; /* where the first attempt started */
  const char *verified; /* "HASH SHA-256", "XMD5"...; "" when none */
  nt_ftp_t *session;  /* the running session, or NULL */
  /* About the last session's failure, for messages (in on_retry and
   * on_done): what it was about (nt_ftp_failure_where), whether it ended
   * the session itself (the control or data connection failed or timed
   * out) rather than a command being refused, whether its control
   * connection came up and whether the server greeted it. */
  nt_ftp_where_t where;
  int session_lost;
  int connected;
  int greeted;
} nt_ftp_transfer_info_t;
void nt_ftp_transfer_info_sized(size_t info_size, const nt_ftp_transfer_t *t,
                                nt_ftp_transfer_info_t *info);
#define nt_ftp_transfer_info(t, i)                                            \
  nt_ftp_transfer_info_sized(sizeof(nt_ftp_transfer_info_t), (t), (i))

/* --- checksums (also used alone; fuzzed) ------------------------------------ */

/* What a FEAT reply offers: NT_FTP_HASH_* bits for HASH's algorithms and
 * for the X commands. */
enum {
  NT_FTP_HASH_SHA256 = 1u << 0, /* HASH SHA-256 */
  NT_FTP_HASH_SHA512 = 1u << 1,
  NT_FTP_HASH_SHA1 = 1u << 2,
  NT_FTP_HASH_MD5 = 1u << 3,
  NT_FTP_HASH_CRC32 = 1u << 4,
  NT_FTP_XSHA256 = 1u << 8,
  NT_FTP_XSHA512 = 1u << 9,
  NT_FTP_XSHA1 = 1u << 10,
  NT_FTP_XMD5 = 1u << 11,
  NT_FTP_XCRC = 1u << 12,
};
unsigned nt_ftp_parse_feat_hash(const char *text, size_t len);

/* The digest in a checksum reply's text ("SHA-256 0-1023 9f86... name"
 * for HASH, "9f86..." or "9f86... name" for the X commands): the first
 * word of exactly 2*want_len hex digits, into out. 0 or NT_EFTP_BADREPLY. */
int nt_ftp_parse_hash_reply(const char *text, size_t len, size_t want_len,
                            unsigned char *out);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
