import * as pulumi from "@pulumi/pulumi";
import {
  Color,
  COLORS,
  ColorPlan,
  DEFAULTS,
  DistributorSettings,
  RoutingMode,
  ROUTING_MODES,
  Target,
  TARGETS,
  checkWeights,
  parseChoice,
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

export interface TrafficDistributorArgs {
  /** Where to run: only `docker` (the local Docker engine) for now. @default "docker" */
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
  /** Public port of the distributor on the Docker host. @default 8080 */
  readonly listenPort?: number;
  /** Port of the HAProxy stats page, published on the host's loopback only. @default 8404 */
  readonly statsPort?: number;
  /** When set, the stats page also asks for user `admin` and this password (keep it a secret). */
  readonly statsPassword?: pulumi.Input<string>;
  /** HAProxy image of the distributor. @default "haproxy:2.6.12" */
  readonly distributorImage?: string;
}

/** How each setting is named in error messages: by argument, or by stack config key. */
export type SettingLabels = Record<SettingPath, string>;

export type SettingPath =
  | "target"
  | "weights.blue"
  | "weights.green"
  | "routing"
  | "failoverPrimary"
  | `${Color}.image`
  | `${Color}.replicas`
  | `${Color}.port`
  | `${Color}.servers`
  | "healthCheckPath"
  | "listenPort"
  | "statsPort"
  | "statsPassword"
  | "distributorImage";

export const ARG_LABELS: SettingLabels = {
  target: "target",
  "weights.blue": "weights.blue",
  "weights.green": "weights.green",
  routing: "routing",
  failoverPrimary: "failoverPrimary",
  "blue.image": "blue.image",
  "blue.replicas": "blue.replicas",
  "blue.port": "blue.port",
  "blue.servers": "blue.servers",
  "green.image": "green.image",
  "green.replicas": "green.replicas",
  "green.port": "green.port",
  "green.servers": "green.servers",
  healthCheckPath: "healthCheckPath",
  listenPort: "listenPort",
  statsPort: "statsPort",
  statsPassword: "statsPassword",
  distributorImage: "distributorImage",
};

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
    const deferred = pulumi.Output.isInstance(args.servers) || args.servers instanceof Promise;
    if (!deferred) {
      const servers = parseServerList(labels[`${color}.servers`], args.servers);
      if (servers.length === 0) {
        throw new SettingsError(`${labels[`${color}.servers`]} is empty: list at least one "host:port"`);
      }
    }
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
  };
}
