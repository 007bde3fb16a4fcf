/* nt_strerror and nt_err_name, generated from NT_ERRNO_MAP. */
#include <string.h>

#include "nettool/errno.h"

const char *nt_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
#define NT__ERR_MSG(name, value, msg)                                          \
  case value:                                                                  \
    return msg;
    NT_ERRNO_MAP(NT__ERR_MSG)
#undef NT__ERR_MSG
  default:
    break;
  }
  if (code < 0 && code > -4096) return strerror(-code);
  return "unknown error";
}

const char *nt_err_name(int code) {
  switch (code) {
  case 0:
    return "OK";
#define NT__ERR_NAME(name, value, msg)                                         \
  case value:                                                                  \
    return #name;
    NT_ERRNO_MAP(NT__ERR_NAME)
#undef NT__ERR_NAME
  default:
    return "UNKNOWN";
  }
}
