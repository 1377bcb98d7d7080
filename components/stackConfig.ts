// Reads the distributor's settings from stack config, in both forms the Pulumi CLI writes:
//   pulumi config set weight.blue 0          -> flat key   "traffic-distributor:weight.blue" = "0"
//   pulumi config set --path weight.blue 0   -> object key "traffic-distributor:weight" = {"blue": 0}
// Pulumi.yaml defaults arrive in the object form: the flat key wins over a default, and two
// different values set by hand are an error.
import * as pulumi from "@pulumi/pulumi";
import {
  argsAtPaths,
  PROVISIONED_COLOR_FIELDS,
  SECRET_SETTING_PATHS,
  SETTING_PATHS,
  SettingLabels,
  settingLabels,
  SettingPath,
  TrafficDistributorArgs,
  validateTrafficDistributorArgs,
} from "./trafficDistributorArgs";
import { DEFAULTS, describe, DistributorSettings, SettingsError } from "./settings";
import { settingSpec } from "./settingsSchema";

export const CONFIG_NAMESPACE = "traffic-distributor";

/** Stack config keys (without the namespace) for each setting: its path in the schema. */
export const CONFIG_KEYS: Record<SettingPath, string> = settingLabels((path) => path);

export const CONFIG_LABELS = Object.fromEntries(
  Object.entries(CONFIG_KEYS).map(([path, key]) => [path, `${CONFIG_NAMESPACE}:${key}`]),
) as SettingLabels;

/**
 * The defaults Pulumi.yaml declares (it is generated from the same schema). The CLI applies them
 * in the object form, so an object value equal to its default says nothing about the user's intent.
 */
export const CONFIG_DEFAULTS: Record<SettingPath, unknown> = Object.fromEntries(
  SETTING_PATHS.map((path) => [path, settingSpec(path).default ?? ""]),
) as Record<SettingPath, unknown>;

/** Keys whose values are secrets: no message ever quotes them. */
const SECRET_KEYS = new Set(SECRET_SETTING_PATHS.map((path) => CONFIG_KEYS[path]));

const DEFAULT_BY_KEY = new Map(SETTING_PATHS.map((path) => [CONFIG_KEYS[path], CONFIG_DEFAULTS[path]]));

/** The labels of the keys in a namespace: this project's, or a user's project name. */
export function configLabels(namespace: string): SettingLabels {
  if (namespace === CONFIG_NAMESPACE) return CONFIG_LABELS;
  return Object.fromEntries(Object.entries(CONFIG_KEYS).map(([path, key]) => [path, `${namespace}:${key}`])) as SettingLabels;
}

/**
 * Raw stack config of the project namespace. Values are what the CLI stores: strings, with
 * objects and lists as JSON text (the Pulumi runtime), or already-parsed YAML values.
 */
export interface ConfigSource {
  /** The namespace its keys are read from, which messages name. @default CONFIG_NAMESPACE */
  readonly namespace?: string;
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
  return { namespace, get: (key) => own.get(key), keys: () => [...own.keys()] };
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

/** The same value whether the CLI stored it as text or YAML parsed it: `"50"`, `50`, `'["a"]'`, `["a"]`. */
function sameValue(a: unknown, b: unknown): boolean {
  const canonical = (value: unknown): string => {
    if (typeof value === "string") {
      try {
        const parsed = JSON.parse(value);
        if (typeof parsed === "object" && parsed !== null) return JSON.stringify(parsed);
      } catch {
        /* plain text */
      }
      return value;
    }
    return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
  };
  return canonical(a) === canonical(b);
}

/** The value of a dotted key in the object form (`pulumi config set --path`), if any. */
function readObjectForm(source: ConfigSource, key: string): unknown {
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

/**
 * The value of a dotted key, set as a flat key or inside its root object. Both set to different
 * values is an error naming both, unless the object's value is only Pulumi.yaml's default.
 */
export function readConfigValue(source: ConfigSource, key: string): unknown {
  const projectDefault = DEFAULT_BY_KEY.get(key);
  const flat = source.get(key);
  const nested = readObjectForm(source, key);
  if (flat === undefined) return nested;
  if (nested === undefined || sameValue(flat, nested)) return flat;
  if (projectDefault !== undefined && sameValue(nested, projectDefault)) return flat;
  const root = key.split(".")[0];
  const namespace = source.namespace ?? CONFIG_NAMESPACE;
  const shown = (value: unknown) => (SECRET_KEYS.has(key) ? "a value (hidden)" : describe(value));
  throw new SettingsError(
    `${namespace}:${key} is set twice with different values: ${shown(flat)} as a flat key and ` +
      `${shown(nested)} inside ${namespace}:${root} (set with --path). Keep one: ` +
      `\`pulumi config rm ${key}\` or \`pulumi config rm --path ${key}\``,
  );
}

const KNOWN_KEYS = new Set(Object.values(CONFIG_KEYS));

/** The dotted keys of an object's leaves, e.g. "tls.acme.email"; a known key is a leaf even when its value is an object. */
function leafKeys(prefix: string, object: Record<string, unknown>): string[] {
  return Object.entries(object).flatMap(([sub, value]) => {
    const key = `${prefix}.${sub}`;
    const inner = KNOWN_KEYS.has(key) ? undefined : asObject(value);
    return inner && [...KNOWN_KEYS].some((k) => k.startsWith(`${key}.`)) ? leafKeys(key, inner) : [key];
  });
}

/** Rejects keys this project does not read: a typo such as `weight.bleu` must not pass silently. */
export function checkKnownKeys(source: ConfigSource): void {
  const unknown: string[] = [];
  for (const key of source.keys()) {
    if (KNOWN_KEYS.has(key)) continue;
    const object = key.includes(".") ? undefined : asObject(source.get(key));
    const nested = object ? leafKeys(key, object) : [key];
    const isRoot = object !== undefined && [...KNOWN_KEYS].some((k) => k.startsWith(`${key}.`));
    unknown.push(...(isRoot ? nested.filter((k) => !KNOWN_KEYS.has(k)) : [key]));
  }
  if (unknown.length > 0) {
    throw new SettingsError(
      `unknown config ${unknown.map((k) => `${source.namespace ?? CONFIG_NAMESPACE}:${k}`).join(", ")}: ` +
        `the keys this project reads are ${[...KNOWN_KEYS].sort().join(", ")}`,
    );
  }
}

function isEmptyList(value: unknown): boolean {
  return (Array.isArray(value) && value.length === 0) || value === "[]";
}

/**
 * Unset, or set to the empty value a Pulumi.yaml default leaves behind (in the object form). An
 * empty list set as a flat key is a deliberate value, which the validator judges:
 * `aws.ingressCidrs '[]'` is refused, never a way back to the default ("0.0.0.0/0").
 */
function isBlank(value: unknown, path: SettingPath, setFlat: boolean): boolean {
  if (value === undefined || value === null || value === "") return true;
  return !setFlat && isEmptyList(value) && isEmptyList(CONFIG_DEFAULTS[path]);
}

/** The result of reading stack config: component args, and the same settings validated. */
export interface StackSettings {
  readonly args: TrafficDistributorArgs;
  readonly settings: DistributorSettings;
  /** The stats password in plain text; the caller keeps it a secret. */
  readonly statsPassword: string;
  /** The provided certificate and private key in plain text, if set; the caller keeps them secrets. */
  readonly tlsSecrets?: { readonly certificate: string; readonly privateKey: string };
}

const AWS_ONLY = (path: SettingPath) => settingSpec(path).scope === "aws";
const DOCKER_ONLY = (path: SettingPath) => settingSpec(path).scope === "docker";

/**
 * Builds the component's args from stack config and validates them exactly as the component
 * validates its args. Every error names the config key (e.g. `traffic-distributor:weight.blue`)
 * and what is allowed.
 */
export function readStackConfig(source: ConfigSource): StackSettings {
  checkKnownKeys(source);
  const labels = configLabels(source.namespace ?? CONFIG_NAMESPACE);
  const read = (path: SettingPath): unknown => {
    const key = CONFIG_KEYS[path];
    const value = readConfigValue(source, key);
    // An empty list set as a flat key is a deliberate `pulumi config set blue.servers '[]'`,
    // not Pulumi.yaml's default (that arrives in the object form): say it, do not provision.
    const setFlat = source.get(key) !== undefined;
    if (path.endsWith(".servers") && setFlat && isEmptyList(value)) {
      throw new SettingsError(
        `${labels[path]} is ${describe(value)}: list at least one "host:port", ` +
          `or remove it (\`pulumi config rm ${key}\`) to provision the color`,
      );
    }
    return isBlank(value, path, setFlat) ? undefined : value;
  };
  const target = read("target");
  // Values stay loosely typed here: the validator parses them and names the key on error.
  const entries: Array<[SettingPath, unknown]> = [];
  for (const path of SETTING_PATHS) {
    const value = read(path);
    if (value === undefined) continue;
    // Pulumi.yaml gives every key a default: those of the other target are left out, unless set otherwise.
    if (AWS_ONLY(path) && target !== "aws") continue;
    if (DOCKER_ONLY(path) && (target ?? DEFAULTS.target) !== "docker" && sameValue(value, CONFIG_DEFAULTS[path])) continue;
    // An HTTPS key at Pulumi.yaml's default says nothing: the mode decides whether it applies.
    if (path.startsWith("tls.") && path !== "tls.mode" && sameValue(value, CONFIG_DEFAULTS[path])) continue;
    entries.push([path, path.endsWith(".servers") ? parseJsonList(labels[path], value) : value]);
  }
  const raw = argsAtPaths(entries);
  // A color given as servers ignores the provisioned keys Pulumi.yaml fills in.
  for (const color of ["blue", "green"] as const) {
    const args = raw[color] as Record<string, unknown> | undefined;
    if (args?.servers !== undefined) for (const field of PROVISIONED_COLOR_FIELDS) delete args[field];
  }
  const settings = validateTrafficDistributorArgs(raw as TrafficDistributorArgs, labels);
  const statsPassword = settings.statsPassword as string;
  const rawTls = raw.tls as Record<string, unknown> | undefined;
  const tlsSecrets =
    settings.tls?.mode === "provided"
      ? { certificate: settings.tls.certificate as string, privateKey: settings.tls.privateKey as string }
      : undefined;

  // Hand the component typed args that pass its own validation unchanged.
  const args: TrafficDistributorArgs = {
    ...(raw as TrafficDistributorArgs),
    target: settings.target,
    weight: settings.weights,
    routing: settings.routing,
    failover: settings.routing === "failover" ? { primary: settings.failoverPrimary } : undefined,
    blue: planToArgs(settings.colors.blue),
    green: planToArgs(settings.colors.green),
    listenPort: settings.listenPort,
    statsPort: settings.statsPort,
    statsPassword: undefined,
    distributor: { ...(raw.distributor as TrafficDistributorArgs["distributor"]), image: settings.distributorImage },
    // Validated settings are valid args: the aws fields carry the same names.
    aws: settings.aws,
    // The caller passes the certificate and key back in as secrets.
    ...(rawTls === undefined ? {} : { tls: { ...rawTls, certificate: undefined, privateKey: undefined } }),
  };
  return { args, settings, statsPassword, ...(tlsSecrets === undefined ? {} : { tlsSecrets }) };
}

// `pulumi config set blue.servers '["a:1"]'` stores JSON text; the validator wants a list.
function parseJsonList(label: string, value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new SettingsError(
      `${label} is ${describe(value)}: must be a JSON list of "host:port" strings, e.g. ["10.0.0.5:8080"]`,
    );
  }
}

function planToArgs(plan: DistributorSettings["colors"]["blue"]) {
  return plan.kind === "existing"
    ? { servers: plan.servers }
    : { image: plan.image, replicas: plan.replicas, port: plan.port, ...(plan.memoryMb === undefined ? {} : { memoryMb: plan.memoryMb }) };
}

/**
 * The component's args from the running stack's config (`pulumi.runtime.allConfig()`), keys in
 * `namespace` (default: the project's name, so `pulumi config set weight.blue 0` reaches it),
 * validated as readStackConfig does; the stats password and a provided certificate and key come
 * back as secrets. A program: `new TrafficDistributor(pulumi.getStack(), stackConfigArgs())`.
 */
export function stackConfigArgs(namespace: string = pulumi.getProject()): TrafficDistributorArgs {
  const { args, statsPassword, tlsSecrets } = readStackConfig(configSourceFromMap(pulumi.runtime.allConfig(), namespace));
  return {
    ...args,
    statsPassword: pulumi.secret(statsPassword),
    ...(tlsSecrets === undefined
      ? {}
      : { tls: { ...args.tls, certificate: pulumi.secret(tlsSecrets.certificate), privateKey: pulumi.secret(tlsSecrets.privateKey) } }),
  };
}
