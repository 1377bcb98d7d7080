// A stack that runs an app (blue and green) behind its own distributor, and exports what
// another stack needs to send traffic to its containers directly.
import * as pulumi from "@pulumi/pulumi";
// In your own project: import { TrafficDistributor } from "traffic-distributor";
import { TrafficDistributor } from "../../../components";

const config = new pulumi.Config();
const api = new TrafficDistributor("api", {
  blue: { image: "registry.example.com/api:3.1", port: 8080 },
  green: { image: "registry.example.com/api:3.1", port: 8080 },
  listenPort: 9080,
  statsPort: 9404,
  statsPassword: config.requireSecret("statsPassword"),
});

/** `{ blue: ["host:port", ...], green: [...] }`: the form a `servers` input takes. */
export const servers = api.servers;
/** The Docker network the containers are on: another stack's distributor joins it. */
export const networkName = api.networkName;
