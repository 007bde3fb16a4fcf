#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this):
#   1. a normal build, all tests on the epoll backend, then on the poll one,
#      then on io_uring;
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build, all tests on
#      epoll, then on io_uring.
# Ends with one line "suite: N passed, N failed"; exit status 0 only if all
# passed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh test || exit 1 # bash: whatever mode git gave the file

build() { # dir, cmake args...
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -G Ninja "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; return 1; }
  ninja -C "$dir" >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; return 1; }
}

passed=0 failed=0
run_ctest() { # label, dir, env...
  local label=$1 dir=$2; shift 2
  echo "=== $label"
  local log; log=$(mktemp)
  (cd "$dir" && env "$@" ctest --output-on-failure -j2 --timeout 300) 2>&1 | tee "$log"
  local line; line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [ -z "$line" ]; then
    failed=$((failed + 1)) # ctest itself broke
  else
    local total fail
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    fail=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
    passed=$((passed + total - fail)); failed=$((failed + fail))
  fi
  rm -f "$log"
}

mkdir -p build
if build build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNT_WERROR=ON -DNT_BUILD_TESTS=ON; then
  run_ctest "normal build, epoll backend" build/test NETTOOL_BACKEND=epoll
  run_ctest "normal build, poll backend" build/test NETTOOL_BACKEND=poll
  # Where the ring cannot be set up (a sandbox forbids io_uring) this pass
  # runs on epoll again: the backend falls back by design.
  run_ctest "normal build, io_uring backend" build/test NETTOOL_BACKEND=io_uring
else
  echo "normal build failed"; failed=$((failed + 1))
fi
if build build/asan -DCMAKE_BUILD_TYPE=Debug -DNT_SANITIZE=ON -DNT_WERROR=ON -DNT_BUILD_TESTS=ON; then
  run_ctest "ASan+UBSan build" build/asan NETTOOL_BACKEND=epoll \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
  # io_uring under the sanitizers too: its completions outlive transports
  # (cancelled requests complete after close), where use-after-free and
  # leaks would hide. About as long as the pass above.
  run_ctest "ASan+UBSan build, io_uring backend" build/asan NETTOOL_BACKEND=io_uring \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
else
  echo "sanitizer build failed"; failed=$((failed + 1))
fi
echo "suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
