import * as pulumi from "@pulumi/pulumi";
import {
  AwsSettings,
  Color,
  COLORS,
  ColorPlan,
  DEFAULTS,
  DistributorSettings,
  DNS_RECORD_TYPES,
  DnsRecordType,
  DnsSettings,
  RoutingMode,
  ROUTING_MODES,
  Target,
  TARGETS,
  checkWeights,
  parseAwsId,
  parseBoolean,
  parseChoice,
  parseCidr,
  parseDnsName,
  parseInstanceType,
  parseInteger,
  parseList,
  parseZoneId,
  parseHealthCheckPath,
  parseImage,
  parsePort,
  parseReplicas,
  parseServerList,
  parseWeight,
  resolveFailoverPrimary,
  SettingsError,
} from "./settings";

/** A color the component provisions: `replicas` containers of `image`. */
export interface ProvisionedColorArgs {
  /** Image reference of the app. @default "traefik/whoami:v1.10.1" */
  readonly image?: string;
  /** Number of containers, 1–20. @default 2 */
  readonly replicas?: number;
  /** Port the app listens on inside its container. @default 80 */
  readonly port?: number;
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
  readonly weights?: { readonly blue: number; readonly green: number };
  /** How requests are split. @default "round-robin" */
  readonly routing?: RoutingMode;
  /** With `routing: "failover"`: the color that serves while healthy. @default the higher weight */
  readonly failoverPrimary?: Color;
  /** The blue color. @default a provisioned demo app */
  readonly blue?: ColorArgs;
  /** The green color. @default a provisioned demo app */
  readonly green?: ColorArgs;
  /** Path of the active HTTP health check sent to every server. @default "/" */
  readonly healthCheckPath?: string;
  /** Public port of the distributor (on the Docker host, or the Elastic IP). @default 8080 */
  readonly listenPort?: number;
  /** Port of the HAProxy stats page, on the distributor host's loopback only. @default 8404 */
  readonly statsPort?: number;
  /** When set, the stats page also asks for user `admin` and this password (keep it a secret). */
  readonly statsPassword?: pulumi.Input<string>;
  /** HAProxy image of the distributor. @default "haproxy:3.2.26" */
  readonly distributorImage?: string;
  /** Settings of the `aws` target; only allowed with `target: "aws"`. */
  readonly aws?: AwsTargetArgs;
}

/** How each setting is named in error messages: by argument, or by stack config key. */
export type SettingLabels = Record<SettingPath, string>;

/** Every setting, by its path in the args (`dns.*` stands for `aws.dns.*`). */
export const SETTING_PATHS = [
  "target",
  "weights.blue",
  "weights.green",
  "routing",
  "failoverPrimary",
  ...COLORS.flatMap((color) => (["image", "replicas", "port", "servers"] as const).map((field) => `${color}.${field}` as const)),
  "healthCheckPath",
  "listenPort",
  "statsPort",
  "statsPassword",
  "distributorImage",
  ...(["vpcId", "subnetIds", "distributorSubnetId", "instanceType", "distributorInstanceType", "ami", "ingressCidrs"] as const).map(
    (field) => `aws.${field}` as const,
  ),
  ...(["zoneId", "name", "ttl", "aliases", "recordType", "takeOver"] as const).map((field) => `dns.${field}` as const),
] as const;

export type SettingPath = (typeof SETTING_PATHS)[number];

/** A label for every setting, e.g. its arg name or its stack config key. */
export function settingLabels(label: (path: SettingPath) => string): SettingLabels {
  return Object.fromEntries(SETTING_PATHS.map((path) => [path, label(path)])) as SettingLabels;
}

/** Settings named as component args: the path itself (the DNS settings live under `aws`). */
export const ARG_LABELS: SettingLabels = settingLabels((path) => (path.startsWith("dns.") ? `aws.${path}` : path));

/** A value known now (checked up front), as opposed to an Output or a promise (checked when it resolves). */
export function isPlain<T>(value: pulumi.Input<T> | undefined): value is T {
  return value !== undefined && !pulumi.Output.isInstance(value) && !(value instanceof Promise);
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
  return {
    zoneId: isPlain(dns.zoneId) ? parseZoneId(labels["dns.zoneId"], dns.zoneId) : dns.zoneId,
    name: parseDnsName(labels["dns.name"], dns.name),
    ttl: parseInteger(labels["dns.ttl"], dns.ttl ?? DEFAULTS.dnsTtl, 0, 86400),
    aliases: parseList(labels["dns.aliases"], dns.aliases ?? [], 'DNS names, e.g. ["www"]', parseDnsName),
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
    ingressCidrs: parseList(
      labels["aws.ingressCidrs"],
      aws.ingressCidrs ?? DEFAULTS.ingressCidrs,
      'CIDR blocks, e.g. ["0.0.0.0/0"]',
      parseCidr,
    ),
    dns: validateDns(aws.dns, labels),
  };
}

function isExisting(color: ColorArgs | undefined): color is ExistingColorArgs {
  return color !== undefined && (color as ExistingColorArgs).servers !== undefined;
}

function validateColor(color: Color, args: ColorArgs | undefined, labels: SettingLabels): ColorPlan {
  if (isExisting(args)) {
    const provisioned = args as ProvisionedColorArgs;
    const extra = (["image", "replicas", "port"] as const).find((k) => provisioned[k] !== undefined);
    if (extra) {
      throw new SettingsError(
        `${labels[`${color}.servers`]} and ${labels[`${color}.${extra}`]} are both set: ` +
          `a color is either existing servers or provisioned, not both`,
      );
    }
    // Plain lists are checked now; a list that arrives as an Output is checked when it resolves.
    if (isPlain(args.servers)) parseServerList(labels[`${color}.servers`], args.servers);
    return { kind: "existing", servers: args.servers };
  }
  return {
    kind: "provisioned",
    image: parseImage(labels[`${color}.image`], args?.image ?? DEFAULTS.image),
    replicas: parseReplicas(labels[`${color}.replicas`], args?.replicas ?? DEFAULTS.replicas),
    port: parsePort(labels[`${color}.port`], args?.port ?? DEFAULTS.appPort),
  };
}

/**
 * Checks every argument and fills in the defaults. Throws a `SettingsError` naming the
 * offending setting (by `labels`) and what is allowed; registers nothing.
 */
export function validateTrafficDistributorArgs(
  args: TrafficDistributorArgs,
  labels: SettingLabels = ARG_LABELS,
): DistributorSettings {
  const target = parseChoice(labels.target, args.target ?? DEFAULTS.target, TARGETS);
  const weights = checkWeights(
    { blue: labels["weights.blue"], green: labels["weights.green"] },
    {
      blue: parseWeight(labels["weights.blue"], args.weights?.blue ?? DEFAULTS.weight),
      green: parseWeight(labels["weights.green"], args.weights?.green ?? DEFAULTS.weight),
    },
  );
  const routing = parseChoice(labels.routing, args.routing ?? DEFAULTS.routing, ROUTING_MODES);
  const namedPrimary =
    args.failoverPrimary === undefined ? undefined : parseChoice(labels.failoverPrimary, args.failoverPrimary, COLORS);
  const failoverPrimary =
    routing === "failover"
      ? resolveFailoverPrimary(
          { primary: labels.failoverPrimary, blue: labels["weights.blue"], green: labels["weights.green"] },
          weights,
          namedPrimary,
        )
      : undefined;
  const listenPort = parsePort(labels.listenPort, args.listenPort ?? DEFAULTS.listenPort);
  const statsPort = parsePort(labels.statsPort, args.statsPort ?? DEFAULTS.statsPort);
  if (listenPort === statsPort) {
    throw new SettingsError(`${labels.listenPort} and ${labels.statsPort} are both ${listenPort}: they must differ`);
  }
  if (target !== "aws" && args.aws !== undefined) {
    throw new SettingsError(`aws is set but ${labels.target} is "${target}": the aws settings apply only to target "aws"`);
  }
  return {
    target,
    weights,
    routing,
    failoverPrimary,
    colors: { blue: validateColor("blue", args.blue, labels), green: validateColor("green", args.green, labels) },
    healthCheckPath: parseHealthCheckPath(labels.healthCheckPath, args.healthCheckPath ?? DEFAULTS.healthCheckPath),
    listenPort,
    statsPort,
    distributorImage: parseImage(labels.distributorImage, args.distributorImage ?? DEFAULTS.distributorImage),
    aws: target === "aws" ? validateAws(args.aws ?? {}, labels) : undefined,
  };
}
