// The SSM Command document that installs a rendered config on the distributor instance. Its
// content never changes with weights: each run names the parameter version to install, so a
// release step updates the parameter and runs this document, and nothing else on AWS.
import { DELIVER_CONFIG_SCRIPT } from "../docker/scripts";
import { GATE_MAX_SECONDS } from "../releaseGate";
import { PLAN_WEIGHTS_PATTERN } from "../deliveryPlan";
import { DISTRIBUTOR_CONTAINER } from "./userData";
import { renderShellDocument } from "./shellDocument";

/**
 * Seconds one delivery may take on the instance: first boot (Docker install, image pull) and
 * the delivery itself in 900, plus the longest release gate and bake the settings allow. The
 * document stays the same whatever the settings; the script bounds each of its own waits.
 */
export const DELIVERY_TIMEOUT_SECONDS = 900 + GATE_MAX_SECONDS;

/** Lines of a document's script: on a new instance, wait for cloud-init (Docker and the HAProxy unit), then for the container. */
export const WAIT_FOR_DISTRIBUTOR = `# On a new instance, wait for cloud-init (Docker and the HAProxy unit), then for the container.
if command -v cloud-init >/dev/null 2>&1; then
  cloud-init status --wait >/dev/null 2>&1 || say "cloud-init reported an error; see /var/log/cloud-init-output.log"
fi
tries=0
until docker top ${DISTRIBUTOR_CONTAINER} >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -gt 300 ]; then
    say "container ${DISTRIBUTOR_CONTAINER} is not running after 10 min; see 'journalctl -u traffic-distributor'"
    exit 1
  fi
  sleep 2
done
`;

/**
 * The script SSM runs as root on the distributor. `{{ name }}` are document parameters, which
 * SSM substitutes before the run; their allowed patterns keep them free of shell syntax.
 * It reads the exact parameter version Pulumi wrote, decodes it (gzip, then base64), then hands it to the same
 * deliver-config.sh the Docker target uses: `haproxy -c` in the container, swap, SIGUSR2.
 */
export function renderDeliveryScript(): string {
  return `#!/bin/sh
# traffic-distributor: install HAProxy config version {{ parameterVersion }} of {{ parameterName }}.
set -eu
say() { printf 'traffic-distributor: %s\\n' "$*" >&2; }

${WAIT_FOR_DISTRIBUTOR}
config=$(aws ssm get-parameter --region '{{ region }}' --name '{{ parameterName }}:{{ parameterVersion }}' \\
  --with-decryption --query Parameter.Value --output text)
if [ -z "$config" ]; then
  say "parameter {{ parameterName }} version {{ parameterVersion }} is empty"
  exit 1
fi

script=$(mktemp)
decoded=$(mktemp)
trap 'rm -f "$script" "$decoded"' EXIT
# The parameter holds the config gzipped, then base64 (components/aws/configParameter.ts).
if ! printf '%s\\n' "$config" | base64 -d 2>/dev/null | gunzip -c > "$decoded" 2>/dev/null; then
  say "parameter {{ parameterName }} version {{ parameterVersion }} is not a gzipped, base64-encoded config; the running config is unchanged"
  exit 1
fi
cat > "$script" <<'DELIVER_CONFIG'
${DELIVER_CONFIG_SCRIPT.trimEnd()}
DELIVER_CONFIG
CONTAINER=${DISTRIBUTOR_CONTAINER} PLAN_VERSION='{{ planVersion }}' PLAN_WEIGHTS='{{ planWeights }}' sh "$script" < "$decoded"
`;
}

/** Where a document finds what it installs: each constrained so that substituting it into the script is inert. */
export const PARAMETER_LOCATION = {
  parameterName: { pattern: "^[a-zA-Z0-9_.\\-/]{1,1011}$", description: "SSM parameter that holds the config" },
  parameterVersion: { pattern: "^[0-9]{1,10}$", description: "Version of that parameter to install" },
  region: { pattern: "^[a-z]{2}(-[a-z]+)+-[0-9]$", description: "Region of the parameter" },
} as const;

/** The config delivery's parameters: the config's location and the delivery plan. */
export const DELIVERY_PARAMETERS = {
  ...PARAMETER_LOCATION,
  planVersion: { pattern: "^1?$", description: "Version of the delivery plan (components/deliveryPlan.ts); empty: none, every step reloads" },
  planWeights: { pattern: PLAN_WEIGHTS_PATTERN, description: "Each weighted server's weight: the delivery sets them without a reload when only they change" },
} as const;

/** SSM Command document (schema 2.2) content, as JSON text. */
export function renderDeliveryDocument(): string {
  return renderShellDocument({
    description: "traffic-distributor: validate a rendered HAProxy config in the running container, install it, reload gracefully",
    parameters: DELIVERY_PARAMETERS,
    stepName: "deliverConfig",
    timeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
    script: renderDeliveryScript(),
  });
}

/** The script as SSM runs it for the given parameter values (what the tests run and shellcheck). */
export function substituteParameters(
  script: string,
  values: Record<keyof typeof PARAMETER_LOCATION, string> & Partial<Record<keyof typeof DELIVERY_PARAMETERS, string>>,
): string {
  const given = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Record<keyof typeof DELIVERY_PARAMETERS, string>;
  return substituteDocumentParameters(script, given, DELIVERY_PARAMETERS);
}

/** Substitutes `{{ name }}` as SSM does, after checking each value against its allowed pattern. */
export function substituteDocumentParameters<P extends Record<string, { readonly pattern: string }>>(
  script: string,
  values: Record<keyof P & string, string>,
  parameters: P,
): string {
  for (const [name, value] of Object.entries(values)) {
    const pattern = parameters[name].pattern;
    if (!new RegExp(pattern).test(value)) throw new Error(`${name} "${value}" does not match ${pattern}`);
  }
  return script.replace(/\{\{ (\w+) \}\}/g, (match, name: string) => (values as Record<string, string>)[name] ?? match);
}
