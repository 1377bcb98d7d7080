import * as assert from "assert";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { TrafficDistributor, TrafficDistributorArgs } from "../components";
import { DELIVER_CONFIG_SCRIPT, Distributor, DRAIN_REPLICA_SCRIPT, Environment } from "../components/docker";
import { replicaContainerName } from "../components/naming";
import { configSourceFromMap, readStackConfig } from "../components/stackConfig";
import { loadStackConfig, renderStack } from "../components/cli/render";
import { childrenOn, promiseOf, registered, RecordedResource, settled, only, STATS_PASSWORD } from "./mocks";

const CONTAINER = "docker:index/container:Container";
const COMMAND = "command:local:Command";

/** Builds a distributor and waits until every resource of it has been registered. */
async function deploy(name: string, args: TrafficDistributorArgs = {}): Promise<TrafficDistributor> {
  const distributor = new TrafficDistributor(name, { ...args, statsPassword: args.statsPassword ?? STATS_PASSWORD });
  // The delivery command depends on every container (through the config), so it comes last.
  await promiseOf(distributor.distributor.deliveryReport);
  await settled();
  return distributor;
}

/** Every resource a deployment registers, by "type name", in a stable order. */
async function snapshot(name: string, args: TrafficDistributorArgs = {}): Promise<Map<string, RecordedResource>> {
  registered.length = 0;
  await deploy(name, args);
  const entries = registered.map((r) => [`${r.type} ${r.name}`, r] as const);
  return new Map(entries.sort(([a], [b]) => a.localeCompare(b)));
}

function changedBetween(before: Map<string, RecordedResource>, after: Map<string, RecordedResource>): string[] {
  return [...after.keys()].filter((key) => JSON.stringify(after.get(key)!.inputs) !== JSON.stringify(before.get(key)?.inputs));
}

describe("TrafficDistributor on Docker (mocks)", () => {
  it("registers two environments, a network and a distributor, named after the component", async () => {
    await deploy("shop");
    assert.deepStrictEqual(registered.map((r) => `${r.type} ${r.name}`).sort(), [
      "command:local:Command shop-blue-0-drain",
      "command:local:Command shop-blue-1-drain",
      "command:local:Command shop-distributor-config",
      "command:local:Command shop-green-0-drain",
      "command:local:Command shop-green-1-drain",
      "docker:index/container:Container shop-blue-0",
      "docker:index/container:Container shop-blue-1",
      "docker:index/container:Container shop-distributor",
      "docker:index/container:Container shop-green-0",
      "docker:index/container:Container shop-green-1",
      "docker:index/network:Network shop-net",
      "docker:index/remoteImage:RemoteImage shop-blue-image",
      "docker:index/remoteImage:RemoteImage shop-distributor-image",
      "docker:index/remoteImage:RemoteImage shop-green-image",
      "traffic-distributor:docker:Distributor shop-distributor",
      "traffic-distributor:docker:Environment shop-blue",
      "traffic-distributor:docker:Environment shop-green",
      "traffic-distributor:index:TrafficDistributor shop",
    ]);
  });

  it("parents every child under the component", async () => {
    const td = await deploy("shop");
    // A URN's type part names the parent's type: <parent type>$<type>::<name>.
    const urnTail = async (r: pulumi.Resource) => (await promiseOf(r.urn)).split("::").slice(2).join("::");
    const root = "traffic-distributor:index:TrafficDistributor";
    assert.strictEqual(await urnTail(td.environments.blue!), `${root}$traffic-distributor:docker:Environment::shop-blue`);
    assert.strictEqual(await urnTail(td.distributor), `${root}$traffic-distributor:docker:Distributor::shop-distributor`);
    assert.strictEqual(
      await urnTail(childrenOn(td, "docker").environments.blue!.containers[1]),
      `traffic-distributor:docker:Environment$${CONTAINER}::shop-blue-1`,
    );
    assert.strictEqual(
      await urnTail(td.distributor.configDelivery),
      `traffic-distributor:docker:Distributor$${COMMAND}::shop-distributor-config`,
    );
  });

  it("publishes no backend port; the distributor publishes its listen port, and stats on loopback only", async () => {
    await deploy("shop", { listenPort: 80, statsPort: 9000, blue: { replicas: 3 } });
    const backends = registered.filter((r) => r.type === CONTAINER && r.name !== "shop-distributor");
    assert.strictEqual(backends.length, 5);
    for (const backend of backends) {
      assert.strictEqual(backend.inputs.ports, undefined, `${backend.name} publishes a port`);
      assert.strictEqual(backend.inputs.publishAllPorts, undefined);
      assert.deepStrictEqual(backend.inputs.networksAdvanced, [{ name: "shop-net" }]);
    }
    assert.deepStrictEqual(only(CONTAINER, "shop-distributor").inputs.ports, [
      { internal: 8080, external: 80 },
      { internal: 8404, external: 9000, ip: "127.0.0.1" },
    ]);
  });

  it("hardens the distributor (no capability, no privilege gain) and logs with rotation everywhere", async () => {
    await deploy("shop");
    const distributor = only(CONTAINER, "shop-distributor").inputs;
    assert.deepStrictEqual(distributor.capabilities, { drops: ["ALL"] });
    assert.deepStrictEqual(distributor.securityOpts, ["no-new-privileges"]);
    for (const container of registered.filter((r) => r.type === CONTAINER)) {
      assert.strictEqual(container.inputs.logDriver, "json-file", container.name);
      assert.deepStrictEqual(container.inputs.logOpts, { "max-size": "10m", "max-file": "3" }, container.name);
      assert.deepStrictEqual(container.inputs.securityOpts, ["no-new-privileges"], container.name);
      // The distributor's default limit (distributor.memoryMb); apps have none unless set.
      assert.strictEqual(container.inputs.memory, container.name === "shop-distributor" ? 256 : undefined, container.name);
    }
    // Apps keep Docker's default capabilities: an arbitrary image may need them.
    assert.strictEqual(only(CONTAINER, "shop-blue-0").inputs.capabilities, undefined);
  });

  it("sets the memory limits given to the distributor and an environment", async () => {
    const network = "shop-net";
    new Distributor("m-distributor", { networkName: network, config: "x", image: "haproxy:3.2.26", listenPort: 8080, statsPort: 8404, memoryMb: 256 });
    new Environment("m-blue", { color: "blue", image: "app:1", replicas: 1, port: 80, networkName: network, memoryMb: 64 });
    await settled();
    await settled();
    assert.strictEqual(only(CONTAINER, "m-distributor").inputs.memory, 256);
    assert.strictEqual(only(CONTAINER, "m-blue-0").inputs.memory, 64);
  });

  it("names containers from the component name and the image, so two instances never collide", async () => {
    await deploy("one", { blue: { image: "nginx:1.27" } });
    await deploy("two", { blue: { image: "nginx:1.27" }, listenPort: 8081, statsPort: 8405 });
    const names = registered.filter((r) => r.type === CONTAINER).map((r) => r.inputs.name as string);
    assert.strictEqual(new Set(names).size, names.length);
    assert.ok(names.includes(replicaContainerName("one-blue", 0, "nginx:1.27")));
    assert.match(replicaContainerName("one-blue", 0, "nginx:1.27"), /^one-blue-0-[0-9a-f]{8}$/);
    assert.notStrictEqual(replicaContainerName("one-blue", 0, "nginx:1.27"), replicaContainerName("one-blue", 0, "nginx:1.28"));
  });

  it("runs each color's image by ID and delivers the config with the validating script", async () => {
    const td = await deploy("shop", { green: { image: "nginx:1.27", port: 8081 } });
    assert.strictEqual(only(CONTAINER, "shop-green-0").inputs.image, "sha256:nginx:1.27");
    // The public default, pinned here once on purpose: the official haproxy:3.4.7 (docs/configuration.md,
    // "HAProxy version"; the capacity figures are measured on it). A new default recreates every
    // distributor that does not set distributor.image, so it changes only with this line.
    assert.strictEqual(only("docker:index/remoteImage:RemoteImage", "shop-distributor-image").inputs.name, "haproxy:3.4.7");
    assert.strictEqual(only(CONTAINER, "shop-distributor").inputs.image, "sha256:haproxy:3.4.7");
    const delivery = only(COMMAND, "shop-distributor-config");
    assert.strictEqual(delivery.inputs.create, DELIVER_CONFIG_SCRIPT);
    // The plan beside the config: every replica's weight in the one-level backend, as the config has it.
    const weighted = [...(delivery.inputs.stdin as string).matchAll(/^\s+server (\S+) .* weight (\d+)/gm)].map((m) => `app/${m[1]}=${m[2]}`);
    assert.strictEqual(weighted.length, 4);
    assert.deepStrictEqual(delivery.inputs.environment, {
      CONTAINER: "shop-distributor-id",
      CONFIG_PATH: "/usr/local/etc/haproxy/haproxy.cfg",
      PLAN_VERSION: "1",
      PLAN_WEIGHTS: weighted.join(" "),
    });
    // Routed by the name the container has on the network.
    const greenName = only(CONTAINER, "shop-green-0").inputs.name as string;
    assert.match(delivery.inputs.stdin, new RegExp(`server green_${greenName}:8081 ${greenName}:8081 [^\\n]*check`));
    assert.strictEqual(delivery.inputs.stdin, await promiseOf(td.haproxyConfig));
  });

  it("changes weights and routing in place: every container's inputs stay identical, only the delivery differs", async () => {
    const before = await snapshot("shop", { weights: { blue: 50, green: 50 } });
    const after = await snapshot("shop", { weights: { blue: 0, green: 100 }, routing: "sticky" });
    assert.deepStrictEqual([...after.keys()], [...before.keys()]);
    assert.deepStrictEqual(changedBetween(before, after), [`${COMMAND} shop-distributor-config`]);
    for (const [key, r] of after) {
      if (r.type === CONTAINER) assert.deepStrictEqual(r.inputs, before.get(key)!.inputs);
    }
    const stdinAfter = after.get(`${COMMAND} shop-distributor-config`)!.inputs.stdin as string;
    assert.match(stdinAfter, /server blue unix@\/var\/lib\/haproxy\/traffic-distributor-blue\.sock weight 0 check inter 200ms fall 1 rise 1 cookie blue/);
  });

  it("gives each replica a drain step that runs before its removal, replaced with it, waiting at most drain.timeout", async () => {
    await deploy("shop", { timeouts: { drain: "2m" }, blue: { port: 8081 } });
    const drain = only(COMMAND, "shop-blue-1-drain");
    assert.strictEqual(drain.inputs.delete, DRAIN_REPLICA_SCRIPT);
    assert.strictEqual(drain.inputs.create, undefined);
    // The replica it waits for is the container it goes with, by the name Docker has for it.
    const replica = only(CONTAINER, "shop-blue-1").inputs.name as string;
    assert.deepStrictEqual(drain.inputs.environment, {
      DISTRIBUTOR: "shop-distributor",
      REPLICA: replica,
      PORT: "8081",
      DRAIN_TIMEOUT_SECONDS: "120",
    });
    assert.deepStrictEqual(drain.inputs.triggers, ["shop-blue-1-id", replica]);
    registered.length = 0;
    await deploy("quick", { listenPort: 9300, statsPort: 9301, drain: { timeout: "45s" } });
    assert.strictEqual(only(COMMAND, "quick-green-0-drain").inputs.environment.DRAIN_TIMEOUT_SECONDS, "45");
    registered.length = 0;
    await deploy("none", { listenPort: 9400, statsPort: 9401, drain: { timeout: "0s" } });
    assert.ok(!registered.some((r) => r.name.endsWith("-drain")));
  });

  it("a new image for blue replaces only blue's containers (new names), leaving green and the distributor alone", async () => {
    const before = await snapshot("shop");
    const after = await snapshot("shop", { blue: { image: "nginx:1.27" } });
    assert.deepStrictEqual(changedBetween(before, after), [
      `${COMMAND} shop-blue-0-drain`,
      `${COMMAND} shop-blue-1-drain`,
      `${COMMAND} shop-distributor-config`,
      `${CONTAINER} shop-blue-0`,
      `${CONTAINER} shop-blue-1`,
      "docker:index/remoteImage:RemoteImage shop-blue-image",
    ]);
    assert.notStrictEqual(after.get(`${CONTAINER} shop-blue-0`)!.inputs.name, before.get(`${CONTAINER} shop-blue-0`)!.inputs.name);
  });

  it("routes to existing servers without provisioning that color", async () => {
    const td = await deploy("shop", { blue: { servers: ["10.0.0.5:8080", "app.internal:80"] } });
    assert.strictEqual(td.environments.blue, undefined);
    assert.ok(!registered.some((r) => r.name.startsWith("shop-blue")));
    const stdin = only(COMMAND, "shop-distributor-config").inputs.stdin as string;
    assert.match(stdin, /server blue_10\.0\.0\.5:8080 10\.0\.0\.5:8080 .*check .*\n {4}server blue_app\.internal app\.internal:80 .*check /);
    // The output has the form the input takes.
    assert.deepStrictEqual((await promiseOf(td.servers)).blue, ["10.0.0.5:8080", "app.internal:80"]);
  });

  it("checks servers that arrive as Outputs (e.g. from a StackReference) when they resolve", async () => {
    const outcome = (servers: string[]) =>
      (new TrafficDistributor("shop", { statsPassword: STATS_PASSWORD, green: { servers: pulumi.output(servers) } }).haproxyConfig as any).promise().then(
        () => "resolved",
        (e: Error) => e.message,
      );
    assert.match(await outcome(["10.0.0.7"]), /green.servers\[0\] is "10.0.0.7": must be "host:port"/);
    assert.match(await outcome([]), /green.servers is empty: list at least one "host:port"/);
  });

  it("throws on bad input before registering any resource", async () => {
    assert.throws(() => new TrafficDistributor("bad", { statsPassword: STATS_PASSWORD, weights: { blue: 0, green: 0 } }), /are both 0/);
    assert.throws(() => new TrafficDistributor("bad", { statsPassword: STATS_PASSWORD, weights: { blue: 300, green: 1 } }), /weights.blue is 300/);
    assert.throws(() => new TrafficDistributor("bad", { statsPassword: STATS_PASSWORD, blue: { servers: ["nope"] } }), /blue.servers\[0\] is "nope"/);
    await settled();
    assert.deepStrictEqual(registered, []);
  });

  it("keeps the config a secret, also when the stats password is given as a plain string", async () => {
    const td = await deploy("shop", { statsPassword: pulumi.secret("s3cret-pass") });
    assert.strictEqual(await pulumi.isSecret(td.haproxyConfig), true);
    assert.match(await promiseOf(td.haproxyConfig), /stats auth admin:'s3cret-pass'/);
    const plain = await deploy("plain", { listenPort: 8081, statsPort: 8405, statsPassword: "plain-pass-123" });
    assert.strictEqual(await pulumi.isSecret(plain.haproxyConfig), true);
    // The delivery's stdin is the config: encrypted in state.
    const delivery = only("command:local:Command", "plain-distributor-config");
    assert.match(delivery.inputs.stdin, /stats auth admin:'plain-pass-123'/);
    // The plan (server names and weights) is no secret.
    assert.deepStrictEqual(delivery.secretInputs, ["stdin"]);
  });

  it("exports the URL, weights in percent and the routing", async () => {
    const td = await deploy("shop", { weights: { blue: 1, green: 3 }, routing: "sticky", listenPort: 8000 });
    assert.strictEqual(await promiseOf(td.url), "http://localhost:8000/");
    assert.deepStrictEqual(await promiseOf(td.weights), { blue: 25, green: 75 });
    assert.strictEqual(await promiseOf(td.routing), "sticky");
    assert.strictEqual(await promiseOf(td.statsUrl), "http://127.0.0.1:8404/stats");
    assert.strictEqual(await promiseOf(td.metricsUrl), "http://127.0.0.1:8404/metrics");
  });

  it("deploys exactly the config `traffic-distributor render` prints for the same stack", async () => {
    const stacksDir = path.join(__dirname, "..", "stacks");
    const values = loadStackConfig("local", stacksDir);
    values["traffic-distributor:weight.blue"] = "0";
    values["traffic-distributor:statsPassword"] = STATS_PASSWORD;
    const { args, statsPassword } = readStackConfig(configSourceFromMap(values));
    const td = await deploy("local", { ...args, statsPassword });
    assert.strictEqual(await promiseOf(td.haproxyConfig), renderStack({ stack: "local", set: ["weight.blue=0", `statsPassword=${STATS_PASSWORD}`], cwd: path.join(__dirname, "..") }));
  });
});
