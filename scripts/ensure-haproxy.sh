#!/bin/sh
# The tests run the rendered config in a real HAProxy (Debian's 2.6). Install it when missing
# on a Debian or Ubuntu machine as root; elsewhere say how.
set -eu
if command -v haproxy >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "the tests need haproxy: installing Debian's package" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
  exit 0
fi
echo "the tests need haproxy >= 2.6 on PATH: install it (apt-get install haproxy, brew install haproxy) and retry" >&2
exit 1
