#!/bin/sh
# Installs the ACME client (lego) on the distributor host at first boot: its release archive for
# this instance's architecture, refused unless its SHA-256 is the pinned one, so a changed or
# corrupted download never runs. Amazon Linux 2023 does not package lego.
#
# Arguments: the archive's URL, its SHA-256 (64 hex digits). Environment: LEGO_BIN (where the
# binary goes; /usr/local/bin/lego).
set -eu
url=$1
sha256=$2
: "${LEGO_BIN:=/usr/local/bin/lego}"
say() { printf 'traffic-distributor: %s\n' "$*" >&2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! curl -fsSL --retry 5 --retry-connrefused --max-time 300 -o "$work/lego.tar.gz" "$url"; then
  say "could not download $url"
  exit 1
fi
actual=$(sha256sum "$work/lego.tar.gz" | cut -d' ' -f1)
if [ "$actual" != "$sha256" ]; then
  say "refused $url: its SHA-256 is $actual, not the pinned $sha256"
  exit 1
fi
tar -xzf "$work/lego.tar.gz" -C "$work" lego
install -m 0755 "$work/lego" "$LEGO_BIN"
say "installed lego from $url (sha256 $sha256) as $LEGO_BIN"
