import * as pulumi from "@pulumi/pulumi";
import * as awsTarget from "./aws";
import { Deployment, DeploymentContext } from "./deployment";
import * as dockerTarget from "./docker";
import { renderHaproxyConfig } from "./haproxyConfig";
import { Color, parseServerList, RoutingMode, ServerAddress, weightPercentages } from "./settings";
import { ARG_LABELS, TrafficDistributorArgs, validateTrafficDistributorArgs } from "./trafficDistributorArgs";

/**
 * Blue-green traffic distribution: two colors of an app behind an HAProxy that splits HTTP
 * traffic between them by weight, on the local Docker engine or on AWS. Each color is
 * provisioned (containers or instances running an image) or existing (`host:port` servers).
 * Changing weights or routing re-renders the HAProxy config and reloads it in place; no
 * container or instance is replaced and no request is dropped.
 */
export class TrafficDistributor extends pulumi.ComponentResource {
  /** Public URL of the distributor. */
  public readonly url: pulumi.Output<string>;
  /** Host name or address clients connect to: "localhost", the DNS name or the Elastic IP. */
  public readonly publicAddress: pulumi.Output<string>;
  /** The distributor's public IP (aws); undefined on docker. */
  public readonly publicIp: pulumi.Output<string | undefined>;
  /** The full name of the DNS record (aws with `dns`); undefined otherwise. */
  public readonly dnsName: pulumi.Output<string | undefined>;
  /** The distributor's security group (aws); undefined on docker. Existing servers admit it. */
  public readonly securityGroupId: pulumi.Output<string | undefined>;
  /** Share of new traffic per color, in percent. */
  public readonly weights: pulumi.Output<{ blue: number; green: number }>;
  /** The routing mode in force. */
  public readonly routing: pulumi.Output<RoutingMode>;
  /** HAProxy stats page, on the distributor host's loopback (aws: through `statsTunnelCommand`). */
  public readonly statsUrl: pulumi.Output<string>;
  /** Forwards the stats port of the AWS distributor to this machine; undefined on docker. */
  public readonly statsTunnelCommand: pulumi.Output<string | undefined>;
  /** The servers of each color, as the distributor addresses them. */
  public readonly servers: pulumi.Output<Record<Color, ServerAddress[]>>;
  /** The HAProxy config deployed (a secret when it holds the stats password). */
  public readonly haproxyConfig: pulumi.Output<string>;
  /** The distributor's container name (docker) or instance ID (aws). */
  public readonly distributorId: pulumi.Output<string>;
  /** The provisioned environments, by color (absent for existing colors). */
  public readonly environments: Partial<Record<Color, dockerTarget.Environment | awsTarget.Environment>>;
  public readonly distributor: dockerTarget.Distributor | awsTarget.Distributor;

  constructor(name: string, args: TrafficDistributorArgs = {}, opts: pulumi.ComponentResourceOptions = {}) {
    // Validate before anything is registered: a bad setting fails preview and touches nothing.
    const settings = validateTrafficDistributorArgs(args);
    super("traffic-distributor:index:TrafficDistributor", name, {}, opts);

    const context: DeploymentContext = {
      name,
      settings,
      parent: this,
      existingServers: (color, servers) => this.checkedServers(color, servers),
      // Output.all carries the password's secret bit over to the config.
      renderConfig: (servers) =>
        pulumi.all([servers.blue, servers.green, args.statsPassword]).apply(([blue, green, statsPassword]) =>
          renderHaproxyConfig({
            weights: settings.weights,
            routing: settings.routing,
            failoverPrimary: settings.failoverPrimary,
            servers: { blue, green },
            healthCheckPath: settings.healthCheckPath,
            statsPassword,
          }),
        ),
    };
    const deployment: Deployment<dockerTarget.Environment | awsTarget.Environment, dockerTarget.Distributor | awsTarget.Distributor> =
      settings.target === "aws" ? awsTarget.deployOnAws(context) : dockerTarget.deployOnDocker(context);

    this.environments = deployment.environments;
    this.distributor = deployment.distributor;
    this.haproxyConfig = deployment.config;
    this.distributorId = deployment.distributorId;
    this.publicAddress = deployment.publicAddress;
    this.publicIp = deployment.publicIp ?? pulumi.output(undefined);
    this.dnsName = deployment.dnsName ?? pulumi.output(undefined);
    this.securityGroupId = deployment.securityGroupId ?? pulumi.output(undefined);
    const port = settings.listenPort === 80 ? "" : `:${settings.listenPort}`;
    this.url = pulumi.interpolate`http://${this.publicAddress}${port}/`;
    this.statsUrl = pulumi.output(`http://127.0.0.1:${settings.statsPort}/stats`);
    this.statsTunnelCommand = deployment.statsTunnelCommand ?? pulumi.output(undefined);
    this.weights = pulumi.output(weightPercentages(settings.weights));
    this.routing = pulumi.output(settings.routing);
    this.servers = pulumi.all([deployment.servers.blue, deployment.servers.green]).apply(([blue, green]) => ({ blue, green }));

    this.registerOutputs({
      url: this.url,
      publicAddress: this.publicAddress,
      publicIp: this.publicIp,
      dnsName: this.dnsName,
      securityGroupId: this.securityGroupId,
      weights: this.weights,
      routing: this.routing,
      statsUrl: this.statsUrl,
      statsTunnelCommand: this.statsTunnelCommand,
      servers: this.servers,
      haproxyConfig: this.haproxyConfig,
      distributorId: this.distributorId,
    });
  }

  /** Lists that come from another stack are only known now: check them the same way. */
  private checkedServers(color: Color, servers: pulumi.Input<readonly string[]>): pulumi.Output<ServerAddress[]> {
    return pulumi.output(servers).apply((list) => {
      try {
        return parseServerList(ARG_LABELS[`${color}.servers`], list);
      } catch (error) {
        throw new pulumi.ResourceError((error as Error).message, this);
      }
    });
  }
}
