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
# The stats page always asks for a password: the local stack gets a random one, kept as a secret
# (read it with `pulumi config get statsPassword`).
if ! pulumi config get statsPassword >/dev/null 2>&1; then
  pulumi config set --secret statsPassword "$(node -e 'process.stdout.write(require("crypto").randomBytes(18).toString("base64url"))')"
fi
pulumi up --yes "$@"
