// The package entry: the component, its args, and the types and constants its args and
// outputs use. Everything else (parsers, renderers, naming, stack config, the Docker and AWS
// internals) is internal: import it by path. test/entry.test.ts lists these names, so a new
// export here is a conscious decision.
export { TrafficDistributor } from "./trafficDistributor";
export type {
  AwsTargetArgs,
  ColorArgs,
  DnsArgs,
  DockerTargetArgs,
  ExistingColorArgs,
  GateArgs,
  HealthCheckArgs,
  ProvisionedColorArgs,
  TimeoutArgs,
  TrafficDistributorArgs,
} from "./trafficDistributorArgs";
export { COLORS, DNS_RECORD_TYPES, ROUTING_MODES, SettingsError, TARGETS } from "./settings";
export type { Color, DnsRecordType, RoutingMode, ServerAddress, Target } from "./settings";
