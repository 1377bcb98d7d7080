// The program's graph on a real Docker engine, under load from this process through the
// published port: the README's release steps, a rejected config, restarts, failures, two
// stacks, tear-down. Build and engine: setup.ts; the graph driver: driver.ts.
import * as assert from "assert";
import * as path from "path";
import { CONTAINER_CONFIG_PATH } from "../../components/haproxyConfig";
import { resealed } from "../haproxy";
import { deliveryPlan, deliveryPlanEnvironment } from "../../components/deliveryPlan";
import { request, runScript, sleep, startLoad } from "../harness";
import { labelled, removeLabelled } from "./engine";
import { testEngine } from "./setup";
import { containerNames, newStack, sample, Stack } from "./stacks";

const CONTAINER = "docker:index/container:Container";

const LOAD = { keepAliveClients: 4, newConnectionClients: 2, slowClients: 1, maxDurationMs: 600_000, clientTimeoutMs: 30_000 };

function failuresOf(load: ReturnType<typeof startLoad>): string {
  return JSON.stringify({ counts: load.counts, slow: load.slow });
}

function assertNoFailure(load: ReturnType<typeof startLoad>): void {
  assert.strictEqual(load.counts.errors + load.counts.non2xx + load.slow.errors + load.slow.non2xx, 0, failuresOf(load));
  assert.ok(load.counts.ok > 50, failuresOf(load));
}

/** Waits until the URL answers 200 (after a restart); bounded. */
async function serving(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await request(`${url}/`, { agent: false, timeoutMs: 2000 }).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} did not serve within ${timeoutMs} ms (last status ${status})`);
    await sleep(200);
  }
}

describe("the program on a real Docker engine", () => {
  const stacks: Stack[] = [];
  after(async () => {
    for (const stack of stacks.reverse()) await stack.deployment.destroy().catch(() => undefined);
  });

  it("runs the README's five release steps under load with 0 failed requests, replacing old replicas", async () => {
    const stack = await newStack("tdrel");
    stacks.push(stack);
    let started = Date.now();
    await stack.step({});
    const createMs = Date.now() - started;
    assert.deepStrictEqual(Object.keys(await sample(stack.url, 20)).sort(), ["blue v1", "green v1"]);

    const load = startLoad(stack.url, LOAD);
    const splits: Array<{ step: string; ms: number; split: Record<string, number> }> = [];
    const releaseSteps: Array<[string, Record<string, string>]> = [
      ["0/100", { "weight.blue": "0", "weight.green": "100" }],
      ["new blue image", { "blue.image": "td-demo:blue-v2" }],
      ["100/0", { "weight.blue": "100", "weight.green": "0" }],
      ["new green image", { "green.image": "td-demo:green-v2" }],
      ["50/50", { "weight.blue": "50", "weight.green": "50" }],
    ];
    try {
      for (const [name, changes] of releaseSteps) {
        started = Date.now();
        await stack.step(changes);
        // The delivery returns once the new worker exists; for a moment the old one may still
        // accept a new connection (measured: 2 of 100 right after a reload).
        await sleep(1000);
        splits.push({ step: name, ms: Date.now() - started, split: await sample(stack.url, 100) });
      }
    } finally {
      await load.stop();
    }
    console.log(`      create ${createMs} ms; ${JSON.stringify(splits)}; load ${JSON.stringify(load.counts)} slow ${JSON.stringify(load.slow)}`);

    assertNoFailure(load);
    assert.ok(load.slow.ok > 0, failuresOf(load));
    assert.deepStrictEqual(splits[0].split, { "green v1": 100 });
    assert.deepStrictEqual(splits[1].split, { "green v1": 100 });
    assert.deepStrictEqual(splits[2].split, { "blue v2": 100 });
    assert.deepStrictEqual(splits[3].split, { "blue v2": 100 });
    assert.deepStrictEqual(Object.keys(splits[4].split).sort(), ["blue v2", "green v2"]);
    assert.ok(Math.abs(splits[4].split["blue v2"] - 50) <= 15, JSON.stringify(splits[4]));

    // Only the replicas of the last images are left, and they are the ones the config names.
    const servers = hostsOf(stack.last!.outputs.servers);
    for (const color of ["blue", "green"]) {
      assert.deepStrictEqual(
        await containerNames(`traffic-distributor.environment=tdrel-${color}`),
        servers[color].map((s) => s.host).sort(),
      );
    }
    const steps = stack.deployment.steps.join("\n");
    // Create-before-delete: blue's new replicas exist before the old ones go.
    assert.ok(steps.indexOf("create docker:index/container:Container tdrel-blue-0") < steps.lastIndexOf("delete docker:index/container:Container tdrel-blue-0"), steps);
  });

  describe("one stack, operations under load", () => {
    let stack: Stack;
    let load: ReturnType<typeof startLoad>;
    before(async () => {
      stack = await newStack("tdops");
      stacks.push(stack);
      await stack.step({ "weight.blue": "100", "weight.green": "0" });
      await serving(stack.url);
    });
    beforeEach(() => {
      load = startLoad(stack.url, LOAD);
    });
    afterEach(async () => {
      await load.stop();
    });

    it("a config HAProxy rejects fails the step with HAProxy's message; the running config keeps serving", async () => {
      // Every setting is validated, so no stack config renders a config HAProxy rejects: stand
      // in for a renderer bug with a sealed config HAProxy refuses, through the same script
      // the delivery command runs, into the running container.
      const good = stack.last!.outputs.haproxyConfig as string;
      const broken = resealed(good, (body) => body.replace("balance roundrobin", "balance sideways"));
      const id = stack.deployment.realId(CONTAINER, "tdops-distributor");
      const script = path.join(__dirname, "..", "..", "components", "docker", "deliver-config.sh");
      const env = { ...process.env, DOCKER_HOST: testEngine().host, CONTAINER: id, CONFIG_PATH: CONTAINER_CONFIG_PATH };
      const result = await runScript([script], env, broken, { timeoutMs: 120_000 }).result;
      assert.strictEqual(result.status, 1, result.stderr);
      assert.match(result.stderr, /rejected the new config; the running config is unchanged/);
      assert.match(result.stderr, /balance/);
      await sleep(500);
      assert.deepStrictEqual(await sample(stack.url, 20), { "blue v1": 20 });
      // The file on disk is still the one serving.
      const onDisk = await testEngine().docker(["exec", id, "cat", CONTAINER_CONFIG_PATH]);
      assert.strictEqual(onDisk.stdout, good);
      // The next step succeeds.
      await stack.step({ "weight.blue": "100", "weight.green": "0", "timeouts.server": "20s" });
      await load.stop();
      assertNoFailure(load);
    });

    it("a weight-only step sets the weights without a reload: its delivery time beside a reload's, under load, 0 failed", async () => {
      const id = stack.deployment.realId(CONTAINER, "tdops-distributor");
      const processes = async () => (await testEngine().docker(["top", id])).stdout.split("\n").filter((line) => line.includes("haproxy")).length;
      const from = stack.last!.outputs.haproxyConfig as string;
      const before = await processes();
      let started = Date.now();
      await stack.step({ "weight.blue": "30", "weight.green": "70" });
      const stepMs = Date.now() - started;
      const to = stack.last!.outputs.haproxyConfig as string;
      assert.strictEqual(await processes(), before, "the weight step started a worker");
      // The same two configs again and again, through the delivery script the step runs: with
      // its plan (the runtime API) and without (a reload, as a delivery from an earlier release).
      const script = path.join(__dirname, "..", "..", "components", "docker", "deliver-config.sh");
      const env = { ...process.env, DOCKER_HOST: testEngine().host, CONTAINER: id, CONFIG_PATH: CONTAINER_CONFIG_PATH };
      const took: Record<"runtime" | "reload", number[]> = { runtime: [], reload: [] };
      for (const way of ["runtime", "reload", "runtime", "reload"] as const) {
        for (const config of [from, to]) {
          const plan = way === "runtime" ? deliveryPlanEnvironment(deliveryPlan(config)) : {};
          started = Date.now();
          const result = await runScript([script], { ...env, ...plan }, config, { timeoutMs: 120_000 }).result;
          took[way].push(Date.now() - started);
          assert.strictEqual(result.status, 0, result.stderr);
          assert.match(result.stdout, way === "runtime" ? /took the new weights through the runtime API, without a reload/ : /reloaded/);
        }
      }
      await sleep(1000);
      await load.stop();
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
      console.log(
        `      weight step on Docker: pulumi step ${stepMs} ms; delivery median ${median(took.runtime)} ms through the runtime API ` +
          `(${took.runtime.join(", ")}), ${median(took.reload)} ms by reload (${took.reload.join(", ")}); load ${JSON.stringify(load.counts.ok)} ok`,
      );
      assertNoFailure(load);
      // Back to the stack's own config for the next tests.
      await stack.step({ "weight.blue": "100", "weight.green": "0" });
    });

    it("docker restart of the distributor: it comes back serving the last delivered config", async () => {
      await load.stop();
      const id = stack.deployment.realId(CONTAINER, "tdops-distributor");
      await testEngine().docker(["restart", id]);
      await serving(stack.url);
      assert.deepStrictEqual(await sample(stack.url, 20), { "blue v1": 20 });
    });

    it("a replica killed and one stopped: 0 failed GETs", async () => {
      await stack.step({ "weight.blue": "50", "weight.green": "50" });
      await sleep(1000);
      const servers = hostsOf(stack.last!.outputs.servers);
      await sleep(2000);
      await testEngine().docker(["kill", servers.blue[0].host]);
      await sleep(2000);
      await testEngine().docker(["stop", "-t", "10", servers.green[0].host]);
      await sleep(3000);
      const split = await sample(stack.url, 100);
      await load.stop();
      assertNoFailure(load);
      assert.deepStrictEqual(Object.keys(split).sort(), ["blue v1", "green v1"]);
      for (const host of [servers.blue[0].host, servers.green[0].host]) await testEngine().docker(["start", host]);
      await sleep(2000);
    });

    // A stopped container's name does not resolve on Docker's DNS: servers are resolved at run
    // time (init-addr last,libc,none), so the config still loads.
    it("a delivery still succeeds with a stopped replica", async () => {
      const servers = hostsOf(stack.last!.outputs.servers);
      await testEngine().docker(["stop", "-t", "10", servers.green[0].host]);
      try {
        await stack.step({ "weight.blue": "60", "weight.green": "40" });
        await sleep(1000);
        assert.deepStrictEqual(Object.keys(await sample(stack.url, 100)).sort(), ["blue v1", "green v1"]);
        await load.stop();
        assertNoFailure(load);
      } finally {
        await testEngine().docker(["start", servers.green[0].host]);
      }
    });

    it("two stacks on one engine, on different ports: both serve, neither disturbs the other", async () => {
      const other = await newStack("tdtwo");
      stacks.push(other);
      await other.step({ "weight.blue": "0", "weight.green": "100" });
      await serving(other.url);
      assert.deepStrictEqual(await sample(other.url, 20), { "green v1": 20 });
      await other.step({ "weight.blue": "100", "weight.green": "0" });
      await sleep(1000);
      assert.deepStrictEqual(await sample(other.url, 20), { "blue v1": 20 });
      await other.deployment.destroy();
      stacks.splice(stacks.indexOf(other), 1);
      assert.deepStrictEqual(await containerNames("traffic-distributor.environment=tdtwo-blue"), []);
      await load.stop();
      assertNoFailure(load);
      assert.deepStrictEqual(Object.keys(await sample(stack.url, 20)).sort(), ["blue v1", "green v1"]);
    });
  });

  // Last: mocha runs a suite's own tests before its nested suites.
  describe("tear-down", () => {
    it("tear-down in reverse order leaves no container, network, volume or image of the test", async () => {
      const engine = testEngine();
      for (const stack of stacks.reverse()) {
        await stack.deployment.destroy();
        const steps = stack.deployment.steps.filter((s) => s.startsWith("delete "));
        // The network goes last: every container on it is gone first.
        assert.strictEqual(steps[steps.length - 1], `delete docker:index/network:Network ${stack.name}-net`);
      }
      stacks.length = 0;
      const left = await labelled(engine.docker, engine.label);
      assert.deepStrictEqual({ ...left, images: [] }, { containers: [], networks: [], volumes: [], images: [] });
      // The images are the run's own (setup.ts): removing them by label leaves none.
      await removeLabelled(engine.docker, engine.label);
      assert.deepStrictEqual(await labelled(engine.docker, engine.label), { containers: [], networks: [], volumes: [], images: [] });
    });
  });
});

/** The `servers` output ("host:port" per color) as hosts. */
function hostsOf(servers: unknown): Record<string, Array<{ host: string }>> {
  return Object.fromEntries(
    Object.entries(servers as Record<string, string[]>).map(([color, list]) => [color, list.map((s) => ({ host: s.slice(0, s.lastIndexOf(":")) }))]),
  );
}
