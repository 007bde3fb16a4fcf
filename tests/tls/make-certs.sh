#!/bin/sh
# make-certs.sh DIR -- the test PKI, made at test time with the openssl
# command (OpenSSL 3.0, Debian 12). Idempotent: does nothing if DIR/.done
# exists. Atomic: made in a scratch directory renamed into place, so tests
# running in parallel may all call it. Adapted from the shared peers recipe.
#   ca.crt/ca.key              test root CA (10 y)
#   server.crt/server.key      CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   server-chain.pem           server.crt + ca.crt
#   expired.crt/.key           signed by the CA, SAN as server, valid 2020-01-01..02
#   wronghost.crt/.key         signed by the CA, SAN DNS:wrong.example.invalid only
#   selfsigned.crt/.key        self-signed, SAN localhost/127.0.0.1 ("self-signed")
#   otherca.crt                another root CA, not trusted by the tests
#   untrusted.crt/.key         SAN as server, signed by otherca ("unknown CA")
#   client.crt/.key            clientAuth, signed by the CA (mutual TLS)
set -eu
FINAL=${1:?usage: make-certs.sh DIR}
case $FINAL in /*) ;; *) FINAL=$(pwd)/$FINAL ;; esac
[ -f "$FINAL/.done" ] && exit 0
D=$FINAL.tmp.$$
rm -rf "$D"
mkdir -p "$D"
trap 'rm -rf "$D"' EXIT
cd "$D"
O=openssl
# EC P-256 keys: as good as RSA for these tests and 20x faster to make.
KEY="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1"

root() { # name subject
  $O req -x509 $KEY -nodes -keyout "$1.key" -out "$1.crt" -days 3650 -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() { # name subject san eku ca [extra args for x509]
  n=$1 subj=$2 san=$3 eku=$4 ca=$5
  shift 5
  $O req $KEY -nodes -keyout "$n.key" -out "$n.csr" -subj "$subj" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$eku" "$san" >"$n.ext"
  $O x509 -req -in "$n.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
    -out "$n.crt" -extfile "$n.ext" "$@" 2>/dev/null
  rm -f "$n.csr" "$n.ext"
}

root ca "/CN=nettool Test Root CA"
root otherca "/CN=nettool Other CA"
SAN="DNS:localhost,IP:127.0.0.1,IP:::1"
leaf server "/CN=localhost" "$SAN" serverAuth ca -days 825
leaf wronghost "/CN=wrong.example.invalid" "DNS:wrong.example.invalid" serverAuth ca -days 825
leaf untrusted "/CN=localhost" "$SAN" serverAuth otherca -days 825
leaf client "/CN=test-client" "DNS:test-client" clientAuth ca -days 825

# expired: `x509 -days` cannot back-date in OpenSSL 3.0, `openssl ca` can.
mkdir -p ca.db
: >ca.db/index.txt
[ -f ca.db/serial ] || echo 1000 >ca.db/serial
cat >ca.db/ca.cnf <<CNF
[ca]
default_ca=tca
[tca]
dir=$D/ca.db
database=\$dir/index.txt
serial=\$dir/serial
new_certs_dir=\$dir
default_md=sha256
policy=pol
unique_subject=no
copy_extensions=none
[pol]
commonName=supplied
[ext]
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$SAN
CNF
$O req $KEY -nodes -keyout expired.key -out expired.csr -subj "/CN=localhost" 2>/dev/null
$O ca -batch -config ca.db/ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr \
  -out expired.crt -startdate 20200101000000Z -enddate 20200102000000Z \
  -extensions ext -notext 2>/dev/null
rm -f expired.csr

$O req -x509 $KEY -nodes -keyout selfsigned.key -out selfsigned.crt -days 825 \
  -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
cat server.crt ca.crt >server-chain.pem
chmod 644 ./*.crt ./*.pem
chmod 600 ./*.key
touch .done
cd /
# Someone else may have won the race: theirs is as good as ours.
[ -d "$FINAL" ] && [ ! -f "$FINAL/.done" ] && rmdir "$FINAL" 2>/dev/null
mv -T "$D" "$FINAL" 2>/dev/null || true
[ -f "$FINAL/.done" ] || { echo "make-certs.sh: could not create $FINAL" >&2; exit 1; }
echo "certs in $FINAL"
