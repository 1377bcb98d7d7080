#!/bin/sh
# The distributor's certificate from an ACME CA, run by a systemd timer on the distributor host:
# the first run has lego issue it (HTTP-01: the CA's request reaches HAProxy's plain HTTP port,
# which routes /.well-known/acme-challenge/ to lego's listener); later runs renew it once fewer
# than RENEW_DAYS days are left. Either way lego's hook (install-certificate.sh) puts the new
# certificate into the running HAProxy through its runtime API: no reload, no dropped request.
# Last, if the file HAProxy loads is not lego's certificate (a hook that failed, a placeholder
# delivered over it), the hook runs again: the next run repairs what this one could not.
#
# Environment: ACME_DOMAINS (space-separated; the first names the certificate), ACME_DIRECTORY,
# ACME_EMAIL (optional), LEGO_PATH (lego's account and certificates), CERTIFICATE_PATH and
# ADMIN_SOCKET (as the hook takes them), INSTALL_HOOK (the hook's path), RENEW_DAYS,
# CHALLENGE_ADDRESS (host:port lego answers challenges on; unset, Docker's bridge gateway and
# CHALLENGE_PORT: what the container reaches as host.docker.internal), LEGO (the binary).
set -eu
: "${ACME_DOMAINS:?ACME_DOMAINS must list the names of the certificate}"
: "${ACME_DIRECTORY:?ACME_DIRECTORY must be the ACME directory URL}"
: "${LEGO_PATH:=/var/lib/traffic-distributor/acme}"
: "${CERTIFICATE_PATH:?CERTIFICATE_PATH must name the file HAProxy loads}"
: "${ADMIN_SOCKET:?ADMIN_SOCKET must name the admin socket of HAProxy}"
: "${INSTALL_HOOK:?INSTALL_HOOK must name install-certificate.sh}"
: "${RENEW_DAYS:=30}"
: "${CHALLENGE_PORT:=8402}"
: "${LEGO:=lego}"
say() { printf 'traffic-distributor: %s\n' "$*" >&2; }

if [ -z "${CHALLENGE_ADDRESS:-}" ]; then
  gateway=$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}')
  if [ -z "$gateway" ]; then
    say "Docker's bridge network has no gateway address: HAProxy's container cannot reach lego's challenge listener"
    exit 1
  fi
  CHALLENGE_ADDRESS=$gateway:$CHALLENGE_PORT
fi

umask 077
mkdir -p "$LEGO_PATH"
set -- --accept-tos --server "$ACME_DIRECTORY" --path "$LEGO_PATH" --key-type ec256 --http --http.port "$CHALLENGE_ADDRESS"
if [ -n "${ACME_EMAIL:-}" ]; then set -- "$@" --email "$ACME_EMAIL"; fi
for domain in $ACME_DOMAINS; do set -- "$@" --domains "$domain"; done
first=${ACME_DOMAINS%% *}
certificate=$LEGO_PATH/certificates/$first.crt
key=$LEGO_PATH/certificates/$first.key
export CERTIFICATE_PATH ADMIN_SOCKET

if [ -s "$certificate" ]; then
  # The timer adds its own random delay: no second one here.
  "$LEGO" "$@" renew --days "$RENEW_DAYS" --no-random-sleep --renew-hook "$INSTALL_HOOK"
else
  "$LEGO" "$@" run --run-hook "$INSTALL_HOOK"
fi

# What the hook writes: the chain, then the key, without empty lines.
if ! cat "$certificate" "$key" | grep -v '^[[:space:]]*$' | cmp -s - "$CERTIFICATE_PATH"; then
  say "HAProxy does not serve lego's certificate for $first yet: installing it"
  LEGO_CERT_PATH=$certificate LEGO_CERT_KEY_PATH=$key LEGO_CERT_DOMAIN=$first "$INSTALL_HOOK"
fi
