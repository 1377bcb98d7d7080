#!/bin/sh
# Runs before a replica container is removed (a new image, fewer replicas, destroy): waits until
# the distributor holds no connection to the replica, so the requests and streams it serves
# finish first, or until DRAIN_TIMEOUT_SECONDS have passed. After a release step the replica is
# only in the previous HAProxy workers, whose counters the runtime API no longer shows: the
# connections are counted in the distributor's own table of TCP sockets (/proc/net/tcp), by the
# replica's address. A missing replica or distributor has nothing to drain.
#
# Environment: DISTRIBUTOR, REPLICA (container names), PORT (the app port), DRAIN_TIMEOUT_SECONDS.
set -eu
: "${DISTRIBUTOR:?}" "${REPLICA:?}" "${PORT:?}" "${DRAIN_TIMEOUT_SECONDS:?}"
started=$(date +%s)

if ! ips=$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$REPLICA" 2>/dev/null); then
  echo "drain $REPLICA: no such container, nothing to drain"
  exit 0
fi
# /proc/net/tcp writes an IPv4 address as 8 hex digits, least significant byte first, then the port.
addresses=''
for ip in $ips; do
  addresses="$addresses $(echo "$ip" | awk -F. -v port="$PORT" '{ printf "%02X%02X%02X%02X:%04X", $4, $3, $2, $1, port }')"
done

# Established connections to the replica (0 when the distributor is gone: nothing to wait for).
connections() {
  docker exec "$DISTRIBUTOR" cat /proc/net/tcp 2>/dev/null |
    awk -v wanted="$addresses" 'BEGIN { split(wanted, list, " "); for (i in list) want[list[i]] = 1 }
      want[$3] && $4 == "01" { n++ } END { print n + 0 }'
}

while :; do
  count=$(connections)
  waited=$(( $(date +%s) - started ))
  if [ "$count" -eq 0 ]; then
    echo "drain $REPLICA: no connection left after ${waited}s"
    exit 0
  fi
  if [ "$waited" -ge "$DRAIN_TIMEOUT_SECONDS" ]; then
    echo "drain $REPLICA: $count connection(s) still open after ${waited}s (drain.timeout); removing it"
    exit 0
  fi
  sleep 1
done
