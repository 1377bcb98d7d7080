// npm run pulumi-yaml: writes Pulumi.yaml's `config:` block from the settings schema
// (components/settingsSchema.ts); the rest of the file is kept. A test fails when they differ.
// A required secret (no default) is declared `secret: true`; the other secrets take their
// default and are set with `pulumi config set --secret`.
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import { SETTINGS_SCHEMA, SettingSpec } from "../components/settingsSchema";

export const PULUMI_YAML = path.join(__dirname, "..", "Pulumi.yaml");

function scalar(value: unknown): string {
  if (Array.isArray(value)) return JSON.stringify(value);
  // YAML 1.1 quoting: a string such as "off" stays a string for every reader.
  return stringify(value, { lineWidth: 0, version: "1.1" }).trimEnd();
}

/** A description as plain text: Markdown links keep their words, and the target it is limited to leads. */
export function plainDescription(spec: SettingSpec): string {
  const text = spec.description.replace(/\[([^\]]+)\]\([^)]+\)/g, "$1");
  return spec.scope ? `(${spec.scope}) ${text}` : text;
}

function entry(spec: SettingSpec): string {
  const lines = [...(spec.note ? [`  # ${spec.note}`] : []), `  ${spec.path}:`, `    type: ${spec.type}`];
  if (spec.type === "array") lines.push("    items:", "      type: string");
  if (spec.secret && spec.default === undefined) lines.push("    secret: true");
  lines.push(`    description: ${scalar(plainDescription(spec))}`);
  if (spec.default !== undefined) lines.push(`    default: ${scalar(spec.default)}`);
  return lines.join("\n");
}

/** The `config:` block, from the schema. */
export function configBlock(): string {
  return ["config:", ...SETTINGS_SCHEMA.map((spec) => entry(spec))].join("\n") + "\n";
}

/** Pulumi.yaml's text with its `config:` block (the file's last part) made from the schema. */
export function withConfigBlock(text: string): string {
  const start = text.search(/^config:$/m);
  if (start < 0) throw new Error("Pulumi.yaml has no config: block");
  return text.slice(0, start) + configBlock();
}

if (require.main === module) {
  const text = fs.readFileSync(PULUMI_YAML, "utf8");
  fs.writeFileSync(PULUMI_YAML, withConfigBlock(text));
}
