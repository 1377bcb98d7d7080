// ACME on a real Docker engine: the program with tls.mode acme starts lego in a container that
// shares the distributor's network namespace and state volume; Debian's pebble, on this host,
// validates HTTP-01 through the distributor's published plain port (its DNS resolves the name to
// 127.0.0.1) and issues; HTTPS serves that certificate; then a forced renewal under HTTPS load.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { freePort, request, sleep, stopAll } from "../harness";
import { tempDir } from "../haproxy";
import { run, servedCertificate, startHttpsLoad } from "../tls/clients";
import { startPebble } from "../tls/pebble";
import { makeTestPki } from "../tls/pki";
import { testEngine, testImages } from "./setup";
import { newStack, Stack } from "./stacks";

const NAME = "shop.example.com";
const ACME_IMAGE = "registry.example.com/td/acme:test";

/** Lines of HAProxy's master saying a worker was (re)loaded. */
async function loads(container: string): Promise<number> {
  const logs = await testEngine().docker(["logs", container]);
  return (`${logs.stdout}${logs.stderr}`.match(/Loading success/g) ?? []).length;
}

describe("ACME on a real Docker engine (pebble issues, lego beside the distributor renews)", () => {
  let stack: Stack | undefined;
  let network: string | undefined;
  after(async function () {
    this.timeout(120_000);
    await stack?.deployment.destroy().catch(() => undefined);
    if (network) await testEngine().docker(["network", "rm", network], { allowFail: true });
    await stopAll();
  });

  it("issues through the plain port's challenge route; HTTPS serves the chain; a forced renewal under HTTPS load: 0 failed, a new serial, no reload", async () => {
    const engine = testEngine();
    const began = Date.now();
    const times: string[] = [];
    const mark = (what: string) => times.push(`${what} ${Date.now() - began} ms`);
    // The stack's network, made first: lego reaches pebble on this host through its gateway.
    network = `tdacme-net-${engine.runId}`;
    await engine.docker(["network", "create", "--label", engine.label, network]);
    const gateway = (await engine.docker(["network", "inspect", "--format", "{{(index .IPAM.Config 0).Gateway}}", network])).stdout.trim();
    assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/);

    // pebble's API certificate, valid for the gateway address; the client's image trusts its CA
    // (LEGO_CA_CERTIFICATES), as an image for a private ACME CA would.
    const apiPki = makeTestPki(["localhost"], ["127.0.0.1", gateway]);
    const context = tempDir("acme-image");
    fs.copyFileSync(apiPki.caPath, path.join(context, "ca.pem"));
    fs.writeFileSync(
      path.join(context, "Dockerfile"),
      `FROM ${testImages().acme}\nCOPY ca.pem /etc/pebble-api-ca.pem\nENV LEGO_CA_CERTIFICATES=/etc/pebble-api-ca.pem\n`,
    );
    const tag = `traffic-distributor-test/acme-pebble:${engine.runId}`;
    await engine.docker(["build", "-q", "--label", engine.label, "-t", tag, context], { timeoutMs: 300_000 });
    const acmeImage = (await engine.docker(["image", "inspect", "--format", "{{.Id}}", tag])).stdout.trim();
    mark("client image");
    stack = await newStack("tdacme", { [ACME_IMAGE]: acmeImage });

    // pebble resolves every name to 127.0.0.1 and validates HTTP-01 on the stack's published plain
    // port; it listens on all addresses: the client's container reaches it on the network's gateway.
    const pebble = await startPebble({ apiPki, httpPort: stack.listenPort, listenAddress: "0.0.0.0" });
    mark("pebble");
    const tlsPort = await freePort();
    await stack.step({
      // One replica a color: the certificate is the distributor's business.
      "blue.replicas": "1",
      "green.replicas": "1",
      "docker.network": network,
      "tls.mode": "acme",
      "tls.port": String(tlsPort),
      "tls.domains": JSON.stringify([NAME]),
      "tls.acme.email": "ops@example.com",
      "tls.acme.directory": `https://${gateway}:${pebble.port}/dir`,
      "tls.acme.image": ACME_IMAGE,
    });
    mark("stack");
    const client = "tdacme-acme";
    const distributor = "tdacme-distributor";
    const inspect = (await engine.docker(["inspect", "--format", "{{.HostConfig.NetworkMode}} {{.Config.User}}", client])).stdout.trim();
    const distributorId = (await engine.docker(["inspect", "--format", "{{.Id}}", distributor])).stdout.trim();
    assert.strictEqual(inspect, `container:${distributorId} 99:99`);

    // Issued without a `pulumi up`: the placeholder gives way to pebble's certificate.
    let certificate = await servedCertificate(tlsPort, NAME);
    for (let deadline = Date.now() + 90_000; !/Pebble/.test(String(certificate.issuer.CN ?? "")); await sleep(500)) {
      if (Date.now() > deadline) {
        const logs = await engine.docker(["logs", client], { allowFail: true });
        assert.fail(`no certificate from pebble after 90 s; lego's container said:\n${logs.stdout}${logs.stderr}`);
      }
      certificate = await servedCertificate(tlsPort, NAME);
    }
    mark("issued");
    assert.deepStrictEqual(certificate.subjectaltname, `DNS:${NAME}`);
    const root = await pebble.root();
    const rootPath = path.join(tempDir("pebble-root"), "pebble-root.pem");
    fs.writeFileSync(rootPath, root);
    // The served chain (certificate and pebble's intermediate) verifies against pebble's root alone.
    const curl = await run("curl", ["-sS", "--max-time", "10", "--http2", "--cacert", rootPath, "--resolve", `${NAME}:${tlsPort}:127.0.0.1`,
      "-o", "-", "-w", " %{http_version} %{http_code}", `https://${NAME}:${tlsPort}/`]);
    assert.match(curl.stdout, /^(blue|green) .* 2 200$/s, curl.stderr);
    // Plain HTTP redirects to HTTPS; the challenge path does not (lego listens only while validating).
    const plain = await request(`${stack.url}/x`, { agent: false, headers: { host: NAME } });
    assert.strictEqual(plain.status, 308);
    assert.strictEqual(plain.headers.location, `https://${NAME}:${tlsPort}/x`);
    const challenge = await request(`${stack.url}/.well-known/acme-challenge/none`, { agent: false, headers: { host: NAME } });
    assert.notStrictEqual(challenge.status, 308);

    // A forced renewal under HTTPS load, by the container's own pass with a renewal window above
    // the certificate's lifetime: installed through the runtime API, nothing dropped, no reload.
    const reloadsBefore = await loads(distributor);
    const serialBefore = certificate.serialNumber;
    const load = startHttpsLoad(tlsPort, root, {
      keepAliveClients: 4, newConnectionClients: 4, maxDurationMs: 90_000, maxRequestsPerClient: 20_000, servername: NAME,
    });
    let renewal;
    try {
      await sleep(1000);
      renewal = await engine.docker(
        ["exec", "-e", "RENEW_DAYS=100000", client, "/bin/sh", "/usr/local/lib/traffic-distributor/acme-client.sh", "once"],
        { timeoutMs: 120_000, allowFail: true },
      );
      await sleep(1000);
    } finally {
      await load.stop();
    }
    assert.strictEqual(renewal.status, 0, `${renewal.stdout}\n${renewal.stderr}`);
    assert.match(renewal.stdout + renewal.stderr, /serving the certificate for shop.example.com \(runtime API, no reload\)/);
    mark("renewed");
    console.log(`      ${times.join(", ")}; forced renewal under HTTPS load: ${load.counts.ok} ok, ${load.counts.failed} failed`);
    assert.strictEqual(load.counts.failed, 0, load.counts.samples.join("\n"));
    assert.ok(load.counts.ok > 200, `only ${load.counts.ok} requests`);
    const renewed = await servedCertificate(tlsPort, NAME);
    assert.notStrictEqual(renewed.serialNumber, serialBefore, "the renewed certificate is not served");
    assert.match(String(renewed.issuer.CN ?? ""), /Pebble/);
    assert.strictEqual(await loads(distributor), reloadsBefore, "HAProxy reloaded for the renewal");
  });
});
