// Reads the distributor's settings from stack config, in both forms the Pulumi CLI writes:
//   pulumi config set weight.blue 0          -> flat key   "traffic-distributor:weight.blue" = "0"
//   pulumi config set --path weight.blue 0   -> object key "traffic-distributor:weight" = {"blue": 0}
// Pulumi.yaml defaults arrive in the object form, so the flat key wins when both exist.
import {
  SettingLabels,
  settingLabels,
  SettingPath,
  TrafficDistributorArgs,
  validateTrafficDistributorArgs,
} from "./trafficDistributorArgs";
import { DistributorSettings, parseStatsPassword, SettingsError } from "./settings";

export const CONFIG_NAMESPACE = "traffic-distributor";

/** Where a stack config key differs from the arg's path. */
const RENAMED_KEYS: Partial<Record<SettingPath, string>> = {
  "weights.blue": "weight.blue",
  "weights.green": "weight.green",
  failoverPrimary: "failover.primary",
  healthCheckPath: "healthCheck.path",
  distributorImage: "distributor.image",
};

/** Stack config keys (without the namespace) for each setting. */
export const CONFIG_KEYS: Record<SettingPath, string> = settingLabels((path) => RENAMED_KEYS[path] ?? path);

export const CONFIG_LABELS = Object.fromEntries(
  Object.entries(CONFIG_KEYS).map(([path, key]) => [path, `${CONFIG_NAMESPACE}:${key}`]),
) as SettingLabels;

/**
 * Raw stack config of the project namespace. Values are what the CLI stores: strings, with
 * objects and lists as JSON text (the Pulumi runtime), or already-parsed YAML values.
 */
export interface ConfigSource {
  /** The value of a key without the namespace, e.g. "weight.blue" or "weight"; undefined if unset. */
  get(key: string): unknown;
  /** Every key set in the namespace, without the namespace. */
  keys(): string[];
}

/** A source over a plain map of namespaced keys, e.g. `pulumi.runtime.allConfig()` or a stack file. */
export function configSourceFromMap(values: Record<string, unknown>, namespace = CONFIG_NAMESPACE): ConfigSource {
  const prefix = `${namespace}:`;
  const own = new Map<string, unknown>();
  for (const [key, value] of Object.entries(values)) {
    if (key.startsWith(prefix)) own.set(key.slice(prefix.length), value);
  }
  return { get: (key) => own.get(key), keys: () => [...own.keys()] };
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

/** The value of a dotted key: the flat key first, then the same path inside the root object. */
export function readConfigValue(source: ConfigSource, key: string): unknown {
  const flat = source.get(key);
  if (flat !== undefined) return flat;
  const [root, ...path] = key.split(".");
  if (path.length === 0) return undefined;
  let node: unknown = source.get(root);
  for (const part of path) {
    const object = asObject(node);
    if (!object) return undefined;
    node = object[part];
  }
  return node;
}

const KNOWN_KEYS = new Set(Object.values(CONFIG_KEYS));

/** Rejects keys this project does not read: a typo such as `weight.bleu` must not pass silently. */
export function checkKnownKeys(source: ConfigSource): void {
  const unknown: string[] = [];
  for (const key of source.keys()) {
    if (KNOWN_KEYS.has(key)) continue;
    const object = key.includes(".") ? undefined : asObject(source.get(key));
    const nested = object ? Object.keys(object).map((sub) => `${key}.${sub}`) : [key];
    const isRoot = object !== undefined && [...KNOWN_KEYS].some((k) => k.startsWith(`${key}.`));
    unknown.push(...(isRoot ? nested.filter((k) => !KNOWN_KEYS.has(k)) : [key]));
  }
  if (unknown.length > 0) {
    throw new SettingsError(
      `unknown config ${unknown.map((k) => `${CONFIG_NAMESPACE}:${k}`).join(", ")}: ` +
        `the keys this project reads are ${[...KNOWN_KEYS].sort().join(", ")}`,
    );
  }
}

/** Unset, or set to the empty value a Pulumi.yaml default leaves behind. */
function isBlank(value: unknown): boolean {
  return value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0) || value === "[]";
}

/** The result of reading stack config: component args, and the same settings validated. */
export interface StackSettings {
  readonly args: TrafficDistributorArgs;
  readonly settings: DistributorSettings;
  /** The stats password in plain text, if set; the caller keeps it a secret. */
  readonly statsPassword?: string;
}

/**
 * Builds the component's args from stack config. Every error names the config key
 * (e.g. `traffic-distributor:weight.blue`) and what is allowed.
 */
export function readStackConfig(source: ConfigSource): StackSettings {
  checkKnownKeys(source);
  const read = (path: SettingPath): unknown => {
    const value = readConfigValue(source, CONFIG_KEYS[path]);
    return isBlank(value) ? undefined : value;
  };
  // Values stay loosely typed here: the validator below parses them and names the key on error.
  const color = (c: "blue" | "green") =>
    read(`${c}.servers`) !== undefined
      ? { servers: read(`${c}.servers`) }
      : { image: read(`${c}.image`), replicas: read(`${c}.replicas`), port: read(`${c}.port`) };
  const raw = {
    target: read("target"),
    weights: { blue: read("weights.blue"), green: read("weights.green") },
    routing: read("routing"),
    failoverPrimary: read("failoverPrimary"),
    blue: color("blue"),
    green: color("green"),
    healthCheckPath: read("healthCheckPath"),
    listenPort: read("listenPort"),
    statsPort: read("statsPort"),
    distributorImage: read("distributorImage"),
    // The aws and dns keys have Pulumi.yaml defaults, so they are always present: read them for aws only.
    aws: read("target") === "aws" ? readAws(read) : undefined,
  } as unknown as TrafficDistributorArgs;
  const settings = validateTrafficDistributorArgs(withParsedServers(raw), CONFIG_LABELS);

  const password = read("statsPassword");
  const statsPassword =
    password === undefined ? undefined : parseStatsPassword(CONFIG_LABELS.statsPassword, String(password));

  // Hand the component typed args that pass its own validation unchanged.
  const args: TrafficDistributorArgs = {
    target: settings.target,
    weights: settings.weights,
    routing: settings.routing,
    failoverPrimary: settings.routing === "failover" ? settings.failoverPrimary : undefined,
    blue: planToArgs(settings.colors.blue),
    green: planToArgs(settings.colors.green),
    healthCheckPath: settings.healthCheckPath,
    listenPort: settings.listenPort,
    statsPort: settings.statsPort,
    distributorImage: settings.distributorImage,
    // Validated settings are valid args: the aws fields carry the same names.
    aws: settings.aws,
  };
  return { args, settings, statsPassword };
}

function readAws(read: (path: SettingPath) => unknown): Record<string, unknown> {
  return {
    vpcId: read("aws.vpcId"),
    subnetIds: read("aws.subnetIds"),
    distributorSubnetId: read("aws.distributorSubnetId"),
    instanceType: read("aws.instanceType"),
    distributorInstanceType: read("aws.distributorInstanceType"),
    ami: read("aws.ami"),
    ingressCidrs: read("aws.ingressCidrs"),
    dns: {
      zoneId: read("dns.zoneId"),
      name: read("dns.name"),
      ttl: read("dns.ttl"),
      aliases: read("dns.aliases"),
      recordType: read("dns.recordType"),
      takeOver: read("dns.takeOver"),
    },
  };
}

// `pulumi config set blue.servers '["a:1"]'` stores JSON text; the validator wants a list.
function withParsedServers(raw: TrafficDistributorArgs): TrafficDistributorArgs {
  const parse = (c: "blue" | "green") => {
    const color = raw[c] as { servers?: unknown } | undefined;
    if (typeof color?.servers !== "string") return raw[c];
    try {
      return { servers: JSON.parse(color.servers) };
    } catch {
      throw new SettingsError(
        `${CONFIG_LABELS[`${c}.servers`]} is ${JSON.stringify(color.servers)}: ` +
          `must be a JSON list of "host:port" strings, e.g. ["10.0.0.5:8080"]`,
      );
    }
  };
  return { ...raw, blue: parse("blue"), green: parse("green") };
}

function planToArgs(plan: DistributorSettings["colors"]["blue"]) {
  return plan.kind === "existing" ? { servers: plan.servers } : { image: plan.image, replicas: plan.replicas, port: plan.port };
}
