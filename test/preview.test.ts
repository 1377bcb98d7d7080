// Preview per color in a real HAProxy: each preview port serves its color alone, at weight 0
// too and in either layout, and refuses sources outside preview.allowedCidrs.
import * as assert from "assert";
import { colorStateServers, HaproxyConfigInput, renderHaproxyConfig, serverName } from "../components/haproxyConfig";
import { DEFAULT_PREVIEW_CIDRS, previewBackend } from "../components/preview";
import { Color, COLORS, Weights } from "../components/settings";
import { countColors, Fleet, fleetServers, freePort, loopbackPlacement, request, serverStatus, startFleet, startHaproxy, stopAll, stopProcess, waitForColor, waitForStatus } from "./harness";

describe("preview per color (real HAProxy)", function () {
  this.timeout(60_000);
  afterEach(stopAll);

  async function start(fleet: Fleet, weights: Weights, overrides: Partial<HaproxyConfigInput> = {}) {
    const placement = { ...(await loopbackPlacement()), previewPorts: { blue: await freePort(), green: await freePort() } };
    const input: HaproxyConfigInput = { weights, routing: "round-robin", servers: fleetServers(fleet), preview: { allowedCidrs: DEFAULT_PREVIEW_CIDRS }, ...overrides };
    const haproxy = await startHaproxy(renderHaproxyConfig(input, placement), placement);
    for (const color of COLORS) await waitForColor(placement, colorStateServers(input, color), "UP");
    const previewUrl = (color: Color) => `http://127.0.0.1:${placement.previewPorts[color]}`;
    return { haproxy, previewUrl };
  }

  const cases: Array<[string, Weights, Partial<HaproxyConfigInput>]> = [
    ["one level, blue at weight 0", { blue: 0, green: 100 }, {}],
    ["one level, green at weight 0", { blue: 1, green: 0 }, {}],
    ["two levels (sticky), blue at weight 0", { blue: 0, green: 1 }, { routing: "sticky" }],
  ];
  for (const [name, weights, overrides] of cases) {
    it(`each preview port serves only its color: ${name}`, async () => {
      const fleet = await startFleet();
      const { haproxy, previewUrl } = await start(fleet, weights, overrides);
      const main = await countColors(haproxy.url, 20);
      const previews = { blue: await countColors(previewUrl("blue"), 20), green: await countColors(previewUrl("green"), 20) };
      assert.deepStrictEqual(previews, { blue: { blue: 20, green: 0, other: 0 }, green: { blue: 0, green: 20, other: 0 } });
      // The weights still hold on the public listener.
      const zero = weights.blue === 0 ? "blue" : "green";
      assert.strictEqual(main[zero], 0, JSON.stringify(main));
      // Both replicas of a color take preview traffic.
      const bodies = new Set<string>();
      for (let i = 0; i < 4; i++) bodies.add((await request(`${previewUrl(zero)}/`, { agent: false })).body.trim());
      assert.deepStrictEqual([...bodies].sort(), [`${zero} 0`, `${zero} 1`]);
    });
  }

  it("refuses a source outside preview.allowedCidrs, and the public listener is unaffected", async () => {
    const fleet = await startFleet();
    const { haproxy, previewUrl } = await start(fleet, { blue: 0, green: 1 }, { preview: { allowedCidrs: ["10.0.0.0/8", "fc00::/7"] } });
    for (const color of COLORS) {
      await assert.rejects(request(`${previewUrl(color)}/`, { agent: false, timeoutMs: 3000 }), /ECONNRESET|socket hang up|EPIPE/);
    }
    assert.deepStrictEqual(await countColors(haproxy.url, 10), { blue: 0, green: 10, other: 0 });
  });

  it("reads 100 allowed blocks over several acl lines (HAProxy's limit is 64 words a line): a source in the last one is admitted", async () => {
    const fleet = await startFleet();
    const allowedCidrs = [...Array.from({ length: 99 }, (_, i) => `10.${i}.0.0/16`), "127.0.0.0/8"];
    const { haproxy, previewUrl } = await start(fleet, { blue: 0, green: 1 }, { preview: { allowedCidrs } });
    assert.deepStrictEqual(await countColors(previewUrl("blue"), 10), { blue: 10, green: 0, other: 0 });
    assert.deepStrictEqual(await countColors(haproxy.url, 10), { blue: 0, green: 10, other: 0 });
  });

  it("refuses a proxied source (Docker's gateway on aws) even inside an allowed block, on the preview port and by host name", async () => {
    const fleet = await startFleet();
    const hosts = { blue: "blue.app.example.com", green: "green.app.example.com" };
    // Loopback stands for the gateway here: allowed by 127.0.0.0/8, refused as the proxied source.
    const { haproxy, previewUrl } = await start(fleet, { blue: 0, green: 1 }, { preview: { allowedCidrs: DEFAULT_PREVIEW_CIDRS, hosts, proxiedSources: ["127.0.0.1"] } });
    await assert.rejects(request(`${previewUrl("blue")}/`, { agent: false, timeoutMs: 3000 }), /ECONNRESET|socket hang up|EPIPE/);
    assert.strictEqual((await request(`${haproxy.url}/`, { agent: false, headers: { host: "blue.app.example.com" } })).status, 403);
    assert.deepStrictEqual(await countColors(haproxy.url, 10), { blue: 0, green: 10, other: 0 });
  });

  it("a preview replica that fails its checks is down there too: it tracks the main server's checks", async () => {
    const fleet = await startFleet();
    const { haproxy, previewUrl } = await start(fleet, { blue: 0, green: 1 });
    const name = serverName("blue", 1, fleetServers(fleet).blue[1]);
    await stopProcess(fleet.blue[1].process, "SIGKILL");
    await waitForStatus(haproxy.placement, "app", name, /^DOWN/);
    assert.match(await serverStatus(haproxy.placement, previewBackend("blue"), name), /^DOWN/);
    assert.deepStrictEqual(await countColors(previewUrl("blue"), 10), { blue: 10, green: 0, other: 0 });
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await request(`${previewUrl("blue")}/`, { agent: false })).body.trim());
    assert.deepStrictEqual([...bodies], ["blue 0"]);
  });
  it("routes a preview host name on the public listener to its color alone, and answers 403 outside allowedCidrs", async () => {
    const fleet = await startFleet();
    const hosts = { blue: "blue.app.example.com", green: "green.app.example.com" };
    const open = await start(fleet, { blue: 0, green: 1 }, { preview: { allowedCidrs: DEFAULT_PREVIEW_CIDRS, hosts } });
    const byHost = async (host: string) => {
      const counts: Record<string, number> = {};
      for (let i = 0; i < 10; i++) {
        const { status, body } = await request(`${open.haproxy.url}/`, { agent: false, headers: { host } });
        const key = status === 200 ? body.split(" ")[0] : `HTTP ${status}`;
        counts[key] = (counts[key] ?? 0) + 1;
      }
      return counts;
    };
    assert.deepStrictEqual(await byHost("blue.app.example.com:8080"), { blue: 10 });
    assert.deepStrictEqual(await byHost("GREEN.app.example.com"), { green: 10 });
    assert.deepStrictEqual(await byHost("app.example.com"), { green: 10 });
    await stopAll();
    const closed = await start(await startFleet(), { blue: 0, green: 1 }, { preview: { allowedCidrs: ["10.0.0.0/8"], hosts } });
    assert.strictEqual((await request(`${closed.haproxy.url}/`, { agent: false, headers: { host: "blue.app.example.com" } })).status, 403);
    assert.strictEqual((await request(`${closed.haproxy.url}/`, { agent: false, headers: { host: "app.example.com" } })).body.split(" ")[0], "green");
  });
});
