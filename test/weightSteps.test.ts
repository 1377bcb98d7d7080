// Weight steps without a reload, on a real HAProxy: when the new config differs from the running
// one in its servers' weights only, the delivery sets them through the runtime API from its plan
// (components/deliveryPlan.ts), swaps the file so that a later reload keeps them, and starts no
// worker; a change of servers or layout still reloads.
import * as assert from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import { deliveryPlan, PLAN_WEIGHTS_PATTERN } from "../components/deliveryPlan";
import { DELIVER_CONFIG_SCRIPT } from "../components/docker/scripts";
import { HaproxyConfigInput, renderHaproxyConfig } from "../components/haproxyConfig";
import { DEFAULT_GATE } from "../components/releaseGate";
import { Weights } from "../components/settings";
import { App, startApp, stopApps } from "./appRig";
import {
  adminCommand,
  countColors,
  deliverConfig,
  DeliveryResult,
  Fleet,
  fleetServers,
  Haproxy,
  loopbackPlacement,
  sleep,
  startFleet,
  startHaproxy,
  startDelivery,
  startLoad,
  stopAll,
  TEST_THREADS,
} from "./harness";

const show = (r: DeliveryResult) => `status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const onDisk = (haproxy: Haproxy) => fs.readFileSync(haproxy.configPath, "utf8");
const RUNTIME = /took the new weights through the runtime API, without a reload/;

/** The master's children: one worker per loaded config. */
function workers(haproxy: Haproxy): string[] {
  try {
    return execFileSync("pgrep", ["-P", String(haproxy.process.pid)], { encoding: "utf8" }).trim().split("\n").sort();
  } catch {
    return [];
  }
}

/** Each weighted server's weight as the serving worker applies it (`show stat`'s uweight). */
async function servingWeights(haproxy: Haproxy): Promise<string> {
  const stat = await adminCommand(haproxy.placement, "show stat");
  const [header, ...rows] = stat.trim().split("\n");
  const columns = header.replace(/^# /, "").split(",");
  const at = (row: string[], name: string) => row[columns.indexOf(name)];
  const weights: string[] = [];
  for (const line of rows) {
    const row = line.split(",");
    if (["FRONTEND", "BACKEND"].includes(at(row, "svname")) || !["app", "colors"].includes(at(row, "pxname"))) continue;
    weights.push(`${at(row, "pxname")}/${at(row, "svname")}=${at(row, "uweight") ?? at(row, "weight")}`);
  }
  return weights.sort().join(" ");
}

const sorted = (weights: string) => weights.split(" ").sort().join(" ");

describe("weight steps without a reload (real HAProxy)", function () {
  this.timeout(180_000);
  let fleet: Fleet;
  beforeEach(async () => {
    fleet = await startFleet();
  });
  afterEach(async () => {
    stopApps();
    await stopAll();
  });

  async function distributor(first: Partial<HaproxyConfigInput> & { weights: Weights }) {
    const placement = await loopbackPlacement();
    const render = (input: Partial<HaproxyConfigInput> & { weights: Weights }) =>
      renderHaproxyConfig({ routing: "round-robin", servers: fleetServers(fleet), threads: TEST_THREADS, ...input }, placement);
    const haproxy = await startHaproxy(render(first), placement);
    await sleep(1000); // every server's checks have passed
    return { haproxy, render };
  }

  it("sets the weights on the serving worker: no new worker, the new split serves, the file holds it and a later reload keeps it", async () => {
    const { haproxy, render } = await distributor({ weights: { blue: 50, green: 50 } });
    const before = workers(haproxy);
    assert.strictEqual(before.length, 1, `workers ${before}`);
    const target = render({ weights: { blue: 1, green: 3 } });
    const result = await deliverConfig(haproxy, target);
    assert.strictEqual(result.status, 0, show(result));
    assert.match(result.stdout, RUNTIME);
    assert.doesNotMatch(result.stdout, /reloaded/);
    assert.deepStrictEqual(workers(haproxy), before, "a new worker started");
    assert.strictEqual(onDisk(haproxy), target);
    // The serving worker applies exactly the plan's weights, which are the file's.
    assert.strictEqual(await servingWeights(haproxy), sorted(deliveryPlan(target).weights));
    const split = await countColors(haproxy.url, 200);
    assert.ok(split.blue >= 40 && split.blue <= 60 && split.other === 0, JSON.stringify(split));
    // A later reload (a new container start, a layout change) reads the file: the same weights.
    process.kill(haproxy.process.pid!, "SIGUSR2");
    for (let waited = 0; workers(haproxy).every((pid) => before.includes(pid)) && waited < 10_000; waited += 100) await sleep(100);
    await sleep(500);
    assert.strictEqual(await servingWeights(haproxy), sorted(deliveryPlan(target).weights));
  });

  it("in the two-level layout (sticky), the colors' weights; a change of servers, of layout or of the failover primary reloads", async () => {
    const { haproxy, render } = await distributor({ weights: { blue: 50, green: 50 }, routing: "sticky" });
    const sticky = render({ weights: { blue: 10, green: 30 }, routing: "sticky" });
    const step = await deliverConfig(haproxy, sticky);
    assert.strictEqual(step.status, 0, show(step));
    assert.match(step.stdout, RUNTIME);
    assert.match(step.stdout, /colors\/blue=10 colors\/green=30/);
    assert.strictEqual(await servingWeights(haproxy), "colors/blue=10 colors/green=30");
    // Round-robin at 50/50 is the one-level layout: a new layout, a reload.
    const layout = await deliverConfig(haproxy, render({ weights: { blue: 50, green: 50 } }));
    assert.strictEqual(layout.status, 0, show(layout));
    assert.match(layout.stdout, /reloaded/);
    // One server less: a reload.
    const fewer = await deliverConfig(haproxy, render({ weights: { blue: 50, green: 50 }, servers: { ...fleetServers(fleet), green: fleetServers(fleet).green.slice(0, 1) } }));
    assert.strictEqual(fewer.status, 0, show(fewer));
    assert.match(fewer.stdout, /reloaded/);
    // Failover: the primary is the one that is no backup, a layout of its own.
    await deliverConfig(haproxy, render({ weights: { blue: 50, green: 50 }, routing: "failover", failoverPrimary: "blue" }));
    const primary = await deliverConfig(haproxy, render({ weights: { blue: 50, green: 50 }, routing: "failover", failoverPrimary: "green" }));
    assert.strictEqual(primary.status, 0, show(primary));
    assert.match(primary.stdout, /reloaded/);
    assert.deepStrictEqual(await countColors(haproxy.url, 10), { blue: 0, green: 10, other: 0 });
  });

  it("side by side under load, the same steps through the runtime API and by reloads: each one's delivery time, 0 failed", async () => {
    const { haproxy, render } = await distributor({ weights: { blue: 50, green: 50 } });
    const load = startLoad(haproxy.url, { keepAliveClients: 4, newConnectionClients: 2, maxDurationMs: 120_000, maxRequestsPerClient: 500_000 });
    const steps: Weights[] = [
      { blue: 40, green: 60 },
      { blue: 60, green: 40 },
      { blue: 30, green: 70 },
      { blue: 70, green: 30 },
    ];
    const took: Record<"runtime" | "reload", number[]> = { runtime: [], reload: [] };
    try {
      await sleep(500);
      for (let round = 0; round < 1; round++) {
        for (const [way, plan] of [["runtime", true], ["reload", false]] as const) {
          for (const weights of steps) {
            const started = Date.now();
            const result = await deliverConfig(haproxy, render({ weights, gate: { ...DEFAULT_GATE, timeout: 5000 } }), { plan });
            took[way].push(Date.now() - started);
            assert.strictEqual(result.status, 0, show(result));
            assert.match(result.stdout, plan ? RUNTIME : /reloaded/);
          }
        }
      }
      await sleep(500);
    } finally {
      await load.stop();
    }
    const failed = load.counts.errors + load.counts.non2xx;
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    console.log(
      `      ${took.runtime.length} weight steps each way under load (${load.counts.ok + failed} requests, ${failed} failed): ` +
        `median delivery ${median(took.runtime)} ms through the runtime API, ${median(took.reload)} ms by reload; ` +
        `workers now ${workers(haproxy).length}`,
    );
    assert.strictEqual(failed, 0, load.counts.samples.join("\n"));
    assert.ok(load.counts.ok > 1000, `${load.counts.ok} requests`);
  });

  it("refuses a plan of another version or with anything but server names and weights, before anything changes", async () => {
    const { haproxy, render } = await distributor({ weights: { blue: 50, green: 50 } });
    const running = onDisk(haproxy);
    const target = render({ weights: { blue: 1, green: 3 } });
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ PLAN_VERSION: "2", PLAN_WEIGHTS: deliveryPlan(target).weights }, /the delivery plan is version 2 and this delivery reads version 1/],
      [{ PLAN_VERSION: "1", PLAN_WEIGHTS: "app/blue_x=1; kill 1" }, /PLAN_WEIGHTS is malformed/],
      [{ PLAN_VERSION: "1", PLAN_WEIGHTS: "app/blue_x=1\nshutdown sessions" }, /PLAN_WEIGHTS is malformed/],
      [{ PLAN_VERSION: "1", PLAN_WEIGHTS: "app/blue_x=1000" }, /PLAN_WEIGHTS is malformed/],
    ];
    for (const [env, message] of cases) {
      const result = await startDelivery(haproxy, target, { env }).result;
      assert.strictEqual(result.status, 1, show(result));
      assert.match(result.stderr, message);
      assert.strictEqual(onDisk(haproxy), running);
    }
    // One pattern in both languages: the script checks the plan with the one deliveryPlan keeps to.
    assert.ok(DELIVER_CONFIG_SCRIPT.includes(`grep -Eq '${PLAN_WEIGHTS_PATTERN}'`), "the script's PLAN_WEIGHTS pattern differs from PLAN_WEIGHTS_PATTERN");
  });

  it("a weight step that raises a color's share is gated and baked; a failing bake puts the previous weights back", async () => {
    stopApps();
    const blue: App[] = [await startApp("blue", "0")];
    const green: App[] = [await startApp("green", "0", { ERROR_EVERY: "4" })];
    const placement = await loopbackPlacement();
    const render = (weights: Weights, bake: number) =>
      renderHaproxyConfig(
        {
          weights,
          routing: "round-robin",
          servers: { blue: blue.map((a) => a.server), green: green.map((a) => a.server) },
          healthCheck: { path: "/healthz", interval: 300, timeout: 1000, expectStatus: "200-399" },
          gate: { ...DEFAULT_GATE, bake },
        },
        placement,
      );
    const haproxy = await startHaproxy(render({ blue: 100, green: 0 }, 0), placement);
    await sleep(1000);
    const running = onDisk(haproxy);
    const before = workers(haproxy);
    const load = startLoad(haproxy.url, { keepAliveClients: 2, newConnectionClients: 1, maxDurationMs: 60_000, maxRequestsPerClient: 100_000 });
    const result = await deliverConfig(haproxy, render({ blue: 50, green: 50 }, 20_000));
    await load.stop();
    assert.strictEqual(result.status, 1, show(result));
    assert.match(result.stdout, /gate passed: 1 of 1 green servers UP/);
    assert.match(result.stdout, RUNTIME);
    assert.match(result.stderr, /bake: \d+ requests to green, \d+ errors .* putting the previous config back/);
    assert.strictEqual(onDisk(haproxy), running);
    await sleep(500);
    assert.notDeepStrictEqual(workers(haproxy), before, "the previous config is back through a reload");
    assert.deepStrictEqual(await countColors(haproxy.url, 10), { blue: 10, green: 0, other: 0 });
  });
});
