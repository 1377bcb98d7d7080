// The health gate on a real Docker engine: a step that puts all traffic on a new green image
// whose health endpoint fails is refused by the delivery; the distributor keeps serving blue
// with 0 failed requests, and the next step, onto an image that passes, goes through.
import * as assert from "assert";
import { CONTAINER_CONFIG_PATH } from "../../components/haproxyConfig";
import { request, sleep, startLoad } from "../harness";
import { testEngine } from "./setup";
import { newStack, sample, Stack } from "./stacks";

const CONTAINER = "docker:index/container:Container";

describe("the health gate on a real Docker engine", function () {
  // Three steps that create containers, on an engine other tests share.
  this.timeout(900_000);
  let stack: Stack | undefined;
  after(async () => {
    await stack?.deployment.destroy().catch(() => undefined);
  });

  it("refuses to shift onto a green image that fails its checks; serving is unchanged; the next step onto a healthy image passes", async () => {
    stack = await newStack("tdgate");
    await stack.step({ "weight.blue": "100", "weight.green": "0" });
    for (let tries = 0; (await request(`${stack.url}/`, { agent: false }).then((r) => r.status, () => 0)) !== 200 && tries < 100; tries++) await sleep(200);
    const id = stack.deployment.realId(CONTAINER, "tdgate-distributor");
    const serving = (await testEngine().docker(["exec", id, "cat", CONTAINER_CONFIG_PATH])).stdout;

    const load = startLoad(stack.url, { keepAliveClients: 4, newConnectionClients: 2, maxDurationMs: 300_000, clientTimeoutMs: 30_000 });
    let refusal: Error | undefined;
    const started = Date.now();
    try {
      await stack.step({ "green.image": "td-demo:green-sick", "weight.blue": "0", "weight.green": "100", "gate.timeout": "10s" });
    } catch (error) {
      refusal = error as Error;
    }
    const refusedAfter = Date.now() - started;
    await sleep(1000);
    const split = await sample(stack.url, 50);
    await load.stop();

    assert.ok(refusal, "the step onto failing servers went through");
    assert.match(refusal.message, /gate: 0 of 2 green servers UP after \d+s, 2 needed; the new split is not applied/);
    assert.match(refusal.message, /app\/green_tdgate-green-0-[0-9a-f]{8}: DOWN, check L7STS 503/);
    assert.match(refusal.message, /the previous config is back .* and serving/);
    assert.deepStrictEqual(split, { "blue v1": 50 });
    assert.strictEqual((await testEngine().docker(["exec", id, "cat", CONTAINER_CONFIG_PATH])).stdout, serving);
    assert.strictEqual(load.counts.errors + load.counts.non2xx, 0, JSON.stringify(load.counts));
    assert.ok(load.counts.ok > 50, JSON.stringify(load.counts));
    console.log(`      refused after ${refusedAfter} ms (gate.timeout 10s, new containers included); ${load.counts.ok} requests meanwhile, 0 failed`);

    // The next step, onto an image whose checks pass, goes through the gate.
    const next = Date.now();
    await stack.step({ "green.image": "td-demo:green-v2" });
    console.log(`      the next step onto a healthy image took ${Date.now() - next} ms`);
    assert.match(stack.deployment.stdout("tdgate-distributor-config"), /gate passed: 2 of 2 green servers UP/);
    await sleep(1000);
    assert.deepStrictEqual(await sample(stack.url, 20), { "green v2": 20 });
  });
});
