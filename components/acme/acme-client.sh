#!/bin/sh
# The ACME client beside the distributor (the command of its container): lego gets a certificate
# for the names through HTTP-01 (HAProxy sends /.well-known/acme-challenge/ to lego's listener on
# the shared loopback), then checks every RENEW_INTERVAL seconds and renews RENEW_DAYS before
# expiry. install-certificate.sh, beside this script, puts each new certificate into the running
# HAProxy through its runtime API: no `pulumi up`, no reload, no dropped request.
#
# `acme-client.sh once` runs one pass and exits with its status (a renewal can be forced with
# RENEW_DAYS set above the certificate's lifetime, e.g. `docker exec -e RENEW_DAYS=999 ...`).
#
# Environment: ACME_DIRECTORY, ACME_DOMAINS (space-separated names, the first the subject),
# ACME_EMAIL (may be empty), ACME_CHALLENGE_ADDRESS (host:port of lego's HTTP-01 listener),
# LEGO_PATH (lego's accounts and certificates, under it), CERTIFICATE_PATH and
# ADMIN_SOCKET (for the hook), RENEW_DAYS, RENEW_INTERVAL, RETRY_INTERVAL (seconds).
# No globbing: the names are split on spaces below.
set -euf
: "${ACME_DIRECTORY:?ACME_DIRECTORY must be the ACME directory URL}"
: "${ACME_DOMAINS:?ACME_DOMAINS must list the certificate names}"
: "${ACME_EMAIL:=}"
: "${ACME_CHALLENGE_ADDRESS:=127.0.0.1:8402}"
: "${LEGO_PATH:=/var/lib/haproxy/acme}"
: "${CERTIFICATE_PATH:=/var/lib/haproxy/certs/site.pem}"
: "${RENEW_DAYS:=30}"
: "${RENEW_INTERVAL:=43200}"
: "${RETRY_INTERVAL:=3600}"
export CERTIFICATE_PATH

say() { printf 'traffic-distributor: %s\n' "$*" >&2; }
hook="$(cd "$(dirname "$0")" && pwd)/install-certificate.sh"
first=${ACME_DOMAINS%% *}
# One lego directory per CA, account and list of names: a change of any of them issues a new
# certificate (renewing the old one would keep a staging certificate, or the old names).
# shellcheck disable=SC2086 # the names, one per line
state=$(printf '%s\n' "$ACME_DIRECTORY" "$ACME_EMAIL" $ACME_DOMAINS | cksum | cut -d ' ' -f 1)
LEGO_PATH="$LEGO_PATH/$state"
# lego names the files after the first name, a wildcard's "*" as "_" (names here have none).
crt="$LEGO_PATH/certificates/$first.crt"
key="$LEGO_PATH/certificates/$first.key"

lego_args() {
  set -- --accept-tos --server "$ACME_DIRECTORY" --path "$LEGO_PATH" --key-type ec256 \
    --http --http.port "$ACME_CHALLENGE_ADDRESS"
  if [ -n "$ACME_EMAIL" ]; then set -- "$@" --email "$ACME_EMAIL"; fi
  for name in $ACME_DOMAINS; do set -- "$@" --domains "$name"; done
  printf '%s\n' "$@"
}

# One pass: issue when lego holds no certificate yet, else renew when it is due; then make sure
# HAProxy serves lego's certificate (a hook that failed, or a distributor that was replaced).
once() {
  umask 077
  mkdir -p "$LEGO_PATH" || return 1
  # The arguments are validated names and URLs without spaces: one per line is safe to split.
  old_ifs=$IFS
  IFS='
'
  # shellcheck disable=SC2046 # one argument per line, split on newlines only
  set -- $(lego_args)
  IFS=$old_ifs
  if [ -s "$crt" ]; then
    lego "$@" renew --days "$RENEW_DAYS" --no-random-sleep --renew-hook "$hook" || return 1
  else
    lego "$@" run --run-hook "$hook" || return 1
  fi
  if ! grep -hv '^[[:space:]]*$' "$crt" "$key" | cmp -s - "$CERTIFICATE_PATH"; then
    say "installing lego's certificate for $first"
    LEGO_CERT_PATH=$crt LEGO_CERT_KEY_PATH=$key LEGO_CERT_DOMAIN=$first "$hook" || return 1
  fi
}

if [ "${1:-}" = once ]; then
  once
  exit
fi

# PID 1 of its container: stop at once on `docker stop`, between passes.
trap 'exit 0' TERM INT
while :; do
  if once; then
    wait_for=$RENEW_INTERVAL
  else
    # A failed validation counts against the CA's rate limits: do not hammer it.
    wait_for=$RETRY_INTERVAL
    say "the ACME pass failed; next attempt in $wait_for s"
  fi
  sleep "$wait_for" &
  wait $! || true
done
