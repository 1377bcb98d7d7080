// The traffic itself, through Debian's HAProxy running the config the component renders, in
// front of real backends on 127.0.0.1, with weight changes applied by the container's own
// delivery script (validate, swap, SIGUSR2 to the master-worker HAProxy).
import * as assert from "assert";
import * as fs from "fs";
import * as http from "http";
import { Color, COLORS, RoutingMode } from "../components";
import {
  colorStateServers,
  DEFAULT_HEALTH_CHECK,
  layoutOf,
  HaproxyConfigInput,
  HaproxyPlacement,
  renderHaproxyConfig,
  SMALL_BUFFER_BYTES,
  STICKY_COOKIE,
} from "../components/haproxyConfig";
import { SMALL_BUFFERS_SINCE, versionAtLeast } from "../components/capacity";
import { Weights } from "../components/settings";
import {
  countColors,
  deliverConfig,
  Fleet,
  fleetServers,
  Haproxy,
  loopbackPlacement,
  request,
  signalColor,
  sleep,
  startBackend,
  startColor,
  startFleet,
  startHaproxy,
  startLoad,
  stopAll,
  stopColor,
  waitForColor,
  TEST_THREADS,
  acceptedPerThread,
  adminCommand,
} from "./harness";
import { resealed } from "./haproxy";

/** Two backends per color, a distributor in front, and a way to apply new settings in place. */
class Rig {
  backends!: Fleet;
  haproxy!: Haproxy;
  placement!: HaproxyPlacement;
  settings!: Omit<HaproxyConfigInput, "servers">;

  static async start(settings: Omit<HaproxyConfigInput, "servers">): Promise<Rig> {
    const rig = new Rig();
    rig.settings = settings;
    rig.backends = await startFleet();
    rig.placement = await loopbackPlacement();
    rig.haproxy = await startHaproxy(rig.render(), rig.placement);
    for (const color of COLORS) await rig.waitUntil(color, "UP");
    return rig;
  }

  render(): string {
    return renderHaproxyConfig({ threads: TEST_THREADS, ...this.settings, servers: fleetServers(this.backends) }, this.placement);
  }

  /** Applies new settings the way `pulumi up` does: render, deliver, validate, reload. */
  async apply(changes: Partial<HaproxyConfigInput>): Promise<void> {
    this.settings = { ...this.settings, ...changes };
    const result = await deliverConfig(this.haproxy, this.render());
    assert.strictEqual(result.status, 0, `delivery failed: ${result.stderr}`);
  }

  /** Waits until the distributor sees a color as `status`; resolves with the milliseconds taken. */
  waitUntil(color: Color, status: "UP" | "DOWN", timeoutMs = 10_000): Promise<number> {
    return waitForColor(this.placement, colorStateServers({ ...this.settings, servers: fleetServers(this.backends) }, color), status, timeoutMs);
  }

  /** A color's new version: its servers stop, and start again on the same ports. */
  async restart(color: Color, version: string): Promise<void> {
    await stopColor(this.backends, color, "SIGTERM");
    await startColor(this.backends, color, version);
  }

  kill(color: Color): Promise<void> {
    return stopColor(this.backends, color, "SIGKILL");
  }

  freeze(color: Color, signal: "SIGSTOP" | "SIGCONT"): void {
    signalColor(this.backends, color, signal);
  }

  get url(): string {
    return this.haproxy.url;
  }
}

function share(counts: { blue: number; green: number }, color: Color): number {
  return (100 * counts[color]) / (counts.blue + counts.green);
}

function expected(weights: Weights, color: Color): number {
  return (100 * weights[color]) / (weights.blue + weights.green);
}

/** Requests counted by color over a window, taken from a running load. */
async function window(load: ReturnType<typeof startLoad>, ms: number): Promise<{ blue: number; green: number }> {
  const before = { blue: load.counts.blue, green: load.counts.green };
  await sleep(ms);
  return { blue: load.counts.blue - before.blue, green: load.counts.green - before.green };
}

describe("traffic through a real HAProxy", function () {
  this.timeout(120_000);
  afterEach(stopAll);

  describe("1. split by weight", () => {
    const pairs: Array<[number, number]> = [[50, 50], [30, 70], [1, 99], [0, 100], [100, 0], [256, 1]];
    it(`matches w/Σw within 0.5 points over 2,000 requests on ${TEST_THREADS} threads, for ${pairs.map((p) => p.join("/")).join(", ")}`, async () => {
      const rig = await Rig.start({ weights: { blue: 50, green: 50 }, routing: "round-robin" });
      const report: string[] = [];
      for (const [blue, green] of pairs) {
        const weights = { blue, green };
        await rig.apply({ weights });
        // Four clients at once, a new connection per request, which HAProxy spreads over its threads.
        const before = await acceptedPerThread(rig.placement);
        const parts = await Promise.all([0, 1, 2, 3].map(() => countColors(rig.url, 500, { agent: false })));
        const accepted = (await acceptedPerThread(rig.placement)).map((n, i) => n - before[i]);
        assert.strictEqual(accepted.length, TEST_THREADS, `threads: ${accepted.join(" ")}`);
        assert.ok(accepted.every((n) => n > 0), `${blue}/${green}: every thread must take connections, took ${accepted.join(" ")}`);
        const counts = { blue: 0, green: 0, other: 0 };
        for (const part of parts) for (const key of ["blue", "green", "other"] as const) counts[key] += part[key];
        report.push(`${blue}/${green}: ${counts.blue}/${counts.green}`);
        assert.strictEqual(counts.other, 0, `${blue}/${green}: ${counts.other} requests failed`);
        for (const color of COLORS) {
          const diff = Math.abs(share(counts, color) - expected(weights, color));
          assert.ok(diff <= 0.5, `${blue}/${green}: ${color} got ${share(counts, color).toFixed(2)}%`);
          if (weights[color] === 0) assert.strictEqual(counts[color], 0, `${color} has weight 0`);
        }
      }
      console.log(`      split over 2,000 requests: ${report.join(", ")}`);
    });
  });

  describe("1b. split by color whatever the replica counts", () => {
    it("3 blue and 1 green at 30/70 (one level), 2 blue and 3 green at 256/1 (two levels): within 0.5 points", async () => {
      const cases: Array<[Record<Color, number>, Weights, string]> = [
        [{ blue: 3, green: 1 }, { blue: 30, green: 70 }, "one-level"],
        [{ blue: 2, green: 3 }, { blue: 256, green: 1 }, "two-level"],
      ];
      const report: string[] = [];
      for (const [replicas, weights, layout] of cases) {
        const fleet = {} as Fleet;
        for (const color of COLORS) fleet[color] = await Promise.all(Array.from({ length: replicas[color] }, (_, i) => startBackend(color, String(i))));
        const input: HaproxyConfigInput = { weights, routing: "round-robin", servers: fleetServers(fleet) };
        assert.strictEqual(layoutOf(input), layout);
        const placement = await loopbackPlacement();
        const haproxy = await startHaproxy(renderHaproxyConfig(input, placement), placement);
        for (const color of COLORS) await waitForColor(placement, colorStateServers(input, color), "UP");
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const counts = await countColors(haproxy.url, 2000, { agent });
        agent.destroy();
        report.push(`${replicas.blue}+${replicas.green} replicas at ${weights.blue}/${weights.green}: ${counts.blue}/${counts.green}`);
        assert.strictEqual(counts.other, 0);
        for (const color of COLORS) {
          assert.ok(Math.abs(share(counts, color) - expected(weights, color)) <= 0.5, `${report[report.length - 1]}: ${color} ${share(counts, color)}%`);
        }
        await stopAll();
      }
      console.log(`      ${report.join(", ")}`);
    });
  });

  describe("2. zero downtime through a whole release", () => {
    it("drops nothing under keep-alive and new-connection load, and each step takes the new weights", async () => {
      const rig = await Rig.start({ weights: { blue: 50, green: 50 }, routing: "round-robin" });
      const load = startLoad(rig.url, {
        keepAliveClients: 8,
        newConnectionClients: 4,
        slowClients: 2,
        clientTimeoutMs: 30_000,
        maxDurationMs: 90_000,
      });
      const steps: string[] = [];
      const check = async (name: string, weights: Weights) => {
        steps.push(`${name} applied at +${load.elapsedMs()}ms`);
        await sleep(300); // the old worker's keep-alive connections carry one last request each
        const seen = await window(load, 1500);
        steps.push(`${name}: ${seen.blue}/${seen.green}`);
        for (const color of COLORS) {
          if (weights[color] === 0) assert.strictEqual(seen[color], 0, `${name}: ${color} still got ${seen[color]}`);
          assert.ok(Math.abs(share(seen, color) - expected(weights, color)) <= 5, `${name}: ${color} ${share(seen, color)}%`);
        }
      };
      try {
        await check("50/50", { blue: 50, green: 50 });
        await rig.apply({ weights: { blue: 0, green: 100 } });
        await check("0/100", { blue: 0, green: 100 });
        steps.push(`blue restart at +${load.elapsedMs()}ms`);
        await rig.restart("blue", "v2");
        await rig.waitUntil("blue", "UP");
        await rig.apply({ weights: { blue: 100, green: 0 } });
        await check("100/0", { blue: 100, green: 0 });
        steps.push(`green restart at +${load.elapsedMs()}ms`);
        await rig.restart("green", "v2");
        await rig.waitUntil("green", "UP");
        await rig.apply({ weights: { blue: 50, green: 50 } });
        await check("50/50 again", { blue: 50, green: 50 });
        await sleep(2500); // let the last slow requests cross the reloads and finish
      } finally {
        await load.stop();
      }
      const { ok, non2xx, errors, samples } = load.counts;
      console.log(`      release under load: ${ok} ok, ${non2xx} non-2xx, ${errors} errors; slow: ${load.slow.ok} ok; ${steps.join(", ")}`);
      assert.deepStrictEqual({ non2xx, errors, samples }, { non2xx: 0, errors: 0, samples: [] });
      assert.deepStrictEqual({ non2xx: load.slow.non2xx, errors: load.slow.errors, samples: load.slow.samples }, {
        non2xx: 0,
        errors: 0,
        samples: [],
      });
      assert.ok(ok > 1000, `only ${ok} requests completed`);
      assert.ok(load.slow.ok >= 8, `only ${load.slow.ok} slow requests completed`);
    });
  });

  describe("3. a color that dies leaves rotation and comes back", () => {
    // A hung server is out after two checks of interval + timeout: the frozen case sets a
    // 500 ms check timeout (the README's advice for a fast health endpoint) to leave in 2 s.
    for (const how of ["killed", "frozen"] as const) {
      it(`${how}: out of rotation within 2 s, 0 failed GETs, back after recovery`, async () => {
        const healthCheck = how === "frozen" ? { ...DEFAULT_HEALTH_CHECK, timeout: 500 } : undefined;
        const rig = await Rig.start({ weights: { blue: 50, green: 50 }, routing: "round-robin", healthCheck });
        const load = startLoad(rig.url, { keepAliveClients: 6, newConnectionClients: 2, clientTimeoutMs: 30_000, maxDurationMs: 90_000 });
        let downMs = 0;
        let upMs = 0;
        try {
          await sleep(500);
          if (how === "killed") await rig.kill("green");
          else rig.freeze("green", "SIGSTOP");
          downMs = await rig.waitUntil("green", "DOWN", 10_000);
          await sleep(1000);
          const during = await window(load, 1000);
          assert.strictEqual(during.green, 0, "green still served while down");
          if (how === "killed") {
            await startColor(rig.backends, "green", "r");
          } else {
            rig.freeze("green", "SIGCONT");
          }
          upMs = await rig.waitUntil("green", "UP", 10_000);
          await sleep(300);
          const after = await window(load, 1000);
          assert.ok(after.green > 0, "green did not rejoin");
        } finally {
          await load.stop();
        }
        const { ok, non2xx, errors, samples, maxLatencyMs } = load.counts;
        console.log(`      ${how}: down after ${downMs} ms, up ${upMs} ms after recovery; ${ok} ok, ${non2xx} non-2xx, ${errors} errors, max latency ${maxLatencyMs} ms`);
        assert.ok(downMs <= 2000, `green left rotation only after ${downMs} ms`);
        assert.deepStrictEqual({ non2xx, errors, samples }, { non2xx: 0, errors: 0, samples: [] });
      });
    }
  });

  describe("3b. a color that crashes mid-request", () => {
    it("hands GETs to the other color, and never replays a POST", async () => {
      const rig = await Rig.start({ weights: { blue: 50, green: 50 }, routing: "round-robin" });
      // Green's replicas pass their health checks but reset every connection on this path.
      const crashing = `${rig.url}/reset?color=green`;
      const answers = async (method: string) => {
        const seen: Record<string, number> = {};
        for (let i = 0; i < 100; i++) {
          const { status, body } = await request(crashing, { method, agent: false });
          const key = `${status} ${status === 200 ? body.split(" ")[0] : ""}`.trim();
          seen[key] = (seen[key] ?? 0) + 1;
        }
        return seen;
      };
      const gets = await answers("GET");
      const posts = await answers("POST");
      console.log(`      crashing green: GET ${JSON.stringify(gets)}, POST ${JSON.stringify(posts)}`);
      assert.deepStrictEqual(gets, { "200 blue": 100 });
      // Round-robin sends half the POSTs to green; each fails once, none is sent again: HAProxy
      // logged every POST, once, with a retry count of 0.
      assert.deepStrictEqual(posts, { "200 blue": 50, "502": 50 });
      // One line per request, at the public frontend. HAProxy writes a line after the response
      // is sent, so the last may still be on its way.
      const readPostLines = () => fs.readFileSync(rig.haproxy.logPath, "utf8").split("\n").filter((l) => l.includes('"POST /reset'));
      let postLines = readPostLines();
      const deadline = Date.now() + 3000;
      while (postLines.length < 100 && Date.now() < deadline) {
        await sleep(50);
        postLines = readPostLines();
      }
      // After the termination state: actconn/feconn/beconn/srv_conn/retries.
      const retries = postLines.map((line) => / [-A-Za-z]{4} \d+\/\d+\/\d+\/\d+\/(\+?\d+) /.exec(line)?.[1]);
      assert.deepStrictEqual({ logged: retries.length, retried: retries.filter((r) => r !== "0") }, { logged: 100, retried: [] });
    });
  });

  describe("3c. the copy kept for a retry", () => {
    it("retries GETs carrying 3 kB of cookies on the other color; on HAProxy 3.4 from a small buffer", async () => {
      const rig = await Rig.start({ weights: { blue: 50, green: 50 }, routing: "round-robin" });
      const cookie = Array.from({ length: 30 }, (_, i) => `c${i}=${"v".repeat(90)}`).join("; ");
      assert.ok(cookie.length > 2800 && cookie.length < SMALL_BUFFER_BYTES - 800, String(cookie.length));
      const seen: Record<string, number> = {};
      for (let i = 0; i < 40; i++) {
        const { status, body } = await request(`${rig.url}/reset?color=green`, { agent: false, headers: { cookie } });
        const key = `${status} ${status === 200 ? body.split(" ")[0] : ""}`.trim();
        seen[key] = (seen[key] ?? 0) + 1;
      }
      assert.deepStrictEqual(seen, { "200 blue": 40 });
      const version = /^Version: (\S+)/m.exec(await adminCommand(rig.placement, "show info"))?.[1] ?? "?";
      const pools = await adminCommand(rig.placement, "show pools");
      const small = pools.split("\n").find((line) => new RegExp(`Pool small_buf\\w* \\(${SMALL_BUFFER_BYTES} bytes`).test(line));
      console.log(`      HAProxy ${version}: ${small?.trim() ?? "no small-buffer pool"}`);
      if (versionAtLeast(version, SMALL_BUFFERS_SINCE)) assert.match(small ?? "", /: [1-9]\d* allocated/, "HAProxy 3.4 kept the retries' copies elsewhere");
      else assert.strictEqual(small, undefined);
    });
  });

  describe("4. sticky sessions", () => {
    const clients = 500;

    /** One request per client, concurrently; updates each client's cookie. */
    async function round(url: string, jars: Array<string | undefined>, agent: http.Agent): Promise<Color[]> {
      const colors: Color[] = new Array(jars.length);
      let next = 0;
      const worker = async () => {
        while (next < jars.length) {
          const i = next++;
          const res = await request(`${url}/`, { agent, headers: jars[i] ? { cookie: jars[i] } : {} });
          assert.strictEqual(res.status, 200, `client ${i}: HTTP ${res.status}`);
          const setCookie = (res.headers["set-cookie"] ?? []).find((c) => c.startsWith(`${STICKY_COOKIE}=`));
          if (setCookie) jars[i] = setCookie.split(";")[0];
          colors[i] = res.body.split(" ")[0] as Color;
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      return colors;
    }

    const tally = (colors: Color[]) => ({ blue: colors.filter((c) => c === "blue").length, green: colors.filter((c) => c === "green").length });

    it(`pins ${clients} clients to their color through weight changes, drains, and moves them when it dies`, async () => {
      const rig = await Rig.start({ weights: { blue: 30, green: 70 }, routing: "sticky" });
      const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
      try {
        const jars: Array<string | undefined> = new Array(clients).fill(undefined);
        const first = await round(rig.url, jars, agent);
        assert.ok(Math.abs(share(tally(first), "blue") - 30) <= 1, `new clients at 30/70: ${JSON.stringify(tally(first))}`);
        for (let r = 0; r < 3; r++) assert.deepStrictEqual(await round(rig.url, jars, agent), first, "a client changed color");

        await rig.apply({ weights: { blue: 10, green: 90 } });
        assert.deepStrictEqual(await round(rig.url, jars, agent), first, "the weight change moved clients");
        const fresh = await round(rig.url, new Array(clients).fill(undefined), agent);
        assert.ok(Math.abs(share(tally(fresh), "blue") - 10) <= 1, `new clients at 10/90: ${JSON.stringify(tally(fresh))}`);

        await rig.apply({ weights: { blue: 0, green: 100 } });
        assert.deepStrictEqual(await round(rig.url, jars, agent), first, "draining blue moved its clients");
        assert.deepStrictEqual(tally(await round(rig.url, new Array(clients).fill(undefined), agent)), { blue: 0, green: clients });

        await rig.kill("blue");
        const moved = await round(rig.url, jars, agent);
        assert.deepStrictEqual(tally(moved), { blue: 0, green: clients }, "blue's clients were not moved");
        assert.deepStrictEqual(await round(rig.url, jars, agent), moved, "moved clients did not stay");
        console.log(`      sticky: first ${JSON.stringify(tally(first))}, new at 10/90 ${JSON.stringify(tally(fresh))}, 0 moved by the weight change or the drain, ${tally(first).blue} moved when blue died`);
      } finally {
        agent.destroy();
      }
    });
  });

  describe("5. failover routing", () => {
    it("only the primary serves while healthy; the backup takes over when it dies", async () => {
      const routing: RoutingMode = "failover";
      const rig = await Rig.start({ weights: { blue: 10, green: 90 }, routing, failoverPrimary: "blue" });
      assert.deepStrictEqual(await countColors(rig.url, 500), { blue: 500, green: 0, other: 0 });
      await rig.kill("blue");
      await rig.waitUntil("blue", "DOWN");
      assert.deepStrictEqual(await countColors(rig.url, 200), { blue: 0, green: 200, other: 0 });
    });
  });

  describe("5b. layout transitions", () => {
    it("two levels -> one level -> two levels, three times, under keep-alive load: 0 failed requests", async () => {
      const sticky = { weights: { blue: 50, green: 50 }, routing: "sticky" as const };
      const rig = await Rig.start(sticky);
      // Clients that pause: at each reload some keep-alive connections sit idle on the old worker,
      // whose next request then crosses the previous layout after the old worker's checks ran.
      const load = startLoad(rig.url, { keepAliveClients: 24, newConnectionClients: 2, pauseMs: 500, clientTimeoutMs: 30_000, maxDurationMs: 90_000 });
      const layouts: string[] = [];
      try {
        for (let round = 0; round < 3; round++) {
          for (const settings of [{ weights: { blue: 50, green: 50 }, routing: "round-robin" as const }, sticky]) {
            await sleep(400);
            await rig.apply(settings);
            layouts.push(layoutOf({ ...rig.settings, servers: fleetServers(rig.backends) }));
          }
        }
        await sleep(1000); // the last old worker's keep-alive connections carry their last request
      } finally {
        await load.stop();
      }
      const { ok, non2xx, errors, samples } = load.counts;
      console.log(`      layout transitions (${layouts.join(" -> ")}): ${ok} ok, ${non2xx} non-2xx, ${errors} errors`);
      assert.deepStrictEqual(layouts, ["one-level", "two-level", "one-level", "two-level", "one-level", "two-level"]);
      assert.deepStrictEqual({ non2xx, errors, samples }, { non2xx: 0, errors: 0, samples: [] });
      assert.ok(ok > 300, `only ${ok} requests completed`);
    });
  });

  describe("6. a rejected config is never loaded", () => {
    it("keeps serving the previous weights and reports HAProxy's message", async () => {
      const rig = await Rig.start({ weights: { blue: 0, green: 100 }, routing: "round-robin" });
      const broken = resealed(rig.render(), (body) => body.replace(/ weight 0 /, " weight 300 "));
      const result = await deliverConfig(rig.haproxy, broken);
      assert.strictEqual(result.status, 1);
      assert.match(result.stderr, /rejected the new config/);
      assert.match(result.stderr, /weight/);
      assert.deepStrictEqual(await countColors(rig.url, 100), { blue: 0, green: 100, other: 0 });
    });
  });
});
