# What the benchmark scripts share (sourced; set -euo pipefail is theirs).
# bench_name is the script's name for messages.
bench_name=$(basename "$0" .sh)

# bench_need TOOL...: exits 1 naming the first one missing
bench_need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null ||
      { echo "$bench_name: $t is needed (scripts/install-deps.sh bench)" >&2; exit 1; }
  done
}

# bench_nettool DIR: sets NETTOOL to a Release nettool built in DIR (tests
# off: benchmarks are not the suite), unless NETTOOL already names one. A
# failed build stops the benchmark with the build's output.
bench_nettool() {
  [ -n "${NETTOOL:-}" ] && return 0
  local log
  log=$(cmake -S "$root" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNT_BUILD_TESTS=OFF 2>&1 &&
    ninja -C "$1" nettool 2>&1) ||
    { echo "$log" >&2; echo "$bench_name: the Release build failed" >&2; exit 1; }
  NETTOOL=$1/nettool
}

# bench_shm: a fresh directory on /dev/shm (else $TMPDIR or /tmp), so the
# disk does not decide; mode 755, for servers that drop privileges
bench_shm() {
  local base=/dev/shm d
  [ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
  d=$(mktemp -d "$base/nt-$bench_name.XXXXXX")
  chmod 755 "$d"
  echo "$d"
}
