#!/usr/bin/env bash
# consumer.sh BUILD_DIR VERSION [C_COMPILER [SOVERSION]] -- the library as installed.
# Installs the build into a temporary prefix, then OUTSIDE the source tree:
#   - a C program built through pkg-config (shared, and --static against
#     libnettool.a) and a C++17 program through find_package(nettool)
#     (nettool::nettool and nettool::nettool_static), each doing a real
#     request to the installed `nettool ts-server` on 127.0.0.1;
#   - the shared library exports nt_* only (nm -D), soname libnettool.so.0;
#   - with dpkg-deb: cpack -G DEB makes nettool, libnettool0, libnettool-dev,
#     dpkg installs them into a root of its own (Depends checked against
#     this machine's package database) and `nettool --version` runs.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../integration/lib.sh"
BUILD=${1:?build dir}
VERSION=${2:?version}
CC=${3:-cc}
MAJOR=${4:-${VERSION%%.*}} # the soname's number (NT_SOVERSION)
P=$T_TMP/prefix
export PKG_CONFIG_PATH=
unset PKG_CONFIG_LIBDIR CMAKE_PREFIX_PATH

# --- cmake --install ----------------------------------------------------------
if cmake --install "$BUILD" --prefix "$P" >"$T_TMP/install.log" 2>&1; then ok "cmake --install into a temporary prefix"
else not_ok "cmake --install" "$(tail -5 "$T_TMP/install.log")"; t_summary; exit 1; fi
LIBDIR=$(dirname "$(find "$P" -name "libnettool.so.$MAJOR" | head -1)")
missing=
for f in bin/nettool include/nettool/version.h include/nettool/errno.h include/nettool/http.h \
         share/doc/nettool/EXIT-CODES.md share/doc/nettool/ABI.md share/doc/nettool/examples/embed_echo.c; do
  [ -e "$P/$f" ] || missing="$missing $f"
done
# The API guide when the tree has one.
[ -f "$HERE/../../docs/API.md" ] && { [ -e "$P/share/doc/nettool/API.md" ] || missing="$missing share/doc/nettool/API.md"; }
for f in libnettool.a libnettool.so "libnettool.so.$MAJOR" "libnettool.so.$VERSION" \
         pkgconfig/nettool.pc cmake/nettool/nettoolConfig.cmake cmake/nettool/nettoolConfigVersion.cmake \
         cmake/nettool/nettoolTargets.cmake cmake/nettool/nettoolStaticTargets.cmake; do
  [ -e "$LIBDIR/$f" ] || missing="$missing lib/$f"
done
if [ -z "$missing" ]; then ok "installed: program, libraries, headers, pkg-config, CMake package, docs"
else not_ok "installed files" "missing:$missing" "$(cd "$P" && find . | sort)"; fi
soname=$(readelf -d "$LIBDIR/libnettool.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
check "soname is libnettool.so.$MAJOR (got '$soname')" test "$soname" = "libnettool.so.$MAJOR"

# --- exports --------------------------------------------------------------------
# (the version node itself is an absolute symbol "A NETTOOL_N"; newer nm
# print names as name@@NODE)
nm -D --defined-only "$LIBDIR/libnettool.so" | awk '$2 != "A" {sub(/@.*/, "", $NF); print $NF}' >"$T_TMP/syms"
bad=$(grep -v '^nt_[a-z0-9]' "$T_TMP/syms" | grep -v '^_init$\|^_fini$' | head -10)
count=$(wc -l <"$T_TMP/syms")
if [ -z "$bad" ] && [ "$count" -gt 50 ] && grep -qx nt_version "$T_TMP/syms" \
   && grep -qx nt_reactor_new_sized "$T_TMP/syms"; then ok "libnettool.so exports only nt_* ($count symbols, no nt__*, no llhttp_*)"
else not_ok "libnettool.so exports only nt_*" "other symbols: $bad" "count $count"; fi
# The exports are exactly the installed headers' functions (gcc -aux-info
# lists every declaration; static inline ones are not exported) plus the
# data objects the headers declare extern.
{ for h in "$P"/include/nettool/*.h; do echo "#include <nettool/${h##*/}>"; done; } >"$T_TMP/allh.c"
if "$CC" -std=c11 -I"$P/include" -aux-info "$T_TMP/aux" -fsyntax-only "$T_TMP/allh.c" 2>/dev/null; then
  grep '/include/nettool/.*\*/ extern' "$T_TMP/aux" | sed -E 's/^[^(]*[ *]([a-z_0-9]+) \(.*/\1/' | sort -u >"$T_TMP/decl"
  sort -u "$T_TMP/syms" >"$T_TMP/exp"
  unexported=$(comm -23 "$T_TMP/decl" "$T_TMP/exp" | head -10)
  undeclared=$(comm -13 "$T_TMP/decl" "$T_TMP/exp" | while read -r sym; do
    grep -qE "^extern .*\b$sym\b" "$P"/include/nettool/*.h || echo "$sym"; done | head -10)
  if [ -z "$unexported" ] && [ -z "$undeclared" ] && [ "$(wc -l <"$T_TMP/decl")" -gt 50 ]; then
    ok "libnettool.so exports exactly the headers' API ($(wc -l <"$T_TMP/decl") functions)"
  else not_ok "exports = the headers' API" "declared, not exported: $unexported" "exported, not declared: $undeclared"; fi
else
  echo "# $CC has no -aux-info: exports not compared with the headers"
fi
# Every export carries the version node NETTOOL_<soname number> (cmake/nettool.map.in).
unversioned=$(objdump -T "$LIBDIR/libnettool.so" | awk '/ nt_/ && !/NETTOOL_'"$MAJOR"'/ {print $NF}' | head -5)
if [ -z "$unversioned" ]; then ok "exports are versioned NETTOOL_$MAJOR"
else not_ok "exports are versioned NETTOOL_$MAJOR" "$unversioned"; fi
# ... while libnettool.a carries llhttp inside and the internals for tests.
if nm "$LIBDIR/libnettool.a" 2>/dev/null | grep -q ' T llhttp_execute$'; then ok "libnettool.a holds llhttp's objects"
else not_ok "libnettool.a holds llhttp's objects"; fi

# --- the installed program and a server for the consumers -----------------------
run_p() { LD_LIBRARY_PATH=$LIBDIR "$@"; }
# The first line starts "nettool VERSION" (more detail may follow).
first_two() { awk 'NR == 1 {print $1, $2}'; }
v=$(run_p "$P/bin/nettool" --version 2>&1 | first_two)
check "installed nettool --version says $VERSION ('$v')" test "$v" = "nettool $VERSION"
if readelf -d "$P/bin/nettool" | grep -q "NEEDED.*libnettool.so.$MAJOR"; then ok "nettool uses libnettool.so.$MAJOR"
else not_ok "nettool uses libnettool.so.$MAJOR"; fi
LD_LIBRARY_PATH=$LIBDIR "$P/bin/nettool" ts-server --tcp 0 --bind 127.0.0.1 >"$T_TMP/srv.out" 2>"$T_TMP/srv.err" &
SRV=$!
t_track "$SRV"
if t_wait_line "$T_TMP/srv.out" '^listening on tcp ' 50; then
  PORT=$(sed -n 's/^listening on tcp .*:\([0-9][0-9]*\)$/\1/p' "$T_TMP/srv.out")
  ok "installed nettool ts-server listens (port $PORT)"
else
  not_ok "installed nettool ts-server listens" "$(cat "$T_TMP/srv.err")"
  t_summary; exit 1
fi
cd "$T_TMP" || exit 1 # outside the source and build trees from here on

# run_consumer DESC PROGRAM WORD [env...]: a transfer through the consumer.
run_consumer() {
  local desc=$1 prog=$2 word=$3
  shift 3
  if env "$@" timeout 20 "$prog" "$PORT" "$word" >"$T_TMP/c.out" 2>"$T_TMP/c.err" \
     && grep -q "^reply: \[.*\]: $word\$" "$T_TMP/c.out"; then ok "$desc"
  else not_ok "$desc" "$(cat "$T_TMP/c.out" "$T_TMP/c.err")"; fi
}

# --- C through pkg-config --------------------------------------------------------
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
pcv=$(pkg-config --modversion nettool 2>&1)
check "pkg-config --modversion nettool = $VERSION ('$pcv')" test "$pcv" = "$VERSION"
# shellcheck disable=SC2046
if "$CC" -std=c11 -Wall -Wextra -pedantic -Werror -o c_shared "$HERE/consumer.c" \
     $(pkg-config --cflags --libs nettool) 2>"$T_TMP/cc.err"; then
  ok "C: built through pkg-config (shared)"
  if readelf -d c_shared | grep -q "NEEDED.*libnettool.so.$MAJOR"; then ok "C shared consumer needs libnettool.so.$MAJOR"
  else not_ok "C shared consumer needs libnettool.so.$MAJOR"; fi
  run_consumer "C (pkg-config, shared): request to ts-server" ./c_shared c-shared "LD_LIBRARY_PATH=$LIBDIR"
else not_ok "C: built through pkg-config (shared)" "$(cat "$T_TMP/cc.err")"; fi
# --static: the private dependencies come along; -l:libnettool.a picks the
# archive where the shared library is installed next to it (README).
static_libs=$(pkg-config --static --libs nettool | sed 's/-lnettool\b/-l:libnettool.a/')
# shellcheck disable=SC2046,SC2086
if "$CC" -std=c11 -Wall -Wextra -pedantic -Werror -o c_static "$HERE/consumer.c" \
     $(pkg-config --cflags nettool) $static_libs 2>"$T_TMP/cc.err"; then
  ok "C: built through pkg-config --static ($static_libs)"
  if readelf -d c_static | grep -q 'NEEDED.*libnettool'; then not_ok "C static consumer does not need libnettool.so"
  else ok "C static consumer does not need libnettool.so"; fi
  run_consumer "C (pkg-config --static): request to ts-server" ./c_static c-static
else not_ok "C: built through pkg-config --static" "$(cat "$T_TMP/cc.err")"; fi

# --- an options struct grows: binaries built against another release ------------
# Two copies of the installed headers stand for an older release (the ts
# client's options without their last field) and a newer one (one more
# field); abi_grow.c, built against each, runs on the installed library.
abi_headers() { # DIR SED-SCRIPT
  rm -rf "$1" && cp -r "$P/include" "$1" && sed -i "$2" "$1/nettool/timestamp.h"
}
abi_headers "$T_TMP/inc_older" '/^  nt_tls_ctx_t \*tls;$/d'
abi_headers "$T_TMP/inc_newer" 's/^} nt_ts_client_options_t;$/  int nt_future;\n} nt_ts_client_options_t;/'
if ! cmp -s "$T_TMP/inc_older/nettool/timestamp.h" "$P/include/nettool/timestamp.h" \
   && ! cmp -s "$T_TMP/inc_newer/nettool/timestamp.h" "$P/include/nettool/timestamp.h"; then
  for kind in older newer; do
    up=$(echo "$kind" | tr a-z A-Z)
    # shellcheck disable=SC2046
    if "$CC" -std=c11 -Wall -Wextra -pedantic -Werror -DNT_ABI_"$up" -o "abi_$kind" "$HERE/abi_grow.c" \
         -I"$T_TMP/inc_$kind" $(pkg-config --libs nettool) 2>"$T_TMP/cc.err"; then
      if LD_LIBRARY_PATH=$LIBDIR timeout 20 "./abi_$kind" "$PORT" "abi-$kind" >"$T_TMP/abi.out" 2>&1 \
         && grep -q "abi-$kind\$" "$T_TMP/abi.out"; then
        ok "ABI: a program built with the $kind struct ($(sed -n 's/options struct: //p' "$T_TMP/abi.out")) runs on this library"
      else not_ok "ABI: $kind struct on this library" "$(cat "$T_TMP/abi.out")"; fi
    else not_ok "ABI: built against the $kind header" "$(cat "$T_TMP/cc.err")"; fi
  done
  if LD_LIBRARY_PATH=$LIBDIR timeout 20 ./abi_newer "$PORT" abi-set set >"$T_TMP/abi.out" 2>&1; then
    ok "ABI: a field this library does not know, set, is refused ($(sed -n 's/connect: //p' "$T_TMP/abi.out"))"
  else not_ok "ABI: an unknown field set is refused" "$(cat "$T_TMP/abi.out")"; fi
else
  not_ok "ABI: older/newer headers made" "timestamp.h's options struct changed shape: update consumer.sh"
fi
# The other direction: structs the library fills (nt_http_progress_t,
# nt_ftp_entry_t) in a program built when they were one field shorter; the
# library must write only the program's sizeof (abi_fill.c checks guard
# bytes after each struct), and with this release's headers the whole one.
rm -rf "$T_TMP/inc_fill" && cp -r "$P/include" "$T_TMP/inc_fill" &&
  sed -i '/^  uint64_t acked;$/d' "$T_TMP/inc_fill/nettool/http.h" &&
  sed -i '/^  int unix_mode; \/\* UNIX.mode; -1: unknown \*\/$/d' "$T_TMP/inc_fill/nettool/ftp.h"
if ! cmp -s "$T_TMP/inc_fill/nettool/http.h" "$P/include/nettool/http.h" \
   && ! cmp -s "$T_TMP/inc_fill/nettool/ftp.h" "$P/include/nettool/ftp.h"; then
  for kind in older current; do
    inc=$T_TMP/inc_fill def=-DNT_ABI_OLDER
    [ $kind = current ] && inc=$P/include def=
    # shellcheck disable=SC2046
    if "$CC" -std=c11 -Wall -Wextra -pedantic -Werror $def -o "abi_fill_$kind" "$HERE/abi_fill.c" \
         -I"$inc" $(pkg-config --libs nettool) 2>"$T_TMP/cc.err"; then
      if LD_LIBRARY_PATH=$LIBDIR timeout 20 "./abi_fill_$kind" "$PORT" >"$T_TMP/abi.out" 2>&1; then
        ok "ABI: fill functions write only the $kind structs ($(echo $(grep -o '[a-z_]*_t: [0-9]* bytes' "$T_TMP/abi.out"))) of a program"
      else not_ok "ABI: fill functions with the $kind structs" "$(cat "$T_TMP/abi.out")"; fi
    else not_ok "ABI: abi_fill built against the $kind headers" "$(cat "$T_TMP/cc.err")"; fi
  done
else
  not_ok "ABI: older fill-struct headers made" "nt_http_progress_t or nt_ftp_entry_t changed shape: update consumer.sh"
fi

# --- C++17 through find_package(nettool) -----------------------------------------
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
if cmake -S "$HERE/consumer" -B cxx "${gen[@]}" -DCMAKE_PREFIX_PATH="$P" -DNT_WANT_VERSION="$VERSION" \
     -DNT_CONSUMER_SOURCE="$HERE/consumer.cpp" -DCMAKE_CXX_FLAGS="-Wall -Wextra -pedantic -Werror" \
     >"$T_TMP/cxx.log" 2>&1 && cmake --build cxx >>"$T_TMP/cxx.log" 2>&1; then
  ok "C++17: built through find_package(nettool $VERSION) (a 99.0 request refused)"
  run_consumer "C++ (nettool::nettool): request to ts-server" cxx/consumer_shared cxx-shared "LD_LIBRARY_PATH=$LIBDIR"
  run_consumer "C++ (nettool::nettool_static): request to ts-server" cxx/consumer_static cxx-static
  if readelf -d cxx/consumer_static | grep -q 'NEEDED.*libnettool'; then not_ok "nettool::nettool_static is the archive"
  else ok "nettool::nettool_static is the archive"; fi
else not_ok "C++17: built through find_package(nettool)" "$(tail -20 "$T_TMP/cxx.log")"; fi
t_stop "$SRV"

# --- Debian packages -----------------------------------------------------------------
if ! command -v dpkg-deb >/dev/null || ! command -v cpack >/dev/null; then
  echo "# no dpkg-deb/cpack: Debian packages not checked"
elif (cd "$BUILD" && cpack -G DEB -B "$T_TMP/deb") >"$T_TMP/cpack.log" 2>&1; then
  lib_deb=$(ls "$T_TMP"/deb/libnettool"$MAJOR"_*.deb 2>/dev/null)
  dev_deb=$(ls "$T_TMP"/deb/libnettool-dev_*.deb 2>/dev/null)
  bin_deb=$(ls "$T_TMP"/deb/nettool_*.deb 2>/dev/null)
  if [ -n "$lib_deb" ] && [ -n "$dev_deb" ] && [ -n "$bin_deb" ]; then
    ok "cpack -G DEB: nettool, libnettool$MAJOR, libnettool-dev"
    # Each package holds its part only.
    dpkg-deb -c "$lib_deb" | awk '{print $NF}' >"$T_TMP/lib.list"
    dpkg-deb -c "$dev_deb" | awk '{print $NF}' >"$T_TMP/dev.list"
    if grep -q "libnettool.so.$MAJOR" "$T_TMP/lib.list" && ! grep -q '\.h$\|\.a$\|bin/nettool' "$T_TMP/lib.list" \
       && grep -q 'include/nettool/version.h' "$T_TMP/dev.list" && grep -q 'libnettool\.a$' "$T_TMP/dev.list" \
       && grep -q 'pkgconfig/nettool.pc' "$T_TMP/dev.list"; then ok "packages split: runtime library / development files"
    else not_ok "packages split" "$(cat "$T_TMP/lib.list" "$T_TMP/dev.list")"; fi
    dep=$(dpkg-deb -f "$bin_deb" Depends)
    case "$dep" in *"libnettool$MAJOR (= $VERSION)"*) ok "nettool depends on libnettool$MAJOR (= $VERSION)" ;;
      *) not_ok "nettool depends on libnettool$MAJOR" "Depends: $dep" ;; esac
    # System dependencies read off the binaries by dpkg-shlibdeps (when the
    # build machine has it), the library's own shlibs file for packages built
    # against it.
    if command -v dpkg-shlibdeps >/dev/null; then
      ldep=$(dpkg-deb -f "$lib_deb" Depends)
      case "$ldep" in *libc6*libssl3*|*libssl3*libc6*)
        case "$ldep" in *libc-ares2*) ok "libnettool$MAJOR Depends from dpkg-shlibdeps ($ldep)" ;;
          *) not_ok "libnettool$MAJOR Depends from dpkg-shlibdeps" "$ldep" ;; esac ;;
        *) not_ok "libnettool$MAJOR Depends from dpkg-shlibdeps" "$ldep" ;; esac
      # libexpat dlopen()ed for NZB files (NT_EXPAT_LAZY) is not in NEEDED,
      # so dpkg-shlibdeps cannot see it: named by hand (cmake/install.cmake)
      if ! readelf -d "$LIBDIR/libnettool.so" | grep -q 'NEEDED.*libexpat'; then
        case "$ldep" in *libexpat1*) ok "libnettool$MAJOR Depends on libexpat1, which it dlopen()s" ;;
          *) not_ok "libnettool$MAJOR Depends on libexpat1, which it dlopen()s" "$ldep" ;; esac
      fi
      rm -rf "$T_TMP/ctl" && dpkg-deb -e "$lib_deb" "$T_TMP/ctl"
      if grep -q "^libnettool $MAJOR libnettool$MAJOR " "$T_TMP/ctl/shlibs" 2>/dev/null; then
        ok "libnettool$MAJOR ships a shlibs file ($(cat "$T_TMP/ctl/shlibs"))"
      else not_ok "libnettool$MAJOR ships a shlibs file" "$(ls "$T_TMP/ctl")"; fi
    fi
    if [ -e /etc/debian_version ]; then
      arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
      if grep -q "^\./usr/lib/$arch/libnettool.so.$MAJOR" "$T_TMP/lib.list"; then ok "the library goes to /usr/lib/$arch (multiarch)"
      else not_ok "the library goes to /usr/lib/$arch" "$(cat "$T_TMP/lib.list")"; fi
    fi
    # dpkg itself installs the three packages into a root of our own whose
    # package database is a copy of this machine's: their Depends must be
    # met by Debian's packages, their files must not clash, and the installed
    # program must run.
    root=$T_TMP/root
    mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
    cp /var/lib/dpkg/status "$root/var/lib/dpkg/status" 2>/dev/null || : >"$root/var/lib/dpkg/status"
    : >"$root/var/lib/dpkg/available"
    if dpkg --root="$root" --log=/dev/null --force-not-root --force-script-chrootless \
         -i "$lib_deb" "$bin_deb" "$dev_deb" >"$T_TMP/dpkg.log" 2>&1 \
       && [ "$(dpkg --root="$root" -s nettool 2>/dev/null | sed -n 's/^Status: //p')" = "install ok installed" ]; then
      ok "dpkg --root installs libnettool$MAJOR, nettool, libnettool-dev with their Depends met"
    else not_ok "dpkg --root installs the packages" "$(tail -8 "$T_TMP/dpkg.log")"; fi
    dlib=$(dirname "$(find "$root/usr/lib" -name "libnettool.so.$MAJOR" | head -1)")
    v=$(LD_LIBRARY_PATH=$dlib "$root/usr/bin/nettool" --version 2>&1 | first_two)
    check "installed packages: nettool --version says $VERSION ('$v')" test "$v" = "nettool $VERSION"
  else
    not_ok "cpack -G DEB: three packages" "$(ls "$T_TMP/deb")" "$(tail -5 "$T_TMP/cpack.log")"
  fi
else
  not_ok "cpack -G DEB" "$(tail -10 "$T_TMP/cpack.log")"
fi
t_summary
