// AWS size limits that settings can reach: the distributor's user data (16 KB, before base64,
// which the ACME client's names fill) refused before anything is registered; and a generated
// certificate too large for its SSM parameter, blamed on the names it is made from.
import * as assert from "assert";
import { execFileSync } from "child_process";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as aws from "../components/aws";
import { TrafficDistributor } from "../components";
import { configSourceFromMap, CONFIG_LABELS, readStackConfig } from "../components/stackConfig";
import { validateTrafficDistributorArgs } from "../components/trafficDistributorArgs";
import { childrenOn, promiseOf, registered } from "./mocks";
import { deployOnAws } from "./awsDeploy";
import { tempDir } from "./haproxy";
import { unwrapSecrets } from "./tlsProvider";

const PASSWORD = "Pw-5ecret-q7Zx";
const EMAIL = "tls-contact-7f3k@example.com";
const INSTANCE = "aws:ec2/instance:Instance";

/** `count` names of `length` characters (at most 253, labels of at most 63), all different. */
function names(count: number, length: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const tail = `n${String(i).padStart(3, "0")}.example.com`;
    const labels: string[] = [];
    let room = length - tail.length;
    while (room > 0) {
      const size = Math.min(63, room - 1);
      labels.push("a".repeat(size));
      room -= size + 1;
    }
    const name = [...labels, tail].join(".");
    assert.strictEqual(name.length, length);
    return name;
  });
}

/** A self-signed certificate and its key for these names (the first its subject), made with openssl. */
function selfSigned(domains: string[]): string {
  const dir = tempDir("aws-limits");
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1",
      "-subj", `/CN=${domains[0]}`, "-addext", `subjectAltName=${domains.map((d) => `DNS:${d}`).join(",")}`,
    ], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    return fs.readFileSync(path.join(dir, "cert.pem"), "utf8") + fs.readFileSync(path.join(dir, "key.pem"), "utf8");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function rejection(output: pulumi.Output<unknown>): Promise<Error | undefined> {
  return new Promise((resolve) => (output as any).promise().then(() => resolve(undefined), resolve));
}

describe("aws: the distributor's user data stays within EC2's 16 KB", () => {
  const acmeArgs = (domains: string[]) => ({
    target: "aws" as const,
    statsPassword: PASSWORD,
    tls: { mode: "acme" as const, domains, acme: { email: EMAIL } },
  });

  it("refuses 100 names of 253 characters before registering anything, naming tls.domains with the size and the limit", () => {
    let message = "";
    assert.throws(
      () => new TrafficDistributor("shop", acmeArgs(names(100, 253))),
      (error: Error) => ((message = `${error.name}: ${error.message}`), true),
    );
    assert.match(
      message,
      /^SettingsError: aws: tls.domains \(with tls.acme.email and tls.acme.directory\) make the distributor's user data (\d+) bytes, more than the 16384 EC2 takes \(before base64\): list fewer or shorter names in tls.domains \(100 names of 25300 characters now\)$/,
    );
    assert.ok(Number(/user data (\d+) bytes/.exec(message)![1]) > 16384);
    assert.ok(!message.includes(EMAIL) && !message.includes(PASSWORD), message);
    assert.deepStrictEqual(registered, [], "a resource was registered");
  });

  it("measures the user data the instance gets: what fits deploys, one more name is refused", async () => {
    // Grow the list until the check refuses it; the list before it deploys, within the limit.
    // The first name is the placeholder certificate's subject, whose common name holds at most 64 characters.
    const all = ["app.example.com", ...names(99, 200)];
    let fitting = 0;
    for (let count = 1; count <= all.length; count++) {
      const settings = validateTrafficDistributorArgs(acmeArgs(all.slice(0, count)));
      try {
        aws.checkDistributorUserDataFits(settings);
        fitting = count;
      } catch (error) {
        assert.match((error as Error).message, new RegExp(`user data \\d+ bytes, more than the 16384 .*\\(${count} names of ${15 + (count - 1) * 200} characters now\\)$`));
        break;
      }
    }
    assert.ok(fitting > 5 && fitting < 100, `${fitting} names fit`);
    console.log(`      ${fitting} names fit (one short, the others of 200 characters)`);
    await deployOnAws("shop", acmeArgs(all.slice(0, fitting)));
    const userData = registered.find((r) => r.type === INSTANCE && r.name === "shop-distributor")!.inputs.userData as string;
    const size = Buffer.byteLength(userData);
    assert.ok(size <= 16384, `${size} bytes of user data`);
    assert.ok(size + 201 > 16384, `one more name of 200 characters (${size + 201} bytes) must not fit`);
    assert.throws(() => new TrafficDistributor("shop2", acmeArgs(all.slice(0, fitting + 1))), /more than the 16384 EC2 takes/);
  });

  it("names the stack config keys for stack config", () => {
    const { settings } = readStackConfig(
      configSourceFromMap({
        "traffic-distributor:target": "aws",
        "traffic-distributor:statsPassword": PASSWORD,
        "traffic-distributor:tls.mode": "acme",
        "traffic-distributor:tls.domains": JSON.stringify(names(100, 253)),
        "traffic-distributor:tls.acme.email": EMAIL,
      }),
    );
    assert.throws(
      () => aws.checkDistributorUserDataFits(settings, CONFIG_LABELS),
      /^SettingsError: aws: traffic-distributor:tls.domains \(with traffic-distributor:tls.acme.email and traffic-distributor:tls.acme.directory\) make the distributor's user data \d+ bytes, more than the 16384 EC2 takes \(before base64\): list fewer or shorter names in traffic-distributor:tls.domains/,
    );
  });

  it("without acme the user data is small: selfSigned with 100 names of 253 characters passes this check", () => {
    const settings = validateTrafficDistributorArgs({ target: "aws", statsPassword: PASSWORD, tls: { mode: "selfSigned", domains: names(100, 253) } });
    aws.checkDistributorUserDataFits(settings);
  });
});

describe("aws: a generated certificate too large for its SSM parameter names tls.domains", () => {
  const certificateValue = (td: TrafficDistributor) => childrenOn(td, "aws").distributor.certificateFile!;

  it("acme: a placeholder for 100 names too large is refused as tls.domains, not tls.certificate (never set)", async () => {
    // With acme the names also fill the user data, whose check refuses such a list first: the
    // distributor on its own shows the certificate's check.
    const domains = ["app.example.com", ...names(99, 60)];
    const placeholder = selfSigned(domains);
    assert.ok(Buffer.byteLength(placeholder) > 8192, `${Buffer.byteLength(placeholder)} bytes`);
    const distributor = new aws.Distributor("shop-distributor", {
      config: "# config\n",
      image: "haproxy:3.2.26",
      listenPort: 80,
      statsPort: 8404,
      instanceType: "t4g.small",
      machineImage: { ami: pulumi.output("ami-0f1e2d3c4b5a69788"), ignoreNewerReleases: false },
      subnetId: "subnet-0aaaaaaaaaaaaaaaa",
      securityGroupIds: ["sg-0123456789abcdef0"],
      region: "eu-west-1",
      tls: { port: 443, certificateFile: pulumi.secret(placeholder), keepExisting: true, mode: "acme", acme: { domains, email: EMAIL, directory: "https://acme.example/directory" } },
    });
    const failure = await rejection(distributor.certificateFile!);
    assert.ok(failure, "the placeholder certificate fit its parameter");
    assert.match(
      failure.message,
      /tls.domains: the placeholder certificate \(until the CA's first one\) and its key, made for these names, take \d+ bytes, more than the 8192 an SSM parameter holds \(values hidden\): list fewer or shorter names/,
    );
    assert.ok(!failure.message.includes("tls.certificate"), failure.message);
    assert.ok(!failure.message.includes("BEGIN"));
  });

  it("selfSigned: 100 names of up to 253 characters are refused as tls.domains", async () => {
    const domains = ["app.example.com", ...names(99, 253)];
    const td = new TrafficDistributor("shop", { target: "aws", statsPassword: PASSWORD, tls: { mode: "selfSigned", domains } });
    const failure = await rejection(certificateValue(td));
    assert.ok(failure, "the certificate fit its parameter");
    assert.match(failure.message, /tls.domains: the self-signed certificate and its key, made for these names, take \d+ bytes, more than the 8192/);
    assert.ok(!failure.message.includes("tls.certificate"), failure.message);
  });

  it("a few names still make a certificate that fits and is delivered", async () => {
    const domains = ["app.example.com", ...names(2, 60)];
    const td = new TrafficDistributor("shop", { target: "aws", statsPassword: PASSWORD, tls: { mode: "acme", domains, acme: { email: EMAIL } } });
    const file = unwrapSecrets(await promiseOf(certificateValue(td))) as string;
    assert.deepStrictEqual(new X509Certificate(file).subjectAltName, domains.map((d) => `DNS:${d}`).join(", "));
  });

  it("provided: the message still names tls.certificate and tls.privateKey", () => {
    const big = "x".repeat(9000);
    const labels = { certificate: "tls.certificate", privateKey: "tls.privateKey", domains: "tls.domains" };
    assert.throws(() => aws.checkCertificateFitsParameter(big, labels, "provided"), /^Error: tls.certificate and tls.privateKey take 9000 bytes/);
    assert.throws(() => aws.checkCertificateFitsParameter(big, labels), /^Error: tls.certificate and tls.privateKey take 9000 bytes/);
    assert.throws(() => aws.checkCertificateFitsParameter(big, labels, "acme"), /^Error: tls.domains: the placeholder certificate/);
  });
});
