// Names of the Docker objects a distributor creates. Pure, so `npm run render` can print the
// exact server addresses a stack will deploy without asking Docker.
import { createHash } from "crypto";
import { Color, ProvisionedColor, ServerAddress } from "./settings";

/** Name of one color's Environment component, and the prefix of its containers. */
export function environmentName(distributorName: string, color: Color): string {
  return `${distributorName}-${color}`;
}

/**
 * Container name of replica `index`. It carries a hash of the image, the one input that
 * replaces a replica: a new image gets a new name, so Pulumi's create-before-delete starts
 * the new container beside the old one instead of colliding on the name, and the rendered
 * config points at the new container before the old one is removed.
 */
export function replicaContainerName(environment: string, index: number, image: string): string {
  const digest = createHash("sha256").update(image).digest("hex").slice(0, 8);
  return `${environment}-${index}-${digest}`;
}

/** The servers a provisioned color will have, as the distributor addresses them. */
export function provisionedServers(environment: string, plan: ProvisionedColor): ServerAddress[] {
  return Array.from({ length: plan.replicas }, (_, i) => ({
    host: replicaContainerName(environment, i, plan.image),
    port: plan.port,
  }));
}
