// traffic-distributor status --stack NAME [--json] [--container NAME | --instance-id ID [--region REGION]] [--cwd DIR]
// Prints, per color, what the running distributor reports: weight and share, each server UP or
// DOWN with its last check, sessions, requests per second and 5xx in the last minute. It asks
// the distributor's runtime API from inside it: through `docker exec` on docker, through SSM
// Run Command on aws. The distributor is found from the stack's outputs (`pulumi stack output`,
// when the Pulumi CLI is installed), else from the flags, else by the name this repository's
// program gives it. In a user's project, the program exports `distributorId` for it.
import type * as ssm from "@aws-sdk/client-ssm";
import { execFile } from "child_process";
import { realClock, runSsmCommand, SsmCommandClasses, SsmSender } from "../aws/ssmCommand";
import { DISTRIBUTOR_CONTAINER } from "../aws/userData";
import { distributorStatus, DistributorStatusReport, formatStatus, probeArgv } from "../distributorStatus";
import { parseComponentName, SettingsError } from "../settings";

export const STATUS_USAGE = "usage: traffic-distributor status --stack NAME [--json] [--container NAME | --instance-id ID [--region REGION]] [--cwd DIR]";
const USAGE = STATUS_USAGE;

export const STATUS_HELP = `${STATUS_USAGE}

Prints, per color, what the running distributor reports: weight and share, each server UP or
DOWN with its last check, sessions, requests per second and 5xx in the last minute. It asks the
distributor through \`docker exec\` (docker) or SSM Run Command (aws, with @aws-sdk/client-ssm).

  --stack, -s NAME       the stack; its \`distributorId\` output (\`pulumi stack output\`) names the distributor
  --json                 the report as JSON
  --container NAME       the distributor's container (docker), instead of the stack's output
  --instance-id ID       the distributor's instance (aws), instead of the stack's output
  --region REGION        the instance's region (default: AWS_REGION, AWS_DEFAULT_REGION, the stack's aws:region)
  --cwd, --project DIR   where the Pulumi CLI runs for the stack's outputs (default: the current directory)

Without the Pulumi CLI, an output or a flag, the container is "<stack>-distributor" (the name
this package's own program gives it).
`;

export interface StatusOptions {
  readonly stack: string;
  readonly json: boolean;
  /** The distributor container (docker). @default the stack's `distributorId` output, else "<stack>-distributor" */
  readonly container?: string;
  /** The distributor instance (aws). @default the stack's `distributorId` output */
  readonly instanceId?: string;
  /** @default AWS_REGION, AWS_DEFAULT_REGION, or the stack's `aws:region` */
  readonly region?: string;
  /** Where the Pulumi CLI runs to read the stack (the user's project). @default process.cwd() */
  readonly cwd?: string;
}

/** Where the distributor runs, and how to reach it. */
export type DistributorLocation = { readonly target: "docker"; readonly container: string } | { readonly target: "aws"; readonly instanceId: string; readonly region: string };

const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-[0-9]$/;

function checked(flag: string, value: string | undefined, pattern: RegExp, allowed: string): string {
  if (value === undefined || !pattern.test(value)) throw new SettingsError(`${flag} is ${JSON.stringify(value ?? "")}: must be ${allowed}`);
  return value;
}

export function parseStatusArgs(argv: readonly string[]): StatusOptions {
  let stack: string | undefined;
  let json = false;
  let container: string | undefined;
  let instanceId: string | undefined;
  let region: string | undefined;
  let cwd: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith("--") && argv[i].includes("=") ? argv[i].split(/=(.*)/s, 2) : [argv[i], undefined];
    const value = () => inline ?? argv[++i];
    if (flag === "--stack" || flag === "-s") stack = value();
    else if (flag === "--json") json = true;
    else if (flag === "--container") container = checked("--container", value(), CONTAINER_NAME, "a Docker container name");
    else if (flag === "--instance-id") instanceId = checked("--instance-id", value(), INSTANCE_ID, 'an EC2 instance ID, e.g. "i-0123456789abcdef0"');
    else if (flag === "--region") region = checked("--region", value(), REGION, 'an AWS region, e.g. "eu-west-1"');
    else if (flag === "--cwd" || flag === "--project") cwd = checked(flag, value(), /./, "a folder");
    else throw new SettingsError(`unknown argument ${argv[i]}: ${USAGE}`);
  }
  if (!stack) throw new SettingsError(`--stack NAME is required: ${USAGE}`);
  parseComponentName(stack);
  if (container !== undefined && instanceId !== undefined) throw new SettingsError(`--container and --instance-id are both set: give one (${USAGE})`);
  return { stack, json, container, instanceId, region, ...(cwd === undefined ? {} : { cwd }) };
}

/** What locating the distributor may ask of the machine (the tests pass their own). */
export interface LocatorDeps {
  /** `pulumi stack output --json` of the stack, or undefined when there is no Pulumi CLI or no such stack. */
  stackOutputs(stack: string): Promise<Record<string, unknown> | undefined>;
  /** `pulumi config get aws:region` of the stack, or undefined. */
  stackRegion(stack: string): Promise<string | undefined>;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Flags first, then the stack's `distributorId` output (an instance ID means aws), then the
 * container name the program gives a docker stack's distributor: `<stack>-distributor`.
 */
export async function locateDistributor(options: StatusOptions, deps: LocatorDeps): Promise<DistributorLocation> {
  if (options.container !== undefined) return { target: "docker", container: options.container };
  let instanceId = options.instanceId;
  if (instanceId === undefined) {
    const outputs = await deps.stackOutputs(options.stack);
    const id = outputs?.distributorId;
    if (typeof id === "string" && INSTANCE_ID.test(id)) instanceId = id;
    else if (typeof id === "string") return { target: "docker", container: checked("the distributorId output", id, CONTAINER_NAME, "a Docker container name") };
    else return { target: "docker", container: `${options.stack}-distributor` };
  }
  const region = options.region ?? deps.env.AWS_REGION ?? deps.env.AWS_DEFAULT_REGION ?? (await deps.stackRegion(options.stack));
  return {
    target: "aws",
    instanceId,
    region: checked("--region", region, REGION, "an AWS region (or set AWS_REGION, or the stack's aws:region)"),
  };
}

/** The probe as one shell line on the AWS instance: the same perl, inside the HAProxy container. */
export function ssmProbeCommand(): string {
  // The probe script holds no single quote: each argument goes in single quotes whole.
  return ["docker", "exec", DISTRIBUTOR_CONTAINER, ...probeArgv()].map((arg) => `'${arg}'`).join(" ");
}

function run(command: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: options.cwd, timeout: options.timeoutMs ?? 30_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      // A command that is not installed: say so rather than print an empty error.
      const missing = (error as NodeJS.ErrnoException | null)?.code === "ENOENT";
      const code = error ? (typeof error.code === "number" ? error.code : 127) : 0;
      resolve({ code, stdout, stderr: missing ? `the ${command} CLI is not installed (or not on PATH)` : stderr });
    });
  });
}

/** Runs the probe in a docker distributor. */
export async function probeDocker(container: string): Promise<string> {
  const result = await run("docker", ["exec", container, ...probeArgv()]);
  if (result.code !== 0) throw new Error(`docker exec ${container} failed (${result.code}): ${result.stderr.trim() || "is the stack deployed?"}`);
  return result.stdout;
}

/** Runs the probe on an aws distributor through SSM Run Command and waits for its output. */
export async function probeThroughSsm(
  instanceId: string,
  client: SsmSender,
  sdk: SsmCommandClasses,
  sleep: (ms: number) => Promise<void> = realClock.sleep,
  attempts = 30,
): Promise<string> {
  return runSsmCommand(
    {
      instanceId,
      documentName: "AWS-RunShellScript",
      comment: "traffic-distributor status",
      parameters: { commands: [ssmProbeCommand()], executionTimeout: ["30"] },
      label: `the status command on ${instanceId}`,
      messages: {
        noCommandId: () => `SSM accepted the status command for ${instanceId} but returned no command ID`,
        timedOut: (_status, commandId) => `the status command on ${instanceId} did not finish in ${attempts} s (SSM command ${commandId})`,
        ended: (status, _commandId, detail) => `the status command on ${instanceId} ended ${status}: ${detail}`,
      },
      pollMs: 1000,
      wait: { polls: attempts },
    },
    client,
    sdk,
    { now: realClock.now, sleep },
  );
}

/** The machine's Pulumi CLI, run in `cwd` (the user's project), and its environment. */
export function machineDeps(cwd?: string): LocatorDeps {
  return {
    async stackOutputs(stack) {
      const result = await run("pulumi", ["stack", "output", "--json", "--stack", stack], { cwd });
      if (result.code !== 0) return undefined;
      try {
        return JSON.parse(result.stdout) as Record<string, unknown>;
      } catch {
        return undefined;
      }
    },
    async stackRegion(stack) {
      const result = await run("pulumi", ["config", "get", "aws:region", "--stack", stack], { cwd });
      return result.code === 0 ? result.stdout.trim() : undefined;
    },
    env: process.env,
  };
}

/** The AWS SDK's SSM client, loaded only for an aws distributor: a docker-only install may leave it out. */
function loadSsm(): typeof ssm {
  try {
    return require("@aws-sdk/client-ssm");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw error;
    throw new Error("an aws distributor is reached through SSM, with @aws-sdk/client-ssm: install it (npm install @aws-sdk/client-ssm)");
  }
}

/** The report of a located distributor. */
export async function statusOf(location: DistributorLocation): Promise<DistributorStatusReport> {
  if (location.target === "docker") return distributorStatus(await probeDocker(location.container));
  const sdk = loadSsm();
  const client = new sdk.SSMClient({ region: location.region });
  try {
    return distributorStatus(await probeThroughSsm(location.instanceId, client, sdk));
  } finally {
    client.destroy();
  }
}

/** The command: its arguments in, the report out. The tests pass their own `deps`. */
export async function main(argv: readonly string[], deps?: LocatorDeps): Promise<string> {
  const options = parseStatusArgs(argv);
  const location = await locateDistributor(options, deps ?? machineDeps(options.cwd));
  const report = await statusOf(location);
  const where = location.target === "docker" ? location.container : location.instanceId;
  return options.json
    ? `${JSON.stringify({ stack: options.stack, ...location, ...report }, null, 2)}\n`
    : formatStatus(report, `${options.stack} (${location.target} ${where})`);
}
