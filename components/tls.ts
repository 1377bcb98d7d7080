// HTTPS settings of a distributor: the modes, their defaults and the checks, including the
// certificate and key a user provides (parsed with node's crypto, never echoed in an error).
import { schemaDefault, SettingPath, TLS_MODES } from "./settingsSchema";
import { createPrivateKey, KeyObject, X509Certificate } from "crypto";
import type * as pulumi from "@pulumi/pulumi";
import {
  checkUnique,
  describe,
  isValidHost,
  parseChoice,
  parseDnsName,
  parseIntegerSetting,
  parseList,
  parseImage,
  parsePort,
  REFUSED_LISTEN_PORTS,
  SettingsError,
  Target,
} from "./settings";

export { TLS_MODES } from "./settingsSchema";
/**
 * - `off`: plain HTTP only.
 * - `selfSigned`: a CA and a certificate made by the `@pulumi/tls` provider; the CA is an output.
 * - `provided`: the user's certificate chain and private key (secrets).
 * - `acme`: an ACME client beside HAProxy issues and renews the certificate (HTTP-01).
 */
export type TlsMode = (typeof TLS_MODES)[number];

/** The default ACME directory (the schema's): Let's Encrypt production. */
export const LETS_ENCRYPT_DIRECTORY = schemaDefault<string>("tls.acme.directory");
export const LETS_ENCRYPT_STAGING_DIRECTORY = "https://acme-staging-v02.api.letsencrypt.org/directory";

/**
 * Where the ACME client answers HTTP-01 challenges: loopback of the distributor host (on docker,
 * the distributor container's network namespace, which the client's container joins).
 */
export const ACME_CHALLENGE_SERVER = { host: "127.0.0.1", port: 8402 } as const;

/**
 * On aws, where HAProxy's container sends HTTP-01 challenges: lego listens on the host, at the
 * address of Docker's bridge, which the container reaches as host.docker.internal
 * (`--add-host ...:host-gateway`).
 */
export const ACME_CHALLENGE_SERVER_ON_HOST = { host: "host.docker.internal", port: ACME_CHALLENGE_SERVER.port } as const;

/** Names one certificate may hold: Let's Encrypt issues for at most 100. */
export const MAX_CERTIFICATE_NAMES = 100;

export { MAX_HSTS_SECONDS } from "./settingsSchema";

export const TLS_DEFAULTS = {
  mode: schemaDefault<TlsMode>("tls.mode"),
  /** Per target: an unprivileged port on a developer's machine, HTTPS's port on a public IP. */
  port: { docker: 8443, aws: 443 } as Record<Target, number>,
  /** 0: no Strict-Transport-Security header. */
  hsts: schemaDefault<number>("tls.hsts"),
  acmeDirectory: LETS_ENCRYPT_DIRECTORY,
  /** The name of a self-signed certificate on docker, where there is no DNS name. */
  selfSignedDomains: ["localhost"] as readonly string[],
};

/** The `tls` argument of the component. */
export interface TlsArgs {
  /** `off`, `selfSigned`, `provided` or `acme`. @default "off" */
  readonly mode?: TlsMode;
  /** With `provided`: the PEM certificate chain, the server's certificate first (keep it a secret). */
  readonly certificate?: pulumi.Input<string>;
  /** With `provided`: the PEM private key of the certificate, unencrypted (keep it a secret). */
  readonly privateKey?: pulumi.Input<string>;
  /** Names the certificate is for. @default dns.name and dns.aliases (aws); "localhost" for selfSigned on docker */
  readonly domains?: readonly string[];
  /** Port of the HTTPS listener. @default 8443 on docker, 443 on aws */
  readonly port?: number;
  /** Strict-Transport-Security max-age in seconds, 0–63072000; 0 sends no header. @default 0 */
  readonly hsts?: number;
  /** With `acme`. */
  readonly acme?: AcmeArgs;
}

export interface AcmeArgs {
  /** Contact address for expiry notices from the CA. @default none */
  readonly email?: string;
  /** ACME directory URL. @default Let's Encrypt production */
  readonly directory?: string;
  /**
   * Docker: the image the ACME client's container runs, with `lego`, `socat` and a POSIX shell
   * (docs/https.md has a Dockerfile). Required on docker: no published image has all three.
   */
  readonly image?: string;
}

/** Validated HTTPS settings; absent from DistributorSettings when the mode is `off`. */
export interface TlsSettings {
  readonly mode: Exclude<TlsMode, "off">;
  readonly port: number;
  readonly hsts: number;
  /** The certificate's names, the first its subject. */
  readonly domains: readonly string[];
  /** `provided`: known now (checked), or Outputs checked when they resolve. */
  readonly certificate?: pulumi.Input<string>;
  readonly privateKey?: pulumi.Input<string>;
  readonly acme?: { readonly email: string; readonly directory: string; readonly image?: string };
}

/** The `tls.*` settings (components/settingsSchema.ts). */
export type TlsSettingPath = Extract<SettingPath, `tls.${string}`>;

/** What validating `tls` needs from the rest of the settings. */
export interface TlsContext {
  readonly target: Target;
  readonly listenPort: number;
  readonly statsPort: number;
  /** The full DNS names of the distributor (aws `dns.name` and `dns.aliases`), if any. */
  readonly dnsNames: readonly string[];
  readonly labels: Record<TlsSettingPath | "listenPort" | "statsPort" | "dns.name" | "dns.aliases", string>;
  /** A value known now rather than an Output or a promise. */
  readonly isPlain: (value: unknown) => boolean;
}

/** A name a public CA can issue for: a full DNS name, not an address, not a wildcard. */
function parseCertificateName(label: string, value: unknown): string {
  const name = parseDnsName(label, value);
  if (!name.includes(".") && name !== "localhost") {
    throw new SettingsError(`${label} is ${describe(value)}: must be a full DNS name such as "app.example.com"`);
  }
  return name;
}

/** An ACME directory: an https URL without anything a shell or a file name could take apart. */
function parseAcmeDirectory(label: string, value: unknown): string {
  const allowed = `must be an https URL of an ACME directory, e.g. "${LETS_ENCRYPT_STAGING_DIRECTORY}"`;
  const match = typeof value === "string" ? /^https:\/\/([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?(\/[A-Za-z0-9._~\/-]*)?$/.exec(value) : null;
  if (!match || !isValidHost(match[1])) throw new SettingsError(`${label} is ${describe(value)}: ${allowed}`);
  if (match[2] !== undefined && (Number(match[2]) < 1 || Number(match[2]) > 65535)) {
    throw new SettingsError(`${label} is ${describe(value)}: its port ${match[2]} is not from 1 to 65535; ${allowed}`);
  }
  return value as string;
}

function parseEmail(label: string, value: unknown): string {
  if (typeof value === "string" && value.length <= 254 && /^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(value)) return value;
  throw new SettingsError(`${label} is ${describe(value)}: must be an email address such as "ops@example.com"`);
}

function parseHsts(label: string, value: unknown): number {
  return parseIntegerSetting("tls.hsts", label, value);
}

/** Checks `tls` and fills in its defaults; undefined when HTTPS is off. */
export function validateTls(tls: TlsArgs | undefined, context: TlsContext): TlsSettings | undefined {
  const { labels } = context;
  const mode = parseChoice(labels["tls.mode"], tls?.mode ?? TLS_DEFAULTS.mode, TLS_MODES);
  const given: Array<[unknown, TlsSettingPath]> = [
    [tls?.certificate, "tls.certificate"],
    [tls?.privateKey, "tls.privateKey"],
    [tls?.domains, "tls.domains"],
    [tls?.port, "tls.port"],
    [tls?.hsts, "tls.hsts"],
    [tls?.acme?.email, "tls.acme.email"],
    [tls?.acme?.directory, "tls.acme.directory"],
    [tls?.acme?.image, "tls.acme.image"],
  ];
  const onlyFor: Partial<Record<TlsSettingPath, TlsMode[]>> = {
    "tls.certificate": ["provided"],
    "tls.privateKey": ["provided"],
    "tls.acme.email": ["acme"],
    "tls.acme.directory": ["acme"],
    "tls.acme.image": ["acme"],
  };
  for (const [value, path] of given) {
    if (value === undefined) continue;
    const modes = onlyFor[path] ?? ["selfSigned", "provided", "acme"];
    if (!modes.includes(mode)) {
      throw new SettingsError(
        `${labels[path]} is set but ${labels["tls.mode"]} is "${mode}": it applies only to mode ${modes.map((m) => `"${m}"`).join(" or ")}`,
      );
    }
  }
  if (mode === "off") return undefined;

  const port = parsePort(labels["tls.port"], tls?.port ?? TLS_DEFAULTS.port[context.target]);
  if (REFUSED_LISTEN_PORTS.includes(port)) {
    throw new SettingsError(`${labels["tls.port"]} is ${port}: that is the port of ${port === 22 ? "SSH" : "RDP"}; choose another, e.g. 443 or 8443`);
  }
  for (const [other, label] of [[context.listenPort, labels.listenPort], [context.statsPort, labels.statsPort]] as const) {
    if (port === other) throw new SettingsError(`${labels["tls.port"]} and ${label} are both ${port}: they must differ`);
  }
  const hsts = parseHsts(labels["tls.hsts"], tls?.hsts ?? TLS_DEFAULTS.hsts);

  let domains: string[];
  if (tls?.domains !== undefined) {
    domains = parseList(labels["tls.domains"], tls.domains, 'full DNS names, e.g. ["app.example.com"]', parseCertificateName);
    if (domains.length === 0) throw new SettingsError(`${labels["tls.domains"]} is empty: list the names the certificate is for, e.g. ["app.example.com"]`);

    checkUnique(labels["tls.domains"], domains);
  } else if (context.dnsNames.length > 0) {
    domains = [...context.dnsNames];
  } else if (mode === "selfSigned" && context.target === "docker") {
    domains = [...TLS_DEFAULTS.selfSignedDomains];
  } else {
    domains = [];
  }
  if (domains.length > MAX_CERTIFICATE_NAMES) {
    const limit = `at most ${MAX_CERTIFICATE_NAMES} (Let's Encrypt's limit)`;
    throw new SettingsError(
      tls?.domains !== undefined
        ? `${labels["tls.domains"]} lists ${domains.length} names: a certificate holds ${limit}; split the names over several distributors`
        : `${labels["dns.name"]} and ${labels["dns.aliases"]} are ${domains.length} full names, which the certificate would hold: ${limit}; set ${labels["tls.domains"]} to the names HTTPS serves`,
    );
  }
    if (mode === "acme" && domains.length === 0) {
    throw new SettingsError(
      `${labels["tls.mode"]} is "acme" but the certificate has no name: set ${labels["tls.domains"]} to the full DNS names clients use` +
        (context.target === "aws" ? `, or ${labels["dns.name"]} to a full name` : ""),
    );
  }
  if (mode === "acme" && domains.includes("localhost")) {
    throw new SettingsError(`${labels["tls.domains"]} lists "localhost": an ACME CA issues only for public DNS names`);
  }
  if (mode === "selfSigned" && domains.length === 0) {
    throw new SettingsError(
      `${labels["tls.mode"]} is "selfSigned" but the certificate has no name: set ${labels["tls.domains"]}` +
        (context.target === "aws" ? `, or ${labels["dns.name"]} to a full name` : ""),
    );
  }
  // HTTP-01: the CA fetches the challenge from port 80 of each name, whatever the HTTPS port.
  if (mode === "acme" && context.target === "aws" && context.listenPort !== 80) {
    throw new SettingsError(
      `${labels["tls.mode"]} is "acme" but ${labels.listenPort} is ${context.listenPort}: the CA validates each name over plain HTTP on port 80; set ${labels.listenPort} to 80`,
    );
  }
  if (mode === "provided") {
    if (tls?.certificate === undefined || tls.privateKey === undefined) {
      const missing = tls?.certificate === undefined ? labels["tls.certificate"] : labels["tls.privateKey"];
      throw new SettingsError(`${labels["tls.mode"]} is "provided" but ${missing} is not set: give the PEM certificate chain and its private key (as secrets)`);
    }
    if (context.isPlain(tls.certificate) && context.isPlain(tls.privateKey)) {
      checkCertificateAndKey(labels, tls.certificate as string, tls.privateKey as string);
    } else if (context.isPlain(tls.certificate)) {
      parseCertificateChain(labels["tls.certificate"], tls.certificate);
    }
    return { mode, port, hsts, domains, certificate: tls.certificate, privateKey: tls.privateKey };
  }
  if (mode === "acme") {
    // lego registers its account under an email address (its `run` stops without one).
    if (tls?.acme?.email === undefined) {
      throw new SettingsError(`${labels["tls.mode"]} is "acme" but ${labels["tls.acme.email"]} is not set: give the address the CA's account is registered with`);
    }
    const email = parseEmail(labels["tls.acme.email"], tls.acme.email);
    const directory = parseAcmeDirectory(labels["tls.acme.directory"], tls?.acme?.directory ?? TLS_DEFAULTS.acmeDirectory);
    // The client runs in a container of its own beside the distributor's, from an image with
    // lego, socat and a shell: the official haproxy and lego images each lack some of them.
    const image = tls?.acme?.image === undefined ? undefined : parseImage(labels["tls.acme.image"], tls.acme.image);
    if (context.target === "docker" && image === undefined) {
      throw new SettingsError(
        `${labels["tls.mode"]} is "acme" but ${labels["tls.acme.image"]} is not set: name an image with lego, socat and a shell for the ACME client's container (docs/https.md has a Dockerfile)`,
      );
    }
    if (context.target !== "docker" && image !== undefined) {
      throw new SettingsError(`${labels["tls.acme.image"]} is set but target is "${context.target}": it applies only to target "docker"`);
    }
    return { mode, port, hsts, domains, acme: { email, directory, ...(image === undefined ? {} : { image }) } };
  }
  return { mode, port, hsts, domains };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----/g;
const PEM_PRIVATE_KEY = /^-----BEGIN (RSA |EC )?PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1PRIVATE KEY-----$/;

/** A PEM chain, the server's certificate first, each issued by the next. Errors never quote it. */
export function parseCertificateChain(label: string, value: unknown, now: Date = new Date()): X509Certificate[] {
  const allowed = 'it must be PEM: one or more "-----BEGIN CERTIFICATE-----" blocks, the server\'s certificate first';
  if (typeof value !== "string") throw new SettingsError(`${label} is ${value === null ? "null" : typeof value}: ${allowed}`);
  const blocks = value.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0 || value.replace(PEM_CERTIFICATE, "").trim() !== "") {
    throw new SettingsError(`${label} is not a PEM certificate (value hidden): ${allowed}, nothing else`);
  }
  const chain = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new SettingsError(`${label} has a malformed certificate in block ${i + 1} (value hidden): ${allowed}`);
    }
  });
  chain.forEach((certificate, i) => {
    const validTo = new Date(certificate.validTo);
    const validFrom = new Date(certificate.validFrom);
    const which = i === 0 ? "its server certificate" : `certificate ${i + 1} of its chain`;
    if (validTo.getTime() <= now.getTime()) {
      throw new SettingsError(`${label}: ${which} expired on ${validTo.toISOString()}: give a certificate that is valid now`);
    }
    if (validFrom.getTime() > now.getTime()) {
      throw new SettingsError(`${label}: ${which} is not valid before ${validFrom.toISOString()}: give a certificate that is valid now`);
    }
    if (i > 0 && !chain[i - 1].checkIssued(certificate)) {
      throw new SettingsError(`${label}: certificate ${i + 1} did not issue certificate ${i}: list the chain in order, the server's certificate first`);
    }
  });
  return chain;
}

/** An unencrypted PEM private key. Errors never quote it. */
export function parsePrivateKey(label: string, value: unknown): KeyObject {
  const allowed = 'it must be one unencrypted PEM private key ("-----BEGIN PRIVATE KEY-----", RSA or EC)';
  if (typeof value !== "string" || !PEM_PRIVATE_KEY.test(value.trim())) {
    throw new SettingsError(`${label} is not a PEM private key (value hidden): ${allowed}`);
  }
  try {
    return createPrivateKey({ key: value, format: "pem" });
  } catch {
    throw new SettingsError(`${label} is a malformed private key (value hidden): ${allowed}`);
  }
}

/** The certificate chain and the key of its server certificate, both valid now. */
export function checkCertificateAndKey(
  labels: Record<"tls.certificate" | "tls.privateKey", string>,
  certificate: unknown,
  privateKey: unknown,
  now: Date = new Date(),
): void {
  const chain = parseCertificateChain(labels["tls.certificate"], certificate, now);
  const key = parsePrivateKey(labels["tls.privateKey"], privateKey);
  if (!chain[0].checkPrivateKey(key)) {
    throw new SettingsError(
      `${labels["tls.privateKey"]} does not match ${labels["tls.certificate"]} (values hidden): give the private key of the certificate's public key`,
    );
  }
}

/** The file HAProxy loads: the chain, then the key; one file per certificate in its directory. */
export function certificateFile(certificate: string, privateKey: string): string {
  const end = (text: string) => (text.endsWith("\n") ? text : `${text}\n`);
  return `${end(certificate.trim())}${end(privateKey.trim())}`;
}
