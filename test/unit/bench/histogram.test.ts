/**
 * Latency histograms: percentiles against a sorted-array reference, and merging across workers
 * (through the compressed encoding the workers send) against recording everything in one.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  createHistogram,
  encodeHistogram,
  mergeEncoded,
  PERCENTILES,
  recordMicros,
  summarize,
} from "../../../src/bench/histogram.ts";
import { LATENCY_MICROS_MAX } from "../../../src/bench/limits.ts";

/** The nearest-rank percentile: the value at rank ceil(p% of n), at least rank 1. */
function referencePercentile(sorted: readonly number[], percentile: number): number {
  const rank = Math.max(1, Math.ceil((percentile / 100) * sorted.length - 1e-9));
  return sorted[rank - 1];
}

/** 3 significant digits: a bucket is at most 1/1024 of its values wide, and values below 2048 exact. */
function assertClose(actual: number, reference: number, what: string): void {
  assert.ok(actual >= reference, `${what}: ${actual} < reference ${reference}`);
  assert.ok(
    actual <= reference + reference / 1024,
    `${what}: ${actual} too far above ${reference}`,
  );
}

const latencies = fc.array(
  fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 2_000_000_000 })),
  { minLength: 1, maxLength: 400 },
);

describe("percentiles match a sorted-array reference within 0.1%", () => {
  test("every reported percentile, min and max", () => {
    fc.assert(
      fc.property(latencies, (values) => {
        const histogram = createHistogram();
        for (const value of values) recordMicros(histogram, value);
        const sorted = [...values].sort((a, b) => a - b);
        const summary = summarize(histogram);
        assert.ok(summary !== null);
        assert.equal(summary.count, values.length);
        for (const [key, percentile] of Object.entries(PERCENTILES)) {
          const value = summary[key as keyof typeof PERCENTILES];
          assertClose(value, referencePercentile(sorted, percentile), key);
        }
        assertClose(summary.max, sorted[sorted.length - 1], "max");
        assert.ok(summary.min <= sorted[0] && summary.min >= sorted[0] - sorted[0] / 1024, "min");
        const mean = values.reduce((a, b) => a + b, 0) / values.length;
        assert.ok(
          Math.abs(summary.mean - mean) <= mean / 1000 + 1,
          `mean ${summary.mean} vs ${mean}`,
        );
      }),
      { numRuns: 200 },
    );
  });

  test("values below 2048 µs are exact", () => {
    const histogram = createHistogram();
    for (let value = 1; value <= 1000; value++) recordMicros(histogram, value);
    const summary = summarize(histogram);
    assert.deepEqual(
      summary && [summary.p50, summary.p90, summary.p99, summary.p999, summary.max, summary.min],
      [500, 900, 990, 999, 1000, 1],
    );
  });
});

describe("merging", () => {
  test("merged worker histograms equal one histogram of all values", () => {
    fc.assert(
      fc.property(fc.array(latencies, { minLength: 1, maxLength: 6 }), (parts) => {
        const whole = createHistogram();
        const encoded = parts.map((values) => {
          const part = createHistogram();
          for (const value of values) {
            recordMicros(part, value);
            recordMicros(whole, value);
          }
          return encodeHistogram(part);
        });
        const merged = summarize(mergeEncoded(encoded));
        // The encoding keeps buckets, not exact values: compare with the whole, encoded too.
        assert.deepEqual(merged, summarize(mergeEncoded([encodeHistogram(whole)])));
        const sorted = parts.flat().sort((a, b) => a - b);
        assert.ok(merged !== null && merged.count === sorted.length);
        for (const [key, percentile] of Object.entries(PERCENTILES)) {
          const value = merged[key as keyof typeof PERCENTILES];
          assertClose(value, referencePercentile(sorted, percentile), `merged ${key}`);
        }
        assertClose(merged.max, sorted[sorted.length - 1], "merged max");
      }),
      { numRuns: 100 },
    );
  });

  test("empty histograms encode as null and merge to nothing", () => {
    assert.equal(encodeHistogram(createHistogram()), null);
    assert.equal(summarize(mergeEncoded([null, null])), null);
    assert.equal(summarize(mergeEncoded([])), null);
  });
});

test("out-of-range latencies are clamped, fractions rounded", () => {
  const histogram = createHistogram();
  recordMicros(histogram, -25); // a clock step: counted as 0
  recordMicros(histogram, 10 * LATENCY_MICROS_MAX);
  recordMicros(histogram, 41.6);
  const summary = summarize(histogram);
  assert.ok(summary !== null);
  assert.equal(summary.count, 3);
  assert.equal(summary.min, 0);
  assertClose(summary.max, LATENCY_MICROS_MAX, "max");
  assert.equal(summary.p50, 42);
});
