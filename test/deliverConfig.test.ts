// The container's config-delivery script, run for real against Debian's HAProxy: a valid
// config is validated and reloaded in place; a rejected one is never loaded.
import * as assert from "assert";
import * as fs from "fs";
import { Weights } from "../components/settings";
import { countColors, deliverConfig, Fleet, startFleet, startRoundRobin, stopAll } from "./harness";

describe("config delivery: validate in place, then reload (real HAProxy)", function () {
  this.timeout(60_000);
  let backends: Fleet;

  beforeEach(async () => {
    backends = await startFleet();
  });
  afterEach(stopAll);

  const setup = (weights: Weights) => startRoundRobin(backends, weights);

  it("applies a weight change with a graceful reload", async () => {
    const { haproxy, render } = await setup({ blue: 100, green: 0 });
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });

    const result = deliverConfig(haproxy, render({ blue: 0, green: 100 }));
    assert.strictEqual(result.status, 0, result.stderr);
    assert.match(result.stdout, /reloaded \(attempt 1, new worker \d+\)/);
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });
    assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), render({ blue: 0, green: 100 }));
  });

  it("leaves the running config serving and reports HAProxy's message when the new one is rejected", async () => {
    const { haproxy, render } = await setup({ blue: 0, green: 100 });
    const good = fs.readFileSync(haproxy.configPath, "utf8");
    const broken = render({ blue: 100, green: 0 }).replace("balance roundrobin", "balance sideways");

    const result = deliverConfig(haproxy, broken);
    assert.strictEqual(result.status, 1);
    assert.match(result.stderr, /rejected the new config; the running config is unchanged/);
    assert.match(result.stderr, /balance only supports/);
    assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), good);
    assert.ok(!fs.existsSync(`${haproxy.configPath}.next`));
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });
  });
});
