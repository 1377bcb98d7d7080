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
# Environment: CONTAINER (container name or id), CONFIG_PATH (the config file the container runs),
# and the delivery plan (components/deliveryPlan.ts), both or neither: PLAN_VERSION (1) and
# PLAN_WEIGHTS ("<backend>/<server>=<weight> ...", every weighted server of the new config).
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

# The plan, checked before anything: it reaches the runtime API as it is.
plan=''
plan_weights=''
if [ -n "${PLAN_VERSION:-}" ]; then
  if [ "$PLAN_VERSION" != 1 ]; then
    say "the delivery plan is version $PLAN_VERSION and this delivery reads version 1; the running config is unchanged"
    exit 1
  fi
  # One line: grep matches line by line.
  if [ "$(printf '%s' "${PLAN_WEIGHTS:-}" | wc -l)" -ne 0 ] ||
    ! printf '%s\n' "${PLAN_WEIGHTS:-}" | grep -Eq '^([a-z_]+/[A-Za-z0-9_.:-]+=[0-9]{1,3}( [a-z_]+/[A-Za-z0-9_.:-]+=[0-9]{1,3})*)?$'; then
    say "the delivery plan's PLAN_WEIGHTS is malformed; the running config is unchanged"
    exit 1
  fi
  plan=yes plan_weights=$PLAN_WEIGHTS
fi
# As root, with HAProxy's group ($group, read below) as the primary one: every file it creates
# belongs to that group. The Docker distributor drops every capability, so root there cannot
# chown a file to HAProxy's user: group ownership needs no capability.
in_container() { docker exec -u "0:${group:-0}" "$CONTAINER" "$@"; }

# Every config file this writes (the new one, the hold, the rollback and previous copies, a
# restored one) is mode 0640, root's and HAProxy's group's: it holds the stats password, and on
# aws the config directory is a host directory. In the container's shell (in_container),
# `copy SRC DST` writes such a file, never readable by others, not even for a moment;
# `replace SRC DST` puts such a copy in place of DST by rename.
# shellcheck disable=SC2016 # expanded by the container's shell
COPY='copy() { rm -f "$2" && (umask 027 && cp "$1" "$2") && chmod 640 "$2"; }
replace() { copy "$1" "$2.new" && mv "$2.new" "$2"; }'

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

# What the master logs when a reload fails: 3.x "Failed to load worker", 2.6 "Loading failure!"
# (grep -F takes each line as a pattern).
load_failed='Failed to load worker
Loading failure!'

# SIGUSR2 makes the master re-read the config and start a new worker; old workers finish the
# requests they hold. Success is a worker PID not in $before and, where the log can be read,
# one more "Loading success." from the master: HAProxy 3.x starts the new worker before it
# has loaded the config ("Initializing new worker"), and a worker that then fails ("Failed to
# load worker") must not count. A signal that arrives while the master re-executes after a
# failed reload is lost: send it twice.
reload() {
  for attempt in 1 2; do
    loaded=$(log_count "Loading success.")
    failed=$(log_count "$load_failed")
    docker kill --signal USR2 "$CONTAINER" >/dev/null
    tries=0
    while [ "$tries" -lt 40 ]; do
      new=$(haproxy_pids | grep -vxF "$before" || true)
      confirmed=""
      if [ "$loaded" = "?" ]; then
        if [ -n "$new" ]; then confirmed=yes; fi
      else
        if [ "$(log_count "$load_failed")" -gt "$failed" ]; then
          reload_failure="HAProxy reported the failure"
          return 1
        fi
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
  reload_failure="no new worker within 10 s"
  if reload; then
    in_container rm -f "$rollback"
    return 0
  fi
  say "HAProxy in $CONTAINER did not start a worker with $1 ($reload_failure); putting the previous config back. HAProxy said:"
  recent_alerts "$since"
  # shellcheck disable=SC2016 # expanded by the container's shell
  in_container sh -c "$COPY"'; replace "$2" "$1"' sh "$CONFIG_PATH" "$rollback"
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
# shellcheck disable=SC2317 # run by the EXIT trap, while the lock is still held
forget_previous() {
  if [ -n "${previous:-}" ]; then in_container rm -f "$previous" >/dev/null 2>&1 || true; fi
}
trap 'forget_previous; release' EXIT
# Interrupted (pulumi up cancelled) while the hold or the new config is on probation: put the
# previous config back, so that what serves is what Pulumi's state records.
# shellcheck disable=SC2317 # run by the traps
interrupted() {
  if [ -n "${on_probation:-}" ]; then
    say "interrupted during the release gate or the bake; putting the previous config back"
    restore_previous
  fi
  exit 1
}
trap interrupted HUP INT TERM

# Up front, before anything changes: the group of the container's default user (HAProxy's, the
# group of every config file written below) and perl, which the release gate needs for the
# runtime API. Alpine-based HAProxy images have no perl.
# shellcheck disable=SC2016 # expanded by the container's shell
if ! probe=$(docker exec "$CONTAINER" sh -c '
  if command -v perl >/dev/null 2>&1; then echo perl; else echo none; fi
  id -g
' 2>&1); then
  say "could not run a command in $CONTAINER (is it running?); the running config is unchanged:"
  printf '%s\n' "$probe" | tail -n 3 | scrub >&2
  exit 1
fi
if [ "$(printf '%s\n' "$probe" | sed -n 1p)" != perl ]; then
  say "the HAProxy image of $CONTAINER has no perl, which the delivery needs to speak to HAProxy's runtime API (Alpine-based images have none): set distributor.image (the stack config key, and the component's distributor.image argument) to a Debian-based HAProxy image (an official \"haproxy\" tag without \"-alpine\"); the running config is unchanged"
  exit 1
fi
group=$(printf '%s\n' "$probe" | sed -n 2p)
if ! printf '%s\n' "$group" | grep -Eqx '[0-9]+'; then
  say "could not tell the group HAProxy runs as in $CONTAINER (id -g said \"$group\"); the running config is unchanged"
  exit 1
fi

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

# This delivery's own file, beside the config so the swap is a rename: mode 0640, root's and
# HAProxy's group's (see COPY); leftovers of killed deliveries go first. A
# rollback copy left behind means a delivery stopped between its swap and a confirmed reload.
# shellcheck disable=SC2016
prepared=$(in_container sh -c '
  set -e
  rm -f "$1".new.* "$1.previous"
  next=$(mktemp "$1.new.XXXXXX")
  chmod 640 "$next"
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

# `haproxy -c` binds nothing. A reload whose new worker cannot bind fails only after the
# serving listeners were paused for it (until the rollback): so each TCP address the new
# config binds and the running one does not is tried first, in the container, and one that
# another process holds is refused here, with nothing paused.
# shellcheck disable=SC2016 # awk's fields
binds_of() { in_container awk '$1 == "bind" && $2 ~ /^(\*|[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+):[0-9]+$/ { print $2 }' "$1" | sort -u; }
running_binds=$(binds_of "$CONFIG_PATH" | tr '\n' ' ')
for bind in $(binds_of "$next"); do
  case " $running_binds " in *" $bind "*) continue ;; esac
  address=${bind%:*} port=${bind##*:}
  if [ "$address" = "*" ]; then address=0.0.0.0; fi
  # Only "in use" refuses: another error (no permission for a low port as this user) is
  # left to HAProxy, which may have the capability.
  tried=0
  # shellcheck disable=SC2016 # perl's variables
  docker exec "$CONTAINER" perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalAddr => $ARGV[0], LocalPort => $ARGV[1], Proto => "tcp", Listen => 1, ReuseAddr => 1);
    exit 0 if $s;
    exit($!{EADDRINUSE} ? 3 : 0);
  ' "$address" "$port" || tried=$?
  if [ "$tried" -eq 3 ]; then
    in_container rm -f "$next" || true
    say "refused the new config for $CONTAINER: it listens on $bind, which another process in $CONTAINER's network holds (address already in use); free the port or choose another; nothing was reloaded and the running config is unchanged"
    exit 1
  fi
done

wait_for_workers

# Release gate. Every rendered config carries a header (components/releaseGate.ts): its split
# ("split: <routing> blue <n> green <n>"), each color's servers ("servers <color> in
# <backend>: <name>=<address> ..."), and the gate settings. A color whose share of the split
# rises (the receiving color) must have its servers pass the distributor's own health checks
# before the new config serves: when its servers differ from the running ones, the "hold"
# config (the new servers, the running split) is loaded first. A config without a header
# (the bootstrap config, a hand-made one) has no split to protect: delivered as before.
header_value() { printf '%s\n' "$1" | sed -n "s/^# traffic-distributor $2//p" | head -n 1; }
# shellcheck disable=SC2016 # expanded by the container's shell
read_header() { in_container sh -c 'grep "^# traffic-distributor " "$1" || true' sh "$1"; }
valid_split() { printf '%s\n' "$1" | grep -Eqx '(round-robin|sticky|failover) blue [0-9]{1,3} green [0-9]{1,3}'; }
valid_servers() { printf '%s\n' "$1" | grep -Eqx 'in (app|blue|green): [][A-Za-z0-9._:=-]+( [][A-Za-z0-9._:=-]+)*'; }

# The admin socket of the running config, from its `stats socket` line.
admin_socket() { in_container sed -n 's/^[[:space:]]*stats socket \([^[:space:]]*\) .*/\1/p' "$CONFIG_PATH" | head -n 1; }
# One command on the runtime API, as HAProxy's user (the container's), through perl-base.
runtime() {
  # shellcheck disable=SC2016 # perl's variables
  docker exec "$CONTAINER" perl -MIO::Socket::UNIX -e \
    '$s=IO::Socket::UNIX->new(Peer=>shift) or die "$!\n"; print $s "@ARGV\n"; print while <$s>' "$socket" "$@"
}

# `show stat` for the servers named (backend/server ...): first one line of counts (UP, listed,
# requests, 5xx, connection errors, response errors, errors), then one line per server. UP
# means UP (or DRAIN: up at weight 0) with a check passed since the last reload (not INI).
# While a server's check runs ("* " before its status), HAProxy shows no code and no
# description: the check result of the previous report (KNOWN) stands, if there is one.
# shellcheck disable=SC2016
STAT_AWK='
  function field(name) { return $(col[name]) }
  BEGIN {
    n = split(ENVIRON["KNOWN"], known, "\n")
    for (i = 1; i <= n; i++) if (match(known[i], /, check /)) { id = known[i]; sub(/^ +/, "", id); sub(/: .*/, "", id); before[id] = substr(known[i], RSTART + RLENGTH) }
  }
  NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; n = split(ids, list, " "); for (i = 1; i <= n; i++) want[list[i]] = 1; next }
  ($1 "/" $2) in want {
    status = field("status"); check = field("check_status"); running = sub(/^\* /, "", check)
    desc = field("last_chk")
    for (i = col["last_chk"] + 1; desc ~ /^"/ && desc !~ /"$/ && i <= NF; i++) desc = desc "," $i
    gsub(/"/, "", desc)
    ok = (status == "UP" || status == "DRAIN") && check ~ /^(L4OK|L6OK|L7OK|L7OKC)$/
    up += ok; seen++
    code = field("check_code")
    result = sprintf("%s%s%s", check, code == "" ? "" : " " code, desc == "" ? "" : " (" desc ")")
    if (running) result = (($1 "/" $2) in before) ? before[$1 "/" $2] : check " (running)"
    lines = lines sprintf("  %s: %s, check %s\n", $1 "/" $2, status, result)
    requests += field("stot"); e5 += field("hrsp_5xx"); econ += field("econ"); eresp += field("eresp")
    mine[$1] = 1
  }
  # HAProxy answers some requests itself (503 when no server is available, 504 when one times
  # out): the backend counts them, no server does. Those of a backend that holds the servers
  # named count as theirs.
  $2 == "BACKEND" { backend5xx[$1] = field("hrsp_5xx"); backendSessions[$1] = field("stot"); next }
  $2 != "FRONTEND" { server5xx[$1] += field("hrsp_5xx") }
  END {
    for (b in mine) { own = backend5xx[b] - server5xx[b]; if (own > 0) { e5 += own; requests += own } }
    printf "%d %d %d %d %d %d %d\n%s", up + 0, seen + 0, requests + 0, e5 + 0, econ + 0, eresp + 0, e5 + econ + eresp, lines
  }'
# Prints "unreadable" when the runtime API does not answer with `show stat`.
server_report() {
  if ! stat=$(runtime show stat 2>/dev/null) || [ "${stat#"# pxname,"}" = "$stat" ]; then
    echo unreadable
    return 0
  fi
  printf '%s\n' "$stat" | KNOWN="${2:-}" awk -F, -v ids="$1" "$STAT_AWK"
}
# The counters line of the servers named, zeros when the runtime API does not answer: where a
# bake starts counting on a worker that has served since its reload.
counters_now() { server_report "$1" | sed -n 1p | sed 's/^unreadable$/0 0 0 0 0 0 0/'; }
# The SHA-256 a config's trailer names.
sealed_sha() { in_container tail -n 1 "$1" | sed -n "s/^$trailer_prefix//p"; }

# Ids (backend/server) of a color's servers in a header's servers value "in <backend>: n=a ...".
server_ids() { printf '%s\n' "$1" | awk '{ b = $2; sub(/:$/, "", b); for (i = 3; i <= NF; i++) { s = $i; sub(/=.*/, "", s); printf "%s%s/%s", (i > 3 ? " " : ""), b, s } }'; }
entries_of() { printf '%s\n' "$1" | cut -d' ' -f3- | tr ' ' '\n' | sort; }
percent() { printf '%d.%02d%%' $(($1 / 100)) $(($1 % 100)); }

# A config on probation of its bake: the marker holds its SHA-256, the receiving color and its
# server ids; the config before it is kept beside it. A delivery killed during the bake leaves
# both, and the next delivery of the same config bakes it.
unbaked="$CONFIG_PATH.unbaked"
unbaked_previous="$CONFIG_PATH.unbaked-previous"
forget_unbaked() { in_container rm -f "$unbaked" "$unbaked_previous" >/dev/null 2>&1 || true; }

# Puts the config that served before this delivery back and reloads it.
restore_previous() {
  forget_unbaked
  # shellcheck disable=SC2016
  in_container sh -c "$COPY"'; replace "$2" "$1"' sh "$CONFIG_PATH" "$previous"
  before=$(haproxy_pids)
  since=$(($(docker exec "$CONTAINER" date +%s 2>/dev/null || date +%s) - 1))
  if reload; then
    say "the previous config is back in $CONFIG_PATH and serving ($reloaded); the split is as it was"
  else
    say "the previous config is back in $CONFIG_PATH; its reload did not confirm, see 'docker logs $CONTAINER'"
  fi
}

# The bake: the receiving color's requests and errors (5xx answers, HAProxy's own included,
# failed connections, failed responses) since $1 (the counters line at its start), polled until
# bake_ms has passed; above max_error_bp, or when the runtime API does not answer, the previous
# config goes back and the delivery fails. Fewer than 20 requests are judged only at the end.
bake() {
  # shellcheck disable=SC2086 # the counters line is numbers only
  set -- $1
  base_requests=$3 base_e5=$4 base_econ=$5 base_eresp=$6
  bake_started=$(date +%s)
  unanswered=0
  while :; do
    line=$(server_report "$ids" | sed -n 1p)
    waited=$(($(date +%s) - bake_started))
    if [ "$line" = unreadable ]; then
      unanswered=$((unanswered + 1))
      if [ "$unanswered" -ge 3 ]; then
        say "bake: the runtime API at $socket did not answer after ${waited}s, so $receiving's errors cannot be counted; putting the previous config back"
        restore_previous
        exit 1
      fi
      sleep 0.5
      continue
    fi
    unanswered=0
    # shellcheck disable=SC2086
    set -- $line
    requests=$((${3:-0} - base_requests)) e5=$((${4:-0} - base_e5)) econ=$((${5:-0} - base_econ)) eresp=$((${6:-0} - base_eresp))
    errors=$((e5 + econ + eresp))
    rate=0
    if [ "$requests" -gt 0 ]; then rate=$((errors * 10000 / requests)); fi
    figures="$requests requests to $receiving, $errors errors ($e5 5xx, $econ connection, $eresp response): $(percent "$rate") against $(percent "$max_error_bp") allowed"
    if [ "$requests" -gt 0 ] && [ $((errors * 10000)) -gt $((requests * max_error_bp)) ] &&
      { [ "$requests" -ge 20 ] || [ $((waited * 1000)) -ge "$bake_ms" ]; }; then
      say "bake: $figures after ${waited}s; putting the previous config back"
      restore_previous
      exit 1
    fi
    if [ $((waited * 1000)) -ge "$bake_ms" ]; then break; fi
    sleep 0.5
  done
  on_probation=''
  forget_unbaked
  echo "traffic-distributor: bake passed: $figures over ${waited}s"
  exit 0
}

# A config left on probation by a delivery killed during its bake: delivered again as it is,
# it is baked now, against the config before it; any other config replaces it as usual.
# shellcheck disable=SC2016
if marker=$(in_container sh -c '[ -s "$1" ] && [ -s "$2" ] && cat "$1"' sh "$unbaked" "$unbaked_previous" 2>/dev/null); then
  running_sha=$(sealed_sha "$CONFIG_PATH")
  # shellcheck disable=SC2086 # sha, color and server ids, written above
  set -- $marker
  if [ "$1" = "$running_sha" ] && [ "$(sealed_sha "$next")" = "$running_sha" ]; then
    gate_line=$(header_value "$(read_header "$next")" 'gate: ')
    receiving=$2
    shift 2
    ids=$*
    socket=$(admin_socket)
    # shellcheck disable=SC2086 # validated when the marker was written, and again here
    set -- $gate_line
    if printf '%s\n' "$gate_line" | grep -Eqx 'timeout [0-9]{1,9} minHealthy [0-9]{1,3}%? bake [0-9]{1,9} maxErrorRate [0-9]{1,5} fresh [0-9]{1,9}' &&
      [ "$6" -gt 0 ] && printf '%s\n' "$receiving" | grep -Eqx 'blue|green'; then
      bake_ms=$6 max_error_bp=$8
      echo "traffic-distributor: the running config of $CONTAINER was not baked (a delivery stopped during its bake); baking it now"
      in_container rm -f "$next"
      previous="$CONFIG_PATH.previous"
      # shellcheck disable=SC2016
      in_container sh -c "$COPY"'; copy "$1" "$2"' sh "$unbaked_previous" "$previous"
      on_probation=yes
      # The worker has served since its reload: count from now.
      bake "$(counters_now "$ids")"
    fi
  fi
  forget_unbaked
fi

# Only weights change when the new config is the running one but for its servers' weights (and
# its comments): the runtime API sets them on the serving worker, and nothing reloads.
# shellcheck disable=SC2016 # expanded by the container's shell
layout_of() { in_container sed -e '/^[[:space:]]*#/d' -e 's/ weight [0-9][0-9]*/ weight _/g' "$1" | cksum; }
weights_only=''
if [ -n "$plan" ] && [ "$(sealed_sha "$next")" != "$(sealed_sha "$CONFIG_PATH")" ] &&
  [ "$(layout_of "$next")" = "$(layout_of "$CONFIG_PATH")" ] && [ -n "$(admin_socket)" ]; then
  weights_only=yes
fi

receiving=''
held=''
on_probation=''
previous=''
running_header=$(read_header "$CONFIG_PATH")
target_header=$(read_header "$next")
running_split=$(header_value "$running_header" 'split: ')
target_split=$(header_value "$target_header" 'split: ')
gate_line=$(header_value "$target_header" 'gate: ')
if valid_split "$running_split" && valid_split "$target_split"; then
  # shellcheck disable=SC2086 # split into words on purpose, the line is validated
  set -- $running_split
  running_routing=$1 running_blue=$3 running_green=$5
  # shellcheck disable=SC2086
  set -- $target_split
  running_total=$((running_blue + running_green)) target_total=$(($3 + $5))
  if [ $(($3 * running_total)) -gt $((running_blue * target_total)) ]; then receiving=blue; fi
  if [ $(($5 * running_total)) -gt $((running_green * target_total)) ]; then receiving=green; fi
fi
if [ -n "$receiving" ]; then
  if ! printf '%s\n' "$gate_line" | grep -Eqx 'timeout [0-9]{1,9} minHealthy [0-9]{1,3}%? bake [0-9]{1,9} maxErrorRate [0-9]{1,5} fresh [0-9]{1,9}'; then
    say "refused the new config for $CONTAINER: its gate line is missing or malformed; the running config is unchanged"
    exit 1
  fi
  # shellcheck disable=SC2086
  set -- $gate_line
  gate_timeout_ms=$2 min_healthy=$4 bake_ms=$6 max_error_bp=$8 fresh_ms=${10}
  target_servers=$(header_value "$target_header" "servers $receiving ")
  running_servers=$(header_value "$running_header" "servers $receiving ")
  socket=$(admin_socket)
  if [ -n "$socket" ] && ! in_container test -S "$socket"; then
    say "refused the new config for $CONTAINER: the runtime API socket $socket is missing (removed while HAProxy runs), and the release gate reads the servers' checks through it; restart the distributor container to recreate it; the running config is unchanged"
    exit 1
  fi
  if ! valid_servers "$target_servers" || [ -z "$socket" ]; then
    say "refused the new config for $CONTAINER: no runtime API or no list of $receiving's servers to gate on; the running config is unchanged"
    exit 1
  fi
  previous="$CONFIG_PATH.previous"
  # shellcheck disable=SC2016
  in_container sh -c "$COPY"'; copy "$1" "$2"' sh "$CONFIG_PATH" "$previous"
  gate_servers=$running_servers
  if ! valid_servers "$running_servers" || [ "$(entries_of "$running_servers")" != "$(entries_of "$target_servers")" ]; then
    # The hold config: this config's sections but the routing, which the template below the
    # config gives for the running split (components/haproxyConfig.ts, holdTemplate); then
    # sealed like any config. One level where it is exact, as the renderer decides: round-robin
    # weights scaled by the other color's server count and reduced within 256, or failover.
    blue_count=$(header_value "$target_header" 'servers blue ' | wc -w) green_count=$(header_value "$target_header" 'servers green ' | wc -w)
    blue_count=$((blue_count - 2)) green_count=$((green_count - 2))
    layout=two variant=$running_routing hold_blue=$running_blue hold_green=$running_green
    case $running_routing in
      failover)
        layout=one hold_blue=1 hold_green=1
        if [ "$running_blue" -gt 0 ]; then variant=failover-blue; else variant=failover-green; fi
        ;;
      round-robin)
        scaled_blue=$((running_blue * green_count)) scaled_green=$((running_green * blue_count))
        if [ "$scaled_blue" -eq 0 ] || [ "$scaled_green" -eq 0 ]; then
          layout=one hold_blue=$((scaled_blue > 0)) hold_green=$((scaled_green > 0))
        else
          a=$scaled_blue b=$scaled_green
          while [ "$b" -ne 0 ]; do r=$((a % b)) a=$b b=$r; done
          if [ $((scaled_blue / a)) -le 256 ] && [ $((scaled_green / a)) -le 256 ]; then
            layout=one hold_blue=$((scaled_blue / a)) hold_green=$((scaled_green / a))
          fi
        fi
        ;;
    esac
    # shellcheck disable=SC2016
    hold=$(in_container sh -c '
      set -e
      umask 027
      hold=$(mktemp "$1.new.XXXXXX")
      chmod 640 "$hold"
      awk -v layout="$3" -v variant="$4" -v wb="$5" -v wg="$6" -v running="$7" "$8" "$2" "$2" > "$hold.body"
      { cat "$hold.body"; printf "%s%s\n" "$9" "$(sha256sum < "$hold.body" | cut -d " " -f 1)"; } > "$hold"
      rm -f "$hold.body"
      echo "$hold"
    ' sh "$CONFIG_PATH" "$next" "$layout" "$variant" "$hold_blue" "$hold_green" "$running_split" '
      function emit(   i, j, k, m, line, own, mine, servers, color, suffix, e, weight) {
        own = "# hold:" layout; mine = own ":" variant " "; servers = own ":servers "
        for (i = 1; i <= n; i++) {
          line = tpl[i]
          if (line == own) print ""
          else if (index(line, own " ") == 1) print substr(line, length(own) + 2)
          else if (index(line, mine) == 1 || (variant ~ /^failover-/ && index(line, own ":failover ") == 1)) {
            line = substr(line, index(line, " ") + 1); line = substr(line, index(line, " ") + 1)
            gsub(/[{]blue[}]/, wb, line); gsub(/[{]green[}]/, wg, line); print line
          } else if (index(line, servers) == 1) {
            color = substr(line, length(servers) + 1); sub(/ .*/, "", color)
            suffix = substr(line, length(servers) + length(color) + 2)
            if (layout == "one") {
              weight = "weight " (color == "blue" ? wb : wg)
              if (variant ~ /^failover-/ && variant != "failover-" color) weight = weight " backup"
              suffix = weight " " suffix
            }
            m = split(entries[color], e, " ")
            for (j = 1; j <= m; j++) { k = index(e[j], "="); print "    server " substr(e[j], 1, k - 1) " " substr(e[j], k + 1) " " suffix }
          }
        }
      }
      FNR == NR { if (index($0, "# hold:") == 1) tpl[++n] = $0; next }
      index($0, "# hold:") == 1 || index($0, "# end of traffic-distributor config") == 1 || index($0, "# Routing of the hold config") == 1 { next }
      index($0, "# routing ") == 1 { print "# Hold config of the release gate: the new servers with the running split."; next }
      index($0, "# traffic-distributor split: ") == 1 { print "# traffic-distributor split: " running; next }
      /^# traffic-distributor servers (blue|green) in [a-z]+: / {
        color = $4; line = $0; sub(/ in [a-z]+: /, " in " (layout == "one" ? "app" : color) ": ", line); print line
        entries[color] = substr(line, index(line, ": ") + 2); next
      }
      /^[a-z]/ {
        skip = ($0 ~ /^(frontend public|backend app|backend colors|frontend (blue|green)_in|backend (blue|green))$/)
        if (skip && !emitted) { emit(); emitted = 1 }
      }
      # A preview server tracks its replica where the hold has it: app (one level) or its color.
      !skip && / track [a-z]+\/(blue|green)_/ {
        line = $0; at = index(line, " track ") + 7; rest = substr(line, at); rest = substr(rest, index(rest, "/") + 1)
        print substr(line, 1, at - 1) (layout == "one" ? "app" : substr(rest, 1, index(rest, "_") - 1)) "/" rest; next
      }
      !skip { print }
    ' "$trailer_prefix")
    if ! report=$(docker exec "$CONTAINER" haproxy -c -f "$hold" 2>&1); then
      in_container rm -f "$hold" "$previous" || true
      say "HAProxy in $CONTAINER rejected the hold config of the release gate; the running config is unchanged:"
      printf '%s\n' "$report" | scrub >&2
      exit 1
    fi
    # shellcheck disable=SC2016
    in_container sh -c "$COPY"'; set -e; [ -e "$2" ] || replace "$1" "$2"; mv "$3" "$1"' sh "$CONFIG_PATH" "$rollback" "$hold"
    if ! reload_or_roll_back "the hold config (the new servers with the running split)"; then
      in_container rm -f "$next" "$previous" || true
      say "the new config was not installed"
      exit 1
    fi
    held=yes on_probation=yes
    echo "traffic-distributor: $CONTAINER loaded $receiving's new servers with the running split ($reloaded)"
    gate_servers=$(read_header "$CONFIG_PATH")
    gate_servers=$(header_value "$gate_servers" "servers $receiving ")
  fi

  ids=$(server_ids "$gate_servers")
  listed=$(printf '%s\n' "$ids" | wc -w)
  case $min_healthy in
    *%) required=$(((listed * ${min_healthy%\%} + 99) / 100)); [ "$required" -ge 1 ] || required=1 ;;
    *) required=$min_healthy; [ "$required" -le "$listed" ] || required=$listed ;;
  esac
  gate_started=$(date +%s)
  report=''
  # Only checks that ran after the step began count: none before fresh_ms (each poll sleeps
  # at least 0.5 s, so polls × 500 ms is a lower bound of the time waited). The gate's timeout
  # allows for that (components/releaseGate.ts, gateWaitMs).
  polled_ms=0
  while :; do
    report=$(server_report "$ids" "$(printf '%s\n' "${report:-}" | sed 1d)")
    up=$(printf '%s\n' "$report" | awk 'NR == 1 { print $1 + 0 }')
    waited=$(($(date +%s) - gate_started))
    if [ "${up:-0}" -ge "$required" ] && [ "$polled_ms" -ge "$fresh_ms" ]; then
      echo "traffic-distributor: gate passed: $up of $listed $receiving servers UP (need $required) after ${waited}s"
      on_probation=''
      break
    fi
    if [ $((waited * 1000)) -ge "$gate_timeout_ms" ]; then
      say "gate: ${up:-0} of $listed $receiving servers UP after ${waited}s, $required needed; the new split is not applied. Each server:"
      if [ -n "$report" ] && [ "$report" != unreadable ]; then printf '%s\n' "$report" | sed 1d | scrub >&2; else say "  the runtime API at $socket did not answer"; fi
      if [ -n "$held" ]; then restore_previous; fi
      in_container rm -f "$next" "$previous" || true
      exit 1
    fi
    sleep 0.5
    polled_ms=$((polled_ms + 500))
  done
  # From here the config to put back on any failure is the one that served before the hold,
  # also when the delivery is interrupted before the new config is confirmed and baked.
  # shellcheck disable=SC2016
  in_container sh -c "$COPY"'; replace "$2" "$1"' sh "$rollback" "$previous"
  on_probation=yes
fi

# A weight step: the bake's counters start before the weights change (the worker has served
# since its reload), then each server's weight is set, then the file takes the new config so
# that a later reload keeps them. A weight the runtime API refuses falls back to a reload.
base_counters="0 0 0 0 0 0 0"
if [ -n "$weights_only" ]; then
  socket=$(admin_socket)
  if [ -n "$receiving" ] && [ "$bake_ms" -gt 0 ]; then
    base_counters=$(counters_now "$(server_ids "$target_servers")")
  fi
  # One line of commands, one call: HAProxy runs `;`-separated commands in turn and answers
  # nothing to a weight it sets.
  commands=''
  for entry in $plan_weights; do
    commands="$commands${commands:+; }set server ${entry%=*} weight ${entry##*=}"
  done
  answer=$(runtime "$commands" 2>&1) || answer="no answer from $socket"
  if [ -n "$(printf '%s' "$answer" | tr -d '[:space:]')" ]; then
    say "the runtime API refused a weight ($(printf '%s' "$answer" | tr '\n' ' ')); reloading the new config instead"
    weights_only=''
  fi
fi
# On probation until the bake passes, from before the swap of the file (in a weight step, once
# the weights are set): a delivery killed from here on leaves the marker, and the next
# delivery of this config bakes it.
if [ -n "$receiving" ] && [ "$bake_ms" -gt 0 ]; then
  ids=$(server_ids "$target_servers")
  # shellcheck disable=SC2016
  in_container sh -c "$COPY"'; copy "$1" "$2"' sh "$previous" "$unbaked_previous"
  # shellcheck disable=SC2016
  printf '%s %s %s\n' "$(sealed_sha "$next")" "$receiving" "$ids" | docker exec -i -u "0:$group" "$CONTAINER" sh -c 'umask 027 && cat > "$1"' sh "$unbaked"
  on_probation=yes
fi

if [ -n "$weights_only" ]; then
  # The rollback copy a gate may have left (the running config) is not needed: nothing reloads.
  # shellcheck disable=SC2016
  in_container sh -c 'mv "$1" "$2" && rm -f "$3"' sh "$next" "$CONFIG_PATH" "$rollback"
  echo "traffic-distributor: $CONTAINER took the new weights through the runtime API, without a reload: $plan_weights"
  if [ -n "$receiving" ] && [ "$bake_ms" -gt 0 ]; then bake "$base_counters"; fi
  on_probation=''
  forget_unbaked
  exit 0
fi

# Swap. The rollback copy is the config that serves now; one left by a delivery killed before
# its reload was confirmed is older and known to serve, so it is kept.
# shellcheck disable=SC2016
in_container sh -c "$COPY"'
  set -e
  [ -e "$2" ] || replace "$1" "$2"
  mv "$3" "$1"
' sh "$CONFIG_PATH" "$rollback" "$next"

if reload_or_roll_back "the new config"; then
  echo "traffic-distributor: $CONTAINER reloaded ($reloaded)"
  if [ -z "$receiving" ] || [ "$bake_ms" -eq 0 ]; then
    on_probation=''
    forget_unbaked
    exit 0
  fi
  # The new worker's counters start at the reload.
  bake "0 0 0 0 0 0 0"
fi
on_probation=''
forget_unbaked
say "the new config was not installed"
exit 1
