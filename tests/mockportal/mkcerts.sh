#!/bin/sh
# Write a throwaway test PKI for the demo portal into DIR, with the openssl CLI only:
#   ca.pem ca.key          a self-signed CA
#   server.pem server.key  for 127.0.0.1 / ::1 / localhost (subjectAltName), signed by the CA
#   client.pem client.key  CN=custody-test-client, extendedKeyUsage clientAuth, signed by the CA
# Keys are unencrypted EC P-256; certificates are valid for DAYS (default 2).
#   sh tests/mockportal/mkcerts.sh DIR [DAYS]
set -eu
dir=${1:?usage: mkcerts.sh DIR [DAYS]}
days=${2:-2}
mkdir -p "$dir"
cd "$dir"
umask 077
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/CN=custody-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.pem

printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost" > server.ext
key server.key
openssl req -new -key server.key -subj "/CN=127.0.0.1" -out server.csr
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
    -extfile server.ext -out server.pem 2>/dev/null

printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=clientAuth" > client.ext
key client.key
openssl req -new -key client.key -subj "/CN=custody-test-client" -out client.csr
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
    -extfile client.ext -out client.pem 2>/dev/null

rm -f server.csr client.csr server.ext client.ext ca.srl
chmod 644 ca.pem server.pem client.pem
