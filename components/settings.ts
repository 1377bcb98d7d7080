// Pure settings of a traffic distributor: the allowed values, their defaults and the checks
// that turn loosely typed input (component args or stack config) into a validated whole.
// No Pulumi resources here, so everything is tested without mocks.
import { boundsOf, COLORS, DNS_RECORD_TYPES, MAX_WEIGHT, PORT, ROUTING_MODES, schemaDefault, SettingPath, TARGETS } from "./settingsSchema";
import type * as pulumi from "@pulumi/pulumi";
import { isIP } from "net";
import type { TlsSettings } from "./tls";
import type { PreviewSettings } from "./preview";

export { COLORS, DNS_RECORD_TYPES, ROUTING_MODES, TARGETS, TLS_MODES } from "./settingsSchema";
export type Color = (typeof COLORS)[number];

/**
 * - `round-robin`: every Σw consecutive requests split exactly by weight.
 * - `sticky`: new clients split by weight; a cookie pins each client to its color.
 * - `failover`: all traffic to the primary color; the other serves only while the primary is down.
 */
export type RoutingMode = (typeof ROUTING_MODES)[number];

/** `docker`: the local Docker engine. `aws`: EC2 instances, an Elastic IP and Route 53. */
export type Target = (typeof TARGETS)[number];

export { MAX_REPLICAS, MAX_WEIGHT } from "./settingsSchema";

/** HAProxy's current LTS line, pinned: the release the Docker tests' distributor image holds. */
export const DEFAULT_DISTRIBUTOR_IMAGE = schemaDefault<string>("distributor.image");
/** A tiny public HTTP server that answers with its container's hostname: good for a demo. */
export const DEFAULT_APP_IMAGE = schemaDefault<string>("blue.image");

/** The code's defaults, read from the schema (components/settingsSchema.ts); those per target are here. */
export const DEFAULTS = {
  weight: schemaDefault<number>("weight.blue"),
  routing: schemaDefault<RoutingMode>("routing"),
  image: DEFAULT_APP_IMAGE,
  replicas: schemaDefault<number>("blue.replicas"),
  appPort: schemaDefault<number>("blue.port"),
  /** Per target: an unprivileged port on a developer's machine, plain HTTP's port on a public IP. */
  listenPort: { docker: 8080, aws: 80 } as Record<Target, number>,
  statsPort: schemaDefault<number>("statsPort"),
  distributorImage: DEFAULT_DISTRIBUTOR_IMAGE,
  /** Docker memory limit of the distributor container, in MiB. */
  distributorMemoryMb: schemaDefault<number>("distributor.memoryMb"),
  target: schemaDefault<Target>("target"),
  instanceType: schemaDefault<string>("aws.instanceType"),
  ingressCidrs: schemaDefault<readonly string[]>("aws.ingressCidrs"),
  dnsTtl: schemaDefault<number>("dns.ttl"),
  dnsRecordType: schemaDefault<DnsRecordType>("dns.recordType"),
  accessLog: schemaDefault<boolean>("accessLog"),
  timeouts: {
    connect: schemaDefault<string>("timeouts.connect"),
    client: schemaDefault<string>("timeouts.client"),
    server: schemaDefault<string>("timeouts.server"),
    tunnel: schemaDefault<string>("timeouts.tunnel"),
    drain: schemaDefault<string>("timeouts.drain"),
  },
  healthCheck: {
    path: schemaDefault<string>("healthCheck.path"),
    interval: schemaDefault<string>("healthCheck.interval"),
    // Room for an app whose health endpoint takes most of a second; a hung server is out
    // after two failed checks of interval + timeout each.
    timeout: schemaDefault<string>("healthCheck.timeout"),
    expectStatus: schemaDefault<string>("healthCheck.expectStatus"),
  },
  gate: {
    timeout: schemaDefault<string>("gate.timeout"),
    minHealthy: schemaDefault<string>("gate.minHealthy"),
    bake: schemaDefault<string>("gate.bake"),
    maxErrorRate: Number(schemaDefault<string>("gate.maxErrorRate")),
  },
};

/** `A`: the Elastic IP itself. `CNAME`: the Elastic IP's public DNS name (not at a zone apex). */
export type DnsRecordType = (typeof DNS_RECORD_TYPES)[number];

export interface Weights {
  readonly blue: number;
  readonly green: number;
}

/** One backend server the distributor routes to. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

/** A color the module provisions itself. */
export interface ProvisionedColor {
  readonly kind: "provisioned";
  readonly image: string;
  readonly replicas: number;
  readonly port: number;
  /** Docker memory limit per container, in MiB; absent: none. */
  readonly memoryMb?: number;
}

/**
 * A color that already runs elsewhere, given as `host:port` strings. A plain list is
 * validated up front; one that arrives as an Output is validated when it resolves.
 */
export interface ExistingColor {
  readonly kind: "existing";
  readonly servers: pulumi.Input<readonly string[]>;
}

export type ColorPlan = ProvisionedColor | ExistingColor;

/** Route 53 records that point at the distributor. */
export interface DnsSettings {
  readonly zoneId: pulumi.Input<string>;
  /** Full name, or a name relative to the zone (Route 53 appends the zone's domain). */
  readonly name: string;
  readonly ttl: number;
  /** More names with the same record, e.g. "www". */
  readonly aliases: readonly string[];
  readonly recordType: DnsRecordType;
  /** Overwrite a record that already exists (the cutover of a running app). */
  readonly takeOver: boolean;
}

/** Where and how the `aws` target runs. */
export interface AwsSettings {
  /** Absent: the account's default VPC and its default subnets. */
  readonly vpcId?: pulumi.Input<string>;
  /** Subnets the app instances are spread over (required with `vpcId`). */
  readonly subnetIds?: pulumi.Input<readonly string[]>;
  /** Subnet of the distributor; must route to an internet gateway. Default: the first of `subnetIds`. */
  readonly distributorSubnetId?: pulumi.Input<string>;
  readonly instanceType: string;
  readonly distributorInstanceType: string;
  /** Absent: the newest Amazon Linux 2023 at creation, kept until `ami` is set. */
  readonly ami?: string;
  /** Who may reach the distributor's listen port. */
  readonly ingressCidrs: readonly string[];
  readonly dns?: DnsSettings;
}

/** Durations in milliseconds. */
export interface Timeouts {
  /** Connecting to a server. */
  readonly connect: number;
  /** A client's inactivity (request headers, body, idle keep-alive excepted). */
  readonly client: number;
  /** A server's inactivity: how long a response may take to start. Not retried. */
  readonly server: number;
  /** Inactivity of an upgraded connection (WebSocket) or a long response stream. */
  readonly tunnel: number;
  /** How long the workers of a replaced config keep their connections after a release step. */
  readonly drain: number;
}

export interface HealthCheckSettings {
  readonly path: string;
  /** Host header of the checks; absent: the DNS name where one is set, else each server's host. */
  readonly host?: string;
  /** Milliseconds between checks. */
  readonly interval: number;
  /** Milliseconds a check may take to answer. */
  readonly timeout: number;
  /** Status codes and ranges that pass, e.g. "200-399" or "200,204". */
  readonly expectStatus: string;
}

/** A count of servers, or a percentage of a color's servers (rounded up, at least one). */
export type MinHealthy = { readonly count: number } | { readonly percent: number };

/** The release gate and the bake that guard a step which raises a color's share. */
export interface GateSettings {
  /** Milliseconds to wait for the receiving color's servers to pass their checks. */
  readonly timeout: number;
  readonly minHealthy: MinHealthy;
  /** Milliseconds to watch the receiving color after the shift; 0: no bake. */
  readonly bake: number;
  /** Highest error share of the receiving color during the bake, in hundredths of a percent. */
  readonly maxErrorRateBasisPoints: number;
}

/** Where and how the `docker` target runs. */
export interface DockerSettings {
  /** An existing network to join instead of creating one (e.g. another stack's). */
  readonly network?: pulumi.Input<string>;
  /** Memory limit of the distributor container, in MiB. */
  readonly distributorMemoryMb: number;
}

/** What the distributor's HAProxy may use: threads, and connections sized to its memory. */
export interface CapacitySettings {
  /** HAProxy threads; absent, one per CPU the distributor has. */
  readonly threads?: number;
  /** HAProxy's global `maxconn`: connections held at once, every listener and internal hop counted. */
  readonly maxConnections: number;
}

/** The validated, defaulted settings a distributor is built from. */
export interface DistributorSettings {
  readonly target: Target;
  readonly weights: Weights;
  readonly routing: RoutingMode;
  /** Only for `failover`: the color that takes all traffic while it is healthy. */
  readonly failoverPrimary?: Color;
  readonly colors: { readonly blue: ColorPlan; readonly green: ColorPlan };
  readonly healthCheck: HealthCheckSettings;
  readonly timeouts: Timeouts;
  readonly gate: GateSettings;
  /** One log line per request on the distributor's stdout. */
  readonly accessLog: boolean;
  readonly listenPort: number;
  readonly statsPort: number;
  /** Known now, or an Output checked when it resolves; never echoed in an error. */
  readonly statsPassword: pulumi.Input<string>;
  readonly distributorImage: string;
  readonly capacity: CapacitySettings;
  /** Present exactly when `target` is `aws`. */
  readonly aws?: AwsSettings;
  /** Present exactly when `target` is `docker`. */
  readonly docker?: DockerSettings;
  /** HTTPS; absent when `tls.mode` is "off". */
  readonly tls?: TlsSettings;
  /** Present when `preview.enabled` is true. */
  readonly preview?: PreviewSettings;
  /** Milliseconds a replica's removal waits for the distributor's connections to it to end; 0, no wait. */
  readonly drainTimeout?: number;
}

/** Invalid input; the message names the setting and says what is allowed. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SettingsError";
  }
}

/** How a rejected value is quoted in an error: JSON, except for what JSON cannot show (NaN, Infinity, undefined). */
export function describe(value: unknown): string {
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  if (typeof value === "string") return JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
  try {
    const text = JSON.stringify(value);
    if (text === undefined) return String(value);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function fail(label: string, value: unknown, allowed: string): never {
  throw new SettingsError(`${label} is ${describe(value)}: ${allowed}`);
}

/** An integer within [min, max], given as a number or a decimal string (config values are strings). */
export function parseInteger(label: string, value: unknown, min: number, max: number): number {
  const allowed = `must be a whole number from ${min} to ${max}`;
  let n: number;
  if (typeof value === "number") {
    n = value;
  } else if (typeof value === "string" && /^\s*[+-]?\d+(\.\d+)?\s*$/.test(value)) {
    n = Number(value);
  } else {
    return fail(label, value, allowed);
  }
  if (!Number.isInteger(n) || n < min || n > max) return fail(label, value, allowed);
  return n;
}

export function parseWeight(label: string, value: unknown): number {
  return parseIntegerSetting("weight.blue", label, value);
}

export function parsePort(label: string, value: unknown): number {
  return parseInteger(label, value, ...PORT);
}

export function parseReplicas(label: string, value: unknown): number {
  return parseIntegerSetting("blue.replicas", label, value);
}

export function parseChoice<T extends string>(label: string, value: unknown, choices: readonly T[]): T {
  if (typeof value === "string" && (choices as readonly string[]).includes(value)) return value as T;
  return fail(label, value, `must be one of ${choices.map((c) => `"${c}"`).join(", ")}`);
}

/** A whole number within the schema's bounds for the setting at `path`. */
export function parseIntegerSetting(path: SettingPath, label: string, value: unknown): number {
  const [min, max] = boundsOf(path);
  return parseInteger(label, value, min, max);
}

/** A duration within the schema's bounds for the setting at `path`, in milliseconds. */
export function parseDurationSetting(path: SettingPath, label: string, value: unknown): number {
  const [min, max] = boundsOf(path);
  return parseDuration(label, value, min, max);
}

/** Both weights zero would leave nothing to send traffic to. */
export function checkWeights(labels: { blue: string; green: string }, weights: Weights): Weights {
  if (weights.blue === 0 && weights.green === 0) {
    throw new SettingsError(
      `${labels.blue} and ${labels.green} are both 0: at least one color needs a weight from 1 to ${MAX_WEIGHT}`,
    );
  }
  return weights;
}

const HOSTNAME_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** A DNS name (RFC 1123 labels, total ≤ 253, one trailing dot allowed), an IPv4 address, or an IPv6 address. */
export function isValidHost(host: string): boolean {
  if (IPV4.test(host)) return true;
  if (host.includes(":")) return !host.includes("%") && isIP(host) === 6;
  if (/^[\d.]+$/.test(host)) return false; // looks like a broken IPv4 address
  const name = host.replace(/\.$/, "");
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((label) => HOSTNAME_LABEL.test(label));
}

/**
 * One spelling per host, so that two ways of writing it compare equal: DNS names in lower case
 * without the trailing dot of a fully qualified name, IPv6 addresses in their shortest form
 * (RFC 5952), IPv4-mapped IPv6 addresses as the IPv4 address they are.
 */
export function canonicalHost(host: string): string {
  if (host.includes(":")) {
    const short = shortIpv6(host);
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(short);
    if (mapped) {
      const [high, low] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
      return [high >> 8, high & 255, low >> 8, low & 255].join(".");
    }
    return short;
  }
  return host.replace(/\.$/, "").toLowerCase();
}

/** A valid IPv6 address in its shortest form (RFC 5952): lower-case hex groups, one "::". */
function shortIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** Addresses that name no server: "this host, any address" (0.0.0.0, ::) and IPv4 broadcast. */
function isUnspecified(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "255.255.255.255";
}

/** `host:port`, `[ipv6]:port`; the host in its one spelling (`canonicalHost`). */
export function parseServer(label: string, value: unknown): ServerAddress {
  const allowed =
    'must be "host:port" with a DNS name, an IPv4 address or a bracketed IPv6 address, and a port from 1 to 65535';
  if (typeof value !== "string") return fail(label, value, allowed);
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]+):(\d+)$/.exec(value);
  if (!match || !isValidHost(match[1])) return fail(label, value, allowed);
  const host = canonicalHost(match[1]);
  if (isUnspecified(host)) return fail(label, value, `${host} names no server: ${allowed.replace(/^must/, "it must")}, the address the server answers on`);
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail(label, value, allowed);
  return { host, port };
}

/** The `host:port` text `parseServer` reads: IPv6 addresses in brackets. */
export function formatServer(server: ServerAddress): string {
  return server.host.includes(":") ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** A DNS name: RFC 1123 labels, not an address; relative names ("www") are allowed. */
export function parseDnsName(label: string, value: unknown): string {
  if (typeof value === "string" && !IPV4.test(value) && !value.includes(":") && isValidHost(value)) {
    // "app.example.com." is the same name, fully qualified: clients send it without the dot.
    return canonicalHost(value);
  }
  return fail(label, value, 'must be a DNS name such as "app.example.com" or "www" (letters, digits, hyphens, dots)');
}

/** An AWS resource ID such as "vpc-0abc1234" (8 or 17 hex digits after the prefix). */
export function parseAwsId(label: string, value: unknown, prefix: "vpc" | "subnet" | "ami"): string {
  if (typeof value === "string" && new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(value)) return value;
  return fail(label, value, `must be an ID such as "${prefix}-0123456789abcdef0"`);
}

/** A Route 53 hosted zone ID, as the console shows it (e.g. "Z0123456789ABCDEFGHIJ"). */
export function parseZoneId(label: string, value: unknown): string {
  if (typeof value === "string" && /^Z[A-Z0-9]{1,31}$/.test(value)) return value;
  return fail(label, value, 'must be a Route 53 hosted zone ID such as "Z0123456789ABCDEFGHIJ"');
}

/** An EC2 instance type: family with a generation digit, a dot, a size ("t3.micro", "m7g.large"). */
export function parseInstanceType(label: string, value: unknown): string {
  if (typeof value === "string" && /^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$/.test(value)) return value;
  return fail(label, value, 'must be an EC2 instance type such as "t3.micro" or "m7g.large"');
}

/** Graviton families carry a "g" after the generation (t4g, m7g, c7gn), or are a1: they need an arm64 AMI. */
export function isArmInstanceType(instanceType: string): boolean {
  // a1 is the first Graviton generation, named before the "g" suffix.
  return /^(a1|[a-z]+\d+[a-z]*g[a-z]*)\./.test(instanceType);
}

/** An IPv4 CIDR with no host bits set ("203.0.113.0/24"), or an IPv6 one ("2001:db8::/32"). */
export function parseCidr(label: string, value: unknown): string {
  const allowed = 'must be a CIDR block such as "203.0.113.0/24", "0.0.0.0/0" or "::/0"';
  if (typeof value !== "string") return fail(label, value, allowed);
  const match = /^([^/]+)\/(\d{1,3})$/.exec(value);
  if (!match) return fail(label, value, allowed);
  const prefix = Number(match[2]);
  const address = addressBits(match[1]);
  if (address === undefined || prefix > address.width) return fail(label, value, allowed);
  const hostMask = (1n << BigInt(address.width - prefix)) - 1n;
  if ((address.value & hostMask) !== 0n) {
    return fail(label, value, `has host bits set; the network is "${formatAddressBits(address.value & ~hostMask, address.width)}/${prefix}"`);
  }
  // An IPv4-mapped block stays IPv6: "::ffff:10.0.0.0/104" is not "10.0.0.0/104".
  return address.width === 32 ? value : `${shortIpv6(match[1])}/${prefix}`;
}

/** An IP address as a number and its width in bits: IPv4 32, IPv6 128 (any spelling); undefined if it is neither. */
function addressBits(address: string): { value: bigint; width: 32 | 128 } | undefined {
  if (IPV4.test(address)) return { value: address.split(".").reduce((n, octet) => (n << 8n) | BigInt(octet), 0n), width: 32 };
  if (address.includes("%") || isIP(address) !== 6) return undefined;
  // The shortest form: hex groups (an IPv4 tail converted), at most one "::" for the zero groups.
  const [head, tail = ""] = shortIpv6(address).split("::");
  const groups = (text: string) => (text === "" ? [] : text.split(":"));
  const zeros = Array(8 - groups(head).length - groups(tail).length).fill("0");
  return { value: [...groups(head), ...zeros, ...groups(tail)].reduce((n, group) => (n << 16n) | BigInt(parseInt(group, 16)), 0n), width: 128 };
}

/** The address `addressBits` read, in its one spelling. */
function formatAddressBits(value: bigint, width: 32 | 128): string {
  if (width === 32) return [24, 16, 8, 0].map((shift) => Number((value >> BigInt(shift)) & 255n)).join(".");
  return shortIpv6(Array.from({ length: 8 }, (_, i) => ((value >> BigInt(16 * (7 - i))) & 0xffffn).toString(16)).join(":"));
}

/** `true`/`false`, as a boolean or the string the CLI stores. */
export function parseBoolean(label: string, value: unknown): boolean {
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  return fail(label, value, "must be true or false");
}

/**
 * A list given as an array or as the JSON text `pulumi config set` stores; `what` describes
 * its items with an example, for the error message.
 */
export function parseList<T>(
  label: string,
  value: unknown,
  what: string,
  item: (label: string, value: unknown) => T,
): T[] {
  let list = value;
  if (typeof value === "string") {
    try {
      list = JSON.parse(value);
    } catch {
      return fail(label, value, `must be a JSON list of ${what}`);
    }
  }
  if (!Array.isArray(list)) return fail(label, value, `must be a list of ${what}`);
  return list.map((entry, i) => item(`${label}[${i}]`, entry));
}

/** A non-empty list of servers: an array, or its JSON text as `pulumi config set` stores it. */
export function parseServerList(label: string, value: unknown): ServerAddress[] {
  const servers = parseList(label, value, '"host:port" strings, e.g. ["10.0.0.5:8080"]', parseServer);
  if (servers.length === 0) throw new SettingsError(`${label} is empty: list at least one "host:port"`);
  return servers;
}

// registry[:port]/path[:tag][@digest], lower-case path components as Docker requires. A
// registry is told apart from a path component by a dot, a port, or the name localhost.
const IMAGE_REFERENCE =
  /^(?<name>((?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+(:\d+)?\/|localhost(:\d+)?\/|[A-Za-z0-9-]+:\d+\/)?[a-z0-9]+([._-]+[a-z0-9]+)*(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*)(:(?<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(@sha256:[a-f0-9]{64})?$/;

/** The repository name (registry and path) and the tag of a Docker image reference; undefined if it is not one. */
export function imageReference(value: unknown): { name: string; tag?: string } | undefined {
  const groups = typeof value === "string" ? IMAGE_REFERENCE.exec(value)?.groups : undefined;
  return groups && { name: groups.name, ...(groups.tag === undefined ? {} : { tag: groups.tag }) };
}

/** Docker refuses a repository name (the reference without its tag and digest) over 255 characters. */
export const MAX_IMAGE_NAME_LENGTH = 255;

export function parseImage(label: string, value: unknown): string {
  const allowed = 'must be a Docker image reference such as "nginx:1.27" or "registry.example.com/team/app:2.0"';
  const reference = imageReference(value);
  if (reference === undefined) return fail(label, value, allowed);
  if (reference.name.length > MAX_IMAGE_NAME_LENGTH) {
    throw new SettingsError(`${label} names a repository of ${reference.name.length} characters: Docker allows at most ${MAX_IMAGE_NAME_LENGTH} (the tag and digest not counted)`);
  }
  return value as string;
}

// Characters an HTTP path may hold that are also inert in an HAProxy config line
// (no spaces, quotes, backslashes, '#' or '$').
const HEALTH_PATH = /^\/[A-Za-z0-9\-._~%/?=&+,;:@!*()]*$/;

export function parseHealthCheckPath(label: string, value: unknown): string {
  if (typeof value === "string" && HEALTH_PATH.test(value) && value.length <= 512) return value;
  return fail(label, value, 'must be an HTTP path starting with "/", without spaces, quotes, "#" or "$"');
}

/** The stats password goes into `stats auth` inside single quotes. Errors never quote it. */
export function parseStatsPassword(label: string, value: unknown): string {
  if (typeof value === "string" && /^[\x21-\x7e]{8,128}$/.test(value) && !value.includes("'")) return value;
  throw new SettingsError(
    `${label} is not allowed (value hidden): it must be 8 to 128 printable ASCII characters without spaces or single quotes`,
  );
}

const DURATION = /^(\d{1,9})(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds as HAProxy reads a duration, in the largest unit that divides it exactly. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A duration with a unit ("500ms", "30s", "5m", "1h") within [min, max] milliseconds. */
export function parseDuration(label: string, value: unknown, min: number, max: number): number {
  const allowed = `must be a duration with a unit (ms, s, m or h), e.g. "500ms" or "30s", from ${formatDuration(min)} to ${formatDuration(max)}`;
  const match = typeof value === "string" ? DURATION.exec(value) : null;
  if (!match) return fail(label, value, allowed);
  const ms = Number(match[1]) * UNIT_MS[match[2]];
  if (ms < min || ms > max) return fail(label, value, allowed);
  return ms;
}

/** Status codes and ranges for `http-check expect status`: "200", "200-399", "200,204,300-399". */
export function parseExpectStatus(label: string, value: unknown): string {
  const allowed = 'must be HTTP status codes (100-599) or ranges, comma-separated, e.g. "200", "200-399" or "200,204"';
  if (typeof value !== "string" || value.length > 100) return fail(label, value, allowed);
  const parts = value.split(",");
  for (const part of parts) {
    const match = /^([1-5]\d\d)(?:-([1-5]\d\d))?$/.exec(part);
    if (!match || (match[2] !== undefined && Number(match[2]) < Number(match[1]))) return fail(label, value, allowed);
  }
  return value;
}

/**
 * A component name becomes Docker container names (`<name>-green-19-<hash>`, also their DNS
 * names on the network), HAProxy identifiers and AWS resource names: letters, digits and
 * hyphens, short enough that every derived name stays a valid DNS label.
 */
export const MAX_NAME_LENGTH = 40;
export function parseComponentName(value: unknown): string {
  if (typeof value === "string" && value.length <= MAX_NAME_LENGTH && /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/.test(value)) {
    return value;
  }
  return fail(
    "the component name",
    value,
    `must be 1 to ${MAX_NAME_LENGTH} letters, digits and hyphens, starting and ending with a letter or digit ` +
      "(it names containers, DNS labels and HAProxy sections; in the program it is the stack name)",
  );
}

/** Rejects a list that names the same thing twice (after normalising each item with `key`). */
export function checkUnique<T>(label: string, items: readonly T[], key: (item: T) => string = String): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    const first = seen.get(k);
    if (first !== undefined) {
      throw new SettingsError(`${label}[${i}] repeats ${label}[${first}] (${JSON.stringify(k)}): list each one once`);
    }
    seen.set(k, i);
  });
}

/** Ports no distributor should listen on: SSH and RDP, which scanners and attackers try first. */
export const REFUSED_LISTEN_PORTS: readonly number[] = [22, 3389];

/** The primary color for `failover`: the one named, or else the one with the higher weight. */
export function resolveFailoverPrimary(
  labels: { primary: string; blue: string; green: string },
  weights: Weights,
  primary: Color | undefined,
): Color {
  if (primary) return primary;
  if (weights.blue === weights.green) {
    throw new SettingsError(
      `routing "failover" needs a primary color: set ${labels.primary} to "blue" or "green", ` +
        `or give one color a higher weight than the other (${labels.blue} and ${labels.green} are both ${weights.blue})`,
    );
  }
  return weights.blue > weights.green ? "blue" : "green";
}

/**
 * Share of new traffic per color in percent, as the distributor sends it: by weight, or, with
 * `failover`, all of it to the primary while it is healthy.
 */
export function trafficShares(routing: RoutingMode, weights: Weights, failoverPrimary?: Color): { blue: number; green: number } {
  if (routing === "failover") {
    return failoverPrimary === "blue" ? { blue: 100, green: 0 } : { blue: 0, green: 100 };
  }
  return weightPercentages(weights);
}

/** Share of new traffic per color in percent, rounded to two decimals. */
export function weightPercentages(weights: Weights): { blue: number; green: number } {
  const total = weights.blue + weights.green;
  const pct = (w: number) => Math.round((w / total) * 10000) / 100;
  return { blue: pct(weights.blue), green: pct(weights.green) };
}
