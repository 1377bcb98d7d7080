import { PULUMI_YAML, withConfigBlock } from "../scripts/pulumiYaml";
import { CONFIGURATION_DOC, withConfigReference } from "../scripts/configReference";
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { STATS_PASSWORD } from "./mocks";
import {
  CONFIG_KEYS,
  configSourceFromMap,
  readConfigValue,
  readStackConfig,
} from "../components/stackConfig";

/** Stack config with these keys, and the stats password every stack needs unless `values` says otherwise. */
const ns = (values: Record<string, unknown>) =>
  configSourceFromMap(
    Object.fromEntries(Object.entries({ statsPassword: STATS_PASSWORD, ...values }).filter(([, v]) => v !== undefined).map(([k, v]) => [`traffic-distributor:${k}`, v])),
  );

describe("stack config", () => {
  it("refuses a stack without a stats password, naming the key and how to set one", () => {
    assert.throws(
      () => readStackConfig(ns({ statsPassword: undefined })),
      /^SettingsError: traffic-distributor:statsPassword is not set: the stats page and \/metrics answer every container on the distributor's network, so they always ask for a password: .*`pulumi config set --secret statsPassword <password>`/,
    );
  });

  it("with only the stats password gives the 50/50 round-robin demo", () => {
    const { settings } = readStackConfig(ns({}));
    assert.deepStrictEqual(settings.weights, { blue: 50, green: 50 });
    assert.strictEqual(settings.routing, "round-robin");
    // The documented demo: two containers per color of an image that answers with its hostname.
    assert.deepStrictEqual(settings.colors.blue, { kind: "provisioned", image: "traefik/whoami:v1.10.1", replicas: 2, port: 80 });
  });

  it("reads the flat key `pulumi config set weight.blue 0` writes", () => {
    assert.deepStrictEqual(readStackConfig(ns({ "weight.blue": "0" })).settings.weights, { blue: 0, green: 50 });
  });

  it("reads the object `pulumi config set --path weight.blue 0` writes", () => {
    assert.deepStrictEqual(readStackConfig(ns({ weight: '{"blue":0,"green":7}' })).settings.weights, { blue: 0, green: 7 });
    // Already-parsed YAML (a stack file) as well as JSON text (the Pulumi runtime).
    assert.deepStrictEqual(readStackConfig(ns({ weight: { blue: 3 } })).settings.weights, { blue: 3, green: 50 });
  });

  it("prefers the flat key over the object Pulumi.yaml defaults leave behind", () => {
    const source = ns({ "weight.blue": "0", weight: '{"blue":"50","green":"50"}' });
    assert.strictEqual(readConfigValue(source, "weight.blue"), "0");
    assert.deepStrictEqual(readStackConfig(source).settings.weights, { blue: 0, green: 50 });
  });

  it("reads servers as JSON text (flat) and as a list (--path), and then does not provision the color", () => {
    const flat = readStackConfig(ns({ "blue.servers": '["10.0.0.5:8080"]' })).settings.colors.blue;
    assert.deepStrictEqual(flat, { kind: "existing", servers: ["10.0.0.5:8080"] });
    const nested = readStackConfig(ns({ green: '{"servers":["10.0.0.6:80"],"image":"x","replicas":2}' })).settings.colors.green;
    assert.deepStrictEqual(nested, { kind: "existing", servers: ["10.0.0.6:80"] });
  });

  it("reads the HTTPS keys flat and nested (tls.acme.email three levels deep), with their defaults", () => {
    const { settings } = readStackConfig(ns({ tls: '{"mode":"selfSigned","domains":["app.example.com"]}', "tls.hsts": "300" }));
    assert.deepStrictEqual(settings.tls, { mode: "selfSigned", port: 8443, hsts: 300, domains: ["app.example.com"] });
    // Read three levels deep and checked.
    assert.throws(() => readStackConfig(ns({ tls: { mode: "acme", domains: ["app.example.com"], acme: { email: "nobody" } } })), /^SettingsError: traffic-distributor:tls.acme.email is "nobody"/);
    const acme = readStackConfig(ns({ tls: { mode: "acme", domains: ["app.example.com"], acme: { email: "ops@example.com", image: "registry.example.com/ops/acme:1" } } }));
    assert.deepStrictEqual(acme.settings.tls?.acme, { email: "ops@example.com", directory: "https://acme-v02.api.letsencrypt.org/directory", image: "registry.example.com/ops/acme:1" });
    assert.throws(() => readStackConfig(ns({ tls: { mode: "acme", acme: { emial: "x" } } })), /^SettingsError: unknown config traffic-distributor:tls.acme.emial:/);
  });

  it("hands a provided certificate and key back apart from the args, for the program to keep secret", () => {
    const fixture = (name: string) => fs.readFileSync(path.join(__dirname, "fixtures", "tls", name), "utf8");
    const { args, tlsSecrets } = readStackConfig(ns({ "tls.mode": "provided", "tls.certificate": fixture("chain.pem"), "tls.privateKey": fixture("key.pem") }));
    assert.deepStrictEqual(tlsSecrets, { certificate: fixture("chain.pem"), privateKey: fixture("key.pem") });
    assert.strictEqual(args.tls?.certificate, undefined);
    assert.strictEqual(args.tls?.privateKey, undefined);
    assert.ok(!JSON.stringify(args).includes("PRIVATE KEY"));
  });

  it("treats the empty defaults of Pulumi.yaml as unset", () => {
    const { settings } = readStackConfig(ns({ blue: '{"servers":[],"image":"nginx:1.27"}', failover: '{"primary":""}' }));
    assert.deepStrictEqual(settings.colors.blue, { kind: "provisioned", image: "nginx:1.27", replicas: 2, port: 80 });
  });

  const errors: Array<[Record<string, unknown>, RegExp]> = [
    [{ "weight.blue": "-1" }, /^SettingsError: traffic-distributor:weight.blue is "-1": must be a whole number from 0 to 256$/],
    [{ "weight.green": "257" }, /^SettingsError: traffic-distributor:weight.green is "257": must be a whole number from 0 to 256$/],
    [{ "weight.blue": "1.5" }, /traffic-distributor:weight.blue is "1.5"/],
    [{ "weight.blue": "half" }, /traffic-distributor:weight.blue is "half"/],
    [{ "weight.blue": "0", "weight.green": "0" }, /traffic-distributor:weight.blue and traffic-distributor:weight.green are both 0/],
    [{ routing: "random" }, /^SettingsError: traffic-distributor:routing is "random": must be one of "round-robin", "sticky", "failover"$/],
    [{ "blue.servers": '["10.0.0.5"]' }, /^SettingsError: traffic-distributor:blue.servers\[0\] is "10.0.0.5": must be "host:port"/],
    [{ "blue.servers": "10.0.0.5:80" }, /^SettingsError: traffic-distributor:blue.servers is "10.0.0.5:80": must be a JSON list/],
    [{ "green.replicas": "0" }, /^SettingsError: traffic-distributor:green.replicas is "0": must be a whole number from 1 to 20$/],
    [{ listenPort: "70000" }, /^SettingsError: traffic-distributor:listenPort is "70000": must be a whole number from 1 to 65535$/],
    [{ "healthCheck.path": "health" }, /^SettingsError: traffic-distributor:healthCheck.path is "health": must be an HTTP path/],
    [{ target: "kubernetes" }, /^SettingsError: traffic-distributor:target is "kubernetes": must be one of "docker", "aws"$/],
    [{ "failover.primary": "red", routing: "failover" }, /traffic-distributor:failover.primary is "red": must be one of "blue", "green"/],
    [{ "weight.bleu": "3" }, /^SettingsError: unknown config traffic-distributor:weight.bleu: the keys this project reads are /],
    [{ blue: '{"imgae":"x"}' }, /^SettingsError: unknown config traffic-distributor:blue.imgae:/],
  ];
  for (const [values, pattern] of errors) {
    it(`rejects ${JSON.stringify(values)} naming the key`, () => {
      assert.throws(() => readStackConfig(ns(values)), pattern);
    });
  }

  describe("target aws", () => {
    const aws = (values: Record<string, unknown>) => ns({ target: "aws", ...values });

    it("reads the aws and dns keys in both forms, with the code's defaults", () => {
      const { settings, args } = readStackConfig(
        aws({
          "aws.vpcId": "vpc-0123456789abcdef0",
          "aws.subnetIds": '["subnet-01111111111111111"]',
          dns: '{"zoneId":"Z0123456789ABCDEFGHIJ","name":"App.Example.com","aliases":["www"]}',
          "dns.takeOver": "true",
          "dns.ttl": "30",
        }),
      );
      assert.deepStrictEqual(settings.aws, {
        vpcId: "vpc-0123456789abcdef0",
        subnetIds: ["subnet-01111111111111111"],
        distributorSubnetId: undefined,
        instanceType: "t3.micro",
        distributorInstanceType: "t3.micro",
        ami: undefined,
        ingressCidrs: ["0.0.0.0/0"],
        dns: {
          zoneId: "Z0123456789ABCDEFGHIJ",
          name: "app.example.com",
          ttl: 30,
          aliases: ["www"],
          recordType: "A",
          takeOver: true,
        },
      });
      assert.strictEqual(args.aws, settings.aws);
    });

    it("reads drain.timeout, which defaults to timeouts.drain as on docker", () => {
      assert.strictEqual(readStackConfig(aws({ "drain.timeout": "45s" })).settings.drainTimeout, 45_000);
      assert.strictEqual(readStackConfig(aws({ "timeouts.drain": "2m" })).settings.drainTimeout, 120_000);
      assert.strictEqual(readStackConfig(aws({ "drain.timeout": "0s" })).settings.drainTimeout, 0);
    });

    it("ignores the aws keys' Pulumi.yaml defaults on target docker", () => {
      const { settings, args } = readStackConfig(ns({ aws: '{"instanceType":"t3.micro","ingressCidrs":["0.0.0.0/0"]}', dns: '{"ttl":60}' }));
      assert.strictEqual(settings.target, "docker");
      assert.strictEqual(settings.aws, undefined);
      assert.strictEqual(args.aws, undefined);
    });

    it("the worked example stacks/Pulumi.aws.yaml is valid", () => {
      const values = parseYaml(fs.readFileSync(path.join(__dirname, "..", "stacks", "Pulumi.aws.yaml"), "utf8")).config;
      // Its stats password is set as a secret, which a stack file holds encrypted.
      const { settings } = readStackConfig(configSourceFromMap({ ...values, "traffic-distributor:statsPassword": STATS_PASSWORD }));
      assert.strictEqual(settings.target, "aws");
      assert.strictEqual(settings.listenPort, 80);
      assert.strictEqual(settings.aws!.dns!.name, "app.example.com");
      assert.deepStrictEqual(settings.aws!.dns!.aliases, ["www"]);
      assert.strictEqual(settings.aws!.dns!.takeOver, false);
    });

    const awsErrors: Array<[Record<string, unknown>, RegExp]> = [
      [{ "dns.name": "app.example.com" }, /^SettingsError: traffic-distributor:dns.name is set but traffic-distributor:dns.zoneId is not: give the ID of the Route 53 hosted zone/],
      [{ "dns.zoneId": "Z0123456789ABCDEFGHIJ" }, /^SettingsError: traffic-distributor:dns.zoneId is set but traffic-distributor:dns.name is not/],
      [{ "dns.zoneId": "z123", "dns.name": "app" }, /^SettingsError: traffic-distributor:dns.zoneId is "z123": must be a Route 53 hosted zone ID/],
      [{ "dns.zoneId": "Z1", "dns.name": "app_1.example.com" }, /^SettingsError: traffic-distributor:dns.name is "app_1.example.com": must be a DNS name/],
      [{ "dns.zoneId": "Z1", "dns.name": "10.0.0.1" }, /^SettingsError: traffic-distributor:dns.name is "10.0.0.1": must be a DNS name/],
      [{ "dns.zoneId": "Z1", "dns.name": "app", "dns.aliases": '["www","-bad"]' }, /^SettingsError: traffic-distributor:dns.aliases\[1\] is "-bad": must be a DNS name/],
      [{ "dns.zoneId": "Z1", "dns.name": "app", "dns.ttl": "90000" }, /^SettingsError: traffic-distributor:dns.ttl is "90000": must be a whole number from 0 to 86400$/],
      [{ "dns.zoneId": "Z1", "dns.name": "app", "dns.recordType": "AAAA" }, /^SettingsError: traffic-distributor:dns.recordType is "AAAA": must be one of "A", "CNAME"$/],
      [{ "dns.zoneId": "Z1", "dns.name": "app", "dns.takeOver": "yes" }, /^SettingsError: traffic-distributor:dns.takeOver is "yes": must be true or false$/],
      [{ "aws.ingressCidrs": '["0.0.0.0/33"]' }, /^SettingsError: traffic-distributor:aws.ingressCidrs\[0\] is "0.0.0.0\/33": must be a CIDR block/],
      [{ "aws.ingressCidrs": '["10.1.2.3/16"]' }, /^SettingsError: traffic-distributor:aws.ingressCidrs\[0\] is "10.1.2.3\/16": has host bits set; the network is "10.1.0.0\/16"$/],
      [{ "aws.ingressCidrs": '["300.0.0.0/8"]' }, /traffic-distributor:aws.ingressCidrs\[0\] is "300.0.0.0\/8": must be a CIDR block/],
      [{ "aws.ingressCidrs": "0.0.0.0/0" }, /^SettingsError: traffic-distributor:aws.ingressCidrs is "0.0.0.0\/0": must be a JSON list of CIDR blocks/],
      [{ "aws.instanceType": "t3-micro" }, /^SettingsError: traffic-distributor:aws.instanceType is "t3-micro": must be an EC2 instance type such as "t3.micro" or "m7g.large"$/],
      [{ "aws.distributorInstanceType": "T3.MICRO" }, /^SettingsError: traffic-distributor:aws.distributorInstanceType is "T3.MICRO": must be an EC2 instance type/],
      [{ "aws.vpcId": "vpc-123" }, /^SettingsError: traffic-distributor:aws.vpcId is "vpc-123": must be an ID such as "vpc-0123456789abcdef0"$/],
      [{ "aws.vpcId": "vpc-0123456789abcdef0" }, /^SettingsError: traffic-distributor:aws.vpcId is set but traffic-distributor:aws.subnetIds is not/],
      [{ "aws.subnetIds": '["subnet-01111111111111111"]' }, /^SettingsError: traffic-distributor:aws.subnetIds is set but traffic-distributor:aws.vpcId is not/],
      [{ "aws.distributorSubnetId": "subnet-01111111111111111" }, /^SettingsError: traffic-distributor:aws.distributorSubnetId is set but traffic-distributor:aws.vpcId is not/],
      [{ "aws.ami": "ami-latest" }, /^SettingsError: traffic-distributor:aws.ami is "ami-latest": must be an ID such as "ami-0123456789abcdef0"$/],
      [{ "aws.region": "eu-west-1" }, /^SettingsError: unknown config traffic-distributor:aws.region:/],
    ];
    for (const [values, pattern] of awsErrors) {
      it(`rejects ${JSON.stringify(values)} naming the key`, () => {
        assert.throws(() => readStackConfig(aws(values)), pattern);
      });
    }
  });

  it("Pulumi.yaml's config block is the one the settings schema generates (npm run pulumi-yaml)", () => {
    const text = fs.readFileSync(PULUMI_YAML, "utf8");
    assert.strictEqual(text, withConfigBlock(text), "Pulumi.yaml differs from the schema: run `npm run pulumi-yaml`");
  });

  it("docs/configuration.md's reference tables are the ones the settings schema generates (npm run config-reference)", () => {
    const text = fs.readFileSync(CONFIGURATION_DOC, "utf8");
    assert.strictEqual(text, withConfigReference(text), "docs/configuration.md differs from the schema: run `npm run config-reference`");
    // Every key is in it, once.
    for (const key of Object.values(CONFIG_KEYS)) assert.strictEqual(text.split(`\`${key}\``).length > 1, true, key);
  });

  it("Pulumi.yaml declares every key, typed and described, with the code's defaults", () => {
    const project = parseYaml(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8"));
    assert.strictEqual(project.name, "traffic-distributor");
    assert.strictEqual(project.main, "infra/index.ts");
    assert.strictEqual(project.stackConfigDir, "stacks");
    const declared = project.config as Record<string, { type: string; description: string; default: unknown; secret?: boolean }>;
    assert.deepStrictEqual(Object.keys(declared).sort(), Object.values(CONFIG_KEYS).sort());
    for (const [key, spec] of Object.entries(declared)) {
      assert.ok(spec.type && spec.description, `${key} needs a type and a description`);
      // The CLI requires a key without a default; only the secret password is required.
      assert.strictEqual("default" in spec, key !== "statsPassword", `${key}: default`);
    }
    assert.strictEqual(declared.statsPassword.secret, true);
    // Applying the declared defaults in the object form the CLI uses gives the code's defaults.
    const objects: Record<string, Record<string, unknown>> = {};
    const flat: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(declared)) {
      if (!("default" in spec)) continue;
      const [root, ...sub] = key.split(".");
      if (sub.length === 0) {
        flat[key] = spec.default;
        continue;
      }
      let node = (objects[root] ??= {});
      for (const part of sub.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
      node[sub[sub.length - 1]] = spec.default;
    }
    const fromYaml = readStackConfig(ns({ ...flat, ...objects })).settings;
    assert.deepStrictEqual(fromYaml, readStackConfig(ns({})).settings);
    // The same on target aws, where the aws and dns defaults are read.
    const onAws = readStackConfig(ns({ ...flat, ...objects, target: "aws" })).settings;
    assert.deepStrictEqual(onAws, readStackConfig(ns({ target: "aws" })).settings);
    assert.deepStrictEqual(onAws.aws!.ingressCidrs, ["0.0.0.0/0"]);
    assert.strictEqual(onAws.aws!.dns, undefined);
  });
});
