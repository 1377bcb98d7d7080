import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { colorsOf, Deployment, DeploymentContext } from "../deployment";
import { environmentName } from "../naming";
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
        ? { tls: { port: settings.tls.port, certificateFile: context.tlsCertificate.file, keepExisting: context.tlsCertificate.keepExisting } }
        : {}),
      gate: settings.gate,
      previewPorts: settings.preview?.ports,
    },
    { parent },
  );
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
