// HTTPS through Debian's HAProxy on loopback, on configs the renderer produced: the certificate
// a CA vouches for, HTTP/2, the plain HTTP redirect and its ACME exception, the split and a
// release step under HTTPS load, and testssl's verdict on the listener.
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import * as path from "path";
import { Weights } from "../../components/settings";
import { HaproxyPlacement, renderHaproxyConfig } from "../../components/haproxyConfig";
import { deliverConfig, fleetServers, freePort, Haproxy, loopbackPlacement, request, startDelivery, startFleet, startHaproxy, stopAll, Fleet } from "../harness";
import { httpsGet, run, startHttpsLoad } from "./clients";
import { makeTestPki, TestPki } from "./pki";

describe("HTTPS through a real HAProxy", function () {
  let pki: TestPki;
  let ca: string;
  let fleet: Fleet;
  let placement: HaproxyPlacement & { tls: NonNullable<HaproxyPlacement["tls"]> };
  let haproxy: Haproxy;
  let acmeClient: http.Server;
  let acmePort: number;
  const HSTS = 31_536_000;
  const render = (weights: Weights) =>
    renderHaproxyConfig(
      {
        weights,
        routing: "round-robin",
        servers: fleetServers(fleet),
        tls: { publicPort: placement.tls.tlsPort, hsts: HSTS, acmeChallenge: { host: "127.0.0.1", port: acmePort } },
      },
      placement,
    );
  const tlsPort = () => placement.tls.tlsPort;
  const curl = (...args: string[]) =>
    run("curl", ["-sS", "--max-time", "10", "--cacert", pki.caPath, "--resolve", `localhost:${tlsPort()}:127.0.0.1`, "--resolve", `localhost:${placement.listenPort}:127.0.0.1`, ...args]);

  before(async () => {
    pki = makeTestPki();
    ca = fs.readFileSync(pki.caPath, "utf8");
    fleet = await startFleet();
    // Stands for the ACME client's HTTP-01 listener: answers with the path it was asked for.
    acmePort = await freePort();
    acmeClient = http.createServer((req, res) => res.end(`acme client ${req.url}`));
    await new Promise<void>((resolve) => acmeClient.listen(acmePort, "127.0.0.1", resolve));
    placement = { ...(await loopbackPlacement()), tls: { tlsPort: await freePort(), certificateDir: pki.certificateDir } };
    haproxy = await startHaproxy(render({ blue: 30, green: 70 }), placement);
  });
  after(async () => {
    await stopAll();
    await new Promise((resolve) => acmeClient?.close(resolve));
  });

  it("serves HTTPS with a certificate the CA vouches for, HTTP/2 with curl, the scheme to the app, HSTS", async () => {
    const h2 = await curl("--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", `https://localhost:${tlsPort()}/`);
    assert.strictEqual(h2.stdout, "2 200", h2.stderr);
    const h1 = await curl("--http1.1", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", `https://localhost:${tlsPort()}/`);
    assert.strictEqual(h1.stdout, "1.1 200", h1.stderr);
    // Without the CA, the certificate is not trusted: the check is real.
    const untrusted = await run("curl", ["-sS", "--max-time", "10", "--resolve", `localhost:${tlsPort()}:127.0.0.1`, `https://localhost:${tlsPort()}/`]);
    assert.strictEqual(untrusted.status, 60, untrusted.stderr);
    const answer = await httpsGet(tlsPort(), ca);
    assert.match(answer.body, /^(blue|green) /);
    assert.strictEqual(answer.headers["x-seen-forwarded-proto"], "https");
    assert.strictEqual(answer.headers["strict-transport-security"], `max-age=${HSTS}`);
  });

  it("redirects plain HTTP to HTTPS (308, path and query kept), except ACME challenges, which reach the ACME client", async () => {
    const plain = await request(`http://127.0.0.1:${placement.listenPort}/a/b?c=1&d=2`, { agent: false, headers: { host: `localhost:${placement.listenPort}` } });
    assert.strictEqual(plain.status, 308);
    assert.strictEqual(plain.headers.location, `https://localhost:${tlsPort()}/a/b?c=1&d=2`);
    assert.strictEqual(plain.headers["strict-transport-security"], undefined);
    const followed = await curl("-L", "-o", "/dev/null", "-w", "%{http_code} %{url_effective}", `http://localhost:${placement.listenPort}/x`);
    assert.strictEqual(followed.stdout, `200 https://localhost:${tlsPort()}/x`, followed.stderr);
    const challenge = await request(`http://127.0.0.1:${placement.listenPort}/.well-known/acme-challenge/token-1`, { agent: false });
    assert.strictEqual(challenge.status, 200);
    assert.strictEqual(challenge.body, "acme client /.well-known/acme-challenge/token-1");
    // Over HTTPS the path is the app's: only plain HTTP-01 validation goes to the client.
    const overHttps = await httpsGet(tlsPort(), ca, { path: "/.well-known/acme-challenge/token-1" });
    assert.match(overHttps.body, /^(blue|green) /);
  });

  it("splits by weight over HTTPS: 30/70 within 0.5 points over 2,000 keep-alive requests", async () => {
    const agent = new (await import("https")).Agent({ keepAlive: true, maxSockets: 1 });
    const counts = { blue: 0, green: 0, other: 0 };
    for (let i = 0; i < 2000; i++) {
      const { status, body } = await httpsGet(tlsPort(), ca, { agent });
      const color = body.split(" ")[0];
      if (status === 200 && (color === "blue" || color === "green")) counts[color]++;
      else counts.other++;
    }
    agent.destroy();
    assert.strictEqual(counts.other, 0);
    assert.ok(Math.abs((counts.blue / 2000) * 100 - 30) <= 0.5, JSON.stringify(counts));
  });

  it("HTTP/2 under h2load: every request succeeds, on h2", async () => {
    const result = await run("h2load", ["-n", "2000", "-c", "10", "-m", "10", `https://127.0.0.1:${tlsPort()}/`], 60_000);
    assert.strictEqual(result.status, 0, result.stderr);
    assert.match(result.stdout, /Application protocol: h2/);
    assert.match(result.stdout, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored/);
    console.log(`      h2load: ${result.stdout.split("\n").find((l) => l.startsWith("finished in"))}`);
  });

  it("a release step under HTTPS load (new handshakes and keep-alive): 0 failed requests, the new weights hold", async () => {
    const load = startHttpsLoad(tlsPort(), ca, { keepAliveClients: 4, newConnectionClients: 4, maxDurationMs: 30_000, maxRequestsPerClient: 5000 });
    try {
      for (const weights of [{ blue: 50, green: 50 }, { blue: 0, green: 100 }]) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const delivered = await deliverConfig(haproxy, render(weights));
        assert.strictEqual(delivered.status, 0, delivered.stderr);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } finally {
      await load.stop();
    }
    console.log(`      HTTPS load through two reloads: ${load.counts.ok} ok, ${load.counts.failed} failed`);
    assert.strictEqual(load.counts.failed, 0, load.counts.samples.join("\n"));
    assert.ok(load.counts.ok > 500, `only ${load.counts.ok} requests`);
    for (let i = 0; i < 50; i++) assert.match((await httpsGet(tlsPort(), ca)).body, /^green /);
    // Back to the split the other tests expect.
    assert.strictEqual((await startDelivery(haproxy, render({ blue: 30, green: 70 })).result).status, 0);
  });

  it("testssl: no HIGH or CRITICAL finding; SSLv2, SSLv3, TLS 1.0 and 1.1 not offered; TLS 1.2 and 1.3 offered", async function () {
    // Protocols, cipher categories, server defaults (certificate), headers, vulnerabilities:
    // about two minutes on an idle machine, six on a busy one. No DNS: there is none here.
    this.timeout(600_000);
    const out = path.join(pki.dir, "testssl.json");
    const result = await run(
      "testssl",
      ["--quiet", "--color", "0", "--warnings", "batch", "--nodns", "none", "--add-ca", pki.caPath, "--ip", "127.0.0.1", "--jsonfile", out,
        "-p", "-s", "-S", "-h", "-U", `https://localhost:${tlsPort()}/`],
      590_000,
    );
    assert.ok(fs.existsSync(out), `testssl wrote no report: ${result.stderr}${result.stdout.slice(-2000)}`);
    const findings = JSON.parse(fs.readFileSync(out, "utf8")) as Array<{ id: string; severity: string; finding: string }>;
    const bySeverity: Record<string, number> = {};
    for (const f of findings) bySeverity[f.severity] = (bySeverity[f.severity] ?? 0) + 1;
    console.log(`      testssl findings by severity: ${JSON.stringify(bySeverity)}`);
    for (const f of findings.filter((x) => ["LOW", "MEDIUM", "WARN"].includes(x.severity))) console.log(`        ${f.severity} ${f.id}: ${f.finding}`);
    const bad = findings.filter((f) => f.severity === "HIGH" || f.severity === "CRITICAL");
    assert.deepStrictEqual(bad.map((f) => `${f.severity} ${f.id}: ${f.finding}`), []);
    const finding = (id: string) => findings.find((f) => f.id === id)?.finding ?? "(no finding)";
    for (const id of ["SSLv2", "SSLv3", "TLS1", "TLS1_1"]) assert.match(finding(id), /^not offered/, id);
    for (const id of ["TLS1_2", "TLS1_3"]) assert.match(finding(id), /^offered/, id);
  });

  it("openssl refuses TLS 1.0 and 1.1 handshakes the client would allow (a listener that allows them accepts the same client)", async () => {
    const handshake = (port: number, version: string) =>
      run("sh", ["-c", `echo Q | openssl s_client -connect 127.0.0.1:${port} ${version} -cipher DEFAULT@SECLEVEL=0 2>&1`], 20_000);
    for (const version of ["-tls1", "-tls1_1"]) {
      const refused = await handshake(tlsPort(), version);
      assert.match(refused.stdout, /alert protocol version/, refused.stdout.slice(0, 500));
      assert.match(refused.stdout, /Cipher is \(NONE\)/);
    }
    // The control: the same client completes TLS 1.1 with a listener that permits it.
    const legacy = await loopbackPlacement();
    const legacyPort = await freePort();
    const legacyConfig = [
      "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s",
      `frontend legacy\n    bind 127.0.0.1:${legacyPort} ssl crt ${pki.certificateDir}/ ssl-min-ver TLSv1.0 ciphers DEFAULT@SECLEVEL=0`,
      "    http-request return status 200\n",
    ].join("\n");
    fs.writeFileSync(path.join(legacy.runtimeDir, "haproxy.cfg"), legacyConfig);
    await startHaproxy(`${legacyConfig}`, { ...legacy, listenPort: legacyPort });
    const accepted = await handshake(legacyPort, "-tls1_1");
    assert.match(accepted.stdout, /Protocol\s+: TLSv1\.1/);
    assert.doesNotMatch(accepted.stdout, /Cipher is \(NONE\)/);
  });
});
