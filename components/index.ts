export * from "./trafficDistributor";
export * from "./trafficDistributorArgs";
export * from "./settings";
export * from "./haproxyConfig";
export * from "./naming";
export * from "./stackConfig";
export { Environment, EnvironmentArgs } from "./docker/environment";
export { Distributor, DistributorArgs, DELIVER_CONFIG_SCRIPT } from "./docker/distributor";
