import * as assert from "assert";
import * as fc from "fast-check";
import { SettingsError } from "../components";
import {
  isValidHost,
  parseHealthCheckPath,
  parseImage,
  parseServer,
  parseServerList,
  parseStatsPassword,
  parseWeight,
  weightPercentages, parseCidr } from "../components/settings";
import { validateTrafficDistributorArgs } from "../components/trafficDistributorArgs";
import { STATS_PASSWORD } from "./mocks";

describe("settings validation", () => {
  describe("weights", () => {
    const accepted: Array<[unknown, number]> = [
      [0, 0], [1, 1], [256, 256], ["0", 0], ["50", 50], [" 7 ", 7], ["256", 256],
    ];
    for (const [input, expected] of accepted) {
      it(`accepts ${JSON.stringify(input)} as ${expected}`, () => {
        assert.strictEqual(parseWeight("weight.blue", input), expected);
      });
    }
    const rejected: unknown[] = [-1, "-1", 257, "257", 1.5, "1.5", "abc", "", "0x10", null, true, NaN, "1e2"];
    for (const input of rejected) {
      it(`rejects ${JSON.stringify(input)} naming the key and the range`, () => {
        assert.throws(
          () => parseWeight("traffic-distributor:weight.blue", input),
          (e: Error) =>
            e instanceof SettingsError &&
            e.message.startsWith("traffic-distributor:weight.blue is ") &&
            e.message.endsWith("must be a whole number from 0 to 256"),
        );
      });
    }

    it("rejects both weights 0, naming both keys", () => {
      assert.throws(
        () => validateTrafficDistributorArgs({ weights: { blue: 0, green: 0 } }),
        /^SettingsError: weights.blue and weights.green are both 0: at least one color needs a weight from 1 to 256$/,
      );
    });

    it("percentages add up to 100 and follow the weights, for every pair", () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 256 }), fc.integer({ min: 0, max: 256 }), (blue, green) => {
          fc.pre(blue + green > 0);
          const pct = weightPercentages({ blue, green });
          assert.ok(Math.abs(pct.blue + pct.green - 100) <= 0.01 + 1e-9);
          assert.ok(Math.abs(pct.blue - (100 * blue) / (blue + green)) <= 0.005 + 1e-9);
          if (blue === 0) assert.strictEqual(pct.blue, 0);
        }),
      );
    });
  });

  describe("servers", () => {
    const good: Array<[string, string, number]> = [
      ["10.0.0.5:8080", "10.0.0.5", 8080],
      ["app.internal:80", "app.internal", 80],
      ["my-app-blue-0-1a2b3c4d:80", "my-app-blue-0-1a2b3c4d", 80],
      ["[::1]:9000", "::1", 9000],
      ["[2001:db8::5]:443", "2001:db8::5", 443],
      ["localhost:65535", "localhost", 65535],
      // One spelling per host: the same server compares equal however it is written.
      ["[0:0:0:0:0:0:0:1]:9000", "::1", 9000],
      ["[2001:DB8:0::5]:443", "2001:db8::5", 443],
      ["[::ffff:10.0.0.5]:80", "10.0.0.5", 80],
      ["App.Internal.:80", "app.internal", 80],
    ];
    for (const [input, host, port] of good) {
      it(`parses ${input}`, () => assert.deepStrictEqual(parseServer("blue.servers[0]", input), { host, port }));
    }
    const bad = [
      "10.0.0.5", "10.0.0.5:0", "10.0.0.5:65536", "10.0.0.256:80", "bad_host:80", "-lead.example:80",
      "host:port", ":80", "a b:80", "::1:80", "host:80 check", "host:80\nserver x", "",
    ];
    for (const input of bad) {
      it(`rejects ${JSON.stringify(input)}`, () => {
        assert.throws(
          () => parseServer("traffic-distributor:blue.servers[0]", input),
          /^SettingsError: traffic-distributor:blue.servers\[0\] is .*: must be "host:port" with a DNS name, an IPv4 address or a bracketed IPv6 address, and a port from 1 to 65535$/s,
        );
      });
    }
    it("CIDR blocks: IPv6 in its shortest form, an IPv4-mapped block kept IPv6, host bits refused in both families", () => {
      assert.strictEqual(parseCidr("k", "2001:DB8:0::/32"), "2001:db8::/32");
      assert.strictEqual(parseCidr("k", "::ffff:10.0.0.0/104"), "::ffff:a00:0/104");
      assert.strictEqual(parseCidr("k", "203.0.113.0/24"), "203.0.113.0/24");
      assert.throws(() => parseCidr("k", "203.0.113.7/24"), /has host bits set; the network is "203\.0\.113\.0\/24"$/);
      assert.throws(() => parseCidr("k", "2001:db8::1/32"), /has host bits set; the network is "2001:db8::\/32"$/);
    });
    it("reads the JSON text `pulumi config set` stores, and the list form", () => {
      assert.deepStrictEqual(parseServerList("k", '["10.0.0.5:8080","10.0.0.6:8080"]'), [
        { host: "10.0.0.5", port: 8080 },
        { host: "10.0.0.6", port: 8080 },
      ]);
      assert.deepStrictEqual(parseServerList("k", ["a.b:1"]), [{ host: "a.b", port: 1 }]);
    });
    it("names the element that is wrong", () => {
      assert.throws(() => parseServerList("blue.servers", ["a:1", "b"]), /^SettingsError: blue.servers\[1\] is "b"/);
      assert.throws(() => parseServerList("blue.servers", "10.0.0.5:80"), /blue.servers is "10.0.0.5:80": must be a JSON list/);
    });
    it("host checks: labels of at most 63 characters, names of at most 253", () => {
      assert.ok(isValidHost("a".repeat(63) + ".example"));
      assert.ok(!isValidHost("a".repeat(64) + ".example"));
      assert.ok(!isValidHost(("a".repeat(60) + ".").repeat(5)));
    });
  });

  describe("other settings", () => {
    it("routing must be one of the three modes", () => {
      assert.throws(
        () => validateTrafficDistributorArgs({ routing: "random" as never }),
        /^SettingsError: routing is "random": must be one of "round-robin", "sticky", "failover"$/,
      );
    });
    it("replicas must be 1 to 20", () => {
      for (const replicas of [0, -1, 21, 1.5]) {
        assert.throws(
          () => validateTrafficDistributorArgs({ green: { replicas } }),
          /^SettingsError: green.replicas is .*: must be a whole number from 1 to 20$/,
        );
      }
    });
    it("failover takes the named primary, else the heavier color, and refuses a tie", () => {
      assert.strictEqual(
        validateTrafficDistributorArgs({ statsPassword: STATS_PASSWORD, routing: "failover", weights: { blue: 10, green: 90 } }).failoverPrimary,
        "green",
      );
      assert.strictEqual(
        validateTrafficDistributorArgs({ statsPassword: STATS_PASSWORD, routing: "failover", failoverPrimary: "blue", weights: { blue: 10, green: 90 } })
          .failoverPrimary,
        "blue",
      );
      assert.throws(() => validateTrafficDistributorArgs({ routing: "failover" }), /needs a primary color: set failover.primary/);
    });
    it("a color is either existing servers or provisioned", () => {
      assert.throws(
        () => validateTrafficDistributorArgs({ blue: { servers: ["a:1"], image: "nginx" } as never }),
        /^SettingsError: blue.servers and blue.image are both set/,
      );
      assert.throws(() => validateTrafficDistributorArgs({ blue: { servers: [] } }), /blue.servers is empty/);
    });
    it("ports must be 1 to 65535 and the public and stats ports must differ", () => {
      assert.throws(() => validateTrafficDistributorArgs({ listenPort: 0 }), /listenPort is 0: must be a whole number from 1 to 65535/);
      assert.throws(() => validateTrafficDistributorArgs({ listenPort: 9000, statsPort: 9000 }), /listenPort and statsPort are both 9000/);
    });
    it("image references", () => {
      for (const ok of ["nginx", "nginx:1.27", "traefik/whoami:v1.10.1", "registry.example.com:5000/team/app:2.0", `app@sha256:${"a".repeat(64)}`]) {
        assert.strictEqual(parseImage("blue.image", ok), ok);
      }
      for (const bad of ["", "Nginx", "nginx:", "nginx latest", "a//b", "app:1;rm -rf /"]) {
        assert.throws(() => parseImage("blue.image", bad), /^SettingsError: blue.image is .*: must be a Docker image reference/);
      }
    });
    it("health-check paths cannot break out of the HAProxy config line", () => {
      assert.strictEqual(parseHealthCheckPath("p", "/healthz?full=1"), "/healthz?full=1");
      for (const bad of ["healthz", "/a b", "/a\nserver x", "/a#b", '/a"b', "/$HOME"]) {
        assert.throws(() => parseHealthCheckPath("healthCheck.path", bad), /^SettingsError: healthCheck.path is .*: must be an HTTP path/s);
      }
    });
    it("stats passwords: no quotes, no spaces, 8+ characters, and never echoed", () => {
      assert.strictEqual(parseStatsPassword("statsPassword", "c0rrect-h0rse"), "c0rrect-h0rse");
      for (const bad of ["short", "has space x", "it's-a-quote", "x".repeat(129)]) {
        assert.throws(
          () => parseStatsPassword("statsPassword", bad),
          (e: Error) => /^statsPassword is not allowed/.test(e.message) && !e.message.includes(bad),
        );
      }
    });
  });
});
