import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { replicaContainerName } from "../components/naming";
import { DEFAULTS } from "../components/settings";
import { promiseOf, registered, settled } from "./mocks";

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
    assert.strictEqual((await promiseOf(program.servers)).green.length, 3);
    assert.deepStrictEqual((await promiseOf(program.servers)).blue, [
      `${replicaContainerName("test-blue", 0, DEFAULTS.image)}:80`,
      `${replicaContainerName("test-blue", 1, DEFAULTS.image)}:80`,
    ]);
    assert.strictEqual(await promiseOf(program.networkName), "test-net");
    // The password from config reaches the config as a secret.
    assert.strictEqual(await pulumi.isSecret(program.haproxyConfig), true);
    assert.match(await promiseOf(program.haproxyConfig), /stats auth admin:'s3cret-pass'/);
    await settled();
    assert.ok(registered.some((r) => r.type === "traffic-distributor:index:TrafficDistributor" && r.name === "test"));
  });
});
