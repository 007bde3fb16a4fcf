#!/usr/bin/env bash
# The shell completions (completions/): bash's, sourced in bash, completes
# `nettool ht<TAB>` to the HTTP commands, `nettool ftp-get --<TAB>` to
# exactly the long options of `nettool ftp-get --help`, every command's
# options to those of its --help, a file after -o and nothing after
# --timeout; zsh's parses without error (zsh -n), its option specs and
# command list match --help, and typing TAB in an interactive zsh (zsh/zpty:
# zsh_complete.zsh) completes commands, options and files (skipped when zsh
# is not installed).
#   completions.sh NETTOOL SRCDIR
set -u
nt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
trap t_cleanup EXIT
# `nettool` on PATH is the one under test (the completion runs the command
# word it completes for).
mkdir -p "$T_TMP/bin" "$T_TMP/files"
ln -s "$nt" "$T_TMP/bin/nettool"
export PATH=$T_TMP/bin:$PATH
touch "$T_TMP/files/report.pdf" "$T_TMP/files/readme.txt"

# Option names of a --help text, found independently of the completions:
# every "-x"/"--long" at the start of an option row.
help_opts() {
  grep -E '^  -' | grep -oE '^  (-[A-Za-z0-9], )?--[A-Za-z0-9-]+' |
    grep -oE -- '--?[A-Za-z0-9-]+' | sort -u
}

# complete_bash WORD...: the COMPREPLY of bash's completion with the cursor
# at the end of the last word, one per line, sorted.
complete_bash() {
  (cd "$T_TMP/files" && bash --norc --noprofile -c '
    source "$1"; shift
    complete -p nettool >/dev/null || { echo "not registered"; exit 1; }
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _nettool nettool "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$src/completions/nettool.bash" "$@") |
    sed '/^$/d' | sort
}

expect() { # DESC GOT WANT
  if [ "$2" = "$3" ]; then ok "$1"; else
    not_ok "$1" "got:  $(tr '\n' ' ' <<<"$2")" "want: $(tr '\n' ' ' <<<"$3")"; fi
}

expect "bash: nettool ht<TAB> -> the HTTP commands" \
  "$(complete_bash nettool ht)" "$(printf 'http-get\nhttp-upload')"
expect "bash: nettool ftp-<TAB> -> the FTP commands" \
  "$(complete_bash nettool ftp-)" "$(printf 'ftp-get\nftp-ls\nftp-put')"
expect "bash: nettool <TAB> -> all $(nettool --help | grep -c '^  [a-z]') commands" \
  "$(complete_bash nettool '')" \
  "$(nettool --help | awk '/^commands:/{f=1;next} f&&/^$/{exit} f{print $1}' | sort)"
want=$(nettool ftp-get --help | help_opts | grep -- '^--')
expect "bash: nettool ftp-get --<TAB> -> the long options of ftp-get --help" \
  "$(complete_bash nettool ftp-get --)" "$want"
check "bash: ... which include --resume, --tls and --json" \
  bash -c "grep -qx -- --resume <<<'$want' && grep -qx -- --tls <<<'$want' && grep -qx -- --json <<<'$want'"
expect "bash: nettool ftp-get --res<TAB> -> --resume" \
  "$(complete_bash nettool ftp-get --res)" "--resume"
expect "bash: nettool http-get -o re<TAB> -> a file" \
  "$(complete_bash nettool http-get -o re)" "$(printf 'readme.txt\nreport.pdf')"
expect "bash: nettool ftp-get --timeout <TAB> -> nothing (seconds)" \
  "$(complete_bash nettool ftp-get --timeout '')" ""
expect "bash: nettool http-upload URL rep<TAB> -> a file" \
  "$(complete_bash nettool http-upload http://x/ rep)" "report.pdf"
for c in $(nettool --help | awk '/^commands:/{f=1;next} f&&/^$/{exit} f{print $1}'); do
  expect "bash: nettool $c -<TAB> -> the options of $c --help" \
    "$(complete_bash nettool "$c" -)" "$(nettool "$c" --help | help_opts)"
done

if ! command -v zsh >/dev/null; then
  echo "# zsh not installed: its completion is not checked"
else
  check "zsh: completions/_nettool parses (zsh -n)" zsh -n "$src/completions/_nettool"
  zcmds=$(zsh -fc 'source "$1"; _nettool_commands nettool' _ "$src/completions/_nettool" |
    cut -d: -f1 | sort)
  expect "zsh: the commands with their summaries" "$zcmds" \
    "$(nettool --help | awk '/^commands:/{f=1;next} f&&/^$/{exit} f{print $1}' | sort)"
  for c in ftp-get http-upload nntp-read ts-server; do
    got=$(zsh -fc 'source "$1"; _nettool_specs nettool "$2"' _ "$src/completions/_nettool" "$c" |
      sed -E 's/\[.*//' | sort -u)
    expect "zsh: $c's option specs are the options of its --help" "$got" \
      "$(nettool "$c" --help | help_opts)"
  done
  check "zsh: --cacert completes files, --timeout takes a value" bash -c \
    "zsh -fc 'source \"\$1\"; _nettool_specs nettool ftp-get' _ '$src/completions/_nettool' >'$T_TMP/specs' &&
     grep -q '^--cacert\\[.*\\]:FILE:_files\$' '$T_TMP/specs' && grep -q '^--timeout\\[.*\\]:S: \$' '$T_TMP/specs' &&
     grep -q '^--resume\\[[^]]*\\]\$' '$T_TMP/specs'"
  # Real completion in an interactive zsh (zsh/zpty; skipped without it).
  lines=('nettool ht' 'nettool ftp-get --res' 'nettool nntp-read --ser'
    'nettool http-get -o rep' 'nettool ftp-get --timeout ' 'nettool resolve --fam')
  timeout 60 zsh -f "$here/zsh_complete.zsh" "$src/completions" "$T_TMP/bin" \
    "$T_TMP/files" "${lines[@]}" >"$T_TMP/zsh.out" 2>"$T_TMP/zsh.err"
  rc=$?
  if [ $rc -eq 77 ]; then
    echo "# zsh without zsh/zpty: no interactive check"
  else
    want=$(printf 'BUF:%s\n' 'nettool http-' 'nettool ftp-get --resume' \
      'nettool nntp-read --server' 'nettool http-get -o report.pdf' \
      'nettool ftp-get --timeout' 'nettool resolve --family')
    expect "zsh (interactive): ht, --res, --ser, -o rep, --timeout, --fam + TAB" \
      "$(cat "$T_TMP/zsh.out")" "$want"
    [ $rc -eq 0 ] || not_ok "zsh (interactive) ran" "exit $rc: $(head -5 "$T_TMP/zsh.err")"
  fi
fi
t_summary
