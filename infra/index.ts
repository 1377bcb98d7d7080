// The program: read stack config, build the distributor, export what operators need.
import * as pulumi from "@pulumi/pulumi";
import { stackConfigArgs, TrafficDistributor } from "../components";

// Named after the stack: Docker names are global to the host, so two stacks never collide.
// The keys are the project's (`traffic-distributor:`), the secrets stay secrets.
const distributor = new TrafficDistributor(pulumi.getStack(), stackConfigArgs());

export const url = distributor.url;
export const httpsUrl = distributor.httpsUrl;
export const caCertificate = distributor.caCertificate;
export const previewUrls = distributor.previewUrls;
export const publicAddress = distributor.publicAddress;
export const publicIp = distributor.publicIp;
export const dnsName = distributor.dnsName;
export const securityGroupId = distributor.securityGroupId;
export const weights = distributor.weights;
export const routing = distributor.routing;
export const statsUrl = distributor.statsUrl;
export const metricsUrl = distributor.metricsUrl;
export const statsTunnelCommand = distributor.statsTunnelCommand;
export const servers = distributor.servers;
export const networkName = distributor.networkName;
export const distributorId = distributor.distributorId;
export const haproxyConfig = distributor.haproxyConfig;
