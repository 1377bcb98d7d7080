// An interrupted suite leaves no process behind: a mocha run that started a backend (in a
// process group of its own) is sent SIGINT, as Ctrl-C does, then SIGTERM, as a CI timeout does.
import * as assert from "assert";
import { spawn } from "child_process";
import * as path from "path";
import { alive } from "./processes";

async function interrupted(signal: NodeJS.Signals): Promise<{ backend: number; code: number | null }> {
  const mocha = spawn(
    process.execPath,
    [require.resolve("mocha/bin/mocha.js"), "--no-config", "-r", "ts-node/register/transpile-only", "--extension", "ts", path.join(__dirname, "fixtures", "interrupted", "hold.test.ts")],
    { cwd: path.join(__dirname, ".."), stdio: ["ignore", "pipe", "inherit"] },
  );
  try {
    const backend = await new Promise<number>((resolve, reject) => {
      let out = "";
      mocha.stdout!.on("data", (chunk) => {
        out += chunk;
        const match = /backend (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      mocha.once("exit", (code) => reject(new Error(`mocha exited (${code}) before starting its backend: ${out}`)));
    });
    assert.ok(alive(backend), "the backend runs before the signal");
    const exited = new Promise<number | null>((resolve) => mocha.once("exit", (code) => resolve(code)));
    mocha.kill(signal);
    const code = await exited;
    // The harness's handler kills before it exits; give the kernel a moment to reap.
    for (let i = 0; i < 20 && alive(backend); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    return { backend, code };
  } finally {
    if (mocha.exitCode === null) mocha.kill("SIGKILL");
  }
}

describe("an interrupted suite", function () {
  this.timeout(120_000);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`leaves no process behind on ${signal}`, async () => {
      const { backend, code } = await interrupted(signal);
      const left = alive(backend);
      if (left) process.kill(-backend, "SIGKILL");
      assert.strictEqual(left, false, `backend ${backend} outlived the interrupted run (exit ${code})`);
    });
  }
});
