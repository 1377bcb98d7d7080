// The HTTPS listener's cost beside NGINX's: the rendered config with TLS (the listener's
// protocols, ciphers and no tickets) and an NGINX server with the same terms and certificate
// (EC P-256), both in front of the same static backends. Two loads, interleaved per round:
// keep-alive HTTPS requests (the record layer's cost) and a new connection per request (a
// full handshake each: wrk resumes no session).
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { renderHaproxyConfig } from "../components/haproxyConfig";
import { Color, ServerAddress } from "../components/settings";
import { freePort, loopbackPlacement, sleep, startHaproxy } from "../test/harness";
import { makeTestPki } from "../test/tls/pki";
import { median } from "./median";
import { renderNginxConfig } from "./nginxConfig";
import { groupCpuMicros } from "./procCpu";
import { runWrk } from "./wrk";

interface TlsEngine {
  readonly name: string;
  readonly url: string;
  readonly pgid: number;
}

const LOADS = {
  keepAlive: { connections: 32, headers: [] as string[] },
  handshakePerRequest: { connections: 16, headers: ["Connection: close"] },
} as const;

/** CPU per request, req/s and errors of each engine under each load, and HAProxy's ratio to NGINX per round. */
export async function httpsCost(
  servers: Record<Color, ServerAddress[]>,
  rounds: number,
  seconds: number,
  children: ChildProcess[],
  /** The HAProxy to run; the one on PATH if none. */
  haproxy?: string[],
) {
  const pki = makeTestPki(["localhost"]);
  const startRendered = async (name: string, command?: string[]): Promise<TlsEngine> => {
    const placement = { ...(await loopbackPlacement()), tls: { tlsPort: await freePort(), certificateDir: pki.certificateDir } };
    const rendered = renderHaproxyConfig(
      { weights: { blue: 50, green: 50 }, routing: "round-robin", servers, accessLog: true, tls: { publicPort: placement.tls.tlsPort, hsts: 0 } },
      placement,
    );
    const haproxy = await startHaproxy(rendered, placement, command);
    return { name, url: `https://127.0.0.1:${placement.tls.tlsPort}/`, pgid: haproxy.process.pid! };
  };

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-nginx-tls-"));
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, "chain.pem"), pki.chain);
  fs.writeFileSync(path.join(dir, "key.pem"), pki.key, { mode: 0o600 });
  const nginxTls = { port: await freePort(), certificatePath: path.join(dir, "chain.pem"), keyPath: path.join(dir, "key.pem") };
  const file = path.join(dir, "nginx.conf");
  fs.writeFileSync(file, renderNginxConfig({ blue: 50, green: 50 }, servers, { listenPort: await freePort(), dir, tls: nginxTls }, true));
  const nginx = spawn("nginx", ["-p", dir, "-c", file, "-g", "daemon off;"], { detached: true, stdio: "ignore" });
  children.push(nginx);

  const engines: TlsEngine[] = [
    await startRendered("haproxy", haproxy),
    { name: "nginx", url: `https://127.0.0.1:${nginxTls.port}/`, pgid: nginx.pid! },
  ];
  await sleep(1500); // health checks up, NGINX listening
  const result: Record<string, unknown> = {};
  for (const [load, options] of Object.entries(LOADS)) {
    const runs: Record<string, Array<{ cpuUs: number; reqPerSec: number; errors: number }>> = Object.fromEntries(engines.map((e) => [e.name, []]));
    for (let round = 0; round < rounds; round++) {
      for (const engine of engines) {
        const before = groupCpuMicros(engine.pgid);
        const wrk = await runWrk(engine.url, { connections: options.connections, seconds, headers: options.headers });
        const cpu = groupCpuMicros(engine.pgid) - before;
        runs[engine.name].push({ cpuUs: wrk.requests ? +(cpu / wrk.requests).toFixed(1) : NaN, reqPerSec: wrk.reqPerSec, errors: wrk.errors });
      }
    }
    result[load] = {
      connections: options.connections,
      ...Object.fromEntries(
        Object.entries(runs).map(([name, r]) => [
          name,
          { cpuMicrosPerRequest: median(r.map((x) => x.cpuUs)), reqPerSec: median(r.map((x) => x.reqPerSec)), errors: r.reduce((n, x) => n + x.errors, 0), rounds: r },
        ]),
      ),
      // Each round's ratio, then their median, as for plain HTTP.
      ratios: Object.fromEntries(
        engines
          .filter((e) => e.name !== "nginx")
          .map((e) => [
            `${e.name}/nginx`,
            {
              cpuPerRequest: +median(runs[e.name].map((r, i) => r.cpuUs / runs.nginx[i].cpuUs)).toFixed(2),
              reqPerSec: +median(runs[e.name].map((r, i) => r.reqPerSec / runs.nginx[i].reqPerSec)).toFixed(2),
            },
          ]),
      ),
    };
  }
  process.kill(-nginx.pid!, "SIGTERM");
  fs.rmSync(pki.dir, { recursive: true, force: true });
  return { ...result, certificate: "EC P-256, chain of 2", note: "wrk -t1 over HTTPS; handshakePerRequest sends Connection: close" };
}
