// What `npm run status` reports, from what the running distributor says: the config's summary
// line, the runtime API's `show stat` and the per-server rates table. Pure: the probe's output
// goes in, the report comes out, so it is tested against a real HAProxy without Docker.
import { CONTAINER_CONFIG_PATH, CONTAINER_PLACEMENT, SERVER_RATE_WINDOWS, SERVER_RATES_TABLE } from "./haproxyConfig";
import { Color, COLORS } from "./settings";

/** The runtime API commands the probe sends, in order. */
export const PROBE_COMMANDS = ["show stat", `show table ${SERVER_RATES_TABLE}`] as const;

/**
 * Run inside the distributor (`perl` is in every Debian-based image; the image has no socat):
 * prints the config's routing summary, then each command's answer after a `--- <command>` line.
 * Arguments: the admin socket, the config file. No single quote, so a shell can quote it whole.
 */
export const PROBE_SCRIPT = [
  "my ($sock, $cfg) = @ARGV;",
  'open(my $f, "<", $cfg) or die "$cfg: $!\\n";',
  "while (<$f>) { if (/^# routing /) { print; last } }",
  `for my $cmd (${PROBE_COMMANDS.map((c) => `"${c}"`).join(", ")}) {`,
  '  my $s = IO::Socket::UNIX->new(Peer => $sock) or die "$sock: $!\\n";',
  '  print "--- $cmd\\n"; print $s "$cmd\\n"; print while <$s>;',
  "}",
].join("\n");

/** The probe as a command line inside the distributor container (for `docker exec`). */
export function probeArgv(
  socketPath = `${CONTAINER_PLACEMENT.runtimeDir}/admin.sock`,
  configPath = CONTAINER_CONFIG_PATH,
): string[] {
  return ["perl", "-MIO::Socket::UNIX", "-e", PROBE_SCRIPT, socketPath, configPath];
}

export interface ServerStatus {
  /** HAProxy's name of the server: `<color>_<host>[:<port>]`. */
  readonly name: string;
  /** Address HAProxy connects to (resolved), e.g. "172.18.0.5:80". */
  readonly address: string;
  /** "UP" or "DOWN"; HAProxy's own word when it is neither ("MAINT", "NOLB", "no check"). */
  readonly state: string;
  /** The last health check: result, code, duration and HAProxy's description. */
  readonly lastCheck: string;
  /** Seconds since the state last changed. */
  readonly stateForSeconds: number;
  readonly currentSessions: number;
  /** Answers per second over the last 10 s. */
  readonly requestsPerSecond: number;
  /** 5xx answers over the last minute (since the last reload, when that is nearer). */
  readonly errors5xxLastMinute: number;
  /** Answers and 5xx answers since the last reload. */
  readonly answersSinceReload: number;
  readonly errors5xxSinceReload: number;
}

export interface ColorStatus {
  /** The configured weight; undefined with `failover`. */
  readonly weight?: number;
  /** Share of new traffic in percent (two decimals), as the running worker's weights give it. */
  readonly share: number;
  readonly serversUp: number;
  readonly servers: readonly ServerStatus[];
  readonly currentSessions: number;
  readonly requestsPerSecond: number;
  readonly errors5xxLastMinute: number;
}

export interface DistributorStatusReport {
  readonly routing: string;
  readonly colors: Record<Color, ColorStatus>;
}

/** The probe's output, by part. */
export interface ProbeOutput {
  readonly summary: string;
  readonly answers: Record<string, string>;
}

export function splitProbeOutput(text: string): ProbeOutput {
  const [head, ...rest] = text.split(/^--- /m);
  const answers: Record<string, string> = {};
  for (const part of rest) {
    const newline = part.indexOf("\n");
    answers[part.slice(0, newline)] = part.slice(newline + 1);
  }
  return { summary: head.trim(), answers };
}

/** `show stat` as rows of named fields. */
export function parseShowStat(csv: string): Array<Record<string, string>> {
  const lines = csv.split("\n").filter((line) => line.trim() !== "");
  if (lines.length === 0 || !lines[0].startsWith("# ")) throw new Error(`not the output of show stat: ${JSON.stringify(csv.slice(0, 80))}`);
  const header = lines[0].slice(2).split(",");
  return lines.slice(1).map((line) => {
    const fields = line.split(",");
    return Object.fromEntries(header.map((name, i) => [name, fields[i] ?? ""]));
  });
}

/** `show table <name>`: each key's stored values, e.g. { "gpc0_rate(10000)": 9 }. */
export function parseShowTable(text: string): Map<string, Record<string, number>> {
  const entries = new Map<string, Record<string, number>>();
  for (const line of text.split("\n")) {
    const key = / key=(\S+)/.exec(line);
    if (!key) continue;
    const values: Record<string, number> = {};
    for (const [, name, value] of line.matchAll(/ ([a-z_0-9]+(?:\(\d+\))?)=(-?\d+)/g)) values[name] = Number(value);
    entries.set(key[1], values);
  }
  return entries;
}

/**
 * The routing mode and the colors' configured weights, from the renderer's summary line:
 * `# routing round-robin: blue 1 (33.33%), green 2 (66.67%)` or failover's. The shares are
 * not read from it: the running worker's weights say them (sharesFromStat).
 */
export function parseSummary(line: string): { routing: string; weights?: Record<Color, number> } {
  const weighted = /^# routing (\S+): blue (\d+) \([\d.]+%\), green (\d+) \([\d.]+%\)$/.exec(line);
  if (weighted) return { routing: weighted[1], weights: { blue: Number(weighted[2]), green: Number(weighted[3]) } };
  if (/^# routing failover: primary (blue|green), backup (blue|green)$/.test(line)) return { routing: "failover" };
  throw new Error(`the distributor's config has no routing summary line (found ${JSON.stringify(line.slice(0, 120))}): is it a traffic-distributor config?`);
}

/**
 * Each color's share of new traffic in percent (two decimals), from the weights the running
 * worker applies: the `colors` backend's servers (two levels), else the replicas' in `app`,
 * where backup servers (failover) take nothing while a primary is listed.
 */
export function sharesFromStat(rows: ReadonlyArray<Record<string, string>>): Record<Color, number> {
  const weight = (row: Record<string, string>) => Number(row.uweight ?? row.weight) || 0;
  const totals: Record<Color, number> = { blue: 0, green: 0 };
  const firstLevel = rows.filter((row) => row.pxname === "colors" && (COLORS as readonly string[]).includes(row.svname));
  if (firstLevel.length > 0) {
    for (const row of firstLevel) totals[row.svname as Color] += row.bck === "1" ? 0 : weight(row);
  } else {
    for (const row of rows) {
      const color = row.pxname === "app" ? colorOfServer(row.svname) : undefined;
      if (color !== undefined && row.bck !== "1") totals[color] += weight(row);
    }
  }
  const sum = totals.blue + totals.green;
  if (sum === 0) throw new Error("show stat lists no weighted server of either color: is it a traffic-distributor's HAProxy?");
  return { blue: Math.round((totals.blue * 10_000) / sum) / 100, green: Math.round((totals.green * 10_000) / sum) / 100 };
}

/** The backends whose servers are replicas: `app` (one level) or the colors' own (two levels). */
const REPLICA_BACKENDS = new Set(["app", ...COLORS]);

function colorOfServer(name: string): Color | undefined {
  return COLORS.find((color) => name.startsWith(`${color}_`));
}

function lastCheck(row: Record<string, string>): string {
  if (!row.check_status) return "none";
  const code = row.check_code ? `/${row.check_code}` : "";
  const took = row.check_duration ? ` in ${row.check_duration} ms` : "";
  const desc = row.last_chk ? `: ${row.last_chk}` : "";
  return `${row.check_status.replace(/^\* /, "")}${code}${took}${desc}`;
}

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** The report from the probe's output. */
export function distributorStatus(text: string): DistributorStatusReport {
  const probe = splitProbeOutput(text);
  const summary = parseSummary(probe.summary);
  const stat = probe.answers[PROBE_COMMANDS[0]];
  if (stat === undefined) throw new Error("the probe printed no show stat");
  const rows = parseShowStat(stat);
  const shares = sharesFromStat(rows);
  const rates = parseShowTable(probe.answers[PROBE_COMMANDS[1]] ?? "");
  const answersKey = `gpc0_rate(${SERVER_RATE_WINDOWS.answersMs})`;
  const errorsKey = `gpc1_rate(${SERVER_RATE_WINDOWS.errorsMs})`;
  const servers: Record<Color, ServerStatus[]> = { blue: [], green: [] };
  for (const row of rows) {
    const color = colorOfServer(row.svname);
    if (!REPLICA_BACKENDS.has(row.pxname) || color === undefined) continue;
    const rate = rates.get(row.svname) ?? {};
    servers[color].push({
      name: row.svname,
      address: row.addr,
      // "UP 1/2" is a server going down after one failed check: still UP.
      state: row.status.split(" ")[0],
      lastCheck: lastCheck(row),
      stateForSeconds: Number(row.lastchg) || 0,
      currentSessions: Number(row.scur) || 0,
      requestsPerSecond: round(((rate[answersKey] ?? 0) * 1000) / SERVER_RATE_WINDOWS.answersMs),
      errors5xxLastMinute: rate[errorsKey] ?? 0,
      answersSinceReload: rate.gpc0 ?? 0,
      errors5xxSinceReload: rate.gpc1 ?? 0,
    });
  }
  const colors = {} as Record<Color, ColorStatus>;
  for (const color of COLORS) {
    const list = servers[color];
    const sum = (field: "currentSessions" | "requestsPerSecond" | "errors5xxLastMinute") => list.reduce((total, s) => total + s[field], 0);
    colors[color] = {
      ...(summary.weights === undefined ? {} : { weight: summary.weights[color] }),
      share: shares[color],
      serversUp: list.filter((s) => s.state === "UP").length,
      servers: list,
      currentSessions: sum("currentSessions"),
      requestsPerSecond: round(sum("requestsPerSecond")),
      errors5xxLastMinute: sum("errors5xxLastMinute"),
    };
  }
  return { routing: summary.routing, colors };
}

/** The report as text, one block per color. */
export function formatStatus(report: DistributorStatusReport, title = "distributor"): string {
  const lines = [`${title}: routing ${report.routing}`];
  for (const color of COLORS) {
    const c = report.colors[color];
    const weight = c.weight === undefined ? "" : `weight ${c.weight}, `;
    lines.push(
      `${color}: ${weight}share ${c.share}%, ${c.serversUp}/${c.servers.length} UP, ` +
        `${c.currentSessions} sessions, ${c.requestsPerSecond} req/s, ${c.errors5xxLastMinute} 5xx in the last minute`,
    );
    for (const s of c.servers) {
      lines.push(
        `  ${s.name} (${s.address}) ${s.state} for ${s.stateForSeconds}s, last check ${s.lastCheck}; ` +
          `${s.currentSessions} sessions, ${s.requestsPerSecond} req/s, ${s.errors5xxLastMinute} 5xx in the last minute`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
