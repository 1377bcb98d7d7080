import * as assert from "assert";
import { RoutingMode } from "../components";
import * as fc from "fast-check";
import {
  appBackend,
  colorHop,
  COLOR_CHECK_HEADER,
  colorsBackend,
  colorStateServers,
  DEFAULT_HEALTH_CHECK,
  DEFAULT_TIMEOUTS,
  HaproxyConfigInput,
  HaproxyPlacement,
  layoutOf,
  publicFrontend,
  renderBootstrapConfig,
  renderHaproxyConfig,
  SMALL_BUFFER_BYTES,
  replicaWeights,
  statsFrontend,
} from "../components/haproxyConfig";
import { spawnSync } from "child_process";
import { SMALL_BUFFERS_SINCE, versionAtLeast } from "../components/capacity";
import { checkConfig, resealed, tempDir } from "./haproxy";

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

  it("every layout, with previews, on their ports and host names, passes haproxy -c with nothing deprecated", () => {
    const placement = { ...loopback(), previewPorts: { blue: 18081, green: 18082 } };
    const preview = { allowedCidrs: ["10.0.0.0/8", "127.0.0.0/8"], proxiedSources: ["172.17.0.1"], hosts: { blue: "blue.app.example.com", green: "green.app.example.com" } };
    for (const routing of ["round-robin", "sticky", "failover"] as const) {
      const config = renderHaproxyConfig(input({ routing, failoverPrimary: routing === "failover" ? "blue" : undefined, preview }), placement);
      const result = checkConfig(config);
      assert.ok(result.ok, result.output);
      // 3.2 warns of what 3.3 refuses (a frontend and a backend of one name); 3.4 of what 3.5 will.
      assert.doesNotMatch(result.output, /deprecated|no longer supported|not be supported/i, `${routing}: ${result.output}`);
    }
  });

  it("HAProxy 3.4 and later read the render's 3.4-only lines; earlier releases skip them", () => {
    const version = /version (\S+)/i.exec(spawnSync("haproxy", ["-v"], { encoding: "utf8" }).stdout)![1];
    const from34 = versionAtLeast(version, SMALL_BUFFERS_SINCE);
    const rendered = renderHaproxyConfig(input(), loopback());
    // 4 kB: the small buffer the documented per-connection costs were measured with (docs/configuration.md, "Capacity").
    assert.match(rendered, /\.if version_atleast\(3\.4\)\n {4}tune\.bufsize\.small 4096\n {4}\.endif/);
    assert.match(rendered, /\.if version_atleast\(3\.4\)\n {4}option use-small-buffers l7-retries\n {4}\.endif/);
    // A value only a reader refuses: 3.4 must refuse it, an earlier release must not see it.
    const broken = resealed(rendered, (body) => body.replace(`tune.bufsize.small ${SMALL_BUFFER_BYTES}`, "tune.bufsize.small lots"));
    const result = checkConfig(broken);
    assert.strictEqual(result.ok, !from34, `HAProxy ${version}: ${result.output}`);
    assert.ok(checkConfig(rendered).ok);
  });

  describe("replicaWeights: per-server weights so each color adds up to its share", () => {
    const table: Array<[string, [number, number], [number, number], { blue: number; green: number } | undefined]> = [
      ["equal replicas keep the weights, reduced", [50, 50], [2, 2], { blue: 1, green: 1 }],
      ["30/70 over 2 blue and 1 green", [30, 70], [2, 1], { blue: 3, green: 14 }],
      ["7/3 over 4 blue and 6 green", [7, 3], [4, 6], { blue: 7, green: 2 }],
      ["weight 0 stays 0", [0, 100], [3, 2], { blue: 0, green: 1 }],
      ["256/1 over one each", [256, 1], [1, 1], { blue: 256, green: 1 }],
      ["256/1 over 2 and 3: 384/1 is past 256", [256, 1], [2, 3], undefined],
      ["1/99 over 20 and 1: 1/1980 is past 256", [1, 99], [20, 1], undefined],
    ];
    for (const [name, [blue, green], [nb, ng], expected] of table) {
      it(name, () => assert.deepStrictEqual(replicaWeights({ blue, green }, { blue: nb, green: ng }), expected));
    }

    it("is exact whenever it answers: Σ blue servers / Σ all = w_b / (w_b + w_g) (property)", () => {
      const weight = fc.integer({ min: 0, max: 256 });
      const count = fc.integer({ min: 1, max: 20 });
      fc.assert(
        fc.property(weight, weight, count, count, (wb, wg, nb, ng) => {
          fc.pre(wb + wg > 0);
          const w = replicaWeights({ blue: wb, green: wg }, { blue: nb, green: ng });
          if (!w) return;
          assert.ok(w.blue >= 0 && w.blue <= 256 && w.green >= 0 && w.green <= 256);
          // Cross-multiplied, in integers: blue total × w_g = green total × w_b.
          assert.strictEqual(w.blue * nb * wg, w.green * ng * wb);
        }),
        { numRuns: 2000, seed: 7 },
      );
    });
  });

  describe("layoutOf", () => {
    const two = { ...servers, green: [...servers.green, { host: "127.0.0.1", port: 19005 }] };
    const table: Array<[string, Partial<HaproxyConfigInput>, string]> = [
      ["round-robin, exact at one level", {}, "one-level"],
      ["round-robin 256/1 over 2 and 3 replicas", { weights: { blue: 256, green: 1 }, servers: two }, "two-level"],
      ["failover, whatever the weights", { routing: "failover", failoverPrimary: "blue", weights: { blue: 256, green: 1 }, servers: two }, "one-level"],
      ["sticky: a cookie per color", { routing: "sticky" }, "two-level"],
    ];
    for (const [name, overrides, expected] of table) it(name, () => assert.strictEqual(layoutOf(input(overrides)), expected));
  });

  describe("section builders", () => {
    const placement = named();
    it("publicFrontend: one level sends to the app backend; two levels strip the color check header", () => {
      assert.deepStrictEqual(sectionLines(publicFrontend(placement, "one-level"), "frontend public"), [
        "bind 127.0.0.1:18080",
        "option forwardfor",
        "default_backend app",
      ]);
      assert.deepStrictEqual(sectionLines(publicFrontend(placement, "two-level"), "frontend public"), [
        "bind 127.0.0.1:18080",
        "option forwardfor",
        "http-request del-header x-traffic-distributor-check",
        "default_backend colors",
      ]);
    });

    const at = "check resolvers system init-addr last,libc,none";
    const obs = "observe layer4 error-limit 1 on-error mark-down";
    it("appBackend: every replica, weights scaled by the other color's count, IPv6 numbered", () => {
      const three = { ...servers, green: [...servers.green, { host: "127.0.0.1", port: 19005 }] };
      // 30/70 over 2 blue and 3 green: blue 30·3 = 90, green 70·2 = 140, reduced 9/14.
      const lines = sectionLines(appBackend(input({ weights: { blue: 30, green: 70 }, servers: three }), DEFAULT_HEALTH_CHECK), "backend app");
      assert.deepStrictEqual(lines.filter((l) => l.startsWith("server ")), [
        `server blue_127.0.0.1:19001 127.0.0.1:19001 weight 9 ${obs} ${at}`,
        `server blue_127.0.0.1:19002 127.0.0.1:19002 weight 9 ${obs} ${at}`,
        `server green_localhost:19003 localhost:19003 weight 14 ${obs} ${at}`,
        `server green_ipv6_1 [::1]:19004 weight 14 ${obs} ${at}`,
        `server green_127.0.0.1:19005 127.0.0.1:19005 weight 14 ${obs} ${at}`,
      ]);
      // Enough tries to pass all three green replicas and reach blue.
      assert.ok(lines.includes("retries 4"));
      assert.ok(lines.includes("retry-on conn-failure empty-response 502 503"));
      assert.ok(!lines.includes("option allbackups"));
    });

    it("appBackend: failover makes the other color backup servers, all used at once", () => {
      const lines = sectionLines(
        appBackend(input({ routing: "failover", failoverPrimary: "green", weights: { blue: 200, green: 0 } }), DEFAULT_HEALTH_CHECK),
        "backend app",
      );
      assert.ok(lines.includes("option allbackups"));
      assert.deepStrictEqual(lines.filter((l) => l.startsWith("server ")), [
        `server blue_127.0.0.1:19001 127.0.0.1:19001 weight 1 backup ${obs} ${at}`,
        `server blue_127.0.0.1:19002 127.0.0.1:19002 weight 1 backup ${obs} ${at}`,
        `server green_localhost:19003 localhost:19003 weight 1 ${obs} ${at}`,
        `server green_ipv6_1 [::1]:19004 weight 1 ${obs} ${at}`,
      ]);
    });

    it("appBackend refuses weights it cannot express exactly", () => {
      const two = { ...servers, green: [...servers.green, { host: "127.0.0.1", port: 19005 }] };
      assert.throws(() => appBackend(input({ weights: { blue: 256, green: 1 }, servers: two }), DEFAULT_HEALTH_CHECK), /two-level/);
    });

    it("colorsBackend: one server per color behind its socket, weighted", () => {
      const lines = sectionLines(colorsBackend(input({ weights: { blue: 30, green: 70 } }), placement, DEFAULT_TIMEOUTS), "backend colors");
      assert.deepStrictEqual(lines.filter((l) => l.startsWith("server ")), [
        "server blue unix@/run/td/check-blue.sock weight 30 check inter 200ms fall 1 rise 1",
        "server green unix@/run/td/check-green.sock weight 70 check inter 200ms fall 1 rise 1",
      ]);
      assert.ok(!lines.some((l) => l.startsWith("cookie")));
    });

    it("colorsBackend: failover, the other color is the backup whatever the weights", () => {
      const lines = sectionLines(
        colorsBackend(input({ routing: "failover", failoverPrimary: "green", weights: { blue: 200, green: 0 } }), placement, DEFAULT_TIMEOUTS),
        "backend colors",
      );
      assert.deepStrictEqual(lines.filter((l) => l.startsWith("server ")), [
        "server blue unix@/run/td/check-blue.sock weight 1 backup check inter 200ms fall 1 rise 1",
        "server green unix@/run/td/check-green.sock weight 1 check inter 200ms fall 1 rise 1",
      ]);
    });

    it("colorHop: the color's socket answers its own check, then its replicas", () => {
      const hop = colorHop(input(), placement, "green", DEFAULT_HEALTH_CHECK);
      assert.deepStrictEqual(sectionLines(hop, "frontend green_in")[0], "bind unix@/run/td/check-green.sock");
      assert.deepStrictEqual(sectionLines(hop, "backend green").filter((l) => l.startsWith("server ")), [
        `server green_localhost:19003 localhost:19003 ${at}`,
        `server green_ipv6_1 [::1]:19004 ${at}`,
      ]);
    });

    it("statsFrontend: the password only when given, on the stats page and /metrics alike", () => {
      const open = statsFrontend(placement, 18404, undefined);
      assert.ok(!sectionLines(open, "frontend stats").some((l) => l.startsWith("stats auth") || l.startsWith("http-request auth")));
      assert.doesNotMatch(open, /userlist/);
      assert.ok(sectionLines(open, "frontend stats").includes("http-request use-service prometheus-exporter if { path /metrics }"));
      const closed = statsFrontend(placement, 18404, "pw-1");
      assert.ok(sectionLines(closed, "frontend stats").includes("stats auth admin:'pw-1'"));
      assert.deepStrictEqual(sectionLines(closed, "userlist stats_users"), ["user admin insecure-password 'pw-1'"]);
      // The exporter answers only after the password is checked.
      assert.deepStrictEqual(sectionLines(closed, "frontend stats").slice(-2), [
        "http-request auth realm metrics if { path /metrics } !{ http_auth(stats_users) }",
        "http-request use-service prometheus-exporter if { path /metrics }",
      ]);
    });
  });

  it("round-robin and failover render one level: no color hop; the color sockets lead to app, answer the hop's checks, log nothing", () => {
    for (const overrides of [{}, { routing: "failover" as const, failoverPrimary: "blue" as const }]) {
      const config = renderHaproxyConfig(input(overrides), named());
      assert.ok(config.includes("\nbackend app\n"));
      // The hold template's comment lines carry both layouts; HAProxy reads none of them.
      const read = config.split("\n").filter((line) => !line.startsWith("#")).join("\n");
      assert.doesNotMatch(read, /backend colors|backend (blue|green)\n/);
      assert.deepStrictEqual(sectionLines(read, "frontend public").filter((l) => l.startsWith("default_backend")), ["default_backend app"]);
      for (const color of ["blue", "green"]) {
        assert.deepStrictEqual(sectionLines(read, `frontend ${color}_in`), [
          `bind unix@/run/td/check-${color}.sock`,
          "no log",
          `http-request return status 200 if { req.hdr(${COLOR_CHECK_HEADER}) -m found } { nbsrv(app) gt 0 }`,
          `http-request return status 503 if { req.hdr(${COLOR_CHECK_HEADER}) -m found }`,
          "default_backend app",
        ]);
      }
    }
  });

  it("binds each color's socket with the same line in either layout, in the hold template's one level too", () => {
    const one = renderHaproxyConfig(input(), named());
    const two = renderHaproxyConfig(input({ routing: "sticky" }), named());
    for (const color of ["blue", "green"]) {
      const bind = sectionLines(two, `frontend ${color}_in`)[0];
      assert.strictEqual(sectionLines(one, `frontend ${color}_in`)[0], bind);
      assert.ok(one.includes(`\n# hold:one frontend ${color}_in\n# hold:one     ${bind}\n`), `${color}: the hold's one level lacks the socket`);
    }
  });

  it("weights one level cannot express fall back to the two levels, still valid", () => {
    const two = { ...servers, green: [...servers.green, { host: "127.0.0.1", port: 19005 }] };
    const config = renderHaproxyConfig(input({ weights: { blue: 256, green: 1 }, servers: two }), loopback());
    assert.match(config, /\nbackend colors\n/);
    assert.ok(!config.includes("\nbackend app\n"));
    const result = checkConfig(config);
    assert.ok(result.ok, result.output);
  });

  it("sticky: a cookie per color, not per container", () => {
    const config = renderHaproxyConfig(input({ routing: "sticky", weights: { blue: 0, green: 9 } }), named());
    const lines = sectionLines(config, "backend colors");
    // The cookie's name is documented (docs/how-it-works.md, "sticky"): clients and caches see it.
    assert.ok(lines.includes("cookie td_color insert indirect nocache httponly"));
    assert.ok(lines.includes("server blue unix@/run/td/check-blue.sock weight 0 check inter 200ms fall 1 rise 1 cookie blue"));
    assert.ok(lines.includes("server green unix@/run/td/check-green.sock weight 9 check inter 200ms fall 1 rise 1 cookie green"));
    assert.ok(!sectionLines(config, "backend blue").some((l) => l.includes("cookie")));
  });

  it("checks every replica with HTTP/1.1 on the given path, in either layout", () => {
    const healthCheck = { ...DEFAULT_HEALTH_CHECK, path: "/healthz" };
    const backends: Array<[Partial<HaproxyConfigInput>, string[]]> = [
      [{}, ["backend app"]],
      [{ routing: "sticky" }, ["backend blue", "backend green"]],
    ];
    for (const [overrides, names] of backends) {
      const config = renderHaproxyConfig(input({ ...overrides, healthCheck }), loopback());
      for (const name of names) {
        const lines = sectionLines(config, name);
        assert.ok(lines.includes("http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host %[srv_name,regsub(^blue_,),regsub(^green_,)]"), name);
        assert.ok(lines.includes("http-check expect status 200-399"), name);
      }
    }
  });

  it("keeps reloads graceful and retries only idempotent requests, in either layout", () => {
    const one = renderHaproxyConfig(input(), loopback());
    assert.ok(sectionLines(one, "defaults").includes("option idle-close-on-response"));
    // Master-worker comes from the image's entrypoint (`haproxy -W`): 3.3 deprecates the keyword.
    assert.ok(!sectionLines(one, "global").includes("master-worker"));
    assert.ok(sectionLines(one, "backend app").includes("http-request disable-l7-retry unless METH_GET || METH_HEAD"));
    const two = renderHaproxyConfig(input({ routing: "sticky" }), loopback());
    for (const backend of ["backend colors", "backend blue", "backend green"]) {
      assert.ok(sectionLines(two, backend).includes("http-request disable-l7-retry unless METH_GET || METH_HEAD"));
    }
    // Between colors: a color's own 502 (its last replica reset) and 503 (none healthy) move on.
    assert.ok(sectionLines(two, "backend colors").includes("retry-on conn-failure empty-response 502 503"));
  });

  it("colorStateServers names where a color's state is read, in either layout", () => {
    assert.deepStrictEqual(colorStateServers(input(), "green"), [
      ["app", "green_localhost:19003"],
      ["app", "green_ipv6_1"],
    ]);
    assert.deepStrictEqual(colorStateServers(input({ routing: "sticky" }), "green"), [["colors", "green"]]);
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

  it("never gives two servers one name, whatever their hosts", () => {
    // An IPv6 literal cannot be a name: it gets a numbered one with an underscore, which no
    // validated host has, so it cannot collide with a host such as "green-0".
    const clash = { blue: servers.blue, green: [{ host: "::1", port: 8080 }, { host: "green-0", port: 80 }, { host: "green-1", port: 81 }] };
    for (const routing of ["round-robin", "sticky"] as const) {
      const config = renderHaproxyConfig(input({ servers: clash, routing }), loopback());
      const names = config.split("\n").filter((l) => l.trim().startsWith("server ") && !l.includes("unix@")).map((l) => l.trim().split(" ")[1]);
      assert.strictEqual(new Set(names).size, names.length, names.join(" "));
      assert.ok(checkConfig(config).ok, checkConfig(config).output);
    }
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
