import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { CONTAINER_PLACEMENT } from "../haproxyConfig";
import { ServerAddress, formatServer } from "../settings";
import { CERTIFICATE_FILE_NAME, CONTAINER_TLS_PLACEMENT } from "../tlsListener";
import { LOG_ROTATION, NO_NEW_PRIVILEGES } from "./containerPolicy";

const ACME_SCRIPTS_DIR = path.join(__dirname, "..", "acme");
/** The client's loop: issue, then renew when due (components/acme/acme-client.sh). */
export const ACME_CLIENT_SCRIPT = fs.readFileSync(path.join(ACME_SCRIPTS_DIR, "acme-client.sh"), "utf8");
/** lego's hook: the runtime API's `set ssl cert` and `commit ssl cert`, then the file. */
export const INSTALL_CERTIFICATE_SCRIPT = fs.readFileSync(path.join(ACME_SCRIPTS_DIR, "install-certificate.sh"), "utf8");

/** Where the scripts are in the client's container (`docker exec <name> ... once` runs a pass). */
export const ACME_CONTAINER_SCRIPTS = {
  client: "/usr/local/lib/traffic-distributor/acme-client.sh",
  hook: "/usr/local/lib/traffic-distributor/install-certificate.sh",
} as const;

/**
 * HAProxy's state directory, shared by the distributor and the client through a named volume:
 * the admin socket the hook speaks to, the certificate directory it writes, and lego's
 * account and certificates (so a new container renews rather than issues again).
 */
export const SHARED_STATE_DIR = CONTAINER_PLACEMENT.runtimeDir;

/**
 * HAProxy's user in the official image (uid and gid 99): the client runs as it, so it may use
 * the admin socket (mode 600) and replace the certificate file, with no capability at all.
 */
export const HAPROXY_USER = "99:99";

/** Renewal: checked twice a day, 30 days before expiry (Let's Encrypt's advice for 90-day certificates). */
export const RENEWAL = { intervalSeconds: 43_200, daysBefore: 30 } as const;

export interface AcmeClientArgs {
  /** Image with lego, socat and a POSIX shell (`tls.acme.image`). */
  readonly image: string;
  /** The distributor's container ID: the client joins its network namespace. */
  readonly distributorContainerId: pulumi.Input<string>;
  /** The named volume mounted at SHARED_STATE_DIR in both containers. */
  readonly stateVolume: pulumi.Input<string>;
  readonly directory: string;
  readonly email?: string;
  /** The certificate's names, the first its subject (validated DNS names). */
  readonly domains: readonly string[];
  /** Where lego answers HTTP-01: the address the config's challenge backend sends to. */
  readonly challengeServer: ServerAddress;
  /** What must exist first: the config that routes the challenge path to the client. */
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
}

/**
 * lego in a container of its own that shares the distributor's network namespace and state
 * volume: its HTTP-01 listener is on the distributor's loopback, behind the challenge route,
 * and its hook reaches HAProxy's admin socket. It holds no secret of the stack: its ACME
 * account key and certificates are made and kept in the volume.
 */
export class AcmeClient extends pulumi.ComponentResource {
  public readonly container: docker.Container;

  constructor(name: string, args: AcmeClientArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("traffic-distributor:docker:AcmeClient", name, {}, opts);
    const image = new docker.RemoteImage(`${name}-image`, { name: args.image, keepLocally: true }, { parent: this });
    this.container = new docker.Container(
      name,
      {
        name,
        image: image.imageId,
        // The distributor's ID: a replaced distributor replaces the client, which joins the new one.
        networkMode: pulumi.interpolate`container:${args.distributorContainerId}`,
        volumes: [{ volumeName: args.stateVolume, containerPath: SHARED_STATE_DIR }],
        user: HAPROXY_USER,
        entrypoints: ["/bin/sh", ACME_CONTAINER_SCRIPTS.client],
        envs: [
          `ACME_DIRECTORY=${args.directory}`,
          `ACME_DOMAINS=${args.domains.join(" ")}`,
          `ACME_EMAIL=${args.email ?? ""}`,
          `ACME_CHALLENGE_ADDRESS=${formatServer(args.challengeServer)}`,
          `LEGO_PATH=${SHARED_STATE_DIR}/acme`,
          `CERTIFICATE_PATH=${CONTAINER_TLS_PLACEMENT.certificateDir}/${CERTIFICATE_FILE_NAME}`,
          `ADMIN_SOCKET=${SHARED_STATE_DIR}/admin.sock`,
          `RENEW_DAYS=${RENEWAL.daysBefore}`,
          `RENEW_INTERVAL=${RENEWAL.intervalSeconds}`,
        ],
        uploads: [
          { file: ACME_CONTAINER_SCRIPTS.client, content: ACME_CLIENT_SCRIPT, permissions: "0755" },
          { file: ACME_CONTAINER_SCRIPTS.hook, content: INSTALL_CERTIFICATE_SCRIPT, permissions: "0755" },
        ],
        restart: "unless-stopped",
        labels: [{ label: "traffic-distributor.role", value: "acme" }],
        capabilities: { drops: ["ALL"] },
        securityOpts: [NO_NEW_PRIVILEGES],
        ...LOG_ROTATION,
      },
      // Its name is fixed and two lego listeners cannot share the port: the old one goes first
      // (nothing serves from this container, so nothing is interrupted).
      { parent: this, dependsOn: args.dependsOn, deleteBeforeReplace: true },
    );
    this.registerOutputs({ containerName: this.container.name });
  }
}
