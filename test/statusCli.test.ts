// The command line (`traffic-distributor render|status`, `npm run render|status` here): status's
// arguments, how it finds the distributor, its SSM round trip (fake client); the dispatcher; render
// in a user's own project.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as ssm from "@aws-sdk/client-ssm";
import { runCli } from "../components/cli/main";
import { renderStack } from "../components/cli/render";
import { locateDistributor, LocatorDeps, machineDeps, parseStatusArgs, probeThroughSsm, ssmProbeCommand } from "../components/cli/status";
import { PROBE_SCRIPT } from "../components/distributorStatus";

function deps(outputs?: Record<string, unknown>, region?: string, env: NodeJS.ProcessEnv = {}): LocatorDeps & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    env,
    stackOutputs: async (stack) => (asked.push(`outputs ${stack}`), outputs),
    stackRegion: async (stack) => (asked.push(`region ${stack}`), region),
  };
}

describe("npm run status: arguments and locating the distributor", () => {
  it("parses its flags and names a bad one with what is allowed", () => {
    assert.deepStrictEqual(parseStatusArgs(["--stack", "shop", "--json"]), { stack: "shop", json: true, container: undefined, instanceId: undefined, region: undefined });
    assert.strictEqual(parseStatusArgs(["--stack=shop", "--instance-id=i-0123456789abcdef0"]).instanceId, "i-0123456789abcdef0");
    const bad: Array<[string[], RegExp]> = [
      [[], /--stack NAME is required/],
      [["--stack", "shop", "--container", "x; rm -rf /"], /--container is "x; rm -rf \/": must be a Docker container name/],
      [["--stack", "shop", "--instance-id", "i-xyz"], /--instance-id is "i-xyz": must be an EC2 instance ID/],
      [["--stack", "shop", "--region", "moon"], /--region is "moon": must be an AWS region/],
      [["--stack", "shop", "--container", "a", "--instance-id", "i-0123456789abcdef0"], /both set/],
      [["--stack", "shop", "--verbose"], /unknown argument --verbose/],
      [["--stack", "Bad Name"], /SettingsError/],
    ];
    for (const [argv, message] of bad) assert.throws(() => parseStatusArgs(argv), message, argv.join(" "));
  });

  it("finds the distributor from the flags, then the stack's outputs, then the program's naming", async () => {
    const options = parseStatusArgs(["--stack", "shop"]);
    assert.deepStrictEqual(await locateDistributor(parseStatusArgs(["--stack", "shop", "--container", "c1"]), deps({ distributorId: "other" })), { target: "docker", container: "c1" });
    assert.deepStrictEqual(await locateDistributor(options, deps({ distributorId: "shop-distributor" })), { target: "docker", container: "shop-distributor" });
    assert.deepStrictEqual(await locateDistributor(options, deps(undefined)), { target: "docker", container: "shop-distributor" });
    const aws = deps({ distributorId: "i-0123456789abcdef0" }, "eu-west-1");
    assert.deepStrictEqual(await locateDistributor(options, aws), { target: "aws", instanceId: "i-0123456789abcdef0", region: "eu-west-1" });
    assert.deepStrictEqual(aws.asked, ["outputs shop", "region shop"]);
    const fromEnv = await locateDistributor(options, deps({ distributorId: "i-0123456789abcdef0" }, undefined, { AWS_REGION: "us-east-1" }));
    assert.deepStrictEqual(fromEnv, { target: "aws", instanceId: "i-0123456789abcdef0", region: "us-east-1" });
    await assert.rejects(locateDistributor(options, deps({ distributorId: "i-0123456789abcdef0" })), /--region is "": must be an AWS region/);
    await assert.rejects(locateDistributor(options, deps({ distributorId: "$(reboot)" })), /distributorId output is "\$\(reboot\)"/);
  });

  it("runs the probe in the HAProxy container through SSM and returns its output", async () => {
    assert.ok(!PROBE_SCRIPT.includes("'"), "the probe must fit in single quotes");
    const sent: any[] = [];
    let polls = 0;
    const client = {
      async send(command: any) {
        sent.push(command.input);
        if (command.name === "send") return { Command: { CommandId: "cmd-1" } };
        polls++;
        if (polls === 1) throw Object.assign(new Error("not yet"), { name: "InvocationDoesNotExist" });
        return polls === 2 ? { Status: "InProgress" } : { Status: "Success", StandardOutputContent: "probe output" };
      },
    };
    const sdk = {
      SendCommandCommand: class { name = "send"; constructor(public input: unknown) {} },
      GetCommandInvocationCommand: class { name = "get"; constructor(public input: unknown) {} },
    } as unknown as Pick<typeof ssm, "SendCommandCommand" | "GetCommandInvocationCommand">;
    const output = await probeThroughSsm("i-0123456789abcdef0", client, sdk, async () => undefined);
    assert.strictEqual(output, "probe output");
    assert.strictEqual(sent[0].DocumentName, "AWS-RunShellScript");
    assert.deepStrictEqual(sent[0].Parameters.commands, [ssmProbeCommand()]);
    assert.match(ssmProbeCommand(), /^'docker' 'exec' 'traffic-distributor' 'perl' '-MIO::Socket::UNIX' '-e' 'my \(\$sock/);
    assert.deepStrictEqual(sent[1], { CommandId: "cmd-1", InstanceId: "i-0123456789abcdef0" });
    assert.strictEqual(sent.length, 4);
  });
});

/** Runs the command line and collects what it prints. */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
  return { code, stdout, stderr };
}

describe("traffic-distributor: the command line", () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-cli-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A user's project "shop" with its stack files in `stackDir`, and a dev stack with these keys. */
  function project(config: Record<string, unknown>, stackDir?: string): string {
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: shop\nruntime: nodejs\n${stackDir ? `stackConfigDir: ${stackDir}\n` : ""}`);
    const stacks = path.join(dir, stackDir ?? ".");
    fs.mkdirSync(stacks, { recursive: true });
    fs.writeFileSync(path.join(stacks, "Pulumi.dev.yaml"), `config:\n${Object.entries(config).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`).join("")}`);
    return dir;
  }

  it("--help lists both commands; a command's --help its options; an unknown command or none exits 1", async () => {
    const help = await cli("--help");
    assert.strictEqual(help.code, 0);
    assert.match(help.stdout, /^usage: traffic-distributor <command>/);
    assert.match(help.stdout, /\n  render +print the HAProxy config/);
    assert.match(help.stdout, /\n  status +ask the running distributor/);
    const renderHelp = await cli("render", "--help");
    assert.strictEqual(renderHelp.code, 0);
    assert.match(renderHelp.stdout, /--namespace NS/);
    const unknown = await cli("deploy", "--stack", "dev");
    assert.strictEqual(unknown.code, 1);
    assert.match(unknown.stderr, /^traffic-distributor: unknown command "deploy": the commands are render, status\n/);
    assert.strictEqual((await cli()).code, 1);
    const bad = await cli("render", "--stack");
    assert.deepStrictEqual([bad.code, bad.stdout], [1, ""]);
    assert.match(bad.stderr, /^traffic-distributor render: --stack needs a value: usage: traffic-distributor render --stack NAME/);
  });

  it("render reads the user's project: its name is the namespace, stackConfigDir holds the stack files", async () => {
    const cwd = project({ "shop:weight.blue": "0", "shop:statsPassword": "shop-pass-1", "shop:blue.replicas": "1", "aws:region": "eu-west-1" }, "config");
    const config = renderStack({ stack: "dev", cwd: path.join(cwd, "config") });
    // blue's servers at weight 0, green's at the default; the containers named after the stack.
    assert.match(config, /server blue_dev-blue-0-[0-9a-f]+ \S+ weight 0\b/);
    assert.doesNotMatch(config, /server blue_dev-blue-1/);
    assert.match(config, /server green_dev-green-1-[0-9a-f]+ \S+ weight [1-9]/);
    assert.match(config, /stats auth admin:'shop-pass-1'/);
    // --name: the program's name for the component; --set: a key as `pulumi config set` stores it.
    assert.match(renderStack({ stack: "dev", cwd, name: "web", set: ["weight.blue=5"] }), /server blue_web-blue-0-[0-9a-f]+ \S+ weight [1-9]/);
    // Its errors name the user's keys and files.
    assert.throws(() => renderStack({ stack: "dev", cwd, set: ["weight.blue=lots"] }), /shop:weight\.blue is "lots"/);
    assert.throws(() => renderStack({ stack: "prod", cwd }), /no stack file .*config\/Pulumi\.prod\.yaml/);
    // Keys of another namespace are not the distributor's: --namespace reads them.
    fs.writeFileSync(path.join(cwd, "config", "Pulumi.dev.yaml"), 'config:\n  td:weight.green: "0"\n  td:statsPassword: td-pass-12\n  shop:dbUrl: x\n');
    assert.throws(() => renderStack({ stack: "dev", cwd }), /unknown config shop:dbUrl/);
    assert.match(renderStack({ stack: "dev", cwd, namespace: "td" }), /server green_dev-green-0-[0-9a-f]+ \S+ weight 0\b/);
    const outside = await cli("render", "--stack", "dev", "--cwd", os.tmpdir());
    assert.strictEqual(outside.code, 1);
    assert.match(outside.stderr, /^traffic-distributor render: .*no Pulumi\.yaml in /);
  });

  it("status runs the Pulumi CLI in the user's project (--cwd) for the stack's distributorId", async () => {
    // A stand-in `pulumi` that answers with the folder it runs in.
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "td-cli-bin-"));
    fs.writeFileSync(path.join(bin, "pulumi"), '#!/bin/sh\nprintf \'{"distributorId": "%s"}\' "$(basename "$PWD")"\n', { mode: 0o755 });
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}${path.delimiter}${savedPath}`;
    try {
      const shop = path.join(dir, "shop-app");
      fs.mkdirSync(shop);
      const options = parseStatusArgs(["--stack", "dev", "--cwd", shop]);
      assert.strictEqual(options.cwd, shop);
      assert.deepStrictEqual(await locateDistributor(options, machineDeps(options.cwd)), { target: "docker", container: "shop-app" });
    } finally {
      process.env.PATH = savedPath;
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });
});
