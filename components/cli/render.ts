// traffic-distributor render --stack NAME [--set key=value ...] [--cwd DIR] [--namespace NS] [--name NAME]
// Prints the HAProxy config a stack would deploy, through the same code as the component:
// stack config -> settings -> servers -> renderer. It reads the Pulumi project it runs in (the
// nearest Pulumi.yaml: its name is the config namespace, its stackConfigDir holds the stack
// files), so it works in this repository and in a user's own project. No Pulumi CLI and no
// Docker needed.
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { renderHaproxyConfig } from "../haproxyConfig";
import { environmentName, provisionedServers } from "../naming";
import { Color, COLORS, parseComponentName, parseServerList, ServerAddress, SettingsError } from "../settings";
import { configSourceFromMap, readStackConfig } from "../stackConfig";
import { renderInput } from "../trafficDistributor";

export const RENDER_USAGE = "usage: traffic-distributor render --stack NAME [--set key=value ...] [--cwd DIR] [--namespace NS] [--name NAME]";

export const RENDER_HELP = `${RENDER_USAGE}

Prints the HAProxy config the stack would deploy, read from the Pulumi project's Pulumi.yaml and
Pulumi.<stack>.yaml (no Pulumi CLI, no Docker). Values the stack file holds encrypted, and a
missing statsPassword, render as "[secret-from-stack]".

  --stack, -s NAME       the stack whose config file is read
  --set key=value        a key as \`pulumi config set key value\` would store it (repeatable)
  --cwd, --project DIR   the Pulumi project (default: the nearest Pulumi.yaml from the current directory up)
  --namespace NS         the config namespace of the distributor's keys (default: the project's name)
  --name NAME            the component's name in the program (default: the stack's name); it names the app containers
`;

export interface RenderOptions {
  readonly stack: string;
  /** `key=value` overrides, as `pulumi config set key value` would store them. */
  readonly set?: readonly string[];
  /** Where to look for the Pulumi project (its Pulumi.yaml, here or in a parent). @default process.cwd() */
  readonly cwd?: string;
  /** The config namespace of the distributor's keys. @default the project's name */
  readonly namespace?: string;
  /** The component's name in the program, which names the app containers. @default the stack's name */
  readonly name?: string;
}

/** What render needs of a Pulumi project. */
export interface PulumiProject {
  /** The Pulumi.yaml read. */
  readonly file: string;
  /** The project's name: the namespace of its own config keys. */
  readonly name: string;
  /** The folder of its stack files: `stackConfigDir` if set, else the project's folder. */
  readonly stackConfigDir: string;
}

/** What stands for a secret the stack file holds encrypted (or does not hold yet). */
const SECRET_PLACEHOLDER = "[secret-from-stack]";

function readYaml(file: string): Record<string, unknown> {
  let document: unknown;
  try {
    document = parseYaml(fs.readFileSync(file, "utf8"));
  } catch (error) {
    throw new SettingsError(`${file} is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  if (document === null || document === undefined) return {};
  if (typeof document !== "object" || Array.isArray(document)) throw new SettingsError(`${file} is not a YAML mapping`);
  return document as Record<string, unknown>;
}

/** The project of `from`, or of its nearest parent that has one, as the Pulumi CLI finds it. */
export function readProject(from: string): PulumiProject {
  const start = path.resolve(from);
  for (let dir = start; ; dir = path.dirname(dir)) {
    for (const name of ["Pulumi.yaml", "Pulumi.yml"]) {
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) continue;
      const project = readYaml(file);
      if (typeof project.name !== "string" || project.name === "") throw new SettingsError(`${file} has no project name (its \`name:\`)`);
      const configDir = project.stackConfigDir;
      if (configDir !== undefined && typeof configDir !== "string") throw new SettingsError(`${file}: stackConfigDir must be a folder name`);
      return { file, name: project.name, stackConfigDir: path.resolve(dir, configDir ?? ".") };
    }
    if (path.dirname(dir) === dir) {
      throw new SettingsError(`no Pulumi.yaml in ${start} or above it: run in your Pulumi project, or pass --cwd DIR`);
    }
  }
}

/** The stack's name without its organization and project (`acme/shop/dev` -> `dev`), as its config file has it. */
function stackName(stack: string): string {
  const name = stack.split("/").pop() ?? "";
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith(".")) {
    throw new SettingsError(`--stack is ${JSON.stringify(stack)}: must be a stack name, e.g. "dev" or "acme/shop/dev"`);
  }
  return name;
}

/** The stack file's config, namespaced keys as written; encrypted values become a placeholder. */
export function loadStackConfig(stack: string, stacksDir: string): Record<string, unknown> {
  const file = path.join(stacksDir, `Pulumi.${stackName(stack)}.yaml`);
  if (!fs.existsSync(file)) throw new SettingsError(`no stack file ${file}: create it or pick another --stack`);
  const config = readYaml(file).config ?? {};
  if (typeof config !== "object" || Array.isArray(config)) throw new SettingsError(`${file}: its config is not a mapping`);
  // Encrypted values cannot be read here; a placeholder shows where they go.
  return Object.fromEntries(
    Object.entries(config as Record<string, unknown>).map(([k, v]) =>
      v !== null && typeof v === "object" && "secure" in (v as object) ? [k, SECRET_PLACEHOLDER] : [k, v],
    ),
  );
}

export function renderStack(options: RenderOptions): string {
  const project = readProject(options.cwd ?? process.cwd());
  const namespace = options.namespace ?? project.name;
  const values = loadStackConfig(options.stack, project.stackConfigDir);
  for (const pair of options.set ?? []) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new SettingsError(`--set ${pair}: expected key=value, e.g. --set weight.blue=0`);
    values[`${namespace}:${pair.slice(0, at)}`] = pair.slice(at + 1);
  }
  // The stats password is required; a stack file that does not hold one yet renders with the placeholder.
  values[`${namespace}:statsPassword`] ??= SECRET_PLACEHOLDER;
  const { settings, statsPassword } = readStackConfig(configSourceFromMap(values, namespace));
  // This repository's program (infra/index.ts) names the component after the stack; --name says otherwise.
  const component = parseComponentName(options.name ?? stackName(options.stack));
  const servers = {} as Record<Color, ServerAddress[]>;
  for (const color of COLORS) {
    const plan = settings.colors[color];
    const environment = environmentName(component, color);
    if (plan.kind === "existing") servers[color] = parseServerList(color, plan.servers);
    else if (settings.target === "docker") servers[color] = provisionedServers(environment, plan);
    // On AWS the instances' private addresses exist only once they do; the stack output
    // haproxyConfig holds the deployed config.
    else servers[color] = Array.from({ length: plan.replicas }, (_, i) => ({ host: `${environment}-${i}.private-ip.invalid`, port: plan.port }));
  }
  return renderHaproxyConfig(renderInput(settings, servers, statsPassword));
}

export function parseRenderArgs(argv: readonly string[]): RenderOptions {
  let stack: string | undefined;
  let cwd: string | undefined;
  let namespace: string | undefined;
  let name: string | undefined;
  const set: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith("--") && argv[i].includes("=") ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
    const value = () => {
      const given = inline ?? argv[++i];
      if (given === undefined || given === "") throw new SettingsError(`${flag} needs a value: ${RENDER_USAGE}`);
      return given;
    };
    if (flag === "--stack" || flag === "-s") stack = value();
    else if (flag === "--set") set.push(value());
    else if (flag === "--cwd" || flag === "--project") cwd = value();
    else if (flag === "--namespace") namespace = value();
    else if (flag === "--name") name = value();
    else throw new SettingsError(`unknown argument ${argv[i]}: ${RENDER_USAGE}`);
  }
  if (!stack) throw new SettingsError(`--stack NAME is required: ${RENDER_USAGE}`);
  return { stack, set, cwd, namespace, name };
}

/** The command: its arguments in, the config out. */
export function render(argv: readonly string[]): string {
  return renderStack(parseRenderArgs(argv));
}
