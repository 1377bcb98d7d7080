import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { replicaContainerName } from "../naming";
import { Color, ServerAddress } from "../settings";
import { LOG_ROTATION, NO_NEW_PRIVILEGES } from "./containerPolicy";

export interface EnvironmentArgs {
  /** Which color this is; recorded as a container label. */
  readonly color: Color;
  /** Image reference of the app, e.g. "myapp:2.0". */
  readonly image: string;
  /** Number of containers. */
  readonly replicas: number;
  /** Port the app listens on inside its containers. */
  readonly port: number;
  /** Docker network shared with the distributor; the only way to reach the app. */
  readonly networkName: pulumi.Input<string>;
  /** Memory limit of each container in MiB; changes in place. @default no limit */
  readonly memoryMb?: number;
  /** Before a replica is removed, wait until this distributor holds no connection to it, at most `timeoutMs`. */
  readonly drain?: { readonly distributorContainer: string; readonly timeoutMs: number };
}

/** Waits before a replica's removal until the distributor's connections to it have ended. */
export const DRAIN_REPLICA_SCRIPT = fs.readFileSync(path.join(__dirname, "drain-replica.sh"), "utf8");

/**
 * One color of the app on Docker: `replicas` containers of one image on a private network.
 * No port is published on the host: only the distributor reaches them.
 */
export class Environment extends pulumi.ComponentResource {
  /** The containers, as the distributor addresses them (container name, app port). */
  public readonly servers: pulumi.Output<ServerAddress[]>;
  /** Names of the replica containers. */
  public readonly containerNames: pulumi.Output<string[]>;
  public readonly containers: docker.Container[];
  /** One per replica: the wait before its removal (`drain`). */
  public readonly drains: command.local.Command[];

  constructor(name: string, args: EnvironmentArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("traffic-distributor:docker:Environment", name, {}, opts);

    // keepLocally: another stack or color may run the same image.
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });

    this.containers = Array.from(
      { length: args.replicas },
      (_, i) =>
        new docker.Container(
          `${name}-${i}`,
          {
            name: replicaContainerName(name, i, args.image),
            // The image ID, not its name: a name makes the provider see a change on every update.
            image: image.imageId,
            networksAdvanced: [{ name: args.networkName }],
            restart: "unless-stopped",
            // On removal (a new image), stop with SIGTERM and give requests in flight time to finish.
            destroyGraceSeconds: 30,
            labels: [
              { label: "traffic-distributor.color", value: args.color },
              { label: "traffic-distributor.environment", value: name },
            ],
            // Capabilities stay Docker's defaults: an arbitrary app image may need them (binding
            // a port below 1024 as root, changing user at start). Privilege gain is off.
            securityOpts: [NO_NEW_PRIVILEGES],
            ...LOG_ROTATION,
            memory: args.memoryMb,
          },
          { parent: this },
        ),
    );

    // Deleted before its container (it depends on it), and replaced with it (triggers): on a
    // new image, Pulumi removes the old replica at the end of the step, after this has waited.
    const drain = args.drain;
    this.drains = drain
      ? this.containers.map(
          (container, i) =>
            new command.local.Command(
              `${name}-${i}-drain`,
              {
                delete: DRAIN_REPLICA_SCRIPT,
                environment: {
                  DISTRIBUTOR: drain.distributorContainer,
                  REPLICA: container.name,
                  PORT: String(args.port),
                  DRAIN_TIMEOUT_SECONDS: String(Math.ceil(drain.timeoutMs / 1000)),
                },
                // The ID changes with every replacement, the name with every new image.
                triggers: [container.id, container.name],
              },
              { parent: this, dependsOn: [container] },
            ),
        )
      : [];

    this.containerNames = pulumi.all(this.containers.map((c) => c.name));
    this.servers = this.containerNames.apply((names) => names.map((host) => ({ host, port: args.port })));
    this.registerOutputs({ servers: this.servers, containerNames: this.containerNames });
  }
}
