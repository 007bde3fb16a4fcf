/* NZB: the XML index of a Usenet binary post (every file's articles by
 * Message-ID), parsed with libexpat; and the downloader that fetches every
 * segment over NNTP (several connections, several servers tried in turn for
 * missing articles), decodes its yEnc (nettool/yenc.h), checks each part's
 * CRC32 and the whole file's, and assembles each file with pwrite at the
 * part's offset into NAME.part, renamed to NAME once every segment checked.
 * A state file next to it (NAME.part.state, replaced whole: temp + rename)
 * lists the segments written, so a run that was killed resumes.
 *
 * Ownership: nt_nzb_t comes from nt_nzb_parse/nt_nzb_load and is freed by
 * nt_nzb_free; every string in it belongs to it. A download (nt_nzb_get_t)
 * copies its options (servers, strings) but not the nt_nzb_t nor a TLS
 * context, which must outlive it; it is freed by nettool right after its
 * done() callback returns. Callbacks run on the reactor's thread.
 */
#ifndef NETTOOL_NZB_H
#define NETTOOL_NZB_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <nettool/errno.h>
#include <nettool/nntp.h>
#include <nettool/reactor.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/* --- the file ------------------------------------------------------------------------ */

typedef struct nt_nzb_segment_s {
  uint64_t bytes;   /* bytes= (the article's size as the poster saw it) */
  int number;       /* number= (1-based part number) */
  char *message_id; /* "<...>": the NZB's text with the brackets added */
} nt_nzb_segment_t;

typedef struct nt_nzb_file_s {
  char *subject, *poster; /* "" when absent */
  time_t date;            /* date= (0 if absent) */
  char **groups;
  size_t ngroups;
  nt_nzb_segment_t *segments; /* sorted by number, duplicates dropped */
  size_t nsegments;
  uint64_t bytes;   /* the sum of the segments' bytes= */
  char *name;       /* the file name: the subject's "quoted" part (else
                       the subject), made safe (nt_nzb_safe_name) */
} nt_nzb_file_t;

typedef struct nt_nzb_s {
  nt_nzb_file_t *files;
  size_t nfiles;
  char *title;    /* <meta type="title">, "" if none */
  char *password; /* <meta type="password">, "" if none */
} nt_nzb_t;

/* Parses an NZB document. Returns 0 (*out set), NT_ENZB_PARSE (not XML,
 * not an NZB, a segment without a number or Message-ID, a file without
 * segments, no files; err gets expat's words and the line), NT_ETOOBIG
 * (over 64 MiB or 1,000,000 segments), NT_ENOMEM, NT_ENOTSUP (libexpat,
 * loaded for the parse only in the usual build, cannot be loaded: err says
 * why). err may be NULL. */
int nt_nzb_parse(const char *xml, size_t len, nt_nzb_t **out, char *err,
                 size_t errlen);
/* Reads and parses a file; also NT_ENOENT, NT_EACCES, NT_EIO... */
int nt_nzb_load(const char *path, nt_nzb_t **out, char *err, size_t errlen);
void nt_nzb_free(nt_nzb_t *n);

/* A safe local file name from a subject or a yEnc name: the text between
 * the first pair of double quotes if any, directories stripped, control
 * characters and '/' as '_', no leading '.' or '-', at most 200 bytes;
 * "" and "." and ".." become `fallback`. Writes into out (cap >= 2).
 * Returns out. */
char *nt_nzb_safe_name(const char *subject, const char *fallback, char *out,
                       size_t cap);

/* --- downloading ---------------------------------------------------------------------- */

typedef struct nt_nzb_get_s nt_nzb_get_t;

typedef struct nt_nzb_get_options_s {
  const char *dir;  /* output folder; NULL: "." */
  int connections;  /* per server (nt_nzb_get_add_server may say
                       otherwise); 0: 4 */
  int window;       /* BODY commands queued per connection; 0: 2 */
  int retries;      /* per server: reconnect waits in a row (one per
                       outage; a connection that gets through set-up
                       starts the count over) before its work moves on to
                       the next server, and breakages a segment may cause
                       there before it moves on; 0: 3; negative: none.
                       Errors that cannot heal (credentials refused, TLS,
                       a 502 greeting) move the work on at once */
  int no_resume;    /* ignore (and replace) existing state files */
  /* The wait before a reconnect: exponential from retry_delay_ms (0: 1 s)
   * up to max_retry_delay_ms (0: 60 s), with jitter (nettool/backoff.h). */
  uint64_t retry_delay_ms;
  uint64_t max_retry_delay_ms;
} nt_nzb_get_options_t;

/* How one segment ended (after every server was tried). */
typedef enum nt_nzb_seg_status_e {
  NT_NZB_SEG_PENDING = 0,
  NT_NZB_SEG_OK,      /* decoded, CRC32 checked, written */
  NT_NZB_SEG_RESUMED, /* written by an earlier run (state file) */
  NT_NZB_SEG_MISSING, /* 430/423 on every server */
  NT_NZB_SEG_DAMAGED, /* CRC32 or size wrong, or not yEnc, on every server
                         that had it (the last copy was written anyway:
                         PAR2 can repair it) */
  NT_NZB_SEG_FAILED,  /* the servers refused or could not be reached */
} nt_nzb_seg_status_t;

typedef struct nt_nzb_progress_s {
  size_t files, files_done;         /* files complete (renamed) */
  size_t segments, segments_done;   /* done: ok + resumed + failed */
  size_t segments_failed;           /* missing + damaged + failed */
  uint64_t bytes, bytes_done;       /* NZB bytes= of all / of done segments */
  uint64_t decoded;                 /* decoded bytes written by this run */
} nt_nzb_progress_t;

typedef struct nt_nzb_callbacks_s {
  /* A segment ended (status as above; error: the last NT_E* cause, e.g.
   * NT_ENNTP_NOARTICLE, NT_EYENC_CRC; server: the index of the server
   * that gave the last answer). May be NULL. */
  void (*segment)(nt_nzb_get_t *g, size_t file, size_t seg,
                  nt_nzb_seg_status_t status, int error, size_t server,
                  void *arg);
  /* A file ended: 0 (complete, CRC32 of the whole checked when the post
   * gave one, renamed to path), NT_ENZB_INCOMPLETE (segments missing or
   * damaged: path is NAME.part, with every good segment in place),
   * NT_EYENC_CRC (every segment fine but the whole file's CRC32 is not),
   * or a file error (NT_ENOSPC...). May be NULL. */
  void (*file)(nt_nzb_get_t *g, size_t file, const char *path, int status,
               void *arg);
  /* After each segment (and once at the start, with resumed work counted).
   * May be NULL. */
  void (*progress)(nt_nzb_get_t *g, const nt_nzb_progress_t *p, void *arg);
  /* Everything ended: 0 (every file complete), NT_ENZB_INCOMPLETE, a file
   * error, or NT_ECANCELED (nt_nzb_get_cancel). The download is freed
   * when this returns. */
  void (*done)(nt_nzb_get_t *g, int status, void *arg);
} nt_nzb_callbacks_t;

/* A download on reactor r, not started: add servers, then start. Returns
 * 0, NT_EINVAL (no files), NT_ENOTSUP (options this library does not
 * know), NT_ENOMEM. */
int nt_nzb_get_new_sized(size_t opts_size, nt_reactor_t *r, const nt_nzb_t *nzb,
                         const nt_nzb_get_options_t *opts,
                         const nt_nzb_callbacks_t *cbs, void *arg,
                         nt_nzb_get_t **out);
#define nt_nzb_get_new(...) \
  nt_nzb_get_new_sized(sizeof(nt_nzb_get_options_t), __VA_ARGS__)
/* Adds a news server (tried in the order added: an article missing (430)
 * or damaged on one is asked of the next). nntp: credentials, TLS,
 * timeouts (copied; NULL: defaults); port 0: 119 (563 for implicit TLS);
 * connections 0: the download's. Returns 0, NT_EINVAL, NT_ENOMEM. */
int nt_nzb_get_add_server_sized(size_t nntp_opts_size, nt_nzb_get_t *g,
                                const char *host, int port,
                                const nt_nntp_options_t *nntp,
                                int connections);
#define nt_nzb_get_add_server(...) \
  nt_nzb_get_add_server_sized(sizeof(nt_nntp_options_t), __VA_ARGS__)
/* Starts: the state files are read (resumed segments are not fetched
 * again; a file already complete, NAME there without NAME.part, is
 * skipped), the .part files opened and the connections made. Returns 0
 * (callbacks follow; the download frees itself after done()), NT_EINVAL
 * (no server), NT_ENOTSUP (zlib, which checks the yEnc CRC32s, cannot be
 * loaded), a file error (the folder, a .part file: nothing started; free
 * it with nt_nzb_get_free), NT_ENOMEM. */
int nt_nzb_get_start(nt_nzb_get_t *g);
/* Frees a download that was never started (or whose start failed). */
void nt_nzb_get_free(nt_nzb_get_t *g);
/* Stops: the connections close, the state files are written (a later run
 * resumes), done() follows with NT_ECANCELED. */
void nt_nzb_get_cancel(nt_nzb_get_t *g);
/* A segment's status so far. */
nt_nzb_seg_status_t nt_nzb_get_segment_status(const nt_nzb_get_t *g,
                                              size_t file, size_t seg);
/* The file's local path: DIR/NAME once complete, DIR/NAME.part before. */
const char *nt_nzb_get_path(const nt_nzb_get_t *g, size_t file);
/* "ok", "resumed", "missing", "damaged", "failed", "pending". */
const char *nt_nzb_seg_status_name(nt_nzb_seg_status_t s);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
