/**
 * What one worker counts in a Kafka run, how the counts of all workers add up, and the messages
 * between the main thread and the workers.
 */
import { createHistogram, type Histogram } from "../histogram.ts";
import { addError } from "../stats.ts";
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

function earliest(a: number, b: number): number {
  if (a === 0) return b;
  if (b === 0) return a;
  return Math.min(a, b);
}

export function sumKafkaCounters(parts: readonly KafkaCounters[]): KafkaCounters {
  const total = emptyKafkaCounters();
  for (const part of parts) {
    total.connectAttemptedCount += part.connectAttemptedCount;
    total.connectedCount += part.connectedCount;
    total.connectFailedCount += part.connectFailedCount;
    total.lostCount += part.lostCount;
    total.sentRecordCount += part.sentRecordCount;
    total.sentBatchCount += part.sentBatchCount;
    total.ackedRecordCount += part.ackedRecordCount;
    total.refusedRecordCount += part.refusedRecordCount;
    total.pendingRequestCount += part.pendingRequestCount;
    total.receivedRecordCount += part.receivedRecordCount;
    total.receivedValueBytes += part.receivedValueBytes;
    total.producersDoneCount += part.producersDoneCount;
    total.consumersDoneCount += part.consumersDoneCount;
    total.errorCount += part.errorCount;
    total.lastProducedMicros = Math.max(total.lastProducedMicros, part.lastProducedMicros);
    total.firstReceiveMicros = earliest(total.firstReceiveMicros, part.firstReceiveMicros);
    total.lastReceiveMicros = Math.max(total.lastReceiveMicros, part.lastReceiveMicros);
  }
  return total;
}

/** What the consumers should have read for what was produced: acknowledged, or sent with acks 0. */
export function expectedRecords(options: KafkaBenchOptions, counters: KafkaCounters): number {
  return options.acks === 0 ? counters.sentRecordCount : counters.ackedRecordCount;
}

export class KafkaWorkerStats {
  readonly counters: KafkaCounters = emptyKafkaCounters();
  readonly errors = new Map<string, number>();
  /** Produce to consume: send time in the record value to its arrival at a consumer. */
  readonly latency: Histogram = createHistogram();
  /** Produce request written to its answer (acks 1 and -1), one sample per batch. */
  readonly ackLatency: Histogram = createHistogram();
  readonly connectLatency: Histogram = createHistogram();

  error(kind: string, count = 1): void {
    this.counters.errorCount += count;
    addError(this.errors, kind, count);
  }
}

export interface IndexRange {
  first: number;
  count: number;
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

export interface KafkaWorkerResult {
  counters: KafkaCounters;
  errors: Record<string, number>;
  latency: string | null;
  ackLatency: string | null;
  connectLatency: string | null;
}

export type KafkaWorkerMessage =
  | { type: "ready"; counters: KafkaCounters }
  | { type: "connected"; counters: KafkaCounters }
  /** Producers reached --count (or are gone) and, for consume, consumers are done too. */
  | { type: "finished"; counters: KafkaCounters }
  | { type: "progress"; counters: KafkaCounters }
  | { type: "final"; result: KafkaWorkerResult };
