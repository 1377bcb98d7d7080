// The SSM Command document that runs on the distributor before an app instance is terminated:
// it waits until HAProxy holds no connection to the instance, at most `drain.timeout`. An own
// document rather than AWS-RunShellScript: the deployer's ssm:SendCommand can be limited to
// this one fixed script, where AWS-RunShellScript runs any command as root, and SSM itself
// refuses a parameter that does not match its pattern, before anything reaches the shell.
import { substituteDocumentParameters } from "./configDocument";
import { DISTRIBUTOR_CONTAINER } from "./userData";
import { renderShellDocument } from "./shellDocument";

/** The longest `drain.timeout` the settings allow (24 h), in seconds. */
export const DRAIN_MAX_SECONDS = 86_400;

const OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";

/** Document parameters, each constrained so that substituting it into the script is inert. */
export const DRAIN_PARAMETERS = {
  replicaAddress: { pattern: `^(${OCTET}\\.){3}${OCTET}$`, description: "Private IPv4 address of the app instance" },
  replicaPort: { pattern: "^[0-9]{1,5}$", description: "Port the distributor reaches the app on" },
  timeoutSeconds: { pattern: "^[0-9]{1,5}$", description: "Longest wait, in seconds (drain.timeout)" },
} as const;

export type DrainParameterValues = Record<keyof typeof DRAIN_PARAMETERS, string>;

/**
 * The script SSM runs as root on the distributor. After a release step the old instance is
 * known only to HAProxy's previous workers, which the runtime API no longer shows: the
 * connections are counted in the socket table of the container's network namespace (HAProxy
 * runs on Docker's bridge network, so its sockets are not in the host's own table), read from
 * the host as /proc/<a process of the container>/net/tcp. No container running, no connection.
 */
export function renderDrainScript(): string {
  return `#!/bin/sh
# traffic-distributor: wait until HAProxy holds no connection to {{ replicaAddress }}:{{ replicaPort }}, at most {{ timeoutSeconds }} s.
set -eu
address='{{ replicaAddress }}'
port='{{ replicaPort }}'
timeout='{{ timeoutSeconds }}'
started=$(date +%s)

# /proc/net/tcp writes an IPv4 address as 8 hex digits, least significant byte first, then the
# port; state 01 is ESTABLISHED.
wanted=$(printf '%s\\n' "$address" | awk -F. -v port="$port" '{ printf "%02X%02X%02X%02X:%04X", $4, $3, $2, $1, port }')

# The PID of the container's first process (0 or nothing when it is not running).
container_pid() {
  docker inspect ${DISTRIBUTOR_CONTAINER} 2>/dev/null | sed -n 's/.*"Pid": *\\([0-9][0-9]*\\).*/\\1/p' | head -n 1
}

while :; do
  waited=$(( $(date +%s) - started ))
  pid=$(container_pid)
  if [ -z "$pid" ] || [ "$pid" -eq 0 ]; then
    echo "drain $address:$port: container ${DISTRIBUTOR_CONTAINER} is not running, nothing to drain"
    exit 0
  fi
  count=$(awk -v wanted="$wanted" '$3 == wanted && $4 == "01" { n++ } END { print n + 0 }' < "/proc/$pid/net/tcp" 2>/dev/null) || count=0
  if [ "$count" -eq 0 ]; then
    echo "drain $address:$port: no connection left after \${waited}s"
    exit 0
  fi
  if [ "$waited" -ge "$timeout" ]; then
    echo "drain $address:$port: $count connection(s) still open after \${waited}s (drain.timeout); removing it"
    exit 0
  fi
  sleep 1
done
`;
}

/** SSM Command document (schema 2.2) content, as JSON text. */
export function renderDrainDocument(): string {
  return renderShellDocument({
    description: "traffic-distributor: before an app instance is removed, wait until HAProxy holds no connection to it",
    parameters: DRAIN_PARAMETERS,
    stepName: "drainReplica",
    // The script ends by itself at its timeoutSeconds; this only bounds a stuck host.
    timeoutSeconds: DRAIN_MAX_SECONDS + 120,
    script: renderDrainScript(),
  });
}

/** The script as SSM runs it for the given parameter values (what the tests run and shellcheck). */
export function substituteDrainParameters(script: string, values: DrainParameterValues): string {
  return substituteDocumentParameters(script, values, DRAIN_PARAMETERS);
}
