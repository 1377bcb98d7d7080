import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface InstanceRole {
  readonly role: aws.iam.Role;
  readonly profile: aws.iam.InstanceProfile;
  /** Every policy of the role: instances wait for them, so SSM works from first boot. */
  readonly policies: pulumi.Resource[];
}

/**
 * An EC2 instance role with SSM's managed-instance core (the SSM agent: Run Command, Session
 * Manager instead of SSH) plus the given inline statements, and nothing else.
 */
export function createInstanceRole(
  name: string,
  statements: pulumi.Input<object>[],
  parent: pulumi.Resource,
): InstanceRole {
  const role = new aws.iam.Role(
    `${name}-role`,
    {
      description: `traffic-distributor ${name}: EC2 instance role`,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
      }),
    },
    { parent },
  );
  const policies: pulumi.Resource[] = [
    new aws.iam.RolePolicyAttachment(
      `${name}-ssm-core`,
      { role: role.name, policyArn: aws.iam.ManagedPolicy.AmazonSSMManagedInstanceCore },
      { parent },
    ),
  ];
  if (statements.length > 0) {
    policies.push(
      new aws.iam.RolePolicy(
        `${name}-policy`,
        {
          role: role.id,
          policy: pulumi.output(statements).apply((resolved) => JSON.stringify({ Version: "2012-10-17", Statement: resolved })),
        },
        { parent },
      ),
    );
  }
  const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name }, { parent });
  return { role, profile, policies };
}

/** Instance settings every instance of the module shares: the security defaults. */
export const SECURE_INSTANCE_DEFAULTS = {
  // IMDSv2 only; a hop limit of 1 keeps the instance's credentials out of reach of containers.
  metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
  rootBlockDevice: { encrypted: true, volumeType: "gp3", deleteOnTermination: true },
  // User data is read at first boot only: a new one must mean a new instance, not a reboot.
  userDataReplaceOnChange: true,
};
