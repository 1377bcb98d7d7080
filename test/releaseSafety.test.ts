// Release safety that holds, on a real HAProxy: the gate trusts only checks that ran after the
// step began, the bake counts every failed answer the receiving color's clients get (HAProxy's
// own 503s included), a bake that cannot read the runtime API fails, a bake cut short by a
// killed delivery runs again on the next delivery, and a missing runtime API is named.
import * as assert from "assert";
import { ChildProcess } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { HaproxyConfigInput, renderHaproxyConfig } from "../components/haproxyConfig";
import { DEFAULT_GATE, parseBake, parseGateTimeout } from "../components/releaseGate";
import { Color, GateSettings, ServerAddress, Weights } from "../components/settings";
import { App, apps, startApp, stopApps } from "./appRig";
import { answers, deliverConfig, DeliveryResult, Haproxy, loopbackPlacement, sleep, startDelivery, startHaproxy, startLoad, stopAll } from "./harness";

const show = (r: DeliveryResult) => `status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const HEALTH = { path: "/healthz", interval: 300, timeout: 1000, expectStatus: "200-399" };
const servers = (list: App[]): ServerAddress[] => list.map((a) => a.server);
const onDisk = (haproxy: Haproxy) => fs.readFileSync(haproxy.configPath, "utf8");

function gate(overrides: { timeout?: string; bake?: string } = {}): GateSettings {
  return {
    ...DEFAULT_GATE,
    ...(overrides.timeout ? { timeout: parseGateTimeout("gate.timeout", overrides.timeout) } : {}),
    ...(overrides.bake ? { bake: parseBake("gate.bake", overrides.bake) } : {}),
  };
}

/** An app and its process, to freeze or kill it. */
async function app(color: Color, id: string): Promise<App & { process: ChildProcess }> {
  const started = await startApp(color, id);
  return { ...started, process: apps[apps.length - 1] };
}

async function distributorFor(fleet: Record<Color, ServerAddress[]>) {
  const placement = await loopbackPlacement();
  const render = (input: Partial<HaproxyConfigInput> & { weights: Weights }) =>
    renderHaproxyConfig({ routing: "round-robin", healthCheck: HEALTH, servers: fleet, ...input }, placement);
  const haproxy = await startHaproxy(render({ weights: { blue: 100, green: 0 } }), placement);
  // Every server's checks have passed.
  await sleep(1500);
  return { haproxy, render };
}

async function until(what: string, done: () => boolean, ms = 30_000): Promise<void> {
  for (let waited = 0; !done(); waited += 50) {
    if (waited > ms) assert.fail(`${what} within ${ms} ms`);
    await sleep(50);
  }
}


describe("release safety (real HAProxy)", function () {
  this.timeout(120_000);
  const frozen: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of frozen.splice(0)) child.kill("SIGCONT");
    stopApps();
    await stopAll();
  });

  it("the gate does not pass on checks from before the step: a color frozen just before it is refused", async () => {
    const blue = [await app("blue", "0")];
    const green = [await app("green", "0"), await app("green", "1")];
    const { haproxy, render } = await distributorFor({ blue: servers(blue), green: servers(green) });
    const running = onDisk(haproxy);
    for (const g of green) {
      g.process.kill("SIGSTOP");
      frozen.push(g.process);
    }
    const result = await deliverConfig(haproxy, render({ weights: { blue: 0, green: 100 }, gate: gate({ timeout: "4s" }) }));
    assert.strictEqual(result.status, 1, show(result));
    assert.match(result.stderr, /gate: 0 of 2 green servers UP after \d+s, 2 needed; the new split is not applied/);
    assert.strictEqual(onDisk(haproxy), running);
    assert.deepStrictEqual(await answers(haproxy.url, 10), { "blue 200": 10 });
  });

  it("the bake counts every failed answer the receiving color's clients get, HAProxy's own 503s included", async () => {
    const blue = [await app("blue", "0")];
    const green = [await app("green", "0"), await app("green", "1")];
    const { haproxy, render } = await distributorFor({ blue: servers(blue), green: servers(green) });
    // maxErrorRate 100 never fails: the bake runs its whole time and reports what it counted.
    const target = render({ weights: { blue: 0, green: 100 }, gate: { ...gate({ bake: "9s" }), maxErrorRateBasisPoints: 10_000 } });
    const load = startLoad(haproxy.url, { keepAliveClients: 2, newConnectionClients: 2, maxDurationMs: 60_000, maxRequestsPerClient: 50_000 });
    const delivery = startDelivery(haproxy, target);
    await until("the new config installed", () => onDisk(haproxy) === target);
    await sleep(1000);
    const before = { ...load.counts };
    for (const g of green) g.process.kill("SIGKILL");
    await sleep(3000);
    // The clients stop well before the bake ends: its last reading has every answer they got.
    await load.stop();
    const failed = load.counts.non2xx + load.counts.errors - (before.non2xx + before.errors);
    const result = await delivery.result;
    assert.strictEqual(result.status, 0, show(result));
    const figures = /bake passed: (\d+) requests to green, (\d+) errors \((\d+) 5xx, (\d+) connection, (\d+) response\)/.exec(result.stdout);
    assert.ok(figures, show(result));
    const errors = Number(figures[2]);
    assert.ok(failed > 20, `the clients saw ${failed} failures: the color was not killed in time`);
    // Every failure the clients got is counted; a failed connection HAProxy retried may be counted without reaching a client.
    assert.ok(errors >= failed, `the bake counted ${errors} errors, the clients got ${failed} failed answers`);
    assert.ok(errors <= failed * 1.05 + 10, `the bake counted ${errors} errors, the clients got only ${failed}`);
    console.log(`      green killed during the bake: the clients got ${failed} failed answers, the bake counted ${errors} (${figures[0]})`);
  });

  it("a color killed during the bake is taken back out", async () => {
    const blue = [await app("blue", "0")];
    const green = [await app("green", "0"), await app("green", "1")];
    const { haproxy, render } = await distributorFor({ blue: servers(blue), green: servers(green) });
    const running = onDisk(haproxy);
    const target = render({ weights: { blue: 0, green: 100 }, gate: gate({ bake: "20s" }) });
    const load = startLoad(haproxy.url, { keepAliveClients: 2, newConnectionClients: 2, maxDurationMs: 60_000, maxRequestsPerClient: 50_000 });
    const delivery = startDelivery(haproxy, target);
    await until("the new config installed", () => onDisk(haproxy) === target);
    await sleep(1000);
    for (const g of green) g.process.kill("SIGKILL");
    const result = await delivery.result;
    await load.stop();
    assert.strictEqual(result.status, 1, show(result));
    assert.match(result.stderr, /bake: \d+ requests to green, \d+ errors .* putting the previous config back/);
    assert.strictEqual(onDisk(haproxy), running);
    assert.deepStrictEqual(await answers(haproxy.url, 10), { "blue 200": 10 });
  });

  it("a bake that cannot read the runtime API fails and puts the previous config back", async () => {
    const blue = [await app("blue", "0")];
    const green = [await app("green", "0")];
    const { haproxy, render } = await distributorFor({ blue: servers(blue), green: servers(green) });
    const running = onDisk(haproxy);
    const target = render({ weights: { blue: 0, green: 100 }, gate: gate({ bake: "8s" }) });
    const delivery = startDelivery(haproxy, target);
    await until("the new config installed", () => onDisk(haproxy) === target);
    fs.rmSync(path.join(haproxy.placement.runtimeDir, "admin.sock"));
    const result = await delivery.result;
    assert.strictEqual(result.status, 1, show(result));
    assert.match(result.stderr, /bake: the runtime API at \S+ did not answer/);
    assert.match(result.stderr, /putting the previous config back/);
    assert.strictEqual(onDisk(haproxy), running);
  });

  it("a bake cut short by a killed delivery runs on the next delivery of the same config", async () => {
    const blue = [await app("blue", "0")];
    const green = [await app("green", "0")];
    const { haproxy, render } = await distributorFor({ blue: servers(blue), green: servers(green) });
    const target = render({ weights: { blue: 0, green: 100 }, gate: gate({ bake: "6s" }) });
    const killed = startDelivery(haproxy, target);
    await until("the new config installed", () => onDisk(haproxy) === target);
    await sleep(1000);
    // Killed outright (a lost machine, kill -9): no trap runs, nothing is put back.
    process.kill(-killed.process.pid!, "SIGKILL");
    await killed.result;
    assert.strictEqual(onDisk(haproxy), target);
    const load = startLoad(haproxy.url, { keepAliveClients: 1, newConnectionClients: 1, maxDurationMs: 30_000, maxRequestsPerClient: 20_000 });
    const retry = await deliverConfig(haproxy, target);
    await load.stop();
    assert.strictEqual(retry.status, 0, show(retry));
    assert.match(retry.stdout, /was not baked .* baking it now/);
    assert.match(retry.stdout, /bake passed: [1-9]\d* requests to green, 0 errors .* over [6-9]s/);
    assert.doesNotMatch(retry.stdout, /reloaded/);
    // Baked now: the same config again is an ordinary delivery, without a bake.
    const again = await deliverConfig(haproxy, target);
    assert.strictEqual(again.status, 0, show(again));
    assert.doesNotMatch(again.stdout, /bake/);
  });

  it("a bake cut short whose color then fails puts the config before it back", async () => {
    const blue = [await app("blue", "0")];
    const green = [await app("green", "0")];
    const { haproxy, render } = await distributorFor({ blue: servers(blue), green: servers(green) });
    const running = onDisk(haproxy);
    const target = render({ weights: { blue: 0, green: 100 }, gate: gate({ bake: "6s" }) });
    const killed = startDelivery(haproxy, target);
    await until("the new config installed", () => onDisk(haproxy) === target);
    process.kill(-killed.process.pid!, "SIGKILL");
    await killed.result;
    green[0].process.kill("SIGKILL");
    const load = startLoad(haproxy.url, { keepAliveClients: 1, newConnectionClients: 1, maxDurationMs: 30_000, maxRequestsPerClient: 20_000 });
    const retry = await deliverConfig(haproxy, target);
    await load.stop();
    assert.strictEqual(retry.status, 1, show(retry));
    assert.match(retry.stderr, /bake: \d+ requests to green, \d+ errors .* putting the previous config back/);
    assert.strictEqual(onDisk(haproxy), running);
    assert.deepStrictEqual(await answers(haproxy.url, 10), { "blue 200": 10 });
  });

  it("names a missing runtime API socket instead of an empty server list", async () => {
    const blue = [await app("blue", "0")];
    const green = [await app("green", "0")];
    const { haproxy, render } = await distributorFor({ blue: servers(blue), green: servers(green) });
    const running = onDisk(haproxy);
    const socket = path.join(haproxy.placement.runtimeDir, "admin.sock");
    fs.rmSync(socket);
    const result = await deliverConfig(haproxy, render({ weights: { blue: 0, green: 100 }, gate: gate({ timeout: "2s" }) }));
    assert.strictEqual(result.status, 1, show(result));
    assert.match(result.stderr, new RegExp(`the runtime API socket ${socket.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is missing`));
    assert.doesNotMatch(result.stderr, /no list of green's servers/);
    assert.strictEqual(onDisk(haproxy), running);
  });
});
