// The driver's own guarantees: its table of resource options matches what the components
// pass, and an input it does not model fails the run instead of being skipped.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { TrafficDistributor } from "../../components";
import { deleteBeforeReplace, Deployment, runProgram } from "./driver";
import { STATS_PASSWORD } from "../statsPassword";
import { testEngine } from "./setup";

describe("the graph driver", () => {
  it("knows every deleteBeforeReplace the components set (mocks cannot see resource options)", async () => {
    await runProgram("tdopts", { statsPassword: STATS_PASSWORD }, {});
    const seen: Array<{ type: string; name: string; deleteBeforeReplace: boolean }> = [];
    // With acme, for the ACME client's container too.
    const tls = { mode: "acme", domains: ["shop.example.com"], acme: { email: "ops@example.com", image: "registry.example.com/td/acme:1" } } as const;
    const td = new TrafficDistributor("tdopts", { statsPassword: STATS_PASSWORD, tls }, {
      transformations: [
        (args) => {
          if (args.type.startsWith("docker:") || args.type.startsWith("command:")) {
            seen.push({ type: args.type, name: args.name, deleteBeforeReplace: (args.opts as pulumi.CustomResourceOptions).deleteBeforeReplace ?? false });
          }
          return undefined;
        },
      ],
    });
    await new Promise((resolve) => td.haproxyConfig.apply(resolve));
    assert.ok(seen.some((r) => r.deleteBeforeReplace), "no resource with deleteBeforeReplace: the check would prove nothing");
    for (const resource of seen) {
      assert.strictEqual(deleteBeforeReplace(resource), resource.deleteBeforeReplace, `${resource.type} ${resource.name}`);
    }
    assert.strictEqual(pulumi.getStack(), "tdopts");
  });

  it("fails on an input it does not model, before touching the engine", async () => {
    const run = await runProgram("tdunknown", { statsPassword: STATS_PASSWORD }, {});
    const container = run.resources.find((r) => r.type === "docker:index/container:Container")!;
    const tampered = { ...run, resources: [{ ...container, inputs: { ...container.inputs, privileged: true } }] };
    await assert.rejects(new Deployment(testEngine()).up(tampered), /input privileged of docker:index\/container:Container tdunknown-\S+ is not modelled/);
    const nested = { ...run, resources: [{ ...container, inputs: { ...container.inputs, ports: [{ internal: 1, external: 2, hostIp: "x" }] } }] };
    await assert.rejects(new Deployment(testEngine()).up(nested), /input ports\.hostIp/);
  });
});
