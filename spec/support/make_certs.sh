#!/bin/sh
# make_certs.sh DIR: the certificates of the TLS failure specs (the TLS items of the checklist), made
# with openssl into DIR: a root CA and an intermediate, and leaves for "localhost":
#   ok          signed by the root, valid now
#   expired     valid from 2020 to 2021
#   future      valid from 2099
#   selfsigned  its own issuer
#   nochain     signed by the intermediate, served without it
#   clientonly  extendedKeyUsage clientAuth only
#   wildcard    DNS:*.test only
#   ipsan       IP:127.0.0.1 and IP:::1 (an address as RFC 5280 4.2.1.6 wants it)
#   dnsip       DNS:127.0.0.1 and DNS:::1, CN 127.0.0.1: names that spell addresses,
#               which must never match an address (RFC 6125 1.7.2)
#   cnip        no subjectAltName, CN 127.0.0.1
# Each leaf X has X.crt and X.key; root.crt is the CA to trust.
set -eu
D=$1
mkdir -p "$D"
cd "$D"
[ -f done ] && exit 0
KEY="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $KEY -days 30 -keyout root.key -out root.crt -subj "/CN=missive root" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
mkdir -p ca/new
: >ca/index.txt
echo 1000 >ca/serial
cat >ca.cnf <<CNF
[ca]
default_ca = ca_default
[ca_default]
dir = $D/ca
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[any]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:localhost
[wild]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.test
[ipsan]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:::1
[dnsip]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:127.0.0.1,DNS:::1
[nosan]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
[inter]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
CNF
# leaf NAME ISSUER EXT START END [CN]
leaf() {
    openssl req $KEY -keyout "$1.key" -out "$1.csr" -subj "/CN=${6:-$1}" 2>/dev/null
    openssl ca -batch -config ca.cnf -cert "$2.crt" -keyfile "$2.key" -extensions "$3" \
        -startdate "$4" -enddate "$5" -in "$1.csr" -out "$1.crt" 2>/dev/null
}
leaf ok root leaf 20200101000000Z 20991231000000Z
leaf expired root leaf 20200101000000Z 20210101000000Z
leaf future root leaf 20990101000000Z 20991231000000Z
leaf clientonly root client 20200101000000Z 20991231000000Z
leaf wildcard root wild 20200101000000Z 20991231000000Z
leaf inter root inter 20200101000000Z 20991231000000Z
leaf nochain inter leaf 20200101000000Z 20991231000000Z
leaf ipsan root ipsan 20200101000000Z 20991231000000Z
leaf dnsip root dnsip 20200101000000Z 20991231000000Z 127.0.0.1
leaf cnip root nosan 20200101000000Z 20991231000000Z 127.0.0.1
openssl req -x509 $KEY -days 30 -keyout selfsigned.key -out selfsigned.crt \
    -subj "/CN=localhost" -addext subjectAltName=DNS:localhost 2>/dev/null
chmod 644 ./*.crt ./*.key
touch done
