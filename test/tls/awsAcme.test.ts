// The aws target's ACME client for real, on loopback: the config the component renders for an
// aws distributor with `tls.mode: acme` (its challenge server moved from the Docker bridge to a
// loopback port), served by the host's HAProxy on a placeholder certificate; Debian's pebble as
// the CA; and the very script the systemd timer runs on the instance (acme-certificate.sh), with
// Debian's lego and the project's hook. First issuance, an idle run, a repair, and a forced
// renewal under HTTPS load.
import * as assert from "assert";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { renderHaproxyConfig } from "../../components/haproxyConfig";
import { CERTIFICATE_FILE_NAME } from "../../components/tlsListener";
import { ACME_CHALLENGE_SERVER_ON_HOST } from "../../components/aws/acmeClient";
import { renderInput } from "../../components/trafficDistributor";
import { validateTrafficDistributorArgs } from "../../components/trafficDistributorArgs";
import { STATS_PASSWORD } from "../statsPassword";
import { fleetServers, freePort, Haproxy, loopbackPlacement, sleep, startFleet, startHaproxy, stopAll } from "../harness";
import { tempDir } from "../haproxy";
import { run, servedCertificate, startHttpsLoad } from "./clients";
import { startPebble } from "./pebble";
import { makeTestPki, TestPki } from "./pki";

const ROOT = path.join(__dirname, "..", "..");
const TIMER_SCRIPT = path.join(ROOT, "components", "aws", "acme-certificate.sh");
const HOOK = path.join(ROOT, "components", "acme", "install-certificate.sh");
const NAME = "shop.example.com";

describe("ACME on aws: the timer's script issues and renews through the aws config's challenge path (pebble, lego)", function () {
  let apiPki: TestPki;
  let haproxy: Haproxy;
  let tlsPort: number;
  let certificatePath: string;
  let legoDir: string;
  let pebbleRoot: string;
  let env: NodeJS.ProcessEnv;

  /** One run of the script the systemd unit starts, with the unit's environment pointed at this test's files. */
  const timerRun = (renewDays = 30) => run("sh", [TIMER_SCRIPT], 150_000, { ...env, RENEW_DAYS: String(renewDays) });
  const legoCertificate = () => new X509Certificate(fs.readFileSync(path.join(legoDir, "certificates", `${NAME}.crt`), "utf8"));
  const reloads = () => fs.readFileSync(haproxy.logPath, "utf8").match(/Loading success/g)?.length;

  before(async () => {
    apiPki = makeTestPki(["localhost"]);
    const placeholder = makeTestPki([NAME]);
    const fleet = await startFleet();
    const acmePort = await freePort();
    tlsPort = await freePort();
    const placement = { ...(await loopbackPlacement()), tls: { tlsPort, certificateDir: placeholder.certificateDir } };

    // The component's own render input for an aws distributor with acme on its DNS name.
    const settings = validateTrafficDistributorArgs({
      statsPassword: STATS_PASSWORD,
      target: "aws",
      aws: { dns: { zoneId: "Z0123456789ABCDEFGHIJ", name: NAME } },
      tls: { mode: "acme", acme: { email: "ops@example.com" } },
      blue: { servers: ["127.0.0.1:1"] },
      green: { servers: ["127.0.0.1:2"] },
    });
    const input = renderInput(settings, fleetServers(fleet), undefined);
    assert.deepStrictEqual(input.tls?.acmeChallenge, ACME_CHALLENGE_SERVER_ON_HOST);
    assert.strictEqual(input.tls?.publicPort, 443);
    // On the instance lego listens on the Docker bridge; here, on a loopback port.
    const config = renderHaproxyConfig({ ...input, tls: { ...input.tls!, acmeChallenge: { host: "127.0.0.1", port: acmePort } } }, placement);
    haproxy = await startHaproxy(config, placement);

    // The CA validates through the distributor's plain HTTP port.
    const pebble = await startPebble({ apiPki, httpPort: placement.listenPort });
    legoDir = tempDir("lego");
    pebbleRoot = path.join(legoDir, "pebble-root.pem");
    fs.writeFileSync(pebbleRoot, await pebble.root());

    certificatePath = path.join(placement.tls.certificateDir, CERTIFICATE_FILE_NAME);
    // The unit's environment (components/aws/acmeClient.ts), with this test's paths.
    env = {
      ...process.env,
      ACME_DOMAINS: settings.tls!.domains.join(" "),
      ACME_DIRECTORY: `https://127.0.0.1:${pebble.port}/dir`,
      ACME_EMAIL: settings.tls!.acme!.email,
      LEGO: "lego",
      LEGO_PATH: legoDir,
      LEGO_CA_CERTIFICATES: apiPki.caPath,
      CERTIFICATE_PATH: certificatePath,
      ADMIN_SOCKET: path.join(placement.runtimeDir, "admin.sock"),
      INSTALL_HOOK: HOOK,
      CHALLENGE_ADDRESS: `127.0.0.1:${acmePort}`,
    };
  });
  after(stopAll);

  it("first run: lego issues through HAProxy's plain port and the hook installs the certificate without a reload", async () => {
    const placeholder = (await servedCertificate(tlsPort, NAME)).serialNumber;
    const issued = await timerRun();
    assert.strictEqual(issued.status, 0, `${issued.stdout}\n${issued.stderr}`);
    assert.match(issued.stdout + issued.stderr, /serving the certificate for shop.example.com \(runtime API, no reload\)/);
    assert.match(fs.readFileSync(haproxy.logPath, "utf8"), /acme_challenge\/acme .*"GET \/.well-known\/acme-challenge\/[^ ]+ HTTP\/1.1"/);
    const served = (await servedCertificate(tlsPort, NAME)).serialNumber;
    assert.notStrictEqual(served, placeholder, "still the placeholder");
    assert.strictEqual(served, legoCertificate().serialNumber);
    assert.strictEqual(new X509Certificate(fs.readFileSync(certificatePath, "utf8")).serialNumber, served, "the file on disk is the served one");
    assert.strictEqual(reloads(), 1);
    const curl = await run("curl", ["-sS", "--max-time", "10", "--cacert", pebbleRoot, "--resolve", `${NAME}:${tlsPort}:127.0.0.1`,
      "-o", "/dev/null", "-w", "%{http_code}", `https://${NAME}:${tlsPort}/`]);
    assert.strictEqual(curl.stdout, "200", curl.stderr);
  });

  it("a run with the certificate not due renews nothing and leaves the served one", async () => {
    const before = (await servedCertificate(tlsPort, NAME)).serialNumber;
    const idle = await timerRun(30);
    assert.strictEqual(idle.status, 0, `${idle.stdout}\n${idle.stderr}`);
    assert.doesNotMatch(idle.stdout + idle.stderr, /serving the certificate/);
    assert.strictEqual((await servedCertificate(tlsPort, NAME)).serialNumber, before);
  });

  it("a run repairs a file that is not lego's certificate (a placeholder delivered over it)", async () => {
    const served = (await servedCertificate(tlsPort, NAME)).serialNumber;
    const placeholder = makeTestPki([NAME]);
    fs.writeFileSync(certificatePath, placeholder.chain + placeholder.key);
    const repaired = await timerRun(30);
    assert.strictEqual(repaired.status, 0, `${repaired.stdout}\n${repaired.stderr}`);
    assert.match(repaired.stdout + repaired.stderr, /HAProxy does not serve lego's certificate for shop.example.com yet: installing it/);
    assert.strictEqual(new X509Certificate(fs.readFileSync(certificatePath, "utf8")).serialNumber, legoCertificate().serialNumber);
    assert.strictEqual((await servedCertificate(tlsPort, NAME)).serialNumber, served);
  });

  it("a renewal under HTTPS load: the new certificate served, 0 failed requests, no reload", async () => {
    const first = (await servedCertificate(tlsPort, NAME)).serialNumber;
    const load = startHttpsLoad(tlsPort, fs.readFileSync(pebbleRoot, "utf8"), {
      keepAliveClients: 4, newConnectionClients: 4, maxDurationMs: 60_000, maxRequestsPerClient: 20_000, servername: NAME,
    });
    let renewed;
    try {
      await sleep(1000);
      // Due whatever its age: renewal now.
      renewed = await timerRun(100_000);
      await sleep(1000);
    } finally {
      await load.stop();
    }
    assert.strictEqual(renewed.status, 0, `${renewed.stdout}\n${renewed.stderr}`);
    console.log(`      renewal under HTTPS load: ${load.counts.ok} ok, ${load.counts.failed} failed`);
    assert.strictEqual(load.counts.failed, 0, load.counts.samples.join("\n"));
    assert.ok(load.counts.ok > 200, `only ${load.counts.ok} requests`);
    const now = (await servedCertificate(tlsPort, NAME)).serialNumber;
    assert.notStrictEqual(now, first, "the renewed certificate is not served");
    assert.strictEqual(now, legoCertificate().serialNumber);
    assert.strictEqual(reloads(), 1);
  });
});
