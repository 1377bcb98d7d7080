// The firewall of an AWS deployment, in one place: only the distributor's listen port (and its
// HTTPS port) is open to the world; each color's app port is open to the distributor's security
// group alone; no SSH anywhere (Session Manager replaces it). Every rule is its own resource, so adding or
// removing one never rewrites the others; the one exception is the egress to existing servers
// whose ports arrive as Outputs, which lives in a group of its own.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { isIP } from "net";
import { Color, COLORS } from "../settings";

/** What each color needs from the firewall. */
export type ColorAccess =
  | { readonly kind: "provisioned"; readonly port: number }
  /** Existing servers: their ports, known up front or once another resource or stack resolves them. */
  | { readonly kind: "existing"; readonly ports: readonly number[] | pulumi.Output<number[]> };

export interface SecurityGroupsArgs {
  readonly vpcId: pulumi.Input<string>;
  readonly listenPort: number;
  /** The HTTPS port, open to the same ranges as the listen port (with `tls`). */
  readonly tlsPort?: number;
  readonly ingressCidrs: readonly string[];
  readonly colors: Readonly<Record<Color, ColorAccess>>;
  /** The colors' preview ports and who may reach them (`preview.enabled`). */
  readonly preview?: { readonly ports: Readonly<Record<Color, number>>; readonly allowedCidrs: readonly string[] };
}

export interface SecurityGroups {
  readonly distributor: aws.ec2.SecurityGroup;
  /**
   * Egress to existing servers whose ports arrive as Outputs: its own group with inline rules,
   * which follow the resolved ports (a rule resource per port cannot, the count being unknown).
   */
  readonly resolvedServers?: aws.ec2.SecurityGroup;
  /** One per provisioned color. */
  readonly environments: Partial<Record<Color, aws.ec2.SecurityGroup>>;
}

const ANYWHERE = "0.0.0.0/0";
/** The distributor pulls its image and reaches SSM over HTTPS. */
const HTTPS = 443;

function cidr(block: string): { cidrIpv4: string } | { cidrIpv6: string } {
  return isIP(block.split("/")[0]) === 6 ? { cidrIpv6: block } : { cidrIpv4: block };
}

export function createSecurityGroups(name: string, args: SecurityGroupsArgs, parent: pulumi.Resource): SecurityGroups {
  const group = (groupName: string, description: string) =>
    new aws.ec2.SecurityGroup(
      groupName,
      { vpcId: args.vpcId, description, tags: { Name: groupName } },
      // The rules below are separate resources; inline ones would fight them.
      { parent },
    );

  const distributor = group(`${name}-distributor-sg`, `traffic-distributor ${name}: the distributor`);
  /** One TCP port of the distributor, open to one address block. */
  const openToBlock = (ruleName: string, port: number, description: string, block: string) =>
    new aws.vpc.SecurityGroupIngressRule(
      ruleName,
      { securityGroupId: distributor.id, description, ipProtocol: "tcp", fromPort: port, toPort: port, ...cidr(block) },
      { parent },
    );
  args.ingressCidrs.forEach((block, i) => {
    openToBlock(`${name}-distributor-in-${i}`, args.listenPort, `clients on the listen port from ${block}`, block);
    if (args.tlsPort !== undefined) openToBlock(`${name}-distributor-tls-in-${i}`, args.tlsPort, `clients on the HTTPS port from ${block}`, block);
  });

  const preview = args.preview;
  if (preview) {
    for (const color of COLORS) {
      preview.allowedCidrs.forEach((block, i) => {
        openToBlock(`${name}-distributor-preview-${color}-in-${i}`, preview.ports[color], `${color}'s preview from ${block}`, block);
      });
    }
  }

  // Egress to anywhere, by port range; a range is created once even when several reasons need it.
  const anywhere = new Map<string, { from: number; to: number; why: string }>();
  const allowAnywhere = (from: number, to: number, why: string) => {
    const key = from === to ? `${from}` : `${from}-${to}`;
    if (!anywhere.has(key)) anywhere.set(key, { from, to, why });
  };
  allowAnywhere(HTTPS, HTTPS, "image pulls, packages and SSM over HTTPS");

  const environments: Partial<Record<Color, aws.ec2.SecurityGroup>> = {};
  const resolvedPorts: pulumi.Output<number[]>[] = [];
  for (const color of COLORS) {
    const access = args.colors[color];
    if (access.kind === "existing") {
      if (pulumi.Output.isInstance(access.ports)) resolvedPorts.push(access.ports);
      else for (const port of access.ports) allowAnywhere(port, port, `${color}'s existing servers`);
      continue;
    }
    const environment = group(`${name}-${color}-sg`, `traffic-distributor ${name}: ${color}'s app instances`);
    environments[color] = environment;
    new aws.vpc.SecurityGroupIngressRule(
      `${name}-${color}-in`,
      {
        securityGroupId: environment.id,
        description: "the app port, from the distributor only",
        ipProtocol: "tcp",
        fromPort: access.port,
        toPort: access.port,
        referencedSecurityGroupId: distributor.id,
      },
      { parent },
    );
    // Apps reach their own dependencies (databases, APIs, registries) on any port.
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-${color}-out`,
      { securityGroupId: environment.id, description: "the app's own outbound traffic", ipProtocol: "-1", cidrIpv4: ANYWHERE },
      { parent },
    );
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-distributor-to-${color}`,
      {
        securityGroupId: distributor.id,
        description: `requests and health checks to ${color}`,
        ipProtocol: "tcp",
        fromPort: access.port,
        toPort: access.port,
        referencedSecurityGroupId: environment.id,
      },
      { parent },
    );
  }
  for (const [key, rule] of anywhere) {
    new aws.vpc.SecurityGroupEgressRule(
      `${name}-distributor-out-${key}`,
      {
        securityGroupId: distributor.id,
        description: rule.why,
        ipProtocol: "tcp",
        fromPort: rule.from,
        toPort: rule.to,
        cidrIpv4: ANYWHERE,
      },
      { parent },
    );
  }
  const resolvedServers =
    resolvedPorts.length === 0
      ? undefined
      : new aws.ec2.SecurityGroup(
          `${name}-distributor-servers-sg`,
          {
            vpcId: args.vpcId,
            description: `traffic-distributor ${name}: the distributor to existing servers`,
            tags: { Name: `${name}-distributor-servers-sg` },
            // No ingress: this group only adds the distributor's egress to the servers' ports.
            egress: pulumi.all(resolvedPorts).apply((lists) =>
              [...new Set(lists.flat())]
                .sort((a, b) => a - b)
                .map((port) => ({
                  description: "existing servers (ports resolved at deploy time)",
                  protocol: "tcp",
                  fromPort: port,
                  toPort: port,
                  cidrBlocks: [ANYWHERE],
                })),
            ),
          },
          { parent },
        );
  return { distributor, resolvedServers, environments };
}
