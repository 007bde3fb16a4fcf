# Real zsh completion, for completions.sh: an interactive zsh in a pseudo
# terminal (zsh/zpty) with compinit and completions/ on fpath; each LINE is
# typed with a TAB, then the edited line is printed as "BUF:<line>".
#   zsh -f zsh_complete.zsh COMPLETIONS_DIR BIN_DIR WORKDIR LINE...
# Exits 77 without zsh/zpty. The caller bounds it in time.
zmodload zsh/zpty 2>/dev/null || exit 77
dir=$1 bin=$2 work=$3
shift 3
zpty z TERM=dumb zsh -f -i
zpty -w z "PS1='> '; fpath=(${(q)dir} \$fpath); PATH=${(q)bin}:\$PATH; cd ${(q)work}; autoload -Uz compinit; compinit -u -D; print RE''ADY"
zpty -r -m z out '*READY*' || exit 1
for line; do
  # "B""UF:" in the echoed input, BUF: only in print's output
  zpty -w -n z "$line"$'\t\C-aprint -r -- "B""UF:"\n'
  zpty -r -m z out $'*\nBUF:*\n' || exit 1
  out=${out##*$'\n'BUF:}
  print -r -- "BUF:${out%%[$'\r\n']*}"
done
zpty -d z
