// The config as the SSM parameter holds it: gzip, then base64. A parameter holds at most 8 KB
// (advanced tier) and the hold template makes a config grow with every replica, while its
// server lines compress well. The delivery document decodes it (`base64 -d | gunzip`, both on
// Amazon Linux 2023) before the trailer check, which still covers every byte of the config.
import { gunzipSync, gzipSync } from "zlib";
import { Color, COLORS, DistributorSettings, parseServerList, ServerAddress, SettingsError } from "../settings";
import { isPlain } from "../trafficDistributorArgs";
import { checkDistributorUserDataFits } from "./userData";

/** The largest value of an SSM parameter (advanced tier), in bytes. */
export const PARAMETER_MAX_BYTES = 8192;

/** Each color's server count, from the config's release header (`servers <color> in <backend>: a=b ...`). */
function replicaCountsOf(config: string): Record<Color, number> {
  const counts = {} as Record<Color, number>;
  for (const color of COLORS) {
    const line = new RegExp(`^# traffic-distributor servers ${color} in [a-z]+: (.*)$`, "m").exec(config);
    counts[color] = line ? line[1].split(" ").length : 0;
  }
  return counts;
}

/**
 * The parameter's value for a config: gzip (no file name, no time: the same config always gives
 * the same value), then base64. Refuses a config whose value exceeds what a parameter holds.
 */
export function encodeConfigParameter(config: string): string {
  const encoded = gzipSync(Buffer.from(config, "utf8"), { level: 9 }).toString("base64");
  const size = Buffer.byteLength(encoded);
  if (size > PARAMETER_MAX_BYTES) {
    const counts = replicaCountsOf(config);
    throw new SettingsError(
      `aws: the HAProxy config for ${counts.blue} blue and ${counts.green} green replicas takes ${size} bytes in its SSM parameter ` +
        `(gzip, then base64), more than the ${PARAMETER_MAX_BYTES} a parameter holds: use fewer replicas (blue.replicas, green.replicas, or shorter server lists)`,
    );
  }
  return encoded;
}

/** The config a parameter value holds (what the delivery document's `base64 -d | gunzip` gives). */
export function decodeConfigParameter(value: string): string {
  return gunzipSync(Buffer.from(value, "base64")).toString("utf8");
}

/** A secret password's stand-in for sizing: the longest a password may be, and incompressible. */
const SIZING_PASSWORD = Array.from({ length: 128 }, (_, i) => String.fromCharCode(0x21 + ((i * 37) % 94))).join("").replace(/'/g, "(");
/** A certificate fingerprint's stand-in for sizing: SHA-256 as Node writes it, colon-separated hex. */
const SIZING_FINGERPRINT = Array.from({ length: 32 }, (_, i) => ((i * 73 + 17) % 256).toString(16).padStart(2, "0").toUpperCase()).join(":");

/**
 * The servers the config will have where they are known before deploying: each provisioned
 * replica at the longest private IPv4 address, existing servers as listed. Undefined when a
 * list of existing servers is an Output: then the parameter's own check decides, later.
 */
function plannedServers(settings: DistributorSettings): Record<Color, ServerAddress[]> | undefined {
  const servers = {} as Record<Color, ServerAddress[]>;
  for (const color of COLORS) {
    const plan = settings.colors[color];
    if (plan.kind === "existing") {
      if (!isPlain(plan.servers)) return undefined;
      servers[color] = parseServerList(`${color}.servers`, plan.servers);
    } else {
      const base = color === "blue" ? 100 : 200;
      servers[color] = Array.from({ length: plan.replicas }, (_, i) => ({
        host: `10.${base + Math.floor(i / 100)}.${100 + (i % 100)}.${100 + ((i * 7) % 100)}`,
        port: plan.port,
      }));
    }
  }
  return servers;
}

/**
 * Refuses, before any resource is registered, settings whose config cannot fit the parameter:
 * renders it for the planned servers, with the longest password and a fingerprint where the
 * real ones are not known yet. `render` is the component's own rendering. First, settings whose
 * distributor user data exceeds what EC2 takes (checkDistributorUserDataFits).
 */
export function checkConfigFitsParameter(
  settings: DistributorSettings,
  render: (servers: Record<Color, ServerAddress[]>, statsPassword: string | undefined, certificateFingerprint: string | undefined) => string,
): void {
  checkDistributorUserDataFits(settings);
  const servers = plannedServers(settings);
  if (!servers) return;
  const password = isPlain(settings.statsPassword) ? settings.statsPassword : SIZING_PASSWORD;
  encodeConfigParameter(render(servers, password, settings.tls ? SIZING_FINGERPRINT : undefined));
}
