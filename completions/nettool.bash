# bash completion for nettool. Commands and options are read from
# `nettool --help` and `nettool COMMAND --help` when TAB is pressed, so they
# are those of the nettool being completed (installed or in a build tree)
# and cannot fall behind it. Installed as
# share/bash-completion/completions/nettool.

# The commands: the "commands:" block of `nettool --help`.
_nettool_commands() {
  "$1" --help 2>/dev/null | awk '/^commands:/ { f = 1; next }
    f && /^$/ { exit } f { print $1 }'
}

# One line per option row of `nettool CMD --help`: "NAMES ARG", NAMES like
# "-k,--insecure" or "--cacert", ARG the argument's placeholder or empty.
_nettool_options() {
  "$1" "$2" --help 2>/dev/null | sed -n -E \
    's/^  ((-[A-Za-z0-9]), )?(--[A-Za-z0-9][A-Za-z0-9-]*)( ([^ ]+( [^ ]+)?))?( {2,}.*)?$/\2,\3 \5/p' |
    sed -E 's/^,//'
}

_nettool() {
  local cur prev prog cmd
  cur=${COMP_WORDS[COMP_CWORD]}
  prev=${COMP_WORDS[COMP_CWORD - 1]}
  prog=${COMP_WORDS[0]}
  prog=${prog/#\~/$HOME}
  COMPREPLY=()
  if ((COMP_CWORD == 1)); then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W '-h --help -V --version' -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$(_nettool_commands "$prog")" -- "$cur"))
    fi
    return
  fi
  cmd=${COMP_WORDS[1]}
  local rows names arg line
  rows=$(_nettool_options "$prog" "$cmd")
  # The word after an option that takes an argument: files for FILE, OUT
  # and the like, nothing to offer otherwise.
  if [[ $prev == -* ]]; then
    while read -r names arg; do
      [[ ,$names, == *,"$prev",* ]] || continue
      case $arg in
        '') break ;;
        FILE | OUT | F | LOCAL) COMPREPLY=($(compgen -f -- "$cur")) ;;
      esac
      return
    done <<<"$rows"
  fi
  if [[ $cur == -* ]]; then
    names=$(printf '%s\n' "$rows" | awk '{ print $1 }' | tr ',' ' ')
    COMPREPLY=($(compgen -W "$names" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _nettool nettool
