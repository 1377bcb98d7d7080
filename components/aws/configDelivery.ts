// Runs the delivery document on the distributor through SSM Run Command and waits for it, so
// that `pulumi up` ends only when the new config serves, and fails with HAProxy's own message
// when the host rejects it. (An SSM association would run the same document, but AWS waits
// for its success on creation only: an update would return before the config was checked.)
import * as pulumi from "@pulumi/pulumi";
import type * as ssm from "@aws-sdk/client-ssm";
import { DELIVERY_TIMEOUT_SECONDS } from "./configDocument";
import { DeliveryClock, realClock, runSsmCommand, SsmCommandClasses, SsmSender } from "./ssmCommand";
import type { DeliveryPlan } from "../deliveryPlan";

export interface ConfigDeliveryInputs {
  readonly instanceId: string;
  readonly documentName: string;
  readonly parameterName: string;
  readonly parameterVersion: number;
  readonly region: string;
  /** Named AWS profile for the SSM calls; absent, the AWS SDK's default credentials. */
  readonly profile?: string;
  /** The delivery plan, passed as the document's planVersion and planWeights (the config document's). */
  readonly plan?: DeliveryPlan;
}

/**
 * Sends the document to the instance and waits for the outcome. A new instance is not yet
 * registered with SSM ("InvalidInstanceId"): that is retried until `timeoutSeconds`. Resolves
 * with the script's output; rejects with its error output when it fails.
 */
export async function deliverThroughSsm(
  inputs: ConfigDeliveryInputs,
  client: SsmSender,
  sdk: SsmCommandClasses,
  clock: DeliveryClock = realClock,
  timeoutSeconds: number = DELIVERY_TIMEOUT_SECONDS + 300,
): Promise<string> {
  const label = `config delivery to ${inputs.instanceId} (${inputs.parameterName} version ${inputs.parameterVersion})`;
  const output = await runSsmCommand(
    {
      instanceId: inputs.instanceId,
      documentName: inputs.documentName,
      comment: "traffic-distributor config delivery",
      parameters: {
        parameterName: [inputs.parameterName],
        parameterVersion: [String(inputs.parameterVersion)],
        region: [inputs.region],
        ...(inputs.plan === undefined ? {} : { planVersion: [String(inputs.plan.version)], planWeights: [inputs.plan.weights] }),
      },
      label,
      pollMs: 3_000,
      // One deadline for the instance's registration and the run.
      wait: { seconds: timeoutSeconds, from: "call" },
      unregistered: (waitedMs) => {
        if (waitedMs > timeoutSeconds * 1000) throw new Error(`${label}: the instance did not register with SSM within ${timeoutSeconds} s`);
        return undefined;
      },
    },
    client,
    sdk,
    clock,
  );
  return output.trim();
}

async function deliver(inputs: ConfigDeliveryInputs): Promise<string> {
  // Loaded here, not at the top: the provider is serialized and runs in Pulumi's provider host.
  const sdk: typeof ssm = require("@aws-sdk/client-ssm");
  const client = new sdk.SSMClient({ region: inputs.region, ...(inputs.profile ? { profile: inputs.profile } : {}) });
  try {
    return await deliverThroughSsm(inputs, client, sdk);
  } finally {
    client.destroy();
  }
}

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: ConfigDeliveryInputs) {
    const report = await deliver(inputs);
    return { id: `${inputs.instanceId}/${inputs.parameterName}`, outs: { ...inputs, report } };
  },
  async update(_id: string, _olds: ConfigDeliveryInputs, news: ConfigDeliveryInputs) {
    return { outs: { ...news, report: await deliver(news) } };
  },
  // Removing the delivery leaves the running config alone; the instance goes with the stack.
};

export type ConfigDeliveryArgs = { [K in keyof ConfigDeliveryInputs]: pulumi.Input<ConfigDeliveryInputs[K]> };

/**
 * One delivery of a config version to a distributor instance. A new parameter version, or a
 * new instance, runs the delivery again; nothing else does.
 */
export class ConfigDelivery extends pulumi.dynamic.Resource {
  /** What the delivery printed on the instance: the reload confirmation. */
  public readonly report!: pulumi.Output<string>;

  constructor(name: string, args: ConfigDeliveryArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(provider, name, { ...args, report: undefined }, opts, "traffic-distributor", "ConfigDelivery");
  }
}
