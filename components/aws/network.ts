// Where the instances go: the VPC and subnets from config, or the account's default VPC.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { AwsSettings, isArmInstanceType } from "../settings";

export interface Network {
  readonly vpcId: pulumi.Output<string>;
  /** Subnets of the app instances; instance i goes in subnet i modulo their number. */
  readonly subnetIds: pulumi.Output<string[]>;
  readonly distributorSubnetId: pulumi.Output<string>;
}

/** Looks the default VPC up only when no VPC is given. */
export function resolveNetwork(settings: AwsSettings, parent: pulumi.Resource): Network {
  if (settings.vpcId !== undefined) {
    const subnetIds = pulumi.output(settings.subnetIds!).apply((ids) => [...ids]);
    return {
      vpcId: pulumi.output(settings.vpcId),
      subnetIds,
      distributorSubnetId: settings.distributorSubnetId !== undefined ? pulumi.output(settings.distributorSubnetId) : subnetIds[0],
    };
  }
  const vpc = aws.ec2.getVpcOutput({ default: true }, { parent });
  const subnets = aws.ec2.getSubnetsOutput(
    { filters: [{ name: "vpc-id", values: [vpc.id] }, { name: "default-for-az", values: ["true"] }] },
    { parent },
  );
  // Sorted, so that the same subnets always give the same placement.
  const subnetIds = subnets.ids.apply((ids) => {
    if (ids.length === 0) {
      throw new pulumi.ResourceError(
        "the default VPC has no default subnets: set traffic-distributor:aws.vpcId and aws.subnetIds",
        parent,
      );
    }
    return [...ids].sort();
  });
  return { vpcId: vpc.id, subnetIds, distributorSubnetId: subnetIds[0] };
}

/** AWS's public parameter with the newest Amazon Linux 2023 AMI of an architecture. */
export function amazonLinuxParameter(instanceType: string): string {
  const arch = isArmInstanceType(instanceType) ? "arm64" : "x86_64";
  return `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${arch}`;
}

export interface InstanceImage {
  readonly ami: pulumi.Output<string>;
  /**
   * True when the AMI is the looked-up newest one: instances then ignore later AMI releases,
   * which would otherwise replace every instance on the next unrelated `pulumi up`.
   */
  readonly ignoreNewerReleases: boolean;
}

export function resolveAmi(ami: string | undefined, instanceType: string, parent: pulumi.Resource): InstanceImage {
  if (ami !== undefined) return { ami: pulumi.output(ami), ignoreNewerReleases: false };
  const parameter = aws.ssm.getParameterOutput({ name: amazonLinuxParameter(instanceType) }, { parent });
  return { ami: parameter.insecureValue, ignoreNewerReleases: true };
}
