/* HTTP downloads to a file that never start over: retries that resume with
 * Range + If-Range, a state file next to the part file so that running the
 * same download again after a crash continues it, and the server's digests
 * (Repr-Digest, Content-Digest, Content-MD5) checked. Built on nt_http
 * requests (nettool/http.h). */
#ifndef NETTOOL_HTTP_DOWNLOAD_H
#define NETTOOL_HTTP_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/http.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/*
 * How a download goes
 * -------------------
 * Bytes are written to PATH.part; PATH.part.state (written to a temporary
 * file, synced and renamed, so a kill at any moment leaves the old or the
 * new state, never half of one) records the URL and the validators of the
 * bytes in the part file (a strong ETag, else Last-Modified) and the size.
 * Only when the whole representation has arrived (and its digest, if the
 * server sent one, matches) is PATH.part renamed over PATH and the state
 * file removed: PATH is never truncated or half-written.
 *
 * Each retry, and a new download of the same URL into the same PATH after a
 * crash, asks for the rest only: "Range: bytes=N-" with "If-Range:" the
 * validator. Then:
 *  - 206 starting at N: the bytes are appended;
 *  - 200 (the resource changed, or the server has no ranges): the part file
 *    is emptied and the whole body written, never spliced onto old bytes;
 *  - 206 starting elsewhere: the part file is emptied and the download
 *    starts over;
 *  - 416 saying the size is N: the part file was already whole.
 * A part file without a state file (or for another URL) starts over.
 *
 * Retries (max_retries): connection errors, timeouts, a connection cut
 * mid-body, 408/429/500/502/503/504. Not retried (they cannot heal): other
 * 4xx and 5xx answers, name errors (NT_EDNS_NXDOMAIN), certificate
 * failures, bad URLs, too many redirects, local file errors, a digest
 * mismatch. The wait: Retry-After when the server sent one (capped at
 * max_retry_delay_ms), else retry_delay_ms doubled after each attempt that
 * moved no byte (an attempt that moved bytes starts the doubling over; one
 * that moved 1 MiB or more of body retries at once), capped, with jitter (a
 * random half of it added to the other half). The
 * total limit (timeout_ms) covers every attempt and wait.
 *
 * Ownership: nt_http_download_t is nettool's from start until its on_done
 * returns (on_done runs exactly once, from the loop), then freed. The
 * options' strings are copied. The client must outlive the download.
 */

typedef struct nt_http_download_s nt_http_download_t;

typedef struct nt_http_download_options_s {
  const char *url;  /* required */
  const char *path; /* required: the file to write (through PATH.part) */
  /* As nt_http_request_options_t (Range and If-Range may not be given:
   * NT_EINVAL). */
  const char *const *headers;
  const char *user;
  const char *password;
  uint64_t timeout_ms; /* total, all attempts and waits included; 0: none */
  uint64_t idle_timeout_ms;
  uint64_t connect_timeout_ms;
  int max_redirects;
  /* Attempts after the first (0: none). */
  int max_retries;
  /* The first wait (0: 1 s) and the longest (0: 60 s); Retry-After is
   * capped at the longest. */
  uint64_t retry_delay_ms;
  uint64_t max_retry_delay_ms;
  /* Start over even when PATH.part and its state could be continued. */
  int no_resume;
  /* Do not check the server's digests. */
  int no_verify;
  /* The jitter's random source: 0 reads getrandom; tests fix it. */
  uint32_t jitter_seed;
} nt_http_download_options_t;

typedef struct nt_http_download_callbacks_s {
  /* Each attempt's final answer (before its body). May be NULL. */
  void (*on_response)(nt_http_download_t *d, const nt_http_response_t *resp,
                      void *arg);
  /* A redirect is followed (informational). May be NULL. */
  void (*on_redirect)(nt_http_download_t *d, int status, const char *to,
                      void *arg);
  /* A retry is due in delay_ms after status_or_error (an HTTP status > 0
   * or an NT_E* code); resume_at is the byte it will ask from (0: the
   * whole). May be NULL. */
  void (*on_retry)(nt_http_download_t *d, int status_or_error,
                   uint64_t delay_ms, uint64_t resume_at, void *arg);
  /* Once, last. status 0: an answer arrived whole (a 2xx: PATH is there;
   * see nt_http_download_info for the HTTP status); otherwise why it
   * failed: an NT_E* code of nt_http (nt_http_download_error says more),
   * NT_EDIGEST (PATH.part kept for inspection, its state removed so that
   * the next run starts over), or -errno writing the file. */
  void (*on_done)(nt_http_download_t *d, int status, void *arg);
} nt_http_download_callbacks_t;

/* Starts the download: the part file is opened (continued or emptied) and
 * the first request started. Returns 0 (on_done will run), or an error and
 * no callback: NT_EINVAL (no url or path, Range/If-Range among the
 * headers), the errors of nt_http_request_start, -errno opening the part
 * file. */
int nt_http_download_start_sized(size_t opts_size, nt_http_client_t *c,
                                 const nt_http_download_options_t *opts,
                                 const nt_http_download_callbacks_t *cbs,
                                 void *arg, nt_http_download_t **out);
#define nt_http_download_start(...)                                           \
  nt_http_download_start_sized(sizeof(nt_http_download_options_t),           \
                               __VA_ARGS__)

/* Stops it: on_done(NT_ECANCELED) follows from the loop; the part file and
 * its state are kept, so the same download can continue later. */
void nt_http_download_cancel(nt_http_download_t *d);

typedef struct nt_http_download_info_s {
  int http_status;     /* the last answer's status (0: none yet) */
  uint64_t offset;     /* bytes in PATH.part (when done: PATH's size) */
  int64_t total;       /* the whole representation's size; -1: unknown */
  uint64_t resumed_at; /* where this run's first attempt started */
  uint64_t received;   /* body bytes received, all attempts */
  uint64_t discarded;  /* bytes thrown away: a changed resource, a server
                          without ranges, a bad Content-Range */
  int attempts, retries, restarts;
  /* The digest that was checked ("Repr-Digest sha-256", "Content-MD5"...);
   * "" when the server sent none or no_verify. */
  const char *verified;
  /* The running or last request's progress (connected, limit...). */
  nt_http_progress_t request;
  /* Non-zero: the status is a local error writing PATH.part or PATH. */
  int local;
} nt_http_download_info_t;

/* Fills *info (the caller's sizeof: see docs/ABI.md). Valid until on_done
 * returns. */
void nt_http_download_info_sized(size_t info_size, const nt_http_download_t *d,
                                 nt_http_download_info_t *info);
#define nt_http_download_info(d, info)                                        \
  nt_http_download_info_sized(sizeof(nt_http_download_info_t), (d), (info))

/* Why it failed (the request's words, or the digest that did not match);
 * "" if nothing more to say. */
const char *nt_http_download_error(const nt_http_download_t *d);
/* The URL answered last (after redirects), without credentials. */
const char *nt_http_download_url(const nt_http_download_t *d);
/* The request running now (NULL while waiting to retry), for progress. */
nt_http_request_t *nt_http_download_request(const nt_http_download_t *d);
/* "PATH.part" (valid until on_done returns). */
const char *nt_http_download_part_path(const nt_http_download_t *d);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
