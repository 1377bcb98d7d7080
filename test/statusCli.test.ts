// npm run status's arguments, how it finds the distributor, and its SSM round trip (fake client).
import * as assert from "assert";
import type * as ssm from "@aws-sdk/client-ssm";
import { locateDistributor, LocatorDeps, parseStatusArgs, probeThroughSsm, ssmProbeCommand } from "../scripts/status";
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
