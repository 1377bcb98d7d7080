// A distributor whose green color is the containers another stack runs: that stack's
// `servers` output feeds `green.servers` as it is, and its `networkName` output lets this
// distributor join the network those containers are on.
import * as pulumi from "@pulumi/pulumi";
// In your own project: import { TrafficDistributor } from "traffic-distributor";
import { TrafficDistributor } from "../../../components";

const config = new pulumi.Config();
const backend = new pulumi.StackReference(config.require("backendStack"));
const backendServers = backend.requireOutput("servers") as pulumi.Output<{ blue: string[]; green: string[] }>;

const front = new TrafficDistributor("front", {
  blue: { image: "registry.example.com/api:3.2", port: 8080 },
  // Checked when the reference resolves, like any list of "host:port".
  green: { servers: backendServers.apply((s) => s.blue) },
  weight: { blue: 10, green: 90 },
  docker: { network: backend.requireOutput("networkName") as pulumi.Output<string> },
  listenPort: 8080,
  statsPort: 8404,
  statsPassword: config.requireSecret("statsPassword"),
});

export const url = front.url;
