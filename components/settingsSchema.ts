// Every setting once: its path in the component's args, its stack config key where that differs,
// its type and default as stack config holds them ("" for unset), the target it applies to, and
// its description. The paths, the config keys and their defaults, target scoping, the code's
// defaults (DEFAULTS, TLS_DEFAULTS, the preview's) and Pulumi.yaml's `config` block
// (`npm run pulumi-yaml`, checked by a test) are all read from this table. Validation stays with
// each setting's parser; rules across settings stay hand-written.

/** HAProxy's largest server weight; 0 means "no new traffic" (drain). */
export const MAX_WEIGHT = 256;
export const MAX_REPLICAS = 20;
/** Any TCP port; listeners refuse more (components/settings.ts). */
export const PORT = [1, 65535] as const;
/** A container's memory limit, MiB. */
const MEMORY_MB = [16, 1_048_576] as const;
/** HSTS max-age in seconds: two years, the longest browsers' preload lists ask for. */
export const MAX_HSTS_SECONDS = 63_072_000;
/** HAProxy's thread count a setting may pin. */
export const MAX_THREADS = 64;
/**
 * The most connections a distributor may hold: HAProxy takes two file descriptors per
 * connection, and Docker's default hard limit for a container is 524,288 of them.
 */
export const MAX_CONNECTIONS = 250_000;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The choices of the settings that take one of a few values. */
export const COLORS = ["blue", "green"] as const;
export const TARGETS = ["docker", "aws"] as const;
export const ROUTING_MODES = ["round-robin", "sticky", "failover"] as const;
export const DNS_RECORD_TYPES = ["A", "CNAME"] as const;
export const TLS_MODES = ["off", "selfSigned", "provided", "acme"] as const;

export interface SettingSpec {
  /** Path in the component's args (`dns.*` lives under `aws.dns`). */
  readonly path: string;
  /** Stack config key, when it is not the path. */
  readonly key?: string;
  /** Type in Pulumi.yaml. */
  readonly type: "string" | "integer" | "boolean" | "array";
  /** The documented default, as stack config holds it; "" is unset. None: the key is required. */
  readonly default?: string | number | boolean | readonly string[];
  /** A whole number's bounds, inclusive. */
  readonly range?: readonly [number, number];
  /** A duration's bounds in milliseconds, inclusive (written "500ms", "30s", "5m", "1h"). */
  readonly duration?: readonly [number, number];
  /** The values allowed. */
  readonly choices?: readonly string[];
  /** The one target the setting applies to. */
  readonly scope?: "docker" | "aws";
  /** A secret: no message quotes it; required ones are secret keys in Pulumi.yaml. */
  readonly secret?: boolean;
  readonly description: string;
  /** Why the entry is declared as it is, a comment above it in Pulumi.yaml. */
  readonly note?: string;
}

export const SETTINGS_SCHEMA = [
  { path: "target", choices: TARGETS, type: "string", default: "docker", description: "Where to run: \"docker\" (the local Docker engine) or \"aws\" (EC2, Elastic IP, Route 53)." },
  { path: "weights.blue", range: [0, MAX_WEIGHT], key: "weight.blue", type: "integer", default: 50, description: "Relative share of new traffic for blue, 0-256 (0 = none). Not both weights 0." },
  { path: "weights.green", range: [0, MAX_WEIGHT], key: "weight.green", type: "integer", default: 50, description: "Relative share of new traffic for green, 0-256 (0 = none). Not both weights 0." },
  { path: "routing", choices: ROUTING_MODES, type: "string", default: "round-robin", description: "How requests are split: \"round-robin\", \"sticky\" (a cookie pins each client to its color) or \"failover\"." },
  { path: "failoverPrimary", choices: COLORS, key: "failover.primary", type: "string", default: "", description: "With routing \"failover\": \"blue\" or \"green\". Empty: the color with the higher weight." },
  { path: "blue.image", type: "string", default: "traefik/whoami:v1.10.1", description: "Image blue's containers run (ignored when blue.servers is set)." },
  { path: "blue.replicas", range: [1, MAX_REPLICAS], type: "integer", default: 2, description: "Number of blue containers, 1-20." },
  { path: "blue.port", range: PORT, type: "integer", default: 80, description: "Port the app listens on inside blue's containers." },
  { path: "blue.servers", type: "array", default: [], description: "Existing blue servers as \"host:port\" (JSON list). When set, blue is not provisioned." },
  { path: "green.image", type: "string", default: "traefik/whoami:v1.10.1", description: "Image green's containers run (ignored when green.servers is set)." },
  { path: "green.replicas", range: [1, MAX_REPLICAS], type: "integer", default: 2, description: "Number of green containers, 1-20." },
  { path: "green.port", range: PORT, type: "integer", default: 80, description: "Port the app listens on inside green's containers." },
  { path: "green.servers", type: "array", default: [], description: "Existing green servers as \"host:port\" (JSON list). When set, green is not provisioned." },
  { path: "blue.memoryMb", range: MEMORY_MB, type: "string", default: "", scope: "docker", description: "(docker) Memory limit of each blue container in MiB, 16-1048576. Empty, none." },
  { path: "green.memoryMb", range: MEMORY_MB, type: "string", default: "", scope: "docker", description: "(docker) Memory limit of each green container in MiB, 16-1048576. Empty, none." },
  { path: "healthCheck.path", type: "string", default: "/", description: "HTTP path of the active health check (HTTP/1.1) sent to every server." },
  { path: "healthCheck.host", type: "string", default: "", description: "Host header of the health checks. Empty, dns.name when it is a full name, else each server's host." },
  { path: "healthCheck.interval", duration: [100, HOUR], type: "string", default: "500ms", description: "Time between health checks, with a unit, 100ms-1h." },
  { path: "healthCheck.timeout", duration: [100, MINUTE], type: "string", default: "1s", description: "How long a health check may take, 100ms-1m. A hung server is out after two checks of interval + timeout." },
  { path: "healthCheck.expectStatus", type: "string", default: "200-399", description: "Status codes that pass a health check, codes or ranges, comma-separated (e.g. \"200\" or \"200-399\")." },
  { path: "timeouts.connect", duration: [100, MINUTE], type: "string", default: "2s", description: "Connecting to a server, 100ms-1m; a failed connection is retried on another server." },
  { path: "timeouts.client", duration: [SECOND, HOUR], type: "string", default: "30s", description: "How long a client may stay silent mid-request, 1s-1h." },
  { path: "timeouts.server", duration: [SECOND, HOUR], type: "string", default: "30s", description: "How long a server may take to start answering, 1s-1h. The client then gets a 504; the request is not retried." },
  { path: "timeouts.tunnel", duration: [SECOND, DAY], type: "string", default: "1h", description: "Idle time of a WebSocket or a long stream before it is closed, 1s-24h." },
  { path: "timeouts.drain", duration: [SECOND, DAY], type: "string", default: "5m", description: "After a release step, how long connections of the previous config may run on, 1s-24h." },
  { path: "gate.timeout", duration: [SECOND, 15 * MINUTE], type: "string", default: "2m", description: "A step that raises a color's share waits this long, 1s-15m, for that color's servers to pass the health checks; else it fails and the split stays as it was." },
  { path: "gate.minHealthy", type: "string", default: "100%", description: "How many of the receiving color's servers must be UP, a count 1-256 (at most all) or a percentage 1%-100% rounded up." },
  { path: "gate.bake", duration: [0, 30 * MINUTE], type: "string", default: "0s", description: "After such a step, how long to watch the receiving color's errors, 0s-30m; above gate.maxErrorRate the previous config is put back and the step fails. 0s, no bake." },
  { path: "gate.maxErrorRate", type: "string", default: "5", description: "During the bake, the highest share of the receiving color's requests that may fail (5xx, connection or response errors), in percent, 0-100 with at most two decimals." },
  { path: "accessLog", type: "boolean", default: true, description: "One log line per request on the distributor's output." },
  { path: "listenPort", range: PORT, type: "string", default: "", description: "Public port of the distributor (on the Docker host, or the Elastic IP on aws), not 22 or 3389. Empty, 8080 on docker, 80 on aws." },
  { path: "statsPort", range: PORT, type: "integer", default: 8404, description: "Port of the HAProxy stats page, on the distributor host's 127.0.0.1 only." },
  { path: "statsPassword", type: "string", secret: true, note: "Required, so the stats page is never open (npm run up sets a random one for the local stack). No default: a secret key with one fails validation on Pulumi CLI 3.202+ (pulumi/pulumi#21865).", description: "Password of user \"admin\" on the stats page, 8-128 printable characters without spaces or quotes: pulumi config set --secret statsPassword ..." },
  { path: "preview.enabled", type: "boolean", default: false, description: "Serve each color alone on its preview port (aws with a full dns.name, also on blue.<name> and green.<name>), whatever the weights. Turning it on or off replaces the distributor container (docker) or instance (aws)." },
  { path: "preview.bluePort", range: PORT, type: "integer", default: 8081, description: "Port of blue's preview (the Docker host, or the Elastic IP); not 22 or 3389, not listenPort, statsPort or preview.greenPort." },
  { path: "preview.greenPort", range: PORT, type: "integer", default: 8082, description: "Port of green's preview." },
  { path: "preview.allowedCidrs", type: "array", default: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "fc00::/7", "::1/128"], description: "CIDR blocks that may reach the previews (JSON list); others are refused. Default, private and loopback ranges only." },
  { path: "drain.timeout", duration: [0, DAY], type: "string", default: "", description: "Before a replica (container or instance) is removed (a new image, fewer replicas), how long to wait for the distributor's connections to it to end, 0s-24h; 0s, no wait. Empty, timeouts.drain." },
  { path: "distributorImage", key: "distributor.image", type: "string", default: "haproxy:3.4.7", description: "HAProxy image of the distributor (the tests vouch for the 3.4 LTS line; 3.2's configs are checked too)." },
  { path: "distributorMemoryMb", range: MEMORY_MB, key: "distributor.memoryMb", type: "integer", default: 256, scope: "docker", description: "(docker) Memory limit of the distributor container in MiB, 16-1048576." },
  { path: "distributorThreads", range: [1, MAX_THREADS], key: "distributor.threads", type: "string", default: "", description: "HAProxy threads of the distributor, 1-64. Empty, one per CPU the distributor has." },
  { path: "distributorMaxConnections", range: [1, MAX_CONNECTIONS], key: "distributor.maxConnections", type: "string", default: "", description: "Connections the distributor holds at once (HAProxy's maxconn), 1-250000, at most what its memory holds. Empty, what its memory holds (distributor.memoryMb on docker, the instance type's on aws)." },
  { path: "docker.network", type: "string", default: "", scope: "docker", description: "(docker) An existing Docker network to join instead of creating one, e.g. another stack's. Empty, a network of its own." },
  { path: "aws.vpcId", type: "string", default: "", scope: "aws", description: "(aws) VPC of every instance, e.g. \"vpc-0123456789abcdef0\". Empty: the default VPC. Needs aws.subnetIds." },
  { path: "aws.subnetIds", type: "array", default: [], scope: "aws", description: "(aws) Subnets the app instances are spread over (JSON list). Empty with an empty aws.vpcId, the default VPC's default subnets." },
  { path: "aws.distributorSubnetId", type: "string", default: "", scope: "aws", description: "(aws) Subnet of the distributor; it must route to an internet gateway. Empty, the first of aws.subnetIds." },
  { path: "aws.instanceType", type: "string", default: "t3.micro", scope: "aws", description: "(aws) Instance type of the app instances." },
  { path: "aws.distributorInstanceType", type: "string", default: "t3.micro", scope: "aws", description: "(aws) Instance type of the distributor." },
  { path: "aws.ami", type: "string", default: "", scope: "aws", description: "(aws) AMI of every instance (Amazon Linux 2023 or alike). Empty, the newest Amazon Linux 2023 at creation." },
  { path: "aws.ingressCidrs", type: "array", default: ["0.0.0.0/0"], scope: "aws", description: "(aws) CIDR blocks that may reach the distributor's listen port (JSON list)." },
  { path: "dns.zoneId", type: "string", default: "", scope: "aws", description: "(aws) Route 53 hosted zone ID of dns.name. Empty, no DNS records." },
  { path: "dns.name", type: "string", default: "", scope: "aws", description: "(aws) Record name pointing at the distributor, e.g. \"app.example.com\" or \"app\" (relative to the zone)." },
  { path: "dns.ttl", range: [0, DAY / SECOND], type: "integer", default: 60, scope: "aws", description: "(aws) TTL of the records in seconds, 0-86400. Lower it before a cutover." },
  { path: "dns.aliases", type: "array", default: [], scope: "aws", description: "(aws) More record names with the same value, e.g. [\"www\"] (JSON list)." },
  { path: "dns.recordType", choices: DNS_RECORD_TYPES, type: "string", default: "A", scope: "aws", description: "(aws) \"A\" (the Elastic IP) or \"CNAME\" (its public DNS name; not at a zone apex)." },
  { path: "dns.takeOver", type: "boolean", default: false, scope: "aws", description: "(aws) Overwrite records that already exist under these names (the cutover of a running app)." },
  { path: "tls.mode", choices: TLS_MODES, type: "string", default: "off", description: "HTTPS: \"off\", \"selfSigned\" (a CA and a certificate made by the tls provider; the CA is an output), \"provided\" (tls.certificate and tls.privateKey) or \"acme\" (a certificate from an ACME CA such as Let's Encrypt, issued and renewed by lego beside HAProxy: README \"HTTPS\")." },
  { path: "tls.certificate", type: "string", default: "", secret: true, note: "Secrets: set them with --secret. Not declared `secret: true`, which with a default fails on Pulumi CLI 3.202+ (pulumi/pulumi#21865).", description: "With tls.mode \"provided\": the PEM certificate chain, the server certificate first: pulumi config set --secret tls.certificate -- \"$(cat chain.pem)\"" },
  { path: "tls.privateKey", type: "string", default: "", secret: true, description: "With tls.mode \"provided\": the unencrypted PEM private key of the certificate: pulumi config set --secret tls.privateKey -- \"$(cat key.pem)\"" },
  { path: "tls.domains", type: "array", default: [], description: "Full DNS names the certificate is for (JSON list). Empty, dns.name and dns.aliases that are full names (aws), or \"localhost\" for selfSigned on docker." },
  { path: "tls.port", range: PORT, type: "string", default: "", description: "Port of the HTTPS listener (on the Docker host, or the Elastic IP). Empty, 8443 on docker, 443 on aws." },
  { path: "tls.hsts", range: [0, MAX_HSTS_SECONDS], type: "integer", default: 0, description: "Strict-Transport-Security max-age in seconds sent over HTTPS, 0-63072000. 0, no header." },
  { path: "tls.acme.email", type: "string", default: "", description: "With tls.mode \"acme\" (required then), the address lego registers the CA account with." },
  { path: "tls.acme.directory", type: "string", default: "https://acme-v02.api.letsencrypt.org/directory", description: "With tls.mode \"acme\", the ACME directory URL (staging: https://acme-staging-v02.api.letsencrypt.org/directory)." },
  { path: "tls.acme.image", type: "string", default: "", description: "(docker) With tls.mode \"acme\", required: the image of the ACME client's container, with lego, socat and a shell (README \"HTTPS\" has a Dockerfile)." },
] as const satisfies readonly SettingSpec[];

export type SettingPath = (typeof SETTINGS_SCHEMA)[number]["path"];

const BY_PATH = new Map<string, SettingSpec>(SETTINGS_SCHEMA.map((spec) => [spec.path, spec]));

/** The schema entry of a setting. */
export function settingSpec(path: SettingPath): SettingSpec {
  return BY_PATH.get(path)!;
}

/** The bounds of a whole number or duration setting. */
export function boundsOf(path: SettingPath): readonly [number, number] {
  const spec = settingSpec(path);
  const bounds = spec.range ?? spec.duration;
  if (!bounds) throw new Error(`settingsSchema: ${path} has no bounds`);
  return bounds;
}

/** A setting's documented default, typed by the caller. */
export function schemaDefault<T extends string | number | boolean | readonly string[]>(path: SettingPath): T {
  const value = settingSpec(path).default;
  if (value === undefined || value === "") throw new Error(`settingsSchema: ${path} has no default`);
  return value as T;
}
