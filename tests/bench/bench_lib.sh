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

# bench_pins: pin (the client's CPU, 1) and srv_pin (the servers', 0) as
# taskset prefixes where there are 2 CPUs or more; empty arrays elsewhere
bench_pins() {
  pin=()
  srv_pin=()
  if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    pin=(taskset -c 1)
    srv_pin=(taskset -c 0)
  fi
}

# bench_sink DIR: tests/bench/http_sink.c built in DIR and started (pinned
# with srv_pin, if set), discarding what is uploaded to it; sets sink_pid
# (the caller stops it) and sink_url. Exits 1 if it does not start.
bench_sink() {
  local dir=$1
  cc -O2 -Wall -o "$dir/http_sink" "$root/tests/bench/http_sink.c" -lssl -lcrypto
  "${srv_pin[@]}" "$dir/http_sink" "$dir/http.port" >"$dir/sink.log" 2>&1 &
  sink_pid=$!
  for _ in $(seq 50); do [ -s "$dir/http.port" ] && break; sleep 0.1; done
  [ -s "$dir/http.port" ] || { echo "$bench_name: http_sink did not start" >&2; exit 1; }
  sink_url=http://127.0.0.1:$(cat "$dir/http.port")/upload
}
