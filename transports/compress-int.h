/* zlib for the rest of the library (compress_zlib.c): the deflate layer's
 * loading, for protocols that ask before they negotiate compression, and
 * zlib's CRC32 for yEnc (protocols/nntp/yenc.c). */
#ifndef NETTOOL_COMPRESS_INT_H
#define NETTOOL_COMPRESS_INT_H

#include <stddef.h>
#include <stdint.h>

/* Loads zlib if it is not yet (NT_ZLIB_LAZY; at once otherwise): 0, or
 * NT_ENOTSUP (libz cannot be loaded; logged once). Thread-safe. */
int nt__compress_load(void);
/* The file NT_ZLIB_LAZY loads (NT_ZLIB_SONAME); tests point it at one that
 * does not exist before the first load. */
extern const char *nt__zlib_soname;

/* zlib's crc32 over len bytes, continuing from *crc, and crc32_combine64
 * (*crc1 becomes the CRC of piece 1 then piece 2): 0, or NT_ENOTSUP with
 * *crc untouched when zlib cannot be loaded (nt__compress_load). */
int nt__zlib_crc32(uint32_t *crc, const void *buf, size_t len);
int nt__zlib_crc32_combine(uint32_t *crc1, uint32_t crc2, uint64_t len2);

#endif
