// The `aws` target's delivery path, without AWS: the SSM document's script run for real against
// Debian's HAProxy (with `aws`, `cloud-init` and `docker` stand-ins from test/fixtures), the
// cloud-init user data checked by cloud-init's own schema, and the Run Command driver against
// a scripted SSM client and a fake clock.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import Module from "module";
import * as net from "net";
import { AddressInfo } from "net";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as ssm from "@aws-sdk/client-ssm";
import { parse } from "yaml";
import { renderBootstrapConfig, renderHaproxyConfig } from "../components/haproxyConfig";
import { DEFAULT_GATE } from "../components/releaseGate";
import { Weights } from "../components/settings";
import { ConfigDelivery, deliverThroughSsm } from "../components/aws/configDelivery";
import { DELIVERY_PARAMETERS, renderDeliveryDocument, renderDeliveryScript, substituteParameters } from "../components/aws/configDocument";
import { deliveryPlan } from "../components/deliveryPlan";
import { encodeConfigParameter } from "../components/aws/configParameter";
import { DeliveryClock, SsmSender } from "../components/aws/ssmCommand";
import { renderDistributorUserData, renderEnvironmentUserData } from "../components/aws/userData";
import { checkConfig, resealed, tempDir } from "./haproxy";
import { promiseOf, registered } from "./mocks";
import {
  countColors,
  deliveryEnv,
  DeliveryResult,
  Fleet,
  fleetServers,
  freePort,
  Haproxy,
  runScript,
  startFleet,
  startRoundRobin,
  stopColor,
  stopAll,
} from "./harness";

const PARAMETERS = { parameterName: "shop-distributor-config-a1b2c3d", parameterVersion: "7", region: "eu-west-1", planVersion: "1", planWeights: "" };

/** Directories a test created; removed after its processes are stopped. */
const createdDirs: string[] = [];

function scratchDir(prefix: string): string {
  const dir = tempDir(prefix);
  createdDirs.push(dir);
  return dir;
}

async function cleanUp(): Promise<void> {
  await stopAll();
  for (const dir of createdDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

describe("SSM delivery document, run for real against HAProxy", function () {
  this.timeout(180_000);
  let backends: Fleet;

  beforeEach(async () => {
    backends = await startFleet();
  });
  afterEach(cleanUp);

  async function setup(weights: Weights): Promise<{ haproxy: Haproxy; render: (w: Weights) => string }> {
    const started = await startRoundRobin(backends, weights);
    createdDirs.push(started.haproxy.placement.runtimeDir);
    return started;
  }

  /**
   * Runs the document's script as SSM would (parameters substituted, `sh`), with the parameter
   * store holding `config` as version `storedVersion` of the parameter, encoded as the
   * component stores it (gzip, then base64) unless `raw` is given: the value as it is.
   */
  function runDocument(haproxy: Haproxy, config: string, storedVersion = PARAMETERS.parameterVersion, raw?: string, withPlan = true): Promise<DeliveryResult> {
    const dir = scratchDir("ssm");
    const scriptPath = path.join(dir, "deliver.sh");
    const parameterFile = path.join(dir, "parameter-value");
    // The plan the component passes with the config, as the document's parameters.
    // The plan the component passes with the config, as the document's parameters (or none, as from an earlier release).
    const plan = withPlan ? { planVersion: "1", planWeights: deliveryPlan(config).weights } : { planVersion: "", planWeights: "" };
    fs.writeFileSync(scriptPath, substituteParameters(renderDeliveryScript(), { ...PARAMETERS, ...plan }));
    fs.writeFileSync(parameterFile, raw ?? encodeConfigParameter(config));
    // Not through deliveryEnv's CONTAINER: the document names the container itself.
    const { CONTAINER: _container, ...env } = deliveryEnv(haproxy, {
      FAKE_REGION: PARAMETERS.region,
      FAKE_PARAMETER_NAME: PARAMETERS.parameterName,
      FAKE_PARAMETER_VERSION: storedVersion,
      FAKE_PARAMETER_FILE: parameterFile,
    });
    // A reload that fails is retried and undone (20 s and more on a busy machine), after the gate's reads.
    return runScript([scriptPath], env, "", { timeoutMs: 150_000 }).result;
  }

  /** Files the delivery leaves beside the config: a delivery's own copy or an unconfirmed swap. */
  function leftovers(haproxy: Haproxy): string[] {
    const base = path.basename(haproxy.configPath);
    return fs.readdirSync(path.dirname(haproxy.configPath)).filter((f) => f.startsWith(`${base}.new.`) || f === `${base}.rollback`);
  }

  it("installs the parameter version it names and reloads HAProxy gracefully", async () => {
    const { haproxy, render } = await setup({ blue: 100, green: 0 });
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });

    // Without a plan (as from an earlier release), a weight step reloads.
    const result = await runDocument(haproxy, render({ blue: 0, green: 100 }), undefined, undefined, false);
    assert.strictEqual(result.status, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assert.match(result.stdout, /reloaded \(attempt 1, new worker \d+\)/);
    assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), render({ blue: 0, green: 100 }));
    assert.deepStrictEqual(leftovers(haproxy), []);
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });
  });

  it("exits 1 with HAProxy's message and keeps serving the old config when HAProxy rejects the new one", async () => {
    const { haproxy, render } = await setup({ blue: 0, green: 100 });
    const good = fs.readFileSync(haproxy.configPath, "utf8");
    const broken = resealed(render({ blue: 100, green: 0 }), (body) => body.replace("balance roundrobin", "balance sideways"));

    const result = await runDocument(haproxy, broken);
    assert.strictEqual(result.status, 1, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assert.ok(result.stderr.includes("rejected the new config"), result.stderr);
    assert.ok(result.stderr.includes("balance only supports"), result.stderr);
    assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), good);
    assert.deepStrictEqual(leftovers(haproxy), []);
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });
  });

  it("refuses to shift onto a color whose servers fail their checks, as on Docker: each server's state, the split unchanged", async () => {
    const { haproxy } = await setup({ blue: 100, green: 0 });
    const good = fs.readFileSync(haproxy.configPath, "utf8");
    await stopColor(backends, "green", "SIGKILL");
    const shift = renderHaproxyConfig(
      { weights: { blue: 0, green: 100 }, routing: "round-robin", servers: fleetServers(backends), gate: { ...DEFAULT_GATE, timeout: 2000 } },
      haproxy.placement,
    );
    const result = await runDocument(haproxy, shift);
    assert.strictEqual(result.status, 1, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assert.match(result.stderr, /gate: 0 of 2 green servers UP after \d+s, 2 needed; the new split is not applied/);
    for (const backend of backends.green) assert.match(result.stderr, new RegExp(`app/green_127\\.0\\.0\\.1:${backend.port}: DOWN, check L4CON`));
    assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), good);
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });
  });

  it("refuses a parameter value that is not a gzipped, base64-encoded config, installing nothing", async () => {
    const { haproxy, render } = await setup({ blue: 100, green: 0 });
    const good = fs.readFileSync(haproxy.configPath, "utf8");
    const encoded = encodeConfigParameter(render({ blue: 0, green: 100 }));
    for (const raw of [render({ blue: 0, green: 100 }), encoded.slice(0, Math.floor(encoded.length / 2))]) {
      const result = await runDocument(haproxy, "", PARAMETERS.parameterVersion, raw);
      assert.strictEqual(result.status, 1, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      assert.match(result.stderr, /is not a gzipped, base64-encoded config; the running config is unchanged/);
      assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), good);
    }
    assert.deepStrictEqual(leftovers(haproxy), []);
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });
  });

  it("fails and installs nothing when the named parameter version does not exist", async () => {
    const { haproxy, render } = await setup({ blue: 100, green: 0 });
    const good = fs.readFileSync(haproxy.configPath, "utf8");

    // The store holds version 8; the document asks for version 7.
    const result = await runDocument(haproxy, render({ blue: 0, green: 100 }), "8");
    assert.notStrictEqual(result.status, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assert.strictEqual(result.status, 1, result.stderr);
    assert.match(result.stderr, /ParameterVersionNotFound/);
    assert.doesNotMatch(result.stdout, /reloaded/);
    assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), good);
    assert.deepStrictEqual(leftovers(haproxy), []);
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });
  });

  it("refuses a parameter value cut short, though the cut passes haproxy -c", async () => {
    const { haproxy, render } = await setup({ blue: 100, green: 0 });
    const good = fs.readFileSync(haproxy.configPath, "utf8");
    const full = render({ blue: 0, green: 100 });
    // Cut before the last server line: a valid config missing a green replica.
    const cut = full.slice(0, full.lastIndexOf("\n    server ") + 1);
    assert.ok(checkConfig(cut).ok, "the cut config passes haproxy -c");

    const result = await runDocument(haproxy, cut);
    assert.strictEqual(result.status, 1, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assert.match(result.stderr, /refused the new config for traffic-distributor: its last line is not the trailer/);
    assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), good);
    assert.deepStrictEqual(leftovers(haproxy), []);
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });
  });

  it("with the plan the component passes, a weight step sets the weights through the runtime API, without a reload", async () => {
    const { haproxy, render } = await setup({ blue: 100, green: 0 });
    const result = await runDocument(haproxy, render({ blue: 1, green: 3 }));
    assert.strictEqual(result.status, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assert.match(result.stdout, /took the new weights through the runtime API, without a reload/);
    assert.doesNotMatch(result.stdout, /reloaded/);
    assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), render({ blue: 1, green: 3 }));
    assert.deepStrictEqual(leftovers(haproxy), []);
    const counts = await countColors(haproxy.url, 40);
    assert.ok(counts.blue >= 5 && counts.blue <= 15 && counts.other === 0, JSON.stringify(counts));
  });

  it("refuses a new config whose port another process holds, before any reload", async () => {
    const { haproxy } = await setup({ blue: 100, green: 0 });
    const good = fs.readFileSync(haproxy.configPath, "utf8");
    const taken = await freePort();
    const squatter = net.createServer();
    await new Promise<void>((resolve) => squatter.listen(taken, "127.0.0.1", resolve));
    try {
      const clash = renderHaproxyConfig(
        { weights: { blue: 0, green: 100 }, routing: "round-robin", servers: fleetServers(backends) },
        { ...haproxy.placement, listenPort: taken },
      );
      const result = await runDocument(haproxy, clash);
      assert.strictEqual(result.status, 1, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      assert.match(result.stderr, new RegExp(`it listens on 127\\.0\\.0\\.1:${taken}, which another process .* holds \\(address already in use\\)`));
      assert.match(result.stderr, /nothing was reloaded and the running config is unchanged/);
      assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), good);
      assert.deepStrictEqual(leftovers(haproxy), []);
      assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it("two runs at once (one rejected) leave the valid config live and serving", async () => {
    const { haproxy, render } = await setup({ blue: 100, green: 0 });
    const valid = render({ blue: 0, green: 100 });
    const rejected = resealed(render({ blue: 1, green: 1 }), (body) => body.replace("balance roundrobin", "balance sideways"));
    const [a, b] = await Promise.all([runDocument(haproxy, valid), runDocument(haproxy, rejected)]);
    assert.strictEqual(a.status, 0, a.stderr);
    assert.strictEqual(b.status, 1, b.stderr);
    assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), valid);
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });
  });

  it("the substituted script passes shellcheck -s sh", () => {
    const script = substituteParameters(renderDeliveryScript(), PARAMETERS);
    assert.doesNotMatch(script, /\{\{/, "every document parameter is substituted");
    const file = path.join(scratchDir("shellcheck"), "deliver.sh");
    fs.writeFileSync(file, script);
    const result = spawnSync("shellcheck", ["-s", "sh", file], { encoding: "utf8", timeout: 60_000 });
    if (result.error) throw result.error;
    assert.strictEqual(result.status, 0, `shellcheck:\n${result.stdout}${result.stderr}`);
  });

  it("the document is schema 2.2 with five constrained parameters and one shell step running the script", () => {
    const document = JSON.parse(renderDeliveryDocument());
    assert.strictEqual(document.schemaVersion, "2.2");
    assert.deepStrictEqual(Object.keys(document.parameters).sort(), ["parameterName", "parameterVersion", "planVersion", "planWeights", "region"]);
    for (const [name, spec] of Object.entries(DELIVERY_PARAMETERS)) {
      const parameter = document.parameters[name];
      assert.strictEqual(parameter.type, "String", name);
      assert.strictEqual(typeof parameter.allowedPattern, "string", name);
      assert.strictEqual(parameter.allowedPattern, spec.pattern, name);
      assert.ok(new RegExp(parameter.allowedPattern).test(PARAMETERS[name as keyof typeof PARAMETERS]), name);
    }
    assert.strictEqual(document.mainSteps.length, 1);
    const [step] = document.mainSteps;
    assert.strictEqual(step.action, "aws:runShellScript");
    assert.ok(Array.isArray(step.inputs.runCommand));
    assert.strictEqual(step.inputs.runCommand.join("\n"), renderDeliveryScript());
  });

  it("substituteParameters refuses values with shell syntax", () => {
    const script = renderDeliveryScript();
    assert.throws(
      () => substituteParameters(script, { ...PARAMETERS, parameterName: "x'; rm -rf /; '" }),
      /parameterName "x'; rm -rf \/; '" does not match/,
    );
    assert.throws(() => substituteParameters(script, { ...PARAMETERS, parameterVersion: "7 || reboot" }), /parameterVersion/);
    assert.throws(() => substituteParameters(script, { ...PARAMETERS, region: "eu-west-1$(id)" }), /region/);
  });
});

describe("cloud-init user data", function () {
  this.timeout(60_000);
  afterEach(cleanUp);

  const ENVIRONMENT = { image: "registry.example.com/shop/web:2.0", port: 8080 };
  const DISTRIBUTOR = { image: "haproxy:2.6.12", listenPort: 80, statsPort: 8404 };
  const userData = {
    environment: () => renderEnvironmentUserData(ENVIRONMENT),
    distributor: () => renderDistributorUserData(DISTRIBUTOR),
  };

  function schemaCheck(text: string): { status: number | null; output: string; stdout: string } {
    const file = path.join(scratchDir("cloud-init"), "user-data");
    fs.writeFileSync(file, text);
    const result = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8", timeout: 60_000 });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, output: `${result.stdout}${result.stderr}` };
  }

  /** Words of the unit's ExecStart line, and the values that follow each given option. */
  function execStart(document: any, unitPath: string): { line: string; args: string[]; values: (option: string) => string[] } {
    const unit = document.write_files.find((file: { path: string }) => file.path === unitPath);
    assert.ok(unit, `no ${unitPath} in write_files`);
    const lines = (unit.content as string).split("\n").filter((l) => l.startsWith("ExecStart="));
    assert.strictEqual(lines.length, 1, unit.content);
    const line = lines[0].slice("ExecStart=".length);
    const args = line.split(" ");
    return {
      line,
      args,
      values: (option) => args.flatMap((arg, i) => (arg === option ? [args[i + 1]] : [])),
    };
  }

  for (const [name, render] of Object.entries(userData)) {
    it(`${name}: cloud-init's schema accepts it`, () => {
      const result = schemaCheck(render());
      assert.strictEqual(result.status, 0, result.output);
      assert.ok(result.stdout.includes("Valid cloud-config"), result.output);
    });

    it(`${name}: cloud-init's schema check can fail (packages: 5)`, () => {
      const text = render();
      const broken = text.replace("packages:\n  - docker\n", "packages: 5\n");
      assert.notStrictEqual(broken, text, "the replacement must change the user data");
      const result = schemaCheck(broken);
      assert.notStrictEqual(result.status, 0, result.output);
      assert.match(result.output, /packages: 5 is not of type 'array'/);
    });

    it(`${name}: #cloud-config, Docker from the distribution, exec-form runcmd, no weights`, () => {
      const text = render();
      assert.strictEqual(text.split("\n")[0], "#cloud-config");
      const document = parse(text);
      assert.deepStrictEqual(document.packages, ["docker"]);
      assert.ok(Array.isArray(document.runcmd) && document.runcmd.length > 0);
      for (const entry of document.runcmd) {
        assert.ok(Array.isArray(entry), `runcmd entry ${JSON.stringify(entry)} is not in exec form`);
        assert.ok(entry.every((word: unknown) => typeof word === "string"), JSON.stringify(entry));
      }
      assert.doesNotMatch(text, /weight/i);
    });
  }

  const UNITS = { environment: "traffic-distributor-app.service", distributor: "traffic-distributor.service" };
  for (const [name, render] of Object.entries(userData)) {
    it(`${name}: the container's json-file log rotates (5 files of 10 MB)`, () => {
      const start = execStart(parse(render()), `/etc/systemd/system/${UNITS[name as keyof typeof UNITS]}`);
      assert.deepStrictEqual(start.values("--log-driver"), ["json-file"]);
      assert.deepStrictEqual(start.values("--log-opt"), ["max-size=10m", "max-file=5"]);
      // Options come before the image: after it they would be the container's arguments.
      assert.ok(start.args.lastIndexOf("--log-opt") < start.args.length - 2, start.line);
    });

    it(`${name}: journald is bounded by a drop-in, applied before the unit starts`, function () {
      const document = parse(render());
      const dropIn = document.write_files.find((f: { path: string }) => f.path.startsWith("/etc/systemd/journald.conf.d/"));
      assert.ok(dropIn, "no journald drop-in in write_files");
      assert.match(dropIn.path, /\.conf$/);
      const lines = (dropIn.content as string).trim().split("\n");
      assert.strictEqual(lines[0], "[Journal]");
      const settings = Object.fromEntries(lines.slice(1).map((line) => line.split("=")));
      assert.deepStrictEqual(settings, { SystemMaxUse: "512M", SystemMaxFileSize: "64M", RuntimeMaxUse: "64M", MaxRetentionSec: "1month" });
      const restart = document.runcmd.findIndex((c: string[]) => c.join(" ") === "systemctl restart systemd-journald.service");
      const enable = document.runcmd.findIndex((c: string[]) => c.join(" ") === `systemctl enable --now ${UNITS[name as keyof typeof UNITS]}`);
      assert.ok(restart >= 0 && restart < enable, JSON.stringify(document.runcmd));
      // Each key is one journald knows (its parser table lists "Journal.<key>").
      const journald = ["/usr/lib/systemd/systemd-journald", "/lib/systemd/systemd-journald"].find((f) => fs.existsSync(f));
      if (journald === undefined) return this.skip();
      const binary = fs.readFileSync(journald).toString("latin1");
      for (const key of Object.keys(settings)) assert.ok(binary.includes(`Journal.${key}`), `journald does not know ${key}`);
      assert.ok(!binary.includes("Journal.SystemMaxUsage"), "the key check cannot fail");
    });
  }

  it("environment: the unit publishes the app's port and runs its image", () => {
    const document = parse(userData.environment());
    const unit = "traffic-distributor-app.service";
    const start = execStart(document, `/etc/systemd/system/${unit}`);
    assert.deepStrictEqual(start.args.slice(0, 2), ["/usr/bin/docker", "run"]);
    assert.deepStrictEqual(start.values("--publish"), ["8080:8080"]);
    assert.strictEqual(start.args[start.args.length - 1], ENVIRONMENT.image);
    assert.deepStrictEqual(document.runcmd[document.runcmd.length - 1], ["systemctl", "enable", "--now", unit]);
  });

  it("distributor: public port to 8080, stats on loopback only, the config directory mounted", () => {
    const document = parse(userData.distributor());
    const unit = "traffic-distributor.service";
    const start = execStart(document, `/etc/systemd/system/${unit}`);
    assert.deepStrictEqual(start.args.slice(0, 2), ["/usr/bin/docker", "run"]);
    assert.ok(start.line.includes("--publish 80:8080"), start.line);
    assert.ok(start.line.includes("--publish 127.0.0.1:8404:8404"), start.line);
    // Nothing else is published: in particular not the stats port on every interface.
    assert.deepStrictEqual(start.values("--publish"), ["80:8080", "127.0.0.1:8404:8404"]);
    assert.deepStrictEqual(start.values("--volume"), ["/etc/traffic-distributor:/usr/local/etc/haproxy"]);
    assert.strictEqual(start.args[start.args.length - 1], DISTRIBUTOR.image);
    assert.deepStrictEqual(document.runcmd[document.runcmd.length - 1], ["systemctl", "enable", "--now", unit]);
  });

  it("distributor: the bootstrap haproxy.cfg passes haproxy -c", () => {
    const document = parse(userData.distributor());
    const file = document.write_files.find((f: { path: string }) => f.path === "/etc/traffic-distributor/haproxy.cfg");
    assert.ok(file, "no /etc/traffic-distributor/haproxy.cfg in write_files");
    assert.strictEqual(file.content, renderBootstrapConfig());
    const check = checkConfig(file.content);
    assert.ok(check.ok, check.output);
    // The check is not vacuous: a broken copy fails it.
    assert.strictEqual(checkConfig(`${file.content}\n    balance sideways\n`).ok, false);
  });
});

describe("deliverThroughSsm (fake SSM client)", () => {
  const INPUTS = {
    instanceId: "i-0123456789abcdef0",
    documentName: "shop-distributor-deliver-config",
    parameterName: PARAMETERS.parameterName,
    parameterVersion: 7,
    region: PARAMETERS.region,
    plan: { version: 1 as const, weights: "app/blue_x=1 app/green_y=3" },
  };
  const COMMAND_ID = "5b2f6c1e-0000-4000-8000-1234567890ab";

  type Answer = { result: unknown } | { error: Error };

  function awsError(name: string, message = name): Error {
    const error = new Error(message);
    error.name = name;
    return error;
  }

  /** Answers each command from its queue; when a queue is empty, from its fallback (bounded). */
  class FakeSsm implements SsmSender {
    readonly calls: Array<{ name: string; input: any }> = [];
    constructor(
      private readonly queues: Record<string, Answer[]>,
      private readonly fallbacks: Record<string, Answer> = {},
      private readonly maxCalls = 1000,
    ) {}

    async send(command: ssm.SendCommandCommand | ssm.GetCommandInvocationCommand): Promise<any> {
      const name = command.constructor.name;
      this.calls.push({ name, input: command.input });
      if (this.calls.length > this.maxCalls) throw new Error(`fake SSM: more than ${this.maxCalls} calls`);
      const answer = this.queues[name]?.shift() ?? this.fallbacks[name];
      if (!answer) throw new Error(`fake SSM: no answer scripted for call ${this.calls.length} (${name})`);
      if ("error" in answer) throw answer.error;
      return answer.result;
    }

    named(name: string): any[] {
      return this.calls.filter((call) => call.name === name).map((call) => call.input);
    }
  }

  class FakeClock implements DeliveryClock {
    ms = 0;
    readonly sleeps: number[] = [];
    now(): number {
      return this.ms;
    }
    async sleep(ms: number): Promise<void> {
      this.sleeps.push(ms);
      this.ms += ms;
    }
  }

  const sent = { result: { Command: { CommandId: COMMAND_ID } } };

  it("sends the document with the parameter version, waits through pending states, resolves with the output", async () => {
    const client = new FakeSsm({
      SendCommandCommand: [sent],
      GetCommandInvocationCommand: [
        { error: awsError("InvocationDoesNotExist") },
        { result: { Status: "InProgress" } },
        { result: { Status: "Success", StandardOutputContent: " reloaded \n" } },
      ],
    });
    const clock = new FakeClock();
    assert.strictEqual(await deliverThroughSsm(INPUTS, client, ssm, clock), "reloaded");

    assert.deepStrictEqual(
      client.calls.map((call) => call.name),
      ["SendCommandCommand", "GetCommandInvocationCommand", "GetCommandInvocationCommand", "GetCommandInvocationCommand"],
    );
    const [send] = client.named("SendCommandCommand");
    assert.deepStrictEqual(send.InstanceIds, [INPUTS.instanceId]);
    assert.strictEqual(send.DocumentName, INPUTS.documentName);
    assert.deepStrictEqual(send.Parameters, {
      parameterName: ["shop-distributor-config-a1b2c3d"],
      parameterVersion: ["7"],
      region: ["eu-west-1"],
      planVersion: ["1"],
      planWeights: ["app/blue_x=1 app/green_y=3"],
    });
    for (const get of client.named("GetCommandInvocationCommand")) {
      assert.deepStrictEqual(get, { CommandId: COMMAND_ID, InstanceId: INPUTS.instanceId });
    }
    assert.deepStrictEqual(clock.sleeps, [3000, 3000, 3000]);
  });

  it("retries SendCommand while a new instance is not registered with SSM yet", async () => {
    const client = new FakeSsm({
      SendCommandCommand: [{ error: awsError("InvalidInstanceId") }, { error: awsError("InvalidInstanceId") }, sent],
      GetCommandInvocationCommand: [{ result: { Status: "Success", StandardOutputContent: "reloaded\n" } }],
    });
    const clock = new FakeClock();
    assert.strictEqual(await deliverThroughSsm(INPUTS, client, ssm, clock), "reloaded");
    assert.strictEqual(client.named("SendCommandCommand").length, 3);
    assert.strictEqual(client.named("GetCommandInvocationCommand").length, 1);
    assert.deepStrictEqual(clock.sleeps, [10_000, 10_000, 3000]);
  });

  it("gives up on an instance that never registers, after the timeout", async () => {
    const client = new FakeSsm({}, { SendCommandCommand: { error: awsError("InvalidInstanceId") } });
    const clock = new FakeClock();
    await assert.rejects(deliverThroughSsm(INPUTS, client, ssm, clock, 60), /did not register with SSM within 60 s/);
    // Sends at 0, 10, ..., 70 s; the first failure after the 60 s deadline ends it.
    assert.strictEqual(client.named("SendCommandCommand").length, 8);
    assert.strictEqual(clock.ms, 70_000);
  });

  it("rejects with the status, the command id and the script's error output when the run fails", async () => {
    const stderr =
      "traffic-distributor: HAProxy in traffic-distributor rejected the new config; the running config is unchanged:\n" +
      "[ALERT]    (1) : config : parsing [haproxy.cfg.next:24] : 'balance' only supports 'roundrobin', ...";
    const client = new FakeSsm({
      SendCommandCommand: [sent],
      GetCommandInvocationCommand: [
        { result: { Status: "InProgress" } },
        { result: { Status: "Failed", StatusDetails: "Failed", StandardOutputContent: "", StandardErrorContent: `${stderr}\n` } },
      ],
    });
    await assert.rejects(deliverThroughSsm(INPUTS, client, ssm, new FakeClock()), (error: Error) => {
      assert.ok(error.message.includes("ended Failed"), error.message);
      assert.ok(error.message.includes(COMMAND_ID), error.message);
      assert.ok(error.message.includes(stderr), error.message);
      return true;
    });
    assert.strictEqual(client.named("GetCommandInvocationCommand").length, 2);
  });

  it("rethrows an unexpected SendCommand error unchanged, without retrying", async () => {
    const denied = awsError("AccessDeniedException", "User is not authorized to perform: ssm:SendCommand");
    const client = new FakeSsm({ SendCommandCommand: [{ error: denied }] });
    const clock = new FakeClock();
    await assert.rejects(deliverThroughSsm(INPUTS, client, ssm, clock), (error: unknown) => error === denied);
    assert.strictEqual(client.calls.length, 1);
    assert.deepStrictEqual(clock.sleeps, []);
  });

  it("stops waiting for a run that stays InProgress after the timeout", async () => {
    const client = new FakeSsm({ SendCommandCommand: [sent] }, { GetCommandInvocationCommand: { result: { Status: "InProgress" } } });
    const clock = new FakeClock();
    await assert.rejects(deliverThroughSsm(INPUTS, client, ssm, clock, 60), /still InProgress after 60 s/);
    // One poll every 3 s; the first InProgress answer after the 60 s deadline (at 63 s) ends it.
    assert.strictEqual(client.named("GetCommandInvocationCommand").length, 21);
    assert.strictEqual(clock.ms, 63_000);
    assert.ok(clock.sleeps.every((ms) => ms === 3000));
  });
});

describe("the delivery provider as Pulumi serializes it, against a local SSM endpoint", function () {
  this.timeout(30_000);
  const saved = { ...process.env };
  let server: http.Server | undefined;

  afterEach(async () => {
    process.env = { ...saved };
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  /** An SSM endpoint on loopback that answers the two calls of the delivery (AWS JSON 1.1). */
  async function fakeSsm(invocation: Record<string, unknown>): Promise<Array<{ target: string; body: any }>> {
    const calls: Array<{ target: string; body: any }> = [];
    server = http.createServer((request, response) => {
      let text = "";
      request.on("data", (chunk) => (text += chunk));
      request.on("end", () => {
        const target = String(request.headers["x-amz-target"]);
        calls.push({ target, body: JSON.parse(text) });
        const answer = target === "AmazonSSM.SendCommand" ? { Command: { CommandId: "cmd-0123" } } : invocation;
        response.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
        response.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const { port } = server!.address() as AddressInfo;
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${port}`,
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret",
    });
    delete process.env.AWS_PROFILE;
    return calls;
  }

  /** The provider text a ConfigDelivery hands to Pulumi, loaded the way the provider host loads it. */
  async function serializedProvider(): Promise<pulumi.dynamic.ResourceProvider> {
    registered.length = 0;
    const delivery = new ConfigDelivery("probe", {
      instanceId: "i-0123456789abcdef0",
      documentName: "doc",
      parameterName: "p",
      parameterVersion: 1,
      region: "eu-west-1",
    });
    await promiseOf(delivery.urn);
    const text = registered.find((r) => r.name === "probe")!.inputs.__provider as string;
    const file = path.join(scratchDir("provider"), "provider.js");
    fs.writeFileSync(file, text);
    // The provider host evaluates the text as a module of the program, where node_modules is.
    const loaded = new Module(file, module);
    loaded.filename = file;
    loaded.paths = module.paths;
    (loaded as any)._compile(text, file);
    return loaded.exports.handler();
  }

  const inputs = {
    instanceId: "i-0123456789abcdef0",
    documentName: "shop-distributor-deliver-config-e4f5a6b",
    parameterName: "shop-distributor-config-a1b2c3d",
    parameterVersion: 7,
    region: "eu-west-1",
  };

  it("creates by sending the document and resolving with the script's output", async () => {
    const calls = await fakeSsm({ Status: "Success", StandardOutputContent: "traffic-distributor: reloaded\n" });
    const provider = await serializedProvider();
    const result = await provider.create!(inputs);
    assert.deepStrictEqual(result.outs, { ...inputs, report: "traffic-distributor: reloaded" });
    assert.strictEqual(result.id, "i-0123456789abcdef0/shop-distributor-config-a1b2c3d");
    assert.deepStrictEqual(calls.map((c) => c.target), ["AmazonSSM.SendCommand", "AmazonSSM.GetCommandInvocation"]);
    assert.deepStrictEqual(calls[0].body.Parameters, {
      parameterName: ["shop-distributor-config-a1b2c3d"],
      parameterVersion: ["7"],
      region: ["eu-west-1"],
    });
    assert.deepStrictEqual(calls[1].body, { CommandId: "cmd-0123", InstanceId: "i-0123456789abcdef0" });
  });

  it("fails an update with the host's error output when the delivery fails", async () => {
    await fakeSsm({ Status: "Failed", StandardErrorContent: "HAProxy in traffic-distributor rejected the new config" });
    const provider = await serializedProvider();
    await assert.rejects(
      provider.update!("id", inputs, { ...inputs, parameterVersion: 8 }),
      /ended Failed \(SSM command cmd-0123\):\nHAProxy in traffic-distributor rejected the new config/,
    );
  });
});
