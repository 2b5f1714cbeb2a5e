/**
 * The number and line formats both load generators print, so that their progress lines and
 * summaries read alike. Pure string building.
 */
import type { LatencySummary } from "../histogram.ts";

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

export function plural(count: number, noun: string): string {
  return `${formatCount(count)} ${noun}${count === 1 ? "" : "s"}`;
}

/** The summary's last lines: each error kind with its count, or "none". */
export function errorLines(errors: Record<string, number>): string[] {
  const entries = Object.entries(errors);
  if (entries.length === 0) return ["errors    none"];
  return entries.map(
    ([kind, count], i) => `${i === 0 ? "errors    " : "          "}${formatCount(count)}  ${kind}`,
  );
}

/** What the progress line shows of the workers' counters. */
export interface ProgressFigures {
  connectedCount: number;
  lostCount: number;
  sentCount: number;
  ackedCount: number;
  receivedCount: number;
  errorCount: number;
}

/** `[   3s]  conn 8/8  sent 123,456 (41,152/s)  acked 123,000  recv 120,000 (40,000/s)  errors 0` */
export function formatProgress(
  elapsedSeconds: number,
  clientCount: number,
  now: ProgressFigures,
  before: ProgressFigures,
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
