// What the Docker scenarios share: app images per color and version, a stack's config, the
// driver run of one release step, and a sampler that counts answers by color and version.
import { DEFAULT_DISTRIBUTOR_IMAGE } from "../../components/settings";
import { freePort, request } from "../harness";
import { Deployment, ProgramRun, runProgram } from "./driver";
import { testEngine, testImages } from "./setup";
import { STATS_PASSWORD } from "../statsPassword";

const appImages = new Map<string, string>();

/** Versions whose health endpoint fails, by the status it answers. */
const SICK_VERSIONS: Record<string, number> = { sick: 503 };

/** The local image ID of the demo app built as `color` `version` (metadata only: no layer). */
export async function appImage(color: string, version: string): Promise<string> {
  const name = `td-demo:${color}-${version}`;
  if (!appImages.has(name)) {
    const engine = testEngine();
    const health = SICK_VERSIONS[version] ? ` HEALTHZ_STATUS=${SICK_VERSIONS[version]}` : "";
    const dockerfile = `FROM ${testImages().app}\nENV COLOR=${color} VERSION=${version}${health}\n`;
    const tag = `traffic-distributor-test/app:${color}-${version}-${engine.runId}`;
    await engine.docker(["build", "-q", "--label", engine.label, "-t", tag, "-"], { input: dockerfile });
    const id = (await engine.docker(["image", "inspect", "--format", "{{.Id}}", tag])).stdout.trim();
    appImages.set(name, id);
  }
  return appImages.get(name)!;
}

/** Image names a stack may use, mapped to local image IDs (the shipped default to the 3.2 build). */
export async function imageTable(): Promise<Record<string, string>> {
  const engine = testEngine();
  const distributor = (await engine.docker(["image", "inspect", "--format", "{{.Id}}", testImages().distributor])).stdout.trim();
  const table: Record<string, string> = { [DEFAULT_DISTRIBUTOR_IMAGE]: distributor };
  for (const color of ["blue", "green"]) {
    for (const version of ["v1", "v2", ...Object.keys(SICK_VERSIONS)]) table[`td-demo:${color}-${version}`] = await appImage(color, version);
  }
  return table;
}

export interface Stack {
  readonly name: string;
  readonly listenPort: number;
  readonly statsPort: number;
  readonly url: string;
  readonly deployment: Deployment;
  /** The config of the last step, as `pulumi config set` stores it. */
  config: Record<string, string>;
  last?: ProgramRun;
  /** Runs the program with `changes` on top of the last config and applies it to the engine. */
  step(changes: Record<string, string>): Promise<ProgramRun>;
}

/** `extraImages`: more image names the stack may use, mapped to local image IDs. */
export async function newStack(name: string, extraImages: Record<string, string> = {}): Promise<Stack> {
  const listenPort = await freePort();
  const statsPort = await freePort();
  const images = { ...(await imageTable()), ...extraImages };
  const stack: Stack = {
    name,
    listenPort,
    statsPort,
    url: `http://127.0.0.1:${listenPort}`,
    deployment: new Deployment(testEngine()),
    config: {
      "weight.blue": "50",
      "weight.green": "50",
      "blue.image": "td-demo:blue-v1",
      "green.image": "td-demo:green-v1",
      "blue.replicas": "2",
      "green.replicas": "2",
      "healthCheck.path": "/healthz",
      listenPort: String(listenPort),
      statsPort: String(statsPort),
      statsPassword: STATS_PASSWORD,
    },
    async step(changes) {
      stack.config = { ...stack.config, ...changes };
      const run = await runProgram(name, stack.config, images);
      stack.last = run;
      await stack.deployment.up(run);
      return run;
    },
  };
  return stack;
}

/** `count` sequential GETs, each on a new connection, counted by "color version". */
export async function sample(url: string, count: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const { status, body } = await request(`${url}/`, { agent: false });
    const key = status === 200 ? body.split(" ").slice(0, 2).join(" ") : `HTTP ${status}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Names of this run's containers with a label, e.g. "traffic-distributor.environment=x-blue". */
export async function containerNames(label: string, all = true): Promise<string[]> {
  const engine = testEngine();
  const args = ["ps", ...(all ? ["-a"] : []), "--filter", `label=${engine.label}`, "--filter", `label=${label}`, "--format", "{{.Names}}"];
  return (await engine.docker(args)).stdout.split("\n").filter((n) => n !== "").sort();
}
