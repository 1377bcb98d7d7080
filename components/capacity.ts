// How much a distributor can carry: its HAProxy threads, and the connections its memory holds.
// Pure: the settings' validation, the renderer's default and the docs' table use these figures.
import { SettingsError } from "./settings";

/** HAProxy's thread count a setting may pin: 1 to 64, one thread group's most. */
export const MAX_THREADS = 64;

/**
 * The most connections a distributor may hold: HAProxy uses about two file descriptors per
 * connection, and its default hard limit on them (`fd-hard-limit`) is 1,048,576.
 */
export const MAX_CONNECTIONS = 500_000;

/**
 * What the distributor's memory goes to, measured on HAProxy 3.4.7 (README, "Capacity"): each
 * connection at its busiest (a request in flight: its buffers and the server-side connection),
 * and a worker with none. During a release step the previous worker finishes its requests
 * beside the new one, so two workers' own memory is kept aside.
 */
export const CONNECTION_MEMORY = {
  /** A worker (and its share of the master) with no connection, MiB. */
  workerMiB: 24,
  /** One connection with a request in flight, plain HTTP, KiB. */
  plainKiB: 40,
  /** The same over TLS (the session and its record buffers), KiB. */
  tlsKiB: 64,
  /** On aws, what the instance's system (kernel, Docker, the SSM agent) keeps, MiB. */
  awsSystemMiB: 384,
} as const;

/** Connections that `memoryMiB` holds, each at its busiest, beside two workers. */
export function connectionsHeldBy(memoryMiB: number, tls: boolean): number {
  const perConnectionKiB = tls ? CONNECTION_MEMORY.tlsKiB : CONNECTION_MEMORY.plainKiB;
  const available = (memoryMiB - 2 * CONNECTION_MEMORY.workerMiB) * 1024;
  return Math.max(0, Math.min(MAX_CONNECTIONS, Math.floor(available / perConnectionKiB)));
}

const T_FAMILY_MIB: Record<string, number> = {
  nano: 512,
  micro: 1024,
  small: 2048,
  medium: 4096,
  large: 8192,
  xlarge: 16_384,
  "2xlarge": 32_768,
};
/** Memory per vCPU of the general purpose (m), compute (c) and memory (r) families, 5th generation on. */
const GIB_PER_VCPU: Record<string, number> = { m: 4, c: 2, r: 8 };

/**
 * The memory of an EC2 instance type, MiB, for the burstable families (t2, t3, t3a, t4g) and the
 * m, c and r families from their 5th generation (each size's vCPUs times the family's memory per
 * vCPU; a variant such as c5n has more, never less). Undefined for any other type.
 */
export function instanceTypeMemoryMiB(instanceType: string): number | undefined {
  const match = /^([a-z]+)(\d+)([a-z-]*)\.([a-z0-9]+)$/.exec(instanceType);
  if (!match) return undefined;
  const [, family, generationText, , size] = match;
  const generation = Number(generationText);
  if (family === "t" && generation >= 2 && generation <= 4) return T_FAMILY_MIB[size];
  const perVcpu = GIB_PER_VCPU[family];
  if (perVcpu === undefined || generation < 5) return undefined;
  const sized = /^(?:(medium)|(large)|(\d*)xlarge)$/.exec(size);
  if (!sized) return undefined;
  const vcpus = sized[1] ? 1 : sized[2] ? 2 : 4 * Number(sized[3] || 1);
  return vcpus * perVcpu * 1024;
}

/** The memory a distributor's connections are sized from, and how to name it in a message. */
export interface DistributorMemory {
  readonly mib: number;
  /** E.g. `distributor.memoryMb (256 MiB)`. */
  readonly source: string;
}

/**
 * The distributor's `maxconn`: the value given, checked against its memory, or what its memory
 * holds. With no memory known (an instance type outside the table), 4,096, the fixed figure of
 * earlier releases.
 */
export function resolveMaxConnections(
  label: string,
  given: number | undefined,
  memory: DistributorMemory | undefined,
  tls: boolean,
): number {
  if (memory === undefined) return given ?? 4096;
  const held = connectionsHeldBy(memory.mib, tls);
  if (given === undefined) {
    if (held < 1) {
      throw new SettingsError(
        `${memory.source} holds no connection: HAProxy needs ${2 * CONNECTION_MEMORY.workerMiB} MiB for two workers during a release step before its connections`,
      );
    }
    return held;
  }
  if (given > held) {
    const perConnectionKiB = tls ? CONNECTION_MEMORY.tlsKiB : CONNECTION_MEMORY.plainKiB;
    const neededMiB = Math.ceil((given * perConnectionKiB) / 1024) + 2 * CONNECTION_MEMORY.workerMiB;
    throw new SettingsError(
      `${label} is ${given}: ${memory.source} holds ${held} connections at ${perConnectionKiB} KiB each` +
        `${tls ? " over TLS" : ""} (a request in flight) beside ${2 * CONNECTION_MEMORY.workerMiB} MiB for two HAProxy workers; ` +
        `${given} need ${neededMiB} MiB: give the distributor more memory or allow at most ${held}`,
    );
  }
  return given;
}
