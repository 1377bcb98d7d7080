export * from "./trafficDistributor";
export * from "./trafficDistributorArgs";
export * from "./settings";
export * from "./haproxyConfig";
export * from "./naming";
export * from "./stackConfig";
export * from "./deployment";
export { Environment, EnvironmentArgs, Distributor, DistributorArgs, DELIVER_CONFIG_SCRIPT, deployOnDocker } from "./docker";
/** The `aws` target's components and pure helpers (user data, the delivery document). */
export * as aws from "./aws";
