// The package as a user gets it: packed (its prepare step builds bin/), installed from the
// tarball into a scratch project with only the docker target's peers, a program that uses the
// exported arg types type-checked against the installed declarations, then run under mocks; its
// `traffic-distributor` command run in that project, on the project's own stack config.
import * as assert from "assert";
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { promisify } from "util";

const run = promisify(execFile);
const ROOT = path.join(__dirname, "..");
const FIXTURE = path.join(__dirname, "fixtures", "consumer");

describe("the packed package in a user's project (docker peers only)", function () {
  this.timeout(600_000);
  let dir: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "td-consumer-"));
    const { stdout } = await run("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: ROOT, maxBuffer: 1 << 24 });
    const tarball = path.join(dir, stdout.trim().split("\n").pop()!);
    const own = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const dev = own.devDependencies as Record<string, string>;
    fs.writeFileSync(
      path.join(dir, "package.json"),
      JSON.stringify({
        name: "consumer",
        private: true,
        dependencies: {
          "traffic-distributor": `file:${tarball}`,
          ...Object.fromEntries(["@pulumi/pulumi", "@pulumi/docker", "@pulumi/command", "@pulumi/tls"].map((name) => [name, dev[name]])),
        },
      }),
    );
    // npm installs peers it is not told to skip; the optional ones stay out unless listed.
    await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: dir, maxBuffer: 1 << 24 });
    for (const file of ["index.ts", "run.js", "Pulumi.yaml", "Pulumi.dev.yaml", "without-aws-sdk.js"]) fs.copyFileSync(path.join(FIXTURE, file), path.join(dir, file));
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("installs without @pulumi/aws, ships no tests or bench, and fences its internals", () => {
    assert.ok(!fs.existsSync(path.join(dir, "node_modules", "@pulumi", "aws")), "@pulumi/aws was installed");
    const installed = path.join(dir, "node_modules", "traffic-distributor");
    assert.ok(fs.existsSync(path.join(installed, "bin", "components", "index.d.ts")));
    assert.ok(fs.existsSync(path.join(installed, "docs", "configuration.md")));
    assert.ok(fs.existsSync(path.join(installed, "images", "acme-client", "Dockerfile")), "the ACME client's Dockerfile");
    for (const absent of ["test", "bench", "infra"]) assert.ok(!fs.existsSync(path.join(installed, absent)), absent);
    assert.throws(() => require(require.resolve("traffic-distributor/bin/components/settings", { paths: [dir] })), /ERR_PACKAGE_PATH_NOT_EXPORTED|not exported/);
  });

  it("type-checks a program that uses the exported arg types, and runs it under mocks on docker", async () => {
    const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
    await run(process.execPath, [tsc, "--strict", "--target", "ES2020", "--module", "commonjs", "--esModuleInterop", "--skipLibCheck", "--types", "node", "--typeRoots", path.join(ROOT, "node_modules", "@types"), "index.ts"], { cwd: dir }).catch(
      (error: { stdout?: string }) => assert.fail(`tsc: ${error.stdout}`),
    );
    const { stdout } = await run(process.execPath, ["run.js"], { cwd: dir, timeout: 120_000 });
    const [fromConfig, typesLine] = stdout.trim().split("\n").slice(-2);
    // stackConfigArgs() read the `shop:` keys (the project's namespace) and kept the password a secret.
    assert.deepStrictEqual(JSON.parse(fromConfig), { configured: { listenPort: 8088, routing: "sticky" }, secret: true });
    const types = JSON.parse(typesLine) as string[];
    assert.ok(types.includes("traffic-distributor:index:TrafficDistributor"), types.join(" "));
    assert.ok(types.some((t) => t.startsWith("docker:")) && !types.some((t) => t.startsWith("aws:")), types.join(" "));
  });

  /** Runs the installed `traffic-distributor` (its bin link, so its `#!` line and mode count) in the project. */
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(path.join(dir, "node_modules", ".bin", "traffic-distributor"), args, { cwd: dir, env: { ...process.env, ...env }, timeout: 120_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code, stdout: error.stdout ?? "", stderr: error.stderr ?? "" }),
    );

  it("--help lists render and status; an unknown command is an error", async () => {
    const help = await cli(["--help"]);
    assert.strictEqual(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: traffic-distributor <command>/);
    assert.match(help.stdout, /\n  render /);
    assert.match(help.stdout, /\n  status /);
    const unknown = await cli(["rendr", "--stack", "dev"]);
    assert.strictEqual(unknown.code, 1);
    assert.match(unknown.stderr, /^traffic-distributor: unknown command "rendr": the commands are render, status/);
  });

  it("render --stack dev reads Pulumi.yaml's name as the namespace and Pulumi.dev.yaml's keys", async () => {
    const { code, stdout, stderr } = await cli(["render", "--stack", "dev"]);
    assert.strictEqual(code, 0, stderr);
    const servers = stdout.split("\n").filter((line) => /^\s+server (blue|green)_dev-/.test(line));
    // shop:weight.blue "0", one blue replica, three green ones at the default weight.
    assert.deepStrictEqual(servers.map((line) => line.match(/server (blue|green)_dev-\w+-(\d)-[0-9a-f]+ \S+ weight (\d+)/)!.slice(1).join(" ")), ["blue 0 0", "green 0 1", "green 1 1", "green 2 1"]);
    assert.match(stdout, /stats auth admin:'consumer-pass-1'/);
    // A key the project sets wrong is named with the project's namespace, and nothing is printed.
    const bad = await cli(["render", "--stack", "dev", "--set", "weight.green=lots"]);
    assert.deepStrictEqual([bad.code, bad.stdout], [1, ""]);
    assert.match(bad.stderr, /^traffic-distributor render: shop:weight\.green is "lots"/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  });

  it("status with a container that does not exist fails clearly, exit 1, no stack trace; aws without the AWS SDK says what to install", async () => {
    const missing = await cli(["status", "--stack", "dev", "--container", "does-not-exist"]);
    assert.deepStrictEqual([missing.code, missing.stdout], [1, ""]);
    assert.match(missing.stderr, /^traffic-distributor status: docker exec does-not-exist failed \(\d+\): \S/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
    // The SSM client loads only for an aws distributor: docker and render run without it.
    const preload = { NODE_OPTIONS: `--require ${path.join(dir, "without-aws-sdk.js")}` };
    assert.strictEqual((await cli(["render", "--stack", "dev"], preload)).code, 0);
    const sameWithout = await cli(["status", "--stack", "dev", "--container", "does-not-exist"], preload);
    assert.deepStrictEqual([sameWithout.code, sameWithout.stderr], [1, missing.stderr]);
    const aws = await cli(["status", "--stack", "dev", "--instance-id", "i-0123456789abcdef0", "--region", "eu-west-1"], preload);
    assert.strictEqual(aws.code, 1);
    assert.match(aws.stderr, /^traffic-distributor status: an aws distributor is reached through SSM, with @aws-sdk\/client-ssm: install it/);
  });
});
