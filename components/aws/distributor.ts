import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DnsSettings } from "../settings";
import { renderDeliveryDocument } from "./configDocument";
import { encodeConfigParameter } from "./configParameter";
import { ConfigDelivery } from "./configDelivery";
import { createInstanceRole, parameterReadStatements, SECURE_INSTANCE_DEFAULTS } from "./instanceSecurity";
import { InstanceImage } from "./network";
import { renderDistributorUserData } from "./userData";

export interface DistributorArgs {
  /** The rendered HAProxy config to serve. */
  readonly config: pulumi.Input<string>;
  /** HAProxy image, e.g. "haproxy:3.2.26". */
  readonly image: string;
  /** Public port on the Elastic IP. */
  readonly listenPort: number;
  /** Stats port, on the instance's loopback. */
  readonly statsPort: number;
  readonly instanceType: string;
  readonly machineImage: InstanceImage;
  /** A subnet that routes to an internet gateway. */
  readonly subnetId: pulumi.Input<string>;
  /** The distributor's security groups (its own first). */
  readonly securityGroupIds: pulumi.Input<string>[];
  readonly dns?: DnsSettings;
  /** The colors' preview ports (`preview.enabled`): published, and with a full `dns.name`, `blue.<name>` and `green.<name>` records. */
  readonly previewPorts?: Readonly<Record<"blue" | "green", number>>;
  /** Region of the SSM calls that deliver the config (the instance's region). */
  readonly region: pulumi.Input<string>;
  /** Named AWS profile for those calls; absent, the AWS SDK's default credentials. */
  readonly profile?: string;
}

/**
 * The HAProxy instance in front of both colors, with an Elastic IP and DNS records. The
 * instance's inputs never depend on weights, routing or servers: the config lives in an SSM
 * parameter, and each new version is installed on the running instance by an SSM command that
 * `pulumi up` waits for (`haproxy -c`, swap, graceful reload). A release step changes the
 * parameter and the delivery, nothing else.
 */
export class Distributor extends pulumi.ComponentResource {
  public readonly instance: aws.ec2.Instance;
  public readonly elasticIp: aws.ec2.Eip;
  /** Holds the config, gzipped then base64 (a SecureString: it may hold the stats password). */
  public readonly configParameter: aws.ssm.Parameter;
  /** The config-delivery step: with the parameter, all a weight change updates. */
  public readonly configDelivery: ConfigDelivery;
  public readonly records: aws.route53.Record[];
  public readonly instanceId: pulumi.Output<string>;
  public readonly publicIp: pulumi.Output<string>;
  /** The record's full name, or undefined without DNS. */
  public readonly dnsName: pulumi.Output<string | undefined>;
  /** What the delivery printed on the instance: the reload confirmation. */
  public readonly deliveryReport: pulumi.Output<string>;

  constructor(name: string, args: DistributorArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("traffic-distributor:aws:Distributor", name, {}, opts);

    // Intelligent-Tiering: standard (free) up to 4 KB, advanced only for a config that needs it.
    // The value is the config gzipped, then base64 (8 KB at most); the delivery decodes it.
    this.configParameter = new aws.ssm.Parameter(
      `${name}-config`,
      {
        type: "SecureString",
        tier: "Intelligent-Tiering",
        value: pulumi.secret(pulumi.output(args.config).apply(encodeConfigParameter)),
        description: `traffic-distributor ${name}: the HAProxy config to serve`,
      },
      { parent: this },
    );

    // The SSM agent's calls (Run Command, port forwarding) plus reading its own config, nothing more.
    const role = createInstanceRole(name, this.configParameter.arn.apply(parameterReadStatements), this);

    this.instance = new aws.ec2.Instance(
      name,
      {
        ami: args.machineImage.ami,
        instanceType: args.instanceType,
        subnetId: args.subnetId,
        // Reaches SSM and the registry before the Elastic IP is attached (the EIP then replaces it).
        associatePublicIpAddress: true,
        vpcSecurityGroupIds: args.securityGroupIds,
        iamInstanceProfile: role.profile.name,
        userData: renderDistributorUserData({ image: args.image, listenPort: args.listenPort, statsPort: args.statsPort, previewPorts: args.previewPorts }),
        ...SECURE_INSTANCE_DEFAULTS,
        tags: { Name: name, "traffic-distributor:role": "distributor" },
      },
      { parent: this, dependsOn: role.policies, ignoreChanges: args.machineImage.ignoreNewerReleases ? ["ami"] : [] },
    );

    const document = new aws.ssm.Document(
      `${name}-deliver-config`,
      { documentType: "Command", documentFormat: "JSON", content: renderDeliveryDocument() },
      { parent: this },
    );

    this.configDelivery = new ConfigDelivery(
      `${name}-delivery`,
      {
        instanceId: this.instance.id,
        documentName: document.name,
        parameterName: this.configParameter.name,
        parameterVersion: this.configParameter.version,
        region: args.region,
        profile: args.profile,
      },
      { parent: this },
    );

    // The address keeps its value across instance replacements. It moves to a (new) instance
    // only once that instance serves its real config, and the records follow the association.
    this.elasticIp = new aws.ec2.Eip(`${name}-ip`, { domain: "vpc", tags: { Name: name } }, { parent: this });
    const association = new aws.ec2.EipAssociation(
      `${name}-ip`,
      { allocationId: this.elasticIp.allocationId, instanceId: this.instance.id },
      { parent: this, dependsOn: [this.configDelivery] },
    );

    const dns = args.dns;
    // Each color's preview host, routed by Host on the listen port: only a full name is one clients send.
    const previewNames = args.previewPorts && dns?.name.includes(".") ? [`blue.${dns.name}`, `green.${dns.name}`] : [];
    this.records = dns
      ? [dns.name, ...dns.aliases, ...previewNames].map(
          (recordName, i) =>
            new aws.route53.Record(
              i === 0 ? `${name}-record` : `${name}-record-${recordName}`,
              {
                zoneId: dns.zoneId,
                name: recordName,
                type: dns.recordType,
                ttl: dns.ttl,
                records: [dns.recordType === "A" ? this.elasticIp.publicIp : this.elasticIp.publicDns],
                allowOverwrite: dns.takeOver,
              },
              { parent: this, dependsOn: [association] },
            ),
        )
      : [];

    this.instanceId = this.instance.id;
    this.publicIp = this.elasticIp.publicIp;
    this.dnsName = this.records.length > 0 ? this.records[0].fqdn : pulumi.output(undefined);
    this.deliveryReport = this.configDelivery.report;
    this.registerOutputs({
      instanceId: this.instanceId,
      publicIp: this.publicIp,
      dnsName: this.dnsName,
      deliveryReport: this.deliveryReport,
    });
  }
}
