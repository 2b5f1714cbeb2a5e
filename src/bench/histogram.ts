/**
 * Latency histograms: HdrHistogram (hdr-histogram-js, pure JavaScript, no WebAssembly) with
 * microsecond values and 3 significant digits, so any percentile is within 0.1% of the exact
 * value. Each worker records into its own histograms; they travel to the main thread in
 * HdrHistogram's compressed encoding and are added together there.
 */
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from "hdr-histogram-js";
import { assert } from "../errors.ts";
import { LATENCY_MICROS_MAX } from "./limits.ts";

export type { Histogram };

const SIGNIFICANT_DIGITS = 3;
const BUCKET_BITS = 64;

export function createHistogram(): Histogram {
  return build({
    bitBucketSize: BUCKET_BITS,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: LATENCY_MICROS_MAX,
    numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    useWebAssembly: false,
  });
}

/** Records one latency; negative values (clock steps) count as 0, huge ones as the maximum. */
export function recordMicros(histogram: Histogram, micros: number, count = 1): void {
  const value = micros <= 0 ? 0 : Math.min(micros, LATENCY_MICROS_MAX);
  if (count === 1) histogram.recordValue(Math.round(value));
  else histogram.recordValueWithCount(Math.round(value), count);
}

/** Null for an empty histogram: nothing to send, nothing to merge. */
export function encodeHistogram(histogram: Histogram): string | null {
  return histogram.totalCount === 0 ? null : encodeIntoCompressedBase64(histogram);
}

/** The sum of the encoded histograms (nulls are empty histograms). */
export function mergeEncoded(encoded: ReadonlyArray<string | null>): Histogram {
  const total = createHistogram();
  for (const text of encoded) {
    if (text === null) continue;
    const part = decodeFromCompressedBase64(text, BUCKET_BITS, false);
    total.add(part);
  }
  return total;
}

/** Latency percentiles in microseconds. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export const PERCENTILES = { p50: 50, p90: 90, p99: 99, p999: 99.9 } as const;

/** Null when nothing was recorded. */
export function summarize(histogram: Histogram): LatencySummary | null {
  const count = histogram.totalCount;
  if (count === 0) return null;
  // Percentiles are reported as the top of their bucket; the true maximum bounds them all.
  const max = histogram.maxValue;
  const at = (percentile: number): number =>
    Math.min(histogram.getValueAtPercentile(percentile), max);
  const summary: LatencySummary = {
    count,
    min: histogram.getValueAtPercentile(0),
    mean: Math.round(histogram.mean * 10) / 10,
    p50: at(PERCENTILES.p50),
    p90: at(PERCENTILES.p90),
    p99: at(PERCENTILES.p99),
    p999: at(PERCENTILES.p999),
    max,
  };
  assert(summary.p50 <= summary.p90 && summary.p90 <= summary.p99, "percentiles out of order");
  assert(summary.min <= summary.p50 && summary.p999 <= summary.max, "percentiles outside min..max");
  return summary;
}
