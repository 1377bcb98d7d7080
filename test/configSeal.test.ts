// The integrity trailer: its exact form, and agreement with coreutils' sha256sum, which is
// what the delivery runs inside the container.
import * as assert from "assert";
import { spawnSync } from "child_process";
import { renderBootstrapConfig } from "../components/haproxyConfig";
import { CONFIG_TRAILER_PREFIX, sealConfig } from "../components/configSeal";

function sha256sum(text: string): string {
  const result = spawnSync("sha256sum", [], { input: text, encoding: "utf8" });
  assert.strictEqual(result.status, 0, result.stderr);
  return result.stdout.split(" ")[0];
}

describe("sealConfig", () => {
  it("appends one line: the prefix and the SHA-256 of every byte before it", () => {
    for (const text of ["global\n", "a\n\nb ü\n", "\n"]) {
      const sealed = sealConfig(text);
      assert.strictEqual(sealed, `${text}${CONFIG_TRAILER_PREFIX}${sha256sum(text)}\n`);
      assert.match(sealed.slice(text.length), /^# end of traffic-distributor config sha256:[0-9a-f]{64}\n$/);
    }
  });

  it("refuses text that does not end with a line break", () => {
    assert.throws(() => sealConfig("global"), /sealConfig: the config must end with a line break/);
    assert.throws(() => sealConfig(""), /must end with a line break/);
  });

  it("the renderers seal what they return", () => {
    const config = renderBootstrapConfig();
    const at = config.lastIndexOf(CONFIG_TRAILER_PREFIX);
    assert.ok(at > 0);
    assert.strictEqual(config, sealConfig(config.slice(0, at)));
  });
});
