// The `aws` target's drain before removal, without AWS: the SSM document's script run for real
// against TCP connections on loopback (a `docker` stand-in names a process of this network
// namespace as the HAProxy container's), the Run Command driver against a scripted SSM client
// and a fake clock, and the diff that ties a drain to its instance.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import { AddressInfo } from "net";
import * as path from "path";
import * as ssm from "@aws-sdk/client-ssm";
import { DRAIN_PARAMETERS, renderDrainDocument, renderDrainScript, substituteDrainParameters } from "../components/aws/drainDocument";
import { diffReplicaDrain, drainThroughSsm, ReplicaDrainInputs } from "../components/aws";
import { DeliveryClock, SsmSender } from "../components/aws/ssmCommand";
import { tempDir } from "./haproxy";
import { runScript, stopAll } from "./harness";

describe("aws drain document, run for real on loopback connections", function () {
  this.timeout(60_000);
  const servers: net.Server[] = [];
  const sockets: net.Socket[] = [];
  const dirs: string[] = [];

  afterEach(async () => {
    await stopAll();
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A listener on 127.0.0.1 that keeps every connection open until the test closes it. */
  async function listen(): Promise<number> {
    const server = net.createServer((socket) => sockets.push(socket));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as AddressInfo).port;
  }

  async function connect(port: number): Promise<net.Socket> {
    const socket = net.connect(port, "127.0.0.1");
    sockets.push(socket);
    await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    return socket;
  }

  /**
   * Starts the document's script as SSM would (parameters substituted, `sh`), with a `docker`
   * that answers `inspect traffic-distributor` with `containerPid` as the container's process
   * (this process: the same network namespace as the test's connections), or as Docker does
   * for a container that does not exist.
   */
  function startDrain(port: number, timeoutSeconds: number, containerPid?: number) {
    const dir = tempDir("drain");
    dirs.push(dir);
    fs.writeFileSync(
      path.join(dir, "docker"),
      [
        "#!/bin/sh",
        `[ "$1 $2" = "inspect traffic-distributor" ] || { echo "fake docker: unexpected call: $*" >&2; exit 2; }`,
        containerPid === undefined
          ? `echo '[]'; echo 'Error: No such object: traffic-distributor' >&2; exit 1`
          : `printf '[\\n    {\\n        "State": {\\n            "Running": true,\\n            "Pid": ${containerPid},\\n            "ExitCode": 0\\n        }\\n    }\\n]\\n'`,
        "",
      ].join("\n"),
      { mode: 0o755 },
    );
    const script = path.join(dir, "drain.sh");
    fs.writeFileSync(
      script,
      substituteDrainParameters(renderDrainScript(), { replicaAddress: "127.0.0.1", replicaPort: String(port), timeoutSeconds: String(timeoutSeconds) }),
    );
    const started = Date.now();
    const run = runScript([script], { ...process.env, PATH: `${dir}:${process.env.PATH}` }, "", { timeoutMs: 30_000 });
    return { ...run, started };
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("waits while the distributor holds a connection to the replica, and returns once it is closed", async () => {
    const port = await listen();
    const client = await connect(port);
    const drain = startDrain(port, 30, process.pid);
    await sleep(2500);
    assert.strictEqual(drain.process.exitCode, null, "the drain returned while a connection was open");
    client.destroy();
    const closed = Date.now();
    const result = await drain.result;
    assert.strictEqual(result.status, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    // It polls once a second: a few seconds of slack for a busy machine.
    assert.ok(Date.now() - closed < 5000, `returned ${Date.now() - closed} ms after the connection closed`);
    const waited = new RegExp(`^drain 127\\.0\\.0\\.1:${port}: no connection left after (\\d+)s$`, "m").exec(result.stdout);
    assert.ok(waited && Number(waited[1]) >= 1, result.stdout);
  });

  it("counts only connections to the replica's address and port", async () => {
    const port = await listen();
    const otherPort = await listen();
    await connect(otherPort);
    const result = await startDrain(port, 30, process.pid).result;
    assert.strictEqual(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^drain 127\\.0\\.0\\.1:${port}: no connection left after [01]s$`, "m"));
  });

  it("returns at drain.timeout when connections stay open", async () => {
    const port = await listen();
    await connect(port);
    await connect(port);
    const drain = startDrain(port, 2, process.pid);
    const result = await drain.result;
    const took = Date.now() - drain.started;
    assert.strictEqual(result.status, 0, result.stderr);
    const waited = new RegExp(`^drain 127\\.0\\.0\\.1:${port}: 2 connection\\(s\\) still open after (\\d+)s \\(drain\\.timeout\\); removing it$`, "m").exec(result.stdout);
    assert.ok(waited && Number(waited[1]) >= 2, result.stdout);
    // The script reads the clock in whole seconds (so "2 s" may be 1.01 s), and returns well
    // before the 30 s the connections would have allowed (a busy machine slows each poll).
    assert.ok(took >= 1000 && took < 15_000, `took ${took} ms`);
  });

  it("has nothing to drain when the HAProxy container is not running", async () => {
    const port = await listen();
    await connect(port);
    const result = await startDrain(port, 30).result;
    assert.strictEqual(result.status, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^drain 127\\.0\\.0\\.1:${port}: container traffic-distributor is not running, nothing to drain$`, "m"));
  });

  it("the substituted script passes shellcheck -s sh", () => {
    const script = substituteDrainParameters(renderDrainScript(), { replicaAddress: "10.0.7.21", replicaPort: "8080", timeoutSeconds: "300" });
    assert.doesNotMatch(script, /\{\{/, "every document parameter is substituted");
    const dir = tempDir("drain-shellcheck");
    dirs.push(dir);
    const file = path.join(dir, "drain.sh");
    fs.writeFileSync(file, script);
    const result = spawnSync("shellcheck", ["-s", "sh", file], { encoding: "utf8", timeout: 60_000 });
    if (result.error) throw result.error;
    assert.strictEqual(result.status, 0, `shellcheck:\n${result.stdout}${result.stderr}`);
  });

  it("is a schema 2.2 document whose parameters SSM checks against patterns that admit no shell syntax", () => {
    const document = JSON.parse(renderDrainDocument());
    assert.strictEqual(document.schemaVersion, "2.2");
    assert.deepStrictEqual(Object.keys(document.parameters), ["replicaAddress", "replicaPort", "timeoutSeconds"]);
    assert.strictEqual(document.mainSteps[0].inputs.runCommand.join("\n"), renderDrainScript());
    const accepts = (name: keyof typeof DRAIN_PARAMETERS, value: string) => new RegExp(document.parameters[name].allowedPattern).test(value);
    assert.ok(accepts("replicaAddress", "10.0.12.255") && accepts("replicaPort", "8080") && accepts("timeoutSeconds", "86400"));
    for (const value of ["10.0.0.256", "10.0.0.1 ", "10.0.0.1'; reboot; '", "10.0.0", "::1", "010.0.0.1"]) {
      assert.ok(!accepts("replicaAddress", value), value);
    }
    for (const value of ["", "80 ", "80;id", "-1", "1e3"]) assert.ok(!accepts("replicaPort", value) && !accepts("timeoutSeconds", value), value);
    assert.throws(() => substituteDrainParameters(renderDrainScript(), { replicaAddress: "$(id)", replicaPort: "80", timeoutSeconds: "5" }), /replicaAddress/);
  });
});

describe("aws drain through SSM Run Command (scripted client)", () => {
  const INPUTS: ReplicaDrainInputs = {
    replicaInstanceId: "i-0replica",
    replicaAddress: "10.0.7.21",
    replicaPort: 8080,
    timeoutSeconds: 300,
    distributorInstanceId: "i-0distributor",
    documentName: "shop-drain-replica-e4f5a6b",
    region: "eu-west-1",
  };

  function fakeClock(): DeliveryClock & { slept: number } {
    let now = 1_000_000;
    const clock = {
      slept: 0,
      now: () => now,
      sleep: async (ms: number) => {
        now += ms;
        clock.slept += ms;
      },
    };
    return clock;
  }

  /** Answers each call with the next scripted answer for its kind; an Error is thrown. */
  function scriptedClient(answers: { send: Array<object | Error>; get: Array<object | Error> }) {
    const calls: Array<{ kind: string; input: any }> = [];
    const client: SsmSender = {
      async send(command) {
        const kind = command instanceof ssm.SendCommandCommand ? "send" : "get";
        calls.push({ kind, input: command.input });
        const queue = answers[kind as "send" | "get"];
        const answer = queue.length > 1 ? queue.shift()! : queue[0];
        if (answer instanceof Error) throw answer;
        return answer;
      },
    };
    return { client, calls };
  }

  const awsError = (name: string, message = name) => Object.assign(new Error(message), { name });

  it("sends the drain document to the distributor with the replica's address, port and timeout, and waits for it", async () => {
    const { client, calls } = scriptedClient({
      send: [{ Command: { CommandId: "cmd-1" } }],
      get: [
        awsError("InvocationDoesNotExist"),
        { Status: "InProgress" },
        { Status: "InProgress" },
        { Status: "Success", StandardOutputContent: "drain 10.0.7.21:8080: no connection left after 7s\n" },
      ],
    });
    const clock = fakeClock();
    const report = await drainThroughSsm(INPUTS, client, ssm, clock);
    assert.strictEqual(report, "drain 10.0.7.21:8080: no connection left after 7s");
    assert.deepStrictEqual(calls[0], {
      kind: "send",
      input: {
        InstanceIds: ["i-0distributor"],
        DocumentName: "shop-drain-replica-e4f5a6b",
        Comment: "traffic-distributor replica drain",
        Parameters: { replicaAddress: ["10.0.7.21"], replicaPort: ["8080"], timeoutSeconds: ["300"] },
        TimeoutSeconds: 60,
      },
    });
    assert.deepStrictEqual(
      calls.slice(1).map((call) => call.input),
      Array(4).fill({ CommandId: "cmd-1", InstanceId: "i-0distributor" }),
    );
    assert.strictEqual(clock.slept, 4 * 3000);
  });

  it("retries a distributor SSM does not know, then has nothing to drain after a bounded wait", async () => {
    const { client, calls } = scriptedClient({ send: [awsError("InvalidInstanceId")], get: [] });
    const clock = fakeClock();
    const report = await drainThroughSsm(INPUTS, client, ssm, clock);
    assert.match(report, /^drain of 10\.0\.7\.21:8080 \(instance i-0replica\) on distributor i-0distributor: the distributor did not take commands for 60 s \(gone or not registered with SSM\); nothing to drain$/);
    assert.strictEqual(calls.length, 7);
    assert.ok(clock.slept >= 60_000 && clock.slept <= 70_000, `waited ${clock.slept} ms`);
  });

  it("drains once a distributor that was briefly unknown takes the command", async () => {
    const { client, calls } = scriptedClient({
      send: [awsError("InvalidInstanceId"), { Command: { CommandId: "cmd-2" } }],
      get: [{ Status: "Success", StandardOutputContent: "drain 10.0.7.21:8080: no connection left after 0s" }],
    });
    assert.strictEqual(await drainThroughSsm(INPUTS, client, ssm, fakeClock()), "drain 10.0.7.21:8080: no connection left after 0s");
    assert.deepStrictEqual(calls.map((call) => call.kind), ["send", "send", "get"]);
  });

  it("has nothing to drain when the command cannot be delivered", async () => {
    for (const status of ["Undeliverable", "DeliveryTimedOut"]) {
      const { client } = scriptedClient({ send: [{ Command: { CommandId: "cmd-3" } }], get: [{ Status: status }] });
      assert.match(await drainThroughSsm(INPUTS, client, ssm, fakeClock()), new RegExp(`did not take the command \\(${status}\\); nothing to drain$`));
    }
  });

  it("reports SSM failures clearly: a refused command, a failed run, a run that never ends", async () => {
    const refused = scriptedClient({ send: [awsError("AccessDeniedException", "not authorized to perform: ssm:SendCommand")], get: [] });
    await assert.rejects(
      drainThroughSsm(INPUTS, refused.client, ssm, fakeClock()),
      /^Error: drain of 10\.0\.7\.21:8080 \(instance i-0replica\) on distributor i-0distributor: SSM refused the command \(AccessDeniedException\): not authorized to perform: ssm:SendCommand$/,
    );
    const failed = scriptedClient({
      send: [{ Command: { CommandId: "cmd-4" } }],
      get: [{ Status: "Failed", StandardErrorContent: "awk: cannot open /proc/net/tcp\n" }],
    });
    await assert.rejects(
      drainThroughSsm(INPUTS, failed.client, ssm, fakeClock()),
      /^Error: drain of 10\.0\.7\.21:8080 \(instance i-0replica\) on distributor i-0distributor ended Failed \(SSM command cmd-4\):\nawk: cannot open \/proc\/net\/tcp$/,
    );
    const stuck = scriptedClient({ send: [{ Command: { CommandId: "cmd-5" } }], get: [{ Status: "InProgress" }] });
    const clock = fakeClock();
    await assert.rejects(drainThroughSsm(INPUTS, stuck.client, ssm, clock), /still InProgress after 480 s \(SSM command cmd-5\)$/);
    assert.ok(clock.slept > 480_000 && clock.slept < 490_000, `waited ${clock.slept} ms`);
  });

  it("refuses inputs that are not an address, a port and whole seconds before calling SSM", async () => {
    for (const [field, value, pattern] of [
      ["replicaAddress", "10.0.7.21; reboot", /replicaAddress "10\.0\.7\.21; reboot" is not an IPv4 address/],
      ["replicaPort", 0, /replicaPort 0 is not a port \(1-65535\)/],
      ["replicaPort", "8080", /replicaPort "8080" is not a port/],
      ["timeoutSeconds", 1.5, /timeoutSeconds 1\.5 is not a whole number of seconds \(0-86400\)/],
      ["timeoutSeconds", 86_401, /timeoutSeconds 86401/],
    ] as const) {
      const { client, calls } = scriptedClient({ send: [{ Command: { CommandId: "never" } }], get: [] });
      await assert.rejects(drainThroughSsm({ ...INPUTS, [field]: value } as ReplicaDrainInputs, client, ssm, fakeClock()), pattern);
      assert.deepStrictEqual(calls, [], field);
    }
  });
});

describe("aws drain resource diff", () => {
  const OLDS: ReplicaDrainInputs = {
    replicaInstanceId: "i-0old",
    replicaAddress: "10.0.7.21",
    replicaPort: 80,
    timeoutSeconds: 300,
    distributorInstanceId: "i-0distributor",
    documentName: "shop-drain-replica-e4f5a6b",
    region: "eu-west-1",
  };

  it("is replaced with its instance (the old drain's delete then runs before the old instance's), updated in place otherwise", () => {
    assert.deepStrictEqual(diffReplicaDrain(OLDS, { ...OLDS, replicaInstanceId: "i-0new", replicaAddress: "10.0.7.99" }), {
      changes: true,
      replaces: ["replicaInstanceId"],
      deleteBeforeReplace: false,
    });
    for (const change of [{ timeoutSeconds: 60 }, { distributorInstanceId: "i-0other" }, { documentName: "other" }]) {
      assert.deepStrictEqual(diffReplicaDrain(OLDS, { ...OLDS, ...change }), { changes: true, replaces: [], deleteBeforeReplace: false });
    }
    // The serialized provider is part of the state, not an input that changes anything.
    const withProvider = (inputs: object, provider: string) => ({ ...inputs, __provider: provider }) as unknown as ReplicaDrainInputs;
    assert.deepStrictEqual(diffReplicaDrain(withProvider(OLDS, "a"), withProvider(OLDS, "b")), { changes: false, replaces: [], deleteBeforeReplace: false });
  });
});
