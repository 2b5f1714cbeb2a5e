/**
 * Workloads measured more than once (workload 5: its p99 on a shared 2-core machine moves more
 * between runs than between brokers). The rounds are interleaved across the brokers, each round
 * starting with the next broker, so a change of machine load hits all of them alike; each
 * broker's figure is then the median of its rounds, metric by metric, with every round's
 * figures kept in `extra.rounds`. Pure: run.ts does the running.
 */
import { assert } from "../../src/errors.ts";
import type { BrokerResult } from "./report.ts";
import type { Measurement } from "./workloads.ts";

/** How many rounds any workload may ask for. */
export const ROUNDS_MAX = 15;

export interface Slot<B> {
  broker: B;
  /** 0-based. */
  round: number;
}

/**
 * Every broker once per round, rounds one after the other; round r starts at broker r (mod the
 * count), so no broker is always first (fresh machine) or last (after the others' load).
 */
export function interleavedOrder<B>(brokers: readonly B[], rounds: number): Slot<B>[] {
  assert(Number.isInteger(rounds) && rounds >= 1 && rounds <= ROUNDS_MAX, "rounds in range");
  const order: Slot<B>[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < brokers.length; i++) {
      order.push({ broker: brokers[(round + i) % brokers.length], round });
    }
  }
  assert(order.length === brokers.length * rounds, "each broker once per round");
  return order;
}

/** The middle value; the mean of the two middle ones for an even count. */
export function median(values: readonly number[]): number {
  assert(values.length > 0, "the median of nothing");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const result =
    sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  assert(result >= sorted[0] && result <= sorted[sorted.length - 1], "median within range");
  return result;
}

/** Median of the values that are there; null when none is. */
function medianOrNull(values: readonly (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : median(present);
}

/** The round whose `key` is nearest the median: its CPU and notes stand for all. */
function representative(measurements: readonly Measurement[], key: string): Measurement {
  const middle = medianOrNull(measurements.map((m) => m.values[key] ?? null));
  let best = measurements[0];
  if (middle === null) return best;
  for (const m of measurements) {
    const value = m.values[key] ?? null;
    const bestValue = best.values[key] ?? null;
    if (value === null) continue;
    if (bestValue === null || Math.abs(value - middle) < Math.abs(bestValue - middle)) best = m;
  }
  return best;
}

/**
 * One result from a broker's rounds: each value the median of the rounds that measured it,
 * the CPU and notes of the round nearest the median of `key`, all generator runs, and the
 * figures of every round (failed ones with their error) in `extra.rounds`.
 */
export function combineRounds(results: readonly BrokerResult[], key: string): BrokerResult {
  assert(results.length > 0, "at least one round");
  if (results.length === 1) return results[0];
  const measured = results.flatMap((r) => (r.measurement === null ? [] : [r.measurement]));
  const failed = results.flatMap((r, round) =>
    r.error === null ? [] : [`round ${round + 1} failed: ${r.error}`],
  );
  if (measured.length === 0) return { measurement: null, error: failed.join("; ") };
  const keys = [...new Set(measured.flatMap((m) => Object.keys(m.values)))];
  const values = Object.fromEntries(
    keys.map((k) => [k, medianOrNull(measured.map((m) => m.values[k] ?? null))]),
  );
  const middle = representative(measured, key);
  const rounds = results.map((r) =>
    r.measurement === null
      ? { error: r.error }
      : { values: r.measurement.values, deliveredShare: r.measurement.deliveredShare },
  );
  const perRound = measured.map((m) => fixed(m.values[key] ?? null)).join(", ");
  const measurement: Measurement = {
    values,
    deliveredShare: medianOrNull(measured.map((m) => m.deliveredShare)),
    cpu: middle.cpu,
    notes: [
      `median of ${measured.length} rounds (${key}: ${perRound})`,
      ...middle.notes,
      ...failed,
    ],
    runs: measured.flatMap((m) => m.runs),
    extra: { ...middle.extra, rounds },
  };
  assert(Object.keys(measurement.values).length === keys.length, "every value combined");
  return { measurement, error: null };
}

const fixed = (value: number | null): string =>
  value === null ? "-" : String(Math.round(value * 100) / 100);
