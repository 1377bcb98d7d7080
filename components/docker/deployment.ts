import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { colorsOf, Deployment, DeploymentContext } from "../deployment";
import { environmentName } from "../naming";
import { ACME_CHALLENGE_SERVER } from "../tls";
import { AcmeClient } from "./acmeClient";
import { Distributor } from "./distributor";
import { Environment } from "./environment";

/**
 * The `docker` target: a private network (or an existing one, `docker.network`), one
 * Environment per provisioned color, the distributor.
 */
export function deployOnDocker(context: DeploymentContext): Deployment<Environment, Distributor> {
  const { name, settings, parent } = context;
  const existingNetwork = settings.docker?.network;
  const network = {
    name:
      existingNetwork === undefined
        ? new docker.Network(`${name}-net`, { name: `${name}-net` }, { parent }).name
        : pulumi.output(existingNetwork),
  };
  const { environments, servers } = colorsOf(
    context,
    (color, plan) =>
      new Environment(
        environmentName(name, color),
        {
          color,
          image: plan.image,
          replicas: plan.replicas,
          port: plan.port,
          networkName: network.name,
          memoryMb: plan.memoryMb,
          // The distributor's container is named before it exists: the replicas come first.
          drain: settings.drainTimeout ? { distributorContainer: `${name}-distributor`, timeoutMs: settings.drainTimeout } : undefined,
        },
        { parent },
      ),
  );
  const config = context.renderConfig(servers);
  const acme = settings.tls?.mode === "acme" ? settings.tls.acme : undefined;
  // HAProxy's state directory, shared with the ACME client; it outlives a replaced distributor,
  // and with it the issued certificate and the ACME account.
  const stateVolume = acme ? new docker.Volume(`${name}-acme`, { name: `${name}-acme` }, { parent }) : undefined;
  const distributor = new Distributor(
    `${name}-distributor`,
    {
      networkName: network.name,
      config,
      image: settings.distributorImage,
      listenPort: settings.listenPort,
      statsPort: settings.statsPort,
      memoryMb: settings.docker?.distributorMemoryMb,
      ...(settings.tls && context.tlsCertificate
        ? {
            tls: {
              port: settings.tls.port,
              certificateFile: context.tlsCertificate.file,
              keepExisting: context.tlsCertificate.keepExisting,
              ...(stateVolume ? { stateVolume: stateVolume.name } : {}),
            },
          }
        : {}),
      gate: settings.gate,
      healthCheck: settings.healthCheck,
      previewPorts: settings.preview?.ports,
    },
    { parent },
  );
  if (acme && stateVolume && settings.tls) {
    new AcmeClient(
      `${name}-acme`,
      {
        image: acme.image!,
        distributorContainerId: distributor.container.id,
        stateVolume: stateVolume.name,
        directory: acme.directory,
        email: acme.email,
        domains: settings.tls.domains,
        challengeServer: ACME_CHALLENGE_SERVER,
        // lego starts once HAProxy routes the challenge path to it.
        dependsOn: [distributor.configDelivery],
      },
      { parent },
    );
  }
  return {
    environments,
    servers,
    config,
    distributor,
    distributorId: distributor.containerName,
    networkName: network.name,
    publicAddress: pulumi.output("localhost"),
  };
}
