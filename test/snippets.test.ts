// Every TypeScript snippet of the README and docs/ type-checks against the package entry, as a
// program of a user's would (`import ... from "traffic-distributor"`): each is a whole program,
// which a reader can copy as it is.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.join(__dirname, "..");
const DOCUMENTS = ["README.md", ...fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** The programs the documents' snippets make, by "document:line". */
export function snippetPrograms(): Map<string, string> {
  const programs = new Map<string, string>();
  for (const document of DOCUMENTS) {
    const text = fs.readFileSync(path.join(ROOT, document), "utf8");
    for (const match of text.matchAll(/^```(?:ts|typescript)\n([\s\S]*?)^```$/gm)) {
      programs.set(`${document}:${text.slice(0, match.index).split("\n").length}`, match[1]);
    }
  }
  return programs;
}

/** Type errors of the programs, compiled together with the package entry as "traffic-distributor". */
function typeErrors(programs: Map<string, string>): string[] {
  const dir = fs.mkdtempSync(path.join(ROOT, "test", ".snippets-"));
  try {
    const files = [...programs.entries()].map(([name, code], i) => {
      const file = path.join(dir, `snippet${i}.ts`);
      // `export` makes each a module of its own; the top-level exports are the stack outputs.
      fs.writeFileSync(file, `${code}\nexport {};\n`);
      return { name, file };
    });
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2020,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      esModuleInterop: true,
      types: ["node"],
      baseUrl: ROOT,
      paths: { "traffic-distributor": ["components/index.ts"] },
    };
    const program = ts.createProgram(files.map((f) => f.file), options);
    return ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file && files.some((f) => f.file === d.file!.fileName))
      .map((d) => {
        const source = files.find((f) => f.file === d.file!.fileName)!;
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        return `${source.name} (program line ${line + 1}): ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
      });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("documentation snippets", function () {
  this.timeout(120_000);

  it("every TypeScript snippet in the README and docs/ type-checks against the package", () => {
    const programs = snippetPrograms();
    assert.ok(programs.size >= 3, `found ${programs.size} snippets`);
    assert.deepStrictEqual(typeErrors(programs), []);
  });

  it("the check can fail: a snippet with a wrong arg or output type is reported", () => {
    const [name, code] = [...snippetPrograms().entries()][0];
    const broken = new Map([[name, code.replace(/routing: "sticky"/, 'routing: "random"')]]);
    assert.notStrictEqual(broken.get(name), code, "the first snippet sets routing");
    assert.match(typeErrors(broken).join("\n"), /"random"/);
  });
});
