// How often one level is exact, and how far the best one-level weights would be when it is
// not: over every pair of color weights (0–256) and replica counts (1–MAX_REPLICAS).
import { replicaWeights } from "../components/haproxyConfig";
import { MAX_REPLICAS, MAX_WEIGHT } from "../components/settings";

/** Smallest share error (in points) of any pair of per-server weights within 1–256. */
export function bestOneLevelError(wb: number, wg: number, nb: number, ng: number): number {
  const target = wb / (wb + wg);
  const ratio = (wb * ng) / (wg * nb); // per-server blue : green
  let best = Infinity;
  for (let sg = 1; sg <= MAX_WEIGHT; sg++) {
    for (const sb of [Math.floor(sg * ratio), Math.ceil(sg * ratio)]) {
      if (sb < 1 || sb > MAX_WEIGHT) continue;
      best = Math.min(best, Math.abs((sb * nb) / (sb * nb + sg * ng) - target));
    }
    // Blue's per-server weight pinned at 1 or 256 when the ratio leaves the range.
    for (const sb of [1, MAX_WEIGHT]) best = Math.min(best, Math.abs((sb * nb) / (sb * nb + sg * ng) - target));
  }
  return 100 * best;
}

export function splitExactness(maxReplicas = MAX_REPLICAS) {
  let combos = 0;
  let twoLevel = 0;
  let equalReplicasTwoLevel = 0;
  let worst = { errorPoints: 0, weights: [0, 0], replicas: [0, 0] };
  const errors: number[] = [];
  for (let nb = 1; nb <= maxReplicas; nb++) {
    for (let ng = 1; ng <= maxReplicas; ng++) {
      for (let wb = 0; wb <= MAX_WEIGHT; wb++) {
        for (let wg = 0; wg <= MAX_WEIGHT; wg++) {
          if (wb + wg === 0) continue;
          combos++;
          if (replicaWeights({ blue: wb, green: wg }, { blue: nb, green: ng })) continue;
          twoLevel++;
          if (nb === ng) equalReplicasTwoLevel++;
          const error = bestOneLevelError(wb, wg, nb, ng);
          errors.push(error);
          if (error > worst.errorPoints) worst = { errorPoints: +error.toFixed(3), weights: [wb, wg], replicas: [nb, ng] };
        }
      }
    }
  }
  errors.sort((a, b) => a - b);
  const at = (q: number) => (errors.length ? +errors[Math.min(errors.length - 1, Math.floor(q * errors.length))].toFixed(4) : 0);
  return {
    combinations: combos,
    exactInOneLevel: combos - twoLevel,
    twoLevelsNeeded: twoLevel,
    twoLevelsNeededWithEqualReplicas: equalReplicasTwoLevel,
    bestOneLevelErrorPointsWhereNotExact: { p50: at(0.5), p99: at(0.99), max: worst.errorPoints, worstCase: worst },
  };
}

if (require.main === module) process.stdout.write(`${JSON.stringify(splitExactness(Number(process.argv[2] ?? MAX_REPLICAS)))}\n`);
