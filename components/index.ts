// The package entry: the component, its args, and the types and constants its args and
// outputs use. Everything else (parsers, renderers, naming, stack config, the Docker and AWS
// internals) is internal: import it by path. test/entry.test.ts lists these names, so a new
// export here is a conscious decision.
export { TrafficDistributor } from "./trafficDistributor";
export type { TrafficDistributorChildren } from "./trafficDistributor";
export { stackConfigArgs } from "./stackConfig";
export type {
  AwsTargetArgs,
  ColorArgs,
  DnsArgs,
  DistributorArgs,
  DockerTargetArgs,
  DrainArgs,
  ExistingColorArgs,
  FailoverArgs,
  GateArgs,
  HealthCheckArgs,
  ProvisionedColorArgs,
  TimeoutArgs,
  TrafficDistributorArgs,
} from "./trafficDistributorArgs";
export type { AcmeArgs, TlsArgs, TlsMode } from "./tls";
export type { PreviewArgs } from "./preview";
// The classes of the component's children (its `distributor` and `environments`), as types: each
// target's module loads only for a distributor on it.
export type { Distributor as DockerDistributor, Environment as DockerEnvironment } from "./docker";
export type { Distributor as AwsDistributor, Environment as AwsEnvironment } from "./aws";
export { COLORS, DNS_RECORD_TYPES, ROUTING_MODES, SettingsError, TARGETS, TLS_MODES } from "./settings";
export type { Color, DnsRecordType, RoutingMode, ServerAddress, Target, Weights } from "./settings";
