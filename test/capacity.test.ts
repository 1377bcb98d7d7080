// Threads and connections: the memory model's figures, the instance types it knows, the
// defaults each target gets, and the lines the renderer writes (checked by the HAProxy on PATH).
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { CONNECTION_COSTS, connectionCost, connectionsHeldBy, hasSmallBuffers, instanceTypeMemoryMiB, MAX_CONNECTIONS } from "../components/capacity";
import { renderHaproxyConfig } from "../components/haproxyConfig";
import { renderInput } from "../components/trafficDistributor";
import { TrafficDistributorArgs, validateTrafficDistributorArgs } from "../components/trafficDistributorArgs";
import { checkConfig, tempDir } from "./haproxy";
import { STATS_PASSWORD } from "./statsPassword";

const servers = { blue: [{ host: "127.0.0.1", port: 19001 }], green: [{ host: "127.0.0.1", port: 19002 }] };
const globalLines = (config: string) => /\nglobal\n((?: {4}.*\n)+)/.exec(config)![1].split("\n").map((l) => l.trim()).filter(Boolean);

function settingsOf(args: TrafficDistributorArgs) {
  return validateTrafficDistributorArgs({ statsPassword: STATS_PASSWORD, ...args });
}

/**
 * The table of docs/configuration.md ("Capacity") users size their distributors by: each row's
 * connections with plain HTTP, with TLS, and on `haproxy:3.2.26` (plain), and the args that give it.
 */
const DOCUMENTED_CONNECTIONS: Array<[string, TrafficDistributorArgs, readonly [number, number, number]]> = [
  ["docker, 256 MiB (the default)", {}, [12_288, 4_282, 6_144]],
  ["docker, 512 MiB", { distributor: { memoryMb: 512 } }, [28_672, 10_240, 14_336]],
  ["aws `t3.micro` (1 GiB)", { target: "aws", aws: { distributorInstanceType: "t3.micro" } }, [36_864, 13_218, 18_432]],
  ["aws `t3.small` (2 GiB)", { target: "aws", aws: { distributorInstanceType: "t3.small" } }, [102_400, 37_050, 51_200]],
];

describe("capacity: threads and connections", () => {
  it("knows the memory of the burstable and the m, c, r families from the 5th generation, and no other", () => {
    const known: Array<[string, number]> = [
      ["t3.nano", 512],
      ["t3.micro", 1024],
      ["t4g.small", 2048],
      ["t2.2xlarge", 32_768],
      ["m7g.medium", 4096],
      ["m5.large", 8192],
      ["m6i.xlarge", 16_384],
      ["c6gn.4xlarge", 32_768],
      ["c7i-flex.large", 4096],
      ["r5.2xlarge", 65_536],
      ["m7i.48xlarge", 786_432],
    ];
    for (const [type, mib] of known) assert.strictEqual(instanceTypeMemoryMiB(type), mib, type);
    // Older generations have less per vCPU (m4.large 8 GiB, but c4.large 3.75, m3.medium 3.75);
    // other families and bare metal differ too: their memory is not guessed.
    for (const type of ["c4.large", "m3.medium", "r4.large", "t1.micro", "x2gd.large", "m5.metal", "mac1.metal", "p5.48xlarge", "t3.huge"]) {
      assert.strictEqual(instanceTypeMemoryMiB(type), undefined, type);
    }
  });

  it("knows which images keep L7 retries in small buffers: a tag of 3.4 or later, and no other", () => {
    for (const image of ["haproxy:3.4.7", "haproxy:3.4", "registry.example.com/ops/haproxy:3.10.1", "haproxy:4.0"]) assert.ok(hasSmallBuffers(image), image);
    for (const image of ["haproxy:3.2.26", "haproxy:3.3", "haproxy:lts", "haproxy", "haproxy:2.6.12", "example/haproxy34:latest"]) assert.ok(!hasSmallBuffers(image), image);
  });

  it("sizes connections from memory: the workers kept aside, each connection at its busiest", () => {
    const plain34 = connectionCost("haproxy:3.4.7", false);
    assert.deepStrictEqual(plain34, CONNECTION_COSTS.plain.smallBuffers);
    assert.deepStrictEqual(connectionCost("haproxy:3.2.26", true), CONNECTION_COSTS.tls.wholeBuffers);
    // (256 − 64) MiB at 16 KiB each: the documented figure of the default distributor.
    assert.strictEqual(connectionsHeldBy(256, plain34), 12_288);
    // Small buffers hold more in the same memory; TLS holds fewer.
    assert.ok(connectionsHeldBy(256, plain34) > connectionsHeldBy(256, connectionCost("haproxy:3.2.26", false)));
    assert.ok(connectionsHeldBy(256, connectionCost("haproxy:3.4.7", true)) < connectionsHeldBy(256, plain34));
    assert.strictEqual(connectionsHeldBy(plain34.workersMiB, plain34), 0);
    assert.strictEqual(connectionsHeldBy(16, plain34), 0);
    assert.strictEqual(connectionsHeldBy(1_048_576, plain34), MAX_CONNECTIONS);
    // A config rendered with no capacity given holds what the default distributor does: the
    // documented 12,288, more than the 4,096 of earlier releases (over TLS, 4,282: the table below).
    const bare = renderHaproxyConfig({ weights: { blue: 1, green: 1 }, routing: "round-robin", servers });
    assert.deepStrictEqual(globalLines(bare).filter((l) => l.startsWith("maxconn ")), ["maxconn 12288"]);
  });

  it("defaults: every CPU, and the connections docs/configuration.md's table gives per target, memory, image and TLS", () => {
    const docs = fs.readFileSync(path.join(__dirname, "..", "docs", "configuration.md"), "utf8").split("\n");
    const figure = (n: number) => n.toLocaleString("en-US");
    for (const [row, args, [plain, tls, wholeBuffers]] of DOCUMENTED_CONNECTIONS) {
      assert.ok(docs.includes(`| ${row} | ${figure(plain)} | ${figure(tls)} | ${figure(wholeBuffers)} |`), `docs/configuration.md's row "${row}" differs`);
      // No thread count: HAProxy runs one per CPU.
      assert.deepStrictEqual(settingsOf(args).capacity, { maxConnections: plain }, row);
      assert.strictEqual(settingsOf({ ...args, tls: { mode: "selfSigned", domains: ["app.example.com"] } }).capacity.maxConnections, tls, `${row}, TLS`);
      assert.strictEqual(settingsOf({ ...args, distributor: { ...args.distributor, image: "haproxy:3.2.26" } }).capacity.maxConnections, wholeBuffers, `${row}, 3.2`);
    }
    const aws = (type: string) => settingsOf({ target: "aws", aws: { distributorInstanceType: type } }).capacity.maxConnections;
    // 16 GiB hold more than the largest maxConnections allowed (250,000): that one.
    assert.strictEqual(aws("m7g.xlarge"), 250_000);
    // A type whose memory is unknown keeps the fixed figure of earlier releases (4,096), or the one given.
    assert.strictEqual(aws("x2gd.large"), 4_096);
    assert.strictEqual(settingsOf({ target: "aws", aws: { distributorInstanceType: "x2gd.large" }, distributor: { maxConnections: 200_000 } }).capacity.maxConnections, 200_000);
    assert.deepStrictEqual(settingsOf({ distributor: { threads: 2, maxConnections: 1000 } }).capacity, { threads: 2, maxConnections: 1000 });
  });

  it("renders no nbthread line by default, a pinned count when set, and the maxconn; HAProxy accepts both", () => {
    const placement = { bindAddress: "127.0.0.1", listenPort: 18080, statsPort: 18404, runtimeDir: tempDir("run"), instance: "capacity" };
    const render = (args: TrafficDistributorArgs) =>
      renderHaproxyConfig(renderInput(settingsOf({ blue: { servers: ["127.0.0.1:19001"] }, green: { servers: ["127.0.0.1:19002"] }, ...args }), servers, STATS_PASSWORD), placement);
    const all = render({});
    assert.ok(!globalLines(all).some((l) => l.startsWith("nbthread")), globalLines(all).join("\n"));
    assert.ok(globalLines(all).includes("maxconn 12288"), globalLines(all).join("\n"));
    const pinned = render({ distributorThreads: 2, distributorMaxConnections: 3000 });
    assert.ok(globalLines(pinned).includes("nbthread 2"));
    assert.ok(globalLines(pinned).includes("maxconn 3000"));
    for (const config of [all, pinned]) {
      const result = checkConfig(config);
      assert.ok(result.ok, result.output);
    }
  });
});
