// The component with HTTPS, under mocks: what each mode registers and delivers, and a provided
// certificate or key that arrives as a secret Output refused when it resolves, unseen.
import * as assert from "assert";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { TrafficDistributor } from "../components/trafficDistributor";
import * as dockerTarget from "../components/docker";
import { promiseOf, registered, settled } from "./mocks";
import { unwrapSecrets } from "./tlsProvider";

const pem = (name: string) => fs.readFileSync(path.join(__dirname, "fixtures", "tls", name), "utf8");
const byType = (type: string) => registered.filter((r) => r.type === type);
const certificateCommand = () => registered.find((r) => r.type === "command:local:Command" && r.name.endsWith("-certificate"));

function rejection(output: pulumi.Output<unknown>): Promise<Error | undefined> {
  return new Promise((resolve) => (output as any).promise().then(() => resolve(undefined), resolve));
}

describe("TrafficDistributor with HTTPS (mocks)", () => {
  it("selfSigned: a CA and a certificate from the tls provider, delivered to the container before the config that loads it", async () => {
    const td = new TrafficDistributor("shop", { tls: { mode: "selfSigned", hsts: 600 } });
    const [config, ca, httpsUrl] = await Promise.all([promiseOf(td.haproxyConfig), promiseOf(td.caCertificate), promiseOf(td.httpsUrl)]);
    await settled();
    assert.strictEqual(byType("tls:index/privateKey:PrivateKey").length, 2);
    assert.strictEqual(byType("tls:index/selfSignedCert:SelfSignedCert")[0].inputs.isCaCertificate, true);
    const signed = byType("tls:index/locallySignedCert:LocallySignedCert")[0];
    assert.ok(signed && signed.inputs.validityPeriodHours <= 398 * 24, "a server certificate browsers accept");
    assert.deepStrictEqual(byType("tls:index/certRequest:CertRequest")[0].inputs.dnsNames, ["localhost"]);
    const container = byType("docker:index/container:Container").find((r) => r.name === "shop-distributor")!;
    assert.ok(container.inputs.ports.some((p: any) => p.internal === 8443 && p.external === 8443 && p.ip === undefined));
    assert.ok(!JSON.stringify(container.inputs).includes("PRIVATE KEY"), "the key is not in the container's inputs");
    const delivery = certificateCommand()!;
    assert.strictEqual(delivery.inputs.environment.KEEP_EXISTING, "");
    assert.notStrictEqual(unwrapSecrets(delivery.inputs.stdin), delivery.inputs.stdin, "the certificate file is delivered as a secret");
    const file = unwrapSecrets(delivery.inputs.stdin) as string;
    const served = new X509Certificate(file);
    assert.match(file, /-----BEGIN EC PRIVATE KEY-----/);
    assert.ok(served.checkIssued(new X509Certificate(ca!)), "the CA output issued the served certificate");
    assert.strictEqual(httpsUrl, "https://localhost:8443/");
    assert.match(config, /^    bind \*:8443 ssl crt \/var\/lib\/haproxy\/certs\/ alpn h2,http\/1.1 ssl-min-ver TLSv1.2$/m);
    assert.match(config, /^    http-response set-header Strict-Transport-Security max-age=600 if \{ ssl_fc \}$/m);
    assert.ok(config.includes(`# certificate sha256 ${served.fingerprint256}\n`), "a new certificate changes the config, which reloads HAProxy");
    assert.ok(!config.includes("PRIVATE KEY") && !config.includes("BEGIN CERTIFICATE"));
    assert.ok(td.distributor instanceof dockerTarget.Distributor && td.distributor.certificateDelivery);
  });

  it("provided: the secrets checked as they resolve; a key that does not match is refused, unseen", async () => {
    const td = new TrafficDistributor("shop", {
      tls: { mode: "provided", certificate: pulumi.secret(pem("chain.pem")), privateKey: pulumi.secret(pem("other-key.pem")) },
    });
    // The config waits for the certificate's check: it never renders, it rejects with the component's error.
    const failure = await rejection(td.haproxyConfig);
    assert.ok(failure, "the config rendered for a key that does not match");
    assert.match(failure.message, /tls.privateKey does not match tls.certificate \(values hidden\)/);
    assert.ok(!failure.message.includes("PRIVATE KEY") && !failure.message.includes(pem("other-key.pem").split("\n")[1]));
  });

  it("provided: a valid chain and key are delivered as a secret; the config carries only the fingerprint", async () => {
    const td = new TrafficDistributor("shop", { tls: { mode: "provided", certificate: pulumi.secret(pem("chain.pem")), privateKey: pulumi.secret(pem("key.pem")) } });
    const stdin = (td.distributor as dockerTarget.Distributor).certificateDelivery!.stdin;
    assert.strictEqual(await (stdin as any).isSecret, true);
    assert.strictEqual(await promiseOf(stdin), `${pem("chain.pem")}${pem("key.pem")}`);
    const config = await promiseOf(td.haproxyConfig);
    assert.ok(config.includes(`# certificate sha256 ${new X509Certificate(pem("chain.pem")).fingerprint256}\n`));
    assert.ok(!config.includes("PRIVATE KEY"));
    assert.strictEqual(await promiseOf(td.caCertificate), undefined);
  });

  it("off: nothing of HTTPS is registered or rendered", async () => {
    const td = new TrafficDistributor("shop", {});
    const config = await promiseOf(td.haproxyConfig);
    await settled();
    assert.strictEqual(registered.filter((r) => r.type.startsWith("tls:")).length, 0);
    assert.strictEqual(certificateCommand(), undefined);
    assert.doesNotMatch(config, /ssl|X-Forwarded-Proto|redirect/);
    assert.strictEqual(await promiseOf(td.httpsUrl), undefined);
  });
});
