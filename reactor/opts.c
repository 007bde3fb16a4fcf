/* Reading a caller's options struct whatever release it was built for. */
#include <string.h>

#include "reactor-int.h"

int nt__opts_copy(void *dst, size_t dst_size, const void *src, size_t size) {
  memset(dst, 0, dst_size);
  if (!src) return 0;
  if (size > dst_size) {
    const unsigned char *tail = (const unsigned char *)src + dst_size;
    for (size_t i = 0; i < size - dst_size; i++)
      if (tail[i]) return NT_ENOTSUP;
    size = dst_size;
  }
  memcpy(dst, src, size);
  return 0;
}
