#!/bin/sh
# The ACME client's hook (lego --run-hook / --renew-hook): puts the certificate it was just
# issued into the running HAProxy without a reload, through the runtime API (`set ssl cert`,
# then `commit ssl cert`: new handshakes get the new certificate, open connections keep theirs),
# then into the certificate file, so the next reload loads the same one. Nothing is dropped.
#
# Environment: LEGO_CERT_PATH and LEGO_CERT_KEY_PATH (set by lego), CERTIFICATE_PATH (the file
# HAProxy loaded, as it names it), ADMIN_SOCKET (HAProxy's admin socket). Needs socat.
set -eu
: "${LEGO_CERT_PATH:?LEGO_CERT_PATH must name the issued certificate chain}"
: "${LEGO_CERT_KEY_PATH:?LEGO_CERT_KEY_PATH must name its private key}"
: "${CERTIFICATE_PATH:=/var/lib/haproxy/certs/site.pem}"
: "${ADMIN_SOCKET:=/var/lib/haproxy/admin.sock}"

say() { printf 'traffic-distributor: %s\n' "$*" >&2; }
runtime_api() { socat -t 10 - "UNIX-CONNECT:$ADMIN_SOCKET"; }

# The chain then the key, in one file beside the one it replaces (a rename is atomic). The key
# is never printed: HAProxy's answers are, and they do not echo the payload.
umask 077
next=$(mktemp "$CERTIFICATE_PATH.new.XXXXXX")
trap 'rm -f "$next"' EXIT
cat "$LEGO_CERT_PATH" "$LEGO_CERT_KEY_PATH" | grep -v '^[[:space:]]*$' >"$next"
if ! grep -q '^-----BEGIN CERTIFICATE-----' "$next" || ! grep -q '^-----BEGIN .*PRIVATE KEY-----' "$next"; then
  say "refused $LEGO_CERT_PATH: no certificate or no private key in it"
  exit 1
fi

# A multi-line payload ends at the first empty line.
answer=$({ printf 'set ssl cert %s <<\n' "$CERTIFICATE_PATH"; cat "$next"; printf '\n'; } | runtime_api)
case $answer in
  *"Transaction created"* | *"Transaction updated"*) ;;
  *) say "HAProxy refused the new certificate for $CERTIFICATE_PATH: $answer"; printf 'abort ssl cert %s\n' "$CERTIFICATE_PATH" | runtime_api >/dev/null || true; exit 1 ;;
esac
answer=$(printf 'commit ssl cert %s\n' "$CERTIFICATE_PATH" | runtime_api)
case $answer in
  *"Success!"*) ;;
  *) say "HAProxy did not commit the new certificate for $CERTIFICATE_PATH: $answer"; exit 1 ;;
esac

# Owned like the file it replaces: HAProxy's user reads it at the next reload.
chown "$(stat -c %u:%g "$CERTIFICATE_PATH")" "$next" 2>/dev/null || true
mv "$next" "$CERTIFICATE_PATH"
trap - EXIT
echo "traffic-distributor: serving the certificate for ${LEGO_CERT_DOMAIN:-its names} (runtime API, no reload)"
