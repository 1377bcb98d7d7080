import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DnsSettings } from "../settings";
import { TlsMode } from "../tls";
import { AcmeClientInput } from "./acmeClient";
import { checkCertificateFitsParameter, renderCertificateDocument } from "./certificateDocument";
import { renderDeliveryDocument } from "./configDocument";
import { encodeConfigParameter } from "./configParameter";
import { deliveryPlan } from "../deliveryPlan";
import { ConfigDelivery } from "./configDelivery";
import { certificateReadStatement, createInstanceRole, parameterReadStatements, SECURE_INSTANCE_DEFAULTS } from "./instanceSecurity";
import { InstanceImage } from "./network";
import { distributorUserDataInput, renderDistributorUserData } from "./userData";

/** HTTPS of the aws distributor. */
export interface DistributorTlsArgs {
  /** Public HTTPS port on the Elastic IP. */
  readonly port: number;
  /** The certificate file HAProxy loads: the chain, then the key (a secret). */
  readonly certificateFile: pulumi.Input<string>;
  /** Keep a certificate already on the instance (the ACME client's) over this one. */
  readonly keepExisting: boolean;
  /** Where the certificate comes from: the user's (`provided`) or made from `tls.domains`. @default "provided" */
  readonly mode?: Exclude<TlsMode, "off">;
  /** With `acme`: the names and CA the ACME client beside HAProxy asks for. */
  readonly acme?: Omit<AcmeClientInput, "arch">;
}

export interface DistributorArgs {
  /** The rendered HAProxy config to serve. */
  readonly config: pulumi.Input<string>;
  /** HAProxy image, e.g. "haproxy:3.4.7". */
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
  /** HTTPS; turning it on or off, or changing its port or ACME settings, replaces the instance (new user data). */
  readonly tls?: DistributorTlsArgs;
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
  /** The certificate file the parameter holds (a secret), refused as it resolves if too large for it (with `tls`). */
  public readonly certificateFile?: pulumi.Output<string>;
  /** Holds the certificate file, the chain then the key (with `tls`): a SecureString only this distributor may read. */
  public readonly certificateParameter?: aws.ssm.Parameter;
  /** Installs the certificate file before the config that loads it (with `tls`). */
  public readonly certificateDelivery?: ConfigDelivery;
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

    const tls = args.tls;
    // The certificate file, checked against the parameter's size as it resolves.
    this.certificateFile = tls
      ? pulumi.secret(
          pulumi.output(tls.certificateFile).apply((file) => {
            try {
              return checkCertificateFitsParameter(
                file,
                { certificate: "tls.certificate", privateKey: "tls.privateKey", domains: "tls.domains" },
                tls.mode ?? "provided",
              );
            } catch (error) {
              throw new pulumi.ResourceError((error as Error).message, this);
            }
          }),
        )
      : undefined;
    // Its value is a secret: encrypted in state, decrypted on the instance alone. Up to 4 KB a
    // standard parameter, up to 8 KB an advanced one.
    this.certificateParameter = this.certificateFile
      ? new aws.ssm.Parameter(
          `${name}-certificate`,
          {
            type: "SecureString",
            tier: "Intelligent-Tiering",
            value: this.certificateFile,
            description: `traffic-distributor ${name}: the HTTPS certificate chain and its private key`,
          },
          { parent: this },
        )
      : undefined;

    // The SSM agent's calls (Run Command, port forwarding) plus reading its own config (and
    // certificate), nothing more.
    const statements = pulumi
      .all([this.configParameter.arn, this.certificateParameter?.arn])
      .apply(([configArn, certificateArn]) => [
        ...parameterReadStatements(configArn),
        ...(certificateArn === undefined ? [] : [certificateReadStatement(certificateArn)]),
      ]);
    const role = createInstanceRole(name, statements, this);

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
        userData: renderDistributorUserData(
          distributorUserDataInput({
            image: args.image,
            listenPort: args.listenPort,
            statsPort: args.statsPort,
            previewPorts: args.previewPorts,
            instanceType: args.instanceType,
            ...(tls ? { tls: { port: tls.port, ...(tls.acme ? { acme: tls.acme } : {}) } } : {}),
          }),
        ),
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

    // The certificate goes in first: the config that loads it fails `haproxy -c` without it.
    if (tls && this.certificateParameter) {
      const certificateDocument = new aws.ssm.Document(
        `${name}-install-certificate`,
        { documentType: "Command", documentFormat: "JSON", content: renderCertificateDocument(tls.keepExisting) },
        { parent: this },
      );
      this.certificateDelivery = new ConfigDelivery(
        `${name}-certificate-delivery`,
        {
          instanceId: this.instance.id,
          documentName: certificateDocument.name,
          parameterName: this.certificateParameter.name,
          parameterVersion: this.certificateParameter.version,
          region: args.region,
          profile: args.profile,
        },
        { parent: this },
      );
    }

    this.configDelivery = new ConfigDelivery(
      `${name}-delivery`,
      {
        instanceId: this.instance.id,
        documentName: document.name,
        parameterName: this.configParameter.name,
        parameterVersion: this.configParameter.version,
        region: args.region,
        profile: args.profile,
        // Server names and weights, no secret: SSM keeps them in its command history.
        plan: pulumi.unsecret(pulumi.output(args.config).apply(deliveryPlan)),
      },
      { parent: this, dependsOn: this.certificateDelivery ? [this.certificateDelivery] : [] },
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
