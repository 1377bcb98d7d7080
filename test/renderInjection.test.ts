// A property: whatever value any setting takes, validation either refuses it or the rendered
// HAProxy config has exactly the skeleton of a known-good render (the same sections, lines,
// directive keywords and word counts). No input can add, split or comment out a line.
import * as assert from "assert";
import * as fc from "fast-check";
import * as fs from "fs";
import * as path from "path";
import { renderHaproxyConfig } from "../components/haproxyConfig";
import { environmentName, provisionedServers } from "../components/naming";
import { Color, COLORS, DistributorSettings, parseServerList, ServerAddress, SettingsError } from "../components/settings";
import { renderInput } from "../components/trafficDistributor";
import { argsAtPaths, SETTING_PATHS, SettingPath, TrafficDistributorArgs, validateTrafficDistributorArgs } from "../components/trafficDistributorArgs";

/** A value of every setting that is valid, for the known-good render and for injections to extend. */
const VALID: Record<SettingPath, unknown> = {
  target: "docker",
  "weight.blue": 30,
  "weight.green": 70,
  routing: "round-robin",
  "failover.primary": "blue",
  "blue.image": "nginx:1.27",
  "blue.replicas": 2,
  "blue.port": 8080,
  "blue.servers": ["app-blue.internal:8080", "10.0.0.6:8080"],
  "blue.memoryMb": 128,
  "green.image": "registry.example.com/team/app:2.0",
  "green.replicas": 2,
  "green.port": 80,
  "green.servers": ["app-green.internal:80", "10.0.0.7:80"],
  "green.memoryMb": 128,
  "healthCheck.path": "/healthz?full=1",
  "healthCheck.host": "app.example.com",
  "healthCheck.interval": "2s",
  "healthCheck.timeout": "750ms",
  "healthCheck.expectStatus": "200,204,300-399",
  "timeouts.connect": "1s",
  "timeouts.client": "1m",
  "timeouts.server": "45s",
  "timeouts.tunnel": "2h",
  "timeouts.drain": "10m",
  "gate.timeout": "90s",
  "gate.minHealthy": "50%",
  "gate.bake": "1m",
  "gate.maxErrorRate": "2.5",
  accessLog: true,
  listenPort: 8080,
  statsPort: 8404,
  statsPassword: "s3cret-pass!",
  "distributor.image": "haproxy:3.2.9",
  "distributor.memoryMb": 256,
  "distributor.threads": 2,
  "distributor.maxConnections": 2000,
  "docker.network": "shared-net",
  "aws.vpcId": "vpc-0123456789abcdef0",
  "aws.subnetIds": ["subnet-0123456789abcdef0"],
  "aws.distributorSubnetId": "subnet-0123456789abcdef0",
  "aws.instanceType": "t3.micro",
  "aws.distributorInstanceType": "t3.small",
  "aws.ami": "ami-0123456789abcdef0",
  "aws.ingressCidrs": ["203.0.113.0/24"],
  "dns.zoneId": "Z0123456789ABC",
  "dns.name": "app.example.com",
  "dns.ttl": 60,
  "dns.aliases": ["www"],
  "dns.recordType": "A",
  "dns.takeOver": false,
  "tls.mode": "selfSigned",
  "tls.certificate": fs.readFileSync(path.join(__dirname, "fixtures", "tls", "chain.pem"), "utf8"),
  "tls.privateKey": fs.readFileSync(path.join(__dirname, "fixtures", "tls", "key.pem"), "utf8"),
  "tls.domains": ["app.example.com", "www.example.com"],
  "tls.port": 8443,
  "tls.hsts": 31536000,
  "tls.acme.email": "ops@example.com",
  "tls.acme.directory": "https://acme-staging-v02.api.letsencrypt.org/directory",
  "tls.acme.image": "registry.example.com/ops/acme:1.0",
  "preview.enabled": true,
  "preview.bluePort": 8091,
  "preview.greenPort": 8092,
  "preview.allowedCidrs": ["10.0.0.0/8", "fd00::/8"],
  "drain.timeout": "30s",
};

/** Settings that belong together: failover needs routing, aws keys the aws target, provisioned keys no servers. */
function baseArgs(path: SettingPath): Array<[SettingPath, unknown]> {
  const base: Array<[SettingPath, unknown]> = [["statsPassword", VALID.statsPassword]];
  if (path.startsWith("aws.") || path.startsWith("dns.")) {
    base.push(["target", "aws"], ["aws.vpcId", VALID["aws.vpcId"]], ["aws.subnetIds", VALID["aws.subnetIds"]]);
    if (path.startsWith("dns.")) base.push(["dns.zoneId", VALID["dns.zoneId"]], ["dns.name", VALID["dns.name"]]);
  }
  if (path === "failover.primary") base.push(["routing", "failover"]);
  // Each HTTPS key with the mode it belongs to (and what that mode needs).
  if (path === "tls.certificate" || path === "tls.privateKey") {
    base.push(["tls.mode", "provided"], ...(["tls.certificate", "tls.privateKey"] as const).filter((p) => p !== path).map((p): [SettingPath, unknown] => [p, VALID[p]]));
  } else if (path.startsWith("tls.acme.")) {
    // With what acme needs on docker (the aws unit's lines have their own property test in awsTls.test.ts).
    base.push(["tls.mode", "acme"], ["tls.domains", VALID["tls.domains"]]);
    for (const needed of ["tls.acme.email", "tls.acme.image"] as const) if (path !== needed) base.push([needed, VALID[needed]]);
  } else if (path.startsWith("tls.") && path !== "tls.mode") {
    base.push(["tls.mode", "selfSigned"]);
  }
  // Previews render the allowed sources and, with dns, the preview host names.
  if ((path.startsWith("preview.") && path !== "preview.enabled") || path.startsWith("dns.")) base.push(["preview.enabled", true]);
  for (const color of COLORS) {
    const provisioned = [`${color}.image`, `${color}.replicas`, `${color}.port`, `${color}.memoryMb`].includes(path);
    if (!provisioned) base.push([`${color}.servers`, VALID[`${color}.servers`]]);
  }
  return base;
}


/** The config these settings deploy, with servers as the Docker target names them. */
function render(settings: DistributorSettings): string {
  const servers = {} as Record<Color, ServerAddress[]>;
  for (const color of COLORS) {
    const plan = settings.colors[color];
    servers[color] = plan.kind === "existing" ? parseServerList(color, plan.servers) : provisionedServers(environmentName("shop", color), plan);
  }
  return renderHaproxyConfig(renderInput(settings, servers, settings.statsPassword as string | undefined));
}

/** Sections and directives, each line as its first word and its number of words. */
function skeleton(config: string): string[] {
  return config.split("\n").map((line) => {
    const words = line.trim().split(/\s+/).filter(Boolean);
    return `${line.startsWith(" ") ? "  " : ""}${words[0] ?? ""}/${words.length}`;
  });
}

/** Values meant to break out of a line, a word or a quote, alone and after a valid value. */
const BREAKERS = ["\n", "\r", "\r\n", "#", "'", '"', " ", "\t", "\\", "$", "%[", "\u0000", "\u2028", "\n    stats admin if TRUE", "'\nprogram x\n  command sh"];

function arbitraryValue(path: SettingPath): fc.Arbitrary<unknown> {
  const valid = VALID[path];
  const text = String(Array.isArray(valid) ? valid[0] : valid);
  const broken = fc.tuple(fc.constantFrom(...BREAKERS), fc.string({ maxLength: 8 })).map(([breaker, tail]) => `${text}${breaker}${tail}`);
  const scalar = fc.oneof(
    fc.string(),
    fc.string({ unit: "binary", maxLength: 20 }),
    broken,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constantFrom(null, NaN, Infinity, "", "[]", "{}"),
  );
  // A list setting gets a list with one arbitrary entry, or an arbitrary scalar.
  return Array.isArray(valid) ? fc.oneof(scalar, scalar.map((entry) => [entry, ...valid.slice(1)])) : scalar;
}

describe("rendered config under arbitrary input (property)", function () {
  this.timeout(120_000);
  const runs = 300;
  const tally: string[] = [];
  after(() => console.log(`      accepted of ${runs} arbitrary values: ${tally.join(", ")}`));

  for (const path of SETTING_PATHS) {
    it(`${path}: refused, or the render keeps the known-good skeleton (${runs} runs)`, () => {
      const known = render(validateTrafficDistributorArgs(argsAt([...baseArgs(path), [path, VALID[path]]])));
      let accepted = 0;
      fc.assert(
        fc.property(arbitraryValue(path), (value) => {
          let settings: DistributorSettings;
          try {
            settings = validateTrafficDistributorArgs(argsAt([...baseArgs(path), [path, value]]));
          } catch (error) {
            if (error instanceof SettingsError) return;
            throw error;
          }
          accepted++;
          // Counts and choices may legitimately change the shape: compare with a render of the
          // same parsed values, whose shape is known good because nothing in it is free text.
          const config = render(settings);
          const reference = render({ ...validateTrafficDistributorArgs(argsAt([...baseArgs(path), [path, VALID[path]]])), ...structureOf(settings) });
          assert.deepStrictEqual(skeleton(config), skeleton(reference), `value ${JSON.stringify(value)}`);
          // No control character, and quotes only where the password sits.
          for (const line of config.split("\n")) {
            assert.ok(!/[\u0000-\u001f\u007f\u2028\u2029]/.test(line), `control character in ${JSON.stringify(line)}`);
            if (/['"]/.test(line)) assert.match(line, /^ {4}(stats auth admin:'[^'\s]+'|user admin insecure-password '[^'\s]+'|http-request return status 503 content-type text\/plain string "[^"]*")$/);
            // Inside single quotes HAProxy reads '#' as itself; anywhere else it starts a comment.
            if (line.replace(/'[^']*'/g, "").includes("#")) assert.match(line, /^# /, `a '#' inside ${JSON.stringify(line)}`);
          }
        }),
        { numRuns: runs, seed: 42 },
      );
      assert.ok(known.length > 0);
      tally.push(`${path} ${accepted}/${runs}`);
    });
  }
});

/** The parts of settings that decide the config's shape, never free text. */
function structureOf(settings: DistributorSettings): Partial<DistributorSettings> {
  const { routing, failoverPrimary, weights, accessLog, colors, target, tls } = settings;
  const preview = settings.preview && { ports: settings.preview.ports, allowedCidrs: settings.preview.allowedCidrs.map((_, i) => `10.${i}.0.0/16`) };
  // A full DNS name adds the preview Host rules, a name relative to the zone does not.
  const dns = settings.aws?.dns && { ...settings.aws.dns, name: settings.aws.dns.name.includes(".") ? "app.example.com" : "app" };
  // HTTPS settings reach the config as numbers and a mode only; names, URLs and PEM never do.
  const shape: Partial<DistributorSettings> = { routing, failoverPrimary, weights, accessLog, target, tls, preview, ...(settings.aws ? { aws: { ...settings.aws, dns } } : {}) };
  const counts = {} as Record<Color, DistributorSettings["colors"][Color]>;
  for (const color of COLORS) {
    const plan = colors[color];
    // The same number of servers, with known-good names.
    counts[color] =
      plan.kind === "provisioned"
        ? { kind: "provisioned", image: "nginx:1.27", replicas: plan.replicas, port: 80 }
        : { kind: "existing", servers: parseServerList(color, plan.servers).map((_, i) => `known-${i}.internal:80`) };
  }
  return { ...shape, colors: counts };
}

const argsAt = (entries: Array<[SettingPath, unknown]>) => argsAtPaths(entries) as TrafficDistributorArgs;
