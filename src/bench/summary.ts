/**
 * The result of a run, built from the workers' merged counters and histograms: what `--json`
 * prints, and what the text report and the exit status are made from. Pure.
 */
import { type LatencySummary, mergeEncoded, summarize } from "./histogram.ts";
import type { BenchCommand } from "./option-specs.ts";
import type { BenchOptions } from "./options.ts";
import { mergeErrors } from "./shared/stats.ts";
import {
  type ExitVerdict,
  errorTotal,
  perSecond,
  rounded,
  seconds,
  sortedErrors,
  verdictOf,
} from "./shared/summary.ts";
import { type Counters, sumCounters, type WorkerResult } from "./stats.ts";

export interface ConnectSummary {
  clientCount: number;
  attemptedCount: number;
  connectedCount: number;
  failedCount: number;
  /** Connected, then closed by the broker or the network before the end of the run. */
  lostCount: number;
  /** Successful connections per second, from the first attempt to the last CONNACK. */
  ratePerSecond: number | null;
  latencyMicros: LatencySummary | null;
}

export interface PublishSummary {
  publisherCount: number;
  sentCount: number;
  /** QoS 1/2: flows completed (PUBACK, or PUBCOMP). */
  ackedCount: number;
  durationSeconds: number;
  messagesPerSecond: number;
  throughputBytesPerSecond: number;
  /** QoS 1/2: PUBLISH to PUBACK (QoS 1) or PUBCOMP (QoS 2). */
  ackLatencyMicros: LatencySummary | null;
}

export interface ReceiveSummary {
  subscriberCount: number;
  subscribedCount: number;
  receivedCount: number;
  /** pubsub: what the subscriptions should deliver for what was sent; null when unknown. */
  expectedCount: number | null;
  /** From the first message received to the last. */
  durationSeconds: number;
  messagesPerSecond: number;
  throughputBytesPerSecond: number;
  /** Send time (in the payload) to arrival, for payloads carrying the bench header. */
  latencyMicros: LatencySummary | null;
}

export interface BenchSummary {
  command: BenchCommand;
  ok: boolean;
  interrupted: boolean;
  host: string;
  port: number;
  protocolVersion: number;
  qos: number;
  payloadSizeBytes: number;
  workerCount: number;
  elapsedSeconds: number;
  connect: ConnectSummary;
  publish: PublishSummary | null;
  receive: ReceiveSummary | null;
  errorCount: number;
  /** Failures by kind (`connect:ECONNREFUSED`, `lost:closed`, ...). */
  errors: Record<string, number>;
}

/** Times the main thread took, in microseconds since the epoch (0 = that phase did not run). */
export interface Timeline {
  startMicros: number;
  publishStartMicros: number;
  publishEndMicros: number;
  endMicros: number;
}

export interface RunOutcome {
  results: ReadonlyArray<WorkerResult | null>;
  /** The latest counters of every worker (its final ones if it sent them). */
  counters: readonly Counters[];
  /** Errors the main thread saw itself (workers that failed or did not answer). */
  coordinatorErrors: ReadonlyMap<string, number>;
  timeline: Timeline;
  interrupted: boolean;
}

export function buildSummary(options: BenchOptions, outcome: RunOutcome): BenchSummary {
  const totals = sumCounters(outcome.counters);
  const results = outcome.results.filter((r): r is WorkerResult => r !== null);
  const errors = mergeErrors(results.map((r) => r.errors));
  for (const [kind, count] of outcome.coordinatorErrors)
    errors.set(kind, (errors.get(kind) ?? 0) + count);
  const errorCount = errorTotal(errors);
  const connectSpan = seconds(totals.firstConnectMicros, totals.lastConnectMicros);
  const clientCount = options.connectionCount + options.publisherCount + options.subscriberCount;
  const { timeline } = outcome;
  return {
    command: options.command,
    ok: errorCount === 0,
    interrupted: outcome.interrupted,
    host: options.host,
    port: options.port,
    protocolVersion: options.protocolVersion,
    qos: options.qos,
    payloadSizeBytes: options.payloadSizeBytes,
    workerCount: options.workerCount,
    elapsedSeconds: rounded(seconds(timeline.startMicros, timeline.endMicros)),
    connect: {
      clientCount,
      attemptedCount: totals.connectAttemptedCount,
      connectedCount: totals.connectedCount,
      failedCount: totals.connectFailedCount,
      lostCount: totals.lostCount,
      ratePerSecond: connectSpan > 0 ? perSecond(totals.connectedCount, connectSpan) : null,
      latencyMicros: summarize(mergeEncoded(results.map((r) => r.connectLatency))),
    },
    publish:
      options.publisherCount === 0 ? null : publishSummary(options, totals, results, timeline),
    receive: options.subscriberCount === 0 ? null : receiveSummary(options, totals, results),
    errorCount,
    errors: sortedErrors(errors),
  };
}

function publishSummary(
  options: BenchOptions,
  totals: Counters,
  results: readonly WorkerResult[],
  timeline: Timeline,
): PublishSummary {
  const duration = seconds(timeline.publishStartMicros, timeline.publishEndMicros);
  return {
    publisherCount: options.publisherCount,
    sentCount: totals.sentCount,
    ackedCount: totals.ackedCount,
    durationSeconds: rounded(duration),
    messagesPerSecond: perSecond(totals.sentCount, duration),
    throughputBytesPerSecond: perSecond(totals.sentCount * options.payloadSizeBytes, duration),
    ackLatencyMicros:
      options.qos === 0 ? null : summarize(mergeEncoded(results.map((r) => r.ackLatency))),
  };
}

function receiveSummary(
  options: BenchOptions,
  totals: Counters,
  results: readonly WorkerResult[],
): ReceiveSummary {
  const duration = seconds(totals.firstReceiveMicros, totals.lastReceiveMicros);
  return {
    subscriberCount: options.subscriberCount,
    subscribedCount: totals.subscribedCount,
    receivedCount: totals.receivedCount,
    expectedCount: totals.expectedReceivedCount < 0 ? null : totals.expectedReceivedCount,
    durationSeconds: rounded(duration),
    messagesPerSecond: perSecond(totals.receivedCount, duration),
    throughputBytesPerSecond: perSecond(totals.receivedPayloadBytes, duration),
    latencyMicros: summarize(mergeEncoded(results.map((r) => r.latency))),
  };
}

export function verdict(summary: BenchSummary): ExitVerdict {
  const { connect } = summary;
  return verdictOf(summary, (top) =>
    connect.failedCount > 0
      ? `${connect.failedCount} of ${connect.clientCount} clients could not connect (${top})`
      : null,
  );
}
