// The aws target under Pulumi's mocks: a distributor built and every resource of it registered.
import { TrafficDistributor, TrafficDistributorArgs } from "../components";
import { childrenOn, promiseOf, settled, STATS_PASSWORD } from "./mocks";

/** Builds a distributor on AWS and waits until every resource of it has been registered. */
export async function deployOnAws(name: string, args: TrafficDistributorArgs = {}): Promise<TrafficDistributor> {
  const td = new TrafficDistributor(name, { statsPassword: STATS_PASSWORD, target: "aws", ...args });
  // The records (if any) come last: they wait for the address association, which waits for the delivery.
  await promiseOf(td.url);
  await promiseOf(childrenOn(td, "aws").distributor.deliveryReport);
  await settled();
  await settled();
  return td;
}
