#!/usr/bin/env bash
# Starts dnsmasq on 127.0.0.1/::1 with the test zone; prints "PORT PID".
#   dnsmasq.sh DIR
# Zone (everything under .test; other .test names are NXDOMAIN; names
# outside .test are REFUSED, since there is no upstream):
#   a.test      A 127.0.0.1, A 192.0.2.1       v6.test   AAAA ::1 (no A)
#   dual.test   A 127.0.0.1, AAAA ::1          he.test   A 127.0.0.1, AAAA ::1
#   cname.test  CNAME a.test                   chain.test CNAME cname.test
#   many.test   100 x A 198.51.100.N (too big for UDP: forces TCP)
#   nN.test     A 127.0.1.N for N in 1..1000 (for the benchmark)
# Adapted from the shared peer recipe (dns-dnsmasq.sh): dnsmasq-base only,
# foreground (-k), no /etc/hosts, no upstream.
set -eu
dir=$1
mkdir -p "$dir"; chmod 755 "$dir"
: > "$dir/hosts"
for i in $(seq 1 100); do echo "198.51.100.$i many.test" >> "$dir/hosts"; done
for i in $(seq 1 1000); do echo "127.0.$((i / 250 + 1)).$((i % 250 + 1)) n$i.test" >> "$dir/hosts"; done
for try in $(seq 1 20); do
  port=$((20000 + RANDOM % 40000))
  cat > "$dir/dnsmasq.conf" <<CONF
port=$port
listen-address=127.0.0.1
listen-address=::1
bind-interfaces
no-resolv
no-hosts
no-poll
addn-hosts=$dir/hosts
local=/test/
domain-needed
cache-size=10000
local-ttl=60
user=nobody
group=nogroup
pid-file=
log-queries
log-facility=$dir/dnsmasq.log
host-record=a.test,127.0.0.1
host-record=a.test,192.0.2.1
host-record=v6.test,::1
host-record=dual.test,127.0.0.1,::1
host-record=he.test,127.0.0.1,::1
cname=cname.test,a.test
cname=chain.test,cname.test
CONF
  : > "$dir/dnsmasq.log"
  dnsmasq -k -C "$dir/dnsmasq.conf" > "$dir/stdout.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port $pid"
      exit 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
done
echo "dnsmasq would not start:" >&2
cat "$dir/stdout.log" >&2
exit 1
