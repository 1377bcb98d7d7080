#!/bin/sh
# Runs the local stack: Docker as the target, state in ./.pulumi, stack "local".
set -eu
cd "$(dirname "$0")/.."
if ! command -v pulumi >/dev/null 2>&1; then
  echo "npm run up needs the Pulumi CLI: https://www.pulumi.com/docs/iac/download-install/" >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "npm run up needs a running Docker engine (docker info failed)" >&2
  exit 1
fi
# The local stack's secrets use an empty passphrase unless you chose one.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
pulumi stack select --create local
pulumi up --yes "$@"
