#!/usr/bin/env bash
# tus_npm.sh CACHE_DIR: installs the tus servers the integration tests run
# from the npm registry into CACHE_DIR/node_modules (a local folder in the
# build tree, never committed), pinned:
#   @tus/server 2.4.5 + @tus/file-store 2.1.1  the reference server (tus.sh)
#   @uploadx/core 7.0.3                         a server with the checksum
#                                               extension (tus_checksum.sh)
# Does nothing when they are there. ctest may start both scripts at once:
# one install at a time (flock on CACHE_DIR/.lock).
# Exit: 0 ready; 77 no node >= 20.19 with npm (both packages need it; Debian
# 12's nodejs is 18); 1 the install failed (its last lines on stderr).
set -u
mkdir -p "$1" && cache=$(cd "$1" && pwd) || exit 1
pkgs=(@tus/server@2.4.5 @tus/file-store@2.1.1 @uploadx/core@7.0.3)

command -v node >/dev/null && command -v npm >/dev/null &&
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)' ||
  { echo "node >= 20.19 and npm are needed for @tus/server 2 and @uploadx/core 7" >&2; exit 77; }

have() {
  local p name ver
  for p in "${pkgs[@]}"; do
    name=${p%@*} ver=${p##*@}
    [ "$(node -p "try{require('$cache/node_modules/$name/package.json').version}catch(e){''}" 2>/dev/null)" = "$ver" ] ||
      return 1
  done
}

exec 9>"$cache/.lock"
flock -w 300 9 || { echo "tus_npm.sh: $cache/.lock held for 300 s" >&2; exit 1; }
have && exit 0
[ -f "$cache/package.json" ] || echo '{"private":true}' >"$cache/package.json"
log=$cache/npm.log
if ! (cd "$cache" && timeout 240 npm install --no-audit --no-fund --loglevel=error \
  "${pkgs[@]}" >"$log" 2>&1) || ! have; then
  echo "npm install ${pkgs[*]} failed:" >&2
  tail -5 "$log" >&2
  exit 1
fi
exit 0
