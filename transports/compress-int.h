/* The deflate layer's loading (compress_zlib.c), for protocols that ask
 * before they negotiate compression. */
#ifndef NETTOOL_COMPRESS_INT_H
#define NETTOOL_COMPRESS_INT_H

/* Loads zlib if it is not yet (NT_ZLIB_LAZY; at once otherwise): 0, or
 * NT_ENOTSUP (libz cannot be loaded; logged once). Thread-safe. */
int nt__compress_load(void);

#endif
