#!/bin/sh
# Makes sure the commands the tests or the benchmark run exist: each argument is COMMAND or
# COMMAND:DEBIAN_PACKAGE. Missing ones are installed from Debian's packages when running as
# root on Debian or Ubuntu; elsewhere the script says what to install.
set -eu
missing=""
for spec in "$@"; do
  command=${spec%%:*}
  package=${spec#*:}
  command -v "$command" >/dev/null 2>&1 || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages:$missing" >&2
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  exit 0
fi
echo "missing:$missing (haproxy >= 2.6, shellcheck, cloud-init, nginx, wrk); install them (apt-get install …, brew install …) and retry" >&2
exit 1
