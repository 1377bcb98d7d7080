// npm run bench: one run on this machine, printed as one JSON document.
// - throughput and latency (autocannon): direct to one backend, through HAProxy, through NGINX;
// - the release sequence under load: failed requests and the split seen after each step;
// - failover: a color killed, then one frozen, under load: detection time and failed requests.
// Everything runs on 127.0.0.1; every process is stopped by PID at the end.
import { ChildProcess, execFile, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { Color } from "../components";
import { renderHaproxyConfig } from "../components/haproxyConfig";
import { Weights } from "../components/settings";
import {
  deliverConfig,
  Fleet,
  fleetServers,
  freePort,
  Haproxy,
  loopbackPlacement,
  signalColor,
  sleep,
  startColor,
  startFleet,
  startHaproxy,
  startLoad,
  stopAll,
  stopColor,
  waitForStatus,
} from "../test/harness";
import { renderNginxConfig } from "./nginxConfig";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require("autocannon") as (opts: object) => Promise<any>;

const execFileAsync = promisify(execFile);

const CANNON = { connections: 50, duration: 5 };

interface Engine {
  readonly name: "haproxy" | "nginx";
  readonly url: string;
  apply(weights: Weights): Promise<void>;
  /** Milliseconds until the engine takes `color` out of rotation, if it can tell. */
  detectDown(color: Color): Promise<number | null>;
  waitUp(color: Color): Promise<void>;
}

let backends: Fleet;
const addresses = () => fleetServers(backends);

async function startHaproxyEngine(weights: Weights): Promise<Engine> {
  const placement = await loopbackPlacement();
  const render = (w: Weights) =>
    renderHaproxyConfig({ weights: w, routing: "round-robin", servers: addresses() }, placement);
  const haproxy: Haproxy = await startHaproxy(render(weights), placement);
  return {
    name: "haproxy",
    url: haproxy.url,
    async apply(w) {
      const result = await deliverConfig(haproxy, render(w));
      if (result.status !== 0) throw new Error(`haproxy delivery failed: ${result.stderr}`);
    },
    detectDown: (color) => waitForStatus(placement, "colors", color, /^DOWN/, 15_000),
    async waitUp(color) {
      await waitForStatus(placement, "colors", color, /^UP/, 15_000);
    },
  };
}

const nginxProcesses: ChildProcess[] = [];

async function startNginxEngine(weights: Weights): Promise<Engine> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-nginx-"));
  fs.chmodSync(dir, 0o777);
  const placement = { listenPort: await freePort(), dir };
  const file = path.join(dir, "nginx.conf");
  const write = (w: Weights) => fs.writeFileSync(file, renderNginxConfig(w, addresses(), placement));
  write(weights);
  const child = spawn("nginx", ["-p", dir, "-c", file, "-g", "daemon off;"], { detached: true, stdio: "ignore" });
  nginxProcesses.push(child);
  await sleep(500);
  return {
    name: "nginx",
    url: `http://127.0.0.1:${placement.listenPort}`,
    async apply(w) {
      write(w);
      // Not spawnSync: this process runs the load clients.
      await execFileAsync("nginx", ["-t", "-p", dir, "-c", file]).catch((error: { stderr?: string }) => {
        throw new Error(`nginx -t failed: ${error.stderr}`);
      });
      process.kill(child.pid!, "SIGHUP");
    },
    detectDown: async () => null, // passive checks only: no state to observe
    waitUp: () => sleep(1500),
  };
}

async function restart(color: Color, version: string): Promise<void> {
  await stopColor(backends, color, "SIGTERM");
  await startColor(backends, color, version);
}

async function throughput(url: string) {
  const result = await autocannon({ url, ...CANNON });
  return {
    reqPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

async function release(engine: Engine) {
  const load = startLoad(engine.url, {
    keepAliveClients: 8,
    newConnectionClients: 4,
    slowClients: 2,
    clientTimeoutMs: 30_000,
    maxDurationMs: 120_000,
  });
  const steps: Array<Record<string, unknown>> = [];
  const failures = () => load.counts.errors + load.counts.non2xx + load.slow.errors + load.slow.non2xx;
  const step = async (name: string, action: () => Promise<void> | void, weights?: Weights) => {
    const failedBefore = failures();
    await action();
    await sleep(300);
    const before = { blue: load.counts.blue, green: load.counts.green };
    await sleep(1500);
    const seen = { blue: load.counts.blue - before.blue, green: load.counts.green - before.green };
    const total = seen.blue + seen.green;
    steps.push({
      step: name,
      ...(weights ? { weights } : {}),
      splitPercent: total ? { blue: +((100 * seen.blue) / total).toFixed(2), green: +((100 * seen.green) / total).toFixed(2) } : null,
      failedRequests: failures() - failedBefore,
    });
  };
  try {
    await step("50/50", () => undefined, { blue: 50, green: 50 });
    await step("drain blue", () => engine.apply({ blue: 0, green: 100 }), { blue: 0, green: 100 });
    await step("new version on blue", async () => {
      await restart("blue", "v2");
      await engine.waitUp("blue");
    });
    await step("swap to blue", () => engine.apply({ blue: 100, green: 0 }), { blue: 100, green: 0 });
    await step("new version on green", async () => {
      await restart("green", "v2");
      await engine.waitUp("green");
    });
    await step("restore 50/50", () => engine.apply({ blue: 50, green: 50 }), { blue: 50, green: 50 });
    await sleep(2500);
  } finally {
    await load.stop();
  }
  return {
    requests: load.counts.ok + load.counts.non2xx + load.counts.errors,
    failed: failures(),
    slowRequestsCompleted: load.slow.ok,
    failureSamples: [...load.counts.samples, ...load.slow.samples].slice(0, 5),
    steps,
  };
}

async function failover(engine: Engine, how: "killed" | "frozen") {
  const load = startLoad(engine.url, { keepAliveClients: 6, newConnectionClients: 2, clientTimeoutMs: 30_000, maxDurationMs: 60_000 });
  let detectionMs: number | null = null;
  try {
    await sleep(1000);
    if (how === "killed") await stopColor(backends, "green", "SIGKILL");
    else signalColor(backends, "green", "SIGSTOP");
    detectionMs = await engine.detectDown("green");
    await sleep(how === "frozen" ? 11_000 : 3000); // past NGINX's 10 s read timeout
    if (how === "killed") {
      await startColor(backends, "green", "r");
    } else {
      signalColor(backends, "green", "SIGCONT");
    }
    await engine.waitUp("green");
  } finally {
    await load.stop();
  }
  return {
    outOfRotationAfterMs: detectionMs,
    requests: load.counts.ok + load.counts.non2xx + load.counts.errors,
    failed: load.counts.errors + load.counts.non2xx,
    maxLatencyMs: load.counts.maxLatencyMs,
    failureSamples: load.counts.samples.slice(0, 5),
  };
}

async function main() {
  const started = Date.now();
  backends = await startFleet();
  const report: Record<string, unknown> = {
    machine: { cpus: os.cpus().length, node: process.version, haproxy: version("haproxy", ["-v"]), nginx: version("nginx", ["-v"]) },
    load: { throughput: `autocannon, ${CANNON.connections} keep-alive connections, ${CANNON.duration} s`, release: "8 keep-alive + 4 new-connection + 2 slow (2 s) Node clients" },
  };
  const direct = await throughput(`http://127.0.0.1:${backends.blue[0].port}/`);
  report.direct = direct;
  for (const start of [startHaproxyEngine, startNginxEngine]) {
    const engine = await start({ blue: 50, green: 50 });
    const through = await throughput(`${engine.url}/`);
    report[engine.name] = {
      throughput: { ...through, vsDirect: +(through.reqPerSec / direct.reqPerSec).toFixed(2) },
      release: await release(engine),
      failover: { killed: await failover(engine, "killed"), frozen: await failover(engine, "frozen") },
    };
  }
  report.durationSeconds = Math.round((Date.now() - started) / 1000);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

function version(command: string, args: string[]): string {
  const out = spawnSync(command, args, { encoding: "utf8" });
  return `${out.stdout}${out.stderr}`.split("\n")[0].trim();
}

main()
  .catch((error) => {
    process.stderr.write(`bench: ${(error as Error).stack}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const child of nginxProcesses) {
      if (child.exitCode === null) process.kill(-child.pid!, "SIGTERM");
    }
    await stopAll();
  });
