// Cloud-init user data of the EC2 instances. Pure, and deliberately free of anything a release
// step changes: user data only takes effect at an instance's first boot, and a change to it
// replaces the instance. Weights, routing and servers reach the distributor through SSM instead.
import { stringify } from "yaml";
import { CONTAINER_PLACEMENT, renderBootstrapConfig } from "../haproxyConfig";

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
  readonly files: ReadonlyArray<{ path: string; content: string }>;
  readonly unit: string;
}

/**
 * Installs Docker from the distribution (dnf on Amazon Linux 2023), writes files (the journald
 * limits among them), starts the unit.
 */
function cloudConfig(config: CloudConfig): string {
  const files = [JOURNALD_DROP_IN, ...config.files];
  const document = {
    packages: ["docker"],
    write_files: files.map((file) => ({ path: file.path, permissions: "0644", owner: "root:root", content: file.content })),
    // Exec form: no shell is involved in starting anything.
    runcmd: [
      // journald reads its limits at start.
      ["systemctl", "restart", "systemd-journald.service"],
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "docker.service"],
      ["systemctl", "enable", "--now", config.unit],
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
  /** HAProxy image, e.g. "haproxy:3.2.26". */
  readonly image: string;
  /** Public port on the instance, published to the container's listen port. */
  readonly listenPort: number;
  /** Stats port, published on the instance's loopback only (reach it with SSM port forwarding). */
  readonly statsPort: number;
  /** Public ports of the colors' previews (`preview.enabled`); turning previews on or off replaces the instance. */
  readonly previewPorts?: Readonly<Record<"blue" | "green", number>>;
}

/**
 * The distributor instance: the HAProxy container on the same placement as on Docker (so the
 * rendered config is the same), starting on the bootstrap config until the real one is delivered.
 */
export function renderDistributorUserData(input: DistributorUserDataInput): string {
  const unit = "traffic-distributor.service";
  return cloudConfig({
    unit,
    files: [
      { path: `${DISTRIBUTOR_CONFIG_DIR}/haproxy.cfg`, content: renderBootstrapConfig() },
      {
        path: `/etc/systemd/system/${unit}`,
        content: containerUnit({
          unit,
          description: `traffic-distributor HAProxy (${input.image})`,
          container: DISTRIBUTOR_CONTAINER,
          runArgs: [
            "--publish",
            `${input.listenPort}:${CONTAINER_PLACEMENT.listenPort}`,
            "--publish",
            `127.0.0.1:${input.statsPort}:${CONTAINER_PLACEMENT.statsPort}`,
            ...(input.previewPorts
              ? (["blue", "green"] as const).flatMap((color) => ["--publish", `${input.previewPorts![color]}:${CONTAINER_PLACEMENT.previewPorts![color]}`])
              : []),
            // A directory, not the file: the delivery replaces the file by rename.
            "--volume",
            `${DISTRIBUTOR_CONFIG_DIR}:/usr/local/etc/haproxy`,
            input.image,
          ],
        }),
      },
    ],
  });
}
