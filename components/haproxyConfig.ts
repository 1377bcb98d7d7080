// Renders the HAProxy configuration of a distributor. Pure: the component, `npm run render`
// and the traffic tests all call this one function.
//
// Two levels, so that the split is by *color* whatever the replica counts:
//   frontend public -> backend colors (one server per color, weighted, sticky cookie, backup)
//                   -> frontend <color>_in (UNIX socket) -> backend <color> (its replicas)
// A weight applies to a whole color, stickiness pins a client to a color (not a container),
// and a color whose replicas are all down fails its health check as one server.
import { sealConfig } from "./configSeal";
import { Color, COLORS, RoutingMode, ServerAddress, Weights, weightPercentages } from "./settings";

export interface HaproxyConfigInput {
  readonly weights: Weights;
  readonly routing: RoutingMode;
  /** Required for `failover`. */
  readonly failoverPrimary?: Color;
  readonly servers: Readonly<Record<Color, readonly ServerAddress[]>>;
  readonly healthCheckPath: string;
  /** When set, the stats page asks for user `admin` with this password. */
  readonly statsPassword?: string;
}

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
};

/** Path of the config inside the official image; its entrypoint runs `haproxy -W -db -f` on it. */
export const CONTAINER_CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg";

/** Cookie that pins a client to its color with `routing: sticky`. */
export const STICKY_COOKIE = "td_color";

const TIMEOUTS = {
  connect: "2s",
  client: "30s",
  // Per attempt on one replica; a hung replica costs this long before the request moves on.
  server: "10s",
  // The color hop waits for the replica hop to finish all of its attempts.
  colorServer: "40s",
  httpRequest: "10s",
  httpKeepAlive: "10s",
  queue: "5s",
};

function indent(lines: string[]): string {
  return lines.map((line) => `    ${line}`).join("\n");
}

function section(header: string, lines: string[]): string {
  return `${header}\n${indent(lines)}\n`;
}

function address(server: ServerAddress): string {
  return server.host.includes(":") ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

// Not abstract (abns@) sockets: HAProxy cannot pause those, so at every reload the old worker
// stops at once, and when the new config then fails to load (a port in use) nothing serves.
function socketName(placement: HaproxyPlacement, color: Color): string {
  return `unix@${placement.runtimeDir}/${placement.instance}-${color}.sock`;
}

/** Weight and role of each color's server in the `colors` backend. */
function colorServerLine(input: HaproxyConfigInput, placement: HaproxyPlacement, color: Color): string {
  const parts = [`server ${color} ${socketName(placement, color)}`];
  if (input.routing === "failover") {
    // Weights do not split traffic here: the primary takes all, the other only while it is down.
    parts.push("weight 1");
    if (color !== input.failoverPrimary) parts.push("backup");
  } else {
    parts.push(`weight ${input.weights[color]}`);
  }
  parts.push("check");
  if (input.routing === "sticky") parts.push(`cookie ${color}`);
  return parts.join(" ");
}

function summary(input: HaproxyConfigInput): string {
  const pct = weightPercentages(input.weights);
  const split =
    input.routing === "failover"
      ? `primary ${input.failoverPrimary}, backup ${COLORS.find((c) => c !== input.failoverPrimary)}`
      : COLORS.map((c) => `${c} ${input.weights[c]} (${pct[c]}%)`).join(", ");
  return `# routing ${input.routing}: ${split}`;
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
  const healthCheck = `option httpchk GET ${input.healthCheckPath}`;
  const l7RetryOnlyIdempotent = "http-request disable-l7-retry unless METH_GET || METH_HEAD";

  const parts = [
    "# Rendered by traffic-distributor; `pulumi up` replaces this file, do not edit it by hand.",
    summary(input),
    "",
    section("global", [
      "master-worker",
      "maxconn 4096",
      "log stdout format raw local0 info",
      `stats socket ${placement.runtimeDir}/admin.sock mode 600 level admin`,
      // Old workers finish in-flight requests after a reload, but not forever.
      "hard-stop-after 60s",
    ]),
    section("defaults", [
      "mode http",
      "log global",
      "option httplog",
      "option dontlognull",
      // On reload, idle keep-alive connections are closed after their next response instead
      // of at once, so no client sends a request on a connection the old worker is closing.
      "option idle-close-on-response",
      `timeout connect ${TIMEOUTS.connect}`,
      `timeout client ${TIMEOUTS.client}`,
      `timeout server ${TIMEOUTS.server}`,
      `timeout http-request ${TIMEOUTS.httpRequest}`,
      `timeout http-keep-alive ${TIMEOUTS.httpKeepAlive}`,
      `timeout queue ${TIMEOUTS.queue}`,
      "default-server inter 500ms fall 2 rise 2",
    ]),
    section("frontend public", [
      `bind ${placement.bindAddress}:${placement.listenPort}`,
      "option forwardfor",
      "default_backend colors",
    ]),
    section("backend colors", [
      "balance roundrobin",
      healthCheck,
      `timeout server ${TIMEOUTS.colorServer}`,
      // A color that cannot answer hands the request to the other color: no healthy replica
      // (503), or its last replica reset mid-request after the color's own retries (502).
      "retries 1",
      "option redispatch 1",
      "retry-on conn-failure empty-response 502 503",
      l7RetryOnlyIdempotent,
      ...(input.routing === "sticky" ? [`cookie ${STICKY_COOKIE} insert indirect nocache httponly`] : []),
      ...COLORS.map((color) => colorServerLine(input, placement, color)),
    ]),
  ];

  for (const color of COLORS) {
    parts.push(
      section(`frontend ${color}_in`, [`bind ${socketName(placement, color)}`, `default_backend ${color}`]),
      section(`backend ${color}`, [
        "balance roundrobin",
        healthCheck,
        // A replica that refuses, resets or hangs: try another replica of the same color.
        "retries 2",
        "option redispatch 1",
        "retry-on conn-failure empty-response response-timeout",
        l7RetryOnlyIdempotent,
        ...input.servers[color].map((server, i) => `server ${color}-${i} ${address(server)} check`),
      ]),
    );
  }

  if (placement.statsPort !== undefined) {
    parts.push(
      section("frontend stats", [
        `bind ${placement.bindAddress}:${placement.statsPort}`,
        "stats enable",
        "stats uri /stats",
        "stats refresh 10s",
        ...(input.statsPassword ? [`stats auth admin:'${input.statsPassword}'`] : []),
      ]),
    );
  }
  return sealConfig(parts.join("\n"));
}

/**
 * What the distributor container starts with, before its real config is delivered: a valid
 * config that answers 503. It never depends on weights or servers, so the container's inputs
 * never change with them.
 */
export function renderBootstrapConfig(placement: HaproxyPlacement = CONTAINER_PLACEMENT): string {
  return sealConfig([
    "# Bootstrap config of a traffic-distributor container; replaced by the rendered config on deploy.",
    section("global", ["master-worker", "log stdout format raw local0 info"]),
    section("defaults", ["mode http", "timeout connect 2s", "timeout client 30s", "timeout server 30s"]),
    section("frontend public", [
      `bind ${placement.bindAddress}:${placement.listenPort}`,
      'http-request return status 503 content-type text/plain string "traffic distributor is starting"',
    ]),
  ].join("\n"));
}
