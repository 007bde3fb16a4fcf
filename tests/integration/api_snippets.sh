#!/usr/bin/env bash
# api_snippets.sh SRC_DIR CC LIBNETTOOL_A [INCLUDE_DIR [LDFLAGS]] -- every ```c
# block of docs/API.md is a whole file: each must compile with
# -std=c11 -Wall -Wextra -pedantic -Werror against the public headers; a
# block with main() is linked with libnettool.a and, when the line before
# its fence says <!-- snippet: run [ARGS] -->, run (exit 0 within 20 s).
# {URL} in ARGS is an upload URL on the Flask receiver (http_multipart.py),
# {FILE} a file whose SHA-256 the receiver must report back. A block marked
# <!-- snippet: glib --> is compiled with glib-2.0's flags. LDFLAGS (one
# word list) is for a sanitizer build's library: "-fsanitize=address,undefined".
set -u
src=${1:?usage: api_snippets.sh SRC_DIR CC LIBNETTOOL_A [INCLUDE_DIR]}
cc=${2:?} lib=${3:?} extra_inc=${4:-} ldflags=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
PY=/usr/bin/python3
d=$T_TMP
doc="$src/docs/API.md"

inc=(-I "$src/include")
[ -n "$extra_inc" ] && inc+=(-I "$extra_inc")
cflags=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -pedantic -Werror)
libs=(-lcares -lssl -lcrypto -lpthread)
# The io_uring backend, built in when liburing is there (as CMake decides).
if pkg-config --exists liburing 2>/dev/null; then libs+=(-luring); fi
read -r -a ldextra <<<"$ldflags"
cflags+=("${ldextra[@]}")

# Split the guide: snippet_N.c, and snippet_N.mark with the marker line.
$PY - "$doc" "$d" <<'EOF'
import re, sys
doc, out = sys.argv[1], sys.argv[2]
lines = open(doc, encoding="utf-8").read().split("\n")
n, i = 0, 0
while i < len(lines):
    if lines[i] == "```c":
        mark = lines[i - 1] if i and lines[i - 1].startswith("<!-- snippet:") else ""
        j = i + 1
        while lines[j] != "```":
            j += 1
        n += 1
        open(f"{out}/snippet_{n}.c", "w").write("\n".join(lines[i + 1:j]) + "\n")
        open(f"{out}/snippet_{n}.mark", "w").write(mark)
        open(f"{out}/snippet_{n}.line", "w").write(str(i + 2))
        i = j
    i += 1
EOF
fences=$(grep -c '^```c$' "$doc")
count=$(ls "$d"/snippet_*.c 2>/dev/null | wc -l)
if [ "$count" -ge 8 ] && [ "$count" -eq "$fences" ]; then
  ok "docs/API.md: $count C snippets extracted"
else
  not_ok "docs/API.md: C snippets extracted" "$count extracted, $fences fences"
fi

flask_url=""
start_flask() { # once, on the first {URL}
  [ -n "$flask_url" ] && return 0
  if ! $PY -c 'import flask' 2>/dev/null; then
    return 1
  fi
  local port
  port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  $PY "$here/http_multipart.py" "$port" >"$d/flask.log" 2>&1 &
  t_track $!
  local i
  for i in $(seq 100); do
    if $PY -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1)' "$port" 2>/dev/null; then
      flask_url="http://127.0.0.1:$port/upload"
      return 0
    fi
    sleep 0.1
  done
  return 1
}

for ((k = 1; k <= count; k++)); do
  f="$d/snippet_$k.c"
  mark=$(cat "$d/snippet_$k.mark")
  name="snippet $k (docs/API.md:$(cat "$d/snippet_$k.line"))"
  extra=()
  if [[ $mark == *"snippet: glib"* ]]; then
    if ! pkg-config --exists glib-2.0; then
      not_ok "$name: glib-2.0 for the GLib snippet" "install libglib2.0-dev (scripts/install-deps.sh)"
      continue
    fi
    read -r -a extra <<<"$(pkg-config --cflags glib-2.0)"
  fi
  if ! "$cc" "${cflags[@]}" "${inc[@]}" "${extra[@]}" -c "$f" -o "$d/snippet_$k.o" 2>"$d/cc_$k.err"; then
    not_ok "$name compiles" "$(head -20 "$d/cc_$k.err")"
    continue
  fi
  ok "$name compiles"
  grep -q '^int main(' "$f" || continue
  if ! "$cc" "${ldextra[@]}" "$d/snippet_$k.o" "$lib" "${libs[@]}" -o "$d/snippet_$k" 2>"$d/ld_$k.err"; then
    not_ok "$name links with libnettool.a" "$(head -20 "$d/ld_$k.err")"
    continue
  fi
  ok "$name links with libnettool.a"
  [[ $mark == *"snippet: run"* ]] || continue
  args=$(sed -e 's/.*snippet: run *//' -e 's/ *-->.*//' <<<"$mark")
  file=""
  if [[ $args == *"{URL}"* ]]; then
    if ! start_flask; then
      not_ok "$name: the Flask receiver for {URL}" "python3-flask missing or not starting: $(tail -3 "$d/flask.log" 2>/dev/null)"
      continue
    fi
    file="$d/upload_$k.bin"
    head -c 300000 /dev/urandom >"$file"
    args=${args//\{URL\}/$flask_url}
    args=${args//\{FILE\}/$file}
  fi
  read -r -a argv <<<"$args"
  (cd "$d" && NETTOOL_LOG=warn timeout 20 "$d/snippet_$k" "${argv[@]}" >"$d/run_$k.out" 2>"$d/run_$k.err")
  rc=$?
  if [ $rc -eq 0 ]; then
    ok "$name runs and exits 0"
  else
    not_ok "$name runs and exits 0" "exit $rc" "$(tail -5 "$d/run_$k.out")" "$(tail -5 "$d/run_$k.err")"
    continue
  fi
  if [ -n "$file" ]; then
    want=$(sha256sum "$file" | cut -d' ' -f1)
    if grep -q "\"sha256\": \"$want\"" "$d/run_$k.out" && grep -q '^HTTP 200, [0-9]* bytes sent$' "$d/run_$k.out"; then
      ok "$name: the receiver reports the file's SHA-256, HTTP 200"
    else
      not_ok "$name: the receiver reports the file's SHA-256, HTTP 200" "$(tail -8 "$d/run_$k.out")"
    fi
  fi
done

t_summary
