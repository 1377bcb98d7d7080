// The programs in examples/, run under the mocks: two apps on one Docker host, and one
// stack's outputs feeding another stack's servers.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { promiseOf, registered, settled, stackOutputs } from "./mocks";

const CONTAINER = "docker:index/container:Container";
const NETWORK = "docker:index/network:Network";

describe("examples (mocks)", () => {
  after(() => pulumi.runtime.setAllConfig({}));

  it("two-apps-one-host: two distributors, their own names and ports, on one host", async () => {
    pulumi.runtime.setAllConfig({ "traffic-distributor:statsPassword": "s3cret-pass" }, ["traffic-distributor:statsPassword"]);
    const program = await import("../examples/two-apps-one-host");
    assert.strictEqual(await promiseOf(program.shopUrl), "http://localhost:8080/");
    assert.strictEqual(await promiseOf(program.blogUrl), "http://localhost:8081/");
    await settled();
    const containers = registered.filter((r) => r.type === CONTAINER);
    const names = containers.map((c) => c.inputs.name as string);
    assert.strictEqual(new Set(names).size, names.length, "two containers share a name");
    assert.deepStrictEqual(registered.filter((r) => r.type === NETWORK).map((r) => r.inputs.name).sort(), ["blog-net", "shop-net"]);
    const published = containers.flatMap((c) => (c.inputs.ports ?? []).map((p: { external: number }) => p.external)).sort();
    assert.deepStrictEqual(published, [8080, 8081, 8404, 8405]);
    const blogBlue = containers.filter((c) => String(c.inputs.name).startsWith("blog-blue-"));
    assert.ok(blogBlue.length === 1 && blogBlue[0].inputs.memory === 512);
  });

  it("stack-feeds-stack: the backend's outputs are the front's green servers and network, as they are", async () => {
    pulumi.runtime.setAllConfig({ "traffic-distributor:statsPassword": "s3cret-pass" }, ["traffic-distributor:statsPassword"]);
    const backend = await import("../examples/stack-feeds-stack/backend");
    const servers = await promiseOf(backend.servers);
    const networkName = await promiseOf(backend.networkName);
    assert.strictEqual(networkName, "api-net");
    assert.match(servers.blue[0], /^api-blue-0-[0-9a-f]{8}:8080$/);

    stackOutputs["acme/backend/dev"] = { servers, networkName };
    registered.length = 0;
    pulumi.runtime.setAllConfig(
      { "traffic-distributor:statsPassword": "s3cret-pass", "traffic-distributor:backendStack": "acme/backend/dev" },
      ["traffic-distributor:statsPassword"],
    );
    const front = await import("../examples/stack-feeds-stack/front");
    assert.strictEqual(await promiseOf(front.url), "http://localhost:8080/");
    await settled();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const delivery = registered.find((r) => r.type === "command:local:Command" && r.name === "front-distributor-config");
    assert.ok(delivery, "no delivery registered");
    // A secret (it holds the password) reaches the mock wrapped.
    const config: string = typeof delivery.inputs.stdin === "string" ? delivery.inputs.stdin : delivery.inputs.stdin.value;
    // The backend's blue containers are the front's green servers, checked and named by host.
    for (const server of servers.blue) assert.match(config, new RegExp(`server green_${server} ${server} .*\\bcheck\\b`));
    assert.ok(!registered.some((r) => r.type === CONTAINER && String(r.inputs.name).startsWith("front-green")), "green was provisioned");
    // No network of its own: the distributor and front's blue join the backend's.
    assert.ok(!registered.some((r) => r.type === NETWORK));
    for (const container of registered.filter((r) => r.type === CONTAINER)) {
      assert.deepStrictEqual(container.inputs.networksAdvanced, [{ name: "api-net" }], container.name);
    }
  });
});
