// The release gate and the bake, as far as they are pure: their settings, and the header every
// rendered config carries so that the delivery can compare the running split with the new one.
// The delivery script (docker/deliver-config.sh) reads these lines; nothing else writes them.
//
// A step raises a color's share ("the receiving color") when its fraction of the weights grows.
// Such a step first loads the new servers without moving traffic (the "hold" config: the new
// servers in the two-level layout with the running split), waits until enough of the receiving
// color's servers pass the distributor's own checks, then shifts; with a bake, it then watches
// the receiving color's errors and puts the previous config back above the threshold.
import { Color, COLORS, describe, GateSettings, HealthCheckSettings, MinHealthy, parseDurationSetting, RoutingMode, SettingsError, Weights } from "./settings";
import { boundsOf } from "./settingsSchema";

function limits(path: "gate.timeout" | "gate.bake"): { min: number; max: number } {
  const [min, max] = boundsOf(path);
  return { min, max };
}

/** Bounds of the gate settings; the delivery timeouts of both targets are derived from them. */
export const GATE_LIMITS = {
  timeout: limits("gate.timeout"),
  bake: limits("gate.bake"),
  minHealthyCount: { min: 1, max: 256 },
} as const;

/** During a bake, fewer requests than this are not judged until the bake ends. */
export const BAKE_MIN_REQUESTS = 20;

export function parseGateTimeout(label: string, value: unknown): number {
  return parseDurationSetting("gate.timeout", label, value);
}

export function parseBake(label: string, value: unknown): number {
  return parseDurationSetting("gate.bake", label, value);
}

/** `2` (servers) or `50%` (of the color's servers, rounded up); a number is a count. */
export function parseMinHealthy(label: string, value: unknown): MinHealthy {
  const { min, max } = GATE_LIMITS.minHealthyCount;
  const allowed = `must be a count of servers from ${min} to ${max} (e.g. 2) or a percentage from 1% to 100% (e.g. "50%")`;
  const text = typeof value === "number" ? String(value) : value;
  if (typeof text !== "string") throw new SettingsError(`${label} is ${describe(value)}: ${allowed}`);
  const match = /^(\d{1,3})(%?)$/.exec(text);
  if (match) {
    const n = Number(match[1]);
    if (match[2] === "%" && n >= 1 && n <= 100) return { percent: n };
    if (match[2] === "" && n >= min && n <= max) return { count: n };
  }
  throw new SettingsError(`${label} is ${describe(value)}: ${allowed}`);
}

/** A percentage from 0 to 100 with at most two decimals ("5", 0.5, "5%"), as hundredths of a percent. */
export function parseErrorRate(label: string, value: unknown): number {
  const allowed = "must be a percentage from 0 to 100 with at most two decimals, e.g. 5 or 0.5";
  const text = typeof value === "number" && Number.isFinite(value) ? String(value) : value;
  const match = typeof text === "string" ? /^(\d{1,3})(?:\.(\d{1,2}))?%?$/.exec(text) : null;
  if (!match) throw new SettingsError(`${label} is ${describe(value)}: ${allowed}`);
  const basisPoints = Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
  if (basisPoints > 10_000) throw new SettingsError(`${label} is ${describe(value)}: ${allowed}`);
  return basisPoints;
}

export function formatMinHealthy(minHealthy: MinHealthy): string {
  return "percent" in minHealthy ? `${minHealthy.percent}%` : String(minHealthy.count);
}

/** How many of `servers` must be UP: the count (at most all of them), or the percentage rounded up. */
export function requiredHealthy(minHealthy: MinHealthy, servers: number): number {
  if ("count" in minHealthy) return Math.min(minHealthy.count, servers);
  return Math.max(1, Math.ceil((servers * minHealthy.percent) / 100));
}

/** The defaults, parsed: what a config gets when no gate settings are given. */
export const DEFAULT_GATE: GateSettings = {
  timeout: parseGateTimeout("gate.timeout", "2m"),
  minHealthy: parseMinHealthy("gate.minHealthy", "100%"),
  bake: parseBake("gate.bake", "0s"),
  maxErrorRateBasisPoints: parseErrorRate("gate.maxErrorRate", 5),
};

/**
 * Each color's share as the delivery compares them: the weights, or with `failover` 1 for the
 * primary and 0 for the other (it serves only while the primary is down).
 */
export function splitShares(routing: RoutingMode, weights: Weights, failoverPrimary?: Color): Weights {
  if (routing !== "failover") return weights;
  return { blue: failoverPrimary === "blue" ? 1 : 0, green: failoverPrimary === "green" ? 1 : 0 };
}

/** The colors whose share rises from `running` to `next`: fractions compared by cross-multiplication. */
export function receivingColors(running: Weights, next: Weights): Color[] {
  const runningTotal = running.blue + running.green;
  const nextTotal = next.blue + next.green;
  return COLORS.filter((color) => next[color] * runningTotal > running[color] * nextTotal);
}

/** A header line's prefix; the delivery script matches these literally. */
export const HEADER = {
  split: "# traffic-distributor split: ",
  servers: "# traffic-distributor servers ",
  gate: "# traffic-distributor gate: ",
} as const;

/** One color's servers as the header lists them: HAProxy's backend, and `name=address` each. */
export interface HeaderServers {
  readonly backend: string;
  readonly entries: ReadonlyArray<{ readonly name: string; readonly address: string }>;
}

/**
 * The machine-readable header: the split, each color's servers, the gate. Written from
 * validated values only (routing from a closed set, integers, server names and addresses
 * that passed parseServer), so each line is one line of known words.
 */
export function releaseHeader(
  shares: Weights,
  routing: RoutingMode,
  servers: Record<Color, HeaderServers>,
  gate: GateSettings,
  check: Pick<HealthCheckSettings, "interval" | "timeout">,
): string[] {
  return [
    `${HEADER.split}${routing} blue ${shares.blue} green ${shares.green}`,
    ...COLORS.map(
      (color) => `${HEADER.servers}${color} in ${servers[color].backend}: ${servers[color].entries.map((e) => `${e.name}=${e.address}`).join(" ")}`,
    ),
    `${HEADER.gate}timeout ${gateWaitMs(gate, check)} minHealthy ${formatMinHealthy(gate.minHealthy)} bake ${gate.bake} maxErrorRate ${gate.maxErrorRateBasisPoints} fresh ${freshCheckMs(check)}`,
  ];
}

/**
 * How long after a step begins every server has had a check that started after it and
 * finished (passed, failed or timed out): a check starts within one interval and ends within
 * its timeout. The gate counts a server only from then, so a check from before the step (a
 * server frozen just before it) never passes it.
 */
export function freshCheckMs(check: Pick<HealthCheckSettings, "interval" | "timeout">): number {
  return check.interval + check.timeout + 200;
}

/** Prefix of the hold template's lines: every variant, one routing variant, or a color's servers. */
export const HOLD_PREFIX = "# hold";

/** The longest a gate and a bake can take together, in seconds: what every delivery timeout allows on top. */
export const GATE_MAX_SECONDS =
  (Math.max(GATE_LIMITS.timeout.max, freshCheckMs({ interval: boundsOf("healthCheck.interval")[1], timeout: boundsOf("healthCheck.timeout")[1] }) + 1000) +
    GATE_LIMITS.bake.max) /
  1000;

/** How long the gate waits at most: gate.timeout, but at least until fresh checks have run, and a second more. */
export function gateWaitMs(gate: GateSettings, check: Pick<HealthCheckSettings, "interval" | "timeout">): number {
  return Math.max(gate.timeout, freshCheckMs(check) + 1000);
}

/**
 * Seconds one delivery to a running distributor may take with these settings: the delivery
 * lock (120 s), the reloads of the hold, the new and perhaps the previous config (40 s at most
 * each), the gate and the bake, and a margin.
 */
export function deliverySeconds(gate: GateSettings, check: Pick<HealthCheckSettings, "interval" | "timeout">): number {
  return 120 + 3 * 40 + Math.ceil((gateWaitMs(gate, check) + gate.bake) / 1000) + 120;
}
