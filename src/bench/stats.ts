/**
 * What one worker counts, how the counts of all workers add up, and the messages the main thread
 * and the workers exchange.
 */
import type { BenchOptions } from "./options.ts";
import {
  type Combine,
  combineCounters,
  type IndexRange,
  type WorkerResultOf,
  WorkerStatsOf,
} from "./shared/stats.ts";

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

const COMBINE: Readonly<Record<keyof Counters, Combine>> = {
  connectAttemptedCount: "sum",
  connectedCount: "sum",
  connectFailedCount: "sum",
  lostCount: "sum",
  subscribedCount: "sum",
  subscribeFailedCount: "sum",
  sentCount: "sum",
  ackedCount: "sum",
  receivedCount: "sum",
  receivedPayloadBytes: "sum",
  publishersDoneCount: "sum",
  // Replaced below: one worker that does not know makes the total unknown.
  expectedReceivedCount: "sum",
  errorCount: "sum",
  firstConnectMicros: "earliest",
  lastConnectMicros: "latest",
  firstReceiveMicros: "earliest",
  lastReceiveMicros: "latest",
};

/** The counters of all workers together. */
export function sumCounters(parts: readonly Counters[]): Counters {
  const total = combineCounters(parts, emptyCounters, COMBINE);
  if (parts.some((part) => part.expectedReceivedCount < 0)) total.expectedReceivedCount = -1;
  return total;
}

/** One worker's counters, errors and histograms: everything the publishers and subscribers touch. */
export class WorkerStats extends WorkerStatsOf<Counters> {
  constructor() {
    super(emptyCounters());
  }
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

export type WorkerResult = WorkerResultOf<Counters>;

export type WorkerMessage =
  /** Loaded and set up: waiting for "connect", so that all workers start together. */
  | { type: "ready"; counters: Counters }
  | { type: "connected"; counters: Counters }
  | { type: "subscribed"; counters: Counters }
  /** Every publisher of the worker will send no more and has its acks (or lost its connection). */
  | { type: "published"; counters: Counters }
  | { type: "progress"; counters: Counters }
  | { type: "final"; result: WorkerResult };
