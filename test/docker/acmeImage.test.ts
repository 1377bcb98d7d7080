// The ACME client's image as users build it: images/acme-client/Dockerfile itself, built by the
// engine (its own apt-get installs from the Debian mirror named in the base's apt sources) on
// Debian 13 minbase from build-images.sh (`--rootfs trixie`), which stands for its default base
// debian:trixie-slim: there is no registry to pull that from. A wrong package name fails the
// build, and this test with it. Then what the component needs of the image: lego, socat and
// /bin/sh as HAProxy's uid, and the client's container, created as components/docker/acmeClient.ts
// creates it, gets a certificate from Debian's pebble and hands it to HAProxy's admin socket.
// HAProxy is played by a stand-in from the same image: the container whose network namespace and
// state volume the client shares, with socat forwarding its plain port to lego's challenge
// listener on the shared loopback and socat answering `set ssl cert` / `commit ssl cert`.
import * as assert from "assert";
import { execFile, spawn } from "child_process";
import { X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import {
  ACME_CLIENT_SCRIPT,
  ACME_CONTAINER_SCRIPTS,
  HAPROXY_USER,
  INSTALL_CERTIFICATE_SCRIPT,
  RENEWAL,
  SHARED_STATE_DIR,
} from "../../components/docker/acmeClient";
import { NO_NEW_PRIVILEGES } from "../../components/docker/containerPolicy";
import { formatServer } from "../../components/settings";
import { ACME_CHALLENGE_SERVER } from "../../components/tls";
import { CERTIFICATE_FILE_NAME, CONTAINER_TLS_PLACEMENT } from "../../components/tlsListener";
import { freePort, sleep, stopAll } from "../harness";
import { tempDir } from "../haproxy";
import { startPebble } from "../tls/pebble";
import { makeTestPki } from "../tls/pki";
import { testEngine } from "./setup";

/** The build context users build (`docker build -t acme-client:1 images/acme-client`). */
const CONTEXT = path.join(__dirname, "..", "..", "images", "acme-client");
const NAME = "shop.example.com";
const CERTIFICATE_PATH = `${CONTAINER_TLS_PLACEMENT.certificateDir}/${CERTIFICATE_FILE_NAME}`;
const ADMIN_SOCKET = `${SHARED_STATE_DIR}/admin.sock`;
/** The stand-in's files (and pebble's API CA for lego), uploaded beside nothing of the component's. */
const TEST_DIR = "/usr/local/lib/traffic-distributor-test";
/** The stand-in's plain port, published to pebble's HTTP-01 port on this host. */
const PLAIN_PORT = 8080;
const [UID, GID] = HAPROXY_USER.split(":");

/** HAProxy's admin socket for one connection: records the command line and a payload, answers as HAProxy does. */
const RUNTIME_API = `#!/bin/sh
read -r command
printf '%s\\n' "$command" >>${SHARED_STATE_DIR}/runtime-api.log
case $command in
  "set ssl cert "*) cat >${SHARED_STATE_DIR}/runtime-api.payload; echo "Transaction created for certificate \${command#set ssl cert }" ;;
  "commit ssl cert "*) echo "Committing \${command#commit ssl cert }"; echo "Success!" ;;
  *) echo "Unknown command." ;;
esac
`;

/**
 * The distributor, played (as root): its state directory owned by HAProxy's user as in its image,
 * the certificate directory, the plain port's challenge route to lego on the loopback, the admin socket.
 */
const DISTRIBUTOR_STAND_IN = `#!/bin/sh
set -eu
chown ${HAPROXY_USER} ${SHARED_STATE_DIR}
install -d -o ${UID} -g ${GID} -m 0700 ${CONTAINER_TLS_PLACEMENT.certificateDir}
socat TCP-LISTEN:${PLAIN_PORT},fork,reuseaddr TCP:${formatServer(ACME_CHALLENGE_SERVER)} &
exec socat UNIX-LISTEN:${ADMIN_SOCKET},fork,user=${UID},group=${GID},mode=600 EXEC:${TEST_DIR}/runtime-api.sh
`;

/** build-images.sh's Debian 13 minbase tarball (cached), standing for debian:trixie-slim. */
function trixieRootfs(): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("sh", [path.join(__dirname, "build-images.sh"), "--rootfs", "trixie"], { timeout: 900_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`build-images.sh --rootfs trixie failed: ${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

/** Files put into a created container before it starts, like the provider's uploads: one tar, root-owned, extracted at /. */
async function upload(id: string, files: Array<{ file: string; content: string; mode: number }>): Promise<void> {
  const dir = tempDir("acme-image-upload");
  try {
    const relative = files.map(({ file, content, mode }) => {
      const name = file.replace(/^\/+/, "");
      fs.mkdirSync(path.join(dir, path.dirname(name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), content);
      fs.chmodSync(path.join(dir, name), mode);
      return name;
    });
    await new Promise<void>((resolve, reject) => {
      const child = spawn("sh", ["-c", 'dir=$1 id=$2; shift 2; tar -C "$dir" --owner=0 --group=0 --numeric-owner -cf - "$@" | docker cp - "$id":/', "sh", dir, id, ...relative], {
        env: { ...process.env, DOCKER_HOST: testEngine().host },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr!.on("data", (chunk) => (stderr += chunk));
      child.once("error", reject);
      child.once("close", (status) => (status === 0 ? resolve() : reject(new Error(`upload into ${id} exited ${status}: ${stderr}`))));
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("The ACME client's image (images/acme-client/Dockerfile, built as users build it)", () => {
  /** Every container this file creates, removed by ID as soon as it is done and in `after`. */
  const containers = new Set<string>();
  const dirs: string[] = [];
  let image: string | undefined;
  let volume: string | undefined;
  let network: string | undefined;

  async function remove(id: string): Promise<void> {
    await testEngine().docker(["rm", "-f", "-v", id], { allowFail: true });
    containers.delete(id);
  }

  async function create(args: string[]): Promise<string> {
    const engine = testEngine();
    const id = (await engine.docker(["create", "--label", engine.label, ...args])).stdout.trim();
    containers.add(id);
    return id;
  }

  /** Runs `entrypoint args` in the image as HAProxy's user with no network, in a container removed by ID. */
  async function runIn(entrypoint: string, args: string[]) {
    const id = await create(["--network", "none", "--user", HAPROXY_USER, "--cap-drop", "ALL", "--entrypoint", entrypoint, image!, ...args]);
    try {
      return await testEngine().docker(["start", "-a", id], { allowFail: true, timeoutMs: 60_000 });
    } finally {
      await remove(id);
    }
  }

  after(async function () {
    this.timeout(120_000);
    const engine = testEngine();
    for (const id of [...containers].reverse()) await remove(id);
    if (volume) await engine.docker(["volume", "rm", "-f", volume], { allowFail: true });
    if (network) await engine.docker(["network", "rm", network], { allowFail: true });
    await stopAll();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("builds on Debian 13 with the engine's own apt-get; lego, socat, /bin/sh and what the client's scripts run are there for uid 99", async () => {
    const engine = testEngine();
    const began = Date.now();
    const rootfs = await trixieRootfs();
    const rootfsMs = Date.now() - began;
    const base = `traffic-distributor-test/trixie-rootfs:${path.basename(rootfs, ".tar").replace(/^rootfs-trixie-/, "")}`;
    await engine.docker(["import", "-c", `LABEL ${engine.label}`, rootfs, base], { timeoutMs: 300_000 });
    const importedAt = Date.now();
    const tag = `traffic-distributor-test/acme-client:${engine.runId}`;
    // --force-rm: a failed RUN leaves no intermediate container behind.
    const build = await engine.docker(
      ["build", "--force-rm", "--build-arg", `BASE=${base}`, "--label", engine.label, "-t", tag, CONTEXT],
      { timeoutMs: 600_000, allowFail: true },
    );
    assert.strictEqual(build.status, 0, `docker build ${CONTEXT} failed:\n${build.stdout}\n${build.stderr}`);
    image = tag;
    const builtAt = Date.now();

    // One container (each is a copy of the image on vfs): /bin/sh runs lego and socat, and
    // looks for the other commands acme-client.sh and install-certificate.sh run and for the
    // CA bundle lego trusts for Let's Encrypt's API.
    const checks = await runIn("/bin/sh", [
      "-c",
      'lego --version && socat -V | grep "^socat version" && echo "uid $(id -u)" || exit 1; ' +
        'for c in cksum cut grep cmp mktemp stat chown mv cat sleep dirname; do command -v "$c" >/dev/null || echo "missing $c"; done; ' +
        'test -s /etc/ssl/certs/ca-certificates.crt || echo "no /etc/ssl/certs/ca-certificates.crt"',
    ]);
    assert.strictEqual(checks.status, 0, checks.stdout + checks.stderr);
    const [lego, socat, uid, ...rest] = checks.stdout.trim().split("\n");
    // Debian builds lego without a version stamp: "lego version dev linux/amd64".
    assert.match(lego, /^lego version \S+ linux\//, checks.stdout);
    assert.match(socat, /^socat version \d+\.\d+/, checks.stdout);
    assert.strictEqual(uid, `uid ${UID}`);
    assert.deepStrictEqual(rest, [], checks.stdout);
    console.log(`      base rootfs ${rootfsMs} ms, import ${importedAt - began - rootfsMs} ms, docker build ${builtAt - importedAt} ms, checks ${Date.now() - builtAt} ms`);
  });

  it("runs the client as the component does: issues from pebble, installs through the admin socket, stops on docker stop", async () => {
    assert.ok(image, "the image was not built (see the test above)");
    const engine = testEngine();
    const began = Date.now();
    network = `tdacmeimage-net-${engine.runId}`;
    await engine.docker(["network", "create", "--label", engine.label, network]);
    const gateway = (await engine.docker(["network", "inspect", "--format", "{{(index .IPAM.Config 0).Gateway}}", network])).stdout.trim();
    assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/);
    volume = `tdacmeimage-state-${engine.runId}`;
    await engine.docker(["volume", "create", "--label", engine.label, volume]);

    // pebble on this host validates HTTP-01 on the stand-in's published plain port; lego reaches
    // its API on the network's gateway and trusts its CA through LEGO_CA_CERTIFICATES.
    const apiPki = makeTestPki(["localhost"], ["127.0.0.1", gateway]);
    dirs.push(apiPki.dir);
    const httpPort = await freePort();
    const pebble = await startPebble({ apiPki, httpPort, listenAddress: "0.0.0.0" });

    const distributor = await create([
      "--network", network, "-p", `127.0.0.1:${httpPort}:${PLAIN_PORT}`, "-v", `${volume}:${SHARED_STATE_DIR}`,
      "--entrypoint", "/bin/sh", image, `${TEST_DIR}/distributor.sh`,
    ]);
    await upload(distributor, [
      { file: `${TEST_DIR}/distributor.sh`, content: DISTRIBUTOR_STAND_IN, mode: 0o755 },
      { file: `${TEST_DIR}/runtime-api.sh`, content: RUNTIME_API, mode: 0o755 },
    ]);
    await engine.docker(["start", distributor]);
    for (const deadline = Date.now() + 20_000; ; await sleep(200)) {
      if ((await engine.docker(["exec", distributor, "test", "-S", ADMIN_SOCKET], { allowFail: true })).status === 0) break;
      if (Date.now() > deadline) {
        const logs = await engine.docker(["logs", distributor], { allowFail: true });
        assert.fail(`the stand-in's admin socket is not there after 20 s:\n${logs.stdout}${logs.stderr}`);
      }
    }

    // components/docker/acmeClient.ts's container: the distributor's network namespace and state
    // volume, HAProxy's user, no capability, its entrypoint and environment, the scripts uploaded.
    const client = await create([
      "--network", `container:${distributor}`,
      "-v", `${volume}:${SHARED_STATE_DIR}`,
      "--user", HAPROXY_USER,
      "--cap-drop", "ALL",
      "--security-opt", NO_NEW_PRIVILEGES,
      ...[
        `ACME_DIRECTORY=https://${gateway}:${pebble.port}/dir`,
        `ACME_DOMAINS=${NAME}`,
        "ACME_EMAIL=ops@example.com",
        `ACME_CHALLENGE_ADDRESS=${formatServer(ACME_CHALLENGE_SERVER)}`,
        `LEGO_PATH=${SHARED_STATE_DIR}/acme`,
        `CERTIFICATE_PATH=${CERTIFICATE_PATH}`,
        `ADMIN_SOCKET=${ADMIN_SOCKET}`,
        `RENEW_DAYS=${RENEWAL.daysBefore}`,
        `RENEW_INTERVAL=${RENEWAL.intervalSeconds}`,
        `LEGO_CA_CERTIFICATES=${TEST_DIR}/pebble-api-ca.pem`,
      ].flatMap((env) => ["--env", env]),
      "--entrypoint", "/bin/sh", image, ACME_CONTAINER_SCRIPTS.client,
    ]);
    await upload(client, [
      { file: ACME_CONTAINER_SCRIPTS.client, content: ACME_CLIENT_SCRIPT, mode: 0o755 },
      { file: ACME_CONTAINER_SCRIPTS.hook, content: INSTALL_CERTIFICATE_SCRIPT, mode: 0o755 },
      { file: `${TEST_DIR}/pebble-api-ca.pem`, content: pebble.apiCa, mode: 0o644 },
    ]);
    await engine.docker(["start", client]);
    const startedAt = Date.now();

    let logs = "";
    for (const deadline = Date.now() + 90_000; ; await sleep(500)) {
      const answer = await engine.docker(["logs", client], { allowFail: true });
      logs = answer.stdout + answer.stderr;
      if (logs.includes(`serving the certificate for ${NAME} (runtime API, no reload)`)) break;
      if (Date.now() > deadline) {
        const stand = await engine.docker(["logs", distributor], { allowFail: true });
        assert.fail(`no certificate installed after 90 s; the client said:\n${logs}\nthe stand-in said:\n${stand.stdout}${stand.stderr}`);
      }
    }
    const issuedAt = Date.now();
    const state = (await engine.docker(["inspect", "--format", "{{.State.Running}} {{.RestartCount}} {{.Config.User}}", client])).stdout.trim();
    assert.strictEqual(state, `true 0 ${HAPROXY_USER}`, logs);

    // What HAProxy got: `set ssl cert` with the chain and key, then `commit ssl cert`; the file
    // it loads at the next reload holds the same, HAProxy's user's alone.
    const read = async (file: string) => (await engine.docker(["exec", distributor, "cat", file])).stdout;
    assert.deepStrictEqual((await read(`${SHARED_STATE_DIR}/runtime-api.log`)).trim().split("\n"), [
      `set ssl cert ${CERTIFICATE_PATH} <<`,
      `commit ssl cert ${CERTIFICATE_PATH}`,
    ]);
    const installed = await read(CERTIFICATE_PATH);
    assert.strictEqual((await read(`${SHARED_STATE_DIR}/runtime-api.payload`)).trim(), installed.trim());
    assert.match(installed, /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    const owner = (await engine.docker(["exec", distributor, "stat", "-c", "%u:%g %a", CERTIFICATE_PATH])).stdout.trim();
    assert.strictEqual(owner, `${HAPROXY_USER} 600`);
    const certificate = new X509Certificate(installed.slice(0, installed.indexOf("-----END CERTIFICATE-----") + 25));
    assert.match(certificate.issuer, /Pebble/);
    assert.strictEqual(certificate.subjectAltName, `DNS:${NAME}`);

    // PID 1 between passes: `docker stop` ends it at once, with status 0.
    const stopping = Date.now();
    await engine.docker(["stop", "-t", "10", client], { timeoutMs: 30_000 });
    const stopMs = Date.now() - stopping;
    const exit = (await engine.docker(["inspect", "--format", "{{.State.ExitCode}}", client])).stdout.trim();
    assert.strictEqual(exit, "0", logs);
    assert.ok(stopMs < 5_000, `docker stop took ${stopMs} ms`);
    console.log(`      stand-in and pebble ${startedAt - began} ms, issued and installed ${issuedAt - startedAt} ms, docker stop ${stopMs} ms`);
  });
});
