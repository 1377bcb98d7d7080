// The Prometheus exporter on the stats listener, in a real HAProxy: behind the stats password,
// and its per-server counters, selected by color through the server names, match the traffic
// sent, in either layout.
import * as assert from "assert";
import { colorStateServers, HaproxyConfigInput, METRICS_PATH, renderHaproxyConfig, serverName } from "../components/haproxyConfig";
import { Color, COLORS } from "../components/settings";
import { Fleet, fleetServers, loopbackPlacement, request, startBackend, startFleet, startHaproxy, stopAll, waitForColor } from "./harness";

const PASSWORD = "metrics-pass-1";
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });

/** One sample of the Prometheus text format: name, labels, value. */
interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[key] = value;
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** What the README's per-color query sums: `haproxy_server_http_responses_total{server=~"<color>_.*"}`. */
function colorSum(samples: Sample[], color: Color, code?: string): number {
  return samples
    .filter((s) => s.name === "haproxy_server_http_responses_total" && new RegExp(`^${color}_.*$`).test(s.labels.server ?? ""))
    .filter((s) => code === undefined || s.labels.code === code)
    .reduce((sum, s) => sum + s.value, 0);
}

/** Answers of one color among those counted by `send`. */
function sent(seen: Record<string, number>, color: Color): number {
  return Object.entries(seen).filter(([key]) => key.startsWith(`${color} `)).reduce((sum, [, n]) => sum + n, 0);
}

describe("Prometheus metrics on the stats listener (real HAProxy)", function () {
  this.timeout(60_000);
  afterEach(stopAll);

  async function start(fleet: Fleet, overrides: Partial<HaproxyConfigInput>) {
    const placement = await loopbackPlacement();
    const input: HaproxyConfigInput = { weights: { blue: 30, green: 70 }, routing: "round-robin", servers: fleetServers(fleet), statsPassword: PASSWORD, ...overrides };
    const haproxy = await startHaproxy(renderHaproxyConfig(input, placement), placement);
    for (const color of COLORS) await waitForColor(placement, colorStateServers(input, color), "UP");
    return { haproxy, metricsUrl: `http://127.0.0.1:${placement.statsPort}${METRICS_PATH}` };
  }

  /** Sends `count` GETs, each on a new connection; counts answers by "<color> <id>". */
  async function send(url: string, count: number): Promise<Record<string, number>> {
    const seen: Record<string, number> = {};
    for (let i = 0; i < count; i++) {
      const { status, body } = await request(`${url}/`, { agent: false });
      assert.strictEqual(status, 200);
      seen[body.trim()] = (seen[body.trim()] ?? 0) + 1;
    }
    return seen;
  }

  it("refuses /metrics without the stats credentials, and its per-server counters match the traffic sent", async () => {
    const fleet = await startFleet();
    const { haproxy, metricsUrl } = await start(fleet, {});
    assert.strictEqual((await request(metricsUrl, { agent: false })).status, 401);
    assert.strictEqual((await request(metricsUrl, { agent: false, headers: basic("admin", "wrong-pass-1") })).status, 401);
    const seen = await send(haproxy.url, 40);
    const answer = await request(metricsUrl, { agent: false, headers: basic("admin", PASSWORD) });
    assert.strictEqual(answer.status, 200);
    assert.match(String(answer.headers["content-type"]), /^text\/plain/);
    const samples = parseExposition(answer.body);
    const series = new Set(samples.map((s) => s.name));
    console.log(`      /metrics: ${answer.body.length} bytes, ${samples.length} samples, ${series.size} metric names`);
    // Each replica's 2xx counter is exactly the requests it answered.
    for (const color of COLORS) {
      fleet[color].forEach((backend, i) => {
        const name = serverName(color, i, { host: "127.0.0.1", port: backend.port });
        const counter = samples.find(
          (s) => s.name === "haproxy_server_http_responses_total" && s.labels.proxy === "app" && s.labels.server === name && s.labels.code === "2xx",
        );
        assert.ok(counter, `no 2xx counter for ${name}`);
        assert.strictEqual(counter.value, seen[`${color} ${backend.id}`] ?? 0, `${name}`);
      });
    }
    // The per-color query adds up to each color's answers.
    assert.deepStrictEqual({ blue: colorSum(samples, "blue", "2xx"), green: colorSum(samples, "green", "2xx") }, { blue: sent(seen, "blue"), green: sent(seen, "green") });
    // The stats page itself stays behind the same password.
    assert.strictEqual((await request(metricsUrl.replace(METRICS_PATH, "/stats"), { agent: false })).status, 401);
  });

  it("the per-color query counts each color once in the two-level layout too", async () => {
    const fleet = await startFleet();
    fleet.green.push(await startBackend("green", "2"));
    // 255/256 over 2 and 3 replicas: one level cannot express it, the color hop is in place.
    const { haproxy, metricsUrl } = await start(fleet, { weights: { blue: 255, green: 256 } });
    const seen = await send(haproxy.url, 40);
    const samples = parseExposition((await request(metricsUrl, { agent: false, headers: basic("admin", PASSWORD) })).body);
    assert.ok(samples.some((s) => s.labels.proxy === "colors" && s.labels.server === "green"), "the color hop's servers are exported too");
    assert.deepStrictEqual({ blue: colorSum(samples, "blue"), green: colorSum(samples, "green") }, { blue: sent(seen, "blue"), green: sent(seen, "green") });
    assert.ok(sent(seen, "blue") >= 1 && sent(seen, "blue") + sent(seen, "green") === 40, JSON.stringify(seen));
  });

  it("without a stats password, /metrics answers on the loopback stats listener like the stats page", async () => {
    const fleet = await startFleet();
    const { metricsUrl } = await start(fleet, { statsPassword: undefined });
    const answer = await request(metricsUrl, { agent: false });
    assert.strictEqual(answer.status, 200);
    assert.ok(parseExposition(answer.body).some((s) => s.name === "haproxy_process_current_connections" || s.name === "haproxy_process_uptime_seconds"));
  });
});
