#!/usr/bin/env bash
# --help and the man pages cannot drift apart. For every command of
# `nettool --help`: its page exists (built by docs/man/mkman.py with scdoc),
# the option names of `nettool CMD --help` and of the page's OPTIONS and
# COMMON OPTIONS sections are the same set (a difference either way fails),
# and every option the hand-written EXAMPLES use exists. Negative checks
# show that the comparison catches an option added to the CLI without a
# page that documents it (a doctored help text, a doctored page, a doctored
# program regenerated), and that mkman.py documents an option it is given.
# With CMAKE and BUILDDIR, `cmake --install` (component bin) into a
# temporary prefix puts every page under share/man/man1 and the completions
# where bash-completion and zsh look.
#   man_help.sh NETTOOL MANDIR SRCDIR [CMAKE BUILDDIR]  (77 without MANDIR)
set -u
nt=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mandir=$2
src=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
trap t_cleanup EXIT
if [ ! -f "$mandir/nettool.1" ]; then
  echo "# no man pages in $mandir (scdoc not installed): skipped"
  exit 77
fi

commands() { "$1" --help | awk '/^commands:/ { f = 1; next } f && /^$/ { exit } f { print $1 }'; }

# Option names in a --help text (stdin): the rows "  -k, --insecure ...".
help_opts() {
  sed -n -E 's/^  ((-[A-Za-z0-9]), )?(--[A-Za-z0-9][A-Za-z0-9-]*).*/\2 \3/p' |
    tr ' ' '\n' | sed '/^$/d' | sort -u
}
# Option names in a page (troff from scdoc, stdin): the terms
# "\fB-k\fR, \fB--insecure\fR \fIFILE\fR" of its option sections.
man_opts() {
  awk '/^\.SH / { on = ($0 ~ /^\.SH "?[A-Z ]*OPTIONS"?$/); next }
       on && /^\\fB-/ { print }' |
    grep -oE '\\fB-[^\\ ]+\\fR' | sed -E 's/^\\fB//; s/\\fR$//' | sort -u
}
# Options the EXAMPLES use: words starting with '-' after "nettool CMD".
example_opts() {
  awk '/^\.SH / { on = ($0 ~ /EXAMPLES/); next } on' |
    grep -oE 'nettool [a-z-]+ .*' | sed -E 's/\\-/-/g; s/^nettool [a-z-]+ //' |
    tr ' ' '\n' | grep -E '^--?[A-Za-z]' | sed -E 's/=.*//' | sort -u
}
# compare HELP_TEXT_FILE PAGE: prints the differences, fails on any.
compare() {
  local d
  d=$(diff <(help_opts <"$1") <(man_opts <"$2")) && return 0
  printf '%s\n' "$d" | sed -n 's/^< /only in --help: /p; s/^> /only in the page: /p'
  return 1
}

# --- every command ------------------------------------------------------------
cmds=$(commands "$nt")
check "nettool --help lists commands" [ -n "$cmds" ]
missing=""
for c in $cmds; do grep -q "nettool-$c" "$mandir/nettool.1" || missing="$missing $c"; done
if [ -z "$missing" ]; then ok "nettool.1 names every command"; else
  not_ok "nettool.1 names every command" "missing:$missing"; fi
for c in $cmds; do
  page=$mandir/nettool-$c.1
  if [ ! -f "$page" ]; then
    not_ok "$c: nettool-$c.1 exists" "add $c to the man page list in CMakeLists.txt"
    continue
  fi
  "$nt" "$c" --help >"$T_TMP/$c.help"
  n=$(help_opts <"$T_TMP/$c.help" | wc -l)
  if out=$(compare "$T_TMP/$c.help" "$page") && [ "$n" -gt 1 ]; then
    ok "$c: the page documents the $n option names of --help, and no others"
  else
    not_ok "$c: --help and nettool-$c.1 list the same options" "$out"
  fi
  missing=""
  for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT EXAMPLES "SEE ALSO"; do
    grep -qx "\.SH $sec" "$page" || missing="$missing '$sec'"
  done
  if [ -z "$missing" ]; then ok "$c: the page has every section"; else
    not_ok "$c: the page has every section" "missing:$missing"; fi
  bad=$(comm -23 <(example_opts <"$page") <(help_opts <"$T_TMP/$c.help"))
  if [ -z "$bad" ]; then ok "$c: every option in EXAMPLES exists"; else
    not_ok "$c: every option in EXAMPLES exists" "unknown: $bad"; fi
done
# nettool.1 lists the shared options: the union of every "Common options".
common=$(for c in $cmds; do
  "$nt" "$c" --help | awk '/^Common options/ { f = 1; next } f && !/^  / && !/^ *$/ { f = 0 } f'
done | help_opts)
got=$(awk '/^\.SH / { on = ($0 ~ /^\.SH "?COMMON OPTIONS"?$/); next } on && /^\\fB-/' \
  "$mandir/nettool.1" | grep -oE '\\fB-[^\\ ]+\\fR' | sed -E 's/^\\fB//; s/\\fR$//' | sort -u)
if [ -n "$common" ] && [ "$got" = "$common" ]; then
  ok "nettool.1: the shared options of every command's --help ($(wc -l <<<"$common") names)"
else
  not_ok "nettool.1: the shared options of every command's --help" \
    "$(diff <(echo "$common") <(echo "$got"))"
fi
# Every option nettool.1 names anywhere (prose included) exists somewhere.
all=$(for c in $cmds; do "$nt" "$c" --help | help_opts; done; printf '%s\n' -V --version)
bad=$(grep -oE '\\fB--?[A-Za-z][A-Za-z0-9-]*\\fR' "$mandir/nettool.1" |
  sed -E 's/^\\fB//; s/\\fR$//' | sort -u | comm -23 - <(sort -u <<<"$all"))
if [ -z "$bad" ]; then ok "nettool.1: every option it names exists"; else
  not_ok "nettool.1: every option it names exists" "unknown: $bad"; fi
# The overview page's examples, command by command.
bad=""
while read -r c rest; do
  for o in $(printf '%s\n' "$rest" | tr ' ' '\n' | grep -E '^--?[A-Za-z]' | sed 's/=.*//'); do
    "$nt" "$c" --help | help_opts | grep -qx -- "$o" || bad="$bad $c $o;"
  done
done < <(awk '/^\.SH / { on = ($0 ~ /EXAMPLES/); next } on' "$mandir/nettool.1" |
  grep -oE 'nettool [a-z-]+ .*' | sed -E 's/\\-/-/g; s/^nettool //')
if [ -z "$bad" ]; then ok "nettool.1: every option in EXAMPLES exists"; else
  not_ok "nettool.1: every option in EXAMPLES exists" "unknown:$bad"; fi
# The exit codes come from docs/EXIT-CODES.md: all of them.
for code in $(sed -n -E 's/^\| *([0-9]+) *\| *[A-Z]+ *\|.*/\1/p' "$src/docs/EXIT-CODES.md" | sort -u); do
  grep -q "^\\\\fB$code\\\\fR" "$mandir/nettool.1" || bad="$bad $code"
done
if [ -z "$bad" ]; then ok "nettool.1: every exit code of docs/EXIT-CODES.md"; else
  not_ok "nettool.1: every exit code of docs/EXIT-CODES.md" "missing:$bad"; fi
env_names() { awk '/^\.SH / { on = ($0 ~ /ENVIRONMENT/); next } on' "$1" | tr -d '\\'; }
for v in NETTOOL_LOG NETTOOL_BACKEND NNTPSERVER NNTPPASS; do
  env_names "$mandir/nettool.1" | grep -q "fB${v}fR" || bad="$bad $v"
  env_names "$mandir/nettool-nntp-read.1" | grep -q "fB${v}fR" || bad="$bad nntp-read:$v"
done
if [ -z "$bad" ]; then ok "nettool.1: ENVIRONMENT names the four variables"; else
  not_ok "nettool.1: ENVIRONMENT names the four variables" "missing:$bad"; fi
if command -v groff >/dev/null; then
  warn=$(for f in "$mandir"/*.1; do groff -man -ww -z "$f" 2>&1 | sed "s|^|$(basename "$f"): |"; done)
  if [ -z "$warn" ]; then ok "groff -man -ww: no warnings in any page"; else
    not_ok "groff -man -ww: no warnings in any page" "$warn"; fi
fi
if command -v man >/dev/null && man --help 2>&1 | grep -q -- '--local-file'; then
  check "man -l renders nettool-ftp-get.1 with its options" bash -c \
    "MANWIDTH=80 man -l '$mandir/nettool-ftp-get.1' 2>/dev/null | grep -q -- '--resume'"
fi

if [ -n "${5:-}" ]; then
  if "$4" --install "$5" --prefix "$T_TMP/prefix" --component bin >"$T_TMP/install.log" 2>&1; then
    missing=""
    for c in nettool $cmds; do
      p=nettool-$c.1; [ "$c" = nettool ] && p=nettool.1
      [ -f "$T_TMP/prefix/share/man/man1/$p" ] || missing="$missing $p"
    done
    [ -f "$T_TMP/prefix/share/bash-completion/completions/nettool" ] || missing="$missing bash"
    [ -f "$T_TMP/prefix/share/zsh/vendor-completions/_nettool" ] || missing="$missing zsh"
    if [ -z "$missing" ]; then ok "cmake --install: share/man/man1/nettool*.1 and the completions"
    else not_ok "cmake --install: share/man/man1/nettool*.1 and the completions" "missing:$missing"; fi
  else
    not_ok "cmake --install --component bin" "$(tail -5 "$T_TMP/install.log")"
  fi
fi

# --- negative checks: the comparison catches drift ---------------------------
c=ftp-get
page=$mandir/nettool-$c.1
"$nt" $c --help >"$T_TMP/real.help"
# An option added to the CLI (a row in its --help) that the page lacks.
sed '/^  -o, --output/i\  --frobnicate            a new option nobody documented' \
  "$T_TMP/real.help" >"$T_TMP/doctored.help"
if ! out=$(compare "$T_TMP/doctored.help" "$page") && [ "$out" = "only in --help: --frobnicate" ]; then
  ok "an option only in --help fails the comparison ($out)"
else
  not_ok "an option only in --help fails the comparison" "got: $out"
fi
# An option the page documents that the CLI no longer has.
grep -v -- '^\\fB--resume\\fR' "$page" >"$T_TMP/doctored.1"
if ! out=$(compare "$T_TMP/real.help" "$T_TMP/doctored.1") && [ "$out" = "only in --help: --resume" ]; then
  ok "an option missing from the page fails the comparison ($out)"
else
  not_ok "an option missing from the page fails the comparison" "got: $out"
fi
sed '/^  -o, --output/d' "$T_TMP/real.help" >"$T_TMP/short.help"
if ! out=$(compare "$T_TMP/short.help" "$page") && [ "$out" = "$(printf 'only in the page: --output\nonly in the page: -o')" ]; then
  ok "an option only in the page fails the comparison"
else
  not_ok "an option only in the page fails the comparison" "got: $out"
fi
# A program whose ftp-get grew an option: the installed page fails against
# it, and mkman.py, run on it, documents the option (and passes again).
if command -v scdoc >/dev/null && [ -x /usr/bin/python3 ]; then
  fake=$T_TMP/nettool
  cat >"$fake" <<FAKE
#!/usr/bin/env bash
if [ "\${1:-}" = $c ] && [ "\${2:-}" = --help ]; then
  "$nt" "\$@" | sed '/^  -o, --output/i\\  -Z, --frobnicate N      a new option'
else exec "$nt" "\$@"; fi
FAKE
  chmod +x "$fake"
  "$fake" $c --help >"$T_TMP/fake.help"
  if out=$(compare "$T_TMP/fake.help" "$page"); then
    not_ok "a program with a new option fails against the old page" "no difference found"
  else
    ok "a program with a new option fails against the old page (${out//$'\n'/, })"
  fi
  if /usr/bin/python3 "$src/docs/man/mkman.py" --nettool "$fake" --src "$src/docs/man" \
      --exit-codes "$src/docs/EXIT-CODES.md" --out "$T_TMP/regen" 2>"$T_TMP/regen.err"; then
    out=$(compare "$T_TMP/fake.help" "$T_TMP/regen/nettool-$c.1")
    check "mkman.py documents the new option (-Z, --frobnicate N)" \
      bash -c "[ -z '$out' ] && grep -q 'frobnicate' '$T_TMP/regen/nettool-$c.1'"
  else
    not_ok "mkman.py runs on the doctored program" "$(cat "$T_TMP/regen.err")"
  fi
fi
t_summary
