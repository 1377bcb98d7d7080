#!/bin/sh
# Installs the distributor's certificate file (the chain, then the private key; read from stdin)
# into a running distributor container: written beside the old one and renamed over it, so HAProxy
# never reads half a file, readable by HAProxy's user alone (it is written as that user: the
# container runs without capabilities, so root there could not hand a file over). HAProxy reads it at its next reload
# (the config delivery that follows). With KEEP_EXISTING set, a file already there is kept: the
# ACME client has replaced the placeholder with the certificate it was issued.
#
# Environment: CONTAINER (container name or id), CERTIFICATE_DIR (in a directory HAProxy's user
# owns), CERTIFICATE_FILE, KEEP_EXISTING ("" or "1").
set -eu
: "${CONTAINER:?CONTAINER must name the distributor container}"
: "${CERTIFICATE_DIR:=/var/lib/haproxy/certs}"
: "${CERTIFICATE_FILE:=site.pem}"
: "${KEEP_EXISTING:=}"

# shellcheck disable=SC2016 # expanded by the container's shell
docker exec -i "$CONTAINER" sh -c '
  set -eu
  dir=$1 file=$1/$2 keep=$3
  if [ -n "$keep" ] && [ -s "$file" ]; then
    cat >/dev/null
    echo "traffic-distributor: kept the certificate in $file"
    exit 0
  fi
  umask 077
  mkdir -p "$dir"
  chmod 700 "$dir"
  next=$(mktemp "$file.new.XXXXXX")
  cat >"$next"
  if ! grep -q "^-----BEGIN CERTIFICATE-----" "$next" || ! grep -q "^-----BEGIN .*PRIVATE KEY-----" "$next"; then
    rm -f "$next"
    echo "traffic-distributor: refused the certificate file: it holds no certificate or no private key" >&2
    exit 1
  fi
  mv "$next" "$file"
  echo "traffic-distributor: installed the certificate in $file"
' sh "$CERTIFICATE_DIR" "$CERTIFICATE_FILE" "$KEEP_EXISTING"
