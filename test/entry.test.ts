// The package entry exports the component, its args and the types of its args and outputs,
// and nothing else: internal helpers are imported by path.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";

const ENTRY = path.join(__dirname, "..", "components", "index.ts");

/** Every name the entry exports, values and types, read from its syntax. */
function exportedNames(file: string): { values: string[]; types: string[] } {
  const source = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.ES2020, true);
  const values: string[] = [];
  const types: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isExportDeclaration(statement)) {
      assert.fail(`the entry holds "${statement.getText()}": it only re-exports`);
    }
    const clause = statement.exportClause;
    // `export *` would export whatever the module adds later, unseen.
    assert.ok(clause !== undefined && ts.isNamedExports(clause), `"${statement.getText()}" re-exports a whole module`);
    for (const element of clause.elements) (statement.isTypeOnly || element.isTypeOnly ? types : values).push(element.name.text);
  }
  return { values: values.sort(), types: types.sort() };
}

describe("package entry (components/index.ts)", () => {
  it("exports exactly the component, its args, and the types and constants they use", () => {
    assert.deepStrictEqual(exportedNames(ENTRY), {
      values: ["COLORS", "DNS_RECORD_TYPES", "ROUTING_MODES", "SettingsError", "TARGETS", "TLS_MODES", "TrafficDistributor"],
      types: [
        "AcmeArgs",
        "AwsDistributor",
        "AwsEnvironment",
        "AwsTargetArgs",
        "Color",
        "ColorArgs",
        "DnsArgs",
        "DnsRecordType",
        "DockerDistributor",
        "DockerEnvironment",
        "DockerTargetArgs",
        "DrainArgs",
        "ExistingColorArgs",
        "GateArgs",
        "HealthCheckArgs",
        "PreviewArgs",
        "ProvisionedColorArgs",
        "RoutingMode",
        "ServerAddress",
        "Target",
        "TimeoutArgs",
        "TlsArgs",
        "TlsMode",
        "TrafficDistributorArgs",
        "Weights",
      ],
    });
  });

  it("has the same values at run time, and they are the real ones", async () => {
    const entry = await import("../components");
    assert.deepStrictEqual(Object.keys(entry).sort(), exportedNames(ENTRY).values);
    const settings = await import("../components/settings");
    assert.strictEqual(entry.SettingsError, settings.SettingsError);
    assert.deepStrictEqual(entry.COLORS, ["blue", "green"]);
    assert.strictEqual(typeof entry.TrafficDistributor, "function");
  });

  it("the syntax check can fail: `export *` and local code are refused", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "entry-")), "index.ts");
    try {
      fs.writeFileSync(file, 'export * from "./settings";\n');
      assert.throws(() => exportedNames(file), /re-exports a whole module/);
      fs.writeFileSync(file, "export const helper = 1;\n");
      assert.throws(() => exportedNames(file), /the entry holds "export const helper = 1;": it only re-exports/);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});
