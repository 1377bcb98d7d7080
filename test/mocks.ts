// Pulumi's mock runtime for every test file, set before any program code is imported.
// Records each registered resource; cleared before each test.
import * as pulumi from "@pulumi/pulumi";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, any>;
  readonly custom: boolean;
}

export const registered: RecordedResource[] = [];

pulumi.runtime.setMocks(
  {
    newResource(args: pulumi.runtime.MockResourceArgs) {
      registered.push({ type: args.type, name: args.name, inputs: args.inputs, custom: args.custom ?? false });
      const state: Record<string, unknown> = { ...args.inputs };
      // Computed outputs the components read.
      if (args.type === "docker:index/remoteImage:RemoteImage") state.imageId = `sha256:${args.inputs.name}`;
      if (args.type === "command:local:Command") state.stdout = "reloaded";
      return { id: args.custom ? `${args.name}-id` : undefined, state };
    },
    call(args: pulumi.runtime.MockCallArgs) {
      throw new Error(`unexpected invoke ${args.token}: the components must not call data sources`);
    },
  },
  "traffic-distributor",
  "test",
  false,
);

/** Resolves an Output in a test (its value, unknown in preview, is always known under these mocks). */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

/** Waits until every registration started so far has reached the mock. */
export async function settled(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

export const mochaHooks = {
  beforeEach() {
    registered.length = 0;
  },
};
