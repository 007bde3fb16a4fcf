/* Read marks in the .newsrc format that rn, tin and slrn keep (newsrc(5)):
 * one line per group, "name:" (subscribed) or "name!" (not), then the
 * numbers read as ranges: "comp.lang.c: 1-120,125". An "options" line and
 * its continuation lines (starting with a space or tab), and lines this
 * parser does not understand, are kept as they were. Lines of groups that
 * were not changed are written back byte for byte; a changed group is
 * written as "name: ranges" with its ranges merged and sorted. No I/O
 * except nt_newsrc_load / nt_newsrc_save; no reactor. */
#ifndef NETTOOL_NEWSRC_H
#define NETTOOL_NEWSRC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

typedef struct nt_newsrc_s nt_newsrc_t;

/* Parses text (a whole file). A group's ranges may be in any order and
 * overlap; numbers above 2^63 or a malformed range make that line
 * "unknown" (kept as it is, its group not known). Returns 0 or NT_ENOMEM;
 * NT_ETOOBIG over 64 MiB. */
int nt_newsrc_parse(const char *text, size_t len, nt_newsrc_t **out);
/* Loads a file; a missing file is an empty newsrc (0). Errors: -errno,
 * NT_ENOMEM, NT_ETOOBIG. */
int nt_newsrc_load(const char *path, nt_newsrc_t **out);
/* The file's text; *out is malloc'ed (NUL-terminated), the caller frees. */
int nt_newsrc_format(const nt_newsrc_t *n, char **out, size_t *len);
/* Writes path.tmp, fsyncs it and renames it over path (the old file is
 * never half-written; its permission bits are kept, 0600 for a new one).
 * 0 or -errno / NT_ENOMEM. */
int nt_newsrc_save(const nt_newsrc_t *n, const char *path);
void nt_newsrc_free(nt_newsrc_t *n);

/* 1 subscribed (':'), 0 not ('!'), -1 not listed. */
int nt_newsrc_subscribed(const nt_newsrc_t *n, const char *group);
/* Adds the group (subscribed, nothing read) when it is not listed, at the
 * end. 0, NT_EINVAL (not a group name), NT_ENOMEM. */
int nt_newsrc_add(nt_newsrc_t *n, const char *group);
/* 1 if article num of group was read. */
int nt_newsrc_is_read(const nt_newsrc_t *n, const char *group, uint64_t num);
/* Marks lo..hi read (the group is added when missing). 0, NT_EINVAL
 * (lo > hi, lo == 0, bad name), NT_ENOMEM. */
int nt_newsrc_mark_read(nt_newsrc_t *n, const char *group, uint64_t lo,
                        uint64_t hi);
/* The unread runs of group within [low, high] (a GROUP reply's range), in
 * order: cb(lo, hi, arg) for each; returns how many articles that is. */
uint64_t nt_newsrc_unread(const nt_newsrc_t *n, const char *group,
                          uint64_t low, uint64_t high,
                          void (*cb)(uint64_t lo, uint64_t hi, void *arg),
                          void *arg);
/* The group's ranges as newsrc text ("1-120,125"), into buf; "" when none
 * or not listed. Returns the length it needs (as snprintf). */
size_t nt_newsrc_ranges(const nt_newsrc_t *n, const char *group, char *buf,
                        size_t size);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
