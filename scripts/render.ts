// npm run render -- --stack NAME [--set key=value ...]
// Prints the HAProxy config a stack would deploy, through the same code as the component:
// stack config -> settings -> servers -> renderer. No Pulumi CLI and no Docker needed.
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { Color, COLORS, ServerAddress, SettingsError } from "../components";
import { renderHaproxyConfig } from "../components/haproxyConfig";
import { environmentName, provisionedServers } from "../components/naming";
import { parseServerList } from "../components/settings";
import { CONFIG_NAMESPACE, configSourceFromMap, readStackConfig } from "../components/stackConfig";
import { renderInput } from "../components/trafficDistributor";

export interface RenderOptions {
  readonly stack: string;
  /** `key=value` overrides, as `pulumi config set key value` would store them. */
  readonly set?: readonly string[];
  /** Folder of the stack files. @default "<project>/stacks" */
  readonly stacksDir?: string;
}

/** What stands for a secret the stack file holds encrypted (or does not hold yet). */
const SECRET_PLACEHOLDER = "[secret-from-stack]";

export function loadStackConfig(stack: string, stacksDir: string): Record<string, unknown> {
  const file = path.join(stacksDir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file)) throw new SettingsError(`no stack file ${file}: create it or pick another --stack`);
  const document = parseYaml(fs.readFileSync(file, "utf8")) ?? {};
  const config = (document.config ?? {}) as Record<string, unknown>;
  // Encrypted values cannot be read here; a placeholder shows where they go.
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) =>
      v !== null && typeof v === "object" && "secure" in (v as object) ? [k, SECRET_PLACEHOLDER] : [k, v],
    ),
  );
}

export function renderStack(options: RenderOptions): string {
  const stacksDir = options.stacksDir ?? path.join(__dirname, "..", "stacks");
  const values = loadStackConfig(options.stack, stacksDir);
  for (const pair of options.set ?? []) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new SettingsError(`--set ${pair}: expected key=value, e.g. --set weight.blue=0`);
    values[`${CONFIG_NAMESPACE}:${pair.slice(0, at)}`] = pair.slice(at + 1);
  }
  // The stats password is required; a stack file that does not hold one yet renders with the placeholder.
  values[`${CONFIG_NAMESPACE}:statsPassword`] ??= SECRET_PLACEHOLDER;
  const { settings, statsPassword } = readStackConfig(configSourceFromMap(values));
  // infra/index.ts names the component after the stack.
  const servers = {} as Record<Color, ServerAddress[]>;
  for (const color of COLORS) {
    const plan = settings.colors[color];
    const environment = environmentName(options.stack, color);
    if (plan.kind === "existing") servers[color] = parseServerList(color, plan.servers);
    else if (settings.target === "docker") servers[color] = provisionedServers(environment, plan);
    // On AWS the instances' private addresses exist only once they do; the stack output
    // haproxyConfig holds the deployed config.
    else servers[color] = Array.from({ length: plan.replicas }, (_, i) => ({ host: `${environment}-${i}.private-ip.invalid`, port: plan.port }));
  }
  return renderHaproxyConfig(renderInput(settings, servers, statsPassword));
}

function parseArgv(argv: string[]): RenderOptions {
  let stack: string | undefined;
  const set: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--stack" || arg === "-s") stack = argv[++i];
    else if (arg.startsWith("--stack=")) stack = arg.slice("--stack=".length);
    else if (arg === "--set") set.push(argv[++i] ?? "");
    else if (arg.startsWith("--set=")) set.push(arg.slice("--set=".length));
    else throw new SettingsError(`unknown argument ${arg}: usage: npm run render -- --stack NAME [--set key=value ...]`);
  }
  if (!stack) throw new SettingsError("--stack NAME is required: usage: npm run render -- --stack NAME [--set key=value ...]");
  return { stack, set };
}

if (require.main === module) {
  try {
    process.stdout.write(renderStack(parseArgv(process.argv.slice(2))));
  } catch (error) {
    process.stderr.write(`render: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
