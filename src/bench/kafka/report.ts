/**
 * What people read of a Kafka run: the live progress line and the final text summary, in the
 * same shape as `bench mqtt`'s. Pure string building.
 */
import {
  errorLines,
  formatBytesPerSecond,
  formatCount,
  formatLatency,
  formatProgress,
  type ProgressFigures,
  plural,
} from "../shared/format.ts";
import type { KafkaCounters } from "./stats.ts";
import type { KafkaBenchSummary } from "./summary.ts";

/** `[   3s]  conn 2/2  sent 123,456 (41,152/s)  acked 123,000  recv 120,000 (40,000/s)  errors 0` */
export function kafkaProgressLine(
  elapsedSeconds: number,
  clientCount: number,
  now: KafkaCounters,
  before: KafkaCounters,
  intervalSeconds: number,
): string {
  return formatProgress(
    elapsedSeconds,
    clientCount,
    progressFigures(now),
    progressFigures(before),
    intervalSeconds,
  );
}

function progressFigures(counters: KafkaCounters): ProgressFigures {
  return {
    connectedCount: counters.connectedCount,
    lostCount: counters.lostCount,
    sentCount: counters.sentRecordCount,
    ackedCount: counters.ackedRecordCount,
    receivedCount: counters.receivedRecordCount,
    errorCount: counters.errorCount,
  };
}

function headline(s: KafkaBenchSummary): string {
  const partitions =
    s.partitionCount === null
      ? ""
      : ` (${plural(s.partitionCount, "partition")}${s.topicCreated ? ", created" : ""})`;
  const clients =
    s.produce === null
      ? plural(s.consume?.consumerCount ?? 0, "consumer")
      : `${plural(s.produce.producerCount, "producer")} -> ${plural(s.consume?.consumerCount ?? 0, "consumer")}`;
  const records =
    s.produce === null
      ? ""
      : `, ${s.recordSizeBytes}-byte records, batches of ${s.batchRecordCount}, acks ${s.acks}, ${s.compression === "none" ? "no compression" : s.compression}`;
  return `bench kafka ${s.command} against ${s.host}:${s.port}, topic ${s.topic}${partitions}: ${clients}${records}, ${plural(s.workerCount, "worker")}, ${s.elapsedSeconds.toFixed(1)} s${s.interrupted ? " (interrupted)" : ""}`;
}

function produceLines(s: KafkaBenchSummary): string[] {
  const p = s.produce;
  if (p === null) return [];
  const stored =
    s.acks === 0
      ? `${formatCount(p.sentRecordCount)} records sent (acks 0: none acknowledged)`
      : `${formatCount(p.ackedRecordCount)} of ${formatCount(p.sentRecordCount)} records acknowledged`;
  const refused = p.refusedRecordCount > 0 ? `, ${formatCount(p.refusedRecordCount)} refused` : "";
  const lines = [
    `produce   ${stored}${refused} (${plural(p.sentBatchCount, "batch").replace(/hs$/, "hes")}) in ${p.durationSeconds.toFixed(2)} s: ${formatCount(p.recordsPerSecond)} records/s, ${formatBytesPerSecond(p.throughputBytesPerSecond)}`,
  ];
  if (s.acks !== 0) lines.push(`          ack latency  ${formatLatency(p.ackLatencyMicros)}`);
  return lines;
}

function consumeLines(s: KafkaBenchSummary): string[] {
  const c = s.consume;
  if (c === null) return [];
  const expected =
    c.expectedRecordCount === null ? "" : ` of ${formatCount(c.expectedRecordCount)} expected`;
  return [
    `consume   ${formatCount(c.receivedRecordCount)}${expected} records read in ${c.durationSeconds.toFixed(2)} s: ${formatCount(c.recordsPerSecond)} records/s, ${formatBytesPerSecond(c.throughputBytesPerSecond)}`,
    `          latency  ${formatLatency(c.latencyMicros)}`,
  ];
}

export function formatKafkaSummary(s: KafkaBenchSummary): string {
  const c = s.connect;
  const lost = c.lostCount > 0 ? `, ${formatCount(c.lostCount)} lost later` : "";
  const lines = [
    headline(s),
    `connect   ${formatCount(c.connectedCount)}/${formatCount(c.clientCount)} connected, ${formatCount(c.failedCount)} failed${lost}`,
    ...produceLines(s),
    ...consumeLines(s),
    ...errorLines(s.errors),
  ];
  return `${lines.join("\n")}\n`;
}
