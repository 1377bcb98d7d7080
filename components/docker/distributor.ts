import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { CONTAINER_CONFIG_PATH, CONTAINER_PLACEMENT, DEFAULT_HEALTH_CHECK, renderBootstrapConfig } from "../haproxyConfig";
import { CERTIFICATE_FILE_NAME, CONTAINER_TLS_PLACEMENT } from "../tlsListener";
import { DEFAULT_GATE, deliverySeconds } from "../releaseGate";
import { deliveryPlan, deliveryPlanEnvironment } from "../deliveryPlan";
import { Color, COLORS, GateSettings, HealthCheckSettings } from "../settings";
import { LOG_ROTATION, NO_NEW_PRIVILEGES } from "./containerPolicy";

import { DELIVER_CERTIFICATE_SCRIPT, DELIVER_CONFIG_SCRIPT } from "./scripts";
export { DELIVER_CERTIFICATE_SCRIPT, DELIVER_CONFIG_SCRIPT };

/** HTTPS of the Docker distributor. */
export interface DistributorTlsArgs {
  /** Host port of HTTPS, published on all interfaces. */
  readonly port: number;
  /** The certificate file HAProxy loads: the chain, then the key (a secret). */
  readonly certificateFile: pulumi.Input<string>;
  /** Keep a certificate already in the container (the ACME client's) over this one. */
  readonly keepExisting: boolean;
  /**
   * A named volume mounted at HAProxy's state directory (admin socket, certificates), shared
   * with the ACME client's container; adding it replaces the container once. @default none
   */
  readonly stateVolume?: pulumi.Input<string>;
}

export interface DistributorArgs {
  /** Docker network shared with the environments. */
  readonly networkName: pulumi.Input<string>;
  /** The rendered HAProxy config to serve. */
  readonly config: pulumi.Input<string>;
  /** HAProxy image, e.g. "haproxy:3.4.7". */
  readonly image: string;
  /** Host port for traffic, published on all interfaces. */
  readonly listenPort: number;
  /** Host port of the stats page, published on 127.0.0.1 only. */
  readonly statsPort: number;
  /** Memory limit of the container in MiB; changes in place. @default no limit */
  readonly memoryMb?: number;
  /** HTTPS; publishing its port replaces the container once, when HTTPS is turned on. */
  readonly tls?: DistributorTlsArgs;
  /** The release gate the delivery applies: the delivery's timeout allows for it. @default DEFAULT_GATE */
  readonly gate?: GateSettings;
  /** The replicas' health checks: the gate waits for checks that ran after the step began. @default DEFAULT_HEALTH_CHECK */
  readonly healthCheck?: HealthCheckSettings;
  /**
   * Host ports of the colors' previews, published on every IPv4 interface (the config admits
   * only the allowed sources). Turning previews on or off replaces the container. @default none
   */
  readonly previewPorts?: Readonly<Record<Color, number>>;
}

/**
 * The HAProxy container in front of both colors. Its own inputs never depend on weights,
 * routing or servers: the config is delivered to the running container by a command that
 * validates it (`haproxy -c`) and reloads gracefully, so a release step replaces nothing.
 */
export class Distributor extends pulumi.ComponentResource {
  public readonly container: docker.Container;
  /** The config-delivery step: the only resource a weight change updates. */
  public readonly configDelivery: command.local.Command;
  public readonly containerName: pulumi.Output<string>;
  /** Installs the certificate file before the config that loads it (with `tls`). */
  public readonly certificateDelivery?: command.local.Command;
  /** What the delivery printed: the reload confirmation. */
  public readonly deliveryReport: pulumi.Output<string>;

  constructor(name: string, args: DistributorArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("traffic-distributor:docker:Distributor", name, {}, opts);

    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });

    this.container = new docker.Container(
      name,
      {
        name,
        image: image.imageId,
        networksAdvanced: [{ name: args.networkName }],
        ports: [
          { internal: CONTAINER_PLACEMENT.listenPort, external: args.listenPort },
          { internal: CONTAINER_PLACEMENT.statsPort!, external: args.statsPort, ip: "127.0.0.1" },
          ...(args.tls ? [{ internal: CONTAINER_TLS_PLACEMENT.tlsPort, external: args.tls.port }] : []),
          ...(args.previewPorts === undefined
            ? []
            : // IPv4 alone: Docker's userland proxy would pass IPv6 clients on from the network's
              // gateway, an address inside the allowed private ranges.
              COLORS.map((color) => ({ internal: CONTAINER_PLACEMENT.previewPorts![color], external: args.previewPorts![color], ip: "0.0.0.0" }))),
        ],
        // Starts on a fixed placeholder config; the real one arrives through configDelivery.
        uploads: [{ file: CONTAINER_CONFIG_PATH, content: renderBootstrapConfig() }],
        // An empty volume takes the image's directory (owner included) when first mounted.
        ...(args.tls?.stateVolume === undefined
          ? {}
          : { volumes: [{ volumeName: args.tls.stateVolume, containerPath: CONTAINER_PLACEMENT.runtimeDir }] }),
        restart: "unless-stopped",
        labels: [{ label: "traffic-distributor.role", value: "distributor" }],
        // HAProxy runs unprivileged on ports above 1024: no capability, no privilege gain. The
        // root filesystem stays writable: the provider uploads by extracting at "/", which
        // Docker refuses on a read-only one, and docker restart keeps the delivered config.
        capabilities: { drops: ["ALL"] },
        securityOpts: [NO_NEW_PRIVILEGES],
        ...LOG_ROTATION,
        memory: args.memoryMb,
      },
      // The published port cannot be held by two containers: a replacement (a new HAProxy
      // image) must remove the old container first. Weight changes never replace it.
      { parent: this, deleteBeforeReplace: true },
    );

    // The certificate goes in like the config, not as an upload: a changed upload replaces the
    // container, and the key stays a secret (stdin of a secret input is kept encrypted in state).
    this.certificateDelivery = args.tls
      ? new command.local.Command(
          `${name}-certificate`,
          {
            create: DELIVER_CERTIFICATE_SCRIPT,
            environment: {
              CONTAINER: this.container.id,
              CERTIFICATE_DIR: CONTAINER_TLS_PLACEMENT.certificateDir,
              CERTIFICATE_FILE: CERTIFICATE_FILE_NAME,
              KEEP_EXISTING: args.tls.keepExisting ? "1" : "",
            },
            stdin: pulumi.secret(args.tls.certificateFile),
          },
          { parent: this, dependsOn: [this.container] },
        )
      : undefined;

    const deliveryTimeout = `${deliverySeconds(args.gate ?? DEFAULT_GATE, args.healthCheck ?? DEFAULT_HEALTH_CHECK)}s`;
    this.configDelivery = new command.local.Command(
      `${name}-config`,
      {
        create: DELIVER_CONFIG_SCRIPT,
        // The container ID, not its name: a replaced container gets the config delivered again.
        // The plan (the servers' weights) rides along as explicit parameters.
        // Server names and weights, no secret: unwrapped from the config's secrecy.
        environment: pulumi
          .all([this.container.id, pulumi.unsecret(pulumi.output(args.config).apply((config) => deliveryPlanEnvironment(deliveryPlan(config))))])
          .apply(([container, plan]) => ({ CONTAINER: container, CONFIG_PATH: CONTAINER_CONFIG_PATH, ...plan })),
        stdin: args.config,
      },
      // A gated step waits for the checks and the bake before it ends.
      {
        parent: this,
        dependsOn: [this.container, ...(this.certificateDelivery ? [this.certificateDelivery] : [])],
        customTimeouts: { create: deliveryTimeout, update: deliveryTimeout },
      },
    );

    this.containerName = this.container.name;
    this.deliveryReport = this.configDelivery.stdout;
    this.registerOutputs({ containerName: this.containerName, deliveryReport: this.deliveryReport });
  }
}
