// Preview per color: each color served alone on its own port, whatever the weights (weight 0
// included), to the allowed sources only. Pure: the settings, their checks and the HAProxy
// sections, tested without mocks.
import { schemaDefault } from "./settingsSchema";
import { L7_RETRY_ONLY_IDEMPOTENT, section } from "./haproxySection";
import { Color, COLORS, formatServer, parseBoolean, parseCidr, parseList, parsePort, REFUSED_LISTEN_PORTS, ServerAddress, SettingsError, checkUnique } from "./settings";

/** Private and loopback ranges only: a preview is for the team, not the internet. */
export const DEFAULT_PREVIEW_CIDRS: readonly string[] = schemaDefault<readonly string[]>("preview.allowedCidrs");

/**
 * The gateway of Docker's default bridge, where the aws distributor's container runs: Docker's
 * userland proxy connects from it on behalf of IPv6 clients (a dual-stack subnet) and of
 * connections from the instance to its own public address. No client in a VPC has it (AWS
 * reserves a subnet's first address).
 */
export const AWS_PROXIED_SOURCE = "172.17.0.1";

/** Host ports of the preview listeners, beside the default listen (8080) and stats (8404) ports. */
export const DEFAULT_PREVIEW_PORTS: Readonly<Record<Color, number>> = { blue: schemaDefault<number>("preview.bluePort"), green: schemaDefault<number>("preview.greenPort") };

/** Present when `preview.enabled` is true. */
export interface PreviewSettings {
  /** Published port of each color's preview listener. */
  readonly ports: Readonly<Record<Color, number>>;
  /** Sources allowed to reach a preview; everyone else's connection is refused. */
  readonly allowedCidrs: readonly string[];
}

export interface PreviewArgs {
  /** Serve each color alone on its own port, whatever the weights. @default false */
  readonly enabled?: boolean;
  /** Port of blue's preview (docker: on the host; aws: on the Elastic IP). @default 8081 */
  readonly bluePort?: number;
  /** Port of green's preview. @default 8082 */
  readonly greenPort?: number;
  /** Who may reach the previews. @default private and loopback ranges: 10/8, 172.16/12, 192.168/16, 127/8, fc00::/7, ::1/128 */
  readonly allowedCidrs?: readonly string[];
}

export interface PreviewLabels {
  readonly enabled: string;
  readonly bluePort: string;
  readonly greenPort: string;
  readonly allowedCidrs: string;
  readonly listenPort: string;
  readonly statsPort: string;
  readonly tlsPort: string;
}

/** More blocks than anyone lists by hand; HAProxy reads them over several `acl` lines. */
export const MAX_PREVIEW_CIDRS = 256;

/**
 * Checks the preview settings; every value is parsed even when disabled, the ports' clashes
 * only when enabled (a disabled preview holds no port). Undefined when disabled.
 */
export function validatePreview(
  args: PreviewArgs | undefined,
  labels: PreviewLabels,
  taken: { listenPort: number; statsPort: number; tlsPort?: number },
): PreviewSettings | undefined {
  const enabled = parseBoolean(labels.enabled, args?.enabled ?? false);
  const ports = {
    blue: parsePort(labels.bluePort, args?.bluePort ?? DEFAULT_PREVIEW_PORTS.blue),
    green: parsePort(labels.greenPort, args?.greenPort ?? DEFAULT_PREVIEW_PORTS.green),
  };
  const allowedCidrs = parseList(labels.allowedCidrs, args?.allowedCidrs ?? DEFAULT_PREVIEW_CIDRS, 'CIDR blocks, e.g. ["10.0.0.0/8"]', parseCidr);
  if (allowedCidrs.length > MAX_PREVIEW_CIDRS) {
    throw new SettingsError(`${labels.allowedCidrs} lists ${allowedCidrs.length} blocks: at most ${MAX_PREVIEW_CIDRS}; list wider blocks`);
  }
  if (allowedCidrs.length === 0) throw new SettingsError(`${labels.allowedCidrs} is empty: list who may reach the previews, e.g. ["10.0.0.0/8"]`);
  checkUnique(labels.allowedCidrs, allowedCidrs);
  if (!enabled) return undefined;
  const others: Array<[number, string]> = [
    [taken.listenPort, labels.listenPort],
    [taken.statsPort, labels.statsPort],
    ...(taken.tlsPort === undefined ? [] : [[taken.tlsPort, labels.tlsPort] as [number, string]]),
  ];
  for (const color of COLORS) {
    const label = color === "blue" ? labels.bluePort : labels.greenPort;
    if (REFUSED_LISTEN_PORTS.includes(ports[color])) {
      throw new SettingsError(`${label} is ${ports[color]}: that is the port of ${ports[color] === 22 ? "SSH" : "RDP"}; choose another, e.g. ${DEFAULT_PREVIEW_PORTS[color]}`);
    }
    const clash = others.find(([port]) => port === ports[color]);
    if (clash) throw new SettingsError(`${label} and ${clash[1]} are both ${ports[color]}: they must differ`);
  }
  if (ports.blue === ports.green) throw new SettingsError(`${labels.bluePort} and ${labels.greenPort} are both ${ports.blue}: they must differ`);
  return { ports, allowedCidrs };
}

/** Where the previews listen inside the distributor, and the public host names that reach them (aws with dns). */
export interface PreviewRender {
  readonly allowedCidrs: readonly string[];
  /**
   * Addresses that stand for clients HAProxy cannot see: Docker's userland proxy connects on
   * behalf of IPv6 and hairpin clients from its bridge's gateway, an address inside the private
   * ranges. Refused even when an allowed block holds them.
   */
  readonly proxiedSources?: readonly string[];
  /** Each color's preview Host, matched on the public listener (aws with `dns`). */
  readonly hosts?: Readonly<Record<Color, string>>;
}

/** Name of a color's preview listener (a frontend). */
export function previewProxy(color: Color): string {
  return `preview_${color}`;
}

/** Name of a color's preview backend: not its frontend's, which HAProxy 3.3 and later refuse. */
export function previewBackend(color: Color): string {
  return `${previewProxy(color)}_replicas`;
}

const ALLOWED_ACL = "preview_allowed";
const PROXIED_ACL = "preview_proxied";

/** Addresses on one `acl` line: HAProxy reads at most 64 words a line, and lines with one name add up. */
const ADDRESSES_PER_ACL_LINE = 32;

/** The ACL lines of who may reach a preview, and the terms (ORed) that refuse everyone else. */
function sourceRules(preview: PreviewRender): { acls: string[]; refused: string[] } {
  const acls: string[] = [];
  for (let i = 0; i < preview.allowedCidrs.length; i += ADDRESSES_PER_ACL_LINE) {
    acls.push(`acl ${ALLOWED_ACL} src ${preview.allowedCidrs.slice(i, i + ADDRESSES_PER_ACL_LINE).join(" ")}`);
  }
  const proxied = preview.proxiedSources ?? [];
  if (proxied.length > 0) acls.push(`acl ${PROXIED_ACL} src ${proxied.join(" ")}`);
  return { acls, refused: proxied.length > 0 ? [`!${ALLOWED_ACL}`, PROXIED_ACL] : [`!${ALLOWED_ACL}`] };
}

/**
 * A color's preview: a listener that admits the allowed sources only, and a backend of the
 * color's replicas whose servers `track` the main ones: the health checks run once, and a
 * replica down there is down here, at any weight (0 included).
 */
export function previewSections(
  color: Color,
  servers: ReadonlyArray<{ name: string; address: ServerAddress; tracked: string }>,
  bind: string,
  preview: PreviewRender,
): string {
  const proxy = previewProxy(color);
  const sources = sourceRules(preview);
  const frontend = [
    `bind ${bind}`,
    ...sources.acls,
    sources.refused.length === 1 ? `tcp-request connection reject unless ${ALLOWED_ACL}` : `tcp-request connection reject if ${sources.refused.join(" || ")}`,
    "option forwardfor",
    `default_backend ${previewBackend(color)}`,
  ];
  const backend = [
    "balance roundrobin",
    // A replica that refuses: another replica of the same color, never the other color.
    "retries 2",
    "option redispatch 1",
    "retry-on conn-failure empty-response",
    L7_RETRY_ONLY_IDEMPOTENT,
    ...servers.map((s) => `server ${s.name} ${formatServer(s.address)} track ${s.tracked} resolvers system init-addr last,libc,none`),
  ];
  return `${section(`frontend ${proxy}`, frontend)}\n${section(`backend ${previewBackend(color)}`, backend)}`;
}

/** On the public listener (aws with dns): a preview host name goes to its color, from allowed sources only. */
export function previewHostRules(preview: PreviewRender): string[] {
  if (!preview.hosts) return [];
  const sources = sourceRules(preview);
  const rules = [...sources.acls];
  for (const color of COLORS) {
    const acl = `${previewProxy(color)}_host`;
    rules.push(`acl ${acl} hdr(host),field(1,:) -i ${preview.hosts[color]}`);
    // "||" binds looser than the implicit AND: each alternative names the host.
    rules.push(`http-request deny deny_status 403 if ${sources.refused.map((term) => `${acl} ${term}`).join(" || ")}`);
    rules.push(`use_backend ${previewBackend(color)} if ${acl}`);
  }
  return rules;
}
