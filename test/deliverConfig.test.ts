// The container's config-delivery script, run for real against Debian's HAProxy: a valid
// config is validated and reloaded in place; a rejected, cut or unloadable one never serves;
// deliveries at once, killed or cut short leave a validated config serving and the file on
// disk equal to it; nothing printed holds the stats password.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as net from "net";
import * as path from "path";
import { renderHaproxyConfig } from "../components/haproxyConfig";
import { Weights } from "../components/settings";
import { CONFIG_TRAILER_PREFIX } from "../components/configSeal";
import { checkConfig, resealed, tempDir, unsealed } from "./haproxy";
import {
  countColors,
  deliverConfig,
  DeliveryResult,
  Fleet,
  fleetServers,
  freePort,
  Haproxy,
  sleep,
  startDelivery,
  startFleet,
  startHaproxy,
  loopbackPlacement,
  startLoad,
  startRoundRobin,
  stopAll,
} from "./harness";

const PASSWORD = "Pw-5ecret-q7Zx";

/** Files the delivery leaves beside the config: a delivery's own copy or an unconfirmed swap. */
function leftovers(haproxy: Haproxy): string[] {
  const dir = path.dirname(haproxy.configPath);
  const base = path.basename(haproxy.configPath);
  return fs.readdirSync(dir).filter((f) => f.startsWith(`${base}.new.`) || f === `${base}.rollback`);
}

function onDisk(haproxy: Haproxy): string {
  return fs.readFileSync(haproxy.configPath, "utf8");
}

const show = (r: DeliveryResult) => `status ${r.status} signal ${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** Waits until the file exists (the stand-in docker paused there). */
async function waitForFile(file: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${file}`);
    await sleep(20);
  }
  return fs.readFileSync(file, "utf8").trim();
}

describe("config delivery: validate in place, then reload (real HAProxy)", function () {
  this.timeout(120_000);
  let backends: Fleet;
  const dirs: string[] = [];

  beforeEach(async () => {
    backends = await startFleet();
  });
  afterEach(async () => {
    await stopAll();
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  async function setup(weights: Weights) {
    const started = await startRoundRobin(backends, weights);
    dirs.push(started.haproxy.placement.runtimeDir);
    return started;
  }

  /** A pause point for the stand-in docker, and the file it writes when paused there. */
  function pauseAt(point: string): { env: Record<string, string>; marker: string } {
    const dir = tempDir("pause");
    dirs.push(dir);
    const marker = path.join(dir, "paused");
    return { env: { FAKE_DOCKER_PAUSE: point, FAKE_DOCKER_PAUSED: marker }, marker };
  }

  it("applies a weight change with a graceful reload (a delivery without a plan, as from an earlier release)", async () => {
    const { haproxy, render } = await setup({ blue: 100, green: 0 });
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });

    const result = await deliverConfig(haproxy, render({ blue: 0, green: 100 }), { plan: false });
    assert.strictEqual(result.status, 0, show(result));
    assert.match(result.stdout, /reloaded \(attempt 1, new worker \d+\)/);
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });
    assert.strictEqual(onDisk(haproxy), render({ blue: 0, green: 100 }));
    assert.deepStrictEqual(leftovers(haproxy), []);
  });

  it("leaves the running config serving and reports HAProxy's message when the new one is rejected", async () => {
    const { haproxy, render } = await setup({ blue: 0, green: 100 });
    const good = onDisk(haproxy);
    const broken = resealed(render({ blue: 100, green: 0 }), (body) => body.replace("balance roundrobin", "balance sideways"));

    const result = await deliverConfig(haproxy, broken);
    assert.strictEqual(result.status, 1, show(result));
    assert.match(result.stderr, /rejected the new config; the running config is unchanged/);
    assert.match(result.stderr, /balance only supports/);
    assert.strictEqual(onDisk(haproxy), good);
    assert.deepStrictEqual(leftovers(haproxy), []);
    assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });
  });

  describe("integrity trailer", () => {
    it("never installs a config cut at a line break or mid-line, though many such cuts pass haproxy -c", async function () {
      this.timeout(240_000);
      const { haproxy, render } = await setup({ blue: 100, green: 0 });
      const good = onDisk(haproxy);
      const full = render({ blue: 0, green: 100 });
      const bytes = Buffer.from(full, "utf8");
      const cuts: number[] = [];
      const atBreaks = new Set<number>();
      const breaks: number[] = [];
      for (let i = 0; i < bytes.length - 1; i++) if (bytes[i] === 0x0a) breaks.push(i);
      // Every line break up to 80, then an even spread of 80 of them (each cut is one delivery).
      const stride = Math.ceil(breaks.length / 80);
      breaks.forEach((i, line) => {
        if (line % stride !== 0) return;
        cuts.push(i + 1); // whole lines
        atBreaks.add(i + 1);
        const nextBreak = bytes.indexOf(0x0a, i + 1);
        if ((line / stride) % 3 === 0 && nextBreak > i + 2) cuts.push(i + 1 + Math.floor((nextBreak - i) / 2)); // mid-line
      });
      cuts.push(bytes.length - 1); // all but the final line break
      let passCheck = 0;
      for (const cutAt of cuts) {
        if (atBreaks.has(cutAt) && checkConfig(bytes.subarray(0, cutAt).toString("utf8")).ok) passCheck++;
        const result = await startDelivery(haproxy, full, { cutAt }).result;
        assert.strictEqual(result.status, 1, `cut at byte ${cutAt}: ${show(result)}`);
        assert.match(result.stderr, /refused the new config for distributor: .*\.\ntraffic-distributor: it was cut short or changed after rendering; the running config is unchanged\./, `cut at ${cutAt}`);
        assert.strictEqual(onDisk(haproxy), good, `cut at byte ${cutAt} was installed`);
      }
      assert.deepStrictEqual(leftovers(haproxy), []);
      assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });
      console.log(`      ${cuts.length} cuts of ${breaks.length + 1} lines refused; ${passCheck} of the ${atBreaks.size} at a line break pass haproxy -c on their own`);
      assert.ok(passCheck > 0, "no cut passes haproxy -c: the trailer would not be what refuses them");

      const whole = await deliverConfig(haproxy, full);
      assert.strictEqual(whole.status, 0, show(whole));
      assert.strictEqual(onDisk(haproxy), full);
    });

    it("refuses a config changed after sealing, and one without a trailer, naming the reason", async () => {
      const { haproxy, render } = await setup({ blue: 100, green: 0 });
      const good = onDisk(haproxy);
      const sealed = render({ blue: 0, green: 100 });
      const changed = sealed.replace("timeout queue 5s", "timeout queue 6s");
      assert.notStrictEqual(changed, sealed);
      const cases: Array<[string, string, RegExp]> = [
        ["changed", changed, /its SHA-256 is [0-9a-f]{64}, its trailer says [0-9a-f]{64}/],
        ["no trailer", unsealed(sealed), /its last line is not the trailer "# end of traffic-distributor config sha256:<sha256>"/],
        ["short hash", sealed.replace(/[0-9a-f]{64}\n$/, "abc\n"), /does not hold a lowercase hex SHA-256/],
        ["upper-case hash", sealed.replace(/[0-9a-f]{64}\n$/, (h) => h.toUpperCase()), /does not hold a lowercase hex SHA-256/],
        ["empty", "", /it is empty/],
      ];
      for (const [name, config, reason] of cases) {
        const result = await deliverConfig(haproxy, config);
        assert.strictEqual(result.status, 1, `${name}: ${show(result)}`);
        assert.match(result.stderr, reason, name);
        assert.strictEqual(onDisk(haproxy), good, name);
      }
      assert.ok(sealed.endsWith("\n") && sealed.split("\n").at(-2)!.startsWith(CONFIG_TRAILER_PREFIX));
    });
  });

  describe("serialized deliveries", () => {
    it("a rejected delivery that starts while a valid one is past haproxy -c never becomes the live file", async () => {
      const { haproxy, render } = await setup({ blue: 100, green: 0 });
      const valid = render({ blue: 0, green: 100 });
      const rejected = resealed(render({ blue: 100, green: 0 }), (body) => body.replace("balance roundrobin", "balance sideways"));
      const pause = pauseAt("after haproxy -c");
      const first = startDelivery(haproxy, valid, { env: pause.env });
      await waitForFile(pause.marker);
      const second = startDelivery(haproxy, rejected);
      await sleep(1500); // long enough for the second to run to its end if nothing holds it
      fs.rmSync(pause.marker);
      const [a, b] = await Promise.all([first.result, second.result]);
      assert.strictEqual(a.status, 0, show(a));
      assert.strictEqual(b.status, 1, show(b));
      assert.match(b.stderr, /balance only supports/);
      assert.strictEqual(onDisk(haproxy), valid);
      assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });
      assert.deepStrictEqual(leftovers(haproxy), []);
    });

    it("16 times, a valid and a rejected delivery at once: the live file is the valid one and serves", async () => {
      const { haproxy, render } = await setup({ blue: 100, green: 0 });
      for (let run = 0; run < 16; run++) {
        const weights = run % 2 === 0 ? { blue: 0, green: 100 } : { blue: 100, green: 0 };
        const valid = render(weights);
        const rejected = resealed(render({ blue: 1, green: 1 }), (body) => body.replace("balance roundrobin", "balance sideways"));
        const [a, b] = await Promise.all([deliverConfig(haproxy, valid), deliverConfig(haproxy, rejected)]);
        assert.strictEqual(a.status, 0, `run ${run}: ${show(a)}`);
        assert.strictEqual(b.status, 1, `run ${run}: ${show(b)}`);
        assert.strictEqual(onDisk(haproxy), valid, `run ${run}: the live file is not the valid config`);
        const counts = await countColors(haproxy.url, 10);
        assert.deepStrictEqual(counts, { blue: weights.blue ? 10 : 0, green: weights.green ? 10 : 0, other: 0 }, `run ${run}`);
      }
      assert.deepStrictEqual(leftovers(haproxy), []);
    });
  });

  describe("a new listener that cannot bind", () => {
    it("a port another process holds is refused before any reload: nothing serving is paused, 0 failed requests", async () => {
      const { haproxy, render } = await setup({ blue: 100, green: 0 });
      const good = onDisk(haproxy);
      // Another process holds the port the new config binds: -c passes, a new worker could not start.
      const taken = await freePort();
      const squatter = net.createServer();
      await new Promise<void>((resolve) => squatter.listen(taken, "127.0.0.1", resolve));
      const load = startLoad(haproxy.url, { keepAliveClients: 2, newConnectionClients: 2, maxDurationMs: 30_000, maxRequestsPerClient: 20_000 });
      try {
        const clash = renderHaproxyConfig(
          { weights: { blue: 0, green: 100 }, routing: "round-robin", servers: fleetServers(backends), statsPassword: PASSWORD },
          { ...haproxy.placement, listenPort: taken },
        );
        assert.ok(checkConfig(clash).ok, "the clashing config must pass haproxy -c");
        await sleep(300);
        const result = await deliverConfig(haproxy, clash);
        await sleep(300);
        await load.stop();
        assert.strictEqual(result.status, 1, show(result));
        assert.match(result.stderr, new RegExp(`refused the new config for distributor: it listens on 127\\.0\\.0\\.1:${taken}, which another process .* holds \\(address already in use\\)`));
        assert.match(result.stderr, /nothing was reloaded and the running config is unchanged/);
        assert.doesNotMatch(result.stdout, /reloaded/);
        assert.ok(!`${result.stdout}${result.stderr}`.includes(PASSWORD));
        assert.strictEqual(onDisk(haproxy), good);
        assert.deepStrictEqual(leftovers(haproxy), []);
        assert.strictEqual(load.counts.errors + load.counts.non2xx, 0, load.counts.samples.join("\n"));
        assert.ok(load.counts.ok > 100, `${load.counts.ok} requests`);
        console.log(`      refused before any reload: ${load.counts.ok} requests meanwhile, 0 failed`);
      } finally {
        await load.stop();
        await new Promise((resolve) => squatter.close(resolve));
      }
      const next = await deliverConfig(haproxy, render({ blue: 0, green: 100 }));
      assert.strictEqual(next.status, 0, show(next));
      assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });
    });

    it("a reload that fails after haproxy -c and the bind check passed puts the previous file back in a bounded time, and keeps it serving", async () => {
      const { haproxy, render } = await setup({ blue: 100, green: 0 });
      const good = onDisk(haproxy);
      // The new config's runtime API socket lies in a folder that does not exist: -c passes, the new worker cannot start.
      const broken = renderHaproxyConfig(
        { weights: { blue: 0, green: 100 }, routing: "round-robin", servers: fleetServers(backends), statsPassword: PASSWORD },
        { ...haproxy.placement, runtimeDir: path.join(haproxy.placement.runtimeDir, "missing") },
      );
      assert.ok(checkConfig(broken).ok, "the broken config must pass haproxy -c");
      const load = startLoad(haproxy.url, { keepAliveClients: 2, newConnectionClients: 2, maxDurationMs: 60_000, maxRequestsPerClient: 50_000 });
      await sleep(300);
      const started = Date.now();
      const result = await deliverConfig(haproxy, broken);
      const took = Date.now() - started;
      await sleep(300);
      await load.stop();
      assert.strictEqual(result.status, 1, show(result));
      assert.match(result.stderr, /did not start a worker with the new config \(HAProxy reported the failure\); putting the previous config back/);
      assert.match(result.stderr, /\[ALERT\]/);
      assert.match(result.stderr, /the previous config is back in .* and serving/);
      assert.match(result.stderr, /the new config was not installed/);
      assert.ok(!`${result.stdout}${result.stderr}`.includes(PASSWORD));
      assert.strictEqual(onDisk(haproxy), good);
      assert.deepStrictEqual(leftovers(haproxy), []);
      assert.ok(took < 30_000, `the failed step took ${took} ms`);
      const failed = load.counts.errors + load.counts.non2xx;
      console.log(
        `      a reload that could not start: rolled back in ${took} ms; ${failed} of ${load.counts.ok + failed} requests failed` +
          (failed > 0 ? `, from ${load.counts.firstFailureMs} to ${load.counts.lastFailureMs} ms into the load` : ""),
      );
      assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });
      // HAProxy is not left stuck: the next delivery reloads as usual.
      const next = await deliverConfig(haproxy, render({ blue: 0, green: 100 }));
      assert.strictEqual(next.status, 0, show(next));
      assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });
    });
  });

  describe("the stats password never appears in what the delivery prints", () => {
    async function withPassword() {
      const { haproxy } = await setup({ blue: 100, green: 0 });
      const render = (weights: Weights) =>
        renderHaproxyConfig(
          { weights, routing: "round-robin", servers: fleetServers(backends), statsPassword: PASSWORD },
          haproxy.placement,
        );
      const config = render({ blue: 0, green: 100 });
      assert.ok(config.includes(`stats auth admin:'${PASSWORD}'`));
      return { haproxy, config };
    }

    it("when haproxy -c fails on the stats line (it quotes the line)", async () => {
      const { haproxy, config } = await withPassword();
      const broken = resealed(config, (body) => body.replace(`admin:'${PASSWORD}'`, `admin:'${PASSWORD}`));
      const check = checkConfig(unsealed(broken));
      assert.ok(check.output.includes(PASSWORD), "haproxy -c itself quotes the password");

      const result = await deliverConfig(haproxy, broken);
      assert.strictEqual(result.status, 1, show(result));
      assert.match(result.stderr, /unmatched quote/);
      assert.match(result.stderr, /stats auth admin:'\*{8}/);
      assert.ok(!`${result.stdout}${result.stderr}`.includes(PASSWORD), result.stderr);
    });

    it("when haproxy -c fails elsewhere, and when the config is cut after the stats line", async () => {
      const { haproxy, config } = await withPassword();
      const elsewhere = resealed(config, (body) => body.replace("balance roundrobin", "balance sideways"));
      const statsLineEnd = config.indexOf("\n", config.indexOf(PASSWORD)) + 1;
      for (const delivery of [startDelivery(haproxy, elsewhere), startDelivery(haproxy, config, { cutAt: statsLineEnd - 3 })]) {
        const result = await delivery.result;
        assert.strictEqual(result.status, 1, show(result));
        assert.match(result.stderr, /rejected the new config|refused the new config/);
        assert.ok(!`${result.stdout}${result.stderr}`.includes(PASSWORD), result.stderr);
      }
    });
  });

  describe("the config file's mode and owner, and the image's tools", () => {
    /** uid and gid of the official image's `haproxy` user. */
    const HAPROXY_UID = 99;

    /**
     * The docker stand-in, with a container whose default user is `defaultUid` (a command
     * without `-u` runs as that uid, as `docker exec` runs the image's user; with `-u 0` as
     * root without capabilities, as in the Docker distributor) and, with `noPerl`, whose commands find no perl on their PATH (an Alpine image).
     */
    function container(options: { defaultUid?: number; noPerl?: boolean }): Record<string, string> {
      const dir = tempDir("docker-user");
      dirs.push(dir);
      fs.chmodSync(dir, 0o755); // HAProxy's user runs from it
      let pathPrefix = "";
      if (options.noPerl) {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        for (const from of (process.env.PATH ?? "").split(":")) {
          if (!from || !fs.existsSync(from)) continue;
          for (const name of fs.readdirSync(from)) {
            if (name.startsWith("perl") || fs.existsSync(path.join(bin, name))) continue;
            fs.symlinkSync(path.join(from, name), path.join(bin, name));
          }
        }
        pathPrefix = `env PATH=${bin} `;
      }
      const fixture = path.join(__dirname, "fixtures", "docker");
      fs.writeFileSync(
        path.join(dir, "docker"),
        `#!/bin/sh
set -eu
[ "$1" = exec ] || exec ${fixture} "$@"
shift
flags='' user=''
while :; do
  case $1 in
    -i) flags=-i; shift ;;
    -u) user=$2; shift 2 ;;
    *) break ;;
  esac
done
container=$1
shift
if [ -z "$user" ] && [ -n "${options.defaultUid ?? ""}" ]; then
  exec ${fixture} exec $flags -u 0 "$container" setpriv --reuid=${options.defaultUid} --regid=${options.defaultUid} --clear-groups ${pathPrefix}"$@"
fi
# Root in the Docker distributor has no capability (it drops them all): no chown, no reading
# past a file's mode. The user's group, if given (-u 0:GID), is its primary group.
uid=\${user:-0}
gid=0
case $uid in *:*) gid=\${uid#*:}; uid=\${uid%%:*} ;; esac
exec ${fixture} exec $flags -u 0 "$container" setpriv --reuid="$uid" --regid="$gid" --clear-groups --bounding-set=-all ${pathPrefix}"$@"
`,
        { mode: 0o755 },
      );
      return { PATH: `${dir}:${path.join(__dirname, "fixtures")}:${process.env.PATH}` };
    }

    /** HAProxy running as uid 99 on a config root wrote 0644 (as cloud-init and Docker's upload do). */
    async function asHaproxyUser(weights: Weights) {
      const placement = await loopbackPlacement();
      dirs.push(placement.runtimeDir);
      // The config sits beside HAProxy's sockets here: the directory is root's (as the image's
      // config directory is), so root without capabilities writes the config files as its
      // owner, and writable by HAProxy's group, for its sockets.
      fs.chownSync(placement.runtimeDir, 0, HAPROXY_UID);
      fs.chmodSync(placement.runtimeDir, 0o770);
      const render = (w: Weights, p = placement) =>
        renderHaproxyConfig({ weights: w, routing: "round-robin", servers: fleetServers(backends), statsPassword: PASSWORD }, p);
      const haproxy = await startHaproxy(render(weights), placement, [
        "setpriv",
        `--reuid=${HAPROXY_UID}`,
        `--regid=${HAPROXY_UID}`,
        "--clear-groups",
        "haproxy",
      ]);
      const initial = fs.statSync(haproxy.configPath);
      assert.deepStrictEqual([initial.mode & 0o777, initial.uid], [0o644, 0], "the first config is root's, 0644");
      return { haproxy, render };
    }

    /** Mode and owner of every config file beside the config (the config, its rollback and temporary copies). */
    function configFiles(haproxy: Haproxy): Record<string, string> {
      const dir = path.dirname(haproxy.configPath);
      const base = path.basename(haproxy.configPath);
      const files: Record<string, string> = {};
      for (const name of fs.readdirSync(dir)) {
        if (!name.startsWith(base) || name === `${base}.lock`) continue;
        const stat = fs.statSync(path.join(dir, name));
        files[name] = `${(stat.mode & 0o777).toString(8)} ${stat.uid}:${stat.gid}`;
      }
      return files;
    }

    it("every delivered config is 0640, root's and HAProxy's group's, written without any capability; HAProxy reloads it, and a rollback restores it the same way", async function () {
      assert.strictEqual(os.userInfo().uid, 0, "the test changes owners: it runs as root");
      const { haproxy, render } = await asHaproxyUser({ blue: 100, green: 0 });
      const env = container({ defaultUid: HAPROXY_UID });
      const base = path.basename(haproxy.configPath);
      const owned = `640 0:${HAPROXY_UID}`;

      // The split moves to green: the release gate reads HAProxy's runtime API as HAProxy's user.
      // Without a plan (as from an earlier release): a reload.
      const moved = await startDelivery(haproxy, render({ blue: 0, green: 100 }), { env, plan: false }).result;
      assert.strictEqual(moved.status, 0, show(moved));
      assert.match(moved.stdout, /gate passed/);
      assert.match(moved.stdout, /reloaded \(attempt 1, new worker \d+\)/);
      assert.deepStrictEqual(configFiles(haproxy), { [base]: owned });
      assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });

      // A weight step through the runtime API swaps the file in the same way.
      const weights = await startDelivery(haproxy, render({ blue: 1, green: 3 }), { env }).result;
      assert.strictEqual(weights.status, 0, show(weights));
      assert.match(weights.stdout, /took the new weights through the runtime API/);
      assert.deepStrictEqual(configFiles(haproxy), { [base]: owned });

      // A reload that fails after haproxy -c passed (the new runtime API socket's folder does not
      // exist): the previous file comes back, 0640 and HAProxy's group's, and keeps serving.
      const good = onDisk(haproxy);
      const clash = await startDelivery(haproxy, render({ blue: 0, green: 100 }, { ...haproxy.placement, runtimeDir: path.join(haproxy.placement.runtimeDir, "missing") }), { env }).result;
      assert.strictEqual(clash.status, 1, show(clash));
      assert.match(clash.stderr, /the previous config is back in .* and serving/);
      assert.ok(!`${clash.stdout}${clash.stderr}`.includes(PASSWORD));
      assert.strictEqual(onDisk(haproxy), good);
      assert.deepStrictEqual(configFiles(haproxy), { [base]: owned });
      const split = await countColors(haproxy.url, 40);
      assert.ok(split.blue >= 5 && split.blue <= 15 && split.other === 0, JSON.stringify(split));

      // And the next delivery reloads as usual.
      const back = await startDelivery(haproxy, render({ blue: 100, green: 0 }), { env }).result;
      assert.strictEqual(back.status, 0, show(back));
      assert.deepStrictEqual(configFiles(haproxy), { [base]: owned });
      assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });
    });

    it("an image without perl (Alpine-based) is refused before anything changes, naming the setting", async () => {
      const { haproxy, render } = await setup({ blue: 100, green: 0 });
      const dir = path.dirname(haproxy.configPath);
      const before = fs.readdirSync(dir).sort();
      const good = onDisk(haproxy);
      const result = await startDelivery(haproxy, render({ blue: 100, green: 0 }), { env: container({ noPerl: true }) }).result;
      assert.strictEqual(result.status, 1, show(result));
      assert.match(
        result.stderr,
        /the HAProxy image of distributor has no perl, .*: set distributor\.image \(the stack config key, and the component's distributor\.image argument\) to a Debian-based HAProxy image \(an official "haproxy" tag without "-alpine"\); the running config is unchanged/,
      );
      assert.strictEqual(onDisk(haproxy), good);
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), before, "the delivery left a file behind (the lock, a copy)");
      assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 20, green: 0, other: 0 });
    });
  });

  describe("a delivery killed at each step, or cut short", () => {
    // Where the stand-in docker stops the delivery before it is killed (process group, SIGKILL).
    const POINTS: Array<[string, string]> = [
      ["waiting for the lock", "before flock"],
      ["holding the lock, before the upload", "before mktemp"],
      ["after the upload", "after cat > "],
      ["after the trailer check", "after sha256sum"],
      ["after haproxy -c", "after haproxy -c"],
      ["after the swap, before the signal", 'after mv "\\$3" "\\$1"'],
      ["after the signal, before the reload is confirmed", "after ^kill"],
      ["after the reload is confirmed", "before ^exec -u 0(:[0-9]+)? distributor rm -f .*\\.rollback$"],
    ];

    it("each step: a validated config serves, the next delivery succeeds and the file on disk is the one serving", async () => {
      const { haproxy, render } = await setup({ blue: 100, green: 0 });
      const old = render({ blue: 100, green: 0 });
      const killed = render({ blue: 0, green: 100 });
      const next = render({ blue: 1, green: 1 });
      const report: string[] = [];
      for (const [name, point] of POINTS) {
        const pause = pauseAt(point);
        // Without a plan: the steps of a reload (the weight step has its own test below).
        const delivery = startDelivery(haproxy, killed, { env: pause.env, plan: false });
        const call = await waitForFile(pause.marker);
        process.kill(-delivery.process.pid!, "SIGKILL");
        const result = await delivery.result;
        assert.strictEqual(result.signal, "SIGKILL", `${name}: ${show(result)} (paused at ${call})`);
        await sleep(500); // a signal already sent may still be reloading

        const disk = onDisk(haproxy);
        assert.ok(disk === old || disk === killed, `${name}: the file on disk is neither config`);
        const counts = await countColors(haproxy.url, 10);
        assert.strictEqual(counts.other, 0, `${name}: ${JSON.stringify(counts)}`);
        assert.ok(counts.blue === 10 || counts.green === 10, `${name}: ${JSON.stringify(counts)}`);
        const serving = counts.green === 10 ? "killed" : "old";
        report.push(`${name}: disk ${disk === killed ? "killed" : "old"}, serving ${serving}`);

        const started = Date.now();
        const after = await deliverConfig(haproxy, next);
        assert.strictEqual(after.status, 0, `${name}: next delivery: ${show(after)}`);
        assert.ok(Date.now() - started < 20_000, `${name}: the next delivery took ${Date.now() - started} ms`);
        assert.strictEqual(onDisk(haproxy), next, name);
        const nextCounts = await countColors(haproxy.url, 20);
        assert.ok(nextCounts.blue > 0 && nextCounts.green > 0 && nextCounts.other === 0, `${name}: ${JSON.stringify(nextCounts)}`);
        assert.deepStrictEqual(leftovers(haproxy), [], name);

        const back = await deliverConfig(haproxy, old);
        assert.strictEqual(back.status, 0, `${name}: ${show(back)}`);
      }
      console.log(`      killed at each step: ${report.join("; ")}`);
    });

    it("a weight step killed at each of its steps: the file on disk serves or the next delivery makes it so", async () => {
      const { haproxy, render } = await setup({ blue: 100, green: 0 });
      const old = render({ blue: 100, green: 0 });
      const killed = render({ blue: 0, green: 100 });
      const next = render({ blue: 1, green: 3 });
      const points: Array<[string, string]> = [
        ["after the weights are set", "after exec .* perl .* set server .* weight"],
        ["after the swap of the file", 'after exec .* sh -c mv "\\$1" "\\$2" && rm -f "\\$3"'],
      ];
      const report: string[] = [];
      for (const [name, point] of points) {
        const pause = pauseAt(point);
        const delivery = startDelivery(haproxy, killed, { env: pause.env });
        const call = await waitForFile(pause.marker);
        process.kill(-delivery.process.pid!, "SIGKILL");
        const result = await delivery.result;
        assert.strictEqual(result.signal, "SIGKILL", `${name}: ${show(result)} (paused at ${call})`);
        const counts = await countColors(haproxy.url, 20);
        assert.strictEqual(counts.other, 0, `${name}: ${JSON.stringify(counts)}`);
        report.push(`${name}: disk ${onDisk(haproxy) === killed ? "killed" : "old"}, serving ${JSON.stringify(counts)}`);
        // The next delivery, a weight step too, leaves the file and the serving worker at its weights.
        const after = await deliverConfig(haproxy, next);
        assert.strictEqual(after.status, 0, `${name}: next delivery: ${show(after)}`);
        assert.strictEqual(onDisk(haproxy), next, name);
        const nextCounts = await countColors(haproxy.url, 40);
        assert.ok(nextCounts.blue >= 5 && nextCounts.blue <= 15 && nextCounts.other === 0, `${name}: ${JSON.stringify(nextCounts)}`);
        assert.deepStrictEqual(leftovers(haproxy), [], name);
        const back = await deliverConfig(haproxy, old);
        assert.strictEqual(back.status, 0, `${name}: ${show(back)}`);
        assert.deepStrictEqual(await countColors(haproxy.url, 10), { blue: 10, green: 0, other: 0 }, name);
      }
      console.log(`      weight step killed: ${report.join("; ")}`);
    });

    it("a delivery waiting for the lock proceeds when the holder is killed", async () => {
      const { haproxy, render } = await setup({ blue: 100, green: 0 });
      const pause = pauseAt("after haproxy -c");
      const holder = startDelivery(haproxy, render({ blue: 0, green: 100 }), { env: pause.env });
      await waitForFile(pause.marker);
      const waiting = startDelivery(haproxy, render({ blue: 1, green: 1 }));
      await sleep(1500); // a delivery takes well under that when nothing holds it
      assert.strictEqual(waiting.process.exitCode, null, "the second delivery did not wait for the lock");
      process.kill(-holder.process.pid!, "SIGKILL");
      const result = await waiting.result;
      assert.strictEqual(result.status, 0, show(result));
      assert.strictEqual(onDisk(haproxy), render({ blue: 1, green: 1 }));
      const counts = await countColors(haproxy.url, 20);
      assert.ok(counts.blue > 0 && counts.green > 0 && counts.other === 0, JSON.stringify(counts));
      assert.deepStrictEqual(leftovers(haproxy), []);
    });

    it("a stdin cut mid-upload installs nothing, and the next delivery succeeds", async () => {
      const { haproxy, render } = await setup({ blue: 100, green: 0 });
      const good = onDisk(haproxy);
      const full = render({ blue: 0, green: 100 });
      // Cut before the last server line: what arrives is a valid config missing a green replica.
      const cutAt = full.lastIndexOf("\n    server ") + 1;
      assert.ok(checkConfig(full.slice(0, cutAt)).ok, "the cut config passes haproxy -c");
      const result = await startDelivery(haproxy, full, { cutAt }).result;
      assert.strictEqual(result.status, 1, show(result));
      assert.strictEqual(onDisk(haproxy), good);
      const after = await deliverConfig(haproxy, full);
      assert.strictEqual(after.status, 0, show(after));
      assert.deepStrictEqual(await countColors(haproxy.url, 20), { blue: 0, green: 20, other: 0 });
    });
  });
});
