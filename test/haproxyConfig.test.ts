import * as assert from "assert";
import { COLORS, RoutingMode } from "../components";
import {
  DEFAULT_HEALTH_CHECK,
  HaproxyConfigInput,
  HaproxyPlacement,
  renderBootstrapConfig,
  renderHaproxyConfig,
  STICKY_COOKIE,
} from "../components/haproxyConfig";
import { checkConfig, tempDir } from "./haproxy";

const loopback = (): HaproxyPlacement => ({
  bindAddress: "127.0.0.1",
  listenPort: 18080,
  statsPort: 18404,
  runtimeDir: tempDir("run"),
  instance: "check",
});

/** A placement for tests that read lines only: a fixed runtime directory in socket names. */
const named = (): HaproxyPlacement => ({ ...loopback(), runtimeDir: "/run/td" });

const servers = {
  blue: [
    { host: "127.0.0.1", port: 19001 },
    { host: "127.0.0.1", port: 19002 },
  ],
  green: [{ host: "localhost", port: 19003 }, { host: "::1", port: 19004 }],
};

function input(overrides: Partial<HaproxyConfigInput> = {}): HaproxyConfigInput {
  return { weights: { blue: 50, green: 50 }, routing: "round-robin", servers, ...overrides };
}

/** The lines of one section, without indentation. */
function sectionLines(config: string, header: string): string[] {
  const start = config.split("\n").indexOf(header);
  assert.ok(start >= 0, `no section ${header}`);
  const lines: string[] = [];
  for (const line of config.split("\n").slice(start + 1)) {
    if (!line.startsWith("    ")) break;
    lines.push(line.trim());
  }
  return lines;
}

describe("HAProxy config renderer", () => {
  const cases: Array<[RoutingMode, number, number]> = [
    ["round-robin", 50, 50], ["round-robin", 30, 70], ["round-robin", 0, 100], ["round-robin", 256, 1],
    ["sticky", 1, 99], ["sticky", 100, 0], ["failover", 10, 90], ["failover", 256, 0],
  ];
  for (const [routing, blue, green] of cases) {
    it(`${routing} ${blue}/${green} passes haproxy -c`, () => {
      const primary = blue >= green ? "blue" : "green";
      const config = renderHaproxyConfig(
        input({ routing, weights: { blue, green }, failoverPrimary: routing === "failover" ? primary : undefined }),
        loopback(),
      );
      const result = checkConfig(config);
      assert.ok(result.ok, result.output);
    });
  }

  it("gives each color one weighted server in the colors backend", () => {
    const lines = sectionLines(renderHaproxyConfig(input({ weights: { blue: 30, green: 70 } }), named()), "backend colors");
    assert.deepStrictEqual(lines.filter((l) => l.startsWith("server ")), [
      "server blue unix@/run/td/check-blue.sock weight 30 check inter 200ms fall 1 rise 1",
      "server green unix@/run/td/check-green.sock weight 70 check inter 200ms fall 1 rise 1",
    ]);
    assert.ok(lines.includes("balance roundrobin"));
    assert.ok(!lines.some((l) => l.startsWith("cookie")));
  });

  it("sticky: a cookie per color, not per container", () => {
    const config = renderHaproxyConfig(input({ routing: "sticky", weights: { blue: 0, green: 9 } }), named());
    const lines = sectionLines(config, "backend colors");
    assert.ok(lines.includes(`cookie ${STICKY_COOKIE} insert indirect nocache httponly`));
    assert.ok(lines.includes("server blue unix@/run/td/check-blue.sock weight 0 check inter 200ms fall 1 rise 1 cookie blue"));
    assert.ok(lines.includes("server green unix@/run/td/check-green.sock weight 9 check inter 200ms fall 1 rise 1 cookie green"));
    assert.ok(!sectionLines(config, "backend blue").some((l) => l.includes("cookie")));
  });

  it("failover: the primary serves, the other is a backup, whatever the weights", () => {
    const lines = sectionLines(
      renderHaproxyConfig(input({ routing: "failover", failoverPrimary: "green", weights: { blue: 200, green: 0 } }), named()),
      "backend colors",
    );
    assert.deepStrictEqual(lines.filter((l) => l.startsWith("server ")), [
      "server blue unix@/run/td/check-blue.sock weight 1 backup check inter 200ms fall 1 rise 1",
      "server green unix@/run/td/check-green.sock weight 1 check inter 200ms fall 1 rise 1",
    ]);
  });

  it("lists every replica of a color with an active health check on the given path", () => {
    const config = renderHaproxyConfig(input({ healthCheck: { ...DEFAULT_HEALTH_CHECK, path: "/healthz" } }), loopback());
    for (const color of COLORS) {
      const lines = sectionLines(config, `backend ${color}`);
      assert.ok(lines.includes("http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host %[srv_name]"));
      assert.ok(lines.includes("http-check expect status 200-399"));
    }
    // Each server is named after the Host its checks send; an IPv6 literal cannot be a name,
    // and its numbered name cannot collide with a host's ("green-0" here).
    const at = "check resolvers system init-addr last,libc,none";
    assert.deepStrictEqual(sectionLines(config, "backend blue").filter((l) => l.startsWith("server ")), [
      `server 127.0.0.1:19001 127.0.0.1:19001 ${at}`,
      `server 127.0.0.1:19002 127.0.0.1:19002 ${at}`,
    ]);
    assert.deepStrictEqual(sectionLines(config, "backend green").filter((l) => l.startsWith("server ")), [
      `server localhost:19003 localhost:19003 ${at}`,
      `server green_1 [::1]:19004 ${at}`,
    ]);
  });

  it("never gives two servers one name, whatever their hosts", () => {
    const clash = { blue: servers.blue, green: [{ host: "::1", port: 8080 }, { host: "green-0", port: 80 }, { host: "green_0", port: 81 }] };
    const config = renderHaproxyConfig(input({ servers: clash }), loopback());
    const names = sectionLines(config, "backend green").filter((l) => l.startsWith("server ")).map((l) => l.split(" ")[1]);
    assert.strictEqual(new Set(names).size, 3, names.join(" "));
    assert.ok(checkConfig(config).ok, checkConfig(config).output);
  });

  it("keeps reloads graceful and retries only idempotent requests", () => {
    const config = renderHaproxyConfig(input(), loopback());
    assert.ok(sectionLines(config, "defaults").includes("option idle-close-on-response"));
    assert.ok(sectionLines(config, "global").includes("master-worker"));
    for (const backend of ["backend colors", "backend blue", "backend green"]) {
      assert.ok(sectionLines(config, backend).includes("http-request disable-l7-retry unless METH_GET || METH_HEAD"));
    }
    // Between colors: a color's own 502 (its last replica reset) and 503 (none healthy) move on.
    assert.ok(sectionLines(config, "backend colors").includes("retry-on conn-failure empty-response 502 503"));
  });

  it("protects the stats page with the password when one is given, and binds it where told", () => {
    const placement = loopback();
    const open = sectionLines(renderHaproxyConfig(input(), placement), "frontend stats");
    assert.ok(open.includes("bind 127.0.0.1:18404"));
    assert.ok(!open.some((l) => l.startsWith("stats auth")));
    const config = renderHaproxyConfig(input({ statsPassword: "s3cret-pass" }), placement);
    assert.ok(sectionLines(config, "frontend stats").includes("stats auth admin:'s3cret-pass'"));
    assert.ok(checkConfig(config).ok);
    assert.ok(!renderHaproxyConfig(input(), { ...placement, statsPort: undefined }).includes("frontend stats"));
  });

  it("refuses to render a color without servers", () => {
    assert.throws(() => renderHaproxyConfig(input({ servers: { blue: [], green: servers.green } })), /blue has no servers/);
  });

  it("the bootstrap config the container starts with is valid and does not depend on weights", () => {
    const result = checkConfig(renderBootstrapConfig(loopback()));
    assert.ok(result.ok, result.output);
    assert.doesNotMatch(renderBootstrapConfig(), /^\s*server /m);
  });

  it("haproxy -c rejects a broken config (the check itself can fail)", () => {
    const broken = renderHaproxyConfig(input(), loopback()).replace("balance roundrobin", "balance nonsense");
    const result = checkConfig(broken);
    assert.strictEqual(result.ok, false);
    assert.match(result.output, /balance only supports/);
  });
});
