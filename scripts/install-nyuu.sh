#!/usr/bin/env bash
# Installs Nyuu (npm "nyuu" 0.4, a real Usenet binary poster: yEnc multi-part
# articles + NZB) into a local folder for the nntp-get tests and benchmark.
#   scripts/install-nyuu.sh [DIR]     (default: $NT_NYUU_DIR, else ~/.cache/nettool/nyuu)
# Prints the path of nyuu.js. Nothing is installed globally, nothing committed.
# Nyuu's dependency yencode has no prebuilt binary: npm compiles it with
# node-gyp (python3, make, g++), which must find the Node headers locally
# (Debian/nodesource put them in /usr/include/node: --nodedir=/usr), else it
# tries to download them.
set -euo pipefail
dir=${1:-${NT_NYUU_DIR:-$HOME/.cache/nettool/nyuu}}
js=$dir/node_modules/nyuu/bin/nyuu.js
if [ -f "$js" ] && [ -f "$dir/node_modules/yencode/build/Release/yencode.node" ]; then
  echo "$js"; exit 0
fi
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "install-nyuu: node and npm are needed (Node >= 18)" >&2; exit 1; }
for t in python3 make g++; do
  command -v "$t" >/dev/null || { echo "install-nyuu: $t is needed to build yencode" >&2; exit 1; }
done
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"private":true}' >"$dir/package.json"
nd=(); [ -f /usr/include/node/node_version.h ] && nd=(--nodedir=/usr)
(cd "$dir" && timeout 300 npm install --no-audit --no-fund --loglevel=error "${nd[@]}" nyuu@0.4 >&2)
[ -f "$dir/node_modules/yencode/build/Release/yencode.node" ] ||
  { echo "install-nyuu: yencode did not build" >&2; exit 1; }
echo "$js"
