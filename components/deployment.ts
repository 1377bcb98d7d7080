// What every target shares: the contract between the TrafficDistributor component and the
// code that builds its resources on Docker or on AWS.
import * as pulumi from "@pulumi/pulumi";
import { Color, COLORS, DistributorSettings, ProvisionedColor, ServerAddress } from "./settings";

/** An environment of either target: a component whose servers feed the distributor. */
export interface EnvironmentLike extends pulumi.ComponentResource {
  readonly servers: pulumi.Output<ServerAddress[]>;
}

export interface DeploymentContext {
  /** The component's name: every child's name derives from it. */
  readonly name: string;
  readonly settings: DistributorSettings;
  /** The component, parent of every child. */
  readonly parent: pulumi.Resource;
  /** The servers of a color that is not provisioned, checked when they resolve. */
  readonly existingServers: (color: Color, servers: pulumi.Input<readonly string[]>) => pulumi.Output<ServerAddress[]>;
  /** The certificate file HAProxy loads (the chain, then the key; a secret), with HTTPS. */
  readonly tlsCertificate?: { readonly file: pulumi.Output<string>; readonly keepExisting: boolean };
  /** The HAProxy config for the servers of both colors (a secret when it holds a password). */
  readonly renderConfig: (servers: Record<Color, pulumi.Output<ServerAddress[]>>) => pulumi.Output<string>;
}

export interface Deployment<E extends EnvironmentLike = EnvironmentLike, D extends pulumi.ComponentResource = pulumi.ComponentResource> {
  readonly environments: Partial<Record<Color, E>>;
  readonly servers: Record<Color, pulumi.Output<ServerAddress[]>>;
  readonly config: pulumi.Output<string>;
  readonly distributor: D;
  /** The distributor's container name (docker) or instance ID (aws). */
  readonly distributorId: pulumi.Output<string>;
  /** Host name or address clients connect to. */
  readonly publicAddress: pulumi.Output<string>;
  /** The full name of the DNS record, or undefined: the public address is the Elastic IP. */
  readonly dnsName?: pulumi.Output<string | undefined>;
  /** The Docker network of the distributor and the apps (docker). */
  readonly networkName?: pulumi.Output<string>;
  /** The distributor's public IP (aws). */
  readonly publicIp?: pulumi.Output<string>;
  /** The distributor's security group (aws): let it in to existing servers' groups. */
  readonly securityGroupId?: pulumi.Output<string>;
  /** A command that forwards the stats port of a remote distributor to this machine (aws). */
  readonly statsTunnelCommand?: pulumi.Output<string>;
}

/** Provisions each color that needs it with `create`; takes the others' servers as given. */
export function colorsOf<E extends EnvironmentLike>(
  context: DeploymentContext,
  create: (color: Color, plan: ProvisionedColor) => E,
): { environments: Partial<Record<Color, E>>; servers: Record<Color, pulumi.Output<ServerAddress[]>> } {
  const environments: Partial<Record<Color, E>> = {};
  const servers = {} as Record<Color, pulumi.Output<ServerAddress[]>>;
  for (const color of COLORS) {
    const plan = context.settings.colors[color];
    if (plan.kind === "provisioned") {
      const environment = create(color, plan);
      environments[color] = environment;
      servers[color] = environment.servers;
    } else {
      servers[color] = context.existingServers(color, plan.servers);
    }
  }
  return { environments, servers };
}
