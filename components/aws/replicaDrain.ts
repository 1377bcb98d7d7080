// The wait before an app instance is terminated, as a resource whose *delete* does the work:
// it runs the drain document on the distributor through SSM Run Command and waits for it.
import * as pulumi from "@pulumi/pulumi";
import type * as ssm from "@aws-sdk/client-ssm";
import { DRAIN_MAX_SECONDS, DRAIN_PARAMETERS, DrainParameterValues } from "./drainDocument";
import { DeliveryClock, realClock, runSsmCommand, SsmCommandClasses, SsmSender } from "./ssmCommand";

export interface ReplicaDrainInputs {
  /** The app instance. A new instance (a replacement) means a new drain resource: see `diffReplicaDrain`. */
  readonly replicaInstanceId: string;
  /** Its private IPv4 address, as the distributor's config names it. */
  readonly replicaAddress: string;
  /** The app port on it. */
  readonly replicaPort: number;
  /** Longest wait, in whole seconds (`drain.timeout`), 0–86400. */
  readonly timeoutSeconds: number;
  readonly distributorInstanceId: string;
  /** The drain document (components/aws/drainDocument.ts). */
  readonly documentName: string;
  readonly region: string;
  /** Named AWS profile for the SSM calls; absent, the AWS SDK's default credentials. */
  readonly profile?: string;
}

const INPUT_KEYS: ReadonlyArray<keyof ReplicaDrainInputs> = [
  "replicaInstanceId",
  "replicaAddress",
  "replicaPort",
  "timeoutSeconds",
  "distributorInstanceId",
  "documentName",
  "region",
  "profile",
];

/** How long an unreachable distributor (terminated, stopped, not registered) is retried before there is taken to be nothing to drain. */
export const UNREACHABLE_DISTRIBUTOR_SECONDS = 60;

/** The document's parameters, from inputs checked to be an IPv4 address, a port and a whole number of seconds. */
export function drainParameterValues(inputs: ReplicaDrainInputs): DrainParameterValues {
  const label = `drain of instance ${inputs.replicaInstanceId}`;
  if (typeof inputs.replicaAddress !== "string" || !new RegExp(DRAIN_PARAMETERS.replicaAddress.pattern).test(inputs.replicaAddress)) {
    throw new Error(`${label}: replicaAddress ${JSON.stringify(inputs.replicaAddress)} is not an IPv4 address`);
  }
  if (!Number.isInteger(inputs.replicaPort) || inputs.replicaPort < 1 || inputs.replicaPort > 65_535) {
    throw new Error(`${label}: replicaPort ${JSON.stringify(inputs.replicaPort)} is not a port (1-65535)`);
  }
  if (!Number.isInteger(inputs.timeoutSeconds) || inputs.timeoutSeconds < 0 || inputs.timeoutSeconds > DRAIN_MAX_SECONDS) {
    throw new Error(`${label}: timeoutSeconds ${JSON.stringify(inputs.timeoutSeconds)} is not a whole number of seconds (0-${DRAIN_MAX_SECONDS})`);
  }
  return { replicaAddress: inputs.replicaAddress, replicaPort: String(inputs.replicaPort), timeoutSeconds: String(inputs.timeoutSeconds) };
}

/**
 * Runs the drain document on the distributor and waits for it. Resolves with what it printed,
 * or with a note that there was nothing to drain when the distributor cannot take the command
 * (gone, stopped, not registered with SSM) for `unreachableSeconds`. Rejects, naming the
 * replica, the distributor and SSM's error, on any other failure.
 */
export async function drainThroughSsm(
  inputs: ReplicaDrainInputs,
  client: SsmSender,
  sdk: SsmCommandClasses,
  clock: DeliveryClock,
  unreachableSeconds: number = UNREACHABLE_DISTRIBUTOR_SECONDS,
): Promise<string> {
  const parameters = drainParameterValues(inputs);
  const label = `drain of ${inputs.replicaAddress}:${inputs.replicaPort} (instance ${inputs.replicaInstanceId}) on distributor ${inputs.distributorInstanceId}`;
  const output = await runSsmCommand(
    {
      instanceId: inputs.distributorInstanceId,
      documentName: inputs.documentName,
      comment: "traffic-distributor replica drain",
      parameters: Object.fromEntries(Object.entries(parameters).map(([name, value]) => [name, [value]])),
      // A command the agent has not started by then never runs: an unreachable host.
      deliveryTimeoutSeconds: 60,
      label,
      messages: {
        refused: ({ name, message }) => `${label}: SSM refused the command (${name}): ${message}`,
        readFailed: (commandId, { name, message }) => `${label}: reading SSM command ${commandId} failed (${name}): ${message}`,
      },
      pollMs: 3_000,
      // The script ends by itself after timeoutSeconds; the margin covers delivery and polling.
      wait: { seconds: inputs.timeoutSeconds + 180, from: "accepted" },
      unregistered: (waitedMs) =>
        waitedMs >= unreachableSeconds * 1000
          ? `${label}: the distributor did not take commands for ${unreachableSeconds} s (gone or not registered with SSM); nothing to drain`
          : undefined,
      undelivered: (status) => `${label}: the distributor did not take the command (${status}); nothing to drain`,
    },
    client,
    sdk,
    clock,
  );
  return output.trim();
}

/**
 * A new app instance replaces the drain (its old self is deleted, so it waits, before the old
 * instance goes); anything else updates it in place and runs nothing.
 */
export function diffReplicaDrain(olds: Partial<ReplicaDrainInputs>, news: Partial<ReplicaDrainInputs>): pulumi.dynamic.DiffResult {
  const changed = INPUT_KEYS.filter((key) => olds[key] !== news[key]);
  return { changes: changed.length > 0, replaces: changed.includes("replicaInstanceId") ? ["replicaInstanceId"] : [], deleteBeforeReplace: false };
}

async function drain(inputs: ReplicaDrainInputs): Promise<string> {
  // Loaded here, not at the top: the provider is serialized and runs in Pulumi's provider host.
  const sdk: typeof ssm = require("@aws-sdk/client-ssm");
  const client = new sdk.SSMClient({ region: inputs.region, ...(inputs.profile ? { profile: inputs.profile } : {}) });
  try {
    return await drainThroughSsm(inputs, client, sdk, realClock);
  } finally {
    client.destroy();
  }
}

/** Creating or updating records the inputs; deleting drains. */
export const replicaDrainProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: ReplicaDrainInputs) {
    return { id: `${inputs.replicaInstanceId}-drain`, outs: inputs };
  },
  async diff(_id: string, olds: ReplicaDrainInputs, news: ReplicaDrainInputs) {
    return diffReplicaDrain(olds, news);
  },
  async update(_id: string, _olds: ReplicaDrainInputs, news: ReplicaDrainInputs) {
    return { outs: news };
  },
  async delete(_id: string, props: ReplicaDrainInputs) {
    await drain(props);
  },
};

export type ReplicaDrainArgs = { [K in keyof ReplicaDrainInputs]: pulumi.Input<ReplicaDrainInputs[K]> };

/**
 * The drain of one app instance: nothing happens on create; its delete, which Pulumi runs
 * before the instance's (it depends on the instance), waits until the distributor holds no
 * connection to the instance, at most `timeoutSeconds`.
 */
export class ReplicaDrain extends pulumi.dynamic.Resource {
  constructor(name: string, args: ReplicaDrainArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(replicaDrainProvider, name, args, opts, "traffic-distributor", "ReplicaDrain");
  }
}
