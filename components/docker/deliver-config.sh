#!/bin/sh
# Delivers a rendered HAProxy config (read from stdin) to a running distributor container:
# validates it there with the container's own HAProxy, swaps it in, and reloads gracefully.
# A config HAProxy rejects is never installed: the running one keeps serving, and this exits 1
# with HAProxy's message, which fails `pulumi up`.
#
# Environment: CONTAINER (container name or id), CONFIG_PATH (the config file the container runs).
set -eu
: "${CONTAINER:?CONTAINER must name the distributor container}"
: "${CONFIG_PATH:=/usr/local/etc/haproxy/haproxy.cfg}"
next="$CONFIG_PATH.next"

say() { printf 'traffic-distributor: %s\n' "$*" >&2; }

# PIDs of the container's HAProxy processes: the master plus one worker per loaded config.
haproxy_pids() { docker top "$CONTAINER" | awk 'NR > 1 && /haproxy/ { print $2 }' | sort; }

docker exec -i -u 0 "$CONTAINER" sh -c 'cat > "$1"' sh "$next"

if ! report=$(docker exec "$CONTAINER" haproxy -c -f "$next" 2>&1); then
  docker exec -u 0 "$CONTAINER" rm -f "$next" || true
  say "HAProxy in $CONTAINER rejected the new config; the running config is unchanged:"
  printf '%s\n' "$report" >&2
  exit 1
fi

# A container that has just started may not run its first worker yet; a signal sent before
# HAProxy installs its handlers would be lost (PID 1 ignores unhandled signals).
tries=0
while [ "$(haproxy_pids | wc -l)" -lt 2 ]; do
  tries=$((tries + 1))
  if [ "$tries" -gt 40 ]; then say "HAProxy in $CONTAINER did not start within 20 s"; exit 1; fi
  sleep 0.5
done

before=$(haproxy_pids)
docker exec -u 0 "$CONTAINER" mv "$next" "$CONFIG_PATH"

# SIGUSR2 makes the master re-read the config and fork new workers; old workers finish the
# requests they hold. Success shows as a worker PID that was not there before.
for attempt in 1 2; do
  docker kill --signal USR2 "$CONTAINER" >/dev/null
  tries=0
  while [ "$tries" -lt 20 ]; do
    now=$(haproxy_pids)
    new=$(printf '%s\n' "$now" | grep -vxF "$before" || true)
    if [ -n "$new" ]; then
      echo "traffic-distributor: $CONTAINER reloaded (attempt $attempt, new worker $new)"
      exit 0
    fi
    tries=$((tries + 1))
    sleep 0.25
  done
done
say "$CONTAINER did not start a worker with the new config within 10 s; see 'docker logs $CONTAINER'"
exit 1
