// The package entry exports the component, its args and the types of its args and outputs,
// and nothing else: internal helpers are imported by path.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import * as pulumi from "@pulumi/pulumi";
import { promiseOf, STATS_PASSWORD } from "./mocks";

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
  it("exports exactly the component, its args, the types and constants they use, and the reader of stack config", () => {
    assert.deepStrictEqual(exportedNames(ENTRY), {
      values: ["COLORS", "DNS_RECORD_TYPES", "ROUTING_MODES", "SettingsError", "TARGETS", "TLS_MODES", "TrafficDistributor", "stackConfigArgs"],
      types: [
        "AcmeArgs",
        "AwsDistributor",
        "AwsEnvironment",
        "AwsTargetArgs",
        "Color",
        "ColorArgs",
        "DistributorArgs",
        "DnsArgs",
        "DnsRecordType",
        "DockerDistributor",
        "DockerEnvironment",
        "DockerTargetArgs",
        "DrainArgs",
        "ExistingColorArgs",
        "FailoverArgs",
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
        "TrafficDistributorChildren",
        "Weights",
      ],
    });
  });

  it("exports every named type the args and the outputs use, however deep", function () {
    this.timeout(60_000);
    const program = ts.createProgram([ENTRY], { strict: true, target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.CommonJS, skipLibCheck: true, types: ["node"] });
    const checker = program.getTypeChecker();
    const entryExports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!);
    const resolve = (symbol: ts.Symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);
    const exported = new Set(entryExports.map(resolve));
    const ours = (node: ts.Node) => path.resolve(node.getSourceFile().fileName).startsWith(path.dirname(ENTRY));
    // Each named type of this package that a property's declared type mentions, then its own members.
    const used = new Map<ts.Symbol, string>();
    const visitDeclaration = (symbol: ts.Symbol, at: string): void => {
      if (used.has(symbol)) return;
      used.set(symbol, at);
      for (const declaration of symbol.declarations ?? []) {
        if (ts.isClassDeclaration(declaration)) continue; // a class is exported or not; its members are its own
        if (ts.isTypeAliasDeclaration(declaration)) visitTypeNode(declaration.type, at);
        if (ts.isInterfaceDeclaration(declaration)) for (const member of declaration.members) visitMember(member, at);
      }
    };
    const visitMember = (member: ts.Node, at: string): void => {
      if ((ts.isPropertySignature(member) || ts.isPropertyDeclaration(member)) && member.type) visitTypeNode(member.type, `${at}.${member.name.getText()}`);
    };
    const visitTypeNode = (node: ts.Node, at: string): void => {
      if (ts.isTypeReferenceNode(node)) {
        const symbol = checker.getSymbolAtLocation(node.typeName);
        const target = symbol && resolve(symbol);
        const declaration = target?.declarations?.[0];
        if (target && declaration && ours(declaration) && !ts.isTypeParameterDeclaration(declaration)) visitDeclaration(target, at);
      }
      if (ts.isTypeLiteralNode(node)) for (const member of node.members) visitMember(member, at);
      else ts.forEachChild(node, (child) => visitTypeNode(child, at));
    };
    const named = (name: string) => resolve(entryExports.find((symbol) => symbol.name === name)!);
    visitDeclaration(named("TrafficDistributorArgs"), "args");
    for (const member of (named("TrafficDistributor").declarations![0] as ts.ClassDeclaration).members) {
      const isPublic = !ts.getCombinedModifierFlags(member as ts.Declaration) || ts.getCombinedModifierFlags(member as ts.Declaration) & ts.ModifierFlags.Public;
      if (isPublic) visitMember(member, "output");
    }
    const missing = [...used].filter(([symbol]) => !exported.has(symbol)).map(([symbol, at]) => `${symbol.name} (at ${at})`);
    // Can fail: the walk reaches the deep ones (a color's args, the ACME settings, the children's classes).
    for (const deep of ["ProvisionedColorArgs", "AcmeArgs", "TlsMode", "Color", "RoutingMode", "DockerDistributor", "AwsEnvironment"]) {
      assert.ok(used.has(named(deep)), `${deep} not reached: found ${[...used.keys()].map((s) => s.name).join(", ")}`);
    }
    assert.deepStrictEqual(missing, [], "named types the args or outputs use but the entry does not export");
  });

  it("has the same values at run time, and they are the real ones", async () => {
    const entry = await import("../components");
    assert.deepStrictEqual(Object.keys(entry).sort(), exportedNames(ENTRY).values);
    const settings = await import("../components/settings");
    assert.strictEqual(entry.SettingsError, settings.SettingsError);
    assert.deepStrictEqual(entry.COLORS, ["blue", "green"]);
    assert.strictEqual(typeof entry.TrafficDistributor, "function");
  });

  it("stackConfigArgs reads the project's namespace (or the one given), keeps the secrets secret, and names the keys it refuses", async () => {
    const { stackConfigArgs } = await import("../components");
    try {
      // The mocks' project is "traffic-distributor"; a user's program reads its own project's keys.
      pulumi.runtime.setAllConfig({
        "traffic-distributor:listenPort": "8000",
        "traffic-distributor:statsPassword": STATS_PASSWORD,
        "shop:listenPort": "9000",
        "shop:routing": "sticky",
        "shop:statsPassword": "shop-pass-1",
        "aws:region": "eu-west-1",
      });
      const own = stackConfigArgs();
      assert.deepStrictEqual([own.listenPort, own.routing], [8000, "round-robin"]);
      assert.ok(pulumi.Output.isInstance(own.statsPassword) && (await pulumi.isSecret(own.statsPassword as pulumi.Output<string>)));
      assert.strictEqual(await promiseOf(own.statsPassword as pulumi.Output<string>), STATS_PASSWORD);
      const shop = stackConfigArgs("shop");
      assert.deepStrictEqual([shop.listenPort, shop.routing], [9000, "sticky"]);
      assert.strictEqual(await promiseOf(shop.statsPassword as pulumi.Output<string>), "shop-pass-1");
      pulumi.runtime.setAllConfig({ "shop:weight.blue": "lots", "shop:statsPassword": "shop-pass-1" });
      assert.throws(() => stackConfigArgs("shop"), /^SettingsError: shop:weight\.blue is "lots"/);
      pulumi.runtime.setAllConfig({ "shop:weight.bleu": "1", "shop:statsPassword": "shop-pass-1" });
      assert.throws(() => stackConfigArgs("shop"), /unknown config shop:weight\.bleu/);
    } finally {
      pulumi.runtime.setAllConfig({});
    }
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
