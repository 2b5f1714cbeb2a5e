/**
 * What one worker counts in a Kafka run, how the counts of all workers add up, and the messages
 * between the main thread and the workers.
 */
import {
  type Combine,
  combineCounters,
  type IndexRange,
  type WorkerResultOf,
  WorkerStatsOf,
} from "../shared/stats.ts";
import type { TopicLayout } from "./admin.ts";
import type { KafkaBenchOptions } from "./options.ts";

export interface KafkaCounters {
  connectAttemptedCount: number;
  connectedCount: number;
  connectFailedCount: number;
  /** Connections that ended during the run without us closing them. */
  lostCount: number;
  /** Records and batches written to sockets in produce requests. */
  sentRecordCount: number;
  sentBatchCount: number;
  /** Records the broker acknowledged as stored (acks 1 and -1). */
  ackedRecordCount: number;
  /** Records the broker answered with an error. */
  refusedRecordCount: number;
  /** Produce requests written and not answered yet. */
  pendingRequestCount: number;
  receivedRecordCount: number;
  receivedValueBytes: number;
  producersDoneCount: number;
  consumersDoneCount: number;
  errorCount: number;
  /** Microseconds since the epoch; 0 = not yet. */
  lastProducedMicros: number;
  firstReceiveMicros: number;
  lastReceiveMicros: number;
}

export function emptyKafkaCounters(): KafkaCounters {
  return {
    connectAttemptedCount: 0,
    connectedCount: 0,
    connectFailedCount: 0,
    lostCount: 0,
    sentRecordCount: 0,
    sentBatchCount: 0,
    ackedRecordCount: 0,
    refusedRecordCount: 0,
    pendingRequestCount: 0,
    receivedRecordCount: 0,
    receivedValueBytes: 0,
    producersDoneCount: 0,
    consumersDoneCount: 0,
    errorCount: 0,
    lastProducedMicros: 0,
    firstReceiveMicros: 0,
    lastReceiveMicros: 0,
  };
}

const COMBINE: Readonly<Record<keyof KafkaCounters, Combine>> = {
  connectAttemptedCount: "sum",
  connectedCount: "sum",
  connectFailedCount: "sum",
  lostCount: "sum",
  sentRecordCount: "sum",
  sentBatchCount: "sum",
  ackedRecordCount: "sum",
  refusedRecordCount: "sum",
  pendingRequestCount: "sum",
  receivedRecordCount: "sum",
  receivedValueBytes: "sum",
  producersDoneCount: "sum",
  consumersDoneCount: "sum",
  errorCount: "sum",
  lastProducedMicros: "latest",
  firstReceiveMicros: "earliest",
  lastReceiveMicros: "latest",
};

export function sumKafkaCounters(parts: readonly KafkaCounters[]): KafkaCounters {
  return combineCounters(parts, emptyKafkaCounters, COMBINE);
}

/** What the consumers should have read for what was produced: acknowledged, or sent with acks 0. */
export function expectedRecords(options: KafkaBenchOptions, counters: KafkaCounters): number {
  return options.acks === 0 ? counters.sentRecordCount : counters.ackedRecordCount;
}

/** latency: produce to consume; ackLatency: produce request to its answer, one per batch. */
export class KafkaWorkerStats extends WorkerStatsOf<KafkaCounters> {
  constructor() {
    super(emptyKafkaCounters());
  }
}

/** What one worker is asked to do (its workerData). */
export interface KafkaWorkerPlan {
  workerIndex: number;
  options: KafkaBenchOptions;
  layout: TopicLayout;
  producers: IndexRange;
  consumers: IndexRange;
}

export type KafkaCoordinatorMessage =
  | { type: "connect" }
  | { type: "run" }
  | { type: "stop" }
  | { type: "poll" }
  | { type: "close" };

export type KafkaWorkerResult = WorkerResultOf<KafkaCounters>;

export type KafkaWorkerMessage =
  | { type: "ready"; counters: KafkaCounters }
  | { type: "connected"; counters: KafkaCounters }
  /** Producers reached --count (or are gone) and, for consume, consumers are done too. */
  | { type: "finished"; counters: KafkaCounters }
  | { type: "progress"; counters: KafkaCounters }
  | { type: "final"; result: KafkaWorkerResult };
