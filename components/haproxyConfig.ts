// Renders the HAProxy configuration of a distributor. Pure: the component, `npm run render`
// and the traffic tests all call this one function, assembled from small section builders.
//
// The split is by *color* whatever the replica counts. Two layouts give that:
// - one level (round-robin and failover, whenever it is exact): frontend public -> backend app,
//   every replica one server, its weight scaled by the other color's replica count, so each
//   color's servers add up to its share; failover's other color are `backup` servers.
// - two levels (sticky, and weights one level cannot express within HAProxy's 256 weight
//   steps, which takes unequal replica counts): frontend public -> backend colors (one server
//   per color: weight, cookie)
//   -> frontend <color>_in (UNIX socket) -> backend <color> (its replicas).
// One level costs one HTTP pass, one set of health checks and one log line per request; the
// second level nearly doubles the proxy's CPU per request (`npm run bench`: 70 µs against 38).
// The one level still binds the color sockets (in front of `app`, idle in steady state), so a
// step from the two levels leaves the previous worker's last requests somewhere to go.
import { connectionCost, connectionsHeldBy, SMALL_BUFFERS_SINCE } from "./capacity";
import { sealConfig } from "./configSeal";
import { DEFAULT_GATE, HeaderServers, HOLD_PREFIX, releaseHeader, splitShares } from "./releaseGate";
import { L7_RETRY_ONLY_IDEMPOTENT, section } from "./haproxySection";
import { previewHostRules, PreviewRender, previewSections } from "./preview";
import {
  CapacitySettings,
  Color,
  COLORS,
  DEFAULTS,
  formatDuration,
  formatServer,
  GateSettings,
  HealthCheckSettings,
  parseDuration,
  RoutingMode,
  ServerAddress,
  Timeouts,
  Weights,
  weightPercentages,
} from "./settings";
import { ACME_BACKEND, acmeBackendLines, CONTAINER_TLS_PLACEMENT, TlsListenerInput, TlsPlacement, tlsFrontendLines, tlsGlobalLines } from "./tlsListener";

export interface HaproxyConfigInput {
  readonly weights: Weights;
  readonly routing: RoutingMode;
  /** Required for `failover`. */
  readonly failoverPrimary?: Color;
  readonly servers: Readonly<Record<Color, readonly ServerAddress[]>>;
  /** The active health check. @default DEFAULTS.healthCheck */
  readonly healthCheck?: HealthCheckSettings;
  /** @default DEFAULTS.timeouts */
  readonly timeouts?: Timeouts;
  /** One log line per request. @default true */
  readonly accessLog?: boolean;
  /** When set, the stats page asks for user `admin` with this password. */
  readonly statsPassword?: string;
  /** HTTPS beside plain HTTP, which then redirects to it. @default none */
  readonly tls?: TlsListenerInput;
  /** HAProxy threads. @default none: one per CPU the distributor has */
  readonly threads?: number;
  /** HAProxy's global `maxconn`. @default what the default distributor memory holds */
  readonly maxConnections?: number;
  /** The release gate the delivery applies to this config. @default DEFAULT_GATE */
  readonly gate?: GateSettings;
  /** Each color alone on its preview port (and Host), for the allowed sources. @default none */
  readonly preview?: PreviewRender;
}

/** The documented defaults, in milliseconds: what a config gets for the settings not given. */
export const DEFAULT_HEALTH_CHECK: HealthCheckSettings = {
  path: DEFAULTS.healthCheck.path,
  interval: parseDuration("healthCheck.interval", DEFAULTS.healthCheck.interval, 0, Infinity),
  timeout: parseDuration("healthCheck.timeout", DEFAULTS.healthCheck.timeout, 0, Infinity),
  expectStatus: DEFAULTS.healthCheck.expectStatus,
};
export const DEFAULT_TIMEOUTS: Timeouts = Object.fromEntries(
  Object.entries(DEFAULTS.timeouts).map(([key, text]) => [key, parseDuration(`timeouts.${key}`, text, 0, Infinity)]),
) as unknown as Timeouts;

/** Where the config runs: the distributor container, or a test's loopback. */
export interface HaproxyPlacement {
  /** Address the public and stats listeners bind, `*` for all interfaces. */
  readonly bindAddress: string;
  readonly listenPort: number;
  /** Port of the stats page; omitted, there is no stats listener. */
  readonly statsPort?: number;
  /** Directory of the admin socket (must be writable by HAProxy's user). */
  readonly runtimeDir: string;
  /** Prefix of the internal sockets' names in runtimeDir. */
  readonly instance: string;
  /** The HTTPS listener's port and certificate directory (configs with `tls`). */
  readonly tls?: TlsPlacement;
  /** Ports of the preview listeners, when the config has them. */
  readonly previewPorts?: Readonly<Record<Color, number>>;
}

/**
 * Inside the official image HAProxy runs as an unprivileged user: it listens on 8080/8404
 * and Docker publishes them; /var/lib/haproxy is the one directory it owns.
 */
export const CONTAINER_PLACEMENT: HaproxyPlacement = {
  bindAddress: "*",
  listenPort: 8080,
  statsPort: 8404,
  runtimeDir: "/var/lib/haproxy",
  instance: "traffic-distributor",
  tls: CONTAINER_TLS_PLACEMENT,
  previewPorts: { blue: 8081, green: 8082 },
};

/** Path of the config inside the official image; its entrypoint runs `haproxy -W -db -f` on it. */
export const CONTAINER_CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg";

/** Cookie that pins a client to its color with `routing: sticky`. */
export const STICKY_COOKIE = "td_color";

/** Header the color hop's own health checks carry; stripped from client requests. */
export const COLOR_CHECK_HEADER = "x-traffic-distributor-check";
const COLOR_CHECK_PATH = "/.traffic-distributor/color-health";


// Not abstract (abns@) sockets: HAProxy cannot pause those, so at every reload the old worker
// stops at once, and when the new config then fails to load (a port in use) nothing serves.
function socketName(placement: HaproxyPlacement, color: Color): string {
  return `unix@${placement.runtimeDir}/${placement.instance}-${color}.sock`;
}

/**
 * A server's name is its color, "_", then the Host header its health checks send (the name
 * with the color stripped), so a check reaches the app the way a browser would: the host,
 * with the port unless it is 80. The color prefix lets metrics and logs select a color by
 * server name in either layout (`server=~"blue_.*"`). IPv6 literals cannot be names; those
 * servers get a numbered one with a second underscore, which no validated host name has, so
 * no two names can collide.
 */
export function serverName(color: Color, index: number, server: ServerAddress): string {
  if (server.host.includes(":")) return `${color}_ipv6_${index}`;
  return `${color}_${server.port === 80 ? server.host : `${server.host}:${server.port}`}`;
}

/** The check's Host header: the server's name without its color prefix. */
const CHECK_HOST = `%[srv_name,${COLORS.map((color) => `regsub(^${color}_,)`).join(",")}]`;

/** HAProxy's largest server weight. */
const MAX_SERVER_WEIGHT = 256;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * Per-server weights for one backend holding every replica of both colors, such that each
 * color's servers add up to exactly its share: blue's w_b·n_g against green's w_g·n_b, reduced.
 * Undefined when the reduced pair exceeds HAProxy's 256: then one level cannot be exact.
 */
export function replicaWeights(weights: Weights, replicas: Record<Color, number>): Record<Color, number> | undefined {
  const raw = { blue: weights.blue * replicas.green, green: weights.green * replicas.blue };
  if (raw.blue === 0 || raw.green === 0) return { blue: Math.sign(raw.blue), green: Math.sign(raw.green) };
  const divisor = gcd(raw.blue, raw.green);
  const reduced = { blue: raw.blue / divisor, green: raw.green / divisor };
  return reduced.blue <= MAX_SERVER_WEIGHT && reduced.green <= MAX_SERVER_WEIGHT ? reduced : undefined;
}

/** Stick table of each replica's recent answers, keyed by server name (`npm run status` reads it). */
export const SERVER_RATES_TABLE = "server_rates";
/** Windows of the table's rates: answers over the last 10 s, 5xx answers over the last minute. */
export const SERVER_RATE_WINDOWS = { answersMs: 10_000, errorsMs: 60_000 } as const;

/**
 * The table behind `npm run status`'s requests per second and 5xx in the last minute: HAProxy
 * keeps per-server totals only, never a window. Keys are server names (a host of up to 253
 * characters, its color and port).
 */
export function serverRatesTable(): string {
  const { answersMs, errorsMs } = SERVER_RATE_WINDOWS;
  return section(`backend ${SERVER_RATES_TABLE}`, [
    `stick-table type string len 320 size 1k expire 5m store gpc0,gpc0_rate(${formatDuration(answersMs)}),gpc1,gpc1_rate(${formatDuration(errorsMs)})`,
  ]);
}

/** In each backend of replicas: count every answer of a server (gpc0), and its 5xx (gpc1). */
const SERVER_RATE_TRACKING = [
  `http-response track-sc0 srv_name table ${SERVER_RATES_TABLE}`,
  "http-response sc-inc-gpc0(0)",
  "http-response sc-inc-gpc1(0) if { status ge 500 }",
];

/** One backend of replicas, or a color hop in front of each color's replicas. */
export type Layout = "one-level" | "two-level";

export function layoutOf(input: HaproxyConfigInput): Layout {
  if (input.routing === "sticky") return "two-level"; // a cookie per color, balanced within it
  if (input.routing === "failover") return "one-level";
  return replicaWeights(input.weights, replicaCounts(input)) ? "one-level" : "two-level";
}

function replicaCounts(input: HaproxyConfigInput): Record<Color, number> {
  return { blue: input.servers.blue.length, green: input.servers.green.length };
}

/**
 * The servers whose state is the state of a color, as `show stat` names them (backend, server):
 * the color is up while any of them is, down when all are.
 */
export function colorStateServers(input: HaproxyConfigInput, color: Color): Array<[string, string]> {
  if (layoutOf(input) === "two-level") return [["colors", color]];
  return input.servers[color].map((server, i): [string, string] => [APP_BACKEND, serverName(color, i, server)]);
}

/** The backend of the one-level layout. */
export const APP_BACKEND = "app";

/** A one-level replica that refuses or resets a connection is out at once. */
const MARK_DOWN_ON_ERROR = "observe layer4 error-limit 1 on-error mark-down";


function summary(input: HaproxyConfigInput): string {
  const pct = weightPercentages(input.weights);
  const split =
    input.routing === "failover"
      ? `primary ${input.failoverPrimary}, backup ${COLORS.find((c) => c !== input.failoverPrimary)}`
      : COLORS.map((c) => `${c} ${input.weights[c]} (${pct[c]}%)`).join(", ");
  return `# routing ${input.routing}: ${split}`;
}

/** The connections the default distributor (its memory, its image, plain HTTP) holds. */
export const DEFAULT_MAX_CONNECTIONS = connectionsHeldBy(DEFAULTS.distributorMemoryMb, connectionCost(DEFAULTS.distributorImage, false));

/**
 * The copy of a request kept for an L7 retry: a typical browser request with its cookies (1–3 kB
 * of headers) fits; a larger one is copied into a whole buffer (tune.bufsize, 16 kB) and is still
 * retried.
 */
export const SMALL_BUFFER_BYTES = 4096;

/** Lines only releases with small buffers (3.4 on) read; earlier ones skip them (the render serves 2.6 to 3.4). */
function withSmallBuffers(lines: string[]): string[] {
  return [`.if version_atleast(${SMALL_BUFFERS_SINCE})`, ...lines, ".endif"];
}

export function globalSection(
  placement: HaproxyPlacement,
  timeouts: Timeouts,
  tls = false,
  capacity: CapacitySettings = { maxConnections: DEFAULT_MAX_CONNECTIONS },
): string {
  // No master-worker line: the image's entrypoint runs `haproxy -W` (3.3 deprecates the keyword).
  return section("global", [
    // No nbthread line: HAProxy runs a thread per CPU it may use (the container's or the instance's).
    ...(capacity.threads === undefined ? [] : [`nbthread ${capacity.threads}`]),
    `maxconn ${capacity.maxConnections}`,
    // Two descriptors per connection: under a lower file limit than that (the container's), HAProxy
    // 3.4 would refuse to start; it then holds the connections the limit allows, and says so.
    "no strict-limits",
    // The L7 retries' copy of a request (use-small-buffers in defaults) fits in this.
    ...withSmallBuffers([`tune.bufsize.small ${SMALL_BUFFER_BYTES}`]),
    "log stdout format raw local0 info",
    `stats socket ${placement.runtimeDir}/admin.sock mode 600 level admin`,
    // After a release step, the previous workers finish what they hold, for this long at most.
    `hard-stop-after ${formatDuration(timeouts.drain)}`,
    ...(tls ? tlsGlobalLines() : []),
  ]);
}

// Servers are looked up at run time through the host's resolver (Docker's, the VPC's): a
// stopped or missing replica does not fail a reload, and a restarted one is followed.
export function resolversSection(): string {
  return section("resolvers system", ["parse-resolv-conf", "hold valid 10s", "timeout resolve 1s", "timeout retry 1s"]);
}

export function defaultsSection(accessLog: boolean, timeouts: Timeouts, check: HealthCheckSettings): string {
  const duration = formatDuration;
  return section("defaults", [
    "mode http",
    accessLog ? "log global" : "no log",
    "option httplog",
    "option dontlognull",
    // On reload, idle keep-alive connections are closed after their next response instead
    // of at once, so no client sends a request on a connection the old worker is closing.
    "option idle-close-on-response",
    // A request kept for an L7 retry takes a small buffer instead of a whole one (tune.bufsize).
    ...withSmallBuffers(["option use-small-buffers l7-retries"]),
    `timeout connect ${duration(timeouts.connect)}`,
    `timeout client ${duration(timeouts.client)}`,
    `timeout server ${duration(timeouts.server)}`,
    `timeout tunnel ${duration(timeouts.tunnel)}`,
    "timeout http-request 10s",
    "timeout http-keep-alive 10s",
    "timeout queue 5s",
    `timeout check ${duration(check.timeout)}`,
    `default-server inter ${duration(check.interval)} fall 2 rise 2`,
  ]);
}

export function publicFrontend(placement: HaproxyPlacement, layout: Layout, tls?: TlsListenerInput, hostRules: string[] = []): string {
  if (tls && !placement.tls) throw new Error("publicFrontend: a config with tls needs a placement with tls");
  return section("frontend public", [
    `bind ${placement.bindAddress}:${placement.listenPort}`,
    ...(tls ? tlsFrontendLines(placement.bindAddress, tls, placement.tls!) : []),
    "option forwardfor",
    ...(layout === "two-level" ? [`http-request del-header ${COLOR_CHECK_HEADER}`] : []),
    ...hostRules,
    `default_backend ${layout === "two-level" ? "colors" : APP_BACKEND}`,
  ]);
}

/** The health check of the replicas: HTTP/1.1 with a Host, as a browser would reach the app. */
function replicaCheck(check: HealthCheckSettings): string[] {
  return [
    "option httpchk",
    `http-check send meth GET uri ${check.path} ver HTTP/1.1 hdr Host ${check.host ?? CHECK_HOST}`,
    `http-check expect status ${check.expectStatus}`,
  ];
}

/** How every replica is checked and resolved; ends each replica's server line. */
const REPLICA_CHECK = "check resolvers system init-addr last,libc,none";

function replicaServer(color: Color, index: number, server: ServerAddress, extra: string[] = []): string {
  return [`server ${serverName(color, index, server)} ${formatServer(server)}`, ...extra, REPLICA_CHECK].join(" ");
}

/**
 * The one-level backend: every replica, weighted so each color adds up to its share (or, in
 * failover, the other color as backup servers).
 */
export function appBackend(input: HaproxyConfigInput, check: HealthCheckSettings): string {
  const failover = input.routing === "failover";
  const weights = failover ? { blue: 1, green: 1 } : replicaWeights(input.weights, replicaCounts(input));
  if (!weights) throw new Error("appBackend: these weights and replica counts need the two-level layout");
  return section(`backend ${APP_BACKEND}`, [
    "balance roundrobin",
    ...replicaCheck(check),
    // A GET that meets a refused or reset connection, or a 502/503, goes to another replica
    // (redispatch picks a server other than the one that failed, of either color). A response
    // that does not come in time is not retried: the request may have had its effect. Enough
    // tries to pass every replica of a dead color: each refused connection marks its server
    // down at once (observe), so a retry never goes back to it.
    `retries ${Math.max(input.servers.blue.length, input.servers.green.length) + 1}`,
    "option redispatch 1",
    "retry-on conn-failure empty-response 502 503",
    L7_RETRY_ONLY_IDEMPOTENT,
    ...(failover ? ["option allbackups"] : []),
    ...SERVER_RATE_TRACKING,
    ...COLORS.flatMap((color) =>
      input.servers[color].map((server, i) =>
        replicaServer(color, i, server, [
          `weight ${weights[color]}`,
          ...(failover && color !== input.failoverPrimary ? ["backup"] : []),
          MARK_DOWN_ON_ERROR,
        ]),
      ),
    ),
  ]);
}

/** Weight and role of each color's server in the `colors` backend; `weightText` stands for the weight. */
function colorServerLine(input: HaproxyConfigInput, placement: HaproxyPlacement, color: Color, weightText?: string): string {
  const parts = [`server ${color} ${socketName(placement, color)}`];
  if (input.routing === "failover") {
    // Weights do not split traffic here: the primary takes all, the other only while it is down.
    parts.push("weight 1");
    if (color !== input.failoverPrimary) parts.push("backup");
  } else {
    parts.push(`weight ${weightText ?? input.weights[color]}`);
  }
  // Answered by HAProxy itself, never flaky: one check decides, and it runs often.
  parts.push("check inter 200ms fall 1 rise 1");
  if (input.routing === "sticky") parts.push(`cookie ${color}`);
  return parts.join(" ");
}

/** The two-level layout's first hop: one server per color. */
export function colorsBackend(
  input: HaproxyConfigInput,
  placement: HaproxyPlacement,
  timeouts: Timeouts,
  weightText?: Record<Color, string>,
): string {
  // The color hop waits for the replica hop: its connection retries, then one response.
  const colorServerTimeout = timeouts.server + 3 * timeouts.connect + 1000;
  return section("backend colors", [
    "balance roundrobin",
    // A color is up while any of its replicas is: its inner frontend answers this itself.
    "option httpchk",
    `http-check send meth GET uri ${COLOR_CHECK_PATH} ver HTTP/1.1 hdr Host traffic-distributor hdr ${COLOR_CHECK_HEADER} 1`,
    "http-check expect status 200",
    `timeout server ${formatDuration(colorServerTimeout)}`,
    // A color that cannot answer hands the request to the other color: no healthy replica
    // (503), or its last replica reset mid-request after the color's own retries (502).
    "retries 1",
    "option redispatch 1",
    "retry-on conn-failure empty-response 502 503",
    L7_RETRY_ONLY_IDEMPOTENT,
    ...(input.routing === "sticky" ? [`cookie ${STICKY_COOKIE} insert indirect nocache httponly`] : []),
    ...COLORS.map((color) => colorServerLine(input, placement, color, weightText?.[color])),
  ]);
}

/**
 * A color's socket, in front of `backend`: the color's replicas in the two levels, `app` in the
 * one level. It answers the color hop's checks itself (so the header never reaches a replica)
 * and does not log: the public frontend that sent the request logs it once.
 */
export function colorSocketFrontend(placement: HaproxyPlacement, color: Color, backend: string): string {
  return section(`frontend ${color}_in`, [
    `bind ${socketName(placement, color)}`,
    "no log",
    `http-request return status 200 if { req.hdr(${COLOR_CHECK_HEADER}) -m found } { nbsrv(${backend}) gt 0 }`,
    `http-request return status 503 if { req.hdr(${COLOR_CHECK_HEADER}) -m found }`,
    `default_backend ${backend}`,
  ]);
}

/**
 * The one level's color sockets, in front of `app`. Nothing of this config routes to them: after
 * a step from the two levels, the previous worker still sends its keep-alive clients' last
 * requests through its `colors` backend to these sockets, which must then still answer.
 */
export function oneLevelSockets(placement: HaproxyPlacement): string[] {
  return COLORS.map((color) => colorSocketFrontend(placement, color, APP_BACKEND));
}

/** The two-level layout's second hop for one color: its socket, then its replicas. */
export function colorHop(input: HaproxyConfigInput, placement: HaproxyPlacement, color: Color, check: HealthCheckSettings): string {
  return [
    colorSocketFrontend(placement, color, color),
    section(`backend ${color}`, [
      "balance roundrobin",
      ...replicaCheck(check),
      // A replica that refuses or resets: try another replica of the same color. A response
      // that does not come in time is not retried: the request may have had its effect.
      "retries 2",
      "option redispatch 1",
      "retry-on conn-failure empty-response",
      L7_RETRY_ONLY_IDEMPOTENT,
      ...SERVER_RATE_TRACKING,
      ...input.servers[color].map((server, i) => replicaServer(color, i, server)),
    ]),
  ].join("\n");
}

/** Users of the stats listener's `/metrics`: the stats page's own user and password. */
const STATS_USERLIST = "stats_users";

/** Path of the Prometheus exporter on the stats listener. */
export const METRICS_PATH = "/metrics";

/**
 * The stats listener: the stats page on `/stats` and HAProxy's Prometheus exporter on
 * `/metrics`, both behind user `admin` and the password when one is given.
 */
export function statsFrontend(placement: HaproxyPlacement, statsPort: number, password: string | undefined): string {
  const users = password ? section(`userlist ${STATS_USERLIST}`, [`user admin insecure-password '${password}'`]) + "\n" : "";
  return (
    users +
    section("frontend stats", [
      `bind ${placement.bindAddress}:${statsPort}`,
      "stats enable",
      "stats uri /stats",
      "stats refresh 10s",
      ...(password ? [`stats auth admin:'${password}'`] : []),
      ...(password ? [`http-request auth realm metrics if { path ${METRICS_PATH} } !{ http_auth(${STATS_USERLIST}) }`] : []),
      `http-request use-service prometheus-exporter if { path ${METRICS_PATH} }`,
    ])
  );
}

/** Each color's preview listener and backend, tracking the servers that carry its checks. */
function previews(input: HaproxyConfigInput, placement: HaproxyPlacement, layout: Layout): string[] {
  const ports = placement.previewPorts;
  if (!input.preview || !ports) return [];
  const preview = input.preview;
  return COLORS.map((color) => {
    const servers = input.servers[color].map((address, i) => {
      const name = serverName(color, i, address);
      return { name, address, tracked: `${layout === "one-level" ? APP_BACKEND : color}/${name}` };
    });
    return previewSections(color, servers, `${placement.bindAddress}:${ports[color]}`, preview);
  });
}

export function renderHaproxyConfig(
  input: HaproxyConfigInput,
  placement: HaproxyPlacement = CONTAINER_PLACEMENT,
): string {
  for (const color of COLORS) {
    if (input.servers[color].length === 0) throw new Error(`renderHaproxyConfig: ${color} has no servers`);
  }
  if (input.routing === "failover" && !input.failoverPrimary) {
    throw new Error("renderHaproxyConfig: failover routing needs failoverPrimary");
  }
  const check = input.healthCheck ?? DEFAULT_HEALTH_CHECK;
  const timeouts = input.timeouts ?? DEFAULT_TIMEOUTS;
  const layout = layoutOf(input);
  const parts = [
    "# Rendered by traffic-distributor; `pulumi up` replaces this file, do not edit it by hand.",
    summary(input),
    ...(input.tls?.certificateFingerprint ? [`# certificate sha256 ${input.tls.certificateFingerprint}`] : []),
    ...releaseHeaderOf(input),
    "",
    globalSection(placement, timeouts, input.tls !== undefined, {
      ...(input.threads === undefined ? {} : { threads: input.threads }),
      maxConnections: input.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    }),
    resolversSection(),
    defaultsSection(input.accessLog !== false, timeouts, check),
    // Before the backends that count into it.
    serverRatesTable(),
    publicFrontend(placement, layout, input.tls, input.preview ? previewHostRules(input.preview) : []),
    ...(layout === "one-level"
      ? [appBackend(input, check), ...oneLevelSockets(placement)]
      : [colorsBackend(input, placement, timeouts), ...COLORS.map((color) => colorHop(input, placement, color, check))]),
    ...(input.tls?.acmeChallenge ? [section(`backend ${ACME_BACKEND}`, acmeBackendLines(input.tls.acmeChallenge))] : []),
    ...previews(input, placement, layout),
    ...(placement.statsPort !== undefined ? [statsFrontend(placement, placement.statsPort, input.statsPassword)] : []),
    holdTemplate(input, placement, check, timeouts),
  ];
  return sealConfig(parts.join("\n"));
}

/** Each color's servers as the release header lists them, in this config's layout. */
function headerServers(input: HaproxyConfigInput, layout: Layout): Record<Color, HeaderServers> {
  const servers = {} as Record<Color, HeaderServers>;
  for (const color of COLORS) {
    servers[color] = {
      backend: layout === "two-level" ? color : APP_BACKEND,
      entries: input.servers[color].map((server, i) => ({ name: serverName(color, i, server), address: formatServer(server) })),
    };
  }
  return servers;
}

/** The split, the servers and the gate, for the delivery; see releaseGate.ts. */
function releaseHeaderOf(input: HaproxyConfigInput): string[] {
  const shares = splitShares(input.routing, input.weights, input.failoverPrimary);
  return releaseHeader(shares, input.routing, headerServers(input, layoutOf(input)), input.gate ?? DEFAULT_GATE, input.healthCheck ?? DEFAULT_HEALTH_CHECK);
}

/**
 * The routing part of the hold config, as comment lines: this config's servers in either
 * layout, for any running split. The delivery keeps every other section of this config and
 * puts these lines in place of `frontend public` and the backends behind it. It takes the one
 * level when it expresses the running split with these servers (as `layoutOf` does: round-robin
 * within 256 weight steps, or failover), so that no request of the hold's last worker needs an
 * internal socket the next config no longer has; else the two levels. Lines:
 * - `# hold:<layout> <line>`: that layout ("one" or "two");
 * - `# hold:<layout>:<variant> <line>`: only for the running routing ("failover" for the one
 *   level, "round-robin" or "sticky" for the two); `{blue}` and `{green}` stand for the
 *   running weights (digits);
 * - `# hold:<layout>:servers <color> <suffix>`: a server line per server of the color in the
 *   header (`server <name> <address> <suffix>`; the one level adds the weight and `backup`
 *   first), so the servers are not listed twice.
 */
export function holdTemplate(input: HaproxyConfigInput, placement: HaproxyPlacement, check: HealthCheckSettings, timeouts: Timeouts): string {
  const lines = (text: string) => text.replace(/\n$/, "").split("\n");
  const tag = (prefix: string) => (line: string) => (line ? `${prefix} ${line}` : prefix);
  const isServer = (line: string) => line.trimStart().startsWith("server ");
  /** A color hop whose server lines are one placeholder. */
  const hopTemplate = (color: Color) =>
    lines(colorHop(input, placement, color, check)).flatMap((line, i, all) => {
      if (!isServer(line)) return [tag(`${HOLD_PREFIX}:two`)(line)];
      return isServer(all[i - 1]) ? [] : [`${HOLD_PREFIX}:two:servers ${color} ${REPLICA_CHECK}`];
    });

  // One level: the failover form (every weight 1) less `option allbackups`, which only failover keeps.
  const app = appBackend({ ...input, routing: "failover", failoverPrimary: "blue" }, check);
  const allBackups = "    option allbackups";
  const oneLevel = [
    ...lines(publicFrontend(placement, "one-level", input.tls, input.preview ? previewHostRules(input.preview) : [])).map(tag(`${HOLD_PREFIX}:one`)),
    `${HOLD_PREFIX}:one`,
    ...lines(app)
      .filter((line) => !isServer(line))
      .map((line) => (line === allBackups ? `${HOLD_PREFIX}:one:failover ${line}` : tag(`${HOLD_PREFIX}:one`)(line))),
    ...COLORS.map((color) => `${HOLD_PREFIX}:one:servers ${color} ${MARK_DOWN_ON_ERROR} ${REPLICA_CHECK}`),
    `${HOLD_PREFIX}:one`,
    ...oneLevelSockets(placement).flatMap((frontend) => [...lines(frontend).map(tag(`${HOLD_PREFIX}:one`)), `${HOLD_PREFIX}:one`]),
  ];

  // Failover always fits the one level: the two levels need round-robin and sticky only.
  const twoLevelVariants = ["round-robin", "sticky"] as const;
  const variants = twoLevelVariants.map((routing) =>
    lines(colorsBackend({ ...input, routing }, placement, timeouts, { blue: "{blue}", green: "{green}" })),
  );
  // The lines before the color servers are the same in both but sticky's cookie.
  const common = variants[0].slice(0, -COLORS.length);
  const tagged = variants.flatMap((variant, i) => {
    if (variant.slice(0, common.length).join("\n") !== common.join("\n")) throw new Error("holdTemplate: the variants' common lines differ");
    return variant.slice(common.length).map((line) => `${HOLD_PREFIX}:two:${twoLevelVariants[i]} ${line}`);
  });
  const twoLevel = [
    ...lines(publicFrontend(placement, "two-level", input.tls, input.preview ? previewHostRules(input.preview) : [])).map(tag(`${HOLD_PREFIX}:two`)),
    `${HOLD_PREFIX}:two`,
    ...common.map(tag(`${HOLD_PREFIX}:two`)),
    ...tagged,
    `${HOLD_PREFIX}:two`,
    ...COLORS.flatMap((color) => [...hopTemplate(color), `${HOLD_PREFIX}:two`]),
  ];
  return ["# Routing of the hold config: the release gate loads these servers with the running split first.", ...oneLevel, ...twoLevel, ""].join("\n");
}

/**
 * What the distributor container starts with, before its real config is delivered: a valid
 * config that answers 503. It never depends on weights or servers, so the container's inputs
 * never change with them.
 */
export function renderBootstrapConfig(placement: HaproxyPlacement = CONTAINER_PLACEMENT): string {
  return sealConfig([
    "# Bootstrap config of a traffic-distributor container; replaced by the rendered config on deploy.",
    section("global", ["log stdout format raw local0 info"]),
    section("defaults", ["mode http", "timeout connect 2s", "timeout client 30s", "timeout server 30s"]),
    section("frontend public", [
      `bind ${placement.bindAddress}:${placement.listenPort}`,
      'http-request return status 503 content-type text/plain string "traffic distributor is starting"',
    ]),
  ].join("\n"));
}
