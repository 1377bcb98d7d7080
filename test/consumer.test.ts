// The package as a user gets it: packed (its prepare step builds bin/), installed from the
// tarball into a scratch project with only the docker target's peers, a program that uses the
// exported arg types type-checked against the installed declarations, then run under mocks.
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
    for (const file of ["index.ts", "run.js"]) fs.copyFileSync(path.join(FIXTURE, file), path.join(dir, file));
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("installs without @pulumi/aws, ships no tests or bench, and fences its internals", () => {
    assert.ok(!fs.existsSync(path.join(dir, "node_modules", "@pulumi", "aws")), "@pulumi/aws was installed");
    const installed = path.join(dir, "node_modules", "traffic-distributor");
    assert.ok(fs.existsSync(path.join(installed, "bin", "components", "index.d.ts")));
    assert.ok(fs.existsSync(path.join(installed, "docs", "configuration.md")));
    for (const absent of ["test", "bench", "infra"]) assert.ok(!fs.existsSync(path.join(installed, absent)), absent);
    assert.throws(() => require(require.resolve("traffic-distributor/bin/components/settings", { paths: [dir] })), /ERR_PACKAGE_PATH_NOT_EXPORTED|not exported/);
  });

  it("type-checks a program that uses the exported arg types, and runs it under mocks on docker", async () => {
    const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
    await run(process.execPath, [tsc, "--strict", "--target", "ES2020", "--module", "commonjs", "--esModuleInterop", "--skipLibCheck", "--types", "node", "--typeRoots", path.join(ROOT, "node_modules", "@types"), "index.ts"], { cwd: dir }).catch(
      (error: { stdout?: string }) => assert.fail(`tsc: ${error.stdout}`),
    );
    const { stdout } = await run(process.execPath, ["run.js"], { cwd: dir, timeout: 120_000 });
    const types = JSON.parse(stdout.trim().split("\n").pop()!) as string[];
    assert.ok(types.includes("traffic-distributor:index:TrafficDistributor"), types.join(" "));
    assert.ok(types.some((t) => t.startsWith("docker:")) && !types.some((t) => t.startsWith("aws:")), types.join(" "));
  });
});
