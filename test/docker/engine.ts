// The Docker engine of `npm run test:docker`: the one at DOCKER_HOST when it answers, else a
// private dockerd (vfs storage; data root, exec root, pid file and socket in a temporary
// directory) started here and stopped by its PID. Everything the tests create carries the
// label RUN_LABEL, and `removeLabelled` removes exactly that, whichever engine it is.
import { ChildProcess, execFile, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { alive } from "../processes";

/** Label key on every container, network, volume and image a test run creates. */
export const LABEL_KEY = "traffic-distributor.test-run";

export interface Engine {
  /** The DOCKER_HOST the tests use. */
  readonly host: string;
  /** Whether this process started the engine (and stops it in `stop`). */
  readonly private: boolean;
  /** This run's value of LABEL_KEY. */
  readonly runId: string;
  readonly label: string;
  /** Runs the docker CLI against this engine without blocking the event loop. */
  docker(args: string[], options?: { input?: string; timeoutMs?: number; allowFail?: boolean }): Promise<DockerResult>;
  /** Removes everything labelled with this run, then stops a private engine. */
  stop(): Promise<void>;
}

export interface DockerResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

function dockerAt(host: string) {
  return (args: string[], options: { input?: string; timeoutMs?: number; allowFail?: boolean } = {}) =>
    new Promise<DockerResult>((resolve, reject) => {
      const child = execFile(
        "docker",
        args,
        { env: { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: "0" }, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 << 20 },
        (error, stdout, stderr) => {
          const status = error ? (typeof error.code === "number" ? error.code : 1) : 0;
          if (status !== 0 && !options.allowFail) {
            reject(new Error(`docker ${args.join(" ")} exited ${status}: ${stderr.trim()}`));
          } else {
            resolve({ status, stdout, stderr });
          }
        },
      );
      // The process may exit without reading its input: its status tells what happened.
      child.stdin?.on("error", () => undefined);
      child.stdin?.end(options.input ?? "");
    });
}

function answers(host: string): boolean {
  const result = spawnSync("docker", ["version", "--format", "{{.Server.Version}}"], {
    env: { ...process.env, DOCKER_HOST: host },
    encoding: "utf8",
    timeout: 10_000,
  });
  return result.status === 0 && result.stdout.trim() !== "";
}

function installDockerIo(): void {
  if (spawnSync("sh", ["-c", "command -v dockerd"]).status === 0) return;
  if (process.getuid?.() !== 0 || spawnSync("sh", ["-c", "command -v apt-get"]).status !== 0) {
    throw new Error("no Docker engine answers at DOCKER_HOST and dockerd is missing: install docker.io (or Docker) and retry");
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", "docker.io"]]) {
    const result = spawnSync("apt-get", args, { env, encoding: "utf8", timeout: 600_000 });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed: ${result.stderr}`);
  }
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}


/** Starts the tests' engine (or adopts the one at DOCKER_HOST). */
export async function startEngine(): Promise<Engine> {
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const label = `${LABEL_KEY}=${runId}`;
  const external = process.env.DOCKER_HOST;
  if (external && answers(external)) {
    const docker = dockerAt(external);
    return { host: external, private: false, runId, label, docker, stop: () => removeLabelled(docker, label) };
  }

  installDockerIo();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-engine-"));
  const host = `unix://${dir}/docker.sock`;
  const log = fs.openSync(path.join(dir, "dockerd.log"), "a");
  const daemon: ChildProcess = spawn(
    "dockerd",
    [
      "--storage-driver", "vfs",
      "--data-root", path.join(dir, "data"),
      "--exec-root", path.join(dir, "exec"),
      "--pidfile", path.join(dir, "dockerd.pid"),
      "-H", host,
    ],
    { stdio: ["ignore", log, log], detached: true },
  );
  const pid = daemon.pid!;
  daemon.unref();
  const docker = dockerAt(host);
  const stop = async () => {
    try {
      await removeLabelled(docker, label);
    } finally {
      if (alive(pid)) process.kill(pid, "SIGTERM");
      await waitFor(() => !alive(pid), 30_000, `dockerd ${pid} to exit`).catch(() => process.kill(pid, "SIGKILL"));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    await waitFor(() => answers(host), 60_000, `dockerd at ${host} (log: ${dir}/dockerd.log)`);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return { host, private: true, runId, label, docker, stop };
}

/** What of this run is still on the engine, by kind. */
export async function labelled(docker: Engine["docker"], label: string): Promise<Record<string, string[]>> {
  const filter = ["--filter", `label=${label}`];
  const list = async (args: string[]) =>
    (await docker([...args, ...filter])).stdout.split("\n").filter((line) => line !== "");
  return {
    containers: await list(["ps", "-aq"]),
    networks: await list(["network", "ls", "-q"]),
    volumes: await list(["volume", "ls", "-q"]),
    images: await list(["image", "ls", "-q"]),
  };
}

/** Removes every container, network, volume and image carrying `label`, and nothing else. */
export async function removeLabelled(docker: Engine["docker"], label: string): Promise<void> {
  const left = await labelled(docker, label);
  if (left.containers.length) await docker(["rm", "-f", "-v", ...left.containers], { allowFail: true });
  if (left.networks.length) await docker(["network", "rm", ...left.networks], { allowFail: true });
  if (left.volumes.length) await docker(["volume", "rm", "-f", ...left.volumes], { allowFail: true });
  if (left.images.length) await docker(["image", "rm", "-f", ...new Set(left.images)], { allowFail: true });
}
