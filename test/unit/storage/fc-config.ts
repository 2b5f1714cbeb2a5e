/**
 * fast-check settings shared by the storage property tests. Each property runs from a seed that
 * is printed first ("# fast-check seed=..."); fast-check also prints the seed and path of any
 * failure. FC_SEED=<seed> (with FC_PATH to go straight to the shrunk case) replays a run, and
 * FC_NUM_RUNS scales the number of runs.
 */
import type { Parameters } from "fast-check";

export function fcParameters<T>(numRunsDefault: number): Parameters<T> {
  const given = process.env.FC_SEED;
  const seed =
    given === undefined ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : Number(given);
  const path = process.env.FC_PATH;
  process.stdout.write(`# fast-check seed=${seed} (replay with FC_SEED=${seed})\n`);
  return {
    seed,
    numRuns: Number(process.env.FC_NUM_RUNS ?? numRunsDefault),
    ...(path === undefined ? {} : { path }),
  };
}
