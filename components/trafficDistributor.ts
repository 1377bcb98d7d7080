import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { Distributor } from "./docker/distributor";
import { Environment } from "./docker/environment";
import { renderHaproxyConfig } from "./haproxyConfig";
import { environmentName } from "./naming";
import { Color, COLORS, parseServerList, RoutingMode, ServerAddress, weightPercentages } from "./settings";
import { ARG_LABELS, TrafficDistributorArgs, validateTrafficDistributorArgs } from "./trafficDistributorArgs";

/**
 * Blue-green traffic distribution: two colors of an app behind an HAProxy that splits HTTP
 * traffic between them by weight. Each color is provisioned (containers of an image) or
 * existing (`host:port` servers). Changing weights or routing re-renders the HAProxy config
 * and reloads it in place; no container is replaced and no request is dropped.
 */
export class TrafficDistributor extends pulumi.ComponentResource {
  /** Public URL of the distributor. */
  public readonly url: pulumi.Output<string>;
  /** Host name or address clients connect to. */
  public readonly publicAddress: pulumi.Output<string>;
  /** Share of new traffic per color, in percent. */
  public readonly weights: pulumi.Output<{ blue: number; green: number }>;
  /** The routing mode in force. */
  public readonly routing: pulumi.Output<RoutingMode>;
  /** HAProxy stats page, reachable from the Docker host only. */
  public readonly statsUrl: pulumi.Output<string>;
  /** The servers of each color, as the distributor addresses them. */
  public readonly servers: pulumi.Output<Record<Color, ServerAddress[]>>;
  /** The HAProxy config deployed (a secret when it holds the stats password). */
  public readonly haproxyConfig: pulumi.Output<string>;
  /** The provisioned environments, by color (absent for existing colors). */
  public readonly environments: Partial<Record<Color, Environment>>;
  public readonly distributor: Distributor;

  constructor(name: string, args: TrafficDistributorArgs = {}, opts: pulumi.ComponentResourceOptions = {}) {
    // Validate before anything is registered: a bad setting fails preview and touches nothing.
    const settings = validateTrafficDistributorArgs(args);
    super("traffic-distributor:index:TrafficDistributor", name, {}, opts);

    const network = new docker.Network(`${name}-net`, { name: `${name}-net` }, { parent: this });

    this.environments = {};
    const servers = {} as Record<Color, pulumi.Output<ServerAddress[]>>;
    for (const color of COLORS) {
      const plan = settings.colors[color];
      if (plan.kind === "provisioned") {
        const environment = new Environment(
          environmentName(name, color),
          { color, image: plan.image, replicas: plan.replicas, port: plan.port, networkName: network.name },
          { parent: this },
        );
        this.environments[color] = environment;
        servers[color] = environment.servers;
      } else {
        // Lists that come from another stack are only known now: check them the same way.
        servers[color] = pulumi.output(plan.servers).apply((list) => {
          try {
            const parsed = parseServerList(ARG_LABELS[`${color}.servers`], list);
            if (parsed.length === 0) throw new Error(`${ARG_LABELS[`${color}.servers`]} is empty`);
            return parsed;
          } catch (error) {
            throw new pulumi.ResourceError((error as Error).message, this);
          }
        });
      }
    }

    // Output.all carries the password's secret bit over to the config.
    this.haproxyConfig = pulumi
      .all([servers.blue, servers.green, args.statsPassword])
      .apply(([blue, green, statsPassword]) =>
        renderHaproxyConfig({
          weights: settings.weights,
          routing: settings.routing,
          failoverPrimary: settings.failoverPrimary,
          servers: { blue, green },
          healthCheckPath: settings.healthCheckPath,
          statsPassword,
        }),
      );

    this.distributor = new Distributor(
      `${name}-distributor`,
      {
        networkName: network.name,
        config: this.haproxyConfig,
        image: settings.distributorImage,
        listenPort: settings.listenPort,
        statsPort: settings.statsPort,
      },
      { parent: this },
    );

    this.publicAddress = pulumi.output("localhost");
    this.url = pulumi.interpolate`http://${this.publicAddress}:${settings.listenPort}/`;
    this.statsUrl = pulumi.output(`http://127.0.0.1:${settings.statsPort}/stats`);
    this.weights = pulumi.output(weightPercentages(settings.weights));
    this.routing = pulumi.output(settings.routing);
    this.servers = pulumi.all([servers.blue, servers.green]).apply(([blue, green]) => ({ blue, green }));

    this.registerOutputs({
      url: this.url,
      publicAddress: this.publicAddress,
      weights: this.weights,
      routing: this.routing,
      statsUrl: this.statsUrl,
      servers: this.servers,
      haproxyConfig: this.haproxyConfig,
    });
  }
}
