// The ACME client of the aws distributor: lego on the host beside the HAProxy container, started
// by a systemd timer. It issues the certificate at first boot (HTTP-01 through HAProxy's plain
// port) and renews it twice a day when due, installing each new one through HAProxy's runtime
// API: no `pulumi up`, no reload, no dropped request. Pure: the user data's files and units.
import * as fs from "fs";
import * as path from "path";
import { CERTIFICATE_FILE_NAME } from "../tlsListener";

/**
 * The lego release the host downloads (Amazon Linux 2023 does not package it), pinned with the
 * SHA-256 of each architecture's archive. The release publishes them in
 * `lego_4.35.2_checksums.txt` (https://github.com/go-acme/lego/releases/tag/v4.35.2); the values
 * below were copied from public projects that pin this release (amd64 in two of them, arm64 in
 * one), not read from GitHub itself: compare them with that file before relying on them, and
 * take both values from the checksums file of any release you move to.
 */
export const LEGO_RELEASE = {
  version: "4.35.2",
  sha256: {
    amd64: "ee5be4bf457de8e3efa86a51651c75c87f0ee0e4e9f3ae14f6034d68365770f3",
    arm64: "e1f153179098d27ce044aaaa168c0e323d50ae71b0f1a147aa8ae49ac6b14d89",
  },
} as const;

export type HostArch = keyof typeof LEGO_RELEASE.sha256;

export function legoArchiveUrl(arch: HostArch): string {
  const version = LEGO_RELEASE.version;
  return `https://github.com/go-acme/lego/releases/download/v${version}/lego_v${version}_linux_${arch}.tar.gz`;
}

import { ACME_CHALLENGE_SERVER_ON_HOST } from "../tls";
export { ACME_CHALLENGE_SERVER_ON_HOST };

/** Host directory mounted as HAProxy's runtime directory (admin socket, certs/), with HTTPS. */
export const HOST_RUNTIME_DIR = "/var/lib/traffic-distributor/haproxy";
/** lego's account key and certificates: root's alone, on the instance's encrypted volume. */
export const LEGO_STATE_DIR = "/var/lib/traffic-distributor/acme";
/** The scripts the host runs. */
export const HOST_SCRIPT_DIR = "/usr/local/lib/traffic-distributor";
export const LEGO_BINARY = "/usr/local/bin/lego";
/** Days before expiry from which a run renews (Let's Encrypt's certificates last 90). */
export const RENEW_DAYS = 30;
/** Seconds between retries of a failed run: 4 an hour, under Let's Encrypt's 5 failed validations per name an hour. */
export const RETRY_SECONDS = 15 * 60;

export const ACME_SERVICE = "traffic-distributor-acme.service";
export const ACME_TIMER = "traffic-distributor-acme.timer";

const script = (dir: string, name: string) => fs.readFileSync(path.join(__dirname, dir, name), "utf8");
/** The host's scripts, as files of this package. */
export const HOST_SCRIPTS = {
  installLego: { path: `${HOST_SCRIPT_DIR}/install-lego.sh`, content: script(".", "install-lego.sh") },
  acmeCertificate: { path: `${HOST_SCRIPT_DIR}/acme-certificate.sh`, content: script(".", "acme-certificate.sh") },
  installCertificate: { path: `${HOST_SCRIPT_DIR}/install-certificate.sh`, content: script("../acme", "install-certificate.sh") },
  prepareRuntimeDir: { path: `${HOST_SCRIPT_DIR}/prepare-runtime-dir.sh`, content: script(".", "prepare-runtime-dir.sh") },
};

export interface AcmeClientInput {
  /** The certificate's names (validated DNS names), the first its subject. */
  readonly domains: readonly string[];
  /** Contact address for the CA (a validated address). */
  readonly email?: string;
  /** ACME directory URL (a validated https URL). */
  readonly directory: string;
  /** The distributor's architecture: which lego archive it downloads. */
  readonly arch: HostArch;
}

/** A value in a unit's `Environment=` line: systemd expands `%` specifiers, so `%` doubles. */
function unitValue(value: string): string {
  return value.replace(/%/g, "%%");
}

/**
 * The oneshot service the timer starts. A failed run (the name not yet pointing here, the CA
 * unreachable) is retried every 15 minutes until it succeeds.
 */
export function acmeServiceUnit(input: AcmeClientInput): string {
  const environment: Record<string, string> = {
    ACME_DOMAINS: input.domains.join(" "),
    ACME_DIRECTORY: input.directory,
    ...(input.email === undefined ? {} : { ACME_EMAIL: input.email }),
    LEGO: LEGO_BINARY,
    LEGO_PATH: LEGO_STATE_DIR,
    CERTIFICATE_PATH: `${HOST_RUNTIME_DIR}/certs/${CERTIFICATE_FILE_NAME}`,
    ADMIN_SOCKET: `${HOST_RUNTIME_DIR}/admin.sock`,
    INSTALL_HOOK: HOST_SCRIPTS.installCertificate.path,
    RENEW_DAYS: String(RENEW_DAYS),
    CHALLENGE_PORT: String(ACME_CHALLENGE_SERVER_ON_HOST.port),
  };
  return [
    "[Unit]",
    "Description=traffic-distributor: issue or renew the HTTPS certificate (lego, HTTP-01)",
    "After=traffic-distributor.service network-online.target",
    "Wants=network-online.target",
    "StartLimitIntervalSec=0",
    "",
    "[Service]",
    "Type=oneshot",
    ...Object.entries(environment).map(([name, value]) => `Environment="${name}=${unitValue(value)}"`),
    `ExecStart=/bin/sh ${HOST_SCRIPTS.acmeCertificate.path}`,
    "Restart=on-failure",
    `RestartSec=${RETRY_SECONDS}`,
    "",
  ].join("\n");
}

/** Twice a day, spread over an hour; the first run a few minutes after boot. */
export function acmeTimerUnit(): string {
  return [
    "[Unit]",
    "Description=traffic-distributor: check the HTTPS certificate twice a day",
    "",
    "[Timer]",
    "OnBootSec=3min",
    "OnCalendar=*-*-* 00,12:00:00",
    "RandomizedDelaySec=3600",
    "Persistent=true",
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

export interface HostFile {
  readonly path: string;
  readonly content: string;
  readonly permissions: string;
}

/** The ACME client's files in the user data: its scripts, the hook, the service and the timer. */
export function acmeClientFiles(input: AcmeClientInput): HostFile[] {
  return [
    { ...HOST_SCRIPTS.installLego, permissions: "0755" },
    { ...HOST_SCRIPTS.acmeCertificate, permissions: "0755" },
    { ...HOST_SCRIPTS.installCertificate, permissions: "0755" },
    { path: `/etc/systemd/system/${ACME_SERVICE}`, content: acmeServiceUnit(input), permissions: "0644" },
    { path: `/etc/systemd/system/${ACME_TIMER}`, content: acmeTimerUnit(), permissions: "0644" },
  ];
}

/** Commands of the user data, after the distributor's unit: lego installed, then the timer on. */
export function acmeClientCommands(input: AcmeClientInput): string[][] {
  return [
    ["sh", HOST_SCRIPTS.installLego.path, legoArchiveUrl(input.arch), LEGO_RELEASE.sha256[input.arch]],
    ["systemctl", "enable", "--now", ACME_TIMER],
  ];
}
