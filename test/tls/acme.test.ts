// ACME end to end on loopback: Debian's pebble (a test CA) validates HTTP-01 through the
// distributor's plain HTTP port, lego answers the challenge behind it and installs what it is
// issued with the project's hook (runtime API, no reload); then a forced renewal under load.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { HaproxyPlacement, renderHaproxyConfig } from "../../components/haproxyConfig";
import { CERTIFICATE_FILE_NAME } from "../../components/tlsListener";
import { fleetServers, freePort, Haproxy, loopbackPlacement, sleep, startFleet, startHaproxy, stopAll } from "../harness";
import { tempDir } from "../haproxy";
import { run, servedCertificate, startHttpsLoad } from "./clients";
import { Pebble, startPebble } from "./pebble";
import { makeTestPki, TestPki } from "./pki";

const HOOK = path.join(__dirname, "..", "..", "components", "acme", "install-certificate.sh");
const NAME = "shop.example.com";

describe("ACME: pebble issues through the distributor's HTTP-01 path, lego installs and renews", function () {
  let apiPki: TestPki;
  let placeholder: TestPki;
  let placement: HaproxyPlacement & { tls: NonNullable<HaproxyPlacement["tls"]> };
  let haproxy: Haproxy;
  let pebbleUrl: string;
  let pebble: Pebble;
  let acmePort: number;
  let legoDir: string;
  let pebbleRoot: string;

  const lego = (command: string[], hook: "--run-hook" | "--renew-hook") =>
    run(
      "lego",
      [
        "--accept-tos", "--email", "ops@example.com", "--server", `${pebbleUrl}/dir`, "--path", legoDir, "--domains", NAME,
        "--key-type", "ec256", "--http", "--http.port", `127.0.0.1:${acmePort}`, ...command, hook, HOOK,
      ],
      120_000,
      {
        ...process.env,
        LEGO_CA_CERTIFICATES: apiPki.caPath,
        CERTIFICATE_PATH: path.join(placement.tls.certificateDir, CERTIFICATE_FILE_NAME),
        ADMIN_SOCKET: path.join(placement.runtimeDir, "admin.sock"),
      },
    );

  before(async () => {
    apiPki = makeTestPki(["localhost"]);
    // The distributor starts on a placeholder, as the component delivers one.
    placeholder = makeTestPki([NAME]);
    const fleet = await startFleet();
    acmePort = await freePort();
    placement = { ...(await loopbackPlacement()), tls: { tlsPort: await freePort(), certificateDir: placeholder.certificateDir } };
    const config = renderHaproxyConfig(
      {
        weights: { blue: 50, green: 50 },
        routing: "round-robin",
        servers: fleetServers(fleet),
        tls: { publicPort: placement.tls.tlsPort, hsts: 0, acmeChallenge: { host: "127.0.0.1", port: acmePort } },
      },
      placement,
    );
    haproxy = await startHaproxy(config, placement);

    // Pebble resolves every name to 127.0.0.1 (challtestsrv's DNS) and validates HTTP-01 on the distributor's port.
    pebble = await startPebble({ apiPki, httpPort: placement.listenPort });
    pebbleUrl = `https://127.0.0.1:${pebble.port}`;
    legoDir = tempDir("lego");
  });
  after(stopAll);

  it("issues a certificate for the name through the distributor's challenge path; HTTPS serves it, on HTTP/2", async () => {
    const before = (await servedCertificate(placement.tls.tlsPort, NAME)).serialNumber;
    const issued = await lego(["run"], "--run-hook");
    assert.strictEqual(issued.status, 0, `${issued.stdout}\n${issued.stderr}`);
    assert.match(issued.stdout + issued.stderr, /serving the certificate for shop.example.com \(runtime API, no reload\)/);
    // The validation went through the distributor's plain HTTP port.
    assert.match(fs.readFileSync(haproxy.logPath, "utf8"), /acme_challenge\/acme .*"GET \/.well-known\/acme-challenge\/[^ ]+ HTTP\/1.1"/);
    pebbleRoot = path.join(legoDir, "pebble-root.pem");
    fs.writeFileSync(pebbleRoot, await pebble.root());
    assert.notStrictEqual((await servedCertificate(placement.tls.tlsPort, NAME)).serialNumber, before, "still the placeholder");
    const port = placement.tls.tlsPort;
    const curl = await run("curl", ["-sS", "--max-time", "10", "--http2", "--cacert", pebbleRoot, "--resolve", `${NAME}:${port}:127.0.0.1`,
      "-o", "/dev/null", "-w", "%{http_version} %{http_code}", `https://${NAME}:${port}/`]);
    assert.strictEqual(curl.stdout, "2 200", curl.stderr);
    // The master never reloaded: one worker since the start.
    assert.strictEqual(fs.readFileSync(haproxy.logPath, "utf8").match(/Loading success/g)?.length, 1);
  });

  it("a forced renewal under HTTPS load: a new certificate served, 0 failed requests", async () => {
    assert.ok(pebbleRoot, "needs the issued certificate of the previous test");
    const port = placement.tls.tlsPort;
    const first = (await servedCertificate(port, NAME)).serialNumber;
    const load = startHttpsLoad(port, fs.readFileSync(pebbleRoot, "utf8"), {
      keepAliveClients: 4, newConnectionClients: 4, maxDurationMs: 60_000, maxRequestsPerClient: 20_000, servername: NAME,
    });
    let renewed;
    try {
      await sleep(1000);
      renewed = await lego(["renew", "--days", "100000", "--no-random-sleep"], "--renew-hook");
      await sleep(1000);
    } finally {
      await load.stop();
    }
    assert.strictEqual(renewed.status, 0, `${renewed.stdout}\n${renewed.stderr}`);
    console.log(`      renewal under HTTPS load: ${load.counts.ok} ok, ${load.counts.failed} failed`);
    assert.strictEqual(load.counts.failed, 0, load.counts.samples.join("\n"));
    assert.ok(load.counts.ok > 200, `only ${load.counts.ok} requests`);
    assert.notStrictEqual((await servedCertificate(port, NAME)).serialNumber, first, "the renewed certificate is not served");
    // The file on disk is the served one: a reload would keep it.
    const onDisk = fs.readFileSync(path.join(placement.tls.certificateDir, CERTIFICATE_FILE_NAME), "utf8");
    assert.strictEqual(new (await import("crypto")).X509Certificate(onDisk).serialNumber, (await servedCertificate(port, NAME)).serialNumber);
  });
});
