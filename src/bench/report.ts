/**
 * What people read: the live progress line (once a second, on a terminal) and the final text
 * summary. Pure string building.
 */
import type { LatencySummary } from "./histogram.ts";
import type { Counters } from "./stats.ts";
import type { BenchSummary } from "./summary.ts";

const number = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function formatCount(value: number): string {
  return number.format(value);
}

/** 812 µs, 1.25 ms, 2.50 s. */
export function formatMicros(micros: number): string {
  if (micros < 1000) return `${Math.round(micros)} µs`;
  if (micros < 1_000_000) return `${(micros / 1000).toFixed(2)} ms`;
  return `${(micros / 1_000_000).toFixed(2)} s`;
}

/** 512 B/s, 1.5 MB/s (decimal units, like network throughput). */
export function formatBytesPerSecond(bytesPerSecond: number): string {
  if (bytesPerSecond < 1000) return `${Math.round(bytesPerSecond)} B/s`;
  if (bytesPerSecond < 1e6) return `${(bytesPerSecond / 1e3).toFixed(1)} kB/s`;
  if (bytesPerSecond < 1e9) return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
  return `${(bytesPerSecond / 1e9).toFixed(2)} GB/s`;
}

export function formatLatency(latency: LatencySummary | null): string {
  if (latency === null) return "none measured";
  return [
    `p50 ${formatMicros(latency.p50)}`,
    `p90 ${formatMicros(latency.p90)}`,
    `p99 ${formatMicros(latency.p99)}`,
    `p99.9 ${formatMicros(latency.p999)}`,
    `max ${formatMicros(latency.max)}`,
    `(${formatCount(latency.count)} samples)`,
  ].join("  ");
}

/** `[  3s] conn 8/8  sent 123,456 (41,152/s)  recv 120,000 (40,000/s)  errors 0` */
export function progressLine(
  elapsedSeconds: number,
  clientCount: number,
  now: Counters,
  before: Counters,
  intervalSeconds: number,
): string {
  const rate = (current: number, previous: number): string =>
    formatCount(intervalSeconds > 0 ? (current - previous) / intervalSeconds : 0);
  const parts = [`[${String(Math.round(elapsedSeconds)).padStart(4)}s]`];
  parts.push(`conn ${formatCount(now.connectedCount - now.lostCount)}/${formatCount(clientCount)}`);
  if (now.sentCount > 0) {
    parts.push(`sent ${formatCount(now.sentCount)} (${rate(now.sentCount, before.sentCount)}/s)`);
  }
  if (now.ackedCount > 0) parts.push(`acked ${formatCount(now.ackedCount)}`);
  if (now.receivedCount > 0) {
    parts.push(
      `recv ${formatCount(now.receivedCount)} (${rate(now.receivedCount, before.receivedCount)}/s)`,
    );
  }
  parts.push(`errors ${formatCount(now.errorCount)}`);
  return parts.join("  ");
}

function plural(count: number, noun: string): string {
  return `${formatCount(count)} ${noun}${count === 1 ? "" : "s"}`;
}

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

function errorLines(summary: BenchSummary): string[] {
  const entries = Object.entries(summary.errors);
  if (entries.length === 0) return ["errors    none"];
  return entries.map(
    ([kind, count], i) => `${i === 0 ? "errors    " : "          "}${formatCount(count)}  ${kind}`,
  );
}

export function formatSummary(summary: BenchSummary): string {
  const lines = [
    headline(summary),
    ...connectLines(summary),
    ...publishLines(summary),
    ...receiveLines(summary),
    ...errorLines(summary),
  ];
  return `${lines.join("\n")}\n`;
}
