/**
 * The result of a Kafka run, built from the workers' merged counters and histograms: what
 * `--json` prints, and what the text report and the exit status are made from. Pure.
 */
import { type LatencySummary, mergeEncoded, summarize } from "../histogram.ts";
import { addError, mergeErrors } from "../shared/stats.ts";
import {
  type ExitVerdict,
  errorTotal,
  perSecond,
  rounded,
  seconds,
  sortedErrors,
  verdictOf,
} from "../shared/summary.ts";
import type { TopicLayout } from "./admin.ts";
import type { KafkaCommand } from "./option-specs.ts";
import type { Acks, KafkaBenchOptions, KafkaCompression } from "./options.ts";
import { expectedRecords, type KafkaCounters, type KafkaWorkerResult } from "./stats.ts";

export interface KafkaProduceSummary {
  producerCount: number;
  sentRecordCount: number;
  sentBatchCount: number;
  /** Acknowledged as stored (acks 1, -1); 0 with acks 0. */
  ackedRecordCount: number;
  /** Answered with an error. */
  refusedRecordCount: number;
  /** From the start of the run phase to the last answer (acks 0: the last send). */
  durationSeconds: number;
  /** Acknowledged (acks 0: sent) records per second over durationSeconds. */
  recordsPerSecond: number;
  throughputBytesPerSecond: number;
  /** Produce request written to its answer, one sample per batch. */
  ackLatencyMicros: LatencySummary | null;
}

export interface KafkaConsumeSummary {
  consumerCount: number;
  receivedRecordCount: number;
  /** What should have been read: what was stored in this run, or the backlog; null = unknown. */
  expectedRecordCount: number | null;
  /** From the start of the run phase to the last record read. */
  durationSeconds: number;
  recordsPerSecond: number;
  throughputBytesPerSecond: number;
  /** Send time in the record value to its arrival, for values carrying the bench header. */
  latencyMicros: LatencySummary | null;
}

export interface KafkaBenchSummary {
  command: KafkaCommand;
  ok: boolean;
  interrupted: boolean;
  host: string;
  port: number;
  topic: string;
  /** null when set-up failed before the topic was found. */
  partitionCount: number | null;
  topicCreated: boolean;
  acks: Acks;
  compression: KafkaCompression;
  recordSizeBytes: number;
  batchRecordCount: number;
  lingerMs: number;
  workerCount: number;
  elapsedSeconds: number;
  connect: {
    clientCount: number;
    connectedCount: number;
    failedCount: number;
    lostCount: number;
    latencyMicros: LatencySummary | null;
  };
  produce: KafkaProduceSummary | null;
  consume: KafkaConsumeSummary | null;
  errorCount: number;
  errors: Record<string, number>;
}

/** Microseconds since the epoch; 0 = that phase did not run. */
export interface KafkaTimeline {
  startMicros: number;
  runStartMicros: number;
  endMicros: number;
}

export interface KafkaRunOutcome {
  layout: TopicLayout | null;
  /** The error kind that stopped the set-up, if it failed. */
  setupError: string | null;
  results: readonly KafkaWorkerResult[];
  /** Every worker's latest counters added up; null when no worker ran. */
  counters: KafkaCounters | null;
  coordinatorErrors: ReadonlyMap<string, number>;
  timeline: KafkaTimeline;
  interrupted: boolean;
}

/** consume without --follow or --count reads a known backlog. */
function backlogRecords(options: KafkaBenchOptions, layout: TopicLayout): number | null {
  if (options.follow || options.recordCountPerClient !== null) return null;
  let total = 0;
  for (let p = 0; p < layout.partitionCount; p++) {
    total += layout.latestOffsets[p] - layout.earliestOffsets[p];
  }
  return total * options.passes;
}

export function buildKafkaSummary(
  options: KafkaBenchOptions,
  outcome: KafkaRunOutcome,
): KafkaBenchSummary {
  const { timeline, layout } = outcome;
  const totals = outcome.counters;
  const errors = mergeErrors(outcome.results.map((r) => r.errors));
  for (const [kind, count] of outcome.coordinatorErrors) addError(errors, kind, count);
  if (outcome.setupError !== null) addError(errors, outcome.setupError);
  const expected =
    totals === null || layout === null
      ? null
      : options.command === "produce"
        ? expectedRecords(options, totals)
        : backlogRecords(options, layout);
  const missing =
    totals === null || expected === null || options.consumerCount === 0
      ? 0
      : expected - totals.receivedRecordCount;
  // acks 0 promises nothing, so records it lost are a measurement, not an error.
  if (
    missing > 0 &&
    !outcome.interrupted &&
    (options.acks !== 0 || options.command === "consume")
  ) {
    addError(errors, "consume:records not read", missing);
  }
  const errorCount = errorTotal(errors);
  const latency = (pick: (r: KafkaWorkerResult) => string | null) =>
    summarize(mergeEncoded(outcome.results.map(pick)));
  const runStart = timeline.runStartMicros;
  let produce: KafkaProduceSummary | null = null;
  if (options.producerCount > 0) {
    const duration = seconds(runStart, totals?.lastProducedMicros ?? 0);
    const records =
      totals === null ? 0 : options.acks === 0 ? totals.sentRecordCount : totals.ackedRecordCount;
    produce = {
      producerCount: options.producerCount,
      sentRecordCount: totals?.sentRecordCount ?? 0,
      sentBatchCount: totals?.sentBatchCount ?? 0,
      ackedRecordCount: totals?.ackedRecordCount ?? 0,
      refusedRecordCount: totals?.refusedRecordCount ?? 0,
      durationSeconds: rounded(duration),
      recordsPerSecond: perSecond(records, duration),
      throughputBytesPerSecond: perSecond(records * options.recordSizeBytes, duration),
      ackLatencyMicros: options.acks === 0 ? null : latency((r) => r.ackLatency),
    };
  }
  let consume: KafkaConsumeSummary | null = null;
  if (options.consumerCount > 0) {
    const duration = seconds(runStart, totals?.lastReceiveMicros ?? 0);
    const received = totals?.receivedRecordCount ?? 0;
    consume = {
      consumerCount: options.consumerCount,
      receivedRecordCount: received,
      expectedRecordCount: expected,
      durationSeconds: rounded(duration),
      recordsPerSecond: perSecond(received, duration),
      throughputBytesPerSecond: perSecond(totals?.receivedValueBytes ?? 0, duration),
      latencyMicros: latency((r) => r.latency),
    };
  }
  return {
    command: options.command,
    ok: errorCount === 0,
    interrupted: outcome.interrupted,
    host: options.host,
    port: options.port,
    topic: options.topic,
    partitionCount: layout?.partitionCount ?? null,
    topicCreated: layout?.created ?? false,
    acks: options.acks,
    compression: options.compression,
    recordSizeBytes: options.recordSizeBytes,
    batchRecordCount: options.batchRecordCount,
    lingerMs: options.lingerMs,
    workerCount: options.workerCount,
    elapsedSeconds: rounded(seconds(timeline.startMicros, timeline.endMicros)),
    connect: {
      clientCount: options.producerCount + options.consumerCount,
      connectedCount: totals?.connectedCount ?? 0,
      failedCount: totals?.connectFailedCount ?? 0,
      lostCount: totals?.lostCount ?? 0,
      latencyMicros: latency((r) => r.connectLatency),
    },
    produce,
    consume,
    errorCount,
    errors: sortedErrors(errors),
  };
}

export function kafkaVerdict(summary: KafkaBenchSummary): ExitVerdict {
  const unreachable = summary.partitionCount === null || summary.connect.failedCount > 0;
  return verdictOf(summary, (top) =>
    unreachable ? `the run could not start: set-up or connections failed (${top})` : null,
  );
}
