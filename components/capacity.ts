// How much a distributor can carry: its HAProxy threads, and the connections its memory holds.
// Pure: the settings' validation, the renderer's default and the docs' figures (docs/configuration.md) use these.
import { imageReference, SettingsError } from "./settings";
import { MAX_CONNECTIONS } from "./settingsSchema";
export { MAX_CONNECTIONS, MAX_THREADS } from "./settingsSchema";

/** What a distributor's memory holds, by what its HAProxy keeps per connection. */
export interface ConnectionCost {
  /** The master and two workers with no connection (a release step's previous worker finishes beside the new one), MiB. */
  readonly workersMiB: number;
  /** One connection at its busiest: a request in flight, its server side and the copy kept for an L7 retry, KiB. */
  readonly perConnectionKiB: number;
}

/**
 * Measured on HAProxy 3.4.7 with two threads (docs/configuration.md, "Capacity"): master and worker 36.5 MiB
 * (Pss), 0.7 MiB more per thread, 5 MiB more with a certificate; per connection with a request in
 * flight 27 KiB, 55 KiB over TLS, of which the L7 retry's copy of the request takes a whole 16 kB
 * buffer, or a 4 kB one with 3.4's small buffers (12 KiB, 38 KiB). Each figure is rounded up, and
 * the workers' share covers up to eight threads.
 */
export const CONNECTION_COSTS = {
  plain: { smallBuffers: { workersMiB: 64, perConnectionKiB: 16 }, wholeBuffers: { workersMiB: 64, perConnectionKiB: 32 } },
  tls: { smallBuffers: { workersMiB: 72, perConnectionKiB: 44 }, wholeBuffers: { workersMiB: 72, perConnectionKiB: 64 } },
} as const satisfies Record<string, Record<string, ConnectionCost>>;

/** On aws, what the instance's system (kernel, Docker, the SSM agent) keeps, MiB. */
export const AWS_SYSTEM_MIB = 384;

/** The first HAProxy release that keeps an L7 retry's copy of a request in a small buffer. */
export const SMALL_BUFFERS_SINCE = "3.4";

/**
 * Whether a version ("3.4.7", "3.10", "2.6.12-1+deb12u4") is release `since` ("3.4") or later,
 * by major and minor; false for text that starts with no version.
 */
export function versionAtLeast(version: string, since: string): boolean {
  const [have, want] = [version, since].map((text) => /^(\d+)\.(\d+)/.exec(text)?.slice(1).map(Number));
  if (!have || !want) return false;
  return have[0] > want[0] || (have[0] === want[0] && have[1] >= want[1]);
}

/**
 * Whether the image's HAProxy keeps L7 retries in small buffers: a tag of release 3.4 or later
 * ("haproxy:3.4.7", "haproxy:3.5"). Any other tag ("lts", "latest") is sized as an earlier release.
 */
export function hasSmallBuffers(image: string): boolean {
  return versionAtLeast(imageReference(image)?.tag ?? "", SMALL_BUFFERS_SINCE);
}

export function connectionCost(image: string, tls: boolean): ConnectionCost {
  const costs = tls ? CONNECTION_COSTS.tls : CONNECTION_COSTS.plain;
  return hasSmallBuffers(image) ? costs.smallBuffers : costs.wholeBuffers;
}

/** Connections that `memoryMiB` holds, each at its busiest, beside the workers. */
export function connectionsHeldBy(memoryMiB: number, cost: ConnectionCost): number {
  const available = (memoryMiB - cost.workersMiB) * 1024;
  return Math.max(0, Math.min(MAX_CONNECTIONS, Math.floor(available / cost.perConnectionKiB)));
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

/** The `maxconn` of earlier releases, kept where the memory is unknown. */
export const UNSIZED_MAX_CONNECTIONS = 4096;

/**
 * The distributor's `maxconn`: the value given, checked against its memory, or what its memory
 * holds. With no memory known (an instance type outside the table), the value given or 4,096.
 */
export function resolveMaxConnections(label: string, given: number | undefined, memory: DistributorMemory | undefined, cost: ConnectionCost): number {
  if (memory === undefined) return given ?? UNSIZED_MAX_CONNECTIONS;
  const held = connectionsHeldBy(memory.mib, cost);
  const figures = `${memory.source} holds ${held} connections at ${cost.perConnectionKiB} KiB each (a request in flight) beside ${cost.workersMiB} MiB for HAProxy's master and two workers`;
  if (held < 1) throw new SettingsError(`${figures}: give the distributor more memory`);
  if (given === undefined) return held;
  if (given > held) {
    const neededMiB = Math.ceil((given * cost.perConnectionKiB) / 1024) + cost.workersMiB;
    throw new SettingsError(`${label} is ${given}: ${figures}; ${given} need ${neededMiB} MiB: give the distributor more memory or allow at most ${held}`);
  }
  return given;
}
