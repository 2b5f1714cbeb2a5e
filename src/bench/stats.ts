/**
 * What one worker counts, how the counts of all workers add up, and the messages the main thread
 * and the workers exchange.
 */
import { createHistogram, type Histogram } from "./histogram.ts";
import type { BenchOptions } from "./options.ts";

/** Error kinds one worker keeps apart; any further kinds are counted under OTHER_ERROR_KIND. */
export const ERROR_KINDS_MAX = 64;
export const OTHER_ERROR_KIND = "other";

export interface Counters {
  connectAttemptedCount: number;
  connectedCount: number;
  connectFailedCount: number;
  /** Connected clients whose connection ended without us closing it. */
  lostCount: number;
  subscribedCount: number;
  subscribeFailedCount: number;
  /** PUBLISH packets handed to sockets. */
  sentCount: number;
  /** QoS 1/2 publishes whose flow completed (PUBACK, or PUBCOMP). */
  ackedCount: number;
  receivedCount: number;
  receivedPayloadBytes: number;
  /** Publishers that will send no more (count reached, or connection gone). */
  publishersDoneCount: number;
  /** What the subscribers should have received for what was sent; -1 when unknown. */
  expectedReceivedCount: number;
  errorCount: number;
  /** Microseconds since the epoch; 0 = not yet. */
  firstConnectMicros: number;
  lastConnectMicros: number;
  firstReceiveMicros: number;
  lastReceiveMicros: number;
}

export function emptyCounters(): Counters {
  return {
    connectAttemptedCount: 0,
    connectedCount: 0,
    connectFailedCount: 0,
    lostCount: 0,
    subscribedCount: 0,
    subscribeFailedCount: 0,
    sentCount: 0,
    ackedCount: 0,
    receivedCount: 0,
    receivedPayloadBytes: 0,
    publishersDoneCount: 0,
    expectedReceivedCount: 0,
    errorCount: 0,
    firstConnectMicros: 0,
    lastConnectMicros: 0,
    firstReceiveMicros: 0,
    lastReceiveMicros: 0,
  };
}

function earliest(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

/** The counters of all workers together. */
export function sumCounters(parts: readonly Counters[]): Counters {
  const total = emptyCounters();
  for (const part of parts) {
    total.connectAttemptedCount += part.connectAttemptedCount;
    total.connectedCount += part.connectedCount;
    total.connectFailedCount += part.connectFailedCount;
    total.lostCount += part.lostCount;
    total.subscribedCount += part.subscribedCount;
    total.subscribeFailedCount += part.subscribeFailedCount;
    total.sentCount += part.sentCount;
    total.ackedCount += part.ackedCount;
    total.receivedCount += part.receivedCount;
    total.receivedPayloadBytes += part.receivedPayloadBytes;
    total.publishersDoneCount += part.publishersDoneCount;
    total.expectedReceivedCount =
      total.expectedReceivedCount < 0 || part.expectedReceivedCount < 0
        ? -1
        : total.expectedReceivedCount + part.expectedReceivedCount;
    total.errorCount += part.errorCount;
    total.firstConnectMicros = earliest(total.firstConnectMicros, part.firstConnectMicros);
    total.lastConnectMicros = Math.max(total.lastConnectMicros, part.lastConnectMicros);
    total.firstReceiveMicros = earliest(total.firstReceiveMicros, part.firstReceiveMicros);
    total.lastReceiveMicros = Math.max(total.lastReceiveMicros, part.lastReceiveMicros);
  }
  return total;
}

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

/** One worker's counters, errors and histograms: everything the publishers and subscribers touch. */
export class WorkerStats {
  readonly counters: Counters = emptyCounters();
  readonly errors = new Map<string, number>();
  readonly latency: Histogram = createHistogram();
  readonly ackLatency: Histogram = createHistogram();
  readonly connectLatency: Histogram = createHistogram();

  error(kind: string, count = 1): void {
    this.counters.errorCount += count;
    addError(this.errors, kind, count);
  }
}

/** Consecutive client indexes. */
export interface IndexRange {
  first: number;
  count: number;
}

/** What one worker is asked to do (its workerData). */
export interface WorkerPlan {
  workerIndex: number;
  options: BenchOptions;
  connections: IndexRange;
  publishers: IndexRange;
  subscribers: IndexRange;
  /** This worker's share of --conn-rate; 0 = as fast as possible. */
  connRatePerSecond: number;
  /** The connect phase ends after this long, whatever is still pending. */
  connectPhaseMs: number;
}

export type CoordinatorMessage =
  | { type: "connect" }
  | { type: "subscribe" }
  | { type: "publish" }
  | { type: "stop" }
  | { type: "poll" }
  | { type: "close" };

export interface WorkerResult {
  counters: Counters;
  errors: Record<string, number>;
  latency: string | null;
  ackLatency: string | null;
  connectLatency: string | null;
}

export type WorkerMessage =
  /** Loaded and set up: waiting for "connect", so that all workers start together. */
  | { type: "ready"; counters: Counters }
  | { type: "connected"; counters: Counters }
  | { type: "subscribed"; counters: Counters }
  /** Every publisher of the worker will send no more and has its acks (or lost its connection). */
  | { type: "published"; counters: Counters }
  | { type: "progress"; counters: Counters }
  | { type: "final"; result: WorkerResult };
