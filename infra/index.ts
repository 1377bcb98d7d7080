// The program: read stack config, build the distributor, export what operators need.
import * as pulumi from "@pulumi/pulumi";
import { TrafficDistributor } from "../components";
import { configSourceFromMap, readStackConfig } from "../components/stackConfig";

const { args, statsPassword, tlsSecrets } = readStackConfig(configSourceFromMap(pulumi.runtime.allConfig()));

// Named after the stack: Docker names are global to the host, so two stacks never collide.
const distributor = new TrafficDistributor(pulumi.getStack(), {
  ...args,
  statsPassword: pulumi.secret(statsPassword),
  ...(tlsSecrets === undefined
    ? {}
    : { tls: { ...args.tls, certificate: pulumi.secret(tlsSecrets.certificate), privateKey: pulumi.secret(tlsSecrets.privateKey) } }),
});

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
