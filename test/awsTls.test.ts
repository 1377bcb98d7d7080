// HTTPS on the `aws` target: under Pulumi's mocks, what each mode registers (the firewall, the
// certificate's SecureString parameter and its reader, the user data with no key in it, the
// ACME client's pinned download and timer); then the host's pieces run for real: the SSM
// document that installs the certificate (with `aws`, `docker` and `cloud-init` stand-ins), the
// lego installer against a local archive, and cloud-init's schema on the user data.
import * as assert from "assert";
import { deliveryPlan } from "../components/deliveryPlan";
import { execFileSync, spawnSync } from "child_process";
import { createHash, X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as fc from "fast-check";
import { parse } from "yaml";
import * as aws from "../components/aws";
import { TrafficDistributor } from "../components";
import { CERTIFICATE_FILE_NAME } from "../components/tlsListener";
import { LETS_ENCRYPT_DIRECTORY, LETS_ENCRYPT_STAGING_DIRECTORY } from "../components/tls";
import { validateTrafficDistributorArgs } from "../components/trafficDistributorArgs";
import { configSourceFromMap, readStackConfig } from "../components/stackConfig";
import { renderHaproxyConfig } from "../components/haproxyConfig";
import { deliveryEnv, fleetServers, freePort, Haproxy, loopbackPlacement, request, runScript, startFleet, startHaproxy, stopAll } from "./harness";
import { httpsGet } from "./tls/clients";
import { makeTestPki } from "./tls/pki";
import { tempDir } from "./haproxy";
import { deployOnAws } from "./awsDeploy";
import { only, promiseOf, registered, settled, STATS_PASSWORD } from "./mocks";
import { unwrapSecrets } from "./tlsProvider";

const INSTANCE = "aws:ec2/instance:Instance";
const INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
const PARAMETER = "aws:ssm/parameter:Parameter";
const DOCUMENT = "aws:ssm/document:Document";
const DELIVERY = "pulumi-nodejs:dynamic/traffic-distributor:ConfigDelivery";
const DNS = { zoneId: "Z0123456789ABCDEFGHIJ", name: "app.example.com", aliases: ["www.example.com"] };
const FIXTURES = path.join(__dirname, "fixtures");
const pem = (name: string) => fs.readFileSync(path.join(FIXTURES, "tls", name), "utf8");


const policyOf = (role: string) => JSON.parse(only("aws:iam/rolePolicy:RolePolicy", `${role}-policy`).inputs.policy);
const userDataOf = (instance: string) => only(INSTANCE, instance).inputs.userData as string;

/** Files of the user data, by path. */
function writtenFiles(userData: string): Map<string, { content: string; permissions: string }> {
  const document = parse(userData);
  return new Map(document.write_files.map((f: { path: string; content: string; permissions: string }) => [f.path, f]));
}

/** The `docker run` words of the distributor's unit. */
function distributorRunArgs(userData: string): string[] {
  const unit = writtenFiles(userData).get("/etc/systemd/system/traffic-distributor.service")!.content;
  return unit.split("\n").find((line) => line.startsWith("ExecStart="))!.split(" ");
}

const valuesOf = (args: string[], option: string) => args.flatMap((arg, i) => (arg === option ? [args[i + 1]] : []));

describe("HTTPS on AWS (mocks)", () => {
  it("selfSigned: HTTPS and HTTP open to the ingress ranges, the certificate in a SecureString only the distributor reads, no key in user data", async () => {
    const td = await deployOnAws("shop", { aws: { dns: DNS, ingressCidrs: ["203.0.113.0/24", "2001:db8::/32"] }, tls: { mode: "selfSigned" } });
    const distributorRules = registered
      .filter((r) => r.type === INGRESS && r.inputs.securityGroupId === "shop-distributor-sg-id")
      .map((r) => [r.name, r.inputs.fromPort, r.inputs.toPort, r.inputs.cidrIpv4 ?? r.inputs.cidrIpv6])
      .sort();
    assert.deepStrictEqual(distributorRules, [
      ["shop-distributor-in-0", 80, 80, "203.0.113.0/24"],
      ["shop-distributor-in-1", 80, 80, "2001:db8::/32"],
      ["shop-distributor-tls-in-0", 443, 443, "203.0.113.0/24"],
      ["shop-distributor-tls-in-1", 443, 443, "2001:db8::/32"],
    ]);

    // The certificate's names are the DNS names; its file is a secret in a SecureString parameter.
    assert.deepStrictEqual(only("tls:index/certRequest:CertRequest", "shop-tls-request").inputs.dnsNames, ["app.example.com", "www.example.com"]);
    const parameter = only(PARAMETER, "shop-distributor-certificate").inputs;
    assert.strictEqual(parameter.type, "SecureString");
    assert.strictEqual(parameter.tier, "Intelligent-Tiering");
    const file = parameter.value as string;
    assert.ok(only(PARAMETER, "shop-distributor-certificate").secretInputs.includes("value"), "the parameter's value is not a secret");
    const served = new X509Certificate(file);
    assert.match(file, /-----BEGIN EC PRIVATE KEY-----/);
    assert.ok(served.checkIssued(new X509Certificate((await promiseOf(td.caCertificate))!)));
    console.log(`      selfSigned certificate file: ${Buffer.byteLength(file)} bytes (standard parameter up to 4096)`);

    // The key's text appears nowhere but in that parameter: not in user data, documents or the config.
    const keyLines = file.split("\n").filter((line, i, lines) => i > lines.findIndex((l) => l.includes("PRIVATE KEY")) && /^[A-Za-z0-9+/=]{16,}$/.test(line));
    assert.ok(keyLines.length >= 2, "the scan must have key lines to look for");
    const config = await promiseOf(td.haproxyConfig);
    const elsewhere = [
      ...registered.filter((r) => r.type === INSTANCE).map((r) => [`${r.name} user data`, r.inputs.userData as string]),
      ...registered.filter((r) => r.type === DOCUMENT).map((r) => [`document ${r.name}`, r.inputs.content as string]),
      ["the config", config],
      ["the config parameter", aws.decodeConfigParameter(unwrapSecrets(only(PARAMETER, "shop-distributor-config").inputs.value))],
    ];
    assert.strictEqual(elsewhere.length, 10); // the instances, the documents (config, certificate, drain), the config and its parameter
    for (const [where, text] of elsewhere) {
      // (The installer's script names the header it checks for, but no key follows it.)
      assert.doesNotMatch(text, /-----BEGIN (EC |RSA )?PRIVATE KEY-----\r?\n/, where);
      for (const line of keyLines) assert.ok(!text.includes(line), `${where} holds a line of the private key`);
    }

    // Read by the distributor's role alone, on that one parameter ARN; decrypted through SSM only.
    const statements = policyOf("shop-distributor").Statement;
    const reads = statements.filter((s: any) => JSON.stringify(s.Action).includes("ssm:GetParameter"));
    assert.deepStrictEqual(reads, [
      { Sid: "ReadOwnConfig", Effect: "Allow", Action: "ssm:GetParameter", Resource: "arn:aws:ssm:eu-west-1:123456789012:parameter/shop-distributor-config-a1b2c3d" },
      { Sid: "ReadOwnCertificate", Effect: "Allow", Action: "ssm:GetParameter", Resource: "arn:aws:ssm:eu-west-1:123456789012:parameter/shop-distributor-certificate-a1b2c3d" },
    ]);
    assert.deepStrictEqual(statements.find((s: any) => s.Action === "kms:Decrypt").Condition, { StringEquals: { "kms:ViaService": "ssm.eu-west-1.amazonaws.com" } });
    for (const color of ["blue", "green"]) assert.doesNotMatch(JSON.stringify(policyOf(`shop-${color}`)), /certificate|GetParameter/);

    // The certificate is installed by its own document, from that parameter, replacing what is there.
    const delivery = only(DELIVERY, "shop-distributor-certificate-delivery").inputs;
    assert.strictEqual(delivery.parameterName, "shop-distributor-certificate-a1b2c3d");
    assert.strictEqual(delivery.documentName, "shop-distributor-install-certificate-e4f5a6b");
    assert.strictEqual(only(DOCUMENT, "shop-distributor-install-certificate").inputs.content, aws.renderCertificateDocument(false));

    // HAProxy: plain HTTP on the container's 8080 (published on 80) redirects; HTTPS on 8443 (published on 443).
    assert.match(config, /^    bind \*:8080$/m);
    assert.match(config, /^    bind \*:8443 ssl crt \/var\/lib\/haproxy\/certs\/ alpn h2,http\/1.1 ssl-min-ver TLSv1.2$/m);
    assert.match(config, /^    http-request redirect location https:\/\/%\[req.hdr\(host\),regsub\(:\[0-9\]\+\$,\)\]%\[capture.req.uri\] code 308 unless \{ ssl_fc \}$/m);
    assert.ok(config.includes(`# certificate sha256 ${served.fingerprint256}\n`), "a new certificate must change the config");
    const run = distributorRunArgs(userDataOf("shop-distributor"));
    assert.deepStrictEqual(valuesOf(run, "--publish"), ["80:8080", "127.0.0.1:8404:8404", "443:8443"]);
    assert.deepStrictEqual(valuesOf(run, "--volume"), ["/etc/traffic-distributor:/usr/local/etc/haproxy", "/var/lib/traffic-distributor/haproxy:/var/lib/haproxy"]);
    assert.deepStrictEqual(valuesOf(run, "--add-host"), [], "no ACME client to reach");
    assert.strictEqual(await promiseOf(td.httpsUrl), "https://app.example.com/");
    assert.ok(!registered.some((r) => r.type === INSTANCE && (r.inputs.userData as string).includes("lego")));
  });

  it("provided: the user's chain and key, as a secret, in the certificate parameter; the config carries only the fingerprint", async () => {
    const td = await deployOnAws("shop", {
      aws: { dns: DNS },
      tls: { mode: "provided", certificate: pulumi.secret(pem("chain.pem")), privateKey: pulumi.secret(pem("key.pem")) },
    });
    const parameter = only(PARAMETER, "shop-distributor-certificate").inputs;
    assert.strictEqual(parameter.value, `${pem("chain.pem")}${pem("key.pem")}`);
    assert.ok(only(PARAMETER, "shop-distributor-certificate").secretInputs.includes("value"), "the parameter's value is not a secret");
    const config = await promiseOf(td.haproxyConfig);
    assert.ok(config.includes(`# certificate sha256 ${new X509Certificate(pem("chain.pem")).fingerprint256}\n`));
    assert.strictEqual(registered.filter((r) => r.type.startsWith("tls:")).length, 0);
    for (const r of registered.filter((r) => r.type === INSTANCE)) assert.doesNotMatch(r.inputs.userData, /PRIVATE KEY|BEGIN CERTIFICATE/, r.name);
  });

  it("acme: lego pinned by version and SHA-256 for the instance's architecture, a twice-daily timer, the challenge path to the host", async () => {
    const td = await deployOnAws("shop", {
      aws: { dns: DNS, distributorInstanceType: "t4g.small" },
      tls: { mode: "acme", acme: { email: "ops+tls%1@example.com", directory: LETS_ENCRYPT_STAGING_DIRECTORY } },
    });
    const userData = userDataOf("shop-distributor");
    const document = parse(userData);
    assert.deepStrictEqual(document.packages, ["docker", "socat"]);
    const version = aws.LEGO_RELEASE.version;
    assert.match(version, /^4\.\d+\.\d+$/);
    const url = `https://github.com/go-acme/lego/releases/download/v${version}/lego_v${version}_linux_arm64.tar.gz`;
    assert.deepStrictEqual(document.runcmd.slice(-3), [
      ["systemctl", "enable", "--now", "traffic-distributor.service"],
      ["sh", "/usr/local/lib/traffic-distributor/install-lego.sh", url, aws.LEGO_RELEASE.sha256.arm64],
      ["systemctl", "enable", "--now", "traffic-distributor-acme.timer"],
    ]);
    for (const sum of Object.values(aws.LEGO_RELEASE.sha256)) assert.match(sum, /^[0-9a-f]{64}$/);
    assert.notStrictEqual(aws.LEGO_RELEASE.sha256.arm64, aws.LEGO_RELEASE.sha256.amd64);

    const files = writtenFiles(userData);
    const timer = files.get("/etc/systemd/system/traffic-distributor-acme.timer")!.content;
    assert.match(timer, /^OnCalendar=\*-\*-\* 00,12:00:00$/m);
    assert.match(timer, /^OnBootSec=3min$/m);
    assert.match(timer, /^WantedBy=timers.target$/m);
    const service = files.get("/etc/systemd/system/traffic-distributor-acme.service")!.content;
    const environment = Object.fromEntries(
      service.split("\n").filter((l) => l.startsWith("Environment=")).map((l) => l.slice('Environment="'.length, -1).split(/=(.*)/s).slice(0, 2)),
    );
    assert.deepStrictEqual(environment, {
      ACME_DOMAINS: "app.example.com www.example.com",
      ACME_DIRECTORY: LETS_ENCRYPT_STAGING_DIRECTORY,
      // systemd expands % specifiers: a literal % is written twice.
      ACME_EMAIL: "ops+tls%%1@example.com",
      LEGO: "/usr/local/bin/lego",
      LEGO_PATH: "/var/lib/traffic-distributor/acme",
      CERTIFICATE_PATH: `/var/lib/traffic-distributor/haproxy/certs/${CERTIFICATE_FILE_NAME}`,
      ADMIN_SOCKET: "/var/lib/traffic-distributor/haproxy/admin.sock",
      INSTALL_HOOK: "/usr/local/lib/traffic-distributor/install-certificate.sh",
      RENEW_DAYS: "30",
      CHALLENGE_PORT: "8402",
    });
    assert.match(service, /^ExecStart=\/bin\/sh \/usr\/local\/lib\/traffic-distributor\/acme-certificate.sh$/m);
    assert.match(service, /^Restart=on-failure$/m);
    assert.strictEqual(files.get("/usr/local/lib/traffic-distributor/install-certificate.sh")!.content, fs.readFileSync(path.join(__dirname, "..", "components", "acme", "install-certificate.sh"), "utf8"));
    assert.strictEqual(files.get("/usr/local/lib/traffic-distributor/install-certificate.sh")!.permissions, "0755");

    // HAProxy's container reaches lego on the host; challenges go there, the rest redirects.
    const run = distributorRunArgs(userData);
    assert.deepStrictEqual(valuesOf(run, "--add-host"), ["host.docker.internal:host-gateway"]);
    const config = await promiseOf(td.haproxyConfig);
    assert.match(config, /^    use_backend acme_challenge if !\{ ssl_fc \} \{ path_beg \/.well-known\/acme-challenge\/ \}$/m);
    assert.match(config, /^    server acme host.docker.internal:8402$/m);
    assert.match(config, /code 308 unless \{ ssl_fc \} \|\| \{ path_beg \/.well-known\/acme-challenge\/ \}$/m);
    // The placeholder carries no fingerprint: the issued certificate is never overwritten by a delivery.
    assert.doesNotMatch(config, /# certificate sha256/);
    assert.strictEqual(only(DOCUMENT, "shop-distributor-install-certificate").inputs.content, aws.renderCertificateDocument(true));
    assert.match(aws.renderCertificateScript(true), /KEEP_EXISTING=1 sh "\$script"/);
    assert.match(aws.renderCertificateScript(false), /KEEP_EXISTING= sh "\$script"/);
  });

  it("acme with the default directory on x86: Let's Encrypt production and the amd64 archive", async () => {
    await deployOnAws("shop", { aws: { dns: DNS }, tls: { mode: "acme", acme: { email: "ops@example.com" } } });
    const userData = userDataOf("shop-distributor");
    const service = writtenFiles(userData).get("/etc/systemd/system/traffic-distributor-acme.service")!.content;
    assert.match(service, new RegExp(`^Environment="ACME_DIRECTORY=${LETS_ENCRYPT_DIRECTORY.replace(/[./]/g, "\\$&")}"$`, "m"));
    assert.match(service, /^Environment="ACME_EMAIL=ops@example.com"$/m);
    assert.ok(userData.includes(aws.LEGO_RELEASE.sha256.amd64) && userData.includes("_linux_amd64.tar.gz"));
  });

  it("a weight change with HTTPS updates the config and its delivery only: the certificate, its delivery and the instance keep their inputs", async () => {
    const snapshot = async (weights: { blue: number; green: number }) => {
      registered.length = 0;
      await deployOnAws("shop", { aws: { dns: DNS }, tls: { mode: "selfSigned" }, weights });
      return new Map(registered.map((r) => [`${r.type} ${r.name}`, JSON.stringify(r.inputs)]));
    };
    const before = await snapshot({ blue: 50, green: 50 });
    const after = await snapshot({ blue: 0, green: 100 });
    assert.deepStrictEqual([...after.keys()].sort(), [...before.keys()].sort());
    assert.deepStrictEqual([...after.keys()].filter((key) => after.get(key) !== before.get(key)).sort(), [
      `${PARAMETER} shop-distributor-config`,
      `${DELIVERY} shop-distributor-delivery`,
    ]);
    assert.ok(before.has(`${DELIVERY} shop-distributor-certificate-delivery`) && before.has(`${PARAMETER} shop-distributor-certificate`));
  });

  it("refuses acme without a public name or off port 80, naming the key, before registering anything", async () => {
    assert.throws(() => new TrafficDistributor("bad", { target: "aws", tls: { mode: "acme" } }), /^SettingsError: tls.mode is "acme" but the certificate has no name: set tls.domains .*, or aws.dns.name to a full name$/);
    assert.throws(() => new TrafficDistributor("bad", { target: "aws", tls: { mode: "acme", domains: ["203.0.113.10"] } }), /^SettingsError: tls.domains\[0\] is "203.0.113.10"/);
    assert.throws(
      () => new TrafficDistributor("bad", { target: "aws", listenPort: 8080, aws: { dns: DNS }, tls: { mode: "acme" } }),
      /^SettingsError: tls.mode is "acme" but listenPort is 8080: the CA validates each name over plain HTTP on port 80; set listenPort to 80$/,
    );
    await settled();
    assert.deepStrictEqual(registered, []);
  });
});

describe("HTTPS on aws from stack config", () => {
  const ns = (values: Record<string, unknown>) =>
    configSourceFromMap(Object.fromEntries(Object.entries({ statsPassword: STATS_PASSWORD, ...values }).map(([k, v]) => [`traffic-distributor:${k}`, v])));

  it("acme with dns.name: port 443, the record's names, Let's Encrypt production; Pulumi.yaml's empty defaults are unset", () => {
    const { settings } = readStackConfig(
      ns({ target: "aws", "dns.zoneId": DNS.zoneId, "dns.name": "app.example.com", "dns.aliases": '["www", "shop.example.com"]', "tls.mode": "acme", "tls.port": "", "tls.acme.email": "ops@example.com" }),
    );
    assert.deepStrictEqual(settings.tls, { mode: "acme", port: 443, hsts: 0, domains: ["app.example.com", "shop.example.com"], acme: { email: "ops@example.com", directory: LETS_ENCRYPT_DIRECTORY } });
    assert.throws(
      () => readStackConfig(ns({ target: "aws", "dns.zoneId": DNS.zoneId, "dns.name": "app.example.com", "tls.mode": "acme", listenPort: "8080" })),
      /^SettingsError: traffic-distributor:tls.mode is "acme" but traffic-distributor:listenPort is 8080: the CA validates each name over plain HTTP on port 80; set traffic-distributor:listenPort to 80$/,
    );
  });
});

describe("the ACME client's unit under arbitrary settings (property)", () => {
  // Values that reach the unit's Environment= lines: each is refused, or stays one quoted word.
  const BREAKERS = ["\n", '"', "\\", " ", "$", "%", ";", "'", "\nExecStart=/bin/sh -c id"];
  const settings = (tls: Record<string, unknown>) =>
    validateTrafficDistributorArgs({ statsPassword: STATS_PASSWORD, target: "aws", aws: { dns: DNS }, blue: { servers: ["10.0.0.1:80"] }, green: { servers: ["10.0.0.2:80"] }, tls: { mode: "acme", ...tls } as any });
  const unitOf = (tls: NonNullable<ReturnType<typeof settings>["tls"]>) =>
    aws.acmeServiceUnit({ domains: tls.domains, ...tls.acme!, arch: "amd64" });
  const skeleton = (unit: string) => unit.split("\n").map((line) => line.replace(/^(Environment="[A-Z_]+=)[^"\n\\$]*"$/, "$1…\""));

  for (const key of ["email", "directory", "domains"] as const) {
    it(`tls.${key === "domains" ? "" : "acme."}${key}: refused, or one quoted value per line (300 runs)`, () => {
      // Breakers at the end, and inside the part of the value where the syntax is loosest.
      const [head, tail] = { email: ["ops", "@example.com"], directory: ["https://acme.example/", ""], domains: ["app", ".example.com"] }[key];
      const known = skeleton(unitOf(settings({ acme: { email: "ops@example.com" } }).tls!));
      let accepted = 0;
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string(),
            fc.tuple(fc.constantFrom(...BREAKERS, "+", "%", ".", "-", "_", "~", "x", "x-1"), fc.string({ maxLength: 6 }), fc.boolean()).map(([b, t, inside]) =>
              inside ? `${head}${b}${t}${tail}` : `${head}${tail}${b}${t}`,
            ),
          ),
          (value) => {
          const tls = key === "domains" ? { domains: [value], acme: { email: "ops@example.com" } } : { acme: { email: "ops@example.com", [key]: value } };
          let validated;
          try {
            validated = settings(tls).tls!;
          } catch (error) {
            assert.strictEqual((error as Error).name, "SettingsError");
            return;
          }
          accepted++;
          assert.deepStrictEqual(skeleton(unitOf(validated)), known, JSON.stringify(value));
          },
        ),
        { numRuns: 300 },
      );
      console.log(`      ${key}: accepted ${accepted}/300`);
      assert.ok(accepted > 0, "the property must see accepted values");
    });
  }
});

describe("the certificate file in an SSM parameter: sizes", () => {
  /** A chain (leaf, intermediate, and the root if asked) and the leaf's key, made with openssl. */
  function chainAndKey(keyArgs: string[], withRoot: boolean): string {
    const dir = tempDir("awstls-size");
    const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    openssl("req", "-x509", "-newkey", ...keyArgs, "-nodes", "-keyout", "root.key", "-out", "root.pem", "-days", "30", "-subj", "/CN=Root");
    openssl("req", "-new", "-newkey", ...keyArgs, "-nodes", "-keyout", "int.key", "-out", "int.csr", "-subj", "/CN=Intermediate");
    fs.writeFileSync(path.join(dir, "ca.cnf"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n");
    openssl("x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial", "-out", "int.pem", "-days", "30", "-extfile", "ca.cnf");
    openssl("req", "-new", "-newkey", ...keyArgs, "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=app.example.com");
    fs.writeFileSync(path.join(dir, "leaf.cnf"), "subjectAltName=DNS:app.example.com,DNS:www.example.com\nextendedKeyUsage=serverAuth\n");
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "int.pem", "-CAkey", "int.key", "-CAcreateserial", "-out", "leaf.pem", "-days", "30", "-extfile", "leaf.cnf");
    const read = (name: string) => fs.readFileSync(path.join(dir, name), "utf8");
    const file = read("leaf.pem") + read("int.pem") + (withRoot ? read("root.pem") : "") + read("leaf.key");
    fs.rmSync(dir, { recursive: true, force: true });
    return file;
  }
  const labels = { certificate: "tls.certificate", privateKey: "tls.privateKey" };

  it("ECDSA and RSA-2048 chains fit; RSA-4096 with its root does not, refused without showing it", function () {
    this.timeout(120_000);
    const ec = chainAndKey(["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], true);
    const rsa2048 = chainAndKey(["rsa:2048"], false);
    const rsa4096 = chainAndKey(["rsa:4096"], true);
    console.log(`      certificate files: ECDSA P-256 with root ${ec.length} B, RSA-2048 leaf + intermediate ${rsa2048.length} B, RSA-4096 with root ${rsa4096.length} B`);
    assert.ok(ec.length < 4096, "an ECDSA file stays a standard parameter");
    assert.strictEqual(aws.checkCertificateFitsParameter(ec, labels), ec);
    assert.strictEqual(aws.checkCertificateFitsParameter(rsa2048, labels), rsa2048);
    let message = "";
    assert.throws(() => aws.checkCertificateFitsParameter(rsa4096, labels), (error: Error) => ((message = error.message), true));
    assert.match(message, /^tls.certificate and tls.privateKey take \d+ bytes, more than the 8192 an SSM parameter holds \(values hidden\): leave the root certificate out of the chain, or use an ECDSA key$/);
    assert.ok(!message.includes("BEGIN"));
  });
});

describe("the certificate's SSM document, run for real", function () {
  this.timeout(60_000);
  const PARAMETERS = { parameterName: "shop-distributor-certificate-a1b2c3d", parameterVersion: "3", region: "eu-west-1" };
  const dirs: string[] = [];
  after(() => dirs.splice(0).forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

  /** Runs the document's script as SSM would, with the parameter holding `value`, into a fresh directory or `certificateDir`. */
  async function install(value: string, keepExisting: boolean, certificateDir?: string, storedVersion = PARAMETERS.parameterVersion) {
    const dir = tempDir("awstls-ssm");
    dirs.push(dir);
    const certificates = certificateDir ?? path.join(dir, "certs");
    const script = path.join(dir, "install.sh");
    fs.writeFileSync(script, aws.substituteParameters(aws.renderCertificateScript(keepExisting), PARAMETERS));
    fs.writeFileSync(path.join(dir, "value"), `${value}\n`);
    const result = await runScript([script], {
      ...process.env,
      PATH: `${FIXTURES}:${process.env.PATH}`,
      FAKE_REGION: PARAMETERS.region,
      FAKE_PARAMETER_NAME: PARAMETERS.parameterName,
      FAKE_PARAMETER_VERSION: storedVersion,
      FAKE_PARAMETER_FILE: path.join(dir, "value"),
      // The stand-in's `docker top` lists this process: the container is running.
      FAKE_HAPROXY_PID: String(process.pid),
      CERTIFICATE_DIR: certificates,
    }, "", { timeoutMs: 30_000 }).result;
    return { ...result, file: path.join(certificates, CERTIFICATE_FILE_NAME), certificates };
  }

  const FILE = `${pem("chain.pem")}${pem("key.pem")}`;

  it("installs the parameter's chain and key, mode 0600 in a 0700 directory, and never prints the key", async () => {
    const result = await install(FILE, false);
    assert.strictEqual(result.status, 0, result.stderr);
    assert.strictEqual(fs.readFileSync(result.file, "utf8").trim(), FILE.trim());
    assert.strictEqual(fs.statSync(result.file).mode & 0o777, 0o600);
    assert.strictEqual(fs.statSync(result.certificates).mode & 0o777, 0o700);
    assert.match(result.stdout, /installed the certificate in /);
    const keyLine = pem("key.pem").split("\n")[1];
    assert.ok(!`${result.stdout}${result.stderr}`.includes(keyLine));
    assert.deepStrictEqual(fs.readdirSync(result.certificates), [CERTIFICATE_FILE_NAME], "no temporary file left");
  });

  it("with keepExisting, keeps the ACME client's certificate; without, replaces it", async () => {
    const first = await install(FILE, false);
    fs.writeFileSync(first.file, "issued by the ACME client\n");
    const kept = await install(FILE, true, first.certificates);
    assert.strictEqual(kept.status, 0, kept.stderr);
    assert.match(kept.stdout, /kept the certificate/);
    assert.strictEqual(fs.readFileSync(first.file, "utf8"), "issued by the ACME client\n");
    const replaced = await install(FILE, false, first.certificates);
    assert.strictEqual(replaced.status, 0, replaced.stderr);
    assert.strictEqual(fs.readFileSync(first.file, "utf8").trim(), FILE.trim());
  });

  it("refuses a value without a key, and a missing parameter version, leaving the served file alone", async () => {
    const first = await install(FILE, false);
    const noKey = await install(pem("chain.pem"), false, first.certificates);
    assert.strictEqual(noKey.status, 1);
    assert.match(noKey.stderr, /refused the certificate file: it holds no certificate or no private key/);
    const missing = await install(FILE, false, first.certificates, "2");
    assert.strictEqual(missing.status, 1);
    assert.match(missing.stderr, /could not read parameter shop-distributor-certificate-a1b2c3d version 3; the served certificate is unchanged/);
    assert.strictEqual(fs.readFileSync(first.file, "utf8").trim(), FILE.trim());
  });

  it("the substituted script passes shellcheck -s sh; the document is schema 2.2 with the constrained parameters", () => {
    const script = aws.substituteParameters(aws.renderCertificateScript(true), PARAMETERS);
    const check = spawnSync("shellcheck", ["-s", "sh", "-"], { input: script, encoding: "utf8" });
    assert.strictEqual(check.status, 0, check.stdout);
    const document = JSON.parse(aws.renderCertificateDocument(true));
    assert.strictEqual(document.schemaVersion, "2.2");
    assert.deepStrictEqual(Object.keys(document.parameters), ["parameterName", "parameterVersion", "region"]);
    for (const [name, spec] of Object.entries(document.parameters) as Array<[keyof typeof aws.DELIVERY_PARAMETERS, any]>) {
      assert.strictEqual(spec.allowedPattern, aws.DELIVERY_PARAMETERS[name].pattern);
    }
    assert.strictEqual(document.mainSteps.length, 1);
    assert.deepStrictEqual(document.mainSteps[0].inputs.runCommand, aws.renderCertificateScript(true).split("\n"));
  });
});

describe("the certificate's document, then the config's, against a real HAProxy", function () {
  this.timeout(180_000);
  const NAME = "app.example.com";
  const dirs: string[] = [];
  after(async () => {
    await stopAll();
    dirs.splice(0).forEach((dir) => fs.rmSync(dir, { recursive: true, force: true }));
  });

  /** Runs a document's script as SSM would, the parameter (version 5) holding `value`. */
  function runDocument(haproxy: Haproxy, script: string, parameterName: string, value: string, certificateDir: string, planWeights = "") {
    const dir = tempDir("awstls-doc");
    dirs.push(dir);
    // The config document's plan parameters, as the component passes them (the certificate's document has none).
    const parameters = { parameterName, parameterVersion: "5", region: "eu-west-1", planVersion: "1", planWeights };
    fs.writeFileSync(path.join(dir, "script.sh"), aws.substituteParameters(script, parameters));
    fs.writeFileSync(path.join(dir, "value"), value);
    const { CONTAINER: _container, ...env } = deliveryEnv(haproxy, {
      FAKE_REGION: parameters.region,
      FAKE_PARAMETER_NAME: parameterName,
      FAKE_PARAMETER_VERSION: parameters.parameterVersion,
      FAKE_PARAMETER_FILE: path.join(dir, "value"),
      CERTIFICATE_DIR: certificateDir,
    });
    return runScript([path.join(dir, "script.sh")], env, "", { timeoutMs: 150_000 }).result;
  }

  it("installs the certificate, then the config that loads it: HTTPS serves it, plain HTTP redirects; the config alone is refused", async () => {
    const fleet = await startFleet();
    const certificateDir = path.join(tempDir("awstls-certs"), "certs");
    dirs.push(path.dirname(certificateDir));
    const placement = { ...(await loopbackPlacement()), tls: { tlsPort: await freePort(), certificateDir } };
    dirs.push(placement.runtimeDir);
    const base = { weights: { blue: 50, green: 50 }, routing: "round-robin" as const, servers: fleetServers(fleet) };
    const haproxy = await startHaproxy(renderHaproxyConfig(base, placement), placement);
    const pki = makeTestPki([NAME]);
    dirs.push(pki.dir);
    const fingerprint = new X509Certificate(pki.chain).fingerprint256;
    const tlsConfig = renderHaproxyConfig({ ...base, tls: { publicPort: placement.tls.tlsPort, hsts: 0, certificateFingerprint: fingerprint } }, placement);
    const configDocument = () => runDocument(haproxy, aws.renderDeliveryScript(), "shop-distributor-config-a1b2c3d", aws.encodeConfigParameter(tlsConfig), certificateDir, deliveryPlan(tlsConfig).weights);

    // Without its certificate the config fails `haproxy -c`: the running one keeps serving.
    const early = await configDocument();
    assert.strictEqual(early.status, 1, early.stdout);
    assert.match(early.stderr, /rejected the new config/);
    assert.strictEqual((await request(haproxy.url, { agent: false })).status, 200);

    const certificate = await runDocument(haproxy, aws.renderCertificateScript(false), "shop-distributor-certificate-a1b2c3d", `${pki.chain}${pki.key}\n`, certificateDir);
    assert.strictEqual(certificate.status, 0, certificate.stderr);
    const config = await configDocument();
    assert.strictEqual(config.status, 0, `${config.stdout}\n${config.stderr}`);
    assert.match(config.stdout, /reloaded \(attempt 1, new worker \d+\)/);

    const answer = await httpsGet(placement.tls.tlsPort, fs.readFileSync(pki.caPath, "utf8"), { servername: NAME });
    assert.strictEqual(answer.status, 200);
    assert.match(answer.body, /^(blue|green) /);
    const plain = await request(`${haproxy.url}/shop?x=1`, { agent: false, headers: { host: NAME } });
    assert.strictEqual(plain.status, 308);
    assert.strictEqual(plain.headers.location, `https://${NAME}:${placement.tls.tlsPort}/shop?x=1`);
  });
});

describe("the host's scripts", function () {
  this.timeout(60_000);

  it("install-lego.sh installs an archive whose SHA-256 is the pinned one, and refuses another", async () => {
    const dir = tempDir("awstls-lego");
    try {
      fs.mkdirSync(path.join(dir, "release"));
      fs.writeFileSync(path.join(dir, "release", "lego"), "#!/bin/sh\necho 'lego version 4.35.2'\n", { mode: 0o755 });
      execFileSync("tar", ["-czf", path.join(dir, "lego.tar.gz"), "-C", path.join(dir, "release"), "lego"]);
      const sha256 = createHash("sha256").update(fs.readFileSync(path.join(dir, "lego.tar.gz"))).digest("hex");
      const script = path.join(__dirname, "..", "components", "aws", "install-lego.sh");
      const env = { ...process.env, LEGO_BIN: path.join(dir, "bin-lego") };
      const url = `file://${path.join(dir, "lego.tar.gz")}`;

      const wrong = await runScript([script, url, "0".repeat(64)], env, "").result;
      assert.strictEqual(wrong.status, 1);
      assert.match(wrong.stderr, new RegExp(`refused ${url}: its SHA-256 is ${sha256}, not the pinned 0{64}`));
      assert.ok(!fs.existsSync(env.LEGO_BIN), "installed a binary whose archive did not match");

      const right = await runScript([script, url, sha256], env, "").result;
      assert.strictEqual(right.status, 0, right.stderr);
      assert.strictEqual(execFileSync(env.LEGO_BIN, { encoding: "utf8" }), "lego version 4.35.2\n");
      assert.strictEqual(fs.statSync(env.LEGO_BIN).mode & 0o777, 0o755);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("acme-certificate.sh: lego's arguments, on Docker's bridge gateway; `run` the first time, `renew` once a certificate exists", async () => {
    const dir = tempDir("awstls-timer");
    try {
      // Stand-ins: docker answers the bridge's gateway; lego records its arguments and writes a certificate.
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      fs.writeFileSync(path.join(bin, "docker"), '#!/bin/sh\n[ "$*" = "network inspect bridge --format {{range .IPAM.Config}}{{.Gateway}}{{end}}" ] || exit 2\necho 172.18.0.1\n', { mode: 0o755 });
      fs.writeFileSync(
        path.join(bin, "lego"),
        '#!/bin/sh\nprintf "%s\\n" "$*" >> "$LEGO_CALLS"\nmkdir -p "$LEGO_PATH/certificates"\ncp "$FIXTURE_CHAIN" "$LEGO_PATH/certificates/app.example.com.crt"\ncp "$FIXTURE_KEY" "$LEGO_PATH/certificates/app.example.com.key"\n',
        { mode: 0o755 },
      );
      const hook = path.join(bin, "hook");
      fs.writeFileSync(hook, '#!/bin/sh\necho "hook $LEGO_CERT_DOMAIN" >> "$LEGO_CALLS"\ncat "$LEGO_CERT_PATH" "$LEGO_CERT_KEY_PATH" | grep -v "^[[:space:]]*$" > "$CERTIFICATE_PATH"\n', { mode: 0o755 });
      const calls = path.join(dir, "calls");
      const env = {
        ...process.env,
        PATH: `${bin}:${process.env.PATH}`,
        LEGO_CALLS: calls,
        FIXTURE_CHAIN: path.join(FIXTURES, "tls", "chain.pem"),
        FIXTURE_KEY: path.join(FIXTURES, "tls", "key.pem"),
        ACME_DOMAINS: "app.example.com www.example.com",
        ACME_DIRECTORY: LETS_ENCRYPT_STAGING_DIRECTORY,
        ACME_EMAIL: "ops@example.com",
        LEGO_PATH: path.join(dir, "acme"),
        CERTIFICATE_PATH: path.join(dir, "site.pem"),
        ADMIN_SOCKET: path.join(dir, "admin.sock"),
        INSTALL_HOOK: hook,
        RENEW_DAYS: "30",
        CHALLENGE_PORT: "8402",
      };
      const script = path.join(__dirname, "..", "components", "aws", "acme-certificate.sh");
      const common = `--accept-tos --server ${LETS_ENCRYPT_STAGING_DIRECTORY} --path ${env.LEGO_PATH} --key-type ec256 --http --http.port 172.18.0.1:8402 --email ops@example.com --domains app.example.com --domains www.example.com`;

      const first = await runScript([script], env, "").result;
      assert.strictEqual(first.status, 0, first.stderr);
      // The stand-in lego runs no hook: the script's own check installs what lego holds.
      assert.deepStrictEqual(fs.readFileSync(calls, "utf8").split("\n"), [`${common} run --run-hook ${hook}`, "hook app.example.com", ""]);
      assert.strictEqual(fs.statSync(env.LEGO_PATH).mode & 0o777, 0o700);

      fs.rmSync(calls);
      const second = await runScript([script], { ...env, ACME_EMAIL: "" }, "").result;
      assert.strictEqual(second.status, 0, second.stderr);
      assert.deepStrictEqual(fs.readFileSync(calls, "utf8").split("\n"), [
        `${common.replace(" --email ops@example.com", "")} renew --days 30 --no-random-sleep --renew-hook ${hook}`,
        "",
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("prepare-runtime-dir.sh gives HAProxy's runtime directory and certs/ to the image's user, mode 0700", async () => {
    const dir = tempDir("awstls-runtime");
    try {
      const bin = path.join(dir, "bin");
      fs.mkdirSync(bin);
      // The stand-in answers `id -u` / `id -g` as the image would, with this process's ids.
      fs.writeFileSync(
        path.join(bin, "docker"),
        `#!/bin/sh\n[ "$1 $2 $3 $4 $5 $6" = "run --rm --entrypoint id haproxy:3.2.26 -u" ] && { echo ${process.getuid!()}; exit 0; }\n[ "$1 $2 $3 $4 $5 $6" = "run --rm --entrypoint id haproxy:3.2.26 -g" ] && { echo ${process.getgid!()}; exit 0; }\nexit 2\n`,
        { mode: 0o755 },
      );
      const runtime = path.join(dir, "haproxy");
      fs.mkdirSync(runtime, { mode: 0o755 });
      const script = path.join(__dirname, "..", "components", "aws", "prepare-runtime-dir.sh");
      const result = await runScript([script, "haproxy:3.2.26", runtime], { ...process.env, PATH: `${bin}:${process.env.PATH}` }, "").result;
      assert.strictEqual(result.status, 0, result.stderr);
      for (const d of [runtime, path.join(runtime, "certs")]) {
        const stat = fs.statSync(d);
        assert.strictEqual(stat.mode & 0o777, 0o700, d);
        assert.deepStrictEqual([stat.uid, stat.gid], [process.getuid!(), process.getgid!()], d);
      }
      const failed = await runScript([script, "other:1", runtime], { ...process.env, PATH: `${bin}:${process.env.PATH}` }, "").result;
      assert.notStrictEqual(failed.status, 0, "an image whose user cannot be read must stop the unit");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every host script passes shellcheck -s sh", () => {
    for (const file of ["install-lego.sh", "acme-certificate.sh", "prepare-runtime-dir.sh"]) {
      const check = spawnSync("shellcheck", ["-s", "sh", path.join(__dirname, "..", "components", "aws", file)], { encoding: "utf8" });
      assert.strictEqual(check.status, 0, `${file}\n${check.stdout}`);
    }
  });

  for (const [name, tls] of [
    ["selfSigned", { port: 443 }],
    ["acme", { port: 443, acme: { domains: ["app.example.com"], email: "ops@example.com", directory: LETS_ENCRYPT_STAGING_DIRECTORY, arch: "amd64" as const } }],
  ] as const) {
    it(`${name}: cloud-init's schema accepts the distributor's user data`, () => {
      const dir = tempDir("awstls-cloud-init");
      try {
        const file = path.join(dir, "user-data");
        fs.writeFileSync(file, aws.renderDistributorUserData({ image: "haproxy:3.2.26", listenPort: 80, statsPort: 8404, tls }));
        const result = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8", timeout: 60_000 });
        assert.strictEqual(result.status, 0, `${result.stdout}${result.stderr}`);
        assert.match(result.stdout, /Valid cloud-config/);
        // The check can fail: a mode that is not a string.
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("permissions: \"0755\"", "permissions: [7]"));
        assert.notStrictEqual(spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8", timeout: 60_000 }).status, 0);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
