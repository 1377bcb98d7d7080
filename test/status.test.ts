// `npm run status` from a real HAProxy's runtime API: the probe (perl, as inside the container)
// against a loopback HAProxy, then the report, checked against the traffic sent.
import * as assert from "assert";
import { spawn } from "child_process";
import * as path from "path";
import { distributorStatus, DistributorStatusReport, formatStatus, parseSummary, probeArgv } from "../components/distributorStatus";
import { colorStateServers, HaproxyConfigInput, layoutOf, renderHaproxyConfig, serverName, DEFAULT_HEALTH_CHECK } from "../components/haproxyConfig";
import { Color, COLORS } from "../components/settings";
import { App, apps, startApp, stopApps } from "./appRig";
import { Haproxy, loopbackPlacement, request, startHaproxy, stopAll, waitForColor, waitForStatus } from "./harness";

/** Runs the probe on this host, as `docker exec` runs it in the container; never blocks the event loop. */
export function runProbe(haproxy: Haproxy): Promise<string> {
  return new Promise((resolve, reject) => {
    const [command, ...args] = probeArgv(path.join(haproxy.placement.runtimeDir, "admin.sock"), haproxy.configPath);
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`probe exited with ${code}: ${err}`));
    });
  });
}

describe("distributor status (real HAProxy)", function () {
  this.timeout(60_000);
  afterEach(async () => {
    stopApps();
    await stopAll();
  });

  async function start(weights: { blue: number; green: number }, routing: HaproxyConfigInput["routing"] = "round-robin") {
    const fleet: Record<Color, App[]> = {
      blue: [await startApp("blue", "0"), await startApp("blue", "1")],
      green: [await startApp("green", "0"), await startApp("green", "1")],
    };
    const placement = await loopbackPlacement();
    const input: HaproxyConfigInput = {
      weights,
      routing,
      servers: { blue: fleet.blue.map((a) => a.server), green: fleet.green.map((a) => a.server) },
      healthCheck: { ...DEFAULT_HEALTH_CHECK, path: "/healthz" },
    };
    const haproxy = await startHaproxy(renderHaproxyConfig(input, placement), placement);
    for (const color of COLORS) await waitForColor(placement, colorStateServers(input, color), "UP");
    return { fleet, haproxy, input };
  }

  /** Sends GETs to `path`, each on a new connection; counts answers by server name and status class. */
  async function send(haproxy: Haproxy, fleet: Record<Color, App[]>, urlPath: string, count: number, into: Record<string, { all: number; e5xx: number }>) {
    for (let i = 0; i < count; i++) {
      const { status, body } = await request(`${haproxy.url}${urlPath}`, { agent: false });
      const [color, id] = body.trim().split(" ") as [Color, string];
      const name = serverName(color, Number(id), fleet[color][Number(id)].server);
      into[name] ??= { all: 0, e5xx: 0 };
      into[name].all++;
      if (status >= 500) into[name].e5xx++;
    }
  }

  it("reports each server's state, last check, sessions, answers and 5xx as the traffic sent them", async () => {
    const { fleet, haproxy } = await start({ blue: 30, green: 70 });
    const sent: Record<string, { all: number; e5xx: number }> = {};
    const began = Date.now();
    await send(haproxy, fleet, "/", 30, sent);
    await send(haproxy, fleet, "/status?code=500", 12, sent);
    // One request in flight while the status is read, and one server down.
    const slow = request(`${haproxy.url}/slow?ms=4000`, { agent: false, timeoutMs: 10_000 });
    apps[apps.length - 1].kill("SIGKILL"); // green 1
    const green1 = serverName("green", 1, fleet.green[1].server);
    await waitForStatus(haproxy.placement, "app", green1, /^DOWN/);
    const probeStarted = Date.now();
    const report = await runProbe(haproxy).then(distributorStatus);
    const probeMs = Date.now() - probeStarted;
    const elapsed = (Date.now() - began) / 1000;
    console.log(`      probe + report: ${probeMs} ms\n${formatStatus(report).replace(/^/gm, "        ")}`);

    assert.strictEqual(report.routing, "round-robin");
    assert.deepStrictEqual(
      COLORS.map((c) => [report.colors[c].weight, report.colors[c].share, report.colors[c].serversUp, report.colors[c].servers.length]),
      [[30, 30, 2, 2], [70, 70, 1, 2]],
    );
    const byName = new Map(COLORS.flatMap((c) => report.colors[c].servers.map((s) => [s.name, s] as const)));
    for (const color of COLORS) {
      fleet[color].forEach((app, i) => {
        const name = serverName(color, i, app.server);
        const server = byName.get(name);
        assert.ok(server, `no ${name} in the report`);
        const expected = sent[name] ?? { all: 0, e5xx: 0 };
        assert.deepStrictEqual([server.answersSinceReload, server.errors5xxSinceReload], [expected.all, expected.e5xx], name);
        // The windows slide: all the traffic is within them, a period boundary may discount some.
        assert.ok(server.errors5xxLastMinute <= expected.e5xx && server.errors5xxLastMinute >= Math.floor(expected.e5xx * (1 - elapsed / 60)), `${name} 5xx ${server.errors5xxLastMinute}`);
        const perSecond = expected.all / 10;
        assert.ok(server.requestsPerSecond <= perSecond + 0.05 && server.requestsPerSecond >= perSecond * (1 - elapsed / 10) - 0.1, `${name} ${server.requestsPerSecond} req/s`);
      });
    }
    assert.strictEqual(byName.get(green1)!.state, "DOWN");
    assert.match(byName.get(green1)!.lastCheck, /^L4CON in \d+ ms: /);
    assert.match(byName.get(serverName("blue", 0, fleet.blue[0].server))!.lastCheck, /^L7OK\/\d+ in \d+ ms/);
    assert.strictEqual(COLORS.reduce((n, c) => n + report.colors[c].currentSessions, 0), 1, "the slow request in flight");
    assert.strictEqual(report.colors.blue.errors5xxLastMinute + report.colors.green.errors5xxLastMinute <= 12, true);
    assert.strictEqual((await slow).status, 200);
  });

  it("reads the colors' servers in the two-level layout and failover's shares", async () => {
    const sticky = await start({ blue: 1, green: 3 }, "sticky");
    const report: DistributorStatusReport = distributorStatus(await runProbe(sticky.haproxy));
    assert.deepStrictEqual(
      COLORS.map((c) => [report.colors[c].share, report.colors[c].servers.map((s) => s.name)]),
      COLORS.map((c) => [c === "blue" ? 25 : 75, sticky.fleet[c].map((a, i) => serverName(c, i, a.server))]),
    );
    assert.deepStrictEqual(parseSummary("# routing failover: primary green, backup blue"), { routing: "failover" });
  });

  it("reads every split the renderer accepts, from the weights the running worker applies", async function () {
    this.timeout(180_000);
    const percent = (part: number, whole: number) => Math.round((part * 10_000) / whole) / 100;
    const splits: Array<{ weights: { blue: number; green: number }; routing: HaproxyConfigInput["routing"]; failoverPrimary?: Color; replicas?: number }> = [
      { weights: { blue: 1, green: 2 }, routing: "round-robin" },
      { weights: { blue: 256, green: 1 }, routing: "round-robin" },
      { weights: { blue: 1, green: 2 }, routing: "sticky" },
      { weights: { blue: 0, green: 7 }, routing: "round-robin" },
      { weights: { blue: 255, green: 254 }, routing: "round-robin", replicas: 3 },
      { weights: { blue: 10, green: 90 }, routing: "failover", failoverPrimary: "green" },
    ];
    for (const split of splits) {
      const fleet: Record<Color, App[]> = { blue: [], green: [] };
      for (const color of COLORS) for (let i = 0; i < (color === "blue" ? 2 : split.replicas ?? 2); i++) fleet[color].push(await startApp(color, String(i)));
      const placement = await loopbackPlacement();
      const input: HaproxyConfigInput = {
        weights: split.weights,
        routing: split.routing,
        ...(split.failoverPrimary ? { failoverPrimary: split.failoverPrimary } : {}),
        servers: { blue: fleet.blue.map((a) => a.server), green: fleet.green.map((a) => a.server) },
        healthCheck: { ...DEFAULT_HEALTH_CHECK, path: "/healthz" },
      };
      const haproxy = await startHaproxy(renderHaproxyConfig(input, placement), placement);
      const report = distributorStatus(await runProbe(haproxy));
      const total = split.weights.blue + split.weights.green;
      const expected =
        split.routing === "failover"
          ? { blue: split.failoverPrimary === "blue" ? 100 : 0, green: split.failoverPrimary === "green" ? 100 : 0 }
          : { blue: percent(split.weights.blue, total), green: percent(split.weights.green, total) };
      const label = `${split.routing} ${split.weights.blue}/${split.weights.green} (${layoutOf(input)})`;
      assert.strictEqual(report.routing, split.routing, label);
      assert.deepStrictEqual({ blue: report.colors.blue.share, green: report.colors.green.share }, expected, label);
      if (split.routing !== "failover") assert.deepStrictEqual({ blue: report.colors.blue.weight, green: report.colors.green.weight }, split.weights, label);
      assert.deepStrictEqual(COLORS.map((c) => report.colors[c].servers.length), [2, split.replicas ?? 2], label);
      console.log(`      ${label}: ${formatStatus(report).split("\n").filter((line) => /^(blue|green):/.test(line)).map((line) => line.split(", ").slice(0, 2).join(", ")).join("; ")}`);
      stopApps();
      await stopAll();
    }
  });

  it("refuses output that is not a traffic-distributor's", () => {
    assert.throws(() => distributorStatus("global\n--- show stat\n# pxname,svname\n"), /no routing summary line/);
  });
});
