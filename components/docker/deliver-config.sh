#!/bin/sh
# Delivers a rendered HAProxy config (read from stdin) to a running distributor container:
# checks its trailer and validates it there with the container's own HAProxy, swaps it in, and
# reloads gracefully. A config that is cut short or that HAProxy rejects is never installed;
# a reload that fails after `haproxy -c` passed (a port already in use, say) puts the previous
# config back. Either way the running config keeps serving and this exits 1, which fails
# `pulumi up`.
#
# Everything that must hold across deliveries happens inside the container, where all
# deliveries to it meet (the host may be macOS, or another machine than the Docker engine):
# a lock on CONFIG_PATH.lock, held by a process whose stdin is this script, so a killed
# delivery releases it; each delivery's own temporary file; and CONFIG_PATH.rollback, the
# last config known to serve, kept from the swap until the reload is confirmed.
#
# Environment: CONTAINER (container name or id), CONFIG_PATH (the config file the container runs).
set -eu
: "${CONTAINER:?CONTAINER must name the distributor container}"
: "${CONFIG_PATH:=/usr/local/etc/haproxy/haproxy.cfg}"
trailer_prefix='# end of traffic-distributor config sha256:'
lock="$CONFIG_PATH.lock"
rollback="$CONFIG_PATH.rollback"
lock_wait_seconds=120

# Passwords in the config (`stats auth user:'password'`), replaced in everything printed:
# HAProxy's messages quote the offending line.
secrets=''
scrub() {
  SECRETS=$secrets awk '
    BEGIN { n = split(ENVIRON["SECRETS"], secret, "\n") }
    {
      for (i = 1; i <= n; i++) {
        if (secret[i] == "") continue
        out = ""; rest = $0
        while ((at = index(rest, secret[i])) > 0) {
          out = out substr(rest, 1, at - 1) "********"
          rest = substr(rest, at + length(secret[i]))
        }
        $0 = out rest
      }
      print
    }'
}
say() { printf 'traffic-distributor: %s\n' "$*" | scrub >&2; }
in_container() { docker exec -u 0 "$CONTAINER" "$@"; }

# PIDs of the container's HAProxy processes: the master plus one worker per loaded config.
haproxy_pids() { docker top "$CONTAINER" | awk 'NR > 1 && /haproxy/ { print $2 }' | sort; }

# How many lines of the container's log since $since contain $1; "?" when the log cannot be
# read (a log driver without reads): then only worker PIDs tell.
log_count() {
  if out=$(docker logs --since "$since" "$CONTAINER" 2>&1); then
    printf '%s\n' "$out" | grep -cF "$1" || true
  else
    echo "?"
  fi
}

# SIGUSR2 makes the master re-read the config and start a new worker; old workers finish the
# requests they hold. Success is a worker PID not in $before and, where the log can be read,
# one more "Loading success." from the master: HAProxy 3.x starts the new worker before it
# has loaded the config ("Initializing new worker"), and a worker that then fails ("Failed to
# load worker") must not count. A signal that arrives while the master re-executes after a
# failed reload is lost: send it twice.
reload() {
  for attempt in 1 2; do
    loaded=$(log_count "Loading success.")
    failed=$(log_count "Failed to load worker")
    docker kill --signal USR2 "$CONTAINER" >/dev/null
    tries=0
    while [ "$tries" -lt 40 ]; do
      new=$(haproxy_pids | grep -vxF "$before" || true)
      confirmed=""
      if [ "$loaded" = "?" ]; then
        if [ -n "$new" ]; then confirmed=yes; fi
      else
        if [ "$(log_count "Failed to load worker")" -gt "$failed" ]; then return 1; fi
        if [ -n "$new" ] && [ "$(log_count "Loading success.")" -gt "$loaded" ]; then confirmed=yes; fi
      fi
      if [ -n "$confirmed" ]; then
        reloaded="attempt $attempt, new worker $(printf '%s' "$new" | tr '\n' ' ' | sed 's/ $//')"
        return 0
      fi
      tries=$((tries + 1))
      sleep 0.25
    done
  done
  return 1
}

# HAProxy's alerts since the given time (the reason a reload failed).
recent_alerts() {
  docker logs --since "$1" "$CONTAINER" 2>&1 | grep -F '[ALERT]' | tail -n 5 | scrub >&2 || true
}

# A container that has just started may not run its first worker yet; a signal sent before
# HAProxy installs its handlers would be lost (PID 1 ignores unhandled signals).
wait_for_workers() {
  tries=0
  while [ "$(haproxy_pids | wc -l)" -lt 2 ]; do
    tries=$((tries + 1))
    if [ "$tries" -gt 40 ]; then say "HAProxy in $CONTAINER did not start within 20 s"; exit 1; fi
    sleep 0.5
  done
}

# Reloads the config on disk. If no worker starts with it, puts CONFIG_PATH.rollback back and
# reloads that, so the file on disk is the one serving; returns 1 then. $1 names the config.
reload_or_roll_back() {
  before=$(haproxy_pids)
  # The container's clock, not this machine's: a remote engine's may differ. A second early
  # is harmless, the counts are relative.
  since=$(($(docker exec "$CONTAINER" date +%s 2>/dev/null || date +%s) - 1))
  if reload; then
    in_container rm -f "$rollback"
    return 0
  fi
  say "HAProxy in $CONTAINER did not start a worker with $1 within 10 s; putting the previous config back. HAProxy said:"
  recent_alerts "$since"
  # shellcheck disable=SC2016 # expanded by the container's shell
  in_container sh -c 'set -e; cp -p "$2" "$1.restore"; mv "$1.restore" "$1"' sh "$CONFIG_PATH" "$rollback"
  # The old workers still serve the previous config; reloading it also undoes a reload of
  # the new one that succeeded too late to be seen.
  before=$(haproxy_pids)
  if reload; then
    in_container rm -f "$rollback"
    say "the previous config is back in $CONFIG_PATH and serving ($reloaded)"
  else
    say "the previous config is back in $CONFIG_PATH; its reload did not confirm either, see 'docker logs $CONTAINER'"
  fi
  return 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/traffic-distributor.XXXXXX")
holder=''
holding=''
# shellcheck disable=SC2317 # run by the EXIT trap
release() {
  if [ -n "$holding" ]; then
    exec 8>&-
    wait "$holder" || true
  elif [ -n "$holder" ]; then
    kill "$holder" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap release EXIT
trap 'exit 1' HUP INT TERM

# The lock holder runs in the container until its stdin (fd 8 here) closes: when this script
# ends, however it ends, the holder exits and the kernel drops the lock.
mkfifo "$work/hold" "$work/ready"
# shellcheck disable=SC2016 # expanded by the container's shell
docker exec -i -u 0 "$CONTAINER" sh -c '
  exec 9>>"$1" && flock -w "$2" 9 && echo locked && exec cat >/dev/null
' sh "$lock" "$lock_wait_seconds" <"$work/hold" >"$work/ready" &
holder=$!
exec 8>"$work/hold"
holding=yes
state=''
read -r state <"$work/ready" || true
if [ "$state" != locked ]; then
  say "could not take the delivery lock $lock in $CONTAINER within $lock_wait_seconds s (another delivery holds it, or the container is not running)"
  exit 1
fi

# This delivery's own file, beside the config so the swap is a rename. It copies the config's
# mode and owner (HAProxy's user must read it); leftovers of killed deliveries go first. A
# rollback copy left behind means a delivery stopped between its swap and a confirmed reload.
# shellcheck disable=SC2016
prepared=$(in_container sh -c '
  set -e
  rm -f "$1".new.*
  next=$(mktemp "$1.new.XXXXXX")
  cp -p "$1" "$next" || chmod 644 "$next"
  echo "$next"
  if [ -e "$2" ]; then echo unconfirmed; fi
' sh "$CONFIG_PATH" "$rollback")
next=$(printf '%s\n' "$prepared" | sed -n 1p)
if [ "$(printf '%s\n' "$prepared" | sed -n 2p)" = unconfirmed ]; then
  say "a previous delivery to $CONTAINER stopped before its reload was confirmed; reloading the config on disk first"
  wait_for_workers
  reload_or_roll_back "the config that delivery installed" || true
fi
# shellcheck disable=SC2016
docker exec -i -u 0 "$CONTAINER" sh -c 'cat > "$1"' sh "$next"

secrets=$(in_container sed -n \
  -e '/^[[:space:]]*stats[[:space:]][[:space:]]*auth[[:space:]]/!d' \
  -e 's/^[[:space:]]*stats[[:space:]][[:space:]]*auth[[:space:]][[:space:]]*[^:]*://' \
  -e 's/[[:space:]]*$//' -e "s/^'//" -e "s/'\$//" -e p "$next")

# The trailer's checksum covers every byte before it: a config cut anywhere fails here.
# shellcheck disable=SC2016
if ! problem=$(in_container sh -c '
  file=$1 prefix=$2
  [ -s "$file" ] || { echo "it is empty"; exit 1; }
  [ -z "$(tail -c 1 "$file")" ] || { echo "it does not end with a line break"; exit 1; }
  last=$(tail -n 1 "$file")
  case $last in
    "$prefix"*) ;;
    *) echo "its last line is not the trailer \"$prefix<sha256>\""; exit 1 ;;
  esac
  want=${last#"$prefix"}
  case $want in
    *[!0-9a-f]* | "") echo "its trailer does not hold a lowercase hex SHA-256"; exit 1 ;;
  esac
  [ "${#want}" -eq 64 ] || { echo "its trailer does not hold a lowercase hex SHA-256"; exit 1; }
  got=$(sed "\$d" "$file" | sha256sum | cut -d " " -f 1)
  [ "$got" = "$want" ] || { echo "its SHA-256 is $got, its trailer says $want"; exit 1; }
' sh "$next" "$trailer_prefix" 2>&1); then
  in_container rm -f "$next" || true
  printf '%s\n' "traffic-distributor: refused the new config for $CONTAINER: $problem." \
    "traffic-distributor: it was cut short or changed after rendering; the running config is unchanged." | scrub >&2
  exit 1
fi

if ! report=$(docker exec "$CONTAINER" haproxy -c -f "$next" 2>&1); then
  in_container rm -f "$next" || true
  say "HAProxy in $CONTAINER rejected the new config; the running config is unchanged:"
  printf '%s\n' "$report" | scrub >&2
  exit 1
fi

wait_for_workers

# Swap. The rollback copy is the config that serves now; one left by a delivery killed before
# its reload was confirmed is older and known to serve, so it is kept.
# shellcheck disable=SC2016
in_container sh -c '
  set -e
  [ -e "$2" ] || { cp -p "$1" "$2.new"; mv "$2.new" "$2"; }
  mv "$3" "$1"
' sh "$CONFIG_PATH" "$rollback" "$next"

if reload_or_roll_back "the new config"; then
  echo "traffic-distributor: $CONTAINER reloaded ($reloaded)"
  exit 0
fi
say "the new config was not installed"
exit 1
