// HTTPS on a real Docker engine: the program with tls.mode selfSigned, the certificate
// delivered into the running distributor, the CA output trusted by curl, and a release step
// under HTTPS load that neither replaces the container nor re-delivers the certificate.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { freePort, request, sleep } from "../harness";
import { tempDir } from "../haproxy";
import { run, startHttpsLoad } from "../tls/clients";
import { newStack, Stack } from "./stacks";

describe("HTTPS on a real Docker engine (selfSigned)", () => {
  let stack: Stack;
  after(async () => {
    await stack?.deployment.destroy().catch(() => undefined);
  });

  it("serves HTTPS with the CA output, HTTP/2, redirects HTTP; a release step under HTTPS load: 0 failed, nothing replaced", async () => {
    stack = await newStack("tdtls");
    const tlsPort = await freePort();
    const first = await stack.step({ "tls.mode": "selfSigned", "tls.port": String(tlsPort), "tls.hsts": "300" });
    const caPath = path.join(tempDir("docker-ca"), "ca.pem");
    const ca = first.outputs.caCertificate as string;
    fs.writeFileSync(caPath, ca);
    assert.strictEqual(first.outputs.httpsUrl, `https://localhost:${tlsPort}/`);
    const curl = (...args: string[]) => run("curl", ["-sS", "--max-time", "10", "--cacert", caPath, "--resolve", `localhost:${tlsPort}:127.0.0.1`, ...args]);
    // The container serves the real config only once the certificate file is in place: retry briefly.
    let answer = await curl("--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", `https://localhost:${tlsPort}/`);
    for (let i = 0; i < 20 && answer.stdout !== "2 200"; i++) {
      await sleep(250);
      answer = await curl("--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", `https://localhost:${tlsPort}/`);
    }
    assert.strictEqual(answer.stdout, "2 200", answer.stderr);
    const plain = await request(`${stack.url}/x?y=1`, { agent: false, headers: { host: `localhost:${stack.listenPort}` } });
    assert.strictEqual(plain.status, 308);
    assert.strictEqual(plain.headers.location, `https://localhost:${tlsPort}/x?y=1`);

    const stepsBefore = stack.deployment.steps.length;
    const load = startHttpsLoad(tlsPort, ca, { keepAliveClients: 4, newConnectionClients: 2, maxDurationMs: 120_000, maxRequestsPerClient: 100_000 });
    try {
      await sleep(1000);
      await stack.step({ "weight.blue": "0", "weight.green": "100" });
      await sleep(1500);
    } finally {
      await load.stop();
    }
    console.log(`      HTTPS load through a release step on Docker: ${load.counts.ok} ok, ${load.counts.failed} failed`);
    assert.strictEqual(load.counts.failed, 0, load.counts.samples.join("\n"));
    assert.ok(load.counts.ok > 50, `only ${load.counts.ok}`);
    const steps = stack.deployment.steps.slice(stepsBefore);
    assert.deepStrictEqual(steps, ["update command:local:Command tdtls-distributor-config"], "only the config delivery runs");
    const colors = await curl("-o", "-", `https://localhost:${tlsPort}/`);
    assert.match(colors.stdout, /^green /);
  });
});
