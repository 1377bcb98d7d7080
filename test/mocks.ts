// Pulumi's mock runtime for every test file, set before any program code is imported.
// Records each registered resource and each invoke; cleared before each test.
import * as assert from "assert";
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { resetHostPortClaims, TrafficDistributor, TrafficDistributorChildren } from "../components/trafficDistributor";
import { secretInputNames, tlsProviderState, unwrapSecrets } from "./tlsProvider";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  /** The inputs, secrets unwrapped. */
  readonly inputs: Record<string, any>;
  /** Names of the inputs that arrived as secrets. */
  readonly secretInputs: readonly string[];
  readonly custom: boolean;
}

export const registered: RecordedResource[] = [];

export { STATS_PASSWORD } from "./statsPassword";

/** The one resource of `type` named `name`; fails unless exactly one was registered. */
export function only(type: string, name: string): RecordedResource {
  const matches = registered.filter((r) => r.type === type && r.name === name);
  assert.strictEqual(matches.length, 1, `${type} ${name} registered ${matches.length} times`);
  return matches[0];
}

/** Outputs of the stacks a program's StackReferences name, by stack name. */
export const stackOutputs: Record<string, Record<string, unknown>> = {};
export const invoked: Array<{ token: string; inputs: Record<string, any> }> = [];

/** What the AWS data sources answer under the mocks. */
export const AWS_FIXTURES = {
  defaultVpcId: "vpc-0d0d0d0d0d0d0d0d0",
  // Unsorted on purpose: the component sorts them.
  defaultSubnetIds: ["subnet-0bbbbbbbbbbbbbbbb", "subnet-0aaaaaaaaaaaaaaaa"],
  amis: { x86_64: "ami-0a1b2c3d4e5f60718", arm64: "ami-0f1e2d3c4b5a69788" },
  region: "eu-west-1",
};

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Computed outputs of the AWS resources the components read, derived from names and inputs. */
function awsOutputs(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
  switch (type) {
    case "aws:ec2/instance:Instance": {
      const [a, b] = digest(name);
      return { privateIp: `10.0.${a}.${b}` };
    }
    case "aws:ec2/eip:Eip":
      return {
        allocationId: `eipalloc-${name}`,
        publicIp: "203.0.113.10",
        publicDns: "ec2-203-0-113-10.eu-west-1.compute.amazonaws.com",
      };
    case "aws:ssm/parameter:Parameter": {
      // A new value is a new version, as in SSM.
      const version = digest(JSON.stringify(inputs.value)).readUInt16BE(0) + 1;
      return { name: `${name}-a1b2c3d`, arn: `arn:aws:ssm:eu-west-1:123456789012:parameter/${name}-a1b2c3d`, version };
    }
    case "aws:ssm/document:Document":
      return { name: `${name}-e4f5a6b` };
    case "aws:iam/role:Role":
      return { name: `${name}-r1`, arn: `arn:aws:iam::123456789012:role/${name}-r1` };
    case "aws:iam/instanceProfile:InstanceProfile":
      return { name: `${name}-p1` };
    case "aws:route53/record:Record":
      return { fqdn: String(inputs.name).includes(".") ? inputs.name : `${inputs.name}.example.com` };
    case "pulumi-nodejs:dynamic/traffic-distributor:ConfigDelivery":
      return { report: "traffic-distributor: traffic-distributor reloaded (attempt 1, new worker 42)" };
    default:
      return {};
  }
}

pulumi.runtime.setMocks(
  {
    newResource(args: pulumi.runtime.MockResourceArgs) {
      const inputs = unwrapSecrets(args.inputs) as Record<string, any>;
      const secretInputs = secretInputNames(args.inputs);
      registered.push({ type: args.type, name: args.name, inputs, secretInputs, custom: args.custom ?? false });
      const state: Record<string, unknown> = {
        ...args.inputs,
        ...awsOutputs(args.type, args.name, args.inputs),
        ...tlsProviderState(args.type, args.name, args.inputs),
      };
      // Computed outputs the Docker components read.
      if (args.type === "docker:index/remoteImage:RemoteImage") state.imageId = `sha256:${args.inputs.name}`;
      if (args.type === "command:local:Command") state.stdout = "reloaded";
      if (args.type === "pulumi:pulumi:StackReference") {
        state.outputs = stackOutputs[args.inputs.name] ?? {};
        state.secretOutputNames = [];
      }
      return { id: args.custom ? `${args.name}-id` : undefined, state };
    },
    call(args: pulumi.runtime.MockCallArgs) {
      invoked.push({ token: args.token, inputs: args.inputs });
      switch (args.token) {
        case "aws:ec2/getVpc:getVpc":
          return { id: AWS_FIXTURES.defaultVpcId, default: true, cidrBlock: "172.31.0.0/16" };
        case "aws:ec2/getSubnets:getSubnets":
          return { id: AWS_FIXTURES.region, ids: AWS_FIXTURES.defaultSubnetIds };
        case "aws:ssm/getParameter:getParameter": {
          const ami = String(args.inputs.name).endsWith("arm64") ? AWS_FIXTURES.amis.arm64 : AWS_FIXTURES.amis.x86_64;
          return { id: args.inputs.name, name: args.inputs.name, type: "String", value: ami, insecureValue: ami };
        }
        case "aws:index/getRegion:getRegion":
          return { id: AWS_FIXTURES.region, name: AWS_FIXTURES.region, region: AWS_FIXTURES.region };
      }
      throw new Error(`unexpected invoke ${args.token}: the components must not call other data sources`);
    },
  },
  "traffic-distributor",
  "test",
  false,
);

/**
 * Each registration's dependencies (URNs: `dependsOn` and the resources its inputs come from),
 * by "type name": what Pulumi orders deletes by (dependents first).
 */
export const dependenciesOf = new Map<string, string[]>();
const monitor = pulumi.runtime.getMonitor() as any;
const registerResource = monitor.registerResource.bind(monitor);
monitor.registerResource = (request: any, callback: unknown) => {
  dependenciesOf.set(`${request.getType()} ${request.getName()}`, request.getDependenciesList());
  return registerResource(request, callback);
};

/** Resolves an Output in a test (its value, unknown in preview, is always known under these mocks). */
/** The children of a distributor on `target`, narrowed by the discriminant users narrow on. */
export function childrenOn<T extends TrafficDistributorChildren["target"]>(td: TrafficDistributor, target: T): Extract<TrafficDistributorChildren, { target: T }> {
  const children = td.children;
  assert.strictEqual(children.target, target);
  return children as Extract<TrafficDistributorChildren, { target: T }>;
}

export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** Waits until every registration started so far has reached the mock. */
export async function settled(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

export const mochaHooks = {
  beforeEach() {
    registered.length = 0;
    invoked.length = 0;
    dependenciesOf.clear();
    resetHostPortClaims();
  },
};
