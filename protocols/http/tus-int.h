/* Resumable uploads (nettool/tus.h), inside: the dialect interface that
 * separates the upload's state machine (tus_upload.c) from one protocol's
 * words (tus_dialect.c: tus 1.0), and the header parsers (tus_parse.c).
 *
 * A dialect turns each operation of the state machine into a request
 * (method + header lines) and each answer into a result; the state machine
 * never looks at a header itself. A second dialect (the IETF draft: Upload-
 * Offset / Upload-Complete / Upload-Draft-Interop-Version, 104 interim
 * answers, POST with the body) adds one nt__upload_dialect_t and no state. */
#ifndef NT_TUS_INT_H
#define NT_TUS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "nettool/http.h"
#include "nettool/tus.h"

/* What the state machine asks of the server. */
typedef enum {
  NT__UP_DISCOVER = 0, /* tus: OPTIONS endpoint */
  NT__UP_OFFSET,       /* tus: HEAD url */
  NT__UP_CREATE,       /* tus: POST endpoint */
  NT__UP_APPEND,       /* tus: PATCH url with a piece */
  NT__UP_TERMINATE,    /* tus: DELETE url */
} nt__up_op_t;

/* Checksum algorithms nettool can compute for a piece, best first. */
typedef enum {
  NT__UP_CK_NONE = 0,
  NT__UP_CK_SHA1,
  NT__UP_CK_SHA256,
  NT__UP_CK_MD5,
} nt__up_ck_t;

/* What the server offers (filled by DISCOVER). */
typedef struct nt__up_caps {
  int creation, termination;
  uint64_t max_size; /* 0: no limit said */
  nt__up_ck_t checksum; /* the algorithm chosen from the server's list */
} nt__up_caps_t;

/* The parameters of one request. */
typedef struct nt__up_call {
  nt__up_op_t op;
  uint64_t total;  /* CREATE: Upload-Length */
  uint64_t offset; /* APPEND */
  uint64_t len;    /* APPEND: bytes in this piece */
  const char *metadata; /* CREATE: the encoded Upload-Metadata, or "" */
  nt__up_ck_t checksum; /* APPEND: NONE or the algorithm */
  const char *digest_b64; /* APPEND: the piece's digest, base64 */
} nt__up_call_t;

/* Up to this many header lines per request (the dialect's). */
#define NT__UP_MAX_LINES 8

typedef struct nt__up_request {
  const char *method;
  char *lines[NT__UP_MAX_LINES]; /* "Name: value", malloc'd */
  size_t nlines;
} nt__up_request_t;

/* How an answer reads. */
typedef enum {
  NT__UP_R_OK = 0,    /* done: offset/location/caps filled as the op says */
  NT__UP_R_GONE,      /* the server does not have the upload (404, 410) */
  NT__UP_R_CONFLICT,  /* the offset was not the server's (409) */
  NT__UP_R_CHECKSUM,  /* the piece's checksum did not match (460) */
  NT__UP_R_TRANSIENT, /* try again later (5xx, 408, 429, 423) */
  NT__UP_R_REFUSED,   /* a final no (other 4xx) */
  NT__UP_R_PROTOCOL,  /* not what the protocol allows */
} nt__up_result_kind_t;

typedef struct nt__up_result {
  nt__up_result_kind_t kind;
  uint64_t offset;    /* OFFSET, APPEND: the server's Upload-Offset */
  int64_t length;     /* OFFSET: Upload-Length, -1 if not said */
  const char *location; /* CREATE: the Location (points into the response) */
  uint64_t retry_after_ms; /* TRANSIENT: Retry-After, 0 if not said */
  char why[160];      /* what was wrong, for the error line */
} nt__up_result_t;

typedef struct nt__upload_dialect {
  const char *name;
  /* Fills req for call (lines malloc'd; nt__up_request_free). 0 or
   * NT_ENOMEM. */
  int (*request)(const nt__up_caps_t *caps, const nt__up_call_t *call,
                 nt__up_request_t *req);
  /* Reads the answer to call; DISCOVER fills caps. */
  void (*response)(const nt__up_call_t *call, const nt_http_response_t *resp,
                   nt__up_caps_t *caps, nt__up_result_t *res);
} nt__upload_dialect_t;

extern const nt__upload_dialect_t nt__upload_tus1;

void nt__up_request_free(nt__up_request_t *req);

/* --- parsers (tus_parse.c; fuzzed by tests/fuzz/fuzz_tus.c) --------------- */

/* A header value that must be a plain decimal number (Upload-Offset,
 * Upload-Length, Tus-Max-Size): optional spaces around, digits only, no
 * sign, at most UINT64_MAX. 0 or -1. */
int nt__tus_parse_u64(const char *s, uint64_t *out);

/* Non-zero if the comma-separated list s (spaces around items allowed,
 * case-insensitive) has item. */
int nt__tus_list_has(const char *s, const char *item);

/* The best algorithm of a Tus-Checksum-Algorithm list that nettool has
 * (sha1 first: the one every tus server has; then sha256, md5). */
nt__up_ck_t nt__tus_pick_checksum(const char *list);
const char *nt__tus_checksum_name(nt__up_ck_t ck);

/* Retry-After as delay-seconds (an HTTP date is ignored): ms, or 0. At most
 * one hour. */
uint64_t nt__tus_retry_after(const char *s);

/* Upload-Metadata: "key b64(value),key b64(value)" (an empty value: the key
 * alone). Keys must be 1..64 of [A-Za-z0-9._-] and not repeat: NT_EINVAL.
 * *out malloc'd. */
int nt__tus_metadata_encode(const char *const *keys, const char *const *values,
                            size_t n, char **out);
/* The other way, for tests and the fuzzer: calls fn for each pair (value
 * decoded, NUL-terminated; len without it). 0, or -1 for a malformed list. */
int nt__tus_metadata_decode(const char *s,
                            void (*fn)(void *arg, const char *key,
                                       const char *value, size_t len),
                            void *arg);

/* The digest of bytes [off, off+len) of fd, base64 (out: 96 bytes of room).
 * 0 or -errno. */
int nt__tus_digest(nt__up_ck_t ck, int fd, uint64_t off, uint64_t len,
                   char *out, size_t size);

#endif
