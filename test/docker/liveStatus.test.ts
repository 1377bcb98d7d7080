// Named to run before release.test.ts, whose last test removes this run's images.
// npm run status against a stack on the real Docker engine: it finds the distributor by the
// name the program gives it, asks its runtime API through `docker exec`, and reports the
// traffic this test sent.
import * as assert from "assert";
import { request, sleep } from "../harness";
import { main } from "../../scripts/status";
import { testEngine } from "./setup";
import { containerNames, newStack, Stack } from "./stacks";

const noPulumi = { stackOutputs: async () => undefined, stackRegion: async () => undefined, env: {} };

describe("npm run status on a real Docker engine", () => {
  const stacks: Stack[] = [];
  let savedHost: string | undefined;
  before(() => {
    // `docker exec` in the status command talks to the engine of this run.
    savedHost = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = testEngine().host;
  });
  after(async () => {
    for (const stack of stacks.reverse()) await stack.deployment.destroy().catch(() => undefined);
    if (savedHost === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = savedHost;
  });

  it("reports per color and per replica the requests sent, the one in flight, and the weights", async () => {
    const stack = await newStack("tdobs-status");
    stacks.push(stack);
    await stack.step({ "weight.blue": "25", "weight.green": "75" });
    // Which replica answered: the app names its container's hostname (its short ID).
    const hostnames = new Map<string, string>();
    for (const color of ["blue", "green"]) {
      for (const name of await containerNames(`traffic-distributor.environment=tdobs-status-${color}`, false)) {
        const hostname = (await testEngine().docker(["inspect", "--format", "{{.Config.Hostname}}", name])).stdout.trim();
        hostnames.set(hostname, name);
      }
    }
    const sent = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const { status, body } = await request(`${stack.url}/`, { agent: false });
      assert.strictEqual(status, 200);
      const container = hostnames.get(body.trim().split(" ")[2]);
      assert.ok(container, body);
      sent.set(container, (sent.get(container) ?? 0) + 1);
    }
    const slow = request(`${stack.url}/slow?ms=5000`, { agent: false, timeoutMs: 15_000 });
    await sleep(500);
    const started = Date.now();
    const text = await main(["--stack", stack.name], noPulumi);
    const textMs = Date.now() - started;
    const report = JSON.parse(await main(["--stack", stack.name, "--json"], noPulumi));
    console.log(`      status in ${textMs} ms:\n${text.replace(/^/gm, "        ")}`);

    assert.strictEqual(report.container, "tdobs-status-distributor");
    assert.deepStrictEqual([report.colors.blue.weight, report.colors.blue.share, report.colors.green.weight, report.colors.green.share], [25, 25, 75, 75]);
    for (const color of ["blue", "green"] as const) {
      assert.strictEqual(report.colors[color].serversUp, 2);
      for (const server of report.colors[color].servers) {
        const container = server.name.replace(/^(blue|green)_/, "").replace(/:\d+$/, "");
        assert.strictEqual(server.answersSinceReload, sent.get(container) ?? 0, `${server.name}: ${JSON.stringify([...sent])}`);
        assert.strictEqual(server.state, "UP");
        assert.match(server.lastCheck, /^L7OK\//);
        assert.strictEqual(server.errors5xxLastMinute, 0);
      }
    }
    const total = (field: string) => report.colors.blue[field] + report.colors.green[field];
    assert.strictEqual(total("currentSessions"), 1, "the slow request in flight");
    assert.ok(total("requestsPerSecond") > 0 && total("requestsPerSecond") <= 4, `${total("requestsPerSecond")} req/s for 40 requests in 10 s`);
    assert.match(text, /^tdobs-status \(docker tdobs-status-distributor\): routing round-robin\nblue: weight 25, share 25%, 2\/2 UP/);
    assert.strictEqual((await slow).status, 200);
    await assert.rejects(main(["--stack", "tdobs-none"], noPulumi), /docker exec tdobs-none-distributor failed/);
  });
});
