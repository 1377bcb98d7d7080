// Every setting once: its path, which is both its stack config key and its place in the
// component's args (the aws-only `dns.*` sit under `aws.dns` there), its type and default as stack config holds them ("" for unset), the target it applies to, and
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
  /** The stack config key, and the path in the component's args (where `dns.*` lives under `aws.dns`). */
  readonly path: string;
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
  /** What the value may be, in the docs, where range, duration and choices do not say it. */
  readonly allowed?: string;
  /** Said after the derived allowed values, e.g. ", not 22 or 3389". */
  readonly allowedNote?: string;
  /** The default as the docs say it, where the value itself does not (e.g. "one per CPU"). */
  readonly defaultText?: string;
  /** The one target the setting applies to. */
  readonly scope?: "docker" | "aws";
  /** A secret: no message quotes it; required ones are secret keys in Pulumi.yaml. */
  readonly secret?: boolean;
  /** What the setting does (Markdown: the docs show it as is, Pulumi.yaml without links). */
  readonly description: string;
  /** Why the entry is declared as it is, a comment above it in Pulumi.yaml. */
  readonly note?: string;
}

export const SETTINGS_SCHEMA = [
  { path: "target", choices: TARGETS, type: "string", default: "docker", description: "Where to run." },
  { path: "weight.blue", range: [0, MAX_WEIGHT], type: "integer", default: 50, description: "Relative share of new traffic. 0 = none (drain). Not both 0." },
  { path: "weight.green", range: [0, MAX_WEIGHT], type: "integer", default: 50, description: "Relative share of new traffic. 0 = none (drain). Not both 0." },
  { path: "routing", choices: ROUTING_MODES, type: "string", default: "round-robin", description: "See [Routing](how-it-works.md#routing)." },
  { path: "failover.primary", choices: COLORS, type: "string", default: "", defaultText: "the higher weight", description: "With `failover`: the color that serves while healthy." },
  { path: "blue.image", type: "string", default: "traefik/whoami:v1.10.1", allowed: "image reference", description: "The app image of a provisioned color." },
  { path: "green.image", type: "string", default: "traefik/whoami:v1.10.1", allowed: "image reference", description: "The app image of a provisioned color." },
  { path: "blue.replicas", range: [1, MAX_REPLICAS], type: "integer", default: 2, description: "Containers per color." },
  { path: "green.replicas", range: [1, MAX_REPLICAS], type: "integer", default: 2, description: "Containers per color." },
  { path: "blue.port", range: PORT, type: "integer", default: 80, description: "Port the app listens on in its containers." },
  { path: "green.port", range: PORT, type: "integer", default: 80, description: "Port the app listens on in its containers." },
  { path: "blue.servers", type: "array", default: [], allowed: "JSON list of `host:port`", defaultText: "none", description: "Existing servers; the color is then not provisioned. `pulumi config set blue.servers '[\"10.0.0.5:8080\"]'`. Each server once, in one color; an empty list is an error (remove the key to provision the color)." },
  { path: "green.servers", type: "array", default: [], allowed: "JSON list of `host:port`", defaultText: "none", description: "Existing servers; the color is then not provisioned. `pulumi config set blue.servers '[\"10.0.0.5:8080\"]'`. Each server once, in one color; an empty list is an error (remove the key to provision the color)." },
  { path: "blue.memoryMb", range: MEMORY_MB, type: "string", default: "", scope: "docker", description: "Memory limit of each container of the color, in MiB." },
  { path: "green.memoryMb", range: MEMORY_MB, type: "string", default: "", scope: "docker", description: "Memory limit of each container of the color, in MiB." },
  { path: "healthCheck.path", type: "string", default: "/", allowed: "HTTP path", description: "Path of the active health check, `GET` over HTTP/1.1." },
  { path: "healthCheck.host", type: "string", default: "", allowed: "DNS name", defaultText: "`dns.name` when it is a full name, else each server's `host[:port]`", description: "Host header of the checks, for apps that route or authorize by Host." },
  { path: "healthCheck.interval", duration: [100, HOUR], type: "string", default: "500ms", description: "Time between checks of each server." },
  { path: "healthCheck.timeout", duration: [100, MINUTE], type: "string", default: "1s", description: "How long a check may take. Two failed checks take a server out, two passed bring it back: a dead server is out in < 1 s, a hung one after about 2 × (interval + timeout). With a fast health endpoint, `500ms` takes a hung server out within 2 s." },
  { path: "healthCheck.expectStatus", type: "string", default: "200-399", allowed: "codes or ranges", description: "Status codes that pass, comma-separated, e.g. `200` or `200,204`." },
  { path: "timeouts.connect", duration: [100, MINUTE], type: "string", default: "2s", description: "Connecting to a server; a failed connection is retried on another server." },
  { path: "timeouts.client", duration: [SECOND, HOUR], type: "string", default: "30s", description: "How long a client may stay silent mid-request." },
  { path: "timeouts.server", duration: [SECOND, HOUR], type: "string", default: "30s", description: "How long a server may take to start answering. The client then gets a 504; the request is **not** retried (it may have had its effect)." },
  { path: "timeouts.tunnel", duration: [SECOND, DAY], type: "string", default: "1h", description: "Idle time of a WebSocket or another upgraded connection before it is closed." },
  { path: "timeouts.drain", duration: [SECOND, DAY], type: "string", default: "5m", description: "After a release step, how long connections served by the previous config (downloads, WebSockets) may go on before they are closed." },
  { path: "gate.timeout", duration: [SECOND, 15 * MINUTE], type: "string", default: "2m", description: "A step that raises a color's share waits this long for that color's servers to pass their health checks; else it fails and the split stays as it was. See [The health gate and the bake](how-it-works.md#the-health-gate-and-the-bake)." },
  { path: "gate.minHealthy", type: "string", default: "100%", allowed: "count 1–256, or percentage 1%–100%", defaultText: "`100%` (all)", description: "How many of the receiving color's servers must be UP. A count above the color's servers means all; a percentage is rounded up." },
  { path: "gate.bake", duration: [0, 30 * MINUTE], type: "string", default: "0s", defaultText: "`0s` (off)", description: "After the shift, how long to watch the receiving color's errors through the runtime API." },
  { path: "gate.maxErrorRate", type: "string", default: "5", allowed: "percent 0–100, two decimals", description: "During the bake, the highest share of the receiving color's requests that may fail (5xx, failed connections, failed responses) before the previous config is put back." },
  { path: "accessLog", type: "boolean", default: true, description: "One log line per request on the distributor's output." },
  { path: "listenPort", range: PORT, type: "string", default: "", allowedNote: ", not 22 or 3389", defaultText: "`8080` on docker, `80` on aws", description: "Public port on the Docker host, or on the Elastic IP (aws)." },
  { path: "statsPort", range: PORT, type: "integer", default: 8404, description: "HAProxy stats page, on the distributor host's `127.0.0.1` only." },
  { path: "statsPassword", type: "string", secret: true, note: "Required, so the stats page is never open (npm run up sets a random one for the local stack). No default: a secret key with one fails validation on Pulumi CLI 3.202+ (pulumi/pulumi#21865).", allowed: "secret string, 8–128 printable characters, no spaces or `'`", defaultText: "**required**", description: "Password of user `admin` on the stats page: `pulumi config set --secret statsPassword …` (`npm run up` sets a random one for the local stack). Never shown in an error." },
  { path: "preview.enabled", type: "boolean", default: false, description: "Serve each color alone on its preview port, whatever the weights (0 included); see [Preview per color](operations.md#preview-per-color). Turning it on or off replaces the distributor container (docker) or instance (aws)." },
  { path: "preview.bluePort", range: PORT, type: "integer", default: 8081, allowedNote: ", not 22 or 3389, not `listenPort`, `statsPort` or each other", description: "Ports of the previews on the Docker host or the Elastic IP." },
  { path: "preview.greenPort", range: PORT, type: "integer", default: 8082, allowedNote: ", not 22 or 3389, not `listenPort`, `statsPort` or each other", description: "Ports of the previews on the Docker host or the Elastic IP." },
  { path: "preview.allowedCidrs", type: "array", default: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "fc00::/7", "::1/128"], allowed: "JSON list of CIDRs", description: "Who may reach the previews; any other source's connection is refused (aws: also the security group)." },
  { path: "drain.timeout", duration: [0, DAY], type: "string", default: "", defaultText: "`timeouts.drain`", description: "Before a replica (container or instance) is removed (a new image, fewer replicas), how long to wait for the distributor's connections to it to end; `0s`, no wait. See [Drain before removal](how-it-works.md#drain-before-removal)." },
  { path: "distributor.image", type: "string", default: "haproxy:3.4.7", allowed: "image reference", description: "The distributor's HAProxy." },
  { path: "distributor.memoryMb", range: MEMORY_MB, type: "integer", default: 256, scope: "docker", description: "Memory limit of the distributor container, in MiB; the connections are sized from it." },
  { path: "distributor.threads", range: [1, MAX_THREADS], type: "string", default: "", defaultText: "one per CPU", description: "HAProxy threads of the distributor. Unset, HAProxy runs one per CPU it may use (the container's, the instance's). See [Capacity](#capacity)." },
  { path: "distributor.maxConnections", range: [1, MAX_CONNECTIONS], type: "string", default: "", defaultText: "what the memory holds", description: "Connections the distributor holds at once (HAProxy's `maxconn`), at most what its memory holds; a larger value is refused with the figures. See [Capacity](#capacity)." },
  { path: "docker.network", type: "string", default: "", scope: "docker", allowed: "Docker network name", defaultText: "a network of its own", description: "Join an existing network instead, e.g. another stack's, to reach its containers by name." },
  { path: "aws.vpcId", type: "string", default: "", scope: "aws", allowed: "`vpc-…`", defaultText: "the default VPC", description: "VPC of every instance. Needs `aws.subnetIds`." },
  { path: "aws.subnetIds", type: "array", default: [], scope: "aws", allowed: "JSON list of `subnet-…`", defaultText: "the default VPC's default subnets", description: "Subnets the app instances are spread over, in order. They need a route out (NAT gateway, or public IPs) to pull images and reach SSM." },
  { path: "aws.distributorSubnetId", type: "string", default: "", scope: "aws", allowed: "`subnet-…`", defaultText: "the first of `aws.subnetIds`", description: "Subnet of the distributor; it must route to an internet gateway." },
  { path: "aws.instanceType", type: "string", default: "t3.micro", scope: "aws", allowed: "EC2 instance type", description: "Graviton types (`t4g`, `m7g`, …) get the arm64 AMI." },
  { path: "aws.distributorInstanceType", type: "string", default: "t3.micro", scope: "aws", allowed: "EC2 instance type", description: "Graviton types (`t4g`, `m7g`, …) get the arm64 AMI." },
  { path: "aws.ami", type: "string", default: "", scope: "aws", allowed: "`ami-…`", defaultText: "newest Amazon Linux 2023", description: "AMI of every instance (cloud-init, dnf, the SSM agent and the AWS CLI, as Amazon Linux 2023 has). Unset, the newest AL2023 is looked up when an instance is created, and instances keep it (a newer release does not replace them). Setting it replaces every instance." },
  { path: "aws.ingressCidrs", type: "array", default: ["0.0.0.0/0"], scope: "aws", allowed: "JSON list of CIDRs", description: "Who may reach the listen port (IPv4 and IPv6 blocks)." },
  { path: "dns.zoneId", type: "string", default: "", scope: "aws", allowed: "zone ID, DNS name", description: "Route 53 record for the distributor; both or neither. A relative name (`app`) gets the zone's domain appended." },
  { path: "dns.name", type: "string", default: "", scope: "aws", allowed: "zone ID, DNS name", description: "Route 53 record for the distributor; both or neither. A relative name (`app`) gets the zone's domain appended." },
  { path: "dns.ttl", range: [0, DAY / SECOND], type: "integer", default: 60, scope: "aws", description: "TTL of the records." },
  { path: "dns.aliases", type: "array", default: [], scope: "aws", allowed: "JSON list of names", description: "More names with the same record, e.g. `[\"www\"]`." },
  { path: "dns.recordType", choices: DNS_RECORD_TYPES, type: "string", default: "A", scope: "aws", description: "`A` to the Elastic IP, or `CNAME` to its public DNS name (never at a zone apex)." },
  { path: "dns.takeOver", type: "boolean", default: false, scope: "aws", description: "Overwrite records that already exist (the cutover of a running app). Without it, an existing record fails the update and nothing changes." },
  { path: "tls.mode", choices: TLS_MODES, type: "string", default: "off", description: "HTTPS (see [HTTPS](https.md)); `acme` needs public names and plain HTTP on port 80 (docker: `tls.acme.image` too; aws: `listenPort` 80)." },
  { path: "tls.certificate", type: "string", default: "", secret: true, note: "Secrets: set them with --secret. Not declared `secret: true`, which with a default fails on Pulumi CLI 3.202+ (pulumi/pulumi#21865).", allowed: "secret PEM", description: "With `provided`: the chain (server certificate first) and its unencrypted key. Checked (parse, match, validity, order) before anything changes; never shown in an error." },
  { path: "tls.privateKey", type: "string", default: "", secret: true, allowed: "secret PEM", description: "With `provided`: the chain (server certificate first) and its unencrypted key. Checked (parse, match, validity, order) before anything changes; never shown in an error." },
  { path: "tls.domains", type: "array", default: [], allowed: "JSON list of full DNS names", defaultText: "`[\"localhost\"]` (selfSigned on docker); `dns.name` and full `dns.aliases` (aws)", description: "Names of the certificate; required for `acme` (no `localhost`, no wildcard, no address)." },
  { path: "tls.port", range: PORT, type: "string", default: "", allowedNote: ", not 22 or 3389, not `listenPort` or `statsPort`", defaultText: "`8443` on docker, `443` on aws", description: "Port of the HTTPS listener, published on all interfaces (on aws, open to `aws.ingressCidrs`)." },
  { path: "tls.hsts", range: [0, MAX_HSTS_SECONDS], type: "integer", default: 0, allowedNote: " (seconds)", description: "`Strict-Transport-Security` max-age over HTTPS; 0 sends none." },
  { path: "tls.acme.email", type: "string", default: "", allowed: "email address", defaultText: "none (required with `acme`)", description: "The address lego registers the CA account with." },
  { path: "tls.acme.directory", type: "string", default: "https://acme-v02.api.letsencrypt.org/directory", allowed: "https URL", defaultText: "Let's Encrypt production", description: "With `acme`: the ACME directory (staging: `https://acme-staging-v02.api.letsencrypt.org/directory`)." },
  { path: "tls.acme.image", type: "string", default: "", allowed: "image reference", defaultText: "none (required with `acme` on docker)", description: "With `acme`: the ACME client's image, with `lego`, `socat` and a shell (see [HTTPS](https.md), which has a Dockerfile)." },
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
