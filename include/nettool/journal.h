/* A crash-safe journal: a small key/value state file kept next to a transfer's
 * local (or part) file, so that a transfer killed at any moment -- SIGKILL,
 * power cut of the process, not only a network error -- can continue where it
 * stopped when the same command runs again.
 *
 * PUBLIC API (nt_journal_*), used by the resumable upload (tus.h) and by
 * retried downloads; programs may use it for their own state too.
 *
 * Crash safety: nt_journal_save writes the whole state to "PATH.tmp",
 * fsyncs it, renames it over PATH (atomic on POSIX file systems) and fsyncs
 * the directory. A process killed at any point of a save therefore leaves
 * PATH holding either the previous state or the new one, never a mix; a
 * stale PATH.tmp is ignored by nt_journal_load and replaced by the next
 * save. The file also ends with a CRC-32 of its contents, so a file damaged
 * by other means (truncated copy, editing) is refused (NT_EJOURNAL) rather
 * than half believed.
 *
 * File format (text, one entry per line, UTF-8 or any bytes escaped):
 *     nettool-journal 1
 *     key=value
 *     ...
 *     end=<entries> <crc32 of every byte before this line, 8 hex digits>
 * Keys are 1..NT_JOURNAL_MAX_KEY bytes of [A-Za-z0-9._-]; in values '%',
 * CR, LF and bytes below 0x20 or 0x7f are written as %XX.
 *
 * Ownership: nt_journal_t is the caller's, from nt_journal_new (or
 * nt_journal_load) to nt_journal_free; it copies keys and values. Strings
 * returned by nt_journal_get stay valid until that key is set again or the
 * journal is freed. Not thread-safe; no locking between processes (two
 * processes saving the same journal each leave a whole state, the last one
 * wins).
 */
#ifndef NETTOOL_JOURNAL_H
#define NETTOOL_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <nettool/errno.h>

#ifdef __cplusplus
extern "C" {
#endif
#if defined(__GNUC__)
#pragma GCC visibility push(default) /* public: see docs/ABI.md */
#endif

/* Limits; beyond them NT_EINVAL (set) or NT_EJOURNAL (load). */
#define NT_JOURNAL_MAX_KEY 64
#define NT_JOURNAL_MAX_VALUE 8192   /* bytes of one value, unescaped */
#define NT_JOURNAL_MAX_ENTRIES 128
#define NT_JOURNAL_MAX_FILE (256u << 10) /* bytes of the file */

typedef struct nt_journal_s nt_journal_t;

/* An empty journal. Returns 0 or NT_ENOMEM. */
int nt_journal_new(nt_journal_t **out);
void nt_journal_free(nt_journal_t *j);

/* Sets key to value (copied; any bytes but NUL). value NULL removes the key.
 * Returns 0, NT_EINVAL (bad key, value too long, too many entries),
 * NT_ENOMEM. */
int nt_journal_set(nt_journal_t *j, const char *key, const char *value);
/* The same with a number, written in decimal. */
int nt_journal_set_u64(nt_journal_t *j, const char *key, uint64_t value);

/* The value of key, or NULL when absent. */
const char *nt_journal_get(const nt_journal_t *j, const char *key);
/* The value of key as a decimal number: 0, NT_ENOENT (absent), NT_EINVAL
 * (not a number or over UINT64_MAX). */
int nt_journal_get_u64(const nt_journal_t *j, const char *key, uint64_t *out);

/* Number of entries, and the i-th key (in insertion order), NULL past the
 * end. */
size_t nt_journal_count(const nt_journal_t *j);
const char *nt_journal_key(const nt_journal_t *j, size_t i);

/* Removes every entry. */
void nt_journal_clear(nt_journal_t *j);

/* Reads the journal at path into a new journal (*out, the caller's). Returns
 * 0, NT_ENOENT (no journal there), NT_EJOURNAL (not a complete nettool
 * journal: damaged, truncated, unknown version, over the limits), NT_ENOMEM,
 * or the -errno of open/read. *out is NULL on error. */
int nt_journal_load(const char *path, nt_journal_t **out);

/* Replaces the journal at path with j, crash-safely (see above): a kill at
 * any moment leaves either the old file or the new one. Returns 0 or the
 * -errno of the failed step (NT_ENOSPC, NT_EACCES...); on error the old
 * journal is still in place. The file is created with mode 0600. */
int nt_journal_save(const nt_journal_t *j, const char *path);

/* Deletes the journal at path (and a stale "path.tmp"). Returns 0 (also
 * when there was none) or the -errno of unlink. */
int nt_journal_remove(const char *path);

/* An identity for an open file, as "size:mtime_ns:dev:inode", to keep in a
 * journal and compare on the next run: any change of the file's size, its
 * modification time, or its replacement by another file changes it.
 * Returns the length it needed (as snprintf), 0 on an fstat error. 64 bytes
 * is always enough. */
size_t nt_journal_file_id(int fd, char *buf, size_t size);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif

#endif
