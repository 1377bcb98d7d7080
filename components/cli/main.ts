#!/usr/bin/env node
// The package's command line (package.json `bin`): `traffic-distributor render ...` and
// `traffic-distributor status ...`, run in the user's Pulumi project. `npm run render` and
// `npm run status` run the same in this repository.
import { render, RENDER_HELP, RENDER_USAGE } from "./render";
import { main as status, STATUS_HELP, STATUS_USAGE } from "./status";

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly help: string;
  run(argv: readonly string[]): Promise<string>;
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  render: {
    summary: "print the HAProxy config a stack would deploy, from its stack config",
    usage: RENDER_USAGE,
    help: RENDER_HELP,
    run: async (argv) => render(argv),
  },
  status: {
    summary: "ask the running distributor: per color, weights, servers UP or DOWN, rates and 5xx",
    usage: STATUS_USAGE,
    help: STATUS_HELP,
    run: (argv) => status(argv),
  },
};

export const USAGE = `usage: traffic-distributor <command> [options]

Commands (run in your Pulumi project, or pass --cwd DIR):
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(8)} ${command.summary}\n    ${command.usage.replace(/^usage: /, "")}`)
  .join("\n")}

\`traffic-distributor <command> --help\` describes a command's options.
`;

export interface CliOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processOutput: CliOutput = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs a command line; resolves to the exit code. An error prints its message alone, never a stack trace. */
export async function runCli(argv: readonly string[], output: CliOutput = processOutput): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    output.stderr(USAGE);
    return 1;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    output.stdout(USAGE);
    return 0;
  }
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    output.stderr(`traffic-distributor: unknown command ${JSON.stringify(name)}: the commands are ${Object.keys(COMMANDS).join(", ")}\n${USAGE}`);
    return 1;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    output.stdout(command.help);
    return 0;
  }
  try {
    output.stdout(await command.run(rest));
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    output.stderr(`traffic-distributor ${name}: ${message}\n`);
    return 1;
  }
}

if (require.main === module) {
  // exitCode, not exit(): a long render piped to another command is written out whole.
  void runCli(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
