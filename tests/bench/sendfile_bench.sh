#!/usr/bin/env bash
# File bodies without a user-space copy (issue 14; not part of the suite):
# the CPU nettool spends uploading the same file over plain TCP on loopback
#   sendfile  `ftp-put FILE` / `http-upload URL FILE`: the body is a file
#             range (nt_transport_write_file), sent by sendfile(2) on epoll
#             and poll, and on io_uring too (from the ring-polled socket's
#             writability; not IORING_OP_SPLICE, see docs/DESIGN.md);
#   copy      the same bytes from stdin (`ftp-put - NAME < FILE`,
#             `http-upload URL - < FILE`, chunked): read(2) into user space,
#             then written, as any stream body is;
# on epoll and on io_uring. Peers: vsftpd (tests/integration/ftp_peers.sh;
# root, vsftpd) and http_sink.c (discards the body in the kernel). Files
# on /dev/shm. nettool pinned to CPU 1, the servers to CPU 0 where there
# are 2 CPUs. Prints, per transfer: nettool's CPU seconds (user + system,
# GNU time) and wall seconds, medians of ROUNDS, and copy/sendfile ratios.
#   tests/bench/sendfile_bench.sh [NETTOOL] [ROUNDS] [SIZE_MIB]
# Defaults: a Release build in build/bench-sendfile, 3 rounds, 1024 MiB.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
nt=${1:-}
rounds=${2:-3}
size_mib=${3:-1024}
[[ $rounds =~ ^[1-9][0-9]?$ ]] || { echo "sendfile_bench: bad ROUNDS '$rounds'" >&2; exit 64; }
[[ $size_mib =~ ^[1-9][0-9]*$ ]] || { echo "sendfile_bench: bad SIZE_MIB '$size_mib'" >&2; exit 64; }
. "$root/tests/bench/bench_lib.sh"
[ "$(id -u)" -eq 0 ] || { echo "sendfile_bench: needs root (vsftpd starts as root)" >&2; exit 1; }
bench_need /usr/sbin/vsftpd /usr/bin/time cc
NETTOOL=$nt
bench_nettool "$root/build/bench-sendfile"
nt=$NETTOOL

# shellcheck source=../integration/ftp_peers.sh
. "$root/tests/integration/ftp_peers.sh"
ftp_lock || { echo "sendfile_bench: another FTP test holds the lock" >&2; exit 1; }
shm=$(bench_shm)
sink_pid=""
cleanup() {
  set +e
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
  ftp_peers_cleanup
  rm -rf "$shm"
}
trap cleanup EXIT

bench_pins

sh "$root/tests/tls/make-certs.sh" "$shm/certs" >/dev/null
chmod 755 "$shm/certs"
ftp_users_setup
port=$(ftp_free_port)
vsftpd_start "$shm/srv" "$port" "$shm/certs" >/dev/null
((${#srv_pin[@]})) && taskset -a -p -c 0 "${FTP_PEERS_PIDS[-1]}" >/dev/null

bench_sink "$shm"
http_url=$sink_url

src=$shm/src.bin
head -c $((size_mib * 1024 * 1024)) /dev/urandom >"$src"
bytes=$((size_mib * 1024 * 1024))
want_sha=$(sha256sum "$src" | cut -d' ' -f1)

# run NAME BACKEND PATH: one upload; appends "cpu_s wall_s" to $shm/NAME.
run() {
  local name=$1 be=$2 path=$3
  local -a cmd
  case "$name" in
  ftp) rm -f "$shm/srv/home/up.bin"
    if [ "$path" = sendfile ]; then
      cmd=("$nt" ftp-put 127.0.0.1 "$src" up.bin --port "$port" -u "$FTP_USER:$FTP_PASS" -q)
    else
      cmd=("$nt" ftp-put 127.0.0.1 - up.bin --port "$port" -u "$FTP_USER:$FTP_PASS" -q)
    fi ;;
  http)
    if [ "$path" = sendfile ]; then cmd=("$nt" http-upload -q "$http_url" "$src"); else
      cmd=("$nt" http-upload -q "$http_url" -); fi ;;
  esac
  NETTOOL_BACKEND=$be /usr/bin/time -f "%U %S %e" -o "$shm/t" "${pin[@]}" "${cmd[@]}" \
    <"$src" >"$shm/out" 2>"$shm/err" ||
    { echo "sendfile_bench: $name $be $path failed: $(cat "$shm/err")" >&2; exit 1; }
  if [ "$name" = ftp ]; then
    [ "$(sha256sum "$shm/srv/home/up.bin" | cut -d' ' -f1)" = "$want_sha" ] ||
      { echo "sendfile_bench: ftp $be $path: the server's copy differs" >&2; exit 1; }
  else # the sink answers with the bytes it read (the body and its framing)
    [ "$(tr -d '\r\n' <"$shm/out")" -gt "$bytes" ] ||
      { echo "sendfile_bench: http $be $path: the sink got $(cat "$shm/out") bytes" >&2; exit 1; }
  fi
  awk '{printf "%.3f %.3f\n", $1 + $2, $3}' "$shm/t" >>"$shm/$name.$be.$path"
}

for i in $(seq "$rounds"); do
  for name in ftp http; do
    for be in epoll io_uring; do
      # alternate which path goes first
      if [ $((i % 2)) = 1 ]; then order="sendfile copy"; else order="copy sendfile"; fi
      for path in $order; do run "$name" "$be" "$path"; done
    done
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "File bodies over plain TCP: $size_mib MiB uploaded to loopback, nettool's CPU (user+system) and wall seconds, median of $rounds, $(date -u +%Y-%m-%d), $(uname -r), $(nproc) CPUs"
echo
echo "| upload | backend | sendfile: CPU s | wall s | copy: CPU s | wall s | CPU copy/sendfile |"
echo "|---|---|---:|---:|---:|---:|---:|"
for name in ftp http; do
  for be in epoll io_uring; do
    sc=$(cut -d' ' -f1 "$shm/$name.$be.sendfile" | median)
    sw=$(cut -d' ' -f2 "$shm/$name.$be.sendfile" | median)
    cc_=$(cut -d' ' -f1 "$shm/$name.$be.copy" | median)
    cw=$(cut -d' ' -f2 "$shm/$name.$be.copy" | median)
    label=$([ "$name" = ftp ] && echo "ftp-put (vsftpd)" || echo "http-upload (sink)")
    printf '| %s | %s | %s | %s | %s | %s | %sx |\n' "$label" "$be" "$sc" "$sw" "$cc_" "$cw" \
      "$(awk -v a="$cc_" -v b="$sc" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}')"
  done
done
echo
echo "Busy machine? Other processes slow the wall time of both paths; the CPU columns are nettool's own."
