import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { only, promiseOf, registered, settled } from "./mocks";

describe("infra program (mocks)", () => {
  after(() => pulumi.runtime.setAllConfig({}));

  it("reads stack config in both forms, names the component after the stack, and exports its outputs", async () => {
    pulumi.runtime.setAllConfig({
      // `pulumi config set weight.blue 0` beside the object form Pulumi.yaml defaults are stored in.
      "traffic-distributor:weight.blue": "0",
      "traffic-distributor:weight": '{"blue":"50","green":"30"}',
      "traffic-distributor:routing": "sticky",
      "traffic-distributor:green": '{"replicas":3}',
      "traffic-distributor:statsPassword": "s3cret-pass",
    });
    // Imported only now: the mocks and the config must be in place before the program runs.
    const program = await import("../infra");
    assert.deepStrictEqual(await promiseOf(program.weights), { blue: 0, green: 100 });
    assert.strictEqual(await promiseOf(program.routing), "sticky");
    assert.strictEqual(await promiseOf(program.url), "http://localhost:8080/");
    assert.strictEqual(await promiseOf(program.distributorId), "test-distributor");
    assert.strictEqual(await promiseOf(program.networkName), "test-net");
    // The password from config reaches the config as a secret.
    assert.strictEqual(await pulumi.isSecret(program.haproxyConfig), true);
    assert.match(await promiseOf(program.haproxyConfig), /stats auth admin:'s3cret-pass'/);
    await settled();
    // The exported servers are the containers the program runs (replica i is test-<color>-i), by
    // the name Docker gives them, on the app port: the default 2 blue and the 3 green configured.
    const servers = await promiseOf(program.servers);
    const containers = (color: string, count: number) =>
      Array.from({ length: count }, (_, i) => `${only("docker:index/container:Container", `test-${color}-${i}`).inputs.name}:80`);
    assert.deepStrictEqual(servers.blue, containers("blue", 2));
    assert.deepStrictEqual(servers.green, containers("green", 3));
    assert.ok(!registered.some((r) => r.name === "test-blue-2" || r.name === "test-green-3"), "more replicas than configured");
    assert.ok(registered.some((r) => r.type === "traffic-distributor:index:TrafficDistributor" && r.name === "test"));
  });
});
