// One SSM Run Command on one instance, sent and polled until it ends: the config and certificate
// delivery, the drain before an app instance is removed, and the status probe. Plain functions,
// and the SDK only as a type: the delivery's and the drain's providers are serialized by Pulumi
// with this code inside them, and whoever loads @aws-sdk/client-ssm passes it in.
import type * as ssm from "@aws-sdk/client-ssm";

/** The part of an SSM client the commands use (the tests pass a fake). */
export interface SsmSender {
  send(command: ssm.SendCommandCommand | ssm.GetCommandInvocationCommand): Promise<any>;
}

/** The SDK's two command classes (the tests may pass their own). */
export type SsmCommandClasses = Pick<typeof ssm, "SendCommandCommand" | "GetCommandInvocationCommand">;

/** The time the waits read and spend (the tests pass a fake). */
export interface DeliveryClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: DeliveryClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** What the errors say; each gets the command's `label` by closure. */
export interface SsmMessages {
  /** SendCommand answered without a command ID. */
  noCommandId(): string;
  /** The run was still Pending, InProgress or Delayed at the end of `wait`. */
  timedOut(status: string, commandId: string): string;
  /** The run ended in a status other than Success; `detail` is its error output, else SSM's status details. */
  ended(status: string, commandId: string, detail: string): string;
  /** SendCommand failed. Absent: SSM's error is thrown as it is. */
  refused?(error: Error): string;
  /** GetCommandInvocation failed. Absent: SSM's error is thrown as it is. */
  readFailed?(commandId: string, error: Error): string;
}

export interface SsmCommand {
  readonly instanceId: string;
  readonly documentName: string;
  /** SendCommand's Comment. */
  readonly comment: string;
  readonly parameters: Record<string, string[]>;
  /** SendCommand's TimeoutSeconds: a command the agent has not started by then never runs. Absent: SSM's default. */
  readonly deliveryTimeoutSeconds?: number;
  /** Names the command in the default messages: "<label>: still InProgress after 60 s (SSM command …)", "<label> ended Failed (SSM command …):\n…". */
  readonly label: string;
  /** Messages other than the defaults. */
  readonly messages?: Partial<SsmMessages>;
  /** Between two reads of the invocation (the first read comes one interval after SendCommand). */
  readonly pollMs: number;
  /**
   * How long the run may stay Pending, InProgress or Delayed: `seconds` counted from the call
   * (time spent on SendCommand's retries included) or from when SSM accepted the command (the
   * first read after that ends it), or a number of reads (the last one ends it).
   */
  readonly wait: { readonly seconds: number; readonly from: "call" | "accepted" } | { readonly polls: number };
  /**
   * SendCommand's "InvalidInstanceId": SSM does not know the instance (a new one not registered
   * yet, or one that is gone). Called with the ms since the call began; undefined sends again
   * 10 s later, a string is the result, a throw fails the call. Absent: it fails like any error.
   */
  readonly unregistered?: (waitedMs: number) => string | undefined;
  /** The run was Undeliverable or DeliveryTimedOut: what this returns is the result. Absent: it fails like any other status. */
  readonly undelivered?: (status: string) => string;
}

/**
 * Sends the document to the instance and polls the invocation until it ends ("InvocationDoesNotExist",
 * right after SendCommand, counts as Pending). Resolves with the run's standard output as SSM
 * returns it (or what a hook returned); rejects with the run's error output when it fails.
 */
export async function runSsmCommand(command: SsmCommand, client: SsmSender, sdk: SsmCommandClasses, clock: DeliveryClock): Promise<string> {
  const { label, wait } = command;
  const messages: SsmMessages = {
    noCommandId: () => `${label}: SSM accepted the command but returned no command ID`,
    timedOut: (status, commandId) => `${label}: still ${status} after ${"seconds" in wait ? `${wait.seconds} s` : `${wait.polls} reads`} (SSM command ${commandId})`,
    ended: (status, commandId, detail) => `${label} ended ${status} (SSM command ${commandId}):\n${detail}`,
    ...command.messages,
  };
  const started = clock.now();
  let commandId: string | undefined;
  while (!commandId) {
    let sent: any;
    try {
      sent = await client.send(
        new sdk.SendCommandCommand({
          InstanceIds: [command.instanceId],
          DocumentName: command.documentName,
          Comment: command.comment,
          Parameters: command.parameters,
          ...(command.deliveryTimeoutSeconds === undefined ? {} : { TimeoutSeconds: command.deliveryTimeoutSeconds }),
        }),
      );
    } catch (error) {
      if ((error as Error).name !== "InvalidInstanceId" || !command.unregistered) {
        throw messages.refused ? new Error(messages.refused(error as Error)) : error;
      }
      const result = command.unregistered(clock.now() - started);
      if (result !== undefined) return result;
      await clock.sleep(10_000);
      continue;
    }
    commandId = sent?.Command?.CommandId;
    if (!commandId) throw new Error(messages.noCommandId());
  }

  const accepted = clock.now();
  const waitIsOver = (polls: number) =>
    "polls" in wait ? polls >= wait.polls : clock.now() - (wait.from === "call" ? started : accepted) > wait.seconds * 1000;
  for (let polls = 1; ; polls++) {
    await clock.sleep(command.pollMs);
    let invocation: any;
    try {
      invocation = await client.send(new sdk.GetCommandInvocationCommand({ CommandId: commandId, InstanceId: command.instanceId }));
    } catch (error) {
      // The invocation shows up a moment after SendCommand returns.
      if ((error as Error).name !== "InvocationDoesNotExist") {
        throw messages.readFailed ? new Error(messages.readFailed(commandId, error as Error)) : error;
      }
      invocation = { Status: "Pending" };
    }
    const status = String(invocation.Status);
    if (status === "Success") return String(invocation.StandardOutputContent ?? "");
    if ((status === "Undeliverable" || status === "DeliveryTimedOut") && command.undelivered) return command.undelivered(status);
    if (status === "Pending" || status === "InProgress" || status === "Delayed") {
      if (waitIsOver(polls)) throw new Error(messages.timedOut(status, commandId));
      continue;
    }
    const detail = String(invocation.StandardErrorContent || invocation.StatusDetails || "").trim();
    throw new Error(messages.ended(status, commandId, detail));
  }
}
