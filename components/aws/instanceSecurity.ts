import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface InstanceRole {
  readonly role: aws.iam.Role;
  readonly profile: aws.iam.InstanceProfile;
  /** Every policy of the role: instances wait for them, so SSM works from first boot. */
  readonly policies: pulumi.Resource[];
}

/**
 * What the SSM agent calls to register, take Run Command work and open Session Manager
 * channels, instead of `AmazonSSMManagedInstanceCore` (which also grants ssm:GetParameter(s)
 * on every parameter of the account). Read in AWS's docs:
 * - "Reference: ec2messages, ssmmessages, and other API operations" (Systems Manager user
 *   guide, systems-manager-setting-up-messageAPIs): the ec2messages calls of Run Command; the
 *   ssmmessages control channel (newer agents also take Run Command through it) and data
 *   channels (Session Manager, so AWS-StartPortForwardingSession for the stats tunnel);
 *   ssm:UpdateInstanceInformation (registration and heartbeat); ssm:ListInstanceAssociations and
 *   ssm:UpdateInstanceAssociationStatus (the agent polls State Manager from its start).
 * - "Step 2: Verify or add instance permissions for Session Manager" (minimal Session Manager
 *   policy: UpdateInstanceInformation and the four ssmmessages actions, Resource "*").
 * - Service Authorization Reference (ssm, ec2messages, ssmmessages): these actions take no
 *   resource ARN the agent could be scoped to before its instance exists, so Resource is "*";
 *   the role's credentials only ever speak for the instance they were issued to.
 * Left out on purpose: inventory, patching, compliance and association documents (add them
 * only if the account runs State Manager associations on these instances).
 */
export const SSM_AGENT_STATEMENTS: readonly object[] = [
  {
    Sid: "SsmAgentRegistration",
    Effect: "Allow",
    Action: ["ssm:UpdateInstanceInformation", "ssm:ListInstanceAssociations", "ssm:UpdateInstanceAssociationStatus"],
    Resource: "*",
  },
  {
    Sid: "SsmAgentRunCommand",
    Effect: "Allow",
    Action: [
      "ec2messages:AcknowledgeMessage",
      "ec2messages:DeleteMessage",
      "ec2messages:FailMessage",
      "ec2messages:GetEndpoint",
      "ec2messages:GetMessages",
      "ec2messages:SendReply",
    ],
    Resource: "*",
  },
  {
    Sid: "SsmAgentChannels",
    Effect: "Allow",
    Action: [
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
    ],
    Resource: "*",
  },
];

/**
 * Reading one SecureString parameter, given its ARN: ssm:GetParameter on that parameter only,
 * and kms:Decrypt with a key of its account and region (the AWS-managed aws/ssm key: the
 * parameter names no other) only when Parameter Store asks for it (kms:ViaService). So the
 * role decrypts nothing but parameters it may get, and it may get only this one.
 */
export function parameterReadStatements(parameterArn: string): object[] {
  const [prefix, partition, service, region, account] = parameterArn.split(":");
  if (prefix !== "arn" || service !== "ssm" || !region || !account) {
    throw new Error(`not an SSM parameter ARN: ${parameterArn}`);
  }
  return [
    { Sid: "ReadOwnConfig", Effect: "Allow", Action: "ssm:GetParameter", Resource: parameterArn },
    {
      Sid: "DecryptOwnConfigThroughSsm",
      Effect: "Allow",
      Action: "kms:Decrypt",
      Resource: `arn:${partition}:kms:${region}:${account}:key/*`,
      Condition: {
        StringEquals: { "kms:ViaService": `ssm.${region}.amazonaws.com` },
      },
    },
  ];
}

/**
 * Reading the certificate parameter (HTTPS) as well, given its ARN: ssm:GetParameter on that
 * parameter only; its decryption goes through the config's kms:Decrypt statement (same key,
 * through Parameter Store only).
 */
export function certificateReadStatement(parameterArn: string): object {
  const [prefix, , service] = parameterArn.split(":");
  if (prefix !== "arn" || service !== "ssm") throw new Error(`not an SSM parameter ARN: ${parameterArn}`);
  return { Sid: "ReadOwnCertificate", Effect: "Allow", Action: "ssm:GetParameter", Resource: parameterArn };
}

/**
 * An EC2 instance role with one inline policy: the SSM agent's calls (Run Command, Session
 * Manager instead of SSH) plus the given statements, and no managed policy.
 */
export function createInstanceRole(
  name: string,
  statements: pulumi.Input<readonly object[]>,
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
  const policy = new aws.iam.RolePolicy(
    `${name}-policy`,
    {
      role: role.id,
      policy: pulumi
        .output(statements)
        .apply((own) => JSON.stringify({ Version: "2012-10-17", Statement: [...SSM_AGENT_STATEMENTS, ...own] })),
    },
    { parent },
  );
  const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name }, { parent });
  return { role, profile, policies: [policy] };
}

/** Instance settings every instance of the module shares: the security defaults. */
export const SECURE_INSTANCE_DEFAULTS = {
  // IMDSv2 only; a hop limit of 1 keeps the instance's credentials out of reach of containers.
  metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
  rootBlockDevice: { encrypted: true, volumeType: "gp3", deleteOnTermination: true },
  // User data is read at first boot only: a new one must mean a new instance, not a reboot.
  userDataReplaceOnChange: true,
};
