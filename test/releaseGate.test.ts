// The release gate and the bake, run for real: the delivery script drives Debian's HAProxy on
// loopback in front of apps whose health checks and answers the tests control. A step that
// raises a color's share waits for that color's servers to pass the distributor's checks and
// is refused, with the running split unchanged, when they do not; with a bake, a color that
// answers with errors is taken back out and the step fails with the figures.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { HaproxyConfigInput, renderHaproxyConfig } from "../components/haproxyConfig";
import { DELIVERY_TIMEOUT_SECONDS, renderDeliveryDocument } from "../components/aws/configDocument";
import { DELIVER_CONFIG_SCRIPT } from "../components/docker/distributor";
import {
  BAKE_MIN_REQUESTS,
  DEFAULT_GATE,
  deliverySeconds,
  GATE_MAX_SECONDS,
  parseBake,
  parseErrorRate,
  parseGateTimeout,
  parseMinHealthy,
  receivingColors,
  requiredHealthy,
  splitShares,
} from "../components/releaseGate";
import { Color, GateSettings, ServerAddress, Weights } from "../components/settings";
import { App, startApp, stopApps } from "./appRig";
import { answers, deliverConfig, DeliveryResult, freePort, Haproxy, loopbackPlacement, sleep, startDelivery, startHaproxy, startLoad, stopAll } from "./harness";
import { DEFAULT_PREVIEW_CIDRS } from "../components/preview";

const show = (r: DeliveryResult) => `status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const HEALTH = { path: "/healthz", interval: 300, timeout: 1000, expectStatus: "200-399" };

function gate(overrides: { timeout?: string; minHealthy?: string; bake?: string; maxErrorRate?: string } = {}): GateSettings {
  return {
    timeout: overrides.timeout ? parseGateTimeout("gate.timeout", overrides.timeout) : DEFAULT_GATE.timeout,
    minHealthy: overrides.minHealthy ? parseMinHealthy("gate.minHealthy", overrides.minHealthy) : DEFAULT_GATE.minHealthy,
    bake: overrides.bake ? parseBake("gate.bake", overrides.bake) : DEFAULT_GATE.bake,
    maxErrorRateBasisPoints: overrides.maxErrorRate ? parseErrorRate("gate.maxErrorRate", overrides.maxErrorRate) : DEFAULT_GATE.maxErrorRateBasisPoints,
  };
}

const servers = (apps: App[]): ServerAddress[] => apps.map((a) => a.server);

/** A loopback distributor running `first`; `render` gives any later config at the same place. */
async function distributorFor(first: Partial<HaproxyConfigInput> & { servers: Record<Color, ServerAddress[]> }) {
  const placement = await loopbackPlacement();
  const render = (input: Partial<HaproxyConfigInput> & { servers: Record<Color, ServerAddress[]>; weights: Weights }) =>
    renderHaproxyConfig({ routing: "round-robin", healthCheck: HEALTH, ...input }, placement);
  const haproxy = await startHaproxy(render({ weights: { blue: 100, green: 0 }, ...first }), placement);
  return { haproxy, render };
}

const onDisk = (haproxy: Haproxy) => fs.readFileSync(haproxy.configPath, "utf8");

describe("release gate: pure parts", () => {
  it("names the receiving color by comparing shares, not weights", () => {
    const cases: Array<[Weights, Weights, Color[]]> = [
      [{ blue: 100, green: 0 }, { blue: 0, green: 100 }, ["green"]],
      [{ blue: 50, green: 50 }, { blue: 100, green: 100 }, []], // the same shares
      [{ blue: 1, green: 3 }, { blue: 25, green: 75 }, []],
      [{ blue: 1, green: 3 }, { blue: 26, green: 74 }, ["blue"]],
      [{ blue: 256, green: 1 }, { blue: 255, green: 1 }, ["green"]],
      [{ blue: 0, green: 1 }, { blue: 0, green: 256 }, []],
    ];
    for (const [running, next, receiving] of cases) assert.deepStrictEqual(receivingColors(running, next), receiving, JSON.stringify([running, next]));
    // Failover: the primary has the whole share.
    assert.deepStrictEqual(splitShares("failover", { blue: 10, green: 90 }, "blue"), { blue: 1, green: 0 });
    assert.deepStrictEqual(receivingColors(splitShares("failover", { blue: 10, green: 90 }, "blue"), { blue: 10, green: 90 }), ["green"]);
  });

  it("reads minHealthy as a count (at most all) or a percentage rounded up, at least one", () => {
    const cases: Array<[string, number, number]> = [["2", 3, 2], ["5", 3, 3], ["100%", 3, 3], ["50%", 3, 2], ["34%", 3, 2], ["33%", 3, 1], ["1%", 20, 1], ["100%", 1, 1]];
    for (const [text, servers, required] of cases) assert.strictEqual(requiredHealthy(parseMinHealthy("gate.minHealthy", text), servers), required, `${text} of ${servers}`);
    assert.deepStrictEqual(parseMinHealthy("gate.minHealthy", 2), { count: 2 });
  });

  it("reads maxErrorRate in hundredths of a percent", () => {
    const cases: Array<[unknown, number]> = [[5, 500], ["5", 500], ["0.5", 50], [0.25, 25], ["100", 10000], ["0", 0], ["12.3%", 1230]];
    for (const [value, basisPoints] of cases) assert.strictEqual(parseErrorRate("gate.maxErrorRate", value), basisPoints, String(value));
  });

  it("writes the header from validated values, and every delivery timeout allows the longest gate and bake", () => {
    const config = renderHaproxyConfig({
      weights: { blue: 30, green: 70 },
      routing: "round-robin",
      servers: { blue: [{ host: "app-blue.internal", port: 8080 }], green: [{ host: "::1", port: 80 }, { host: "10.0.0.7", port: 80 }] },
      gate: gate({ timeout: "90s", minHealthy: "50%", bake: "1m", maxErrorRate: "2.5" }),
    });
    assert.deepStrictEqual(config.split("\n").filter((line) => line.startsWith("# traffic-distributor ")), [
      "# traffic-distributor split: round-robin blue 30 green 70",
      "# traffic-distributor servers blue in app: blue_app-blue.internal:8080=app-blue.internal:8080",
      "# traffic-distributor servers green in app: green_ipv6_0=[::1]:80 green_10.0.0.7=10.0.0.7:80",
      // fresh: the default checks' interval (500 ms) and timeout (1 s), and 200 ms.
      "# traffic-distributor gate: timeout 90000 minHealthy 50% bake 60000 maxErrorRate 250 fresh 1700",
    ]);
    // The longest gate and bake a user can set: a second more of either is refused.
    const longest = gate({ timeout: "15m", bake: "30m" });
    assert.throws(() => parseGateTimeout("gate.timeout", "901s"), /^SettingsError: gate\.timeout is "901s": .* from 1s to 15m$/);
    assert.throws(() => parseBake("gate.bake", "1801s"), /^SettingsError: gate\.bake is "1801s": .* from 0s to 30m$/);
    const longestSeconds = (longest.timeout + longest.bake) / 1000;
    assert.ok(GATE_MAX_SECONDS >= longestSeconds);
    assert.ok(DELIVERY_TIMEOUT_SECONDS >= 900 + longestSeconds);
    const slowest = { interval: 3_600_000, timeout: 60_000 };
    assert.ok(deliverySeconds(longest, slowest) >= 120 + longestSeconds, `${deliverySeconds(longest, slowest)}`);
    // With the slowest checks, the gate waits past gate.timeout for one fresh check: the timeouts allow it.
    assert.ok(deliverySeconds(gate({ timeout: "1s" }), slowest) >= 120 + 3661, `${deliverySeconds(gate({ timeout: "1s" }), slowest)}`);
    assert.ok(GATE_MAX_SECONDS >= 3661 + 1800, `${GATE_MAX_SECONDS}`);
    assert.ok(JSON.parse(renderDeliveryDocument()).mainSteps[0].inputs.timeoutSeconds >= 900 + longestSeconds);
    // The delivery judges a bake on this many requests before its end, as documented.
    assert.match(DELIVER_CONFIG_SCRIPT, new RegExp(`\\[ "\\$requests" -ge ${BAKE_MIN_REQUESTS} \\]`));
  });

  it("keeps a server's last check result in the report while its next check runs (HAProxy then shows no code)", () => {
    const awk = /^STAT_AWK='([^']*)'$/m.exec(DELIVER_CONFIG_SCRIPT)?.[1];
    assert.ok(awk, "STAT_AWK in deliver-config.sh");
    // `show stat`'s columns the report reads, by name as HAProxy heads them.
    const header = "# pxname,svname,stot,econ,eresp,status,check_status,check_code,hrsp_5xx,last_chk";
    const report = (rows: string[], known = "") => {
      const result = spawnSync("awk", ["-F,", "-v", "ids=app/green_a:80 app/green_b:80", awk!], {
        input: [header, ...rows].join("\n") + "\n",
        env: { ...process.env, KNOWN: known },
        encoding: "utf8",
      });
      assert.strictEqual(result.status, 0, result.stderr);
      return result.stdout.split("\n").slice(1).filter(Boolean);
    };
    const done = report(["app,green_a:80,0,0,0,DOWN,L7STS,503,0,HTTP status check returned code <3C>503<3E>", "app,green_b:80,0,0,0,DOWN,L4CON,,0,Connection refused"]);
    assert.deepStrictEqual(done, [
      "  app/green_a:80: DOWN, check L7STS 503 (HTTP status check returned code <3C>503<3E>)",
      "  app/green_b:80: DOWN, check L4CON (Connection refused)",
    ]);
    // Both checks running now: the code and description are gone from `show stat`.
    const running = ["app,green_a:80,0,0,0,DOWN,* L7STS,0,0,", "app,green_b:80,0,0,0,DOWN,* L4CON,,0,"];
    assert.deepStrictEqual(report(running, done.join("\n")), done);
    // With no earlier report, it says the check is running rather than show a code of 0.
    assert.deepStrictEqual(report(running), ["  app/green_a:80: DOWN, check L7STS (running)", "  app/green_b:80: DOWN, check L4CON (running)"]);
  });
});

describe("release gate and bake (real HAProxy)", function () {
  this.timeout(120_000);
  afterEach(async () => {
    stopApps();
    await stopAll();
  });

  it("refuses to shift onto new servers that fail their checks: each server's status, the running config unchanged, 0 failed requests", async () => {
    const blue = [await startApp("blue", "0"), await startApp("blue", "1")];
    const oldGreen = [await startApp("green", "old-0")];
    const newGreen = [await startApp("green", "new-0", { HEALTH_STATUS: "503" }), await startApp("green", "new-1", { HEALTH_STATUS: "503" })];
    const { haproxy, render } = await distributorFor({ servers: { blue: servers(blue), green: servers(oldGreen) }, gate: gate() });
    const running = onDisk(haproxy);
    const load = startLoad(haproxy.url, { keepAliveClients: 4, newConnectionClients: 2, maxDurationMs: 40_000, maxRequestsPerClient: 20_000 });
    await sleep(500);
    const started = Date.now();
    const result = await deliverConfig(
      haproxy,
      render({ weights: { blue: 0, green: 100 }, servers: { blue: servers(blue), green: servers(newGreen) }, gate: gate({ timeout: "5s" }) }),
    );
    const refusedAfter = Date.now() - started;
    await sleep(1000);
    await load.stop();
    assert.strictEqual(result.status, 1, show(result));
    assert.match(result.stdout, /loaded green's new servers with the running split/);
    assert.match(result.stderr, /gate: 0 of 2 green servers UP after \d+s, 2 needed; the new split is not applied/);
    // The hold is one level here (all of blue, none of green): its servers are app/<name>.
    for (const app of newGreen) assert.match(result.stderr, new RegExp(`  app/green_127\\.0\\.0\\.1:${app.port}: DOWN, check L7STS\\b`));
    assert.match(result.stderr, /check L7STS 503 \(Service Unavailable\)/);
    assert.match(result.stderr, /the previous config is back .* and serving/);
    assert.strictEqual(onDisk(haproxy), running);
    assert.deepStrictEqual(await answers(haproxy.url, 20), { "blue 200": 20 });
    assert.strictEqual(load.counts.errors + load.counts.non2xx, 0, load.counts.samples.join("\n"));
    assert.strictEqual(load.counts.green, 0);
    // The gate itself waits gate.timeout (to the second); the step adds the uploads, checks and two reloads.
    const waited = Number(/UP after (\d+)s/.exec(result.stderr)![1]);
    assert.ok(waited >= 5 && waited <= 7, `the gate waited ${waited} s`);
    assert.ok(refusedAfter >= 5000 && refusedAfter < 60_000, `refused after ${refusedAfter} ms`);
    console.log(
      `      gate waited ${waited} s of gate.timeout 5s; the step was refused after ${refusedAfter} ms; ` +
        `${load.counts.ok} requests during the step, ${load.counts.errors + load.counts.non2xx} failed`,
    );
  });

  it("refuses a shift onto running servers that fail their checks, without reloading", async () => {
    const blue = [await startApp("blue", "0")];
    const green = [await startApp("green", "0", { HEALTH_STATUS: "500" })];
    const { haproxy, render } = await distributorFor({ servers: { blue: servers(blue), green: servers(green) } });
    const running = onDisk(haproxy);
    const result = await deliverConfig(haproxy, render({ weights: { blue: 50, green: 50 }, servers: { blue: servers(blue), green: servers(green) }, gate: gate({ timeout: "2s" }) }));
    assert.strictEqual(result.status, 1, show(result));
    assert.match(result.stderr, new RegExp(`app/green_127\\.0\\.0\\.1:${green[0].port}: DOWN, check L7STS`));
    assert.doesNotMatch(result.stdout + result.stderr, /reloaded|hold/);
    assert.strictEqual(onDisk(haproxy), running);
    assert.deepStrictEqual(await answers(haproxy.url, 10), { "blue 200": 10 });
  });

  it("shifts once servers that start slowly pass their checks within gate.timeout", async () => {
    const blue = [await startApp("blue", "0")];
    const oldGreen = [await startApp("green", "old")];
    const { haproxy, render } = await distributorFor({ servers: { blue: servers(blue), green: servers(oldGreen) } });
    const newGreen = [await startApp("green", "new-0", { HEALTHY_AFTER_MS: "3000" }), await startApp("green", "new-1", { HEALTHY_AFTER_MS: "3000" })];
    const target = render({ weights: { blue: 0, green: 100 }, servers: { blue: servers(blue), green: servers(newGreen) }, gate: gate({ timeout: "30s" }) });
    const started = Date.now();
    const result = await deliverConfig(haproxy, target);
    const took = Date.now() - started;
    assert.strictEqual(result.status, 0, show(result));
    assert.match(result.stdout, /gate passed: 2 of 2 green servers UP \(need 2\) after \d+s/);
    assert.ok(took >= 2500, `the gate passed after ${took} ms, before the servers answered their checks`);
    assert.strictEqual(onDisk(haproxy), target);
    const seen = await answers(haproxy.url, 10);
    assert.deepStrictEqual(seen, { "green 200": 10 });
    console.log(`      servers healthy after 3 s: the step took ${took} ms`);
  });

  it("counts minHealthy as a count (at most all) or a percentage rounded up", async () => {
    const blue = [await startApp("blue", "0")];
    const green = [
      await startApp("green", "0"),
      await startApp("green", "1", { HEALTH_STATUS: "503" }),
      await startApp("green", "2", { HEALTH_STATUS: "503" }),
    ];
    const fleet = { blue: servers(blue), green: servers(green) };
    const { haproxy, render } = await distributorFor({ servers: fleet });
    await sleep(1500); // the checks have run
    const cases: Array<[string, boolean, RegExp]> = [
      ["2", false, /1 of 3 green servers UP after \d+s, 2 needed/],
      ["34%", false, /1 of 3 green servers UP after \d+s, 2 needed/],
      ["33%", true, /1 of 3 green servers UP \(need 1\)/],
      ["1", true, /1 of 3 green servers UP \(need 1\)/],
    ];
    for (const [minHealthy, passes, message] of cases) {
      const running = onDisk(haproxy);
      const result = await deliverConfig(haproxy, render({ weights: { blue: 50, green: 50 }, servers: fleet, gate: gate({ timeout: "2s", minHealthy }) }));
      assert.strictEqual(result.status, passes ? 0 : 1, `${minHealthy}: ${show(result)}`);
      assert.match(passes ? result.stdout : result.stderr, message, minHealthy);
      if (!passes) assert.strictEqual(onDisk(haproxy), running, minHealthy);
      // Back to all-blue for the next case: after a shift, blue's share rises and blue passes.
      const back = await deliverConfig(haproxy, render({ weights: { blue: 100, green: 0 }, servers: fleet }));
      assert.strictEqual(back.status, 0, show(back));
      if (passes) assert.match(back.stdout, /gate passed: 1 of 1 blue servers UP/);
      else assert.doesNotMatch(back.stdout, /gate/);
    }
    // A count above the color's servers means all of them.
    const all = await deliverConfig(haproxy, render({ weights: { blue: 50, green: 50 }, servers: fleet, gate: gate({ timeout: "1s", minHealthy: "5" }) }));
    assert.match(all.stderr, /1 of 3 green servers UP after \d+s, 3 needed/);
  });

  it("builds the hold config as the renderer would render the running split with the new servers, in either layout", async function () {
    this.timeout(240_000);
    type Case = [string, Pick<HaproxyConfigInput, "routing" | "failoverPrimary"> & { weights: Weights }, number, number, Weights];
    const cases: Case[] = [
      ["round-robin 100/0, one level", { routing: "round-robin", weights: { blue: 100, green: 0 } }, 2, 2, { blue: 0, green: 100 }],
      ["round-robin 30/70, 3 blue and 2 new green, one level", { routing: "round-robin", weights: { blue: 30, green: 70 } }, 3, 2, { blue: 10, green: 90 }],
      ["round-robin 256/1, 2 blue and 3 new green, two levels", { routing: "round-robin", weights: { blue: 256, green: 1 } }, 2, 3, { blue: 1, green: 1 }],
      ["sticky 60/40, two levels with the cookie", { routing: "sticky", weights: { blue: 60, green: 40 } }, 2, 2, { blue: 40, green: 60 }],
      ["failover to blue, one level with green as backup", { routing: "failover", failoverPrimary: "blue", weights: { blue: 100, green: 0 } }, 2, 2, { blue: 50, green: 50 }],
    ];
    for (const [name, running, blueCount, greenCount, next] of cases) {
      const blue = await Promise.all(Array.from({ length: blueCount }, (_, i) => startApp("blue", String(i))));
      const oldGreen = [await startApp("green", "old")];
      const newGreen = await Promise.all(Array.from({ length: greenCount }, (_, i) => startApp("green", `new-${i}`, { HEALTH_STATUS: "503" })));
      const { haproxy, render } = await distributorFor({ ...running, servers: { blue: servers(blue), green: servers(oldGreen) } });
      const before = onDisk(haproxy);
      const delivery = startDelivery(haproxy, render({ routing: "round-robin", weights: next, servers: { blue: servers(blue), green: servers(newGreen) }, gate: gate({ timeout: "3s" }) }));
      let hold = "";
      for (let waited = 0; !hold.includes("# Hold config of the release gate") && waited < 30_000; waited += 50) {
        await sleep(50);
        hold = onDisk(haproxy);
      }
      const result = await delivery.result;
      assert.strictEqual(result.status, 1, `${name}: ${show(result)}`);
      const expected = render({ ...running, servers: { blue: servers(blue), green: servers(newGreen) } });
      const settings = (text: string) => text.split("\n").filter((line) => !line.startsWith("#"));
      assert.deepStrictEqual(settings(hold), settings(expected), name);
      assert.match(hold, new RegExp(`^# traffic-distributor split: ${running.routing} blue ${running.routing === "failover" ? 1 : running.weights.blue} green ${running.routing === "failover" ? 0 : running.weights.green}$`, "m"), name);
      assert.strictEqual(onDisk(haproxy), before, `${name}: the running config is not back`);
      stopApps();
      await stopAll();
    }
  });

  it("keeps the previews in the hold config, their servers tracking the hold's layout", async function () {
    this.timeout(120_000);
    // Running two levels (sticky); the next step one level with new green servers: the hold
    // keeps sticky's two levels, and the previews must track the servers where the hold has them.
    const blue = [await startApp("blue", "0")];
    const newGreen = [await startApp("green", "new-0", { HEALTH_STATUS: "503" })];
    const oldGreen = [await startApp("green", "old")];
    const placement = { ...(await loopbackPlacement()), previewPorts: { blue: await freePort(), green: await freePort() } };
    const preview = { allowedCidrs: DEFAULT_PREVIEW_CIDRS };
    const render = (input: Partial<HaproxyConfigInput> & { servers: Record<Color, ServerAddress[]>; weights: Weights }) =>
      renderHaproxyConfig({ routing: "round-robin", healthCheck: HEALTH, preview, ...input }, placement);
    const running = { routing: "sticky" as const, weights: { blue: 60, green: 40 } };
    const haproxy = await startHaproxy(render({ ...running, servers: { blue: servers(blue), green: servers(oldGreen) } }), placement);
    const before = onDisk(haproxy);
    const delivery = startDelivery(haproxy, render({ weights: { blue: 0, green: 100 }, servers: { blue: servers(blue), green: servers(newGreen) }, gate: gate({ timeout: "3s" }) }));
    let hold = "";
    for (let waited = 0; !hold.includes("# Hold config of the release gate") && waited < 30_000; waited += 50) {
      await sleep(50);
      hold = onDisk(haproxy);
    }
    const result = await delivery.result;
    assert.match(result.stdout + result.stderr, /gate: 0 of 1 green servers UP/, show(result));
    const expected = render({ ...running, servers: { blue: servers(blue), green: servers(newGreen) } });
    const settings = (text: string) => text.split("\n").filter((line) => !line.startsWith("#"));
    assert.deepStrictEqual(settings(hold), settings(expected));
    assert.strictEqual(onDisk(haproxy), before, "the running config is not back");
  });

  describe("bake", () => {
    it("puts the previous config back when the receiving color answers 20% 500s, and fails with the figures", async () => {
      const blue = [await startApp("blue", "0"), await startApp("blue", "1")];
      const green = [await startApp("green", "0", { ERROR_EVERY: "5" }), await startApp("green", "1", { ERROR_EVERY: "5" })];
      const fleet = { blue: servers(blue), green: servers(green) };
      const { haproxy, render } = await distributorFor({ servers: fleet });
      const running = onDisk(haproxy);
      // Errors by the time clients saw them, to measure how long the bad color served.
      const load = startLoad(haproxy.url, { keepAliveClients: 4, newConnectionClients: 2, maxDurationMs: 60_000, maxRequestsPerClient: 50_000 });
      const began = Date.now();
      const delivery = startDelivery(haproxy, render({ weights: { blue: 50, green: 50 }, servers: fleet, gate: gate({ bake: "30s", maxErrorRate: "5" }) }));
      const result = await delivery.result;
      const stepEnded = Date.now() - began;
      await sleep(1000);
      const afterRevert = { ...load.counts };
      await sleep(1000);
      await load.stop();
      assert.strictEqual(result.status, 1, show(result));
      const figures = /bake: (\d+) requests to green, (\d+) errors \((\d+) 5xx, 0 connection, 0 response\): (\d+\.\d\d)% against 5\.00% allowed after (\d+)s; putting the previous config back/.exec(result.stderr);
      assert.ok(figures, show(result));
      const [requests, errors, rate, after] = [Number(figures[1]), Number(figures[2]), Number(figures[4]), Number(figures[5])];
      assert.ok(requests >= 20 && rate > 5, figures[0]);
      assert.ok(after < 30, `reverted after ${after} s of a 30 s bake`);
      assert.match(result.stderr, /the previous config is back .* and serving/);
      assert.strictEqual(onDisk(haproxy), running);
      // Nothing more fails once the previous config is back.
      assert.strictEqual(load.counts.non2xx, afterRevert.non2xx, "500s after the revert");
      assert.deepStrictEqual(await answers(haproxy.url, 10), { "blue 200": 10 });
      assert.strictEqual(load.counts.errors, 0, load.counts.samples.join("\n"));
      console.log(
        `      reverted after ${after} s of a 30 s bake (step ${stepEnded} ms): ${figures[0].slice(6, figures[0].indexOf(" after"))}; ` +
          `clients saw ${load.counts.non2xx} errors in ${load.counts.ok + load.counts.non2xx} requests, ` +
          `the first ${load.counts.firstFailureMs} ms and the last ${load.counts.lastFailureMs} ms after the step began`,
      );
      assert.ok(errors > 0 && load.counts.non2xx > 0);
    });

    it("puts the previous config back when the delivery is interrupted during the bake (pulumi up cancelled)", async () => {
      const blue = [await startApp("blue", "0")];
      const green = [await startApp("green", "0")];
      const fleet = { blue: servers(blue), green: servers(green) };
      const { haproxy, render } = await distributorFor({ servers: fleet });
      const running = onDisk(haproxy);
      const target = render({ weights: { blue: 0, green: 100 }, servers: fleet, gate: gate({ bake: "60s" }) });
      const delivery = startDelivery(haproxy, target);
      for (let waited = 0; onDisk(haproxy) !== target && waited < 30_000; waited += 50) await sleep(50);
      assert.strictEqual(onDisk(haproxy), target, "the new config was not installed");
      await sleep(1000);
      process.kill(delivery.process.pid!, "SIGTERM");
      const result = await delivery.result;
      assert.strictEqual(result.status, 1, show(result));
      assert.match(result.stderr, /interrupted during the release gate or the bake; putting the previous config back/);
      assert.strictEqual(onDisk(haproxy), running);
      await sleep(500);
      assert.deepStrictEqual(await answers(haproxy.url, 10), { "blue 200": 10 });
    });

    it("puts the previous config back when interrupted between the swap and a confirmed reload, without a bake", async () => {
      const blue = [await startApp("blue", "0")];
      const green = [await startApp("green", "0")];
      const fleet = { blue: servers(blue), green: servers(green) };
      const { haproxy, render } = await distributorFor({ servers: fleet });
      const running = onDisk(haproxy);
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-pause-"));
      const marker = path.join(dir, "paused");
      try {
        // The stand-in docker stops after the signal that reloads the new config.
        const delivery = startDelivery(haproxy, render({ weights: { blue: 0, green: 100 }, servers: fleet }), {
          env: { FAKE_DOCKER_PAUSE: "after ^kill", FAKE_DOCKER_PAUSED: marker },
          // Without a plan: a reload (a weight step with one would send no signal).
          plan: false,
        });
        for (let waited = 0; !fs.existsSync(marker) && waited < 30_000; waited += 50) await sleep(50);
        assert.ok(fs.existsSync(marker), "the delivery did not reach the reload");
        process.kill(delivery.process.pid!, "SIGTERM");
        fs.rmSync(marker);
        const result = await delivery.result;
        assert.strictEqual(result.status, 1, show(result));
        assert.match(result.stderr, /interrupted during the release gate or the bake; putting the previous config back/);
        assert.strictEqual(onDisk(haproxy), running);
        await sleep(500);
        assert.deepStrictEqual(await answers(haproxy.url, 10), { "blue 200": 10 });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("passes with a healthy color and reports its figures", async () => {
      const blue = [await startApp("blue", "0")];
      const green = [await startApp("green", "0")];
      const fleet = { blue: servers(blue), green: servers(green) };
      const { haproxy, render } = await distributorFor({ servers: fleet });
      const target = render({ weights: { blue: 50, green: 50 }, servers: fleet, gate: gate({ bake: "3s" }) });
      const load = startLoad(haproxy.url, { keepAliveClients: 2, newConnectionClients: 1, maxDurationMs: 20_000, maxRequestsPerClient: 20_000 });
      const result = await deliverConfig(haproxy, target);
      await load.stop();
      assert.strictEqual(result.status, 0, show(result));
      assert.match(result.stdout, /bake passed: [1-9]\d* requests to green, 0 errors \(0 5xx, 0 connection, 0 response\): 0\.00% against 5\.00% allowed over [3-9]s/);
      assert.strictEqual(onDisk(haproxy), target);
      assert.strictEqual(load.counts.errors + load.counts.non2xx, 0, load.counts.samples.join("\n"));
    });
  });
});
