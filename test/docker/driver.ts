// A test tool, not a deployer: runs the real program (infra/) under Pulumi's mocks, then
// creates what it registered on a real Docker engine, in Pulumi's order, so the tests see the
// graph serve traffic.
//
// What it models:
// - Order: resources in the order the mocks saw them registered (a resource registers only
//   once the outputs it takes as inputs are known, so dependencies come first); deletions at
//   the end, in reverse order.
// - Updates: a second run's inputs are diffed against the first. Container inputs other than
//   UPDATABLE_CONTAINER_INPUTS replace the container; the replacement is created before the
//   old one is deleted (at the end of the run), unless RESOURCE_OPTIONS says
//   deleteBeforeReplace. A Command whose inputs change runs `update` (else `create`) again,
//   with PULUMI_COMMAND_STDOUT; a change of `triggers` replaces it (`delete`, then `create`).
// - docker:index/network:Network, docker:index/volume:Volume, docker:index/remoteImage:RemoteImage
//   (resolved to a locally built image: no registry), docker:index/container:Container
//   (create; join networks; uploads as a tar at / before the first start, like the provider;
//   start; on deletion `stop` with destroyGraceSeconds, then remove) and
//   command:local:Command (`/bin/sh -c` with the process environment plus `environment`,
//   `stdin`, `dir`, failing with the command's output like the provider); the tls provider's
//   resources exist in state only: their PEM outputs are made with openssl (test/tlsProvider.ts).
// - An input it does not know fails the run: nothing the program sets is silently skipped.
//
// What it does not model of the real providers and engine:
// - Resource options: mocks do not see them. RESOURCE_OPTIONS mirrors the code's
//   deleteBeforeReplace, and a test checks it against the options the components pass.
// - Refresh, drift, imports, previews, parallel steps (every step runs one after another),
//   retries, partial failures inside one provider call, and the state file: a failed step
//   stops the run and what was replaced stays until the next run or `destroy`, as
//   Pulumi's pending deletions would.
// - RemoteImage pulls, keepLocally and image removal: images belong to the test setup.
// - Container reads after create (ports, IPs as outputs), `mustRun` restarts, `wait`,
//   healthchecks, and the provider's default attachment to and detachment from "bridge".
// - Secrets: values are carried out unwrapped.
import { resetHostPortClaims } from "../../components/trafficDistributor";
import { spawn } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { RecordedResource } from "../mocks";
import { Engine } from "./engine";
import { TLS_PROVIDER_INPUTS, tlsProviderState, unwrapSecrets, secretInputNames } from "../tlsProvider";

const NETWORK = "docker:index/network:Network";
const VOLUME = "docker:index/volume:Volume";
const IMAGE = "docker:index/remoteImage:RemoteImage";
const CONTAINER = "docker:index/container:Container";
const COMMAND = "command:local:Command";

/** Resource options the components set, which mocks cannot see (kept equal to the code by a test). */
export const RESOURCE_OPTIONS: ReadonlyArray<{ type: string; name: RegExp; deleteBeforeReplace: boolean }> = [
  // components/docker/distributor.ts: the published port cannot be held twice.
  { type: CONTAINER, name: /-distributor$/, deleteBeforeReplace: true },
  // components/docker/acmeClient.ts: a fixed name, and lego's listener on the shared loopback.
  { type: CONTAINER, name: /-acme$/, deleteBeforeReplace: true },
];

/** Container inputs the Docker provider changes in place; every other change replaces. */
export const UPDATABLE_CONTAINER_INPUTS = new Set(["restart", "memory", "memorySwap", "cpuShares", "maxRetryCount", "mustRun"]);

/** Inputs the driver carries out, per resource type. */
const KNOWN_INPUTS: Record<string, Set<string>> = {
  [NETWORK]: new Set(["name", "labels", "driver", "internal"]),
  [VOLUME]: new Set(["name", "labels", "driver"]),
  [IMAGE]: new Set(["name", "keepLocally"]),
  [CONTAINER]: new Set([
    "name", "image", "networksAdvanced", "ports", "uploads", "envs", "labels", "restart", "destroyGraceSeconds",
    "memory", "securityOpts", "capabilities", "readOnly", "tmpfs", "logDriver", "logOpts", "volumes", "user",
    "command", "hostname", "init", "stopSignal", "stopTimeout", "mustRun", "networkMode", "entrypoints",
  ]),
  [COMMAND]: new Set(["create", "update", "delete", "environment", "stdin", "dir", "triggers", "addPreviousOutputInEnv"]),
  ...TLS_PROVIDER_INPUTS,
};
const KNOWN_NESTED: Record<string, Set<string>> = {
  networksAdvanced: new Set(["name", "aliases"]),
  ports: new Set(["internal", "external", "ip", "protocol"]),
  uploads: new Set(["file", "content", "contentBase64", "executable", "permissions"]),
  labels: new Set(["label", "value"]),
  volumes: new Set(["volumeName", "containerPath", "readOnly", "hostPath"]),
  capabilities: new Set(["adds", "drops"]),
};

export interface ProgramRun {
  /** Custom resources, in registration order. */
  readonly resources: RecordedResource[];
  /** Every registration, components included. */
  readonly registered: RecordedResource[];
  /** The program's exports, resolved. */
  readonly outputs: Record<string, unknown>;
  /** Image names the program may use, and the local image IDs they stand for. */
  readonly images: Record<string, string>;
}

const keyOf = (r: { type: string; name: string }) => `${r.type}::${r.name}`;
const hash = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 12);

/**
 * Runs infra/ under mocks as stack `stack` with `config` (keys without the project prefix,
 * values as `pulumi config set` stores them). `images` maps image names to local image IDs.
 */
export async function runProgram(stack: string, config: Record<string, string>, images: Record<string, string>): Promise<ProgramRun> {
  const registered: RecordedResource[] = [];
  // Each run is a program of its own: the host ports of earlier runs are not this one's.
  resetHostPortClaims();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        // A value made secret with pulumi.secret() arrives wrapped: carry out its plain value.
        const secretInputs = secretInputNames(args.inputs);
        registered.push({ type: args.type, name: args.name, inputs: unwrapSecrets(args.inputs), secretInputs, custom: args.custom ?? false });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === IMAGE) state.imageId = images[args.inputs.name] ?? `missing:${args.inputs.name}`;
        if (args.type === COMMAND) state.stdout = "";
        Object.assign(state, tlsProviderState(args.type, args.name, args.inputs));
        // A container's ID changes when it is replaced: derive it from its inputs.
        const id = args.type === CONTAINER ? `mock-${hash([args.name, args.inputs])}` : args.custom ? args.inputs.name ?? args.name : undefined;
        return { id, state };
      },
      call(args) {
        throw new Error(`unexpected invoke ${args.token}`);
      },
    },
    "traffic-distributor",
    stack,
    false,
  );
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`traffic-distributor:${k}`, v])));
  // Node runs a module once: drop the program from the cache to run it again.
  const entry = require.resolve("../../infra");
  delete require.cache[entry];
  const program = (await import(entry)) as Record<string, pulumi.Output<unknown>>;
  const outputs: Record<string, unknown> = {};
  for (const [name, output] of Object.entries(program)) {
    if (pulumi.Output.isInstance(output)) outputs[name] = await new Promise((resolve) => output.apply(resolve));
  }
  // Registrations that wait on outputs land a few turns later: wait until none arrives.
  let seen = -1;
  while (seen !== registered.length) {
    seen = registered.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { resources: registered.filter((r) => r.custom), registered, outputs, images };
}

interface Live {
  readonly resource: RecordedResource;
  /** The engine's ID (containers), or the name. */
  readonly realId: string;
  /** The ID the mocks gave it: other resources' inputs carry it. */
  readonly mockId: string;
  readonly stdout?: string;
}

/** What the driver has created on the engine, as Pulumi's state would record it. */
export class Deployment {
  private live = new Map<string, Live>();
  private pendingDeletes: Live[] = [];
  private images: Record<string, string> = {};
  /** One line per step, e.g. "create docker:index/container:Container x", for assertions. */
  public readonly steps: string[] = [];

  constructor(private readonly engine: Engine) {}

  /** Brings the engine to `run`: creates, updates, replaces and deletes like `pulumi up`. */
  async up(run: ProgramRun): Promise<void> {
    for (const resource of run.resources) checkInputs(resource);
    this.images = run.images;
    await this.deletePending();
    const wanted = new Set(run.resources.map(keyOf));
    for (const resource of run.resources) {
      const key = keyOf(resource);
      const old = this.live.get(key);
      if (!old) {
        this.live.set(key, await this.create(resource));
        continue;
      }
      if (JSON.stringify(old.resource.inputs) === JSON.stringify(resource.inputs)) continue;
      if (!replaces(resource.type, old.resource.inputs, resource.inputs)) {
        this.live.set(key, await this.update(old, resource));
      } else if (deleteBeforeReplace(resource)) {
        await this.delete(old, "delete-before-replace");
        this.live.delete(key);
        this.live.set(key, await this.create(resource));
      } else {
        // Create-before-delete: the old one goes at the end of the run.
        this.pendingDeletes.push(old);
        this.live.set(key, await this.create(resource));
      }
    }
    for (const [key, old] of this.live) {
      if (!wanted.has(key)) {
        this.pendingDeletes.push(old);
        this.live.delete(key);
      }
    }
    await this.deletePending();
  }

  /** Deletes everything, in reverse order of creation. */
  async destroy(): Promise<void> {
    await this.deletePending();
    for (const live of [...this.live.values()].reverse()) {
      await this.delete(live, "delete");
      this.live.delete(keyOf(live.resource));
    }
  }

  /** The engine ID of the live resource `type::name`. */
  realId(type: string, name: string): string {
    const live = this.live.get(`${type}::${name}`);
    if (!live) throw new Error(`${type} ${name} is not deployed`);
    return live.realId;
  }

  /** The stdout of the live command `name`. */
  stdout(name: string): string {
    return this.live.get(`${COMMAND}::${name}`)?.stdout ?? "";
  }

  private async deletePending(): Promise<void> {
    const order = [...this.pendingDeletes].reverse();
    for (const live of order) {
      await this.delete(live, "delete");
      this.pendingDeletes.splice(this.pendingDeletes.indexOf(live), 1);
    }
  }

  private real(value: string): string {
    for (const live of this.live.values()) if (live.mockId === value) return live.realId;
    return value;
  }

  private async create(resource: RecordedResource): Promise<Live> {
    this.steps.push(`create ${resource.type} ${resource.name}`);
    const inputs = resource.inputs;
    const docker = this.engine.docker;
    switch (resource.type) {
      case NETWORK: {
        const args = ["network", "create", "--label", this.engine.label, ...labelArgs(inputs.labels)];
        if (inputs.driver) args.push("--driver", inputs.driver);
        if (inputs.internal) args.push("--internal");
        await docker([...args, inputs.name]);
        return { resource, realId: inputs.name, mockId: inputs.name };
      }
      case VOLUME: {
        const args = ["volume", "create", "--label", this.engine.label, ...labelArgs(inputs.labels)];
        if (inputs.driver) args.push("--driver", inputs.driver);
        await docker([...args, inputs.name]);
        return { resource, realId: inputs.name, mockId: inputs.name };
      }
      case IMAGE: {
        const id = this.images[inputs.name];
        if (!id) throw new Error(`RemoteImage ${inputs.name}: no local image for it (there is no registry to pull from)`);
        return { resource, realId: id, mockId: id };
      }
      case CONTAINER:
        return { resource, realId: await this.createContainer(resource), mockId: `mock-${hash([resource.name, inputs])}` };
      case COMMAND: {
        const stdout = await this.runCommand(inputs.create, inputs, undefined);
        return { resource, realId: resource.name, mockId: resource.name, stdout };
      }
    }
    if (resource.type in TLS_PROVIDER_INPUTS) return { resource, realId: resource.name, mockId: resource.name };
    throw new Error(`driver: resource type ${resource.type} (${resource.name}) is not modelled`);
  }

  private async update(old: Live, resource: RecordedResource): Promise<Live> {
    this.steps.push(`update ${resource.type} ${resource.name}`);
    const inputs = resource.inputs;
    switch (resource.type) {
      case CONTAINER: {
        const args = ["update"];
        if (inputs.restart !== old.resource.inputs.restart) args.push("--restart", inputs.restart ?? "no");
        if (inputs.memory !== old.resource.inputs.memory) args.push("--memory", `${inputs.memory ?? 0}m`);
        await this.engine.docker([...args, old.realId]);
        return { ...old, resource };
      }
      case COMMAND: {
        const previous = inputs.addPreviousOutputInEnv === false ? undefined : old.stdout;
        const stdout = await this.runCommand(inputs.update ?? inputs.create, inputs, previous);
        return { ...old, resource, stdout };
      }
      case IMAGE:
        return { ...old, resource };
    }
    throw new Error(`driver: no in-place update for ${resource.type} (${resource.name})`);
  }

  private async delete(live: Live, step: string): Promise<void> {
    const { resource } = live;
    this.steps.push(`${step} ${resource.type} ${resource.name}`);
    const docker = this.engine.docker;
    switch (resource.type) {
      case NETWORK:
        await docker(["network", "rm", live.realId]);
        return;
      case VOLUME:
        await docker(["volume", "rm", live.realId]);
        return;
      case CONTAINER: {
        // The provider stops with destroyGraceSeconds (0 when unset), then removes.
        const grace = resource.inputs.destroyGraceSeconds ?? 0;
        await docker(["stop", "-t", String(grace), live.realId], { allowFail: true, timeoutMs: (grace + 60) * 1000 });
        await docker(["rm", "-f", "-v", live.realId]);
        return;
      }
      case COMMAND:
        if (resource.inputs.delete) {
          const output = await this.runCommand(resource.inputs.delete, resource.inputs, live.stdout);
          if (output) this.steps.push(`output of ${step} ${resource.name}: ${output}`);
        }
        return;
      case IMAGE:
        return;
    }
    // tls provider resources: nothing on the engine.
  }

  private async createContainer(resource: RecordedResource): Promise<string> {
    const inputs = resource.inputs;
    const docker = this.engine.docker;
    const networks: Array<{ name: string; aliases?: string[] }> = inputs.networksAdvanced ?? [];
    const args = ["create", "--name", inputs.name, "--label", this.engine.label, ...labelArgs(inputs.labels)];
    // "container:<id>" joins another container's network namespace: the ID the mocks gave it.
    if (inputs.networkMode) args.push("--network", String(inputs.networkMode).replace(/^container:(.*)$/, (_, id) => `container:${this.real(id)}`));
    if (networks.length > 0) {
      args.push("--network", networks[0].name);
      for (const alias of networks[0].aliases ?? []) args.push("--network-alias", alias);
    }
    for (const port of inputs.ports ?? []) {
      args.push("-p", `${port.ip ?? "0.0.0.0"}:${port.external ?? ""}:${port.internal}/${port.protocol ?? "tcp"}`);
    }
    for (const env of inputs.envs ?? []) args.push("--env", env);
    if (inputs.restart) args.push("--restart", inputs.restart);
    if (inputs.memory) args.push("--memory", `${inputs.memory}m`);
    for (const option of inputs.securityOpts ?? []) args.push("--security-opt", option);
    for (const cap of inputs.capabilities?.adds ?? []) args.push("--cap-add", cap);
    for (const cap of inputs.capabilities?.drops ?? []) args.push("--cap-drop", cap);
    if (inputs.readOnly) args.push("--read-only");
    for (const [dir, options] of Object.entries<string>(inputs.tmpfs ?? {})) args.push("--tmpfs", options ? `${dir}:${options}` : dir);
    if (inputs.logDriver) args.push("--log-driver", inputs.logDriver);
    for (const [key, value] of Object.entries<string>(inputs.logOpts ?? {})) args.push("--log-opt", `${key}=${value}`);
    for (const volume of inputs.volumes ?? []) {
      const source = volume.volumeName ?? volume.hostPath;
      args.push("-v", `${source}:${volume.containerPath}${volume.readOnly ? ":ro" : ""}`);
    }
    if (inputs.user) args.push("--user", inputs.user);
    if (inputs.hostname) args.push("--hostname", inputs.hostname);
    if (inputs.init) args.push("--init");
    if (inputs.stopSignal) args.push("--stop-signal", inputs.stopSignal);
    if (inputs.stopTimeout !== undefined) args.push("--stop-timeout", String(inputs.stopTimeout));
    if (String(inputs.image).startsWith("missing:")) {
      throw new Error(`container ${inputs.name}: image ${String(inputs.image).slice(8)} was not built locally (there is no registry)`);
    }
    // docker's --entrypoint takes one word; the provider's list continues before the command.
    const entrypoint: string[] = inputs.entrypoints ?? [];
    if (entrypoint.length > 0) args.push("--entrypoint", entrypoint[0]);
    args.push(inputs.image, ...entrypoint.slice(1), ...(inputs.command ?? []));
    const id = (await docker(args)).stdout.trim();
    for (const network of networks.slice(1)) {
      await docker(["network", "connect", ...(network.aliases ?? []).flatMap((a) => ["--alias", a]), network.name, id]);
    }
    for (const upload of inputs.uploads ?? []) await this.upload(id, upload);
    await docker(["start", id]);
    return id;
  }

  /** Like the provider: a one-file tar (root-owned, 0644 or 0744) extracted at / before start. */
  private async upload(id: string, upload: Record<string, any>): Promise<void> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-upload-"));
    try {
      const relative = String(upload.file).replace(/^\/+/, "");
      const file = path.join(dir, relative);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, upload.contentBase64 ? Buffer.from(upload.contentBase64, "base64") : String(upload.content ?? ""));
      const mode = upload.permissions ? parseInt(upload.permissions, 8) : upload.executable ? 0o744 : 0o644;
      fs.chmodSync(file, mode);
      await new Promise<void>((resolve, reject) => {
        const child = spawn("sh", ["-c", 'tar -C "$1" --owner=0 --group=0 --numeric-owner -cf - "$2" | docker cp - "$3":/', "sh", dir, relative, id], {
          env: { ...process.env, DOCKER_HOST: this.engine.host },
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (chunk) => (stderr += chunk));
        child.on("close", (status) => (status === 0 ? resolve() : reject(new Error(`upload of ${upload.file} failed: ${stderr}`))));
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  /** `/bin/sh -c` like @pulumi/command's local.Command; fails with its output on a non-zero exit. */
  private runCommand(script: string | undefined, inputs: Record<string, any>, previousStdout: string | undefined): Promise<string> {
    if (script === undefined) return Promise.resolve("");
    const environment: Record<string, string> = {};
    for (const [key, value] of Object.entries<string>(inputs.environment ?? {})) environment[key] = this.real(value);
    if (previousStdout) environment.PULUMI_COMMAND_STDOUT = previousStdout;
    return new Promise((resolve, reject) => {
      const child = spawn("/bin/sh", ["-c", script], {
        cwd: inputs.dir ?? process.cwd(),
        env: { ...process.env, DOCKER_HOST: this.engine.host, ...environment },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let both = "";
      child.stdout.on("data", (chunk) => {
        stdout += chunk;
        both += chunk;
      });
      child.stderr.on("data", (chunk) => (both += chunk));
      child.on("close", (status) => {
        if (status === 0) resolve(stdout.replace(/\n$/, ""));
        else reject(new CommandError(`exit status ${status}: running the command:\n${both}`, both));
      });
      // A command may exit without reading stdin (EPIPE): its exit status is what counts.
      child.stdin.on("error", () => undefined);
      child.stdin.end(inputs.stdin ?? "");
    });
  }
}

/** A command that exited non-zero, as `pulumi up` would report it. */
export class CommandError extends Error {
  constructor(
    message: string,
    public readonly output: string,
  ) {
    super(message);
  }
}

function labelArgs(labels: Array<{ label: string; value: string }> | undefined): string[] {
  return (labels ?? []).flatMap(({ label, value }) => ["--label", `${label}=${value}`]);
}

function checkInputs(resource: RecordedResource): void {
  const known = KNOWN_INPUTS[resource.type];
  if (!known) throw new Error(`driver: resource type ${resource.type} (${resource.name}) is not modelled`);
  for (const [key, value] of Object.entries(resource.inputs)) {
    if (!known.has(key)) throw new Error(`driver: input ${key} of ${resource.type} ${resource.name} is not modelled`);
    const nested = resource.type === CONTAINER || resource.type === NETWORK || resource.type === VOLUME ? KNOWN_NESTED[key] : undefined;
    if (!nested) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      for (const inner of Object.keys(item ?? {})) {
        if (!nested.has(inner)) throw new Error(`driver: input ${key}.${inner} of ${resource.type} ${resource.name} is not modelled`);
      }
    }
  }
}

function replaces(type: string, before: Record<string, any>, after: Record<string, any>): boolean {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const changed = [...keys].filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
  switch (type) {
    case CONTAINER:
      return changed.some((key) => !UPDATABLE_CONTAINER_INPUTS.has(key));
    case COMMAND:
      return changed.includes("triggers");
    case IMAGE:
      return changed.includes("name");
    default:
      return true;
  }
}

export function deleteBeforeReplace(resource: Pick<RecordedResource, "type" | "name">): boolean {
  return RESOURCE_OPTIONS.some((o) => o.type === resource.type && o.name.test(resource.name) && o.deleteBeforeReplace);
}
