/**
 * The parts of a worker's bookkeeping that do not depend on the protocol under load: bounded
 * error counts, the histograms every worker keeps, the result it hands over at the end, and
 * adding up counters from all workers.
 */
import { createHistogram, encodeHistogram, type Histogram } from "../histogram.ts";

/** Error kinds one worker keeps apart; any further kinds are counted under OTHER_ERROR_KIND. */
export const ERROR_KINDS_MAX = 64;
export const OTHER_ERROR_KIND = "other";

/** Error counts by kind, bounded (ERROR_KINDS_MAX kinds, then OTHER_ERROR_KIND). */
export function addError(errors: Map<string, number>, kind: string, count = 1): void {
  const known = errors.has(kind) || errors.size < ERROR_KINDS_MAX;
  const key = known ? kind : OTHER_ERROR_KIND;
  errors.set(key, (errors.get(key) ?? 0) + count);
}

export function mergeErrors(parts: ReadonlyArray<Record<string, number>>): Map<string, number> {
  const total = new Map<string, number>();
  for (const part of parts) {
    for (const [kind, count] of Object.entries(part))
      total.set(kind, (total.get(kind) ?? 0) + count);
  }
  return total;
}

/**
 * How one counter of all workers adds up: a count is summed; a timestamp (microseconds since the
 * epoch, 0 = not yet) keeps the earliest or the latest that happened.
 */
export type Combine = "sum" | "earliest" | "latest";

function earliest(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

/** Adds up `parts` counter by counter, each as `how` says. */
export function combineCounters<C extends { [K in keyof C]: number }>(
  parts: readonly C[],
  empty: () => C,
  how: { readonly [K in keyof C]: Combine },
): C {
  const total = empty();
  const keys = Object.keys(how) as Array<keyof C>;
  for (const part of parts) {
    for (const key of keys) {
      const a = total[key] as number;
      const b = part[key] as number;
      const rule = how[key];
      const value = rule === "sum" ? a + b : rule === "earliest" ? earliest(a, b) : Math.max(a, b);
      total[key] = value as C[typeof key];
    }
  }
  return total;
}

/** Consecutive client indexes. */
export interface IndexRange {
  first: number;
  count: number;
}

/** What a worker hands over when it closes: its counters, errors and encoded histograms. */
export interface WorkerResultOf<C> {
  counters: C;
  errors: Record<string, number>;
  latency: string | null;
  ackLatency: string | null;
  connectLatency: string | null;
}

/** One worker's counters, errors and histograms: everything its clients touch. */
export class WorkerStatsOf<C extends { errorCount: number }> {
  readonly counters: C;
  readonly errors = new Map<string, number>();
  /** Send time carried in a message to its arrival at a receiving client. */
  readonly latency: Histogram = createHistogram();
  /** A send to the broker's acknowledgement of it. */
  readonly ackLatency: Histogram = createHistogram();
  readonly connectLatency: Histogram = createHistogram();

  constructor(counters: C) {
    this.counters = counters;
  }

  error(kind: string, count = 1): void {
    this.counters.errorCount += count;
    addError(this.errors, kind, count);
  }

  /** The final report, with `counters` as they stood when the worker closed. */
  result(counters: C): WorkerResultOf<C> {
    return {
      counters,
      errors: Object.fromEntries(this.errors),
      latency: encodeHistogram(this.latency),
      ackLatency: encodeHistogram(this.ackLatency),
      connectLatency: encodeHistogram(this.connectLatency),
    };
  }
}
