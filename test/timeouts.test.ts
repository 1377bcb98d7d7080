// Timeouts and health checks as settings, in a real HAProxy: a slow response is answered with a
// 504 once and never replayed, checks are HTTP/1.1 with a Host and leave room for a slow health
// endpoint, and a WebSocket lives on the tunnel timeout across a release step.
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as net from "net";
import * as path from "path";
import { APP_BACKEND, HaproxyConfigInput, layoutOf, renderHaproxyConfig, DEFAULT_HEALTH_CHECK, DEFAULT_TIMEOUTS } from "../components/haproxyConfig";
import { Color, COLORS, ServerAddress } from "../components/settings";
import { deliverConfig, freePort, Haproxy, loopbackPlacement, request, serverStatus, sleep, startHaproxy, stopAll } from "./harness";

const APP = path.join(__dirname, "fixtures", "app.js");
const apps: ChildProcess[] = [];

interface App {
  readonly port: number;
  readonly server: ServerAddress;
}

async function startApp(color: Color, id: string, env: Record<string, string> = {}): Promise<App> {
  const port = await freePort();
  const child = spawn(process.execPath, [APP, String(port), color, id], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  apps.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`app ${color} ${id} exited with ${code}`)));
    child.stdout!.once("data", () => resolve());
  });
  return { port, server: { host: "127.0.0.1", port } };
}

/** What reached an app, asked of the app directly. */
async function seen(app: App): Promise<Array<{ path: string; version: string; host: string | null }>> {
  return JSON.parse((await request(`http://127.0.0.1:${app.port}/_seen`, { agent: false })).body);
}

async function distributor(fleet: Record<Color, App[]>, settings: Partial<HaproxyConfigInput>): Promise<{ haproxy: Haproxy; render: (s: Partial<HaproxyConfigInput>) => string }> {
  const placement = await loopbackPlacement();
  const servers = { blue: fleet.blue.map((a) => a.server), green: fleet.green.map((a) => a.server) };
  const render = (s: Partial<HaproxyConfigInput>) =>
    renderHaproxyConfig({ weights: { blue: 50, green: 50 }, routing: "round-robin", servers, ...s }, placement);
  return { haproxy: await startHaproxy(render(settings), placement), render };
}

/** Each replica's state, wherever the rendered layout puts it. */
async function statuses(haproxy: Haproxy, fleet: Record<Color, App[]>): Promise<string[]> {
  const servers = { blue: fleet.blue.map((a) => a.server), green: fleet.green.map((a) => a.server) };
  const input: HaproxyConfigInput = { weights: { blue: 50, green: 50 }, routing: "round-robin", servers };
  const out: string[] = [];
  for (const color of COLORS) {
    const backend = layoutOf(input) === "one-level" ? APP_BACKEND : color;
    for (const app of fleet[color]) out.push(`${color}/${app.port} ${await serverStatus(haproxy.placement, backend, `127.0.0.1:${app.port}`)}`);
  }
  return out;
}

/** Opens an upgraded connection through the distributor; resolves once the 101 has arrived. */
function openTunnel(port: number): Promise<{ socket: net.Socket; echo(text: string, timeoutMs?: number): Promise<string>; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const opened = Date.now();
    const closed = new Promise<number>((done) => socket.once("close", () => done(Date.now() - opened)));
    let head = "";
    const onHead = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onHead);
      if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(`no upgrade: ${head.split("\r\n")[0]}`));
      resolve({
        socket,
        closed,
        echo: (text, timeoutMs = 3000) =>
          new Promise((answer, fail) => {
            const timer = setTimeout(() => fail(new Error("no echo")), timeoutMs);
            socket.once("data", (data) => {
              clearTimeout(timer);
              answer(data.toString());
            });
            socket.write(text, (error) => error && fail(error));
          }),
      });
    };
    socket.on("data", onHead);
    socket.once("error", reject);
    socket.write(
      "GET /ws HTTP/1.1\r\nHost: app.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
  });
}

describe("timeouts and health checks (real HAProxy)", function () {
  this.timeout(60_000);
  afterEach(async () => {
    for (const app of apps.splice(0)) if (app.exitCode === null) app.kill("SIGKILL");
    await stopAll();
  });

  it("a GET slower than timeouts.server reaches a backend exactly once, and the client gets a 504 then", async () => {
    const fleet = { blue: [await startApp("blue", "0"), await startApp("blue", "1")], green: [await startApp("green", "0"), await startApp("green", "1")] };
    const { haproxy } = await distributor(fleet, { timeouts: { ...DEFAULT_TIMEOUTS, server: 3000 } });
    const started = Date.now();
    const answer = await request(`${haproxy.url}/slow?ms=8000`, { agent: false, timeoutMs: 20_000 });
    const elapsed = Date.now() - started;
    assert.strictEqual(answer.status, 504);
    assert.ok(elapsed >= 2900 && elapsed < 4500, `504 after ${elapsed} ms`);
    await sleep(6000); // past the app's own 8 s: a replay would have arrived by now
    const slow = (await Promise.all([...fleet.blue, ...fleet.green].map(seen))).flat().filter((r) => r.path === "/slow");
    assert.strictEqual(slow.length, 1, `the slow GET reached the backends ${slow.length} times`);
  });

  it("checks with HTTP/1.1 and the server's Host, and keeps a color with a 700 ms health endpoint UP", async () => {
    const app = async (color: Color, id: string) => {
      const port = await freePort();
      // The app answers its health endpoint only for its own name, as a virtual host would.
      const child = spawn(process.execPath, [APP, String(port), color, id], {
        env: { ...process.env, HEALTH_DELAY_MS: "700", REQUIRE_HOST: `127.0.0.1:${port}` },
        stdio: ["ignore", "pipe", "inherit"],
      });
      apps.push(child);
      await new Promise((resolve) => child.stdout!.once("data", resolve));
      return { port, server: { host: "127.0.0.1", port } };
    };
    const fleet = { blue: [await app("blue", "0")], green: [await app("green", "0")] };
    const { haproxy } = await distributor(fleet, { healthCheck: { ...DEFAULT_HEALTH_CHECK, path: "/healthz" } });
    await sleep(4000);
    assert.deepStrictEqual(await statuses(haproxy, fleet), COLORS.map((c) => `${c}/${fleet[c][0].port} UP`));
    const checks = (await seen(fleet.blue[0])).filter((r) => r.path === "/healthz");
    assert.ok(checks.length >= 3, `${checks.length} checks`);
    for (const check of checks) assert.deepStrictEqual({ version: check.version, host: check.host }, { version: "1.1", host: `127.0.0.1:${fleet.blue[0].port}` });
  });

  it("sends healthCheck.host when set, and marks a server DOWN when its checks outlast healthCheck.timeout", async () => {
    const fleet = {
      blue: [await startApp("blue", "0", { REQUIRE_HOST: "app.example.com" })],
      green: [await startApp("green", "0", { HEALTH_DELAY_MS: "700" })],
    };
    const { haproxy } = await distributor(fleet, { healthCheck: { ...DEFAULT_HEALTH_CHECK, path: "/healthz", host: "app.example.com", timeout: 300 } });
    await sleep(3000);
    assert.deepStrictEqual(await statuses(haproxy, fleet), [`blue/${fleet.blue[0].port} UP`, `green/${fleet.green[0].port} DOWN`]);
    assert.ok((await seen(fleet.blue[0])).filter((r) => r.path === "/healthz").every((r) => r.host === "app.example.com"));
  });

  it("keeps an idle WebSocket past the client and server timeouts on timeouts.tunnel, across a weight step", async () => {
    const fleet = { blue: [await startApp("blue", "0")], green: [await startApp("green", "0")] };
    const timeouts = { ...DEFAULT_TIMEOUTS, client: 1000, server: 1000, tunnel: 3_600_000, drain: 60_000 };
    const { haproxy, render } = await distributor(fleet, { timeouts });
    const tunnel = await openTunnel(haproxy.placement.listenPort);
    assert.strictEqual(await tunnel.echo("one"), "one");
    await sleep(4000); // four times the client and server timeouts, idle
    assert.strictEqual(await tunnel.echo("two"), "two");
    const step = await deliverConfig(haproxy, render({ weights: { blue: 0, green: 100 }, timeouts }));
    assert.strictEqual(step.status, 0, step.stderr);
    await sleep(2000);
    assert.strictEqual(await tunnel.echo("three"), "three", "the tunnel did not survive the weight step");
    tunnel.socket.destroy();
  });

  it("closes an idle WebSocket after timeouts.tunnel", async () => {
    const fleet = { blue: [await startApp("blue", "0")], green: [await startApp("green", "0")] };
    const { haproxy } = await distributor(fleet, { timeouts: { ...DEFAULT_TIMEOUTS, client: 30_000, server: 30_000, tunnel: 2000 } });
    const tunnel = await openTunnel(haproxy.placement.listenPort);
    assert.strictEqual(await tunnel.echo("one"), "one");
    const lived = await Promise.race([tunnel.closed, sleep(10_000).then(() => -1)]);
    assert.ok(lived >= 1900 && lived < 5000, `closed after ${lived} ms`);
  });
});
