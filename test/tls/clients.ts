// Clients for the HTTPS tests: one request or bounded load from this process (node's https),
// and outside tools (curl, h2load, testssl, openssl) run as child processes that never block it.
import * as https from "https";
import * as tls from "tls";
import { Color } from "../../components";
import { DeliveryResult, runScript } from "../harness";

/** The certificate the TLS listener on 127.0.0.1:port serves for `servername`, trusted or not. */
export function servedCertificate(port: number, servername: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false }, () => {
      const certificate = socket.getPeerCertificate();
      socket.end();
      resolve(certificate);
    });
    socket.setTimeout(5000, () => socket.destroy(new Error("TLS handshake timeout")));
    socket.on("error", reject);
  });
}

export interface HttpsAnswer {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly alpn: string | false | null;
}

/** One HTTPS GET to 127.0.0.1:port with `servername` as SNI and Host, trusting only `ca`. */
export function httpsGet(
  port: number,
  ca: string,
  options: { path?: string; servername?: string; agent?: https.Agent | false; timeoutMs?: number } = {},
): Promise<HttpsAnswer> {
  const servername = options.servername ?? "localhost";
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: "127.0.0.1", port, path: options.path ?? "/", servername, ca, agent: options.agent ?? false, headers: { host: `${servername}:${port}` } },
      (res) => {
        const alpn = (res.socket as import("tls").TLSSocket).alpnProtocol;
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, alpn }));
        res.on("error", reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error("client timeout")));
    req.on("error", reject);
    req.end();
  });
}

export interface HttpsLoad {
  readonly counts: { ok: number; failed: number; blue: number; green: number; samples: string[] };
  stop(): Promise<void>;
}

/**
 * Continuous HTTPS load, bounded by time and by requests per client: keep-alive clients (one
 * connection each, a TLS session resumed never) and clients that handshake for every request.
 */
export function startHttpsLoad(
  port: number,
  ca: string,
  options: { keepAliveClients: number; newConnectionClients: number; maxDurationMs: number; maxRequestsPerClient: number; servername?: string },
): HttpsLoad {
  const counts = { ok: 0, failed: 0, blue: 0, green: 0, samples: [] as string[] };
  const began = Date.now();
  const deadline = began + options.maxDurationMs;
  let stopped = false;
  const agents: https.Agent[] = [];
  async function client(agent: https.Agent | false): Promise<void> {
    for (let n = 0; n < options.maxRequestsPerClient && !stopped && Date.now() < deadline; n++) {
      try {
        const { status, body } = await httpsGet(port, ca, { agent, servername: options.servername });
        const color = body.split(" ")[0];
        if (status === 200 && (color === "blue" || color === "green")) {
          counts.ok++;
          counts[color as Color]++;
        } else {
          counts.failed++;
          if (counts.samples.length < 10) counts.samples.push(`+${Date.now() - began}ms HTTP ${status} ${body.slice(0, 60)}`);
        }
      } catch (error) {
        counts.failed++;
        if (counts.samples.length < 10) counts.samples.push(`+${Date.now() - began}ms ${(error as Error).message}`);
      }
    }
  }
  const clients: Promise<void>[] = [];
  for (let i = 0; i < options.keepAliveClients; i++) {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    clients.push(client(agent));
  }
  for (let i = 0; i < options.newConnectionClients; i++) clients.push(client(false));
  return {
    counts,
    async stop() {
      stopped = true;
      await Promise.all(clients);
      agents.forEach((agent) => agent.destroy());
    },
  };
}

/** Runs a program with arguments in its own process group (stopped by stopAll on failure). */
export function run(program: string, args: string[], timeoutMs = 60_000, env: NodeJS.ProcessEnv = process.env): Promise<DeliveryResult> {
  return runScript(["-c", 'exec "$@"', "sh", program, ...args], env, "", { timeoutMs }).result;
}
