/* nt_version(): the version compiled into the library (nettool/version.h is
 * generated from project(VERSION) in CMakeLists.txt). */
#include <nettool/version.h>

const char *nt_version(void) { return NT_VERSION_STRING; }

unsigned nt_version_number(void) { return NT_VERSION_HEX; }
