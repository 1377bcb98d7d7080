import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { Color, ServerAddress } from "../settings";
import { createInstanceRole, SECURE_INSTANCE_DEFAULTS } from "./instanceSecurity";
import { InstanceImage } from "./network";
import { renderEnvironmentUserData } from "./userData";

export interface EnvironmentArgs {
  /** Which color this is; recorded as a tag. */
  readonly color: Color;
  /** Image reference of the app, e.g. "registry.example.com/shop:2.0". */
  readonly image: string;
  /** Number of instances. */
  readonly replicas: number;
  /** Port the app listens on; the distributor reaches it on the instance's private address. */
  readonly port: number;
  readonly instanceType: string;
  readonly machineImage: InstanceImage;
  /** Subnets to spread the instances over, in order. */
  readonly subnetIds: pulumi.Input<string[]>;
  /** The color's security group (the distributor alone may reach the app port). */
  readonly securityGroupId: pulumi.Input<string>;
}

/**
 * One color of the app on AWS: `replicas` EC2 instances, each running the image with Docker
 * from cloud-init. A new image is new user data, so it means new instances: Pulumi creates
 * them, the distributor's config moves to them, and only then are the old ones terminated.
 */
export class Environment extends pulumi.ComponentResource {
  /** The instances, as the distributor addresses them (private IP, app port). */
  public readonly servers: pulumi.Output<ServerAddress[]>;
  public readonly instanceIds: pulumi.Output<string[]>;
  public readonly instances: aws.ec2.Instance[];

  constructor(name: string, args: EnvironmentArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("traffic-distributor:aws:Environment", name, {}, opts);

    // The SSM agent's calls only: Session Manager for operators, no SSH, no parameter, no other AWS access.
    const role = createInstanceRole(name, [], this);
    const userData = renderEnvironmentUserData({ image: args.image, port: args.port });

    this.instances = Array.from(
      { length: args.replicas },
      (_, i) =>
        new aws.ec2.Instance(
          `${name}-${i}`,
          {
            ami: args.machineImage.ami,
            instanceType: args.instanceType,
            subnetId: pulumi.output(args.subnetIds).apply((ids) => ids[i % ids.length]),
            vpcSecurityGroupIds: [args.securityGroupId],
            iamInstanceProfile: role.profile.name,
            userData,
            ...SECURE_INSTANCE_DEFAULTS,
            tags: { Name: `${name}-${i}`, "traffic-distributor:color": args.color, "traffic-distributor:environment": name },
          },
          {
            parent: this,
            dependsOn: role.policies,
            ignoreChanges: args.machineImage.ignoreNewerReleases ? ["ami"] : [],
          },
        ),
    );

    this.instanceIds = pulumi.all(this.instances.map((instance) => instance.id));
    this.servers = pulumi
      .all(this.instances.map((instance) => instance.privateIp))
      .apply((addresses) => addresses.map((host) => ({ host, port: args.port })));
    this.registerOutputs({ servers: this.servers, instanceIds: this.instanceIds });
  }
}
