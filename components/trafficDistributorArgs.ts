import * as pulumi from "@pulumi/pulumi";
import { parseBake, parseErrorRate, parseGateTimeout, parseMinHealthy } from "./releaseGate";
import { PreviewArgs, PreviewSettings, validatePreview } from "./preview";
import {
  AwsSettings,
  CapacitySettings,
  checkUnique,
  checkWeights,
  Color,
  COLORS,
  ColorPlan,
  DEFAULTS,
  DistributorSettings,
  DNS_RECORD_TYPES,
  DnsRecordType,
  DnsSettings,
  DockerSettings,
  describe,
  GateSettings,
  HealthCheckSettings,
  imageReference,
  parseAwsId,
  parseBoolean,
  parseChoice,
  parseCidr,
  parseDnsName,
  parseExpectStatus,
  parseHealthCheckPath,
  parseImage,
  parseInstanceType,
  parseIntegerSetting,
  parseDurationSetting,
  parseList,
  parsePort,
  parseReplicas,
  parseServerList,
  parseStatsPassword,
  parseWeight,
  parseZoneId,
  formatServer,
  ServerAddress,
  REFUSED_LISTEN_PORTS,
  resolveFailoverPrimary,
  RoutingMode,
  ROUTING_MODES,
  SettingsError,
  Target,
  TARGETS,
  Timeouts,
  Weights,
} from "./settings";
import { TlsArgs, TlsSettings, validateTls } from "./tls";
import { SettingPath, SETTINGS_SCHEMA } from "./settingsSchema";
import { AWS_SYSTEM_MIB, connectionCost, DistributorMemory, instanceTypeMemoryMiB, resolveMaxConnections } from "./capacity";

/** A color the component provisions: `replicas` containers of `image`. */
export interface ProvisionedColorArgs {
  /** Image reference of the app. @default "traefik/whoami:v1.10.1" */
  readonly image?: string;
  /** Number of containers, 1–20. @default 2 */
  readonly replicas?: number;
  /** Port the app listens on inside its container. @default 80 */
  readonly port?: number;
  /** Memory limit of each container in MiB, 16–1048576 (`docker` target). @default none */
  readonly memoryMb?: number;
}

/**
 * A color that already runs elsewhere (another stack's environment, an app on a VM): its
 * servers as `host:port`. Mutually exclusive with the provisioned fields.
 */
export interface ExistingColorArgs {
  /** e.g. `["10.0.0.5:8080"]`, or a StackReference output holding such a list. */
  readonly servers: pulumi.Input<readonly string[]>;
}

export type ColorArgs = ProvisionedColorArgs | ExistingColorArgs;

/** Route 53 records pointing at the distributor's Elastic IP (`aws` target). */
export interface DnsArgs {
  /** Hosted zone that holds `name`, e.g. "Z0123456789ABCDEFGHIJ". */
  readonly zoneId: pulumi.Input<string>;
  /** Record name: "app.example.com", or relative to the zone ("app"). */
  readonly name: string;
  /** Seconds resolvers may cache the record; lower it before a cutover. @default 60 */
  readonly ttl?: number;
  /** More names with the same record, e.g. ["www"]. @default [] */
  readonly aliases?: readonly string[];
  /** `A` to the Elastic IP, or `CNAME` to its public DNS name (never at a zone apex). @default "A" */
  readonly recordType?: DnsRecordType;
  /**
   * Overwrite records that already exist under these names: the cutover of a running app.
   * Without it, an existing record fails the update and nothing is changed. @default false
   */
  readonly takeOver?: boolean;
}

/** Where and how the `aws` target runs. Every field is optional. */
export interface AwsTargetArgs {
  /** VPC of every instance. Requires `subnetIds`. @default the account's default VPC */
  readonly vpcId?: pulumi.Input<string>;
  /** Subnets the app instances are spread over, in order. @default the default VPC's default subnets */
  readonly subnetIds?: pulumi.Input<readonly string[]>;
  /**
   * Subnet of the distributor; it must route to an internet gateway (the Elastic IP needs it).
   * @default the first of `subnetIds`
   */
  readonly distributorSubnetId?: pulumi.Input<string>;
  /** Instance type of the app instances. @default "t3.micro" */
  readonly instanceType?: string;
  /** Instance type of the distributor. @default "t3.micro" */
  readonly distributorInstanceType?: string;
  /**
   * AMI of every instance: an image with cloud-init, dnf, the SSM agent and the AWS CLI (Amazon Linux 2023),
   * of the instance types' architecture. @default the newest Amazon Linux 2023 when an instance
   * is created; an instance keeps its AMI until this is set
   */
  readonly ami?: string;
  /** Who may reach the distributor's listen port. @default ["0.0.0.0/0"] */
  readonly ingressCidrs?: readonly string[];
  /** DNS records for the distributor. @default none: clients use the Elastic IP */
  readonly dns?: DnsArgs;
}

export interface TrafficDistributorArgs {
  /** Where to run: `docker` (the local Docker engine) or `aws` (EC2, Elastic IP, Route 53). @default "docker" */
  readonly target?: Target;
  /**
   * Relative weights, integers 0–256; not both 0. Weight 0 sends a color no new traffic.
   * @default { blue: 50, green: 50 }
   */
  readonly weight?: Weights;
  /** How requests are split. @default "round-robin" */
  readonly routing?: RoutingMode;
  /** With `routing: "failover"`. */
  readonly failover?: FailoverArgs;
  /** The blue color. @default a provisioned demo app */
  readonly blue?: ColorArgs;
  /** The green color. @default a provisioned demo app */
  readonly green?: ColorArgs;
  /** The active HTTP/1.1 health check sent to every server. */
  readonly healthCheck?: HealthCheckArgs;
  /** Timeouts of the distributor. */
  readonly timeouts?: TimeoutArgs;
  /** The health gate and the bake of a step that raises a color's share. */
  readonly gate?: GateArgs;
  /** One log line per request on the distributor's output. @default true */
  readonly accessLog?: boolean;
  /**
   * Public port of the distributor (on the Docker host, or the Elastic IP); not 22 or 3389.
   * @default 8080 on docker, 80 on aws
   */
  readonly listenPort?: number;
  /** Port of the HAProxy stats page, on the distributor host's loopback only. @default 8404 */
  readonly statsPort?: number;
  /**
   * Password of user `admin` on the stats page and `/metrics`: required, since the stats port is
   * reachable from every container on the distributor's network. 8–128 printable ASCII
   * characters, no spaces or single quotes. A plain string is made a Pulumi secret.
   */
  readonly statsPassword?: pulumi.Input<string>;
  /** The distributor's HAProxy: its image and capacity. */
  readonly distributor?: DistributorArgs;
  /** Settings of the `aws` target; only allowed with `target: "aws"`. */
  readonly aws?: AwsTargetArgs;
  /** Settings of the `docker` target; only allowed with `target: "docker"`. */
  readonly docker?: DockerTargetArgs;
  /** HTTPS on its own port; plain HTTP then redirects to it. @default off */
  readonly tls?: TlsArgs;
  /** Each color alone on its own port (and on aws with `dns`, its own host name), whatever the weights. */
  readonly preview?: PreviewArgs;
  /** Removing replicas (containers on `docker`, instances on `aws`). */
  readonly drain?: DrainArgs;

  /** @deprecated Use `weight`, the name of its stack config key (`weight.blue`). Removed in the next major release. */
  readonly weights?: Weights;
  /** @deprecated Use `failover.primary`. Removed in the next major release. */
  readonly failoverPrimary?: Color;
  /** @deprecated Use `distributor.image`. Removed in the next major release. */
  readonly distributorImage?: string;
  /** @deprecated Use `distributor.memoryMb`. Removed in the next major release. */
  readonly distributorMemoryMb?: number;
  /** @deprecated Use `distributor.threads`. Removed in the next major release. */
  readonly distributorThreads?: number;
  /** @deprecated Use `distributor.maxConnections`. Removed in the next major release. */
  readonly distributorMaxConnections?: number;
}

export interface FailoverArgs {
  /** The color that serves while it is healthy; the other serves only when it is not. @default the higher weight */
  readonly primary?: Color;
}

export interface DistributorArgs {
  /** HAProxy image of the distributor, Debian-based (the delivery and the gate need its perl). @default "haproxy:3.4.7" */
  readonly image?: string;
  /** Memory limit of the distributor container in MiB, 16–1048576 (`docker` target). @default 256 */
  readonly memoryMb?: number;
  /** HAProxy threads of the distributor, 1–64. @default one per CPU the distributor has */
  readonly threads?: number;
  /**
   * Connections the distributor holds at once (HAProxy's `maxconn`), 1–250000, at most what its
   * memory holds. @default what its memory holds: `memoryMb` on docker, the instance type's on
   * aws (docs/configuration.md, "Capacity")
   */
  readonly maxConnections?: number;
}

/**
 * Not `timeouts.drain`: that bounds the distributor's own connections after a release step (its
 * previous workers); this bounds the wait for a replica's connections before the replica goes.
 */
export interface DrainArgs {
  /**
   * Before a replica is removed (a new image, fewer replicas), how long to wait for the
   * distributor's connections to it to end, 0s–24h. Waiting beyond `timeouts.drain` gains
   * nothing: the previous workers close their connections then. @default `timeouts.drain`
   */
  readonly timeout?: string;
}

/** Durations are strings with a unit: "500ms", "30s", "5m", "1h". */
export interface TimeoutArgs {
  /** Connecting to a server, 100ms–1m; a failed connection is retried on another server. @default "2s" */
  readonly connect?: string;
  /** How long a client may stay silent mid-request, 1s–1h. @default "30s" */
  readonly client?: string;
  /**
   * How long a server may take to start answering, 1s–1h. A request that runs out of it gets a
   * 504 and is not retried (it may have had effects). @default "30s"
   */
  readonly server?: string;
  /** Idle time of a WebSocket or a long stream before it is closed, 1s–24h. @default "1h" */
  readonly tunnel?: string;
  /**
   * After a release step, how long connections served by the previous config may run on (long
   * downloads, WebSockets) before they are closed, 1s–24h. @default "5m"
   */
  readonly drain?: string;
}

/**
 * A step that raises a color's share (the receiving color) first loads the new servers with the
 * running split, waits for the receiving color's servers to pass the distributor's health
 * checks, then shifts; with `bake`, it then watches that color's errors and puts the previous
 * config back above `maxErrorRate`. Either way a refused step fails `pulumi up` and the
 * running split stays as it was.
 */
export interface GateArgs {
  /** How long to wait for the receiving color's servers to be UP, 1s–15m. @default "2m" */
  readonly timeout?: string;
  /** How many must be UP: a count (2) or a percentage ("50%", rounded up). @default "100%" (all) */
  readonly minHealthy?: number | string;
  /** How long to watch the receiving color after the shift, 0s–30m; "0s" turns the bake off. @default "0s" */
  readonly bake?: string;
  /**
   * During the bake, the highest share of the receiving color's requests that may fail (5xx,
   * connection or response errors), in percent, 0–100 with two decimals. @default 5
   */
  readonly maxErrorRate?: number | string;
}

export interface HealthCheckArgs {
  /** Path of the check, starting with "/". @default "/" */
  readonly path?: string;
  /** Host header of the checks. @default the DNS name (aws with `dns`), else each server's host */
  readonly host?: string;
  /** Time between checks, 100ms–1h. @default "500ms" */
  readonly interval?: string;
  /** How long a check may take, 100ms–1m. @default "1s" */
  readonly timeout?: string;
  /** Status codes that pass: codes or ranges, comma-separated. @default "200-399" */
  readonly expectStatus?: string;
}

/** Where and how the `docker` target runs. */
export interface DockerTargetArgs {
  /**
   * An existing Docker network to join instead of creating one, e.g. another stack's network so
   * the distributor reaches its containers by name. @default a network of its own
   */
  readonly network?: pulumi.Input<string>;
}

/** How each setting is named in error messages: by argument, or by stack config key. */
export type SettingLabels = Record<SettingPath, string>;

/** The fields of a color the component provisions (the other form is `servers`). */
export const PROVISIONED_COLOR_FIELDS = ["image", "replicas", "port", "memoryMb"] as const;

/** Every setting, by its path in the args (`dns.*` stands for `aws.dns.*`), in the schema's order. */
export const SETTING_PATHS: readonly SettingPath[] = SETTINGS_SCHEMA.map((spec) => spec.path);

export type { SettingPath };

/** Settings whose values are secrets: an error names them and never quotes their value. */
export const SECRET_SETTING_PATHS: readonly SettingPath[] = SETTINGS_SCHEMA.filter((spec) => "secret" in spec && spec.secret).map((spec) => spec.path);

/** A label for every setting, e.g. its arg name or its stack config key. */
export function settingLabels(label: (path: SettingPath) => string): SettingLabels {
  return Object.fromEntries(SETTING_PATHS.map((path) => [path, label(path)])) as SettingLabels;
}

/** Settings named as component args: the path itself (the DNS settings live under `aws`). */
export const ARG_LABELS: SettingLabels = settingLabels((path) => (path.startsWith("dns.") ? `aws.${path}` : path));

/** Args with each value at its setting's path (`dns.*` lives under `aws.dns`), loosely typed. */
export function argsAtPaths(entries: Iterable<readonly [SettingPath, unknown]>): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [path, value] of entries) {
    const parts = (path.startsWith("dns.") ? `aws.${path}` : path).split(".");
    let node = args;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts[parts.length - 1]] = value;
  }
  return args;
}

/** A value known now (checked up front), as opposed to an Output or a promise (checked when it resolves). */
export function isPlain<T>(value: pulumi.Input<T> | undefined): value is T {
  return value !== undefined && !pulumi.Output.isInstance(value) && !(value instanceof Promise);
}

/**
 * Arg names of the previous release and the names that replaced them, which are the stack config
 * keys. Each old name still works, with a warning (docs/upgrading.md), until the next major release.
 */
export const DEPRECATED_ARGS = {
  weights: "weight",
  failoverPrimary: "failover.primary",
  distributorImage: "distributor.image",
  distributorMemoryMb: "distributor.memoryMb",
  distributorThreads: "distributor.threads",
  distributorMaxConnections: "distributor.maxConnections",
} as const;

type DeprecatedArg = keyof typeof DEPRECATED_ARGS;

/** The shape of the args: each object's allowed keys, derived from the setting paths. */
type ArgTree = { [key: string]: ArgTree | true };
const ARG_TREE: ArgTree = (() => {
  const tree: ArgTree = {};
  for (const path of SETTING_PATHS) {
    const parts = (path.startsWith("dns.") ? `aws.${path}` : path).split(".");
    let node = tree;
    parts.slice(0, -1).forEach((part) => (node = (node[part] ??= {}) as ArgTree));
    node[parts[parts.length - 1]] = true;
  }
  for (const old of Object.keys(DEPRECATED_ARGS)) tree[old] = old === "weights" ? { blue: true, green: true } : true;
  return tree;
})();


/** The deprecated arg names `args` uses, each with its new name. */
export function deprecatedArgsUsed(args: TrafficDistributorArgs): Array<[DeprecatedArg, string]> {
  return (Object.keys(DEPRECATED_ARGS) as DeprecatedArg[]).filter((old) => args[old] !== undefined).map((old) => [old, DEPRECATED_ARGS[old]]);
}

/**
 * Moves each deprecated arg to its new name; errors then name it as the user wrote it. Both names
 * at once is refused: which one is meant cannot be guessed.
 */
function withCurrentNames(args: TrafficDistributorArgs, labels: SettingLabels): { args: TrafficDistributorArgs; labels: SettingLabels } {
  const used = deprecatedArgsUsed(args);
  if (used.length === 0) return { args, labels };
  const { weights, failoverPrimary, distributorImage, distributorMemoryMb, distributorThreads, distributorMaxConnections, ...current } = args;
  const previous: Record<Exclude<DeprecatedArg, "weights">, unknown> = { failoverPrimary, distributorImage, distributorMemoryMb, distributorThreads, distributorMaxConnections };
  const renamed: Record<string, unknown> = { ...current, failover: { ...current.failover }, distributor: { ...current.distributor } };
  const relabeled: Record<string, string> = { ...labels };
  for (const [old, now] of used) {
    const [group, field] = now.split(".");
    const given = field === undefined ? current.weight : (current[group as "failover" | "distributor"] as Record<string, unknown> | undefined)?.[field];
    if (given !== undefined) {
      throw new SettingsError(`${old} and ${now} are both set: ${old} is the previous name of ${now}; keep ${now} only`);
    }
    if (old === "weights") {
      renamed.weight = weights;
      relabeled["weight.blue"] = "weights.blue";
      relabeled["weight.green"] = "weights.green";
    } else {
      (renamed[group] as Record<string, unknown>)[field] = previous[old];
      relabeled[now] = old;
    }
  }
  return { args: renamed as TrafficDistributorArgs, labels: relabeled as SettingLabels };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !pulumi.Output.isInstance(value) && !(value instanceof Promise);
}

/**
 * Rejects argument names the component does not read, at run time too: JavaScript callers
 * and args built from data get no compiler to catch `weigths` or `blue.imgae`.
 */
export function checkKnownArgs(args: unknown, tree: ArgTree = ARG_TREE, at = ""): void {
  const allowed = Object.keys(tree).filter((key) => at !== "" || !(key in DEPRECATED_ARGS));
  if (!isRecord(args)) {
    throw new SettingsError(`${at || "the args"} is ${args === null ? "null" : typeof args}: must be an object with ${allowed.join(", ")}`);
  }
  for (const [key, value] of Object.entries(args)) {
    const path = at ? `${at}.${key}` : key;
    const node = tree[key];
    if (node === undefined) {
      throw new SettingsError(`unknown argument ${path}: ${at ? `the arguments of ${at}` : "the arguments"} are ${allowed.join(", ")}`);
    }
    if (node !== true && value !== undefined) checkKnownArgs(value, node, path);
  }
}

function validateDns(dns: DnsArgs | undefined, labels: SettingLabels): DnsSettings | undefined {
  if (dns === undefined || (dns.zoneId === undefined && dns.name === undefined)) return undefined;
  if (dns.zoneId === undefined) {
    throw new SettingsError(
      `${labels["dns.name"]} is set but ${labels["dns.zoneId"]} is not: give the ID of the Route 53 hosted zone that holds the name`,
    );
  }
  if (dns.name === undefined) {
    throw new SettingsError(`${labels["dns.zoneId"]} is set but ${labels["dns.name"]} is not: give the record name, e.g. "app.example.com"`);
  }
  const name = parseDnsName(labels["dns.name"], dns.name);
  const aliases = parseList(labels["dns.aliases"], dns.aliases ?? [], 'DNS names, e.g. ["www"]', parseDnsName);
  checkUnique(labels["dns.aliases"], aliases);
  const clash = aliases.indexOf(name);
  if (clash >= 0) {
    throw new SettingsError(`${labels["dns.aliases"]}[${clash}] is ${labels["dns.name"]} itself: list only the other names`);
  }
  return {
    zoneId: isPlain(dns.zoneId) ? parseZoneId(labels["dns.zoneId"], dns.zoneId) : dns.zoneId,
    name,
    ttl: parseIntegerSetting("dns.ttl", labels["dns.ttl"], dns.ttl ?? DEFAULTS.dnsTtl),
    aliases,
    recordType: parseChoice(labels["dns.recordType"], dns.recordType ?? DEFAULTS.dnsRecordType, DNS_RECORD_TYPES),
    takeOver: parseBoolean(labels["dns.takeOver"], dns.takeOver ?? false),
  };
}

function validateAws(aws: AwsTargetArgs, labels: SettingLabels): AwsSettings {
  const subnet = (label: string, value: unknown) => parseAwsId(label, value, "subnet");
  const vpcId = isPlain(aws.vpcId) ? parseAwsId(labels["aws.vpcId"], aws.vpcId, "vpc") : aws.vpcId;
  let subnetIds = aws.subnetIds;
  if (isPlain(subnetIds)) {
    subnetIds = parseList(labels["aws.subnetIds"], subnetIds, 'subnet IDs, e.g. ["subnet-0123456789abcdef0"]', subnet);
    if (subnetIds.length === 0) throw new SettingsError(`${labels["aws.subnetIds"]} is empty: list at least one subnet ID`);
    checkUnique(labels["aws.subnetIds"], subnetIds);
  }
  const distributorSubnetId = isPlain(aws.distributorSubnetId)
    ? subnet(labels["aws.distributorSubnetId"], aws.distributorSubnetId)
    : aws.distributorSubnetId;
  // Security groups belong to a VPC: subnets without their VPC (or the reverse) cannot work.
  if (vpcId === undefined && (subnetIds !== undefined || distributorSubnetId !== undefined)) {
    const given = subnetIds !== undefined ? labels["aws.subnetIds"] : labels["aws.distributorSubnetId"];
    throw new SettingsError(`${given} is set but ${labels["aws.vpcId"]} is not: give the VPC the subnets belong to`);
  }
  if (vpcId !== undefined && subnetIds === undefined) {
    throw new SettingsError(
      `${labels["aws.vpcId"]} is set but ${labels["aws.subnetIds"]} is not: list the subnets of that VPC the instances go in`,
    );
  }
  const ingressCidrs = parseList(
    labels["aws.ingressCidrs"],
    aws.ingressCidrs ?? DEFAULTS.ingressCidrs,
    'CIDR blocks, e.g. ["0.0.0.0/0"]',
    parseCidr,
  );
  if (ingressCidrs.length === 0) {
    throw new SettingsError(`${labels["aws.ingressCidrs"]} is empty: list who may reach the distributor, e.g. ["0.0.0.0/0"]`);
  }
  checkUnique(labels["aws.ingressCidrs"], ingressCidrs);
  return {
    vpcId,
    subnetIds,
    distributorSubnetId,
    instanceType: parseInstanceType(labels["aws.instanceType"], aws.instanceType ?? DEFAULTS.instanceType),
    distributorInstanceType: parseInstanceType(
      labels["aws.distributorInstanceType"],
      aws.distributorInstanceType ?? DEFAULTS.instanceType,
    ),
    ami: aws.ami === undefined ? undefined : parseAwsId(labels["aws.ami"], aws.ami, "ami"),
    ingressCidrs,
    dns: validateDns(aws.dns, labels),
  };
}

function parseMemoryMb(label: string, value: unknown): number {
  return parseIntegerSetting("distributor.memoryMb", label, value);
}

function isExisting(color: ColorArgs | undefined): color is ExistingColorArgs {
  return color !== undefined && (color as ExistingColorArgs).servers !== undefined;
}

function validateColor(color: Color, args: ColorArgs | undefined, labels: SettingLabels): ColorPlan {
  if (isExisting(args)) {
    const provisioned = args as ProvisionedColorArgs;
    const extra = PROVISIONED_COLOR_FIELDS.find((k) => provisioned[k] !== undefined);
    if (extra) {
      throw new SettingsError(
        `${labels[`${color}.servers`]} and ${labels[`${color}.${extra}`]} are both set: ` +
          `a color is either existing servers or provisioned, not both`,
      );
    }
    // Plain lists are checked now; a list that arrives as an Output is checked when it resolves.
    if (isPlain(args.servers)) checkServerList(labels[`${color}.servers`], args.servers);
    return { kind: "existing", servers: args.servers };
  }
  const memoryMb = (args as ProvisionedColorArgs | undefined)?.memoryMb;
  return {
    kind: "provisioned",
    image: parseImage(labels[`${color}.image`], args?.image ?? DEFAULTS.image),
    replicas: parseReplicas(labels[`${color}.replicas`], args?.replicas ?? DEFAULTS.replicas),
    port: parsePort(labels[`${color}.port`], args?.port ?? DEFAULTS.appPort),
    ...(memoryMb === undefined ? {} : { memoryMb: parseMemoryMb(labels[`${color}.memoryMb`], memoryMb) }),
  };
}

/** A color's servers: valid, not empty, each listed once. */
export function checkServerList(label: string, value: unknown): ReturnType<typeof parseServerList> {
  const servers = parseServerList(label, value);
  checkUnique(label, servers, formatServer);
  return servers;
}

/** The same server in both colors would take traffic meant for either: a copy-paste slip. */
function checkColorsDistinct(colors: Record<Color, ColorPlan>, labels: SettingLabels): void {
  const { blue, green } = colors;
  if (blue.kind !== "existing" || green.kind !== "existing" || !isPlain(blue.servers) || !isPlain(green.servers)) return;
  const key = (s: ServerAddress) => formatServer(s);
  const blueServers = new Set(parseServerList(labels["blue.servers"], blue.servers).map(key));
  const shared = parseServerList(labels["green.servers"], green.servers).map(key).find((k) => blueServers.has(k));
  if (shared) {
    throw new SettingsError(
      `${labels["blue.servers"]} and ${labels["green.servers"]} both list ${JSON.stringify(shared)}: each server belongs to one color`,
    );
  }
}

function validateHealthCheck(args: HealthCheckArgs | undefined, labels: SettingLabels): HealthCheckSettings {
  const defaults = DEFAULTS.healthCheck;
  return {
    path: parseHealthCheckPath(labels["healthCheck.path"], args?.path ?? defaults.path),
    ...(args?.host === undefined ? {} : { host: parseDnsName(labels["healthCheck.host"], args.host) }),
    interval: parseDurationSetting("healthCheck.interval", labels["healthCheck.interval"], args?.interval ?? defaults.interval),
    timeout: parseDurationSetting("healthCheck.timeout", labels["healthCheck.timeout"], args?.timeout ?? defaults.timeout),
    expectStatus: parseExpectStatus(labels["healthCheck.expectStatus"], args?.expectStatus ?? defaults.expectStatus),
  };
}

function validateTimeouts(args: TimeoutArgs | undefined, labels: SettingLabels): Timeouts {
  const defaults = DEFAULTS.timeouts;
  return {
    connect: parseDurationSetting("timeouts.connect", labels["timeouts.connect"], args?.connect ?? defaults.connect),
    client: parseDurationSetting("timeouts.client", labels["timeouts.client"], args?.client ?? defaults.client),
    server: parseDurationSetting("timeouts.server", labels["timeouts.server"], args?.server ?? defaults.server),
    tunnel: parseDurationSetting("timeouts.tunnel", labels["timeouts.tunnel"], args?.tunnel ?? defaults.tunnel),
    drain: parseDurationSetting("timeouts.drain", labels["timeouts.drain"], args?.drain ?? defaults.drain),
  };
}

function validateGate(args: GateArgs | undefined, labels: SettingLabels): GateSettings {
  const defaults = DEFAULTS.gate;
  return {
    timeout: parseGateTimeout(labels["gate.timeout"], args?.timeout ?? defaults.timeout),
    minHealthy: parseMinHealthy(labels["gate.minHealthy"], args?.minHealthy ?? defaults.minHealthy),
    bake: parseBake(labels["gate.bake"], args?.bake ?? defaults.bake),
    maxErrorRateBasisPoints: parseErrorRate(labels["gate.maxErrorRate"], args?.maxErrorRate ?? defaults.maxErrorRate),
  };
}

function validateDocker(args: TrafficDistributorArgs, labels: SettingLabels): DockerSettings {
  const network = args.docker?.network;
  return {
    ...(network === undefined
      ? {}
      : { network: isPlain(network) ? parseDockerNetwork(labels["docker.network"], network) : network }),
    distributorMemoryMb: parseMemoryMb(labels["distributor.memoryMb"], args.distributor?.memoryMb ?? DEFAULTS.distributorMemoryMb),
  };
}

/**
 * Threads and connections. The memory the connections are sized from: the container's limit on
 * docker; on aws the instance type's, less what its system keeps.
 */
function validateCapacity(
  args: TrafficDistributorArgs,
  labels: SettingLabels,
  context: { docker?: DockerSettings; aws?: AwsSettings; tls: boolean; image: string },
): CapacitySettings {
  const threads =
    args.distributor?.threads === undefined ? undefined : parseIntegerSetting("distributor.threads", labels["distributor.threads"], args.distributor.threads);
  const given =
    args.distributor?.maxConnections === undefined
      ? undefined
      : parseIntegerSetting("distributor.maxConnections", labels["distributor.maxConnections"], args.distributor.maxConnections);
  let memory: DistributorMemory | undefined;
  if (context.docker) {
    const mib = context.docker.distributorMemoryMb;
    memory = { mib, source: `${labels["distributor.memoryMb"]} (${mib} MiB)` };
  } else if (context.aws) {
    const type = context.aws.distributorInstanceType;
    const total = instanceTypeMemoryMiB(type);
    if (total !== undefined) {
      const mib = total - AWS_SYSTEM_MIB;
      memory = { mib, source: `${labels["aws.distributorInstanceType"]} ${type} (${total} MiB, ${mib} MiB after the system's ${AWS_SYSTEM_MIB})` };
    }
  }
  const maxConnections = resolveMaxConnections(labels["distributor.maxConnections"], given, memory, connectionCost(context.image, context.tls));
  return { ...(threads === undefined ? {} : { threads }), maxConnections };
}

function validateDrainTimeout(args: TrafficDistributorArgs, labels: SettingLabels): number {
  const given = args.drain?.timeout;
  if (given === undefined) return parseDurationSetting("timeouts.drain", labels["timeouts.drain"], args.timeouts?.drain ?? DEFAULTS.timeouts.drain);
  return parseDurationSetting("drain.timeout", labels["drain.timeout"], given);
}

/**
 * Docker's own networks, which a distributor cannot join: `host` and `none` publish no ports,
 * and on `bridge` containers do not resolve each other's names.
 */
const PREDEFINED_DOCKER_NETWORKS: Readonly<Record<string, string>> = {
  host: "a container on the host network publishes no ports",
  none: "a container on it has no network",
  bridge: "on Docker's default bridge, containers do not resolve each other's names",
};

/** A Docker network name (Docker's own rule), so it never reaches a name or a shell malformed. */
function parseDockerNetwork(label: string, value: unknown): string {
  if (typeof value === "string" && Object.prototype.hasOwnProperty.call(PREDEFINED_DOCKER_NETWORKS, value)) {
    throw new SettingsError(
      `${label} is ${JSON.stringify(value)}: ${PREDEFINED_DOCKER_NETWORKS[value]}; name a user-defined network (\`docker network create\`), or leave it unset for one of the distributor's own`,
    );
  }
  if (typeof value === "string" && /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(value)) return value;
  throw new SettingsError(
    `${label} is ${describe(value)}: must be the name of an existing Docker network (letters, digits, "_", "." and "-")`,
  );
}

/**
 * The delivery, the release gate and the status probe speak to HAProxy's runtime API with the
 * perl of a Debian-based image: the Alpine variants have none.
 */
function parseDistributorImage(label: string, value: unknown): string {
  const image = parseImage(label, value);
  if (/(^|[-_.])alpine/.test(imageReference(image)!.tag ?? "")) {
    throw new SettingsError(
      `${label} is ${describe(value)}: an Alpine-based image has no perl, which the delivery and the release gate use to reach HAProxy's runtime API; use a Debian-based tag such as "${DEFAULTS.distributorImage}"`,
    );
  }
  return image;
}

/** Settings that only one target reads: set for the other, they would be silently ignored. */
function checkTargetSpecific(args: TrafficDistributorArgs, target: Target, labels: SettingLabels): void {
  const dockerOnly: Array<[unknown, string]> = [
    [args.docker?.network, labels["docker.network"]],
    [args.distributor?.memoryMb, labels["distributor.memoryMb"]],
    ...COLORS.map((c): [unknown, string] => [(args[c] as ProvisionedColorArgs | undefined)?.memoryMb, labels[`${c}.memoryMb`]]),
  ];
  for (const [value, label] of dockerOnly) {
    if (target !== "docker" && value !== undefined) {
      throw new SettingsError(`${label} is set but ${labels.target} is "${target}": it applies only to target "docker"`);
    }
  }
  if (target !== "aws" && args.aws !== undefined) {
    throw new SettingsError(`aws is set but ${labels.target} is "${target}": the aws settings apply only to target "aws"`);
  }
}

function validateListenPort(args: TrafficDistributorArgs, target: Target, labels: SettingLabels): { listenPort: number; statsPort: number } {
  const listenPort = parsePort(labels.listenPort, args.listenPort ?? DEFAULTS.listenPort[target]);
  if (REFUSED_LISTEN_PORTS.includes(listenPort)) {
    throw new SettingsError(
      `${labels.listenPort} is ${listenPort}: that is the port of ${listenPort === 22 ? "SSH" : "RDP"}; ` +
        "choose another, e.g. 80 or 8080",
    );
  }
  const statsPort = parsePort(labels.statsPort, args.statsPort ?? DEFAULTS.statsPort);
  if (listenPort === statsPort) {
    throw new SettingsError(`${labels.listenPort} and ${labels.statsPort} are both ${listenPort}: they must differ`);
  }
  return { listenPort, statsPort };
}

/** AWS's default quota of inbound rules per security group, counted apart for IPv4 and IPv6. */
export const MAX_SECURITY_GROUP_RULES = 60;

/**
 * The distributor's security group gets one inbound rule per port and address block: past the
 * quota, AWS refuses a rule halfway through an update. Refused here, before anything changes.
 */
function checkSecurityGroupRules(aws: AwsSettings, preview: PreviewSettings | undefined, tls: TlsSettings | undefined, labels: SettingLabels): void {
  const listenPorts = tls === undefined ? "the listen port" : "the listen and HTTPS ports";
  for (const family of [4, 6] as const) {
    const count = (blocks: readonly string[]) => blocks.filter((block) => (block.includes(":") ? 6 : 4) === family).length;
    const ingress = count(aws.ingressCidrs);
    const allowed = preview === undefined ? 0 : count(preview.allowedCidrs);
    const rules = ingress * (tls === undefined ? 1 : 2) + allowed * 2;
    if (rules > MAX_SECURITY_GROUP_RULES) {
      const parts = [`${labels["aws.ingressCidrs"]} (${ingress} IPv${family} blocks × ${listenPorts})`];
      if (allowed > 0) parts.push(`${labels["preview.allowedCidrs"]} (${allowed} IPv${family} blocks × 2 preview ports)`);
      throw new SettingsError(
        `${parts.join(" and ")} need ${rules} inbound rules in the distributor's security group: AWS allows ${MAX_SECURITY_GROUP_RULES} per address family by default; list fewer or wider blocks`,
      );
    }
  }
}

/**
 * Checks every argument and fills in the defaults. Throws a `SettingsError` naming the
 * offending setting (by `labels`) and what is allowed; registers nothing. Stack config and
 * component args both come through here.
 */
export function validateTrafficDistributorArgs(
  given: TrafficDistributorArgs,
  givenLabels: SettingLabels = ARG_LABELS,
): DistributorSettings {
  checkKnownArgs(given);
  const { args, labels } = withCurrentNames(given, givenLabels);
  const target = parseChoice(labels.target, args.target ?? DEFAULTS.target, TARGETS);
  checkTargetSpecific(args, target, labels);
  const weights = checkWeights(
    { blue: labels["weight.blue"], green: labels["weight.green"] },
    {
      blue: parseWeight(labels["weight.blue"], args.weight?.blue ?? DEFAULTS.weight),
      green: parseWeight(labels["weight.green"], args.weight?.green ?? DEFAULTS.weight),
    },
  );
  const routing = parseChoice(labels.routing, args.routing ?? DEFAULTS.routing, ROUTING_MODES);
  const namedPrimary =
    args.failover?.primary === undefined ? undefined : parseChoice(labels["failover.primary"], args.failover.primary, COLORS);
  if (namedPrimary !== undefined && routing !== "failover") {
    throw new SettingsError(
      `${labels["failover.primary"]} is set but ${labels.routing} is "${routing}": a primary color applies only to routing "failover"`,
    );
  }
  const failoverPrimary =
    routing === "failover"
      ? resolveFailoverPrimary(
          { primary: labels["failover.primary"], blue: labels["weight.blue"], green: labels["weight.green"] },
          weights,
          namedPrimary,
        )
      : undefined;
  const colors = { blue: validateColor("blue", args.blue, labels), green: validateColor("green", args.green, labels) };
  checkColorsDistinct(colors, labels);
  const statsPassword = args.statsPassword;
  const ports = validateListenPort(args, target, labels);
  const aws = target === "aws" ? validateAws(args.aws ?? {}, labels) : undefined;
  const dnsNames = aws?.dns ? [aws.dns.name, ...aws.dns.aliases].filter((name) => name.includes(".")) : [];
  const tls = validateTls(args.tls, { target, ...ports, dnsNames, labels, isPlain: (value) => isPlain(value as pulumi.Input<unknown>) });
  const preview = validatePreview(
    args.preview,
    {
      enabled: labels["preview.enabled"],
      bluePort: labels["preview.bluePort"],
      greenPort: labels["preview.greenPort"],
      allowedCidrs: labels["preview.allowedCidrs"],
      listenPort: labels.listenPort,
      statsPort: labels.statsPort,
      tlsPort: labels["tls.port"],
    },
    { ...ports, ...(tls === undefined ? {} : { tlsPort: tls.port }) },
  );
  if (aws !== undefined) checkSecurityGroupRules(aws, preview, tls, labels);
  const checked = {
    healthCheck: validateHealthCheck(args.healthCheck, labels),
    timeouts: validateTimeouts(args.timeouts, labels),
    gate: validateGate(args.gate, labels),
    accessLog: parseBoolean(labels.accessLog, args.accessLog ?? DEFAULTS.accessLog),
    drainTimeout: validateDrainTimeout(args, labels),
    distributorImage: parseDistributorImage(labels["distributor.image"], args.distributor?.image ?? DEFAULTS.distributorImage),
    docker: target === "docker" ? validateDocker(args, labels) : undefined,
  };
  const capacity = validateCapacity(args, labels, { docker: checked.docker, aws, tls: tls !== undefined, image: checked.distributorImage });
  // Last, so that a wrong value is reported before a missing one.
  if (statsPassword === undefined) {
    throw new SettingsError(
      `${labels.statsPassword} is not set: the stats page and /metrics answer every container on the distributor's network, ` +
        "so they always ask for a password: 8 to 128 printable ASCII characters without spaces or single quotes, given as a secret " +
        "(stack config: `pulumi config set --secret statsPassword <password>`; `npm run up` generates one)",
    );
  }
  return {
    target,
    weights,
    routing,
    failoverPrimary,
    colors,
    ...checked,
    capacity,
    ...ports,
    ...(preview === undefined ? {} : { preview }),
    // A password known now is checked now; a secret Output is checked when it resolves.
    statsPassword: isPlain(statsPassword) ? parseStatsPassword(labels.statsPassword, statsPassword) : statsPassword,
    aws,
    ...(tls === undefined ? {} : { tls }),
  };
}
