// Runs Debian's haproxy on configs the renderer produced.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `td-${prefix}-`));
}

/** `haproxy -c` on the text; returns its exit status and output. */
export function checkConfig(config: string): { ok: boolean; output: string } {
  const dir = tempDir("check");
  const file = path.join(dir, "haproxy.cfg");
  fs.writeFileSync(file, config);
  const result = spawnSync("haproxy", ["-c", "-f", file], { encoding: "utf8", timeout: 10_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  return { ok: result.status === 0, output: `${result.stdout ?? ""}${result.stderr ?? ""}` };
}
