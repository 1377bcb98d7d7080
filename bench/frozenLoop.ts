// The frozen color, looped: green is frozen (SIGSTOP) for longer than timeouts.server under
// keep-alive and new-connection load, then thawed. Counts, per run, the 504s (requests caught in
// the frozen color: by design answered once, never replayed) and the connections closed with no
// response. For each such close it keeps the client's port, HAProxy's log lines for that port and
// `show sess` taken just before the server timeout, to tell where the close came from.
// Usage: ts-node bench/frozenLoop.ts RUNS [round-robin|sticky]
import * as fs from "fs";
import * as http from "http";
import { renderHaproxyConfig } from "../components/haproxyConfig";
import { DEFAULT_TIMEOUTS } from "../components/haproxyConfig";
import { adminCommand, fleetServers, loopbackPlacement, signalColor, sleep, startFleet, startHaproxy, stopAll } from "../test/harness";

const SERVER_TIMEOUT_MS = Number(process.env.FROZEN_SERVER_TIMEOUT_MS ?? 2000);
const FROZEN_MS = Number(process.env.FROZEN_MS ?? 3500);

interface Outcome {
  ok: number;
  status504: number;
  otherStatus: number;
  closed: Array<{ port: number; reused: boolean; error: string; atMs: number }>;
}

function get(url: string, agent: http.Agent | false, into: Outcome, began: number): Promise<void> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: agent === false ? undefined : agent, headers: agent === false ? { connection: "close" } : {} }, (res) => {
      res.resume();
      res.on("end", () => {
        if (res.statusCode === 200) into.ok++;
        else if (res.statusCode === 504) into.status504++;
        else into.otherStatus++;
        resolve();
      });
    });
    let port = 0;
    req.on("socket", (socket) => {
      if (socket.localPort) port = socket.localPort;
      else socket.once("connect", () => (port = socket.localPort ?? 0));
    });
    req.setTimeout(30_000, () => req.destroy(new Error("client timeout")));
    req.on("error", (error) => {
      const socketPort = port || (req.socket?.localPort ?? 0);
      into.closed.push({ port: socketPort, reused: req.reusedSocket, error: error.message, atMs: Date.now() - began });
      resolve();
    });
  });
}

async function run(routing: "round-robin" | "sticky") {
  const fleet = await startFleet();
  const placement = await loopbackPlacement();
  const input = {
    weights: { blue: 50, green: 50 },
    routing,
    servers: fleetServers(fleet),
    timeouts: { ...DEFAULT_TIMEOUTS, server: SERVER_TIMEOUT_MS },
  };
  const haproxy = await startHaproxy(renderHaproxyConfig(input, placement), placement);
  await sleep(1500);
  const outcome: Outcome = { ok: 0, status504: 0, otherStatus: 0, closed: [] };
  const began = Date.now();
  let stopped = false;
  const agents: http.Agent[] = [];
  const client = async (agent: http.Agent | false) => {
    while (!stopped && Date.now() - began < FROZEN_MS + 10_000) await get(`${haproxy.url}/`, agent, outcome, began);
  };
  const clients = [
    ...Array.from({ length: 6 }, () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      agents.push(agent);
      return client(agent);
    }),
    ...Array.from({ length: 2 }, () => client(false)),
  ];
    await sleep(800);
  signalColor(fleet, "green", "SIGSTOP");
  await sleep(SERVER_TIMEOUT_MS - 300);
  const sessions = await adminCommand(placement, "show sess all");
  await sleep(FROZEN_MS - (SERVER_TIMEOUT_MS - 300));
  signalColor(fleet, "green", "SIGCONT");
  await sleep(2000);
  stopped = true;
  await Promise.all(clients);
  agents.forEach((a) => a.destroy());
  await sleep(300);
  const log = fs.readFileSync(haproxy.logPath, "utf8").split("\n");
  const details = outcome.closed.map((c) => ({
    ...c,
    logLines: c.port ? log.filter((l) => l.includes(`127.0.0.1:${c.port} `)).slice(-3) : [],
    inShowSess: c.port ? sessions.split("\n\n").filter((s) => s.includes(`127.0.0.1:${c.port} `) || s.includes(`:${c.port}`)).map((s) => s.slice(0, 600)) : [],
  }));
  await stopAll();
  return { ok: outcome.ok, status504: outcome.status504, otherStatus: outcome.otherStatus, closedWithoutResponse: outcome.closed.length, details };
}

export async function frozenLoop(runs: number, routing: "round-robin" | "sticky" = "round-robin") {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(await run(routing));
  return {
    scenario: `green frozen ${FROZEN_MS} ms, timeouts.server ${SERVER_TIMEOUT_MS} ms, 6 keep-alive + 2 close clients, ${routing}`,
    runs,
    runsWithCloses: results.filter((r) => r.closedWithoutResponse > 0).length,
    closesPerRun: results.map((r) => r.closedWithoutResponse),
    status504PerRun: results.map((r) => r.status504),
    okPerRun: results.map((r) => r.ok),
    firstCloses: results.flatMap((r) => r.details).slice(0, 3),
  };
}

if (require.main === module) {
  frozenLoop(Number(process.argv[2] ?? 8), (process.argv[3] as "round-robin" | "sticky") ?? "round-robin")
    .then((result) => process.stdout.write(`${JSON.stringify(result, null, 2)}\n`))
    .catch(async (error) => {
      process.stderr.write(`${(error as Error).stack}\n`);
      process.exitCode = 1;
      await stopAll();
    });
}
