// Static backends for the throughput runs: one NGINX process serving a small file on one port
// per replica, so the backends cost little and the proxy's own cost shows.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Color, COLORS, ServerAddress } from "../components/settings";
import { nginxPreamble } from "./nginxConfig";

export interface StaticBackends {
  readonly servers: Record<Color, ServerAddress[]>;
  readonly process: ChildProcess;
  readonly dir: string;
}

export function renderStaticConfig(dir: string, ports: Record<Color, number[]>): string {
  const servers = COLORS.flatMap((color) =>
    ports[color].map(
      (port, i) => `    server {
        listen 127.0.0.1:${port} backlog=4096;
        root ${dir}/${color}-${i};
        default_type text/plain;
        location / { try_files /body =404; }
    }`,
    ),
  );
  return `${nginxPreamble(dir, 8192)}
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
${servers.join("\n")}
}
`;
}

/** Starts the static backends, `perColor` replicas per color, each answering "<color> <i>". */
export async function startStaticBackends(ports: Record<Color, number[]>): Promise<StaticBackends> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-static-"));
  fs.chmodSync(dir, 0o755);
  for (const color of COLORS) {
    ports[color].forEach((_, i) => {
      fs.mkdirSync(path.join(dir, `${color}-${i}`));
      fs.writeFileSync(path.join(dir, `${color}-${i}`, "body"), `${color} static-${i}\n`);
    });
  }
  const file = path.join(dir, "nginx.conf");
  fs.writeFileSync(file, renderStaticConfig(dir, ports));
  const child = spawn("nginx", ["-p", dir, "-c", file, "-g", "daemon off;"], { detached: true, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const deadline = Date.now() + 5000;
  while (!fs.existsSync(path.join(dir, "nginx.pid"))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`static nginx did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const servers = {} as Record<Color, ServerAddress[]>;
  for (const color of COLORS) servers[color] = ports[color].map((port) => ({ host: "127.0.0.1", port }));
  return { servers, process: child, dir };
}
