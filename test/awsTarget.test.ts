// The `aws` target under Pulumi's mocks: the resource graph, the firewall, the security
// defaults, and the proof that a release step replaces nothing.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { gunzipSync } from "zlib";
import * as aws from "../components/aws";
import { TrafficDistributor, TrafficDistributorArgs } from "../components";
import { deployOnAws } from "./awsDeploy";
import { AWS_FIXTURES, childrenOn, dependenciesOf, invoked, promiseOf, RecordedResource, registered, settled, only, STATS_PASSWORD } from "./mocks";

const INSTANCE = "aws:ec2/instance:Instance";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule";
const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";
const RECORD = "aws:route53/record:Record";
const PARAMETER = "aws:ssm/parameter:Parameter";
const DELIVERY = "pulumi-nodejs:dynamic/traffic-distributor:ConfigDelivery";
const EIP = "aws:ec2/eip:Eip";
const EIP_ASSOCIATION = "aws:ec2/eipAssociation:EipAssociation";
const DOCUMENT = "aws:ssm/document:Document";
const DRAIN = "pulumi-nodejs:dynamic/traffic-distributor:ReplicaDrain";

const DNS = { zoneId: "Z0123456789ABCDEFGHIJ", name: "app.example.com" };


async function snapshot(name: string, args: TrafficDistributorArgs): Promise<Map<string, RecordedResource>> {
  registered.length = 0;
  await deployOnAws(name, args);
  return new Map(registered.map((r) => [`${r.type} ${r.name}`, r] as [string, RecordedResource]).sort(([a], [b]) => a.localeCompare(b)));
}

function changedBetween(before: Map<string, RecordedResource>, after: Map<string, RecordedResource>): string[] {
  return [...after.keys()].filter((key) => JSON.stringify(after.get(key)!.inputs) !== JSON.stringify(before.get(key)?.inputs));
}

function ofType(type: string): RecordedResource[] {
  return registered.filter((r) => r.type === type);
}

/** The unwrapped value of an input that may be a secret. */
function plain(value: any): any {
  return value !== null && typeof value === "object" && "value" in value && Object.keys(value).length === 2 ? value.value : value;
}

describe("TrafficDistributor on AWS (mocks)", () => {
  it("registers the environments, the distributor and the firewall, named after the component", async () => {
    await deployOnAws("shop", { aws: { dns: { ...DNS, aliases: ["www"] } } });
    const counts = new Map<string, number>();
    for (const r of registered) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
    assert.deepStrictEqual(Object.fromEntries([...counts].sort()), {
      "aws:ec2/eip:Eip": 1,
      "aws:ec2/eipAssociation:EipAssociation": 1,
      "aws:ec2/instance:Instance": 5,
      "aws:ec2/securityGroup:SecurityGroup": 3,
      "aws:iam/instanceProfile:InstanceProfile": 3,
      "aws:iam/role:Role": 3,
      "aws:iam/rolePolicy:RolePolicy": 3,
      "aws:route53/record:Record": 2,
      "aws:ssm/document:Document": 2,
      "aws:ssm/parameter:Parameter": 1,
      "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": 5,
      "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": 3,
      "pulumi-nodejs:dynamic/traffic-distributor:ConfigDelivery": 1,
      "pulumi-nodejs:dynamic/traffic-distributor:ReplicaDrain": 4,
      "traffic-distributor:aws:Distributor": 1,
      "traffic-distributor:aws:Environment": 2,
      "traffic-distributor:index:TrafficDistributor": 1,
    });
    assert.deepStrictEqual(ofType(INSTANCE).map((r) => r.name).sort(), [
      "shop-blue-0",
      "shop-blue-1",
      "shop-distributor",
      "shop-green-0",
      "shop-green-1",
    ]);
    for (const r of registered) assert.ok(r.name.startsWith("shop"), `${r.type} ${r.name} is not named after the component`);
    // No Docker resources and no local command on this target.
    assert.ok(!registered.some((r) => r.type.startsWith("docker:") || r.type.startsWith("command:")));
  });

  it("parents every child under the component", async () => {
    const td = await deployOnAws("shop");
    const urnTail = async (r: pulumi.Resource) => (await promiseOf(r.urn)).split("::").slice(2).join("::");
    const root = "traffic-distributor:index:TrafficDistributor";
    const distributor = childrenOn(td, "aws").distributor;
    const blue = childrenOn(td, "aws").environments.blue!;
    assert.strictEqual(await urnTail(blue), `${root}$traffic-distributor:aws:Environment::shop-blue`);
    assert.strictEqual(await urnTail(distributor), `${root}$traffic-distributor:aws:Distributor::shop-distributor`);
    assert.strictEqual(await urnTail(blue.instances[1]), `traffic-distributor:aws:Environment$${INSTANCE}::shop-blue-1`);
    assert.strictEqual(await urnTail(distributor.instance), `traffic-distributor:aws:Distributor$${INSTANCE}::shop-distributor`);
    assert.strictEqual(await urnTail(distributor.configDelivery), `traffic-distributor:aws:Distributor$${DELIVERY}::shop-distributor-delivery`);
  });

  it("opens the listen port to the configured CIDRs only, and each app port to the distributor's group only", async () => {
    await deployOnAws("shop", {
      listenPort: 80,
      blue: { port: 8080 },
      green: { port: 3000 },
      aws: { ingressCidrs: ["203.0.113.0/24", "2001:db8::/32"] },
    });
    const distributorGroup = "shop-distributor-sg-id";
    const ingress = ofType(INGRESS).map((r) => r.inputs);
    assert.deepStrictEqual(
      ingress.filter((rule) => rule.securityGroupId === distributorGroup),
      [
        { securityGroupId: distributorGroup, description: "clients on the listen port from 203.0.113.0/24", ipProtocol: "tcp", fromPort: 80, toPort: 80, cidrIpv4: "203.0.113.0/24" },
        { securityGroupId: distributorGroup, description: "clients on the listen port from 2001:db8::/32", ipProtocol: "tcp", fromPort: 80, toPort: 80, cidrIpv6: "2001:db8::/32" },
      ],
    );
    for (const [color, port] of [["blue", 8080], ["green", 3000]] as const) {
      assert.deepStrictEqual(only(INGRESS, `shop-${color}-in`).inputs, {
        securityGroupId: `shop-${color}-sg-id`,
        description: "the app port, from the distributor only",
        ipProtocol: "tcp",
        fromPort: port,
        toPort: port,
        referencedSecurityGroupId: distributorGroup,
      });
      assert.deepStrictEqual(only(EGRESS, `shop-distributor-to-${color}`).inputs.referencedSecurityGroupId, `shop-${color}-sg-id`);
    }
    for (const rule of ingress) {
      // No backend port and no SSH is reachable from an address range.
      if (rule.securityGroupId !== distributorGroup) assert.strictEqual(rule.cidrIpv4 ?? rule.cidrIpv6, undefined);
      assert.ok(rule.fromPort !== 22 && rule.toPort !== 22, "port 22 is open");
    }
    assert.strictEqual(ingress.length, 4);
    // The distributor's own egress: HTTPS anywhere (image, packages, SSM) and the two app ports.
    assert.deepStrictEqual(
      ofType(EGRESS).filter((r) => r.inputs.securityGroupId === distributorGroup).map((r) => [r.name, r.inputs.fromPort, r.inputs.toPort, r.inputs.cidrIpv4 ?? r.inputs.referencedSecurityGroupId]).sort(),
      [
        ["shop-distributor-out-443", 443, 443, "0.0.0.0/0"],
        ["shop-distributor-to-blue", 8080, 8080, "shop-blue-sg-id"],
        ["shop-distributor-to-green", 3000, 3000, "shop-green-sg-id"],
      ],
    );
    // Security groups carry no inline rules: every rule above is its own resource.
    for (const group of ofType(SECURITY_GROUP)) {
      assert.strictEqual(group.inputs.ingress, undefined);
      assert.strictEqual(group.inputs.egress, undefined);
    }
  });

  it("lets the distributor reach existing servers on their ports, and provisions nothing for them", async () => {
    const td = await deployOnAws("shop", { blue: { servers: ["10.1.0.5:8080", "10.1.0.6:8080", "10.1.0.7:9000"] } });
    assert.strictEqual(td.environments.blue, undefined);
    // Exported, so that the existing servers' own security group can admit the distributor.
    assert.strictEqual(await promiseOf(td.securityGroupId), "shop-distributor-sg-id");
    assert.ok(!registered.some((r) => r.name.startsWith("shop-blue")));
    const egress = ofType(EGRESS).map((r) => [r.name, r.inputs.fromPort, r.inputs.toPort]).sort();
    assert.deepStrictEqual(egress, [
      ["shop-distributor-out-443", 443, 443],
      ["shop-distributor-out-8080", 8080, 8080],
      ["shop-distributor-out-9000", 9000, 9000],
      ["shop-distributor-to-green", 80, 80],
      ["shop-green-out", undefined, undefined],
    ]);
    const config = aws.decodeConfigParameter(plain(only(PARAMETER, "shop-distributor-config").inputs.value));
    assert.match(config, /server blue_10\.1\.0\.7:9000 10\.1\.0\.7:9000 [^\n]*check/);
  });

  it("follows existing servers' ports when they arrive as Outputs: no port range opened wide", async () => {
    await deployOnAws("shop", { blue: { servers: pulumi.output(["10.1.0.5:8080", "10.1.0.6:9000", "10.1.0.7:8080"]) } });
    for (const rule of ofType(EGRESS)) {
      assert.ok(rule.inputs.fromPort === rule.inputs.toPort || rule.inputs.ipProtocol === "-1", `${rule.name} opens ${rule.inputs.fromPort}-${rule.inputs.toPort}`);
    }
    assert.deepStrictEqual(ofType(EGRESS).map((r) => r.name).sort(), ["shop-distributor-out-443", "shop-distributor-to-green", "shop-green-out"]);
    const group = only(SECURITY_GROUP, "shop-distributor-servers-sg").inputs;
    assert.strictEqual(group.ingress, undefined);
    assert.deepStrictEqual(group.egress, [
      { description: "existing servers (ports resolved at deploy time)", protocol: "tcp", fromPort: 8080, toPort: 8080, cidrBlocks: ["0.0.0.0/0"] },
      { description: "existing servers (ports resolved at deploy time)", protocol: "tcp", fromPort: 9000, toPort: 9000, cidrBlocks: ["0.0.0.0/0"] },
    ]);
    assert.deepStrictEqual(only(INSTANCE, "shop-distributor").inputs.vpcSecurityGroupIds, ["shop-distributor-sg-id", "shop-distributor-servers-sg-id"]);
  });

  it("keeps plain server lists on one rule per port, and adds no servers group for them", async () => {
    await deployOnAws("shop", { blue: { servers: ["10.1.0.5:8080"] } });
    assert.strictEqual(ofType(SECURITY_GROUP).filter((r) => r.name === "shop-distributor-servers-sg").length, 0);
    assert.deepStrictEqual(only(INSTANCE, "shop-distributor").inputs.vpcSecurityGroupIds, ["shop-distributor-sg-id"]);
  });

  it("requires IMDSv2, encrypts root volumes, and replaces (never reboots) an instance whose user data changes", async () => {
    await deployOnAws("shop");
    const instances = ofType(INSTANCE);
    assert.strictEqual(instances.length, 5);
    for (const instance of instances) {
      assert.deepStrictEqual(instance.inputs.metadataOptions, { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 }, instance.name);
      assert.deepStrictEqual(instance.inputs.rootBlockDevice, { encrypted: true, volumeType: "gp3", deleteOnTermination: true }, instance.name);
      assert.strictEqual(instance.inputs.userDataReplaceOnChange, true);
      assert.strictEqual(instance.inputs.keyName, undefined, `${instance.name} has an SSH key`);
      assert.strictEqual(instance.inputs.ami, AWS_FIXTURES.amis.x86_64);
    }
    assert.strictEqual(only(INSTANCE, "shop-distributor").inputs.vpcSecurityGroupIds[0], "shop-distributor-sg-id");
    assert.deepStrictEqual(only(INSTANCE, "shop-green-1").inputs.vpcSecurityGroupIds, ["shop-green-sg-id"]);
  });

  describe("instance roles", () => {
    // What the SSM agent calls (Run Command, Session Manager), written out: any change is a conscious one.
    const AGENT = [
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
        Action: ["ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"],
        Resource: "*",
      },
    ];
    const policyOf = (role: string) => JSON.parse(only("aws:iam/rolePolicy:RolePolicy", `${role}-policy`).inputs.policy);

    it("attach no managed policy: AmazonSSMManagedInstanceCore reads every parameter of the account", async () => {
      await deployOnAws("shop");
      assert.deepStrictEqual(ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").map((r) => r.inputs.policyArn), []);
      assert.deepStrictEqual(ofType("aws:iam/rolePolicy:RolePolicy").map((r) => [r.name, r.inputs.role]).sort(), [
        ["shop-blue-policy", "shop-blue-role-id"],
        ["shop-distributor-policy", "shop-distributor-role-id"],
        ["shop-green-policy", "shop-green-role-id"],
      ]);
    });

    it("let app instances run the SSM agent and read no parameter", async () => {
      await deployOnAws("shop");
      for (const color of ["blue", "green"]) {
        assert.deepStrictEqual(policyOf(`shop-${color}`), { Version: "2012-10-17", Statement: AGENT });
        assert.doesNotMatch(JSON.stringify(policyOf(`shop-${color}`)), /GetParameter|kms:/);
      }
    });

    it("let the distributor read its own config parameter only, and decrypt it only through SSM", async () => {
      await deployOnAws("shop");
      const parameter = "arn:aws:ssm:eu-west-1:123456789012:parameter/shop-distributor-config-a1b2c3d";
      assert.deepStrictEqual(policyOf("shop-distributor"), {
        Version: "2012-10-17",
        Statement: [
          ...AGENT,
          { Sid: "ReadOwnConfig", Effect: "Allow", Action: "ssm:GetParameter", Resource: parameter },
          {
            Sid: "DecryptOwnConfigThroughSsm",
            Effect: "Allow",
            Action: "kms:Decrypt",
            Resource: "arn:aws:kms:eu-west-1:123456789012:key/*",
            Condition: { StringEquals: { "kms:ViaService": "ssm.eu-west-1.amazonaws.com" } },
          },
        ],
      });
      const trust = JSON.parse(only("aws:iam/role:Role", "shop-distributor-role").inputs.assumeRolePolicy);
      assert.deepStrictEqual(trust.Statement, [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }]);
      assert.strictEqual(only(INSTANCE, "shop-distributor").inputs.iamInstanceProfile, "shop-distributor-profile-p1");
      assert.strictEqual(only(INSTANCE, "shop-blue-0").inputs.iamInstanceProfile, "shop-blue-profile-p1");
    });

    it("refuse to build a read policy from anything but an SSM parameter ARN", () => {
      assert.throws(() => aws.parameterReadStatements("arn:aws:s3:::bucket"), /^Error: not an SSM parameter ARN: arn:aws:s3:::bucket$/);
      assert.throws(() => aws.parameterReadStatements("shop-distributor-config"), /not an SSM parameter ARN/);
    });
  });

  it("keeps the config a SecureString and delivers the parameter's exact version to the distributor instance", async () => {
    const td = await deployOnAws("shop", { statsPassword: pulumi.secret("s3cret-pass") });
    const parameter = only(PARAMETER, "shop-distributor-config");
    assert.strictEqual(parameter.inputs.type, "SecureString");
    // gzip, then base64: what the delivery document decodes with `base64 -d | gunzip`.
    const stored = plain(parameter.inputs.value);
    assert.match(stored, /^[A-Za-z0-9+/]+=*$/);
    assert.strictEqual(gunzipSync(Buffer.from(stored, "base64")).toString("utf8"), await promiseOf(td.haproxyConfig));
    assert.match(await promiseOf(td.haproxyConfig), /stats auth admin:'s3cret-pass'/);
    assert.strictEqual(await pulumi.isSecret(td.haproxyConfig), true);
    const delivery = only(DELIVERY, "shop-distributor-delivery").inputs;
    assert.strictEqual(delivery.instanceId, "shop-distributor-id");
    assert.strictEqual(delivery.documentName, "shop-distributor-deliver-config-e4f5a6b");
    assert.strictEqual(delivery.parameterName, "shop-distributor-config-a1b2c3d");
    assert.strictEqual(typeof delivery.parameterVersion, "number");
    assert.strictEqual(delivery.region, AWS_FIXTURES.region);
    assert.strictEqual(only("aws:ssm/document:Document", "shop-distributor-deliver-config").inputs.content, aws.renderDeliveryDocument());
    // The provider is serialized for Pulumi's provider host: it must load and expose create/update.
    assert.match(delivery.__provider, /SendCommandCommand/);
  });

  describe("replica drains", () => {
    it("gives each app instance a drain with its address, port and drain.timeout, run on the distributor by the drain document", async () => {
      const td = await deployOnAws("shop", { timeouts: { drain: "2m" }, green: { port: 8081, replicas: 3 } });
      assert.deepStrictEqual(ofType(DRAIN).map((r) => r.name).sort(), [
        "shop-blue-0-drain",
        "shop-blue-1-drain",
        "shop-green-0-drain",
        "shop-green-1-drain",
        "shop-green-2-drain",
      ]);
      const green = childrenOn(td, "aws").environments.green!;
      const drain = only(DRAIN, "shop-green-2-drain").inputs;
      assert.deepStrictEqual(
        Object.fromEntries(Object.entries(drain).filter(([key]) => key !== "__provider")),
        {
          replicaInstanceId: "shop-green-2-id",
          replicaAddress: await promiseOf(green.instances[2].privateIp),
          replicaPort: 8081,
          timeoutSeconds: 120,
          distributorInstanceId: "shop-distributor-id",
          documentName: "shop-drain-replica-e4f5a6b",
          region: AWS_FIXTURES.region,
        },
      );
      assert.strictEqual(only("aws:ssm/document:Document", "shop-drain-replica").inputs.content, aws.renderDrainDocument());
      // The provider is serialized for Pulumi's provider host: its delete must reach SSM.
      assert.match(drain.__provider, /SendCommandCommand/);
      assert.match(drain.__provider, /replicaInstanceId/);
    });

    it("waits drain.timeout when set, and registers no drain (nor its document) at 0s", async () => {
      await deployOnAws("quick", { drain: { timeout: "45s" } });
      assert.strictEqual(only(DRAIN, "quick-blue-0-drain").inputs.timeoutSeconds, 45);
      registered.length = 0;
      await deployOnAws("none", { drain: { timeout: "0s" } });
      assert.deepStrictEqual(ofType(DRAIN), []);
      assert.deepStrictEqual(ofType(DOCUMENT).map((r) => r.name), ["none-distributor-deliver-config"]);
    });

    it("depends on its instance, the delivery and the distributor, so Pulumi deletes it (and waits) before them", async () => {
      const td = await deployOnAws("shop");
      const blue = childrenOn(td, "aws").environments.blue!;
      const distributor = childrenOn(td, "aws").distributor;
      const [replica, otherReplica, delivery, distributorInstance] = await Promise.all(
        [blue.instances[1], blue.instances[0], distributor.configDelivery, distributor.instance].map((r) => promiseOf(r.urn)),
      );
      const drainDependencies = dependenciesOf.get(`${DRAIN} shop-blue-1-drain`)!;
      for (const urn of [replica, delivery, distributorInstance]) {
        assert.ok(drainDependencies.includes(urn), `the drain does not depend on ${urn}: ${drainDependencies.join(", ")}`);
      }
      assert.ok(!drainDependencies.includes(otherReplica), "the drain depends on another replica");
      assert.ok(drainDependencies.some((urn) => urn.endsWith(`${DOCUMENT}::shop-drain-replica`)), "the drain does not depend on its document");
      // And none of them depends on the drain: it is the dependent, deleted first.
      for (const key of [`${INSTANCE} shop-blue-1`, `${DELIVERY} shop-distributor-delivery`, `${INSTANCE} shop-distributor`]) {
        assert.ok(!dependenciesOf.get(key)!.some((urn) => urn.endsWith("::shop-blue-1-drain")), key);
      }
    });
  });

  it("renders the servers from the instances' private addresses", async () => {
    const td = await deployOnAws("shop", { green: { port: 8081, replicas: 3 } });
    const servers = await promiseOf(td.servers);
    const blue = childrenOn(td, "aws").environments.blue!;
    const ips = await promiseOf(pulumi.all(blue.instances.map((i) => i.privateIp)));
    assert.deepStrictEqual(servers.blue, ips.map((ip) => `${ip}:80`));
    assert.strictEqual(servers.green.length, 3);
    for (const server of servers.green) assert.match(server, /^10\.0\.\d+\.\d+:8081$/);
    assert.match(await promiseOf(td.haproxyConfig), new RegExp(`server green_${servers.green[2]} ${servers.green[2]} [^\\n]*check`));
  });

  it("attaches the Elastic IP to the distributor, and points the records at it", async () => {
    const td = await deployOnAws("shop", { listenPort: 80, aws: { dns: { ...DNS, ttl: 30, aliases: ["www"], takeOver: true } } });
    assert.deepStrictEqual(only(EIP, "shop-distributor-ip").inputs, { domain: "vpc", tags: { Name: "shop-distributor" } });
    assert.deepStrictEqual(only(EIP_ASSOCIATION, "shop-distributor-ip").inputs, {
      allocationId: "eipalloc-shop-distributor-ip",
      instanceId: "shop-distributor-id",
    });
    assert.deepStrictEqual(only(RECORD, "shop-distributor-record").inputs, {
      zoneId: DNS.zoneId,
      name: "app.example.com",
      type: "A",
      ttl: 30,
      records: ["203.0.113.10"],
      allowOverwrite: true,
    });
    assert.deepStrictEqual(only(RECORD, "shop-distributor-record-www").inputs.records, ["203.0.113.10"]);
    assert.strictEqual(await promiseOf(td.publicIp), "203.0.113.10");
    assert.strictEqual(await promiseOf(td.dnsName), "app.example.com");
    assert.strictEqual(await promiseOf(td.url), "http://app.example.com/");
    assert.match(await promiseOf(td.statsTunnelCommand) as string, /^aws ssm start-session --target shop-distributor-id --document-name AWS-StartPortForwardingSession --parameters portNumber=8404,localPortNumber=8404$/);
  });

  it("as a CNAME, points the record at the Elastic IP's public DNS name; without DNS, the URL is the IP", async () => {
    await deployOnAws("shop", { aws: { dns: { ...DNS, recordType: "CNAME" } } });
    const record = only(RECORD, "shop-distributor-record").inputs;
    assert.strictEqual(record.type, "CNAME");
    assert.deepStrictEqual(record.records, ["ec2-203-0-113-10.eu-west-1.compute.amazonaws.com"]);
    assert.strictEqual(record.allowOverwrite, false);
    const bare = await deployOnAws("bare", { listenPort: 8000 });
    assert.strictEqual(await promiseOf(bare.url), "http://203.0.113.10:8000/");
    assert.strictEqual(await promiseOf(bare.dnsName), undefined);
    assert.strictEqual(registered.filter((r) => r.type === RECORD && r.name.startsWith("bare")).length, 0);
  });

  it("changes weights and routing in place: instances, address and records keep their inputs; only the config and its delivery differ", async () => {
    const args = { aws: { dns: DNS } };
    const before = await snapshot("shop", { ...args, weights: { blue: 50, green: 50 } });
    const after = await snapshot("shop", { ...args, weights: { blue: 0, green: 100 }, routing: "sticky" });
    assert.deepStrictEqual([...after.keys()], [...before.keys()]);
    assert.deepStrictEqual(changedBetween(before, after), [
      `${PARAMETER} shop-distributor-config`,
      `${DELIVERY} shop-distributor-delivery`,
    ]);
    for (const type of [INSTANCE, EIP, EIP_ASSOCIATION, RECORD]) {
      const keys = [...after.keys()].filter((key) => key.startsWith(`${type} `));
      assert.ok(keys.length > 0, type);
      for (const key of keys) assert.deepStrictEqual(after.get(key)!.inputs, before.get(key)!.inputs, key);
    }
    const delivery = (m: Map<string, RecordedResource>) => m.get(`${DELIVERY} shop-distributor-delivery`)!.inputs;
    assert.notStrictEqual(delivery(after).parameterVersion, delivery(before).parameterVersion);
    assert.match(aws.decodeConfigParameter(plain(after.get(`${PARAMETER} shop-distributor-config`)!.inputs.value)), /server blue unix@\/var\/lib\/haproxy\/traffic-distributor-blue\.sock weight 0 check inter 200ms fall 1 rise 1 cookie blue/);
  });

  it("a new image for blue replaces blue's instances only (new user data); green, the distributor and the address stay", async () => {
    const before = await snapshot("shop", {});
    const after = await snapshot("shop", { blue: { image: "nginx:1.27" } });
    assert.deepStrictEqual(changedBetween(before, after), [`${INSTANCE} shop-blue-0`, `${INSTANCE} shop-blue-1`]);
    assert.match(after.get(`${INSTANCE} shop-blue-0`)!.inputs.userData, /docker run --rm --name app --log-driver json-file .*--publish 80:80 nginx:1.27$/m);
  });

  it("uses the default VPC's default subnets, sorted, and spreads the instances over them", async () => {
    await deployOnAws("shop", { blue: { replicas: 3 } });
    assert.deepStrictEqual(invoked.find((i) => i.token === "aws:ec2/getVpc:getVpc")!.inputs, { default: true });
    const subnets = [...AWS_FIXTURES.defaultSubnetIds].sort();
    assert.deepStrictEqual(ofType(INSTANCE).filter((r) => r.name.startsWith("shop-blue")).map((r) => r.inputs.subnetId), [subnets[0], subnets[1], subnets[0]]);
    assert.strictEqual(only(INSTANCE, "shop-distributor").inputs.subnetId, subnets[0]);
    assert.strictEqual(only(INSTANCE, "shop-distributor").inputs.associatePublicIpAddress, true);
    for (const group of ofType(SECURITY_GROUP)) assert.strictEqual(group.inputs.vpcId, AWS_FIXTURES.defaultVpcId);
  });

  it("uses a given VPC, subnets and AMI without looking anything up", async () => {
    await deployOnAws("shop", {
      aws: {
        vpcId: "vpc-0123456789abcdef0",
        subnetIds: ["subnet-01111111111111111", "subnet-02222222222222222"],
        distributorSubnetId: "subnet-0ffffffffffffffff",
        ami: "ami-0123456789abcdef0",
        instanceType: "m7g.large",
      },
    });
    assert.deepStrictEqual(invoked.map((i) => i.token), ["aws:index/getRegion:getRegion"]);
    assert.strictEqual(only(INSTANCE, "shop-distributor").inputs.subnetId, "subnet-0ffffffffffffffff");
    assert.strictEqual(only(INSTANCE, "shop-green-1").inputs.subnetId, "subnet-02222222222222222");
    assert.strictEqual(only(INSTANCE, "shop-green-1").inputs.instanceType, "m7g.large");
    for (const instance of ofType(INSTANCE)) assert.strictEqual(instance.inputs.ami, "ami-0123456789abcdef0");
    for (const group of ofType(SECURITY_GROUP)) assert.strictEqual(group.inputs.vpcId, "vpc-0123456789abcdef0");
  });

  it("picks the Amazon Linux 2023 AMI of each instance type's architecture", async () => {
    await deployOnAws("shop", { aws: { instanceType: "t4g.small", distributorInstanceType: "c7i.large" } });
    assert.strictEqual(only(INSTANCE, "shop-blue-0").inputs.ami, AWS_FIXTURES.amis.arm64);
    assert.strictEqual(only(INSTANCE, "shop-distributor").inputs.ami, AWS_FIXTURES.amis.x86_64);
    assert.deepStrictEqual(
      invoked.filter((i) => i.token === "aws:ssm/getParameter:getParameter").map((i) => i.inputs.name).sort(),
      [
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
      ],
    );
  });

  it("looks the AMI up once when both instance types share an architecture", async () => {
    await deployOnAws("shop", { aws: { instanceType: "t3.micro", distributorInstanceType: "c7i.large" } });
    assert.deepStrictEqual(
      invoked.filter((i) => i.token === "aws:ssm/getParameter:getParameter").map((i) => i.inputs.name),
      ["/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"],
    );
    for (const instance of ofType(INSTANCE)) assert.strictEqual(instance.inputs.ami, AWS_FIXTURES.amis.x86_64);
  });

  it("fits 20 + 20 replicas in the parameter, with a password, DNS and the hold template", async () => {
    const td = await deployOnAws("shop", { blue: { replicas: 20 }, green: { replicas: 20, port: 8081 }, statsPassword: pulumi.secret("s3cret-pass"), aws: { dns: DNS } });
    const config = await promiseOf(td.haproxyConfig);
    const stored = plain(only(PARAMETER, "shop-distributor-config").inputs.value);
    console.log(`      20 + 20 replicas: config ${Buffer.byteLength(config)} bytes, parameter ${Buffer.byteLength(stored)} bytes of 8192`);
    assert.ok(Buffer.byteLength(config) > 8192, "the config alone would not fit: the test proves nothing");
    assert.ok(Buffer.byteLength(stored) <= 8192);
  });

  it("refuses a config too large for the parameter, naming the replica counts, before registering any resource", async () => {
    const servers = (base: number) => Array.from({ length: 400 }, (_, i) => `10.${base}.${Math.floor(i / 200)}.${i % 200}:${8000 + i}`);
    assert.throws(
      () => new TrafficDistributor("huge", { statsPassword: STATS_PASSWORD, target: "aws", blue: { servers: servers(1) }, green: { servers: servers(2) } }),
      /^SettingsError: aws: the HAProxy config for 400 blue and 400 green replicas takes \d+ bytes in its SSM parameter \(gzip, then base64\), more than the 8192 a parameter holds/,
    );
    await settled();
    assert.deepStrictEqual(registered, []);
  });

  it("throws on bad AWS input before registering any resource", async () => {
    const cases: Array<[TrafficDistributorArgs, RegExp]> = [
      [{ target: "aws", aws: { dns: { name: "app.example.com" } as any } }, /^SettingsError: aws.dns.name is set but aws.dns.zoneId is not/],
      [{ target: "aws", aws: { ingressCidrs: ["10.0.0.1/8"] } }, /^SettingsError: aws.ingressCidrs\[0\] is "10.0.0.1\/8": has host bits set; the network is "10.0.0.0\/8"$/],
      [{ target: "aws", aws: { instanceType: "large" } }, /^SettingsError: aws.instanceType is "large": must be an EC2 instance type/],
      [{ target: "docker", aws: {} }, /^SettingsError: aws is set but target is "docker"/],
    ];
    for (const [args, pattern] of cases) assert.throws(() => new TrafficDistributor("bad", args), pattern);
    await settled();
    assert.deepStrictEqual(registered, []);
  });
});
