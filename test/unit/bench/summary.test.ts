/** The summary built from worker results, its text form, the progress line and the exit verdict. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createHistogram, encodeHistogram, recordMicros } from "../../../src/bench/histogram.ts";
import type { BenchCommand, RawBenchFlags } from "../../../src/bench/option-specs.ts";
import { parseBenchOptions } from "../../../src/bench/options.ts";
import { formatSummary, progressLine } from "../../../src/bench/report.ts";
import { formatBytesPerSecond, formatMicros } from "../../../src/bench/shared/format.ts";
import {
  type Counters,
  emptyCounters,
  sumCounters,
  type WorkerResult,
} from "../../../src/bench/stats.ts";
import { buildSummary, verdict } from "../../../src/bench/summary.ts";
import { ErrorCode } from "../../../src/errors.ts";

const SECOND = 1_000_000;
const T0 = 1.7e15;

function options(command: BenchCommand, flags: RawBenchFlags = {}) {
  return parseBenchOptions(command, flags, { cpuCount: 2, pid: 1, readFile: () => "" });
}

function encoded(values: number[]): string | null {
  const histogram = createHistogram();
  for (const value of values) recordMicros(histogram, value);
  return encodeHistogram(histogram);
}

function result(counters: Partial<Counters>, errors: Record<string, number> = {}): WorkerResult {
  return {
    counters: { ...emptyCounters(), ...counters },
    errors,
    latency: encoded([100, 200, 300]),
    ackLatency: null,
    connectLatency: encoded([1000]),
  };
}

describe("buildSummary", () => {
  const pubsub = options("pubsub", { publishers: "2", subscribers: "2", qos: "1" });
  const workers = [
    result({
      connectAttemptedCount: 2,
      connectedCount: 2,
      sentCount: 1000,
      ackedCount: 1000,
      subscribedCount: 1,
      receivedCount: 400,
      receivedPayloadBytes: 400 * 64,
      expectedReceivedCount: 1000,
      firstConnectMicros: T0,
      lastConnectMicros: T0 + SECOND / 10,
      firstReceiveMicros: T0 + SECOND,
      lastReceiveMicros: T0 + 3 * SECOND,
    }),
    result({
      connectAttemptedCount: 2,
      connectedCount: 2,
      sentCount: 1000,
      ackedCount: 1000,
      subscribedCount: 1,
      receivedCount: 1600,
      receivedPayloadBytes: 1600 * 64,
      expectedReceivedCount: 1000,
      firstReceiveMicros: T0 + 2 * SECOND,
      lastReceiveMicros: T0 + 2.5 * SECOND,
    }),
  ];
  const summary = buildSummary(pubsub, {
    results: workers,
    counters: workers.map((w) => w.counters),
    coordinatorErrors: new Map(),
    timeline: {
      startMicros: T0,
      publishStartMicros: T0 + SECOND,
      publishEndMicros: T0 + 3 * SECOND,
      endMicros: T0 + 4 * SECOND,
    },
    interrupted: false,
  });

  test("counts add up across workers; rates use each side's own window", () => {
    assert.equal(summary.ok, true);
    assert.equal(summary.elapsedSeconds, 4);
    assert.equal(summary.connect.connectedCount, 4);
    assert.equal(summary.connect.ratePerSecond, 40, "4 connections in 0.1 s");
    assert.equal(summary.publish?.sentCount, 2000);
    assert.equal(summary.publish?.messagesPerSecond, 1000);
    assert.equal(summary.publish?.throughputBytesPerSecond, 64_000);
    assert.equal(summary.receive?.receivedCount, 2000);
    assert.equal(summary.receive?.expectedCount, 2000);
    assert.equal(summary.receive?.messagesPerSecond, 1000, "2000 between first and last arrival");
  });

  test("latency histograms of all workers are merged", () => {
    assert.equal(summary.receive?.latencyMicros?.count, 6);
    assert.equal(summary.receive?.latencyMicros?.p50, 200);
    assert.equal(summary.connect.latencyMicros?.count, 2);
    assert.equal(summary.publish?.ackLatencyMicros, null, "no ack latency was recorded");
  });

  test("the text form shows rates, latency and errors", () => {
    const text = formatSummary(summary);
    assert.match(
      text,
      /pubsub against 127\.0\.0\.1:1883, MQTT 5: 2 publishers -> 2 subscribers, QoS 1/,
    );
    assert.match(
      text,
      /publish {3}2,000 sent in 2\.00 s: 1,000 msg\/s, 64\.0 kB\/s, 2,000 acknowledged/,
    );
    assert.match(text, /receive {3}2,000 of 2,000 expected received: 1,000 msg\/s/);
    assert.match(text, /latency {2}p50 200 µs {2}p90 300 µs/);
    assert.match(text, /errors {4}none/);
    assert.equal(verdict(summary).exitCode, 0);
  });

  test("JSON round-trips", () => {
    assert.deepEqual(JSON.parse(JSON.stringify(summary)), summary);
  });
});

describe("errors", () => {
  test("connect failures: exit 1 with RMQ_ERR_BENCH_CONNECT_FAILED", () => {
    const failed = result(
      { connectAttemptedCount: 200, connectFailedCount: 200 },
      { "connect:ECONNREFUSED": 200 },
    );
    const summary = buildSummary(options("conn", { clients: "200" }), {
      results: [failed],
      counters: [failed.counters],
      coordinatorErrors: new Map(),
      timeline: {
        startMicros: T0,
        publishStartMicros: 0,
        publishEndMicros: 0,
        endMicros: T0 + SECOND,
      },
      interrupted: false,
    });
    assert.equal(summary.ok, false);
    assert.deepEqual(summary.errors, { "connect:ECONNREFUSED": 200 });
    assert.equal(summary.publish, null);
    assert.deepEqual(verdict(summary), {
      exitCode: 1,
      code: ErrorCode.BENCH_CONNECT_FAILED,
      message: "200 of 200 clients could not connect (connect:ECONNREFUSED 200)",
    });
    assert.match(formatSummary(summary), /errors {4}200 {2}connect:ECONNREFUSED/);
  });

  test("errors after connecting, and workers that failed: RMQ_ERR_BENCH_RUN_FAILED", () => {
    const lost = result({ connectedCount: 1, lostCount: 1 }, { "lost:closed": 1 });
    const summary = buildSummary(options("conn", { clients: "2", workers: "2" }), {
      results: [lost, null],
      counters: [lost.counters, emptyCounters()],
      coordinatorErrors: new Map([["worker:no final report in time", 1]]),
      timeline: {
        startMicros: T0,
        publishStartMicros: 0,
        publishEndMicros: 0,
        endMicros: T0 + SECOND,
      },
      interrupted: true,
    });
    assert.equal(summary.errorCount, 2);
    assert.equal(summary.interrupted, true);
    const outcome = verdict(summary);
    assert.equal(outcome.code, ErrorCode.BENCH_RUN_FAILED);
    assert.match(outcome.message ?? "", /2 errors during the run/);
    assert.match(formatSummary(summary), /\(interrupted\)/);
  });
});

describe("formatting", () => {
  test("latencies and throughput in readable units", () => {
    assert.equal(formatMicros(812), "812 µs");
    assert.equal(formatMicros(1250), "1.25 ms");
    assert.equal(formatMicros(2_500_000), "2.50 s");
    assert.equal(formatBytesPerSecond(512), "512 B/s");
    assert.equal(formatBytesPerSecond(1_500_000), "1.5 MB/s");
  });

  test("the progress line shows connections, totals, rates and errors", () => {
    const before = { ...emptyCounters(), sentCount: 1000, receivedCount: 900 };
    const now = {
      ...emptyCounters(),
      connectedCount: 8,
      lostCount: 1,
      sentCount: 42_000,
      receivedCount: 40_900,
      errorCount: 1,
    };
    assert.equal(
      progressLine(3.2, 8, now, before, 1),
      "[   3s]  conn 7/8  sent 42,000 (41,000/s)  recv 40,900 (40,000/s)  errors 1",
    );
    assert.equal(
      progressLine(1, 4, emptyCounters(), emptyCounters(), 1),
      "[   1s]  conn 0/4  errors 0",
    );
  });

  test("expected counts are unknown (-1) as soon as one worker cannot tell", () => {
    const known = { ...emptyCounters(), expectedReceivedCount: 10 };
    const unknown = { ...emptyCounters(), expectedReceivedCount: -1 };
    assert.equal(sumCounters([known, known]).expectedReceivedCount, 20);
    assert.equal(sumCounters([known, unknown, known]).expectedReceivedCount, -1);
  });
});
