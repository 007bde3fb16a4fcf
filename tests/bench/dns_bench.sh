#!/usr/bin/env bash
# DNS benchmark (not part of the test suite): 1,000 distinct names through
# nettool's resolver, all at once, against glibc getaddrinfo one after
# another, both asking the same local dnsmasq. glibc cannot be given a port,
# so everything runs in a private mount + network namespace (unshare -mn, as
# root) with its own loopback, dnsmasq on 127.0.0.1:53 and a bind-mounted
# resolv.conf naming it. No traffic leaves the namespace.
#   tests/bench/dns_bench.sh [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
n=${1:-1000}
[ "$(id -u)" = 0 ] || { echo "dns_bench.sh: needs root (unshare, port 53)" >&2; exit 1; }
"$root/scripts/install-deps.sh" test
cmake -S "$root" -B "$root/build/bench-dns" -G Ninja -DCMAKE_BUILD_TYPE=Release -DNT_BUILD_TESTS=OFF >/dev/null
ninja -C "$root/build/bench-dns" nettool_static >/dev/null
bin="$root/build/bench-dns/dns_bench"
cc -O2 -Wall -Wextra -Werror -I"$root/include" "$root/tests/bench/dns_bench.c" \
  "$root/build/bench-dns/libnettool.a" $(pkg-config --libs libcares) -lpthread -o "$bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
for i in $(seq 1 "$n"); do echo "127.0.$((i / 250 + 1)).$((i % 250 + 1)) n$i.test"; done > "$work/hosts"
cat > "$work/dnsmasq.conf" <<CONF
port=53
listen-address=127.0.0.1
bind-interfaces
no-resolv
no-hosts
no-poll
addn-hosts=$work/hosts
local=/test/
cache-size=10000
user=nobody
group=nogroup
pid-file=
CONF
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n' > "$work/resolv.conf"
unshare -mn bash -euo pipefail -c '
  work=$1 bin=$2 n=$3
  ip link set lo up
  mount --bind "$work/resolv.conf" /etc/resolv.conf
  dnsmasq -k -C "$work/dnsmasq.conf" & dpid=$!
  trap "kill $dpid" EXIT
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/53) 2>/dev/null && break; sleep 0.1; done
  "$bin" glibc 20 >/dev/null  # warm both paths once
  "$bin" glibc "$n" > "$work/glibc.out"
  /usr/bin/time -f "nettool-cpu user=%U sys=%S wall=%e" "$bin" nettool "$n" 5 > "$work/nettool.out" 2>"$work/time.out"; cat "$work/time.out" >> "$work/nettool.out"
' _ "$work" "$bin" "$n"
cat "$work/nettool.out" "$work/glibc.out"
g=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$work/glibc.out")
t=$(sed -n 's/^nettool best seconds=\([0-9.]*\)/\1/p' "$work/nettool.out")
rss=$(sed -n 's/.*rss_kib=\([0-9]*\).*/\1/p' "$work/nettool.out" | tr '\n' ' ')
echo
echo "| names | nettool (concurrent) | glibc getaddrinfo (sequential) | ratio | nettool RSS after each of 5 rounds (KiB) |"
echo "|---:|---:|---:|---:|---|"
awk -v n="$n" -v t="$t" -v g="$g" -v rss="$rss" 'BEGIN { printf "| %d | %.1f ms | %.1f ms | %.1fx | %s|\n", n, t*1000, g*1000, g/t, rss }'
