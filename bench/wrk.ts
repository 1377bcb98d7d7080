// Runs wrk (Debian's package) as a child process and parses its --latency report. wrk keeps
// the load generator in C, off the cores' Node event loop, so the proxy under test dominates.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";

const execFileAsync = promisify(execFile);

export interface WrkResult {
  readonly requests: number;
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Connect, read, write and timeout errors plus non-2xx/3xx answers. */
  readonly errors: number;
}

export interface WrkOptions {
  readonly connections: number;
  /** wrk's threads. @default 1 */
  readonly threads?: number;
  readonly seconds: number;
  /** Paced load: each connection waits this many milliseconds before its next request. */
  readonly delayMs?: number;
  /** Extra request headers, e.g. "Connection: close" for a new connection (a handshake) per request. */
  readonly headers?: readonly string[];
}

function toMs(value: string, unit: string): number {
  const scale: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
  if (!(unit in scale)) throw new Error(`wrk: unknown latency unit ${unit}`);
  return +(Number(value) * scale[unit]).toFixed(3);
}

export function parseWrk(out: string): WrkResult {
  const latency = (pct: string) => {
    const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
    if (!m) throw new Error(`wrk: no ${pct}% latency in:\n${out}`);
    return toMs(m[1], m[2]);
  };
  const requests = /^\s*(\d+) requests in/m.exec(out);
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  if (!requests || !rate) throw new Error(`wrk: no totals in:\n${out}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const errors = (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0) + (non2xx ? Number(non2xx[1]) : 0);
  return { requests: Number(requests[1]), reqPerSec: Math.round(Number(rate[1])), p50Ms: latency("50"), p99Ms: latency("99"), errors };
}

/** One wrk run. Asynchronous: never blocks the bench's own process. */
export async function runWrk(url: string, options: WrkOptions): Promise<WrkResult> {
  const args = [`-t${options.threads ?? 1}`, `-c${options.connections}`, `-d${options.seconds}s`, "--latency", "--timeout", "5s"];
  for (const header of options.headers ?? []) args.push("-H", header);
  let script: string | undefined;
  if (options.delayMs !== undefined) {
    script = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "td-wrk-")), "paced.lua");
    fs.writeFileSync(script, `function delay()\n  return ${Math.max(0, Math.round(options.delayMs))}\nend\n`);
    args.push("-s", script);
  }
  try {
    const { stdout } = await execFileAsync("wrk", [...args, url], { timeout: (options.seconds + 30) * 1000 });
    return parseWrk(stdout);
  } finally {
    if (script) fs.rmSync(path.dirname(script), { recursive: true, force: true });
  }
}
