// Userland instructions per request, counted by valgrind (callgrind): unlike CPU time, the
// count does not move with a neighbour's load, so it shows where a proxy's cost goes even on a
// busy machine. The kernel's share (the socket calls, about the same number per request for
// HAProxy and NGINX) is not counted. Each proxy runs as one process (HAProxy without
// master-worker, NGINX without its master); two runs of N1 and N2 requests, and the difference
// divided by N2 - N1, leave out start-up and shutdown.
import { ChildProcess, execFile, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";
import { sleep } from "../test/harness";

const execFileAsync = promisify(execFile);

const N1 = 1000;
const N2 = 4000;

export interface CountedProxy {
  readonly name: string;
  /** Writes a fresh config and returns the command that serves it and the URL it serves. */
  prepare(): Promise<{ command: string[]; url: string }>;
}

async function instructionsFor(command: string[], url: string, requests: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-callgrind-"));
  const out = path.join(dir, "callgrind.out");
  const child: ChildProcess = spawn("valgrind", ["--tool=callgrind", `--callgrind-out-file=${out}`, ...command], { detached: true, stdio: "ignore" });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await execFileAsync("curl", ["-fsS", "-o", "/dev/null", url]);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`instructions: ${command[0]} did not answer under valgrind: ${(error as Error).message}`);
        await sleep(250);
      }
    }
    // h2load keeps its own process: a bounded count, 8 keep-alive HTTP/1.1 connections.
    await execFileAsync("h2load", ["--h1", "-n", String(requests), "-c", "8", url], { timeout: 300_000 });
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    process.kill(-child.pid!, "SIGTERM");
    await Promise.race([exited, sleep(30_000)]);
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, "SIGKILL");
  }
  const totals = /^(?:summary|totals): (\d+)/m.exec(fs.readFileSync(out, "utf8"));
  fs.rmSync(dir, { recursive: true, force: true });
  if (!totals) throw new Error(`instructions: no totals from callgrind for ${command[0]}`);
  return Number(totals[1]);
}

/** Instructions per request of each proxy, as `{ name: count }`. */
export async function instructionsPerRequest(proxies: readonly CountedProxy[]): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const proxy of proxies) {
    const short = await proxy.prepare();
    const long = await proxy.prepare();
    const few = await instructionsFor(short.command, short.url, N1);
    const many = await instructionsFor(long.command, long.url, N2);
    result[proxy.name] = Math.round((many - few) / (N2 - N1));
  }
  return result;
}
