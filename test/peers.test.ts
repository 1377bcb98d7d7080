// The optional peers: a program on docker runs without @pulumi/aws and the SSM client installed,
// one on aws without @pulumi/docker and @pulumi/command (each in a process where they cannot be
// resolved), and neither target's module is loaded for the other.
import * as assert from "assert";
import { execFile } from "child_process";
import * as path from "path";
import { promisify } from "util";

const run = promisify(execFile);
const FIXTURES = path.join(__dirname, "fixtures", "peers");

async function programWithout(target: string, without: string[]): Promise<string[]> {
  const { stdout } = await run(
    process.execPath,
    ["-r", path.join(FIXTURES, "without.js"), "-r", "ts-node/register/transpile-only", path.join(FIXTURES, "program.ts"), target],
    { env: { ...process.env, TD_WITHOUT: without.join(",") }, cwd: path.join(__dirname, ".."), timeout: 120_000 },
  );
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

describe("optional peer dependencies", function () {
  this.timeout(180_000);

  it("a docker program runs without @pulumi/aws and @aws-sdk/client-ssm", async () => {
    const providers = await programWithout("docker", ["@pulumi/aws", "@aws-sdk/client-ssm"]);
    assert.ok(providers.includes("docker") && providers.includes("command"), providers.join(" "));
    assert.ok(!providers.includes("aws"), providers.join(" "));
  });

  it("an aws program runs without @pulumi/docker and @pulumi/command", async () => {
    const providers = await programWithout("aws", ["@pulumi/docker", "@pulumi/command"]);
    assert.ok(providers.includes("aws"), providers.join(" "));
    assert.ok(!providers.includes("docker") && !providers.includes("command"), providers.join(" "));
  });

  it("the check can fail: a program that needs a package it cannot resolve exits with its name", async () => {
    await assert.rejects(programWithout("docker", ["@pulumi/docker"]), /Cannot find module '@pulumi\/docker'/);
  });
});
