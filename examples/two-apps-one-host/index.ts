// Two apps on one Docker host, each with its own blue and green and its own distributor.
// Names derive from each component's name, so nothing collides; each distributor publishes
// its own ports (the same ports twice fail before anything is created).
import * as pulumi from "@pulumi/pulumi";
// In your own project: import { TrafficDistributor } from "traffic-distributor";
import { TrafficDistributor } from "../../components";

const config = new pulumi.Config();
const statsPassword = config.requireSecret("statsPassword");

const shop = new TrafficDistributor("shop", {
  blue: { image: "nginx:1.27", replicas: 2 },
  green: { image: "nginx:1.27", replicas: 2 },
  weight: { blue: 50, green: 50 },
  listenPort: 8080,
  statsPort: 8404,
  statsPassword,
});

const blog = new TrafficDistributor("blog", {
  blue: { image: "ghost:5-alpine", port: 2368, replicas: 1, memoryMb: 512 },
  green: { image: "ghost:5-alpine", port: 2368, replicas: 1, memoryMb: 512 },
  routing: "sticky",
  healthCheck: { path: "/ghost/api/admin/site/", timeout: "2s" },
  listenPort: 8081,
  statsPort: 8405,
  statsPassword,
});

export const shopUrl = shop.url;
export const blogUrl = blog.url;
