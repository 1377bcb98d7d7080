// The component with HTTPS, under mocks: what each mode registers and delivers, and a provided
// certificate or key that arrives as a secret Output refused when it resolves, unseen.
import * as assert from "assert";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { TrafficDistributor } from "../components/trafficDistributor";
import * as dockerTarget from "../components/docker";
import { childrenOn, only, promiseOf, registered, settled, STATS_PASSWORD } from "./mocks";
import { unwrapSecrets } from "./tlsProvider";

const pem = (name: string) => fs.readFileSync(path.join(__dirname, "fixtures", "tls", name), "utf8");
const byType = (type: string) => registered.filter((r) => r.type === type);
const certificateCommand = () => registered.find((r) => r.type === "command:local:Command" && r.name.endsWith("-certificate"));

function rejection(output: pulumi.Output<unknown>): Promise<Error | undefined> {
  return new Promise((resolve) => (output as any).promise().then(() => resolve(undefined), resolve));
}

describe("TrafficDistributor with HTTPS (mocks)", () => {
  it("selfSigned: a CA and a certificate from the tls provider, delivered to the container before the config that loads it", async () => {
    const td = new TrafficDistributor("shop", { statsPassword: STATS_PASSWORD, tls: { mode: "selfSigned", hsts: 600 } });
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
    assert.deepStrictEqual(delivery.secretInputs, ["stdin"], "the certificate file is delivered as a secret");
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
      statsPassword: STATS_PASSWORD,
      tls: { mode: "provided", certificate: pulumi.secret(pem("chain.pem")), privateKey: pulumi.secret(pem("other-key.pem")) },
    });
    // The config waits for the certificate's check: it never renders, it rejects with the component's error.
    const failure = await rejection(td.haproxyConfig);
    assert.ok(failure, "the config rendered for a key that does not match");
    assert.match(failure.message, /tls.privateKey does not match tls.certificate \(values hidden\)/);
    assert.ok(!failure.message.includes("PRIVATE KEY") && !failure.message.includes(pem("other-key.pem").split("\n")[1]));
  });

  it("provided: a valid chain and key are delivered as a secret; the config carries only the fingerprint", async () => {
    const td = new TrafficDistributor("shop", { statsPassword: STATS_PASSWORD, tls: { mode: "provided", certificate: pulumi.secret(pem("chain.pem")), privateKey: pulumi.secret(pem("key.pem")) } });
    const stdin = childrenOn(td, "docker").distributor.certificateDelivery!.stdin;
    assert.strictEqual(await (stdin as any).isSecret, true);
    assert.strictEqual(await promiseOf(stdin), `${pem("chain.pem")}${pem("key.pem")}`);
    const config = await promiseOf(td.haproxyConfig);
    assert.ok(config.includes(`# certificate sha256 ${new X509Certificate(pem("chain.pem")).fingerprint256}\n`));
    assert.ok(!config.includes("PRIVATE KEY"));
    assert.strictEqual(await promiseOf(td.caCertificate), undefined);
  });

  it("acme on docker: the challenge route, lego's container in the distributor's network namespace and state volume, no secret in it", async () => {
    const td = new TrafficDistributor("shop", {
      statsPassword: STATS_PASSWORD,
      listenPort: 80,
      tls: {
        mode: "acme",
        domains: ["shop.example.com", "www.example.com"],
        acme: { email: "ops@example.com", image: "registry.example.com/ops/acme:1" },
      },
    });
    const config = await promiseOf(td.haproxyConfig);
    await settled();
    // Plain HTTP: the challenge path reaches lego on the shared loopback, the rest goes to HTTPS.
    assert.match(config, /^    use_backend acme_challenge if !\{ ssl_fc \} \{ path_beg \/.well-known\/acme-challenge\/ \}$/m);
    assert.match(config, /^    http-request redirect location https:\/\/\S+:8443%\[capture.req.uri\] code 308 unless \{ ssl_fc \} \|\| \{ path_beg \/.well-known\/acme-challenge\/ \}$/m);
    assert.match(config, /^backend acme_challenge\n(    .*\n)*    server acme 127.0.0.1:8402$/m);
    // The distributor starts on a placeholder, and keeps lego's certificate over it afterwards.
    assert.strictEqual(certificateCommand()!.inputs.environment.KEEP_EXISTING, "1");
    assert.strictEqual(byType("tls:index/selfSignedCert:SelfSignedCert").length, 1);

    const volume = only("docker:index/volume:Volume", "shop-acme");
    const distributor = only("docker:index/container:Container", "shop-distributor");
    assert.deepStrictEqual(distributor.inputs.volumes, [{ volumeName: volume.inputs.name, containerPath: "/var/lib/haproxy" }]);
    const client = only("docker:index/container:Container", "shop-acme");
    const distributorId = await promiseOf(childrenOn(td, "docker").distributor.container.id);
    assert.strictEqual(client.inputs.networkMode, `container:${distributorId}`);
    assert.deepStrictEqual(client.inputs.volumes, [{ volumeName: volume.inputs.name, containerPath: "/var/lib/haproxy" }]);
    assert.strictEqual(client.inputs.user, "99:99");
    assert.deepStrictEqual(client.inputs.entrypoints, ["/bin/sh", "/usr/local/lib/traffic-distributor/acme-client.sh"]);
    assert.strictEqual(only("docker:index/remoteImage:RemoteImage", "shop-acme-image").inputs.name, "registry.example.com/ops/acme:1");
    const env = Object.fromEntries(client.inputs.envs.map((e: string) => e.split(/=(.*)/s, 2)));
    assert.deepStrictEqual(
      { ...env },
      {
        ACME_DIRECTORY: "https://acme-v02.api.letsencrypt.org/directory",
        ACME_DOMAINS: "shop.example.com www.example.com",
        ACME_EMAIL: "ops@example.com",
        ACME_CHALLENGE_ADDRESS: "127.0.0.1:8402",
        LEGO_PATH: "/var/lib/haproxy/acme",
        CERTIFICATE_PATH: "/var/lib/haproxy/certs/site.pem",
        ADMIN_SOCKET: "/var/lib/haproxy/admin.sock",
        RENEW_DAYS: "30",
        RENEW_INTERVAL: "43200",
      },
    );
    const uploaded = client.inputs.uploads.map((u: any) => [u.file, u.permissions]);
    assert.deepStrictEqual(uploaded, [
      ["/usr/local/lib/traffic-distributor/acme-client.sh", "0755"],
      ["/usr/local/lib/traffic-distributor/install-certificate.sh", "0755"],
    ]);
    assert.ok(client.inputs.uploads[1].content.includes("commit ssl cert"), "the hook is the runtime API one");
    assert.deepStrictEqual(client.inputs.capabilities, { drops: ["ALL"] });
    assert.deepStrictEqual(client.inputs.securityOpts, ["no-new-privileges"]);
    // Neither the placeholder's key nor anything secret of the stack is in the client's inputs.
    const placeholder = unwrapSecrets(certificateCommand()!.inputs.stdin) as string;
    const keyLine = placeholder.split("\n").find((line) => /^[A-Za-z0-9+/]{40,}/.test(line) && placeholder.indexOf(line) > placeholder.indexOf("PRIVATE KEY"))!;
    assert.ok(keyLine && !JSON.stringify(client.inputs).includes(keyLine), "the placeholder's key is in the client's inputs");
    assert.ok(!client.inputs.envs.some((e: string) => /KEY|PASSWORD|SECRET/.test(e)), "a secret in the client's environment");
    // lego starts after the config that routes its challenges: registered after the delivery.
    const at = (type: string, name: string) => registered.findIndex((r) => r.type === type && r.name === name);
    assert.ok(at("docker:index/container:Container", "shop-acme") > at("command:local:Command", "shop-distributor-config"));
  });

  it("selfSigned and provided: no ACME client, no shared volume", async () => {
    new TrafficDistributor("shop", { statsPassword: STATS_PASSWORD, tls: { mode: "selfSigned" } });
    await settled();
    assert.strictEqual(byType("docker:index/volume:Volume").length, 0);
    assert.ok(!byType("docker:index/container:Container").some((r) => r.name === "shop-acme"));
    assert.strictEqual(only("docker:index/container:Container", "shop-distributor").inputs.volumes, undefined);
  });

  it("off: nothing of HTTPS is registered or rendered", async () => {
    const td = new TrafficDistributor("shop", { statsPassword: STATS_PASSWORD });
    const config = await promiseOf(td.haproxyConfig);
    await settled();
    assert.strictEqual(registered.filter((r) => r.type.startsWith("tls:")).length, 0);
    assert.strictEqual(certificateCommand(), undefined);
    assert.doesNotMatch(config, /ssl|X-Forwarded-Proto|redirect/);
    assert.strictEqual(await promiseOf(td.httpsUrl), undefined);
  });
});
