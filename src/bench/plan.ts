/**
 * How a run is split over worker threads, and how long its connect phase may last. Pure.
 */
import { assert } from "../errors.ts";
import { CONNECT_PHASE_SLACK_SECONDS_PER_THOUSAND } from "./limits.ts";
import type { BenchOptions } from "./options.ts";
import type { IndexRange } from "./shared/stats.ts";
import type { WorkerPlan } from "./stats.ts";

/** Part `part` of `count` items split into `parts` contiguous ranges whose sizes differ by at most 1. */
export function splitRange(count: number, parts: number, part: number): IndexRange {
  assert(parts >= 1 && part >= 0 && part < parts, `part ${part} of ${parts}`);
  const base = Math.floor(count / parts);
  const extra = count % parts;
  const first = part * base + Math.min(part, extra);
  return { first, count: base + (part < extra ? 1 : 0) };
}

export function totalClients(options: BenchOptions): number {
  return options.connectionCount + options.publisherCount + options.subscriberCount;
}

/**
 * The connect phase's deadline: the paced span (clients / --conn-rate), plus one connect timeout
 * for the last handshakes, plus some slack per thousand clients for a broker that accepts them
 * slowly.
 */
export function connectPhaseMs(options: BenchOptions): number {
  const clients = totalClients(options);
  const pacedMs = options.connRatePerSecond > 0 ? (clients / options.connRatePerSecond) * 1000 : 0;
  const slackMs = Math.max(1, clients / 1000) * CONNECT_PHASE_SLACK_SECONDS_PER_THOUSAND * 1000;
  return Math.ceil(pacedMs + options.connectTimeoutMs + slackMs);
}

/** The part of `range` that falls in [start, start + length), re-based to start at 0. */
export function intersect(range: IndexRange, start: number, length: number): IndexRange {
  const first = Math.max(range.first, start);
  const end = Math.min(range.first + range.count, start + length);
  return end > first ? { first: first - start, count: end - first } : { first: 0, count: 0 };
}

/**
 * Clients are lined up as subscribers, then publishers, then idle connections, and each worker
 * takes a contiguous share of that line: every worker has clients, and their numbers differ by
 * at most one.
 */
export function workerPlans(options: BenchOptions): WorkerPlan[] {
  const workers = options.workerCount;
  const clients = totalClients(options);
  assert(workers >= 1 && workers <= clients, `${workers} workers, ${clients} clients`);
  const phaseMs = connectPhaseMs(options);
  const subscriberEnd = options.subscriberCount;
  const publisherEnd = subscriberEnd + options.publisherCount;
  const plans: WorkerPlan[] = [];
  for (let w = 0; w < workers; w++) {
    const range = splitRange(clients, workers, w);
    plans.push({
      workerIndex: w,
      options,
      subscribers: intersect(range, 0, options.subscriberCount),
      publishers: intersect(range, subscriberEnd, options.publisherCount),
      connections: intersect(range, publisherEnd, options.connectionCount),
      connRatePerSecond: options.connRatePerSecond * (range.count / clients),
      connectPhaseMs: phaseMs,
    });
  }
  return plans;
}
