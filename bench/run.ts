// npm run bench: one run on this machine, printed as one JSON document.
// - capacity and cost per request: wrk (two threads, 64 keep-alive connections) direct to one
//   backend, through the rendered HAProxy config (the distributor image's HAProxy, at its default
//   threads and at one) and through an equivalent NGINX proxy (`worker_processes auto`, and one
//   worker), in interleaved rounds, over static NGINX backends and over the Node backends; proxy
//   CPU from /proc; the render with and without small-buffer retries;
// - added latency over direct at half NGINX's saturation rate (paced wrk);
// - the distributor's memory with 10,000 idle keep-alive connections;
// - the release sequence under load and failover (a color killed, then frozen), as before.
// Everything runs on 127.0.0.1; every process is stopped by its PID at the end.
import { ChildProcess, execFile, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { Color } from "../components";
import { colorStateServers, HaproxyConfigInput, renderHaproxyConfig } from "../components/haproxyConfig";
import { ServerAddress, Weights } from "../components/settings";
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
  waitForColor,
} from "../test/harness";
import { sealConfig } from "../components/configSeal";
import { unsealed } from "../test/haproxy";
import { renderNginxConfig } from "./nginxConfig";
import { groupCpuMicros, groupRssKib } from "./procCpu";
import { frozenLoop } from "./frozenLoop";
import { splitExactness } from "./splitError";
import { startStaticBackends, StaticBackends } from "./staticBackends";
import { runWrk, WrkResult } from "./wrk";
import { CountedProxy, instructionsPerRequest } from "./instructions";
import { httpsCost } from "./https";
import { median } from "./median";

const execFileAsync = promisify(execFile);

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const WRK_THREADS = Number(process.env.BENCH_WRK_THREADS ?? 2);
const IDLE_CONNECTIONS = 10_000;
// Two descriptors per connection must fit under a hard limit of 20,000 (this machine's, and a
// common container default): the most the bench can raise maxconn to.
const RAISED_MAXCONN = Number(process.env.BENCH_RAISED_MAXCONN ?? 9900);

type Servers = Record<Color, ServerAddress[]>;

interface Engine {
  readonly name: string;
  readonly url: string;
  /** Process group of the proxy (master and workers); absent for direct. */
  readonly pgid?: number;
  apply(weights: Weights): Promise<void>;
  /** Milliseconds until the engine takes `color` out of rotation, if it can tell. */
  detectDown(color: Color): Promise<number | null>;
  waitUp(color: Color): Promise<void>;
}

const children: ChildProcess[] = [];

interface HaproxyVariant {
  readonly accessLog?: boolean;
  /** Threads; none, the render's default (one per CPU). */
  readonly threads?: number;
  /** Edits the rendered config: a variant measured beside it, never shipped. */
  readonly edit?: (config: string) => string;
}

/** The distributor image's HAProxy: its root filesystem's binary through its own loader (main sets it). */
let haproxyCommand: string[] = ["haproxy"];
/**
 * The same HAProxy chrooted into its root filesystem, with the host's /tmp (configs, sockets)
 * bound in: a reload re-executes the binary by its path, which only the chroot resolves.
 */
let reloadableHaproxyCommand: string[] = ["haproxy"];

async function startHaproxyEngine(name: string, servers: () => Servers, weights: Weights, variant: HaproxyVariant = {}): Promise<Engine> {
  const { accessLog = true, threads, edit = (config: string) => config } = variant;
  const command = reloadableHaproxyCommand;
  const placement = await loopbackPlacement();
  const input = (w: Weights): HaproxyConfigInput => ({ weights: w, routing: "round-robin", servers: servers(), accessLog, ...(threads ? { threads } : {}) });
  const render = (w: Weights) => sealConfig(edit(unsealed(renderHaproxyConfig(input(w), placement))));
  const haproxy: Haproxy = await startHaproxy(render(weights), placement, command);
  return {
    name,
    url: haproxy.url,
    pgid: haproxy.process.pid,
    async apply(w) {
      const result = await deliverConfig(haproxy, render(w));
      if (result.status !== 0) throw new Error(`haproxy delivery failed: ${result.stderr}`);
    },
    detectDown: (color) => waitForColor(placement, colorStateServers(input(weights), color), "DOWN", 15_000),
    async waitUp(color) {
      await waitForColor(placement, colorStateServers(input(weights), color), "UP", 15_000);
    },
  };
}

async function startNginxEngine(name: string, servers: () => Servers, weights: Weights, accessLog = true, workers: number | "auto" = "auto"): Promise<Engine> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-nginx-"));
  fs.chmodSync(dir, 0o777);
  const placement = { listenPort: await freePort(), dir };
  const file = path.join(dir, "nginx.conf");
  const write = (w: Weights) => fs.writeFileSync(file, renderNginxConfig(w, servers(), placement, accessLog, workers));
  write(weights);
  const child = spawn("nginx", ["-p", dir, "-c", file, "-g", "daemon off;"], { detached: true, stdio: "ignore" });
  children.push(child);
  await sleep(500);
  return {
    name,
    url: `http://127.0.0.1:${placement.listenPort}`,
    pgid: child.pid,
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

/** The rendered config whose L7 retries keep a whole buffer per request, as before HAProxy 3.4. */
function withoutSmallBuffers(config: string): string {
  const edited = config.replace(/^\s*option use-small-buffers l7-retries\n/m, "");
  if (edited === config) throw new Error("withoutSmallBuffers: the render has no use-small-buffers line");
  return edited;
}

function directEngine(server: ServerAddress): Engine {
  return {
    name: "direct",
    url: `http://${server.host}:${server.port}`,
    apply: async () => undefined,
    detectDown: async () => null,
    waitUp: async () => undefined,
  };
}


interface Sample extends WrkResult {
  readonly cpuMicrosPerRequest: number | null;
}

async function measure(engine: Engine, options: { delayMs?: number } = {}): Promise<Sample> {
  const cpuBefore = engine.pgid ? groupCpuMicros(engine.pgid) : 0;
  const result = await runWrk(`${engine.url}/`, { connections: CONNECTIONS, threads: WRK_THREADS, seconds: SECONDS, ...options });
  const cpu = engine.pgid ? groupCpuMicros(engine.pgid) - cpuBefore : null;
  return { ...result, cpuMicrosPerRequest: cpu === null || !result.requests ? null : +(cpu / result.requests).toFixed(1) };
}

/** Every engine once per round, in turn, so a noisy neighbour hits them all alike. */
async function interleaved(engines: Engine[], options: (engine: Engine) => { delayMs?: number } = () => ({})) {
  const samples: Record<string, Sample[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const engine of engines) (samples[engine.name] ??= []).push(await measure(engine, options(engine)));
  }
  const summary: Record<string, Record<string, unknown>> = {};
  for (const [name, runs] of Object.entries(samples)) {
    const cpu = runs.map((r) => r.cpuMicrosPerRequest).filter((c): c is number => c !== null);
    summary[name] = {
      reqPerSec: median(runs.map((r) => r.reqPerSec)),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      cpuMicrosPerRequest: cpu.length ? median(cpu) : null,
      errors: runs.reduce((sum, r) => sum + r.errors, 0),
      rounds: runs.map((r) => ({ reqPerSec: r.reqPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms, cpuUs: r.cpuMicrosPerRequest })),
    };
  }
  return summary;
}

/**
 * Saturation, then the same engines paced at half NGINX's saturation rate. HAProxy at its default
 * (a thread per CPU) and at one thread; NGINX with a worker per CPU and with one.
 */
async function costAndLatency(servers: () => Servers, withLatency: boolean) {
  const even = { blue: 50, green: 50 };
  const engines = [
    directEngine(servers().blue[0]),
    await startHaproxyEngine("haproxy", servers, even),
    await startNginxEngine("nginx", servers, even),
    await startHaproxyEngine("haproxy1Thread", servers, even, { threads: 1 }),
    await startNginxEngine("nginx1Worker", servers, even, true, 1),
    // What HAProxy 3.4's small-buffer retries save: without them each retryable request keeps a
    // copy in a whole buffer (tune.bufsize, 16 kB).
    await startHaproxyEngine("haproxyWithoutSmallBuffers", servers, even, { edit: withoutSmallBuffers }),
  ];
  await sleep(1500); // health checks up
  const saturation = await interleaved(engines);
  const result: Record<string, unknown> = { saturation };
  // Each round's ratio, then their median: a neighbour's load moves both engines of a round alike.
  const perRound = (name: string, peer: string, key: "cpuUs" | "reqPerSec") => {
    const mine = saturation[name].rounds as Record<string, number>[];
    const theirs = saturation[peer].rounds as Record<string, number>[];
    return +median(mine.map((r, i) => r[key] / theirs[i][key])).toFixed(2);
  };
  const pairs: Array<[string, string]> = [
    ["haproxy", "nginx"],
    ["haproxy1Thread", "nginx"],
    ["haproxy1Thread", "nginx1Worker"],
    ["haproxy", "haproxy1Thread"],
    ["haproxy", "haproxyWithoutSmallBuffers"],
  ];
  result.ratios = Object.fromEntries(
    pairs.map(([name, peer]) => [`${name}/${peer}`, { cpuPerRequest: perRound(name, peer, "cpuUs"), reqPerSec: perRound(name, peer, "reqPerSec") }]),
  );
  if (withLatency) {
    const rate = (saturation.nginx.reqPerSec as number) / 2;
    const delayMs = Math.max(1, Math.round((CONNECTIONS * 1000) / rate));
    const paced = await interleaved(engines, () => ({ delayMs }));
    const direct = paced.direct;
    result.halfSaturation = {
      targetReqPerSec: Math.round(rate),
      delayMsPerConnection: delayMs,
      ...Object.fromEntries(
        Object.entries(paced).map(([name, s]) => [
          name,
          {
            reqPerSec: s.reqPerSec,
            p50Ms: s.p50Ms,
            p99Ms: s.p99Ms,
            ...(name === "direct"
              ? {}
              : { addedP50Ms: +((s.p50Ms as number) - (direct.p50Ms as number)).toFixed(3), addedP99Ms: +((s.p99Ms as number) - (direct.p99Ms as number)).toFixed(3) }),
          },
        ]),
      ),
    };
  }
  return result;
}

/** RSS of the distributor (master + worker) idle, then holding IDLE_CONNECTIONS keep-alive connections. */
async function idleMemory(servers: () => Servers, maxconn?: number) {
  const placement = await loopbackPlacement();
  const rendered = renderHaproxyConfig({ weights: { blue: 50, green: 50 }, routing: "round-robin", servers: servers() }, placement);
  // The rendered global maxconn bounds the connections held; raised, to see what 10,000 cost.
  const config = maxconn === undefined ? rendered : sealConfig(unsealed(rendered).replace(/maxconn \d+/, `maxconn ${maxconn}`));
  // HAProxy needs about two descriptors per connection: give it the whole hard limit.
  const haproxy = await startHaproxy(config, placement, ["sh", "-c", 'ulimit -n "$(ulimit -Hn)" && exec "$@"', "sh", ...haproxyCommand]);
  await sleep(1000);
  const rss = () => Object.values(groupRssKib(haproxy.process.pid!)).reduce((a, b) => a + b, 0);
  const idleKib = rss();
  // The client needs more descriptors than a shell's default 1024: raised for it alone.
  const client = spawn("sh", ["-c", `ulimit -n ${IDLE_CONNECTIONS + 2000} && exec "$0" "$@"`, process.execPath, path.join(__dirname, "idleClients.js"), String(placement.listenPort), String(IDLE_CONNECTIONS), "8000"], {
    detached: true,
    stdio: ["pipe", "pipe", "inherit"],
  });
  children.push(client);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      client.stdout!.on("data", (chunk) => {
        out += chunk;
        if (out.includes("\n")) resolve(out.split("\n")[0]);
      });
      client.once("exit", (code) => reject(new Error(`idle clients exited with ${code}`)));
    });
    const opened = JSON.parse(line) as { answered: number; failed: number; ms: number };
    const loadedKib = rss();
    const maxconn = /maxconn (\d+)/.exec(fs.readFileSync(haproxy.configPath, "utf8"))?.[1];
    return {
      connections: IDLE_CONNECTIONS,
      answered: opened.answered,
      notAnswered: IDLE_CONNECTIONS - opened.answered,
      globalMaxconn: maxconn ? Number(maxconn) : null,
      rssIdleMiB: +(idleKib / 1024).toFixed(1),
      rssWithConnectionsMiB: +(loadedKib / 1024).toFixed(1),
      kibPerConnection: opened.answered ? +((loadedKib - idleKib) / opened.answered).toFixed(2) : null,
    };
  } finally {
    client.stdin!.end();
    if (client.exitCode === null) process.kill(-client.pid!, "SIGTERM");
    await stopAll();
  }
}

let fleet: Fleet;

async function restart(color: Color, version: string): Promise<void> {
  await stopColor(fleet, color, "SIGTERM");
  await startColor(fleet, color, version);
}

async function release(engine: Engine) {
  const load = startLoad(engine.url, { keepAliveClients: 8, newConnectionClients: 4, slowClients: 2, clientTimeoutMs: 30_000, maxDurationMs: 120_000 });
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
    if (how === "killed") await stopColor(fleet, "green", "SIGKILL");
    else signalColor(fleet, "green", "SIGSTOP");
    detectionMs = await engine.detectDown("green");
    await sleep(how === "frozen" ? 11_000 : 3000); // past NGINX's 10 s read timeout
    if (how === "killed") await startColor(fleet, "green", "r");
    else signalColor(fleet, "green", "SIGCONT");
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

/** The rendered config and its NGINX equivalent, each as one process for valgrind. */
function countedProxies(servers: Servers): CountedProxy[] {
  const haproxy = (name: string, variant: HaproxyVariant): CountedProxy => ({
    name,
    async prepare() {
      const placement = await loopbackPlacement();
      const rendered = renderHaproxyConfig(
        { weights: { blue: 50, green: 50 }, routing: "round-robin", servers, accessLog: variant.accessLog ?? true, ...(variant.threads ? { threads: variant.threads } : {}) },
        placement,
      );
      const edited = (variant.edit ?? ((c: string) => c))(unsealed(rendered));
      const file = path.join(placement.runtimeDir, "haproxy.cfg");
      // One process: without -W, HAProxy runs no master.
      fs.writeFileSync(file, edited);
      return { command: [...haproxyCommand, "-db", "-f", file], url: `http://127.0.0.1:${placement.listenPort}/` };
    },
  });
  const nginx = (name: string, accessLog: boolean): CountedProxy => ({
    name,
    async prepare() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-nginx-"));
      fs.chmodSync(dir, 0o777);
      const placement = { listenPort: await freePort(), dir };
      const file = path.join(dir, "nginx.conf");
      fs.writeFileSync(file, `master_process off;\n${renderNginxConfig({ blue: 50, green: 50 }, servers, placement, accessLog, 1)}`);
      return { command: ["nginx", "-p", dir, "-c", file, "-g", "daemon off;"], url: `http://127.0.0.1:${placement.listenPort}/` };
    },
  });
  return [
    haproxy("haproxy", { threads: 1 }),
    nginx("nginx", true),
    haproxy("haproxyWithoutSmallBuffers", { threads: 1, edit: withoutSmallBuffers }),
  ];
}

/**
 * The distributor image's HAProxy: the binary of its root filesystem (BENCH_HAPROXY_ROOT, or the
 * one test/docker/build-images.sh builds, extracted here) run through that filesystem's loader.
 */
async function distributorHaproxy(): Promise<{ command: string[]; reloadable: string[]; cleanup?: string }> {
  let root = process.env.BENCH_HAPROXY_ROOT;
  let cleanup: string | undefined;
  if (!root) {
    const { stdout } = await execFileAsync("sh", [path.join(__dirname, "..", "test", "docker", "build-images.sh"), "--rootfs", "distributor"], {
      maxBuffer: 1 << 20,
    });
    cleanup = fs.mkdtempSync(path.join(os.tmpdir(), "td-bench-rootfs-"));
    root = cleanup;
    await execFileAsync("tar", ["-C", root, "-xf", stdout.trim()]);
  }
  const loader = path.join(root, "usr/lib64/ld-linux-x86-64.so.2");
  const binary = path.join(root, "usr/sbin/haproxy");
  if (!fs.existsSync(loader) || !fs.existsSync(binary)) throw new Error(`bench: no HAProxy and loader under ${root}`);
  return {
    command: [loader, "--library-path", `${root}/usr/lib/x86_64-linux-gnu`, binary],
    reloadable: ["unshare", "--mount", "sh", "-c", 'mount --bind /tmp "$0/tmp" && exec chroot "$0" /usr/sbin/haproxy "$@"', root],
    cleanup,
  };
}

function version(command: string[]): string {
  const out = spawnSync(command[0], [...command.slice(1), "-v"], { encoding: "utf8" });
  return `${out.stdout}${out.stderr}`.split("\n")[0].trim();
}

const report: Record<string, unknown> = {};

async function main() {
  const started = Date.now();
  const haproxy = await distributorHaproxy();
  haproxyCommand = haproxy.command;
  reloadableHaproxyCommand = haproxy.reloadable;
  rootfsToRemove = haproxy.cleanup;
  Object.assign(report, {
    machine: {
      cores: os.cpus().length,
      loadAverage1m: +os.loadavg()[0].toFixed(2),
      node: process.version,
      haproxy: version(haproxyCommand),
      nginx: version(["nginx"]),
      wrk: spawnSync("wrk", ["-v"], { encoding: "utf8" }).stdout.split("\n")[0].trim(),
    },
    load: `wrk -t${WRK_THREADS} -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} interleaved rounds, medians; CPU = utime+stime of the proxy's processes / requests`,
  });
  const ports = { blue: [await freePort(), await freePort()], green: [await freePort(), await freePort()] };
  const statics: StaticBackends = await startStaticBackends(ports);
  children.push(statics.process);
  fleet = await startFleet();
  const nodeServers = () => fleetServers(fleet);

  if (process.env.BENCH_ONLY === "https") {
    report.https = await httpsCost(statics.servers, ROUNDS, SECONDS, children, haproxyCommand);
    return finish(started);
  }
  if (process.env.BENCH_ONLY === "release") return releaseAndFailover(started, nodeServers);
  report.staticBackends = await costAndLatency(() => statics.servers, true);
  if (process.env.BENCH_ONLY === "capacity") return finish(started);
  if (process.env.BENCH_HTTPS !== "0") report.https = await httpsCost(statics.servers, ROUNDS, SECONDS, children, haproxyCommand);
  await stopAll();
  for (const child of children.splice(1)) if (child.exitCode === null) process.kill(-child.pid!, "SIGTERM");
  fleet = await startFleet();
  report.nodeBackends = await costAndLatency(nodeServers, false);
  report.idleKeepAlive = { rendered: await idleMemory(() => statics.servers), maxconnRaised: await idleMemory(() => statics.servers, RAISED_MAXCONN) };
  if (process.env.BENCH_INSTRUCTIONS !== "0") {
    report.userlandInstructionsPerRequest = {
      ...(await instructionsPerRequest(countedProxies(statics.servers))),
      note: "valgrind callgrind, one HAProxy thread and one NGINX worker, static backends, h2load 8 keep-alive connections; the kernel's work is not counted",
    };
  }
  report.splitExactness = { ...splitExactness(4), note: "replica counts 1-4; `ts-node bench/splitError.ts 20` for 1-20" };
  if (process.env.BENCH_FROZEN_RUNS !== "0") report.frozenPastServerTimeout = await frozenLoop(Number(process.env.BENCH_FROZEN_RUNS ?? 6));

  await releaseAndFailover(started, nodeServers);
}

/** A release sequence under load, then a color killed and one frozen, through HAProxy and NGINX. */
async function releaseAndFailover(started: number, nodeServers: () => Servers): Promise<void> {
  fleet = await startFleet();
  for (const [name, start] of process.env.BENCH_SKIP_RELEASE ? [] : [
    ["haproxy", startHaproxyEngine],
    ["nginx", startNginxEngine],
  ] as const) {
    const engine = await start(name, nodeServers, { blue: 50, green: 50 });
    report[`${name}Release`] = await release(engine);
    report[`${name}Failover`] = { killed: await failover(engine, "killed"), frozen: await failover(engine, "frozen") };
  }
  finish(started);
}

let rootfsToRemove: string | undefined;

function finish(started: number): void {
  report.durationSeconds = Math.round((Date.now() - started) / 1000);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

main()
  .catch((error) => {
    process.stderr.write(`bench: ${(error as Error).stack}\n`);
    // What was measured before the failure is still worth having.
    process.stdout.write(`${JSON.stringify({ ...report, error: (error as Error).message }, null, 2)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, "SIGTERM");
        } catch {
          /* already gone */
        }
      }
    }
    await stopAll();
    if (rootfsToRemove) fs.rmSync(rootfsToRemove, { recursive: true, force: true });
  });
