// Cloud-init user data of the EC2 instances. Pure, and deliberately free of anything a release
// step changes: user data only takes effect at an instance's first boot, and a change to it
// replaces the instance. Weights, routing and servers reach the distributor through SSM instead.
import { stringify } from "yaml";
import { CONTAINER_PLACEMENT, renderBootstrapConfig } from "../haproxyConfig";
import { DistributorSettings, isArmInstanceType, SettingsError } from "../settings";
import { ARG_LABELS, SettingLabels } from "../trafficDistributorArgs";
import { CONTAINER_TLS_PLACEMENT } from "../tlsListener";
import { ACME_CHALLENGE_SERVER_ON_HOST, acmeClientCommands, acmeClientFiles, AcmeClientInput, HOST_RUNTIME_DIR, HOST_SCRIPTS, HostFile } from "./acmeClient";

/** Name of the HAProxy container on the distributor instance. */
export const DISTRIBUTOR_CONTAINER = "traffic-distributor";
/** Host directory bind-mounted as the image's config directory: the delivery swaps files in it. */
export const DISTRIBUTOR_CONFIG_DIR = "/etc/traffic-distributor";
/** Name of the app container on an environment instance. */
export const APP_CONTAINER = "app";

/** Seconds a container gets to finish in-flight requests when it is stopped. */
const STOP_GRACE_SECONDS = 30;

/**
 * Docker's json-file log of each container rotates: at most 5 files of 10 MB. (The unit's
 * attached `docker run` also copies the output to the journal, bounded below.)
 */
export const CONTAINER_LOG_OPTIONS: readonly string[] = [
  "--log-driver",
  "json-file",
  "--log-opt",
  "max-size=10m",
  "--log-opt",
  "max-file=5",
];

/** A journald drop-in: the journal of an instance never grows past these sizes. */
export const JOURNALD_DROP_IN = {
  path: "/etc/systemd/journald.conf.d/50-traffic-distributor.conf",
  content: ["[Journal]", "SystemMaxUse=512M", "SystemMaxFileSize=64M", "RuntimeMaxUse=64M", "MaxRetentionSec=1month", ""].join("\n"),
};

interface ContainerUnit {
  readonly unit: string;
  readonly description: string;
  readonly container: string;
  /** `docker run` options and image, one argument each. */
  readonly runArgs: readonly string[];
  /** A command to run before the container starts (it may pull the image: no start timeout). */
  readonly preStart?: string;
}

/**
 * A systemd unit that keeps one container running: it restarts it if it dies (or if the first
 * image pull fails), and stops it gracefully on shutdown.
 */
function containerUnit(unit: ContainerUnit): string {
  return [
    "[Unit]",
    `Description=${unit.description}`,
    "After=docker.service network-online.target",
    "Wants=network-online.target",
    "Requires=docker.service",
    "",
    "[Service]",
    `ExecStartPre=-/usr/bin/docker rm --force ${unit.container}`,
    ...(unit.preStart === undefined ? [] : [`ExecStartPre=${unit.preStart}`, "TimeoutStartSec=infinity"]),
    `ExecStart=/usr/bin/docker run --rm --name ${unit.container} ${[...CONTAINER_LOG_OPTIONS, ...unit.runArgs].join(" ")}`,
    `ExecStop=/usr/bin/docker stop --time ${STOP_GRACE_SECONDS} ${unit.container}`,
    `TimeoutStopSec=${STOP_GRACE_SECONDS + 10}`,
    "Restart=always",
    "RestartSec=5",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

interface CloudConfig {
  readonly files: ReadonlyArray<{ path: string; content: string; permissions?: string }>;
  readonly unit: string;
  /** Packages beyond Docker. */
  readonly packages?: readonly string[];
  /** Commands after the unit has started. */
  readonly afterUnit?: readonly string[][];
}

/**
 * Installs Docker from the distribution (dnf on Amazon Linux 2023), writes files (the journald
 * limits among them), starts the unit.
 */
function cloudConfig(config: CloudConfig): string {
  const files: ReadonlyArray<{ path: string; content: string; permissions?: string }> = [JOURNALD_DROP_IN, ...config.files];
  const document = {
    packages: ["docker", ...(config.packages ?? [])],
    write_files: files.map((file) => ({ path: file.path, permissions: file.permissions ?? "0644", owner: "root:root", content: file.content })),
    // Exec form: no shell is involved in starting anything.
    runcmd: [
      // journald reads its limits at start.
      ["systemctl", "restart", "systemd-journald.service"],
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "docker.service"],
      ["systemctl", "enable", "--now", config.unit],
      ...(config.afterUnit ?? []),
    ],
  };
  return `#cloud-config\n${stringify(document, { lineWidth: 0 })}`;
}

export interface EnvironmentUserDataInput {
  /** Image of the app (a validated Docker reference: no spaces or shell characters). */
  readonly image: string;
  /** Port the app listens on in its container, published on the same port of the instance. */
  readonly port: number;
}

/** An app instance: Docker, and the color's image on `port`, published on the instance's `port`. */
export function renderEnvironmentUserData(input: EnvironmentUserDataInput): string {
  const unit = "traffic-distributor-app.service";
  return cloudConfig({
    unit,
    files: [
      {
        path: `/etc/systemd/system/${unit}`,
        content: containerUnit({
          unit,
          description: `traffic-distributor app (${input.image})`,
          container: APP_CONTAINER,
          runArgs: ["--publish", `${input.port}:${input.port}`, input.image],
        }),
      },
    ],
  });
}

export interface DistributorUserDataInput {
  /** HAProxy image, e.g. "haproxy:3.4.7". */
  readonly image: string;
  /** Public port on the instance, published to the container's listen port. */
  readonly listenPort: number;
  /** Stats port, published on the instance's loopback only (reach it with SSM port forwarding). */
  readonly statsPort: number;
  /** Public ports of the colors' previews (`preview.enabled`); turning previews on or off replaces the instance. */
  readonly previewPorts?: Readonly<Record<"blue" | "green", number>>;
  /** HTTPS: its public port, and with `acme`, the ACME client beside HAProxy. No certificate: it arrives through SSM. */
  readonly tls?: { readonly port: number; readonly acme?: AcmeClientInput };
}

/** What the distributor's user data is made of, as the aws Distributor receives it. */
export interface DistributorUserDataSource {
  readonly image: string;
  readonly listenPort: number;
  readonly statsPort: number;
  readonly previewPorts?: Readonly<Record<"blue" | "green", number>>;
  /** The distributor's instance type: which lego archive (architecture) the ACME client downloads. */
  readonly instanceType: string;
  readonly tls?: { readonly port: number; readonly acme?: Omit<AcmeClientInput, "arch"> };
}

/** The user data's input for a distributor: one mapping, for the instance and for the size check. */
export function distributorUserDataInput(source: DistributorUserDataSource): DistributorUserDataInput {
  const tls = source.tls;
  return {
    image: source.image,
    listenPort: source.listenPort,
    statsPort: source.statsPort,
    previewPorts: source.previewPorts,
    ...(tls
      ? {
          tls: {
            port: tls.port,
            ...(tls.acme ? { acme: { ...tls.acme, arch: isArmInstanceType(source.instanceType) ? ("arm64" as const) : ("amd64" as const) } } : {}),
          },
        }
      : {}),
  };
}

/** The most user data EC2 takes, in bytes, before base64. */
export const USER_DATA_MAX_BYTES = 16384;

/**
 * Refuses, before any resource is registered, aws settings whose distributor user data would
 * exceed what EC2 takes (16 KB before base64): it renders the user data as the instance would
 * get it. Only the ACME client's settings grow it much (every name of `tls.domains` goes into
 * its unit). The message gives sizes and key names, never a value.
 */
export function checkDistributorUserDataFits(settings: DistributorSettings, labels: SettingLabels = ARG_LABELS): void {
  if (settings.target !== "aws" || settings.aws === undefined) return;
  const tls = settings.tls;
  const userData = renderDistributorUserData(
    distributorUserDataInput({
      image: settings.distributorImage,
      listenPort: settings.listenPort,
      statsPort: settings.statsPort,
      previewPorts: settings.preview?.ports,
      instanceType: settings.aws.distributorInstanceType,
      ...(tls ? { tls: { port: tls.port, ...(tls.acme ? { acme: { domains: tls.domains, ...tls.acme } } : {}) } } : {}),
    }),
  );
  const size = Buffer.byteLength(userData);
  if (size <= USER_DATA_MAX_BYTES) return;
  const acme = tls?.acme !== undefined;
  const keys = acme ? `${labels["tls.domains"]} (with ${labels["tls.acme.email"]} and ${labels["tls.acme.directory"]})` : labels["distributor.image"];
  const remedy = acme
    ? `list fewer or shorter names in ${labels["tls.domains"]} (${tls!.domains.length} names of ${tls!.domains.reduce((sum, name) => sum + name.length, 0)} characters now)`
    : `use a shorter ${labels["distributor.image"]}`;
  throw new SettingsError(
    `aws: ${keys} make the distributor's user data ${size} bytes, more than the ${USER_DATA_MAX_BYTES} EC2 takes (before base64): ${remedy}`,
  );
}

/**
 * The distributor instance: the HAProxy container on the same placement as on Docker (so the
 * rendered config is the same), starting on the bootstrap config until the real one is delivered.
 */
export function renderDistributorUserData(input: DistributorUserDataInput): string {
  const unit = "traffic-distributor.service";
  const tls = input.tls;
  const acme = tls?.acme;
  const hostFiles: HostFile[] = tls ? [{ ...HOST_SCRIPTS.prepareRuntimeDir, permissions: "0755" }, ...(acme ? acmeClientFiles(acme) : [])] : [];
  return cloudConfig({
    unit,
    // The ACME client's hook speaks to HAProxy's runtime API with socat.
    packages: acme ? ["socat"] : [],
    afterUnit: acme ? acmeClientCommands(acme) : [],
    files: [
      { path: `${DISTRIBUTOR_CONFIG_DIR}/haproxy.cfg`, content: renderBootstrapConfig() },
      {
        path: `/etc/systemd/system/${unit}`,
        content: containerUnit({
          unit,
          description: `traffic-distributor HAProxy (${input.image})`,
          container: DISTRIBUTOR_CONTAINER,
          // The runtime directory on the host belongs to the image's user (the certificate lives in it).
          ...(tls ? { preStart: `/bin/sh ${HOST_SCRIPTS.prepareRuntimeDir.path} ${input.image} ${HOST_RUNTIME_DIR}` } : {}),
          runArgs: [
            "--publish",
            `${input.listenPort}:${CONTAINER_PLACEMENT.listenPort}`,
            "--publish",
            `127.0.0.1:${input.statsPort}:${CONTAINER_PLACEMENT.statsPort}`,
            ...(input.previewPorts
              ? (["blue", "green"] as const).flatMap((color) => ["--publish", `${input.previewPorts![color]}:${CONTAINER_PLACEMENT.previewPorts![color]}`])
              : []),
            ...(tls ? ["--publish", `${tls.port}:${CONTAINER_TLS_PLACEMENT.tlsPort}`] : []),
            // A directory, not the file: the delivery replaces the file by rename.
            "--volume",
            `${DISTRIBUTOR_CONFIG_DIR}:/usr/local/etc/haproxy`,
            // HAProxy's runtime directory on the host's encrypted volume: the certificate outlives
            // the container, and the ACME client on the host reaches the admin socket.
            ...(tls ? ["--volume", `${HOST_RUNTIME_DIR}:${CONTAINER_PLACEMENT.runtimeDir}`] : []),
            // lego answers HTTP-01 challenges on the host, at the address of Docker's bridge.
            ...(acme ? ["--add-host", `${ACME_CHALLENGE_SERVER_ON_HOST.host}:host-gateway`] : []),
            input.image,
          ],
        }),
      },
      ...hostFiles,
    ],
  });
}
