// The release gate under HTTPS: a step onto a color whose servers changed loads the hold config
// first, which must keep the HTTPS listener, while keep-alive and new-handshake clients go on.
import * as assert from "assert";
import * as fs from "fs";
import { HaproxyConfigInput, HaproxyPlacement, renderHaproxyConfig } from "../../components/haproxyConfig";
import { Color, ServerAddress, Weights } from "../../components/settings";
import { App, startApp, stopApps } from "../appRig";
import { freePort, loopbackPlacement, sleep, startDelivery, startHaproxy, stopAll } from "../harness";
import { startHttpsLoad } from "./clients";
import { makeTestPki, TestPki } from "./pki";

const HEALTH = { path: "/healthz", interval: 300, timeout: 1000, expectStatus: "200-399" };
const servers = (apps: App[]): ServerAddress[] => apps.map((a) => a.server);

describe("release gate under HTTPS (real HAProxy)", function () {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  afterEach(async () => {
    stopApps();
    await stopAll();
  });

  type Case = [string, Pick<HaproxyConfigInput, "routing"> & { weights: Weights }, number, Pick<HaproxyConfigInput, "routing"> & { weights: Weights }];
  const cases: Case[] = [
    ["round-robin 50/50 -> 20/80: one-level hold", { routing: "round-robin", weights: { blue: 50, green: 50 } }, 1, { routing: "round-robin", weights: { blue: 20, green: 80 } }],
    ["sticky 50/50 -> 20/80: two-level hold", { routing: "sticky", weights: { blue: 50, green: 50 } }, 1, { routing: "sticky", weights: { blue: 20, green: 80 } }],
    // Two levels (256/1 over 2 and 3 servers) to a one-level hold (256/1 over 2 and 2) to one level.
    ["round-robin 256/1 -> 1/1: two levels, one-level hold", { routing: "round-robin", weights: { blue: 256, green: 1 } }, 3, { routing: "round-robin", weights: { blue: 1, green: 1 } }],
  ];
  for (const [name, running, oldGreenCount, next] of cases) {
    it(`${name}: 0 failed HTTPS requests, the hold keeps the HTTPS listener`, async () => {
      const blue = [await startApp("blue", "0"), await startApp("blue", "1")];
      const oldGreen = await Promise.all(Array.from({ length: oldGreenCount }, (_, i) => startApp("green", `old-${i}`)));
      // The new servers pass their checks only after 2 s: the hold serves meanwhile.
      const newGreen = [await startApp("green", "new-0", { HEALTHY_AFTER_MS: "2000" }), await startApp("green", "new-1", { HEALTHY_AFTER_MS: "2000" })];
      const placement: HaproxyPlacement & { tls: NonNullable<HaproxyPlacement["tls"]> } = {
        ...(await loopbackPlacement()),
        tls: { tlsPort: await freePort(), certificateDir: pki.certificateDir },
      };
      const render = (settings: typeof running, green: App[]) =>
        renderHaproxyConfig(
          { ...settings, healthCheck: HEALTH, servers: { blue: servers(blue), green: servers(green) }, tls: { publicPort: placement.tls.tlsPort, hsts: 0 } },
          placement,
        );
      const haproxy = await startHaproxy(render(running, oldGreen), placement);
      const ca = fs.readFileSync(pki.caPath, "utf8");
      const load = startHttpsLoad(placement.tls.tlsPort, ca, { keepAliveClients: 6, newConnectionClients: 2, maxDurationMs: 60_000, maxRequestsPerClient: 20_000 });
      let hold = "";
      let status: number | null = null;
      let output = "";
      try {
        await sleep(500);
        const target = render(next, newGreen);
        const delivery = startDelivery(haproxy, target);
        for (let waited = 0; !hold.includes("# Hold config of the release gate") && waited < 30_000; waited += 50) {
          await sleep(50);
          hold = fs.readFileSync(haproxy.configPath, "utf8");
        }
        const result = await delivery.result;
        status = result.status;
        output = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
        assert.strictEqual(fs.readFileSync(haproxy.configPath, "utf8"), target, output);
        await sleep(1000); // the hold's and the running config's keep-alive connections carry their last requests
      } finally {
        await load.stop();
      }
      const { ok, failed, samples } = load.counts;
      const counts: Record<Color, number> = { blue: load.counts.blue, green: load.counts.green };
      console.log(`      ${name}: ${ok} HTTPS requests ok (${counts.blue} blue, ${counts.green} green), ${failed} failed`);
      assert.strictEqual(status, 0, output);
      assert.match(output, /loaded green's new servers with the running split/);
      assert.match(output, /gate passed: 2 of 2 green servers UP/);
      const tlsBind = `bind 127.0.0.1:${placement.tls.tlsPort} ssl crt ${placement.tls.certificateDir}/`;
      assert.ok(hold.split("\n").some((line) => line.trim().startsWith(tlsBind)), `the hold config has no HTTPS listener:\n${hold}`);
      assert.deepStrictEqual({ failed, samples }, { failed: 0, samples: [] });
      assert.ok(ok > 200, `only ${ok} HTTPS requests completed`);
    });
  }
});
