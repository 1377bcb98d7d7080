// Apps from test/fixtures/app.js behind a loopback HAProxy, for the timeout, health-check and
// WebSocket tests: each app records what reached it and upgrades /ws to an echoing tunnel.
import { ChildProcess, spawn } from "child_process";
import * as net from "net";
import * as path from "path";
import { APP_BACKEND, HaproxyConfigInput, layoutOf, renderHaproxyConfig, serverName } from "../components/haproxyConfig";
import { Color, COLORS, ServerAddress } from "../components/settings";
import { freePort, Haproxy, loopbackPlacement, request, serverStatus, startHaproxy, TEST_THREADS } from "./harness";

export const APP = path.join(__dirname, "fixtures", "app.js");
export const apps: ChildProcess[] = [];

/** Stops every app a test started. */
export function stopApps(): void {
  for (const app of apps.splice(0)) if (app.exitCode === null) app.kill("SIGKILL");
}

export interface App {
  readonly port: number;
  readonly server: ServerAddress;
}

export async function startApp(color: Color, id: string, env: Record<string, string> = {}): Promise<App> {
  const port = await freePort();
  const child = spawn(process.execPath, [APP, String(port), color, id], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  apps.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`app ${color} ${id} exited with ${code}`)));
    child.stdout!.once("data", () => resolve());
  });
  return { port, server: { host: "127.0.0.1", port } };
}

/** What reached an app, asked of the app directly. */
export async function seen(app: App): Promise<Array<{ path: string; version: string; host: string | null }>> {
  return JSON.parse((await request(`http://127.0.0.1:${app.port}/_seen`, { agent: false })).body);
}

export async function distributor(fleet: Record<Color, App[]>, settings: Partial<HaproxyConfigInput>): Promise<{ haproxy: Haproxy; render: (s: Partial<HaproxyConfigInput>) => string }> {
  const placement = await loopbackPlacement();
  const servers = { blue: fleet.blue.map((a) => a.server), green: fleet.green.map((a) => a.server) };
  const render = (s: Partial<HaproxyConfigInput>) =>
    renderHaproxyConfig({ weights: { blue: 50, green: 50 }, routing: "round-robin", servers, threads: TEST_THREADS, ...s }, placement);
  return { haproxy: await startHaproxy(render(settings), placement), render };
}

/** Each replica's state, wherever the rendered layout puts it. */
export async function statuses(haproxy: Haproxy, fleet: Record<Color, App[]>): Promise<string[]> {
  const servers = { blue: fleet.blue.map((a) => a.server), green: fleet.green.map((a) => a.server) };
  const input: HaproxyConfigInput = { weights: { blue: 50, green: 50 }, routing: "round-robin", servers };
  const out: string[] = [];
  for (const color of COLORS) {
    const backend = layoutOf(input) === "one-level" ? APP_BACKEND : color;
    for (const app of fleet[color]) out.push(`${color}/${app.port} ${await serverStatus(haproxy.placement, backend, serverName(color, 0, app.server))}`);
  }
  return out;
}

/** Opens an upgraded connection through the distributor; resolves once the 101 has arrived. */
export function openTunnel(port: number): Promise<{ socket: net.Socket; echo(text: string, timeoutMs?: number): Promise<string>; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const opened = Date.now();
    const closed = new Promise<number>((done) => socket.once("close", () => done(Date.now() - opened)));
    let head = "";
    const onHead = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      socket.off("data", onHead);
      if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(`no upgrade: ${head.split("\r\n")[0]}`));
      resolve({
        socket,
        closed,
        echo: (text, timeoutMs = 3000) =>
          new Promise((answer, fail) => {
            const timer = setTimeout(() => fail(new Error("no echo")), timeoutMs);
            socket.once("data", (data) => {
              clearTimeout(timer);
              answer(data.toString());
            });
            socket.write(text, (error) => error && fail(error));
          }),
      });
    };
    socket.on("data", onHead);
    socket.once("error", reject);
    socket.write(
      "GET /ws HTTP/1.1\r\nHost: app.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
  });
}

