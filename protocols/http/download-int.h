/* Private to protocols/http: the download's state file (download_state.c)
 * and the pure decisions download.c takes on each answer (download_plan.c),
 * kept apart so the unit tests can call them directly. */
#ifndef NETTOOL_DOWNLOAD_INT_H
#define NETTOOL_DOWNLOAD_INT_H

#include <stdint.h>

#include "digest-int.h"
#include "nettool/http.h"

typedef struct nt__dl_state_s {
  char url[NT_URL_MAX + 300];
  char etag[512];
  char last_modified[64];
  int64_t total; /* -1: unknown */
} nt__dl_state_t;

/* 0, or -errno / NT_ETOOBIG / NT_ENOMEM (the old state stays). */
int nt__dl_state_save(const char *state_path, const nt__dl_state_t *s);
/* 0, -errno (none), NT_EPROTO (not a state file of ours), NT_ETOOBIG. */
int nt__dl_state_load(const char *state_path, nt__dl_state_t *s);
void nt__dl_state_remove(const char *state_path);

/* "bytes FIRST-LAST/COMPLETE" (COMPLETE may be "*": -1) or "bytes
 * * /COMPLETE" (first = last = -1): 0, or -1 when it does not parse. */
int nt__dl_parse_content_range(const char *v, int64_t *first, int64_t *last,
                               int64_t *complete);

/* Retry-After: delta-seconds, or an HTTP-date (against now_wall, seconds
 * since the epoch). The wait in ms, or -1 when it does not parse. A date in
 * the past is 0. */
int64_t nt__dl_parse_retry_after(const char *v, int64_t now_wall);

/* A digest the server announced, for one algorithm we can compute. */
typedef struct nt__dl_digest_s {
  nt__dg_alg_t alg; /* NT__DG_NONE: none */
  unsigned char want[NT__DG_MAX];
  size_t len;
} nt__dl_digest_t;

/* The strongest usable digest in a Repr-Digest / Content-Digest value
 * (RFC 9530: a structured dictionary, "sha-256=:BASE64:, sha-512=:...:");
 * 0 with d->alg NONE when there is none we know; -1 when malformed. */
int nt__dl_parse_digest_field(const char *v, nt__dl_digest_t *d);
/* Content-MD5 (RFC 1864: base64 of 16 bytes): 0 or -1. */
int nt__dl_parse_content_md5(const char *v, nt__dl_digest_t *d);

/* Whether an error can heal with a retry (connection trouble, timeouts, a
 * cut transfer), as opposed to bad URLs, names that do not exist,
 * certificates, local errors. connected: the attempt got a connection. */
int nt__dl_transient(int status);
/* Whether an HTTP answer is worth another try (408, 429, 500, 502-504). */
int nt__dl_retryable_status(int status);
/* The wait before a retry: nt__backoff (backoff-int.h), n counting only
 * attempts that moved no byte. */

#endif
