import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { colorsOf, Deployment, DeploymentContext } from "../deployment";
import { environmentName } from "../naming";
import { Color, COLORS, parseServerList, ServerAddress } from "../settings";
import { isPlain } from "../trafficDistributorArgs";
import { Distributor } from "./distributor";
import { Environment } from "./environment";
import { renderDrainDocument } from "./drainDocument";
import { amazonLinuxParameter, resolveAmi, resolveNetwork } from "./network";
import { ReplicaDrain } from "./replicaDrain";
import { ColorAccess, createSecurityGroups } from "./securityGroups";

/** Ports of existing servers: plain when the list is, else once it resolves (checked then). */
function existingPorts(context: DeploymentContext, color: Color, servers: pulumi.Input<readonly string[]>): number[] | pulumi.Output<number[]> {
  const portsOf = (list: ServerAddress[]) => [...new Set(list.map((server) => server.port))];
  if (isPlain(servers)) return portsOf(parseServerList("servers", servers));
  return context.existingServers(color, servers).apply(portsOf);
}

/**
 * The `aws` target: security groups, one Environment of EC2 instances per provisioned color,
 * and the distributor instance with its Elastic IP, SSM-delivered config and DNS records.
 */
export function deployOnAws(context: DeploymentContext): Deployment<Environment, Distributor> {
  const { name, settings, parent } = context;
  const target = settings.aws!;
  const network = resolveNetwork(target, parent);

  const access = Object.fromEntries(
    COLORS.map((color): [Color, ColorAccess] => {
      const plan = settings.colors[color];
      return [color, plan.kind === "provisioned" ? plan : { kind: "existing", ports: existingPorts(context, color, plan.servers) }];
    }),
  ) as Record<Color, ColorAccess>;
  const securityGroups = createSecurityGroups(
    name,
    {
      vpcId: network.vpcId,
      listenPort: settings.listenPort,
      ...(settings.tls ? { tlsPort: settings.tls.port } : {}),
      ingressCidrs: target.ingressCidrs,
      colors: access,
      preview: settings.preview,
    },
    parent,
  );

  const appImage = resolveAmi(target.ami, target.instanceType, parent);
  const { environments, servers } = colorsOf(
    context,
    (color, plan) =>
      new Environment(
        environmentName(name, color),
        {
          color,
          image: plan.image,
          replicas: plan.replicas,
          port: plan.port,
          instanceType: target.instanceType,
          machineImage: appImage,
          subnetIds: network.subnetIds,
          securityGroupId: securityGroups.environments[color]!.id,
        },
        { parent },
      ),
  );

  const config = context.renderConfig(servers);
  const region = aws.getRegionOutput({}, { parent }).region;
  // The delivery and the drains call SSM themselves: with the profile the default AWS provider is configured with.
  const profile = new pulumi.Config("aws").get("profile");
  const distributor = new Distributor(
    `${name}-distributor`,
    {
      config,
      image: settings.distributorImage,
      listenPort: settings.listenPort,
      statsPort: settings.statsPort,
      instanceType: target.distributorInstanceType,
      // One lookup per architecture: the same AMI serves every instance type of it.
      machineImage:
        amazonLinuxParameter(target.distributorInstanceType) === amazonLinuxParameter(target.instanceType)
          ? appImage
          : resolveAmi(target.ami, target.distributorInstanceType, parent),
      subnetId: network.distributorSubnetId,
      securityGroupIds: [securityGroups.distributor.id, ...(securityGroups.resolvedServers ? [securityGroups.resolvedServers.id] : [])],
      dns: target.dns,
      previewPorts: settings.preview?.ports,
      region,
      profile,
      ...(settings.tls && context.tlsCertificate
        ? {
            tls: {
              port: settings.tls.port,
              certificateFile: context.tlsCertificate.file,
              keepExisting: context.tlsCertificate.keepExisting,
              mode: settings.tls.mode,
              ...(settings.tls.acme ? { acme: { domains: settings.tls.domains, ...settings.tls.acme } } : {}),
            },
          }
        : {}),
    },
    { parent },
  );

  // Before an app instance is terminated, wait until the distributor holds no connection to it.
  // Each drain depends on its instance and on the delivery (hence the distributor). Pulumi
  // deletes dependents first (the engine's ScheduleDeletes orders all deletes, replaced
  // resources' included, by the old states' dependencies), so the drain's delete runs while the
  // instance and the distributor still exist: on fewer replicas and on destroy. A replaced
  // instance (new user data or AMI) is created first; its new ID replaces the drain too
  // (diffReplicaDrain), and at the end of the step, after the delivery of the config that no
  // longer names it, the old drain's delete waits, then the old instance goes.
  const drainSeconds = Math.ceil((settings.drainTimeout ?? 0) / 1000);
  if (drainSeconds > 0) {
    const document = new aws.ssm.Document(
      `${name}-drain-replica`,
      { documentType: "Command", documentFormat: "JSON", content: renderDrainDocument() },
      { parent },
    );
    for (const color of COLORS) {
      const environment = environments[color];
      const plan = settings.colors[color];
      if (!environment || plan.kind !== "provisioned") continue;
      environment.instances.forEach(
        (instance, i) =>
          new ReplicaDrain(
            `${environmentName(name, color)}-${i}-drain`,
            {
              replicaInstanceId: instance.id,
              replicaAddress: instance.privateIp,
              replicaPort: plan.port,
              timeoutSeconds: drainSeconds,
              distributorInstanceId: distributor.instanceId,
              documentName: document.name,
              region,
              profile,
            },
            { parent: environment, dependsOn: [instance, distributor.configDelivery] },
          ),
      );
    }
  }

  return {
    environments,
    servers,
    config,
    distributor,
    distributorId: distributor.instanceId,
    publicAddress: pulumi.all([distributor.dnsName, distributor.publicIp]).apply(([dnsName, ip]) => dnsName ?? ip),
    publicIp: distributor.publicIp,
    securityGroupId: securityGroups.distributor.id,
    dnsName: distributor.dnsName,
    statsTunnelCommand: pulumi.interpolate`aws ssm start-session --target ${distributor.instanceId} --document-name AWS-StartPortForwardingSession --parameters portNumber=${settings.statsPort},localPortNumber=${settings.statsPort}`,
  };
}
