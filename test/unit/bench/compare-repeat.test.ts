/**
 * bench/compare: repeated rounds (median, interleaving), reference rows in the report, and the
 * node flags RobustMQ is started with.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { robustmqStartFlags, startScriptNodeFlags } from "../../../bench/compare/brokers.ts";
import { combineRounds, interleavedOrder, median } from "../../../bench/compare/repeat.ts";
import {
  type BrokerResult,
  referenceView,
  resultsTable,
  type WorkloadResult,
  workloadTag,
} from "../../../bench/compare/report.ts";
import { type Measurement, type Settings, WORKLOADS } from "../../../bench/compare/workloads.ts";

function measurement(values: Record<string, number | null>, note = "n"): Measurement {
  return { values, deliveredShare: 1, cpu: null, notes: [note], runs: [], extra: {} };
}

const ok = (values: Record<string, number | null>, note?: string): BrokerResult => ({
  measurement: measurement(values, note),
  error: null,
});

describe("median", () => {
  test("odd and even counts", () => {
    assert.equal(median([5]), 5);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.throws(() => median([]));
  });

  test("does not depend on order and lies within the values", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e9, max: 1e9 }), { minLength: 1 }), (v) => {
        const m = median(v);
        assert.equal(median([...v].reverse()), m);
        assert.ok(m >= Math.min(...v) && m <= Math.max(...v));
      }),
    );
  });
});

describe("interleavedOrder", () => {
  test("each round has every broker once, and each round starts with the next broker", () => {
    const order = interleavedOrder(["r", "m", "a"], 3);
    const names = order.map((s) => `${s.round}${s.broker}`);
    assert.deepEqual(names, ["0r", "0m", "0a", "1m", "1a", "1r", "2a", "2r", "2m"]);
  });

  test("every broker runs once per round, rounds in order", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 15 }), (n, rounds) => {
        const brokers = Array.from({ length: n }, (_, i) => i);
        const order = interleavedOrder(brokers, rounds);
        assert.equal(order.length, n * rounds);
        for (let r = 0; r < rounds; r++) {
          const inRound = order.slice(r * n, (r + 1) * n);
          assert.ok(inRound.every((s) => s.round === r));
          assert.deepEqual(
            inRound.map((s) => s.broker).sort((a, b) => a - b),
            brokers,
          );
        }
      }),
    );
  });

  test("rejects a round count out of range", () => {
    assert.throws(() => interleavedOrder(["r"], 0));
    assert.throws(() => interleavedOrder(["r"], 1.5));
  });
});

describe("combineRounds", () => {
  test("one round is returned as it is", () => {
    const only = ok({ p99Ms: 3 });
    assert.equal(combineRounds([only], "p99Ms"), only);
  });

  test("medians per metric, the rounds kept, notes from the median round", () => {
    const combined = combineRounds(
      [
        ok({ p50Ms: 0.5, p99Ms: 9 }, "slow"),
        ok({ p50Ms: 0.4, p99Ms: 5 }, "middle"),
        ok({ p50Ms: 0.6, p99Ms: 4 }, "fast"),
      ],
      "p99Ms",
    );
    const m = combined.measurement;
    assert.ok(m !== null);
    assert.deepEqual(m.values, { p50Ms: 0.5, p99Ms: 5 });
    assert.ok(m.notes.includes("middle"));
    assert.ok(m.notes[0].startsWith("median of 3 rounds (p99Ms: 9, 5, 4)"));
    const rounds = m.extra.rounds as { values: Record<string, number> }[];
    assert.deepEqual(
      rounds.map((r) => r.values.p99Ms),
      [9, 5, 4],
    );
  });

  test("failed rounds are left out of the median and named in the notes", () => {
    const failed: BrokerResult = { measurement: null, error: "boom" };
    const combined = combineRounds([ok({ p99Ms: 2 }), failed, ok({ p99Ms: 4 })], "p99Ms");
    assert.equal(combined.measurement?.values.p99Ms, 3);
    assert.ok(combined.measurement?.notes.includes("round 2 failed: boom"));
    const none = combineRounds([failed, failed], "p99Ms");
    assert.equal(none.measurement, null);
    assert.match(none.error ?? "", /round 1 failed: boom; round 2 failed: boom/);
  });
});

describe("reference rows", () => {
  const settings: Settings = {
    seconds: 1,
    warmupSeconds: 1,
    connectionCount: 10,
    heapSnapshotDir: null,
  };
  const durable = WORKLOADS.find((w) => w.id === 7 && w.referenceFor === null);
  const reference = WORKLOADS.find((w) => w.referenceFor === 7);

  test("workload 7 has one reference row, Aedes only, not judged", () => {
    assert.ok(durable !== undefined && reference !== undefined);
    assert.equal(durable.persistence, true);
    assert.equal(reference.persistence, false);
    assert.deepEqual(reference.brokers, ["aedes"]);
    assert.ok(reference.metrics.every((m) => m.target === null));
    assert.equal(workloadTag(reference), "7 ref");
    assert.equal(workloadTag(durable), "7");
  });

  test("RobustMQ's figure in the reference row is workload 7's; ratios use it", () => {
    assert.ok(durable !== undefined && reference !== undefined);
    const main: WorkloadResult = {
      workload: durable,
      results: {
        robustmq: ok({ deliveredPerSecond: 30_000 }),
        aedes: ok({ deliveredPerSecond: 3_000 }),
      },
    };
    const ref: WorkloadResult = {
      workload: reference,
      results: { aedes: ok({ deliveredPerSecond: 20_000 }) },
    };
    const view = referenceView(ref, [main, ref]);
    assert.equal(view.results.robustmq, main.results.robustmq);
    assert.equal(referenceView(main, [main, ref]), main);
    const table = resultsTable([main, ref], settings);
    assert.match(table, /\| 7 \|.*\| 10\.0x \|.*\| met \|/);
    assert.match(table, /\| 7 ref \|.*\| 1\.50x \|.*\| reference, not judged \|/);
  });
});

describe("startScriptNodeFlags", () => {
  test("the flags between node and src/cli/main.ts", () => {
    assert.deepEqual(startScriptNodeFlags("node src/cli/main.ts start"), []);
    assert.deepEqual(startScriptNodeFlags("node --max-semi-space-size=8  src/cli/main.ts start"), [
      "--max-semi-space-size=8",
    ]);
  });

  test("anything else is refused", () => {
    assert.throws(() => startScriptNodeFlags("tsx src/cli/main.ts start"));
    assert.throws(() => startScriptNodeFlags("node dist/main.js start"));
    assert.throws(() => startScriptNodeFlags("node -r x src/cli/main.ts start"));
  });

  test("package.json's start script is one the harness can follow", () => {
    assert.ok(robustmqStartFlags().every((f) => f.startsWith("--")));
  });
});
