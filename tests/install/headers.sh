#!/usr/bin/env bash
# Every public header compiles on its own, as C11 and as C++17, with
# -Wall -Wextra -pedantic -Werror; the headers include each other as
# <nettool/x.h>; C++ sees C linkage; nettool's errno.h never shadows the
# system's <errno.h>, even with include/nettool itself on the include path.
# usage: headers.sh SOURCE_DIR [C_COMPILER [GENERATED_INCLUDE_DIR]]
# (the build's include/ with the generated nettool/version.h)
set -u
src=${1:?source dir}
cc=${2:-cc}
gen=${3:-}
cxx=${CXX:-}
if [ -z "$cxx" ]; then
  for c in c++ g++ clang++; do command -v "$c" >/dev/null && { cxx=$c; break; }; done
fi
inc=$src/include
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
ok()  { n=$((n + 1)); echo "ok $n - $*"; }
bad() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }
cflags=(-std=c11 -Wall -Wextra -pedantic -Werror -fsyntax-only)
cxxflags=(-std=c++17 -Wall -Wextra -pedantic -Werror -fsyntax-only)

headers=$(cd "$inc/nettool" && ls ./*.h | sed 's|^\./||')
[ -n "$headers" ] || { echo "no headers under $inc/nettool"; exit 1; }
dirs=(-I"$inc")
if [ -n "$gen" ]; then
  [ -f "$gen/nettool/version.h" ] || { echo "no $gen/nettool/version.h"; exit 1; }
  dirs+=(-I"$gen")
  headers="$headers version.h"
fi
where() { if [ -f "$inc/nettool/$1" ]; then echo "$inc/nettool/$1"; else echo "$gen/nettool/$1"; fi; }
for h in $headers; do
  printf '#include <nettool/%s>\n#include <nettool/%s>\nint nt__probe;\n' "$h" "$h" > "$tmp/one.c"
  if "$cc" "${cflags[@]}" "${dirs[@]}" "$tmp/one.c" 2> "$tmp/err"; then ok "C11: $h alone (twice)"
  else cat "$tmp/err"; bad "C11: $h alone"; fi
  if [ -n "$cxx" ]; then
    cp "$tmp/one.c" "$tmp/one.cc"
    if "$cxx" "${cxxflags[@]}" "${dirs[@]}" "$tmp/one.cc" 2> "$tmp/err"; then ok "C++17: $h alone"
    else cat "$tmp/err"; bad "C++17: $h alone"; fi
  fi
  # Each header names the others by <nettool/...>, never by a bare "x.h".
  f=$(where "$h")
  if grep -nE '#[[:space:]]*include[[:space:]]*"' "$f"; then bad "$h: quoted #include"
  else ok "$h: includes only <...> paths"; fi
  # Include guard, C linkage block, and the declarations visible from the
  # shared library (built with -fvisibility=hidden; docs/ABI.md).
  if grep -q '^#ifndef NETTOOL_' "$f" && grep -q 'extern "C" {' "$f" \
     && grep -q '^#pragma GCC visibility push(default)' "$f" && grep -q '^#pragma GCC visibility pop' "$f"; then
    ok "$h: include guard, extern \"C\", visibility push/pop"
  else bad "$h: include guard, extern \"C\" or visibility push/pop missing"; fi
done

# All headers together, in reverse order, as C and C++.
{ for h in $(echo "$headers" | sort -r); do echo "#include <nettool/$h>"; done; echo 'int nt__probe;'; } > "$tmp/all.c"
"$cc" "${cflags[@]}" "${dirs[@]}" "$tmp/all.c" && ok "C11: all headers together" || bad "C11: all headers together"
if [ -n "$cxx" ]; then
  cp "$tmp/all.c" "$tmp/all.cc"
  "$cxx" "${cxxflags[@]}" "${dirs[@]}" "$tmp/all.cc" && ok "C++17: all headers together" || bad "C++17: all together"
fi

# The system's errno.h is not shadowed: with include/nettool on the path,
# <errno.h> still gives errno and the E* constants (and nettool's codes).
cat > "$tmp/shadow.c" <<'C'
#include <errno.h>
#include <nettool/errno.h>
#include <nettool/reactor.h>
int f(void) { errno = EAGAIN; return errno == EAGAIN && NT_EAGAIN == -EAGAIN && ENOENT > 0; }
C
for order in "-I$inc -I$inc/nettool" "-I$inc/nettool -I$inc"; do
  # shellcheck disable=SC2086
  if "$cc" "${cflags[@]}" $order "$tmp/shadow.c" 2> "$tmp/err"; then ok "errno.h not shadowed ($order)"
  else cat "$tmp/err"; bad "errno.h shadowed ($order)"; fi
done
# The same, nettool's header first: its own #include of the system's
# errno.h must not resolve to itself.
printf '#include <nettool/errno.h>\n#include <errno.h>\nint g(void) { return errno + EINTR + ENOSPC; }\n' > "$tmp/first.c"
"$cc" "${cflags[@]}" -I"$inc/nettool" -I"$inc" "$tmp/first.c" 2> "$tmp/err" \
  && ok "nettool/errno.h first, include/nettool on the path" \
  || { cat "$tmp/err"; bad "nettool/errno.h first, include/nettool on the path"; }

# C++ links the C functions by their C names (no mangling).
if [ -n "$cxx" ]; then
  printf '#include <nettool/errno.h>\nconst char *p() { return nt_strerror(NT_EAGAIN); }\n' > "$tmp/link.cc"
  if "$cxx" -std=c++17 -I"$inc" -c "$tmp/link.cc" -o "$tmp/link.o" \
     && nm -u "$tmp/link.o" | grep -qw nt_strerror; then ok "C++: nt_strerror has C linkage"
  else nm -u "$tmp/link.o" 2>/dev/null; bad "C++: nt_strerror mangled"; fi
else
  echo "# no C++ compiler: C++ checks left out"
fi
exit $fail
