// Runs Debian's haproxy on configs the renderer produced.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { CONFIG_TRAILER_PREFIX, sealConfig } from "../components/configSeal";

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

/** A sealed config without its trailer line. */
export function unsealed(config: string): string {
  const at = config.lastIndexOf(CONFIG_TRAILER_PREFIX);
  if (at < 0 || !config.endsWith("\n")) throw new Error("unsealed: the config has no trailer");
  return config.slice(0, at);
}

/** A rendered config changed by `edit` and sealed again, as if the renderer had produced it. */
export function resealed(config: string, edit: (body: string) => string): string {
  const body = unsealed(config);
  const changed = edit(body);
  if (changed === body) throw new Error("resealed: the edit changed nothing");
  return sealConfig(changed);
}
