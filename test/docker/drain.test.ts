// Drain before removal on a real Docker engine: on an image step, the old replica is removed
// only once the distributor holds no connection to it (a long request finishes first), or
// after drain.timeout (a stream that never ends); a replica without traffic goes at once.
import * as assert from "assert";
import * as http from "http";
import { request, sleep } from "../harness";
import { containerNames, newStack, Stack } from "./stacks";

/** A server-sent-events stream through the distributor: its first event and when it ended. */
function openStream(url: string): Promise<{ first: string; events(): number; ended: Promise<number>; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/events`, { agent: false }, (res) => {
      let events = 0;
      let first = "";
      const ended = new Promise<number>((done) => {
        res.on("end", () => done(Date.now()));
        res.on("error", () => done(Date.now()));
        res.on("close", () => done(Date.now()));
      });
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        events += (chunk.match(/^data: /gm) ?? []).length;
        if (!first) {
          first = chunk;
          resolve({ first, events: () => events, ended, close: () => req.destroy() });
        }
      });
    });
    req.on("error", reject);
    req.setTimeout(60_000, () => req.destroy(new Error("stream timeout")));
  });
}

/** Polls until `check` holds; resolves with the time it first did. Bounded. */
async function when(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return Date.now();
    await sleep(200);
  }
  throw new Error(`not within ${timeoutMs} ms`);
}

describe("drain before removal on a real Docker engine", () => {
  const stacks: Stack[] = [];
  after(async () => {
    for (const stack of stacks.reverse()) await stack.deployment.destroy().catch(() => undefined);
  });

  /** What the drain step of a replica printed during the last run, e.g. "no connection left after 9s". */
  function drainReport(stack: Stack, replica: string): string {
    const line = stack.deployment.steps.filter((step) => step.startsWith("output of delete") && step.includes(`drain ${replica}:`)).pop();
    assert.ok(line, `no drain report for ${replica} in ${JSON.stringify(stack.deployment.steps.slice(-12))}`);
    return line.slice(line.indexOf(`drain ${replica}:`));
  }

  it("an image step removes the old replica only after its long request, and a stream's after drain.timeout", async () => {
    const stack = await newStack("tdobs-drain");
    stacks.push(stack);
    await stack.step({ "blue.replicas": "1", "green.replicas": "1", "drain.timeout": "60s" });
    const exists = async (name: string, color: string) => (await containerNames(`traffic-distributor.environment=tdobs-drain-${color}`)).includes(name);
    const [oldBlue] = await containerNames("traffic-distributor.environment=tdobs-drain-blue");
    const [oldGreen] = await containerNames("traffic-distributor.environment=tdobs-drain-green");
    // Both colors serve first (idle keep-alive connections to both replicas must not hold a drain).
    for (let i = 0; i < 20; i++) await request(`${stack.url}/`, { agent: false });
    // A long request on blue v1: round-robin alternates, so of two, one lands on blue.
    const slow = [0, 1].map(() => request(`${stack.url}/slow?ms=25000`, { agent: false, timeoutMs: 60_000 }).then((r) => ({ ...r, at: Date.now() })));
    const blueStarted = Date.now();
    const blueStep = stack.step({ "blue.image": "td-demo:blue-v2" });
    const removed = when(async () => !(await exists(oldBlue, "blue")), 180_000);
    await blueStep;
    const [removedAt, answers] = await Promise.all([removed, Promise.all(slow)]);
    const slowBlue = answers.find((a) => a.body.startsWith("blue v1"));
    const blue = { stepMs: Date.now() - blueStarted, slowDoneAtMs: (slowBlue?.at ?? 0) - blueStarted, removedAtMs: removedAt - blueStarted, drain: drainReport(stack, oldBlue) };
    console.log(`      blue step (25 s request in flight): ${JSON.stringify(blue)}`);
    assert.deepStrictEqual(answers.map((a) => a.status), [200, 200]);
    assert.ok(slowBlue, answers.map((a) => a.body).join(" | "));
    assert.ok(slowBlue.at <= removedAt, JSON.stringify(blue));
    assert.match(blue.drain, /no connection left after \d+s$/);

    // A stream on green v1 never ends by itself: its replica goes once drain.timeout runs out.
    await stack.step({ "drain.timeout": "8s" });
    let stream = await openStream(stack.url);
    for (let i = 0; i < 3 && !stream.first.includes("green v1"); i++) {
      stream.close();
      stream = await openStream(stack.url);
    }
    assert.match(stream.first, /green v1/);
    const greenStarted = Date.now();
    await stack.step({ "green.image": "td-demo:green-v2" });
    const streamEnd = await stream.ended;
    const green = { stepMs: Date.now() - greenStarted, streamEndAtMs: streamEnd - greenStarted, events: stream.events(), drain: drainReport(stack, oldGreen) };
    console.log(`      green step (a stream open): ${JSON.stringify(green)}`);
    assert.match(green.drain, /1 connection\(s\) still open after (8|9|10)s \(drain\.timeout\); removing it$/);
    assert.ok(!(await exists(oldGreen, "green")));
    assert.ok(green.events >= 8, JSON.stringify(green));
  });
});
