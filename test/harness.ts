// Real processes on 127.0.0.1 for the traffic tests: backend servers, Debian's HAProxy in
// master-worker mode, and the container's config-delivery script driving it. Every process
// is started in its own process group and stopped by its PID; ports are picked free.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import { Color, COLORS, ServerAddress } from "../components";
import { HaproxyPlacement, renderHaproxyConfig } from "../components/haproxyConfig";
import { deliveryPlan, deliveryPlanEnvironment } from "../components/deliveryPlan";
import { Weights } from "../components/settings";
import { tempDir } from "./haproxy";

const FIXTURES = path.join(__dirname, "fixtures");
const DELIVER_SCRIPT = path.join(__dirname, "..", "components", "docker", "deliver-config.sh");

const started = new Set<ChildProcess>();

/** Stops every process a test started (SIGCONT first, in case a test froze one). */
export async function stopAll(): Promise<void> {
  const children = [...started];
  started.clear();
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      for (const signal of ["SIGCONT", "SIGTERM"] as const) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          /* already gone */
        }
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          /* already gone */
        }
      }, 3000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * An interrupted run (Ctrl-C, a CI timeout's SIGTERM) stops what it started: each child leads a
 * process group of its own, which the terminal's signal does not reach.
 */
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(signal, () => {
    for (const child of started) {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
  });
}

function track(child: ChildProcess): ChildProcess {
  started.add(child);
  child.once("exit", () => started.delete(child));
  return child;
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Backend {
  readonly color: Color;
  readonly id: string;
  readonly port: number;
  process: ChildProcess;
}

/** A backend answering "<color> <id>"; resolves once it listens. */
export async function startBackend(color: Color, id: string, port?: number): Promise<Backend> {
  const chosen = port ?? (await freePort());
  const child = track(
    spawn(process.execPath, [path.join(FIXTURES, "backend.js"), String(chosen), color, id], {
      detached: true,
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`backend ${color} ${id} exited with ${code}`)));
    child.stdout!.once("data", () => resolve());
  });
  return { color, id, port: chosen, process: child };
}

/** Both colors' backends, two per color. */
export type Fleet = Record<Color, Backend[]>;

export async function startFleet(): Promise<Fleet> {
  const fleet = {} as Fleet;
  for (const color of COLORS) fleet[color] = await Promise.all([startBackend(color, "0"), startBackend(color, "1")]);
  return fleet;
}

/** The fleet as the renderer addresses it. */
export function fleetServers(fleet: Fleet): Record<Color, ServerAddress[]> {
  const servers = {} as Record<Color, ServerAddress[]>;
  for (const color of COLORS) servers[color] = fleet[color].map((b) => ({ host: "127.0.0.1", port: b.port }));
  return servers;
}

/** Stops a color's backends: SIGTERM lets them drain like `docker stop`, SIGKILL is a crash. */
export async function stopColor(fleet: Fleet, color: Color, signal: "SIGTERM" | "SIGKILL"): Promise<void> {
  for (const backend of fleet[color]) await stopProcess(backend.process, signal);
}

/** Starts a color's backends again on the same ports, answering with ids `<version>-<i>`. */
export async function startColor(fleet: Fleet, color: Color, version: string): Promise<void> {
  fleet[color] = await Promise.all(fleet[color].map((b, i) => startBackend(color, `${version}-${i}`, b.port)));
}

/** Signals every backend of a color (SIGSTOP freezes it: connections open, nothing answers). */
export function signalColor(fleet: Fleet, color: Color, signal: "SIGSTOP" | "SIGCONT"): void {
  for (const backend of fleet[color]) process.kill(backend.process.pid!, signal);
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(-child.pid!, signal);
  await exited;
}

/** A running HAProxy master (`haproxy -W -db`, as the official image runs it). */
export interface Haproxy {
  readonly placement: HaproxyPlacement;
  readonly configPath: string;
  readonly logPath: string;
  readonly process: ChildProcess;
  readonly url: string;
}

/** Where a test's HAProxy listens: free loopback ports, its own socket names and runtime dir. */
export async function loopbackPlacement(): Promise<HaproxyPlacement> {
  const dir = tempDir("haproxy");
  return {
    bindAddress: "127.0.0.1",
    listenPort: await freePort(),
    statsPort: await freePort(),
    runtimeDir: dir,
    instance: `td-test-${path.basename(dir)}`,
  };
}

/** `command` runs HAProxy: Debian's by default, another build (through its own loader) if given. */
export async function startHaproxy(config: string, placement: HaproxyPlacement, command: string[] = ["haproxy"]): Promise<Haproxy> {
  const configPath = path.join(placement.runtimeDir, "haproxy.cfg");
  const logPath = path.join(placement.runtimeDir, "haproxy.log");
  fs.writeFileSync(configPath, config);
  const log = fs.openSync(logPath, "a");
  const child = track(
    spawn(command[0], [...command.slice(1), "-W", "-db", "-f", configPath], { detached: true, stdio: ["ignore", log, log] }),
  );
  fs.closeSync(log);
  const url = `http://127.0.0.1:${placement.listenPort}`;
  await waitFor(
    () => fs.readFileSync(logPath, "utf8").includes("Loading success") || child.exitCode !== null,
    "haproxy to start",
  );
  if (child.exitCode !== null) throw new Error(`haproxy exited: ${fs.readFileSync(logPath, "utf8")}`);
  return { placement, configPath, logPath, process: child, url };
}

export interface DeliveryResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A delivery under way: its process (the leader of its own process group) and its outcome. */
export interface Delivery {
  readonly process: ChildProcess;
  readonly result: Promise<DeliveryResult>;
}

/** The environment of deliver-config.sh with `docker` standing for the local HAProxy master. */
export function deliveryEnv(haproxy: Haproxy, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${FIXTURES}:${process.env.PATH}`,
    CONTAINER: "distributor",
    CONFIG_PATH: haproxy.configPath,
    FAKE_HAPROXY_PID: String(haproxy.process.pid),
    FAKE_HAPROXY_LOG: haproxy.logPath,
    ...extra,
  };
}

/**
 * Runs a command in its own process group, feeding it `input` (ended early, after `cutAt`
 * bytes, when given), and collects its output. Never blocks this process: load clients keep
 * running meanwhile. Killed after `timeoutMs`.
 */
export function runScript(
  args: string[],
  env: NodeJS.ProcessEnv,
  input: string,
  options: { cutAt?: number; timeoutMs?: number } = {},
): Delivery {
  const child = track(spawn("sh", args, { detached: true, stdio: ["pipe", "pipe", "pipe"], env }));
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdin!.on("error", () => {
    /* the script may exit before reading all of its input */
  });
  const bytes = Buffer.from(input, "utf8");
  child.stdin!.end(options.cutAt === undefined ? bytes : bytes.subarray(0, options.cutAt));
  const result = new Promise<DeliveryResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
    }, options.timeoutMs ?? 120_000);
    child.once("error", reject);
    const done = () => {
      clearTimeout(timer);
      resolve({ status: child.exitCode, signal: child.signalCode, stdout, stderr });
    };
    child.once("close", done);
    // Commands the script ran in the "container" may outlive a killed script and hold its
    // output open (as `docker exec` processes do): stop collecting shortly after it exits.
    child.once("exit", () => setTimeout(done, 500));
  });
  return { process: child, result };
}

/**
 * Delivers a config exactly as `pulumi up` does in Docker: the same deliver-config.sh, with
 * `docker` standing for the local HAProxy master.
 */
export function startDelivery(
  haproxy: Haproxy,
  config: string,
  options: { env?: Record<string, string>; cutAt?: number; plan?: boolean } = {},
): Delivery {
  // With its plan, as the component passes it; a config that cannot be read for one (a test's
  // hand-made or cut one) goes without, as a delivery from an earlier release of the module does.
  let plan: Record<string, string> = {};
  try {
    if (options.plan !== false) plan = deliveryPlanEnvironment(deliveryPlan(config));
  } catch {
    plan = {};
  }
  return runScript([DELIVER_SCRIPT], deliveryEnv(haproxy, { ...plan, ...options.env }), config, { cutAt: options.cutAt });
}

export function deliverConfig(haproxy: Haproxy, config: string, options: { plan?: boolean } = {}): Promise<DeliveryResult> {
  return startDelivery(haproxy, config, options).result;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One request (a GET unless told); resolves with the status and body, rejects on a connection error or timeout. */
export function request(
  url: string,
  options: { agent?: http.Agent | false; timeoutMs?: number; headers?: http.OutgoingHttpHeaders; method?: string } = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const method = options.method ?? "GET";
    const req = http.request(url, { method, agent: options.agent ?? agent, headers: options.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on("error", reject);
    });
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error("client timeout")));
    // A reused keep-alive connection can meet the server's idle timeout: say so in the error.
    req.on("error", (error) => reject(req.reusedSocket ? new Error(`${error.message} (reused keep-alive connection)`) : error));
    req.end();
  });
}

/**
 * Sends `count` sequential requests and counts the answers by color. Each on a new connection
 * by default: after a reload, an idle keep-alive connection still carries one more request
 * under the old config before the old worker closes it.
 */
export async function countColors(
  url: string,
  count: number,
  options: { agent?: http.Agent | false } = { agent: false },
): Promise<Record<Color, number> & { other: number }> {
  const counts = { blue: 0, green: 0, other: 0 };
  for (let i = 0; i < count; i++) {
    const { status, body } = await request(url, options);
    const color = body.split(" ")[0];
    if (status === 200 && (color === "blue" || color === "green")) counts[color]++;
    else counts.other++;
  }
  return counts;
}

/** Sequential answers by color and status, on new connections. */
export async function answers(url: string, count: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const { status, body } = await request(url, { agent: false });
    const key = `${body.split(" ")[0]} ${status}`;
    seen[key] = (seen[key] ?? 0) + 1;
  }
  return seen;
}

/** One command on HAProxy's admin socket. */
export function adminCommand(placement: HaproxyPlacement, commandLine: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path.join(placement.runtimeDir, "admin.sock"));
    let out = "";
    socket.setTimeout(5000, () => socket.destroy(new Error("admin socket timeout")));
    socket.on("connect", () => socket.end(`${commandLine}\n`));
    socket.on("data", (chunk) => (out += chunk));
    socket.on("end", () => resolve(out));
    socket.on("error", reject);
  });
}

/** Status of a server as HAProxy sees it ("UP", "DOWN", "no check", ...). */
export async function serverStatus(placement: HaproxyPlacement, backend: string, server: string): Promise<string> {
  const csv = await adminCommand(placement, "show stat");
  const header = csv.split("\n")[0].replace(/^# /, "").split(",");
  const status = header.indexOf("status");
  for (const line of csv.split("\n").slice(1)) {
    const fields = line.split(",");
    if (fields[0] === backend && fields[1] === server) return fields[status];
  }
  throw new Error(`no server ${backend}/${server} in show stat`);
}

/** Waits until a server reaches a status; resolves with the milliseconds it took. */
export async function waitForStatus(
  placement: HaproxyPlacement,
  backend: string,
  server: string,
  wanted: RegExp,
  timeoutMs = 10_000,
): Promise<number> {
  const start = Date.now();
  await waitFor(async () => wanted.test(await serverStatus(placement, backend, server)), `${backend}/${server} ${wanted}`, timeoutMs);
  return Date.now() - start;
}

export interface LoadCounts {
  ok: number;
  non2xx: number;
  errors: number;
  blue: number;
  green: number;
  /** The first few failures, for the assertion message. */
  samples: string[];
  maxLatencyMs: number;
  /** Milliseconds from the start of the load to the first and the last failure seen. */
  firstFailureMs?: number;
  lastFailureMs?: number;
}

export interface LoadOptions {
  /** Clients that reuse one keep-alive connection each. */
  readonly keepAliveClients: number;
  /** Clients that open a new connection for every request. */
  readonly newConnectionClients: number;
  /** Clients that keep one 2-second request in flight at all times. */
  readonly slowClients?: number;
  readonly clientTimeoutMs?: number;
  /** Hard bounds: the load stops by itself after this long or this many requests per client. */
  readonly maxDurationMs: number;
  readonly maxRequestsPerClient?: number;
  /** Milliseconds a client waits between its requests: keep-alive connections sit idle across a reload. @default 0 */
  readonly pauseMs?: number;
}

/** Continuous load from this process; `counts` is live, `stop()` ends it and waits for the clients. */
export function startLoad(
  url: string,
  options: LoadOptions,
): { counts: LoadCounts; slow: LoadCounts; elapsedMs(): number; stop(): Promise<void> } {
  const counts: LoadCounts = { ok: 0, non2xx: 0, errors: 0, blue: 0, green: 0, samples: [], maxLatencyMs: 0 };
  const slow: LoadCounts = { ok: 0, non2xx: 0, errors: 0, blue: 0, green: 0, samples: [], maxLatencyMs: 0 };
  const began = Date.now();
  const deadline = began + options.maxDurationMs;
  const limit = options.maxRequestsPerClient ?? 1_000_000;
  let stopped = false;

  async function client(target: string, agent: http.Agent | false, into: LoadCounts): Promise<void> {
    for (let n = 0; n < limit && !stopped && Date.now() < deadline; n++) {
      const sent = Date.now();
      try {
        const { status, body } = await request(target, { agent, timeoutMs: options.clientTimeoutMs ?? 30_000 });
        if (status >= 200 && status < 300) {
          into.ok++;
          const color = body.split(" ")[0];
          if (color === "blue" || color === "green") into[color]++;
        } else {
          into.non2xx++;
          into.firstFailureMs ??= Date.now() - began;
          into.lastFailureMs = Date.now() - began;
          if (into.samples.length < 10) into.samples.push(`+${Date.now() - began}ms HTTP ${status} ${body.trim().slice(0, 60)}`);
        }
      } catch (error) {
        into.errors++;
        into.firstFailureMs ??= Date.now() - began;
        into.lastFailureMs = Date.now() - began;
        if (into.samples.length < 10) into.samples.push(`+${Date.now() - began}ms ${(error as Error).message}`);
      }
      into.maxLatencyMs = Math.max(into.maxLatencyMs, Date.now() - sent);
      if (options.pauseMs) await sleep(options.pauseMs);
    }
  }

  const agents: http.Agent[] = [];
  const clients: Promise<void>[] = [];
  for (let i = 0; i < options.keepAliveClients; i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    clients.push(client(`${url}/`, agent, counts));
  }
  for (let i = 0; i < options.newConnectionClients; i++) clients.push(client(`${url}/`, false, counts));
  for (let i = 0; i < (options.slowClients ?? 0); i++) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    clients.push(client(`${url}/slow?ms=2000`, agent, slow));
  }
  return {
    counts,
    slow,
    elapsedMs: () => Date.now() - began,
    async stop() {
      stopped = true;
      await Promise.all(clients);
      agents.forEach((a) => a.destroy());
    },
  };
}

/**
 * The threads every loopback distributor of the tests runs: more than one, so that each
 * guarantee (the split, the retries, the gate's and status's readings) holds across threads.
 */
export const TEST_THREADS = 2;

/** Connections each HAProxy thread has accepted (`show activity`), in thread order. */
export async function acceptedPerThread(placement: HaproxyPlacement): Promise<number[]> {
  const out = await adminCommand(placement, "show activity");
  const line = /^accepted: \d+ \[([\d ]+)\]/m.exec(out);
  if (!line) throw new Error(`no per-thread accepted line in show activity:\n${out}`);
  return line[1].trim().split(/\s+/).map(Number);
}

/** A round-robin HAProxy on loopback in front of `backends`, and the renderer for its later configs. */
export async function startRoundRobin(
  backends: Fleet,
  weights: Weights,
): Promise<{ haproxy: Haproxy; render: (w: Weights) => string }> {
  const placement = await loopbackPlacement();
  const render = (w: Weights) =>
    renderHaproxyConfig({ weights: w, routing: "round-robin", servers: fleetServers(backends), threads: TEST_THREADS }, placement);
  return { haproxy: await startHaproxy(render(weights), placement), render };
}

/**
 * Waits until a color reaches a state: "UP" when all its state servers are UP, "DOWN" when all
 * are DOWN. Resolves with the milliseconds it took.
 */
export async function waitForColor(
  placement: HaproxyPlacement,
  servers: Array<[string, string]>,
  wanted: "UP" | "DOWN",
  timeoutMs = 10_000,
): Promise<number> {
  const start = Date.now();
  const pattern = new RegExp(`^${wanted}`);
  await waitFor(
    async () => {
      for (const [backend, server] of servers) if (!pattern.test(await serverStatus(placement, backend, server))) return false;
      return true;
    },
    `${servers.map((s) => s.join("/")).join(", ")} ${wanted}`,
    timeoutMs,
  );
  return Date.now() - start;
}
