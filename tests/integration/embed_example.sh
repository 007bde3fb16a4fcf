#!/usr/bin/env bash
# embed_example.sh NETTOOL EMBED_ECHO -- runs the embedding example
# (apps/examples/embed_echo.c): it must exit 0 by itself and print the five
# upper-cased answers in order. Prints ok/not ok per check and
# "N passed, N failed" last.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

EMBED=${2:?usage: embed_example.sh NETTOOL EMBED_ECHO}
if [ ! -x "$EMBED" ]; then
  not_ok "embed_echo binary exists" "not executable: $EMBED"
  t_summary
  exit 1
fi

start=$(date +%s%N)
timeout 10 "$EMBED" </dev/null >"$T_TMP/out" 2>"$T_TMP/err"
rc=$?
el=$((($(date +%s%N) - start) / 1000000))

if [ "$rc" -eq 0 ]; then
  ok "embed_echo exits 0 by itself (${el} ms)"
else
  not_ok "embed_echo exits 0 by itself" "exit $rc (124: killed after 10 s)" "stderr: $(cat "$T_TMP/err")"
fi
if [ "$el" -lt 3000 ]; then
  ok "embed_echo finishes quickly"
else
  not_ok "embed_echo finishes quickly" "took $el ms"
fi
if grep -Eq '^echo server on 127\.0\.0\.1:[0-9]+$' "$T_TMP/out"; then
  ok "it serves on a loopback ephemeral port"
else
  not_ok "it serves on a loopback ephemeral port" "$(cat "$T_TMP/out")"
fi
grep '^answer ' "$T_TMP/out" >"$T_TMP/answers"
printf 'answer 1: HELLO\nanswer 2: FROM\nanswer 3: AN\nanswer 4: EMBEDDED\nanswer 5: REACTOR\n' >"$T_TMP/want"
if cmp -s "$T_TMP/answers" "$T_TMP/want"; then
  ok "the five answers come back upper-cased, in order"
else
  not_ok "the five answers come back upper-cased, in order" "got:" "$(cat "$T_TMP/answers")"
fi
if [ "$(tail -n 1 "$T_TMP/out")" = "done: 5 lines echoed" ]; then
  ok "it reports 5 lines echoed last"
else
  not_ok "it reports 5 lines echoed last" "$(tail -n 3 "$T_TMP/out")"
fi
if [ ! -s "$T_TMP/err" ]; then
  ok "nothing on stderr"
else
  not_ok "nothing on stderr" "$(cat "$T_TMP/err")"
fi

t_summary
