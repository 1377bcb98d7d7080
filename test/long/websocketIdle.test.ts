// The long-lived connection a release must not cut: a WebSocket idle for five minutes through
// the distributor's default timeouts, then a weight step, then still open within
// timeouts.drain. Slow by nature (about six minutes, nearly no CPU): `npm run test:long`, which
// .ci/run starts in the background beside the other suites.
import * as assert from "assert";
import { DEFAULT_TIMEOUTS } from "../../components/haproxyConfig";
import { distributor, openTunnel, startApp, stopApps } from "../appRig";
import { deliverConfig, sleep, stopAll } from "../harness";

describe("a WebSocket through a release (real HAProxy, minutes)", function () {
  this.timeout(10 * 60_000);
  afterEach(async () => {
    stopApps();
    await stopAll();
  });

  it("survives 5 idle minutes with timeouts.tunnel=1h, then a weight step within timeouts.drain", async () => {
    const fleet = { blue: [await startApp("blue", "0")], green: [await startApp("green", "0")] };
    // The defaults: client and server 30 s, tunnel 1 h, drain 5 min.
    const timeouts = { ...DEFAULT_TIMEOUTS, tunnel: 3_600_000 };
    const { haproxy, render } = await distributor(fleet, { timeouts });
    const tunnel = await openTunnel(haproxy.placement.listenPort);
    assert.strictEqual(await tunnel.echo("hello"), "hello");
    await sleep(5 * 60_000);
    assert.strictEqual(await tunnel.echo("after five idle minutes"), "after five idle minutes");
    const step = await deliverConfig(haproxy, render({ weights: { blue: 0, green: 100 }, timeouts }));
    assert.strictEqual(step.status, 0, step.stderr);
    await sleep(45_000); // past the client and server timeouts, well within the drain
    assert.strictEqual(await tunnel.echo("after the step"), "after the step");
    tunnel.socket.destroy();
  });
});
