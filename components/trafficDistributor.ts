import * as pulumi from "@pulumi/pulumi";
import type * as awsTarget from "./aws";
import { Deployment, DeploymentContext } from "./deployment";
import type * as dockerTarget from "./docker";
import { HaproxyConfigInput, METRICS_PATH, renderHaproxyConfig } from "./haproxyConfig";
import { Color, COLORS, DistributorSettings, formatServer, parseComponentName, parseStatsPassword, RoutingMode, ServerAddress, SettingsError, trafficShares, Weights } from "./settings";
import { X509Certificate } from "crypto";
import { SelfSignedCertificate } from "./selfSignedCertificate";
import { ACME_CHALLENGE_SERVER, ACME_CHALLENGE_SERVER_ON_HOST, certificateFile, checkCertificateAndKey } from "./tls";
import { AWS_PROXIED_SOURCE } from "./preview";
import { ARG_LABELS, checkServerList, deprecatedArgsUsed, TrafficDistributorArgs, validateTrafficDistributorArgs } from "./trafficDistributorArgs";

/**
 * Each target's module, loaded when a distributor is built on it: a program on docker needs
 * neither @pulumi/aws nor the SSM client, and one on aws needs no @pulumi/docker.
 */
function awsModule(): typeof awsTarget {
  return require("./aws") as typeof awsTarget;
}
function dockerModule(): typeof dockerTarget {
  return require("./docker") as typeof dockerTarget;
}

/** Host ports taken by the Docker distributors of this program, for a clear error on a clash. */
const dockerHostPorts = new Map<number, string>();

/** Forgets the claimed ports: a program runs once per process, a test suite many times. */
export function resetHostPortClaims(): void {
  dockerHostPorts.clear();
}

/** Two distributors on one Docker host cannot publish the same port: say so before anything registers. */
function claimHostPorts(name: string, settings: DistributorSettings): void {
  if (settings.target !== "docker") return;
  const wanted: Array<[number, string]> = [
    [settings.listenPort, "listenPort"],
    [settings.statsPort, "statsPort"],
    ...(settings.tls ? [[settings.tls.port, "tls.port"] as [number, string]] : []),
    ...(settings.preview ? COLORS.map((color): [number, string] => [settings.preview!.ports[color], `preview.${color}Port`]) : []),
  ];
  for (const [port, label] of wanted) {
    const holder = dockerHostPorts.get(port);
    if (holder !== undefined && holder !== name) {
      throw new SettingsError(
        `${label} is ${port}, which the TrafficDistributor "${holder}" in this program already publishes on the Docker host: give each distributor its own listenPort, statsPort and preview ports`,
      );
    }
  }
  for (const [port] of wanted) dockerHostPorts.set(port, name);
}


/** A distributor's children with their target's types: narrow on `target`. */
export type TrafficDistributorChildren =
  | {
      readonly target: "docker";
      readonly distributor: dockerTarget.Distributor;
      readonly environments: Partial<Record<Color, dockerTarget.Environment>>;
    }
  | {
      readonly target: "aws";
      readonly distributor: awsTarget.Distributor;
      readonly environments: Partial<Record<Color, awsTarget.Environment>>;
    };

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
  /** Each color's preview URL (`preview.enabled`); undefined otherwise. On aws with `dns`, the color's host name. */
  public readonly previewUrls: pulumi.Output<Record<Color, string> | undefined>;
  /** Host name or address clients connect to: "localhost", the DNS name or the Elastic IP. */
  public readonly publicAddress: pulumi.Output<string>;
  /** The distributor's public IP (aws); undefined on docker. */
  public readonly publicIp: pulumi.Output<string | undefined>;
  /** The full name of the DNS record (aws with `dns`); undefined otherwise. */
  public readonly dnsName: pulumi.Output<string | undefined>;
  /** The distributor's security group (aws); undefined on docker. Existing servers admit it. */
  public readonly securityGroupId: pulumi.Output<string | undefined>;
  /** Share of new traffic per color, in percent, as it is sent (failover: the primary's 100). */
  public readonly weights: pulumi.Output<Weights>;
  /** The routing mode in force. */
  public readonly routing: pulumi.Output<RoutingMode>;
  /** HAProxy stats page, on the distributor host's loopback (aws: through `statsTunnelCommand`). */
  public readonly statsUrl: pulumi.Output<string>;
  /** HAProxy's Prometheus exporter, beside the stats page and behind the same password. */
  public readonly metricsUrl: pulumi.Output<string>;
  /** Forwards the stats port of the AWS distributor to this machine; undefined on docker. */
  public readonly statsTunnelCommand: pulumi.Output<string | undefined>;
  /**
   * The servers of each color as `host:port`, the form the `servers` input takes: another
   * stack's `StackReference` output feeds it directly (on docker, with `docker.network`).
   */
  public readonly servers: pulumi.Output<Record<Color, string[]>>;
  /** The Docker network the distributor and the apps share (docker); undefined on aws. */
  public readonly networkName: pulumi.Output<string | undefined>;
  /** The HAProxy config deployed: a secret, since it holds the stats password. */
  public readonly haproxyConfig: pulumi.Output<string>;
  /** The distributor's container name (docker) or instance ID (aws). */
  public readonly distributorId: pulumi.Output<string>;
  /** The provisioned environments, by color (absent for existing colors); `children` has them typed by target. */
  public readonly environments: Partial<Record<Color, dockerTarget.Environment | awsTarget.Environment>>;
  /** The distributor's resources; `children` has them typed by target. */
  public readonly distributor: dockerTarget.Distributor | awsTarget.Distributor;
  /**
   * The children, typed by target: `if (d.children.target === "aws") d.children.distributor.instance`
   * reaches the EC2 instance; on docker, `d.children.distributor.container` the container.
   */
  public readonly children: TrafficDistributorChildren;
  /** The HTTPS URL, with `tls`; undefined otherwise. */
  public readonly httpsUrl: pulumi.Output<string | undefined>;
  /** With `tls.mode` "selfSigned": the CA's certificate (PEM) clients trust, e.g. `curl --cacert`. */
  public readonly caCertificate: pulumi.Output<string | undefined>;

  constructor(name: string, args: TrafficDistributorArgs = {}, opts: pulumi.ComponentResourceOptions = {}) {
    // Validate before anything is registered: a bad setting fails preview and touches nothing.
    parseComponentName(name);
    const settings = validateTrafficDistributorArgs(args);
    claimHostPorts(name, settings);
    if (settings.target === "aws") {
      awsModule().checkConfigFitsParameter(settings, (servers, password, fingerprint) => renderHaproxyConfig(renderInput(settings, servers, password, fingerprint)));
    }
    super("traffic-distributor:index:TrafficDistributor", name, {}, opts);
    for (const [old, now] of deprecatedArgsUsed(args)) {
      pulumi.log.warn(`${old} is deprecated: it is now ${now}, the name of its stack config key; ${old} is removed in the next major release (docs/upgrading.md)`, this);
    }
    // The password is a secret, also when given as a plain string: the config that holds it is
    // then encrypted in state. One that arrives as an Output is checked when it resolves (a
    // plain one was checked with the other settings), without showing it.
    const statsPassword = pulumi.secret(settings.statsPassword).apply((password) => {
      try {
        return parseStatsPassword(ARG_LABELS.statsPassword, password);
      } catch (error) {
        throw new pulumi.ResourceError((error as Error).message, this);
      }
    });

    const certificate = this.tlsCertificate(name, settings);
    const context: DeploymentContext = {
      name,
      settings,
      parent: this,
      existingServers: (color, servers) => this.checkedServers(color, servers),
      ...(certificate ? { tlsCertificate: { file: certificate.file, keepExisting: settings.tls?.mode === "acme" } } : {}),
      // Output.all carries the password's secret bit over to the config.
      renderConfig: (servers) =>
        pulumi
          .all([servers.blue, servers.green, statsPassword, certificate?.fingerprint])
          .apply(([blue, green, password, fingerprint]) => renderHaproxyConfig(renderInput(settings, { blue, green }, password, fingerprint))),
    };
    const deployment: Deployment<dockerTarget.Environment | awsTarget.Environment, dockerTarget.Distributor | awsTarget.Distributor> =
      settings.target === "aws" ? awsModule().deployOnAws(context) : dockerModule().deployOnDocker(context);

    this.environments = deployment.environments;
    this.distributor = deployment.distributor;
    this.children = { target: settings.target, distributor: deployment.distributor, environments: deployment.environments } as TrafficDistributorChildren;
    this.haproxyConfig = deployment.config;
    this.distributorId = deployment.distributorId;
    this.publicAddress = deployment.publicAddress;
    this.publicIp = deployment.publicIp ?? pulumi.output(undefined);
    this.dnsName = deployment.dnsName ?? pulumi.output(undefined);
    this.securityGroupId = deployment.securityGroupId ?? pulumi.output(undefined);
    const port = settings.listenPort === 80 ? "" : `:${settings.listenPort}`;
    this.url = pulumi.interpolate`http://${this.publicAddress}${port}/`;
    const tlsPort = settings.tls === undefined || settings.tls.port === 443 ? "" : `:${settings.tls.port}`;
    this.httpsUrl = settings.tls === undefined ? pulumi.output(undefined) : pulumi.interpolate`https://${this.publicAddress}${tlsPort}/`;
    this.caCertificate = certificate?.caCertificate ?? pulumi.output(undefined);
    this.previewUrls = previewUrlsOf(settings, this.publicAddress);
    this.statsUrl = pulumi.output(`http://127.0.0.1:${settings.statsPort}/stats`);
    this.metricsUrl = pulumi.output(`http://127.0.0.1:${settings.statsPort}${METRICS_PATH}`);
    this.statsTunnelCommand = deployment.statsTunnelCommand ?? pulumi.output(undefined);
    this.weights = pulumi.output(trafficShares(settings.routing, settings.weights, settings.failoverPrimary));
    this.routing = pulumi.output(settings.routing);
    this.servers = pulumi
      .all([deployment.servers.blue, deployment.servers.green])
      .apply(([blue, green]) => ({ blue: blue.map(formatServer), green: green.map(formatServer) }));
    this.networkName = deployment.networkName ?? pulumi.output(undefined);

    this.registerOutputs({
      url: this.url,
      httpsUrl: this.httpsUrl,
      caCertificate: this.caCertificate,
      previewUrls: this.previewUrls,
      publicAddress: this.publicAddress,
      publicIp: this.publicIp,
      dnsName: this.dnsName,
      securityGroupId: this.securityGroupId,
      weights: this.weights,
      routing: this.routing,
      statsUrl: this.statsUrl,
      metricsUrl: this.metricsUrl,
      statsTunnelCommand: this.statsTunnelCommand,
      servers: this.servers,
      networkName: this.networkName,
      haproxyConfig: this.haproxyConfig,
      distributorId: this.distributorId,
    });
  }

  /**
   * The certificate file HAProxy loads: the user's (checked when the secrets resolve, never
   * shown), or one the tls provider makes (for `acme`, a placeholder until the first issuance).
   */
  private tlsCertificate(
    name: string,
    settings: DistributorSettings,
  ): { file: pulumi.Output<string>; fingerprint?: pulumi.Output<string>; caCertificate?: pulumi.Output<string> } | undefined {
    const tls = settings.tls;
    if (tls === undefined) return undefined;
    if (tls.mode === "provided") {
      const checked = pulumi.all([tls.certificate!, tls.privateKey!]).apply(([chain, key]) => {
        try {
          checkCertificateAndKey(ARG_LABELS, chain, key);
        } catch (error) {
          throw new pulumi.ResourceError((error as Error).message, this);
        }
        return { chain, key };
      });
      return {
        file: pulumi.secret(checked.apply(({ chain, key }) => certificateFile(chain, key))),
        // A fingerprint of the public certificate tells nothing of the key.
        fingerprint: pulumi.unsecret(checked.apply(({ chain }) => new X509Certificate(chain).fingerprint256)),
      };
    }
    const generated = new SelfSignedCertificate(`${name}-tls`, { domains: tls.domains }, { parent: this });
    const file = pulumi.secret(pulumi.all([generated.chain, generated.privateKey]).apply(([chain, key]) => certificateFile(chain, key)));
    if (tls.mode === "acme") return { file };
    return {
      file,
      fingerprint: generated.chain.apply((chain) => new X509Certificate(chain).fingerprint256),
      caCertificate: generated.caCertificate,
    };
  }

  /** Lists that come from another stack are only known now: check them the same way. */
  private checkedServers(color: Color, servers: pulumi.Input<readonly string[]>): pulumi.Output<ServerAddress[]> {
    return pulumi.output(servers).apply((list) => {
      try {
        return checkServerList(ARG_LABELS[`${color}.servers`], list);
      } catch (error) {
        throw new pulumi.ResourceError((error as Error).message, this);
      }
    });
  }
}

/**
 * Where each color's preview answers: its port on the public address, or on aws with a full
 * `dns.name`, its own host name on the listen port.
 */
function previewUrlsOf(settings: DistributorSettings, publicAddress: pulumi.Output<string>): pulumi.Output<Record<Color, string> | undefined> {
  const preview = settings.preview;
  if (preview === undefined) return pulumi.output(undefined);
  const dnsName = settings.aws?.dns?.name;
  if (dnsName?.includes(".")) {
    const port = settings.listenPort === 80 ? "" : `:${settings.listenPort}`;
    return pulumi.output({ blue: `http://blue.${dnsName}${port}/`, green: `http://green.${dnsName}${port}/` });
  }
  return publicAddress.apply((address) => ({
    blue: `http://${address}:${preview.ports.blue}/`,
    green: `http://${address}:${preview.ports.green}/`,
  }));
}

/** The renderer's input from validated settings: one place, for the component and `npm run render`. */
export function renderInput(
  settings: DistributorSettings,
  servers: Record<Color, ServerAddress[]>,
  statsPassword: string | undefined,
  certificateFingerprint?: string,
): HaproxyConfigInput {
  const dnsName = settings.aws?.dns?.name;
  return {
    weights: settings.weights,
    routing: settings.routing,
    failoverPrimary: settings.failoverPrimary,
    servers,
    // The checks ask for the public name, when it is a full one, as clients do.
    healthCheck: { ...settings.healthCheck, host: settings.healthCheck.host ?? (dnsName?.includes(".") ? dnsName : undefined) },
    timeouts: settings.timeouts,
    gate: settings.gate,
    accessLog: settings.accessLog,
    ...(settings.capacity.threads === undefined ? {} : { threads: settings.capacity.threads }),
    maxConnections: settings.capacity.maxConnections,
    statsPassword,
    ...(settings.tls === undefined
      ? {}
      : {
          tls: {
            publicPort: settings.tls.port,
            hsts: settings.tls.hsts,
            // On aws, lego runs on the host, outside HAProxy's container.
            ...(settings.tls.mode === "acme"
              ? { acmeChallenge: settings.target === "aws" ? ACME_CHALLENGE_SERVER_ON_HOST : ACME_CHALLENGE_SERVER }
              : {}),
            ...(certificateFingerprint === undefined ? {} : { certificateFingerprint }),
          },
        }),
    ...(settings.preview === undefined
      ? {}
      : {
          preview: {
            allowedCidrs: settings.preview.allowedCidrs,
            // On docker the preview ports are published on IPv4 alone (components/docker/distributor.ts).
            ...(settings.target === "aws" ? { proxiedSources: [AWS_PROXIED_SOURCE] } : {}),
            // Host routing needs the full name clients send: a name relative to the zone is not one.
            ...(dnsName?.includes(".") ? { hosts: { blue: `blue.${dnsName}`, green: `green.${dnsName}` } } : {}),
          },
        }),
  };
}
