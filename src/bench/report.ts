/**
 * What people read: the live progress line (once a second, on a terminal) and the final text
 * summary. Pure string building.
 */
import {
  errorLines,
  formatBytesPerSecond,
  formatCount,
  formatLatency,
  plural,
} from "./shared/format.ts";
import type { BenchSummary } from "./summary.ts";

/** `[  3s] conn 8/8  sent 123,456 (41,152/s)  recv 120,000 (40,000/s)  errors 0` */
export { formatProgress as progressLine } from "./shared/format.ts";

function headline(summary: BenchSummary): string {
  const target = `${summary.host}:${summary.port}, MQTT ${summary.protocolVersion === 5 ? "5" : summary.protocolVersion === 4 ? "3.1.1" : "3.1"}`;
  const clients =
    summary.command === "pubsub"
      ? `${plural(summary.publish?.publisherCount ?? 0, "publisher")} -> ${plural(summary.receive?.subscriberCount ?? 0, "subscriber")}`
      : plural(summary.connect.clientCount, "client");
  const messages = summary.command === "conn" ? "" : `, QoS ${summary.qos}`;
  const payload = summary.publish === null ? "" : `, ${summary.payloadSizeBytes}-byte payloads`;
  const workers = plural(summary.workerCount, "worker");
  return `bench mqtt ${summary.command} against ${target}: ${clients}${messages}${payload}, ${workers}, ${summary.elapsedSeconds.toFixed(1)} s${summary.interrupted ? " (interrupted)" : ""}`;
}

function connectLines(summary: BenchSummary): string[] {
  const c = summary.connect;
  const rate = c.ratePerSecond === null ? "" : `, ${formatCount(c.ratePerSecond)} conn/s`;
  const lost = c.lostCount > 0 ? `, ${formatCount(c.lostCount)} lost later` : "";
  return [
    `connect   ${formatCount(c.connectedCount)}/${formatCount(c.clientCount)} connected, ${formatCount(c.failedCount)} failed${lost}${rate}`,
    `          latency  ${formatLatency(c.latencyMicros)}`,
  ];
}

function publishLines(summary: BenchSummary): string[] {
  const p = summary.publish;
  if (p === null) return [];
  const acked = summary.qos > 0 ? `, ${formatCount(p.ackedCount)} acknowledged` : "";
  const lines = [
    `publish   ${formatCount(p.sentCount)} sent in ${p.durationSeconds.toFixed(2)} s: ${formatCount(p.messagesPerSecond)} msg/s, ${formatBytesPerSecond(p.throughputBytesPerSecond)}${acked}`,
  ];
  if (summary.qos > 0) lines.push(`          ack latency  ${formatLatency(p.ackLatencyMicros)}`);
  return lines;
}

function receiveLines(summary: BenchSummary): string[] {
  const r = summary.receive;
  if (r === null) return [];
  const expected = r.expectedCount === null ? "" : ` of ${formatCount(r.expectedCount)} expected`;
  const failed =
    r.subscribedCount < r.subscriberCount
      ? ` (${r.subscribedCount}/${r.subscriberCount} subscribed)`
      : "";
  return [
    `receive   ${formatCount(r.receivedCount)}${expected} received${failed}: ${formatCount(r.messagesPerSecond)} msg/s, ${formatBytesPerSecond(r.throughputBytesPerSecond)}`,
    `          latency  ${formatLatency(r.latencyMicros)}`,
  ];
}

export function formatSummary(summary: BenchSummary): string {
  const lines = [
    headline(summary),
    ...connectLines(summary),
    ...publishLines(summary),
    ...receiveLines(summary),
    ...errorLines(summary.errors),
  ];
  return `${lines.join("\n")}\n`;
}
