/** Splitting a run over worker threads, and the connect phase's deadline. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { BenchCommand } from "../../../src/bench/option-specs.ts";
import { type BenchOptions, parseBenchOptions } from "../../../src/bench/options.ts";
import { connectPhaseMs, splitRange, workerPlans } from "../../../src/bench/plan.ts";

function options(command: BenchCommand, flags: Record<string, string>): BenchOptions {
  return parseBenchOptions(command, flags, { cpuCount: 2, pid: 1, readFile: () => "" });
}

describe("splitRange", () => {
  test("contiguous parts that cover everything once, sizes within one", () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.integer({ min: 1, max: 64 }), (count, parts) => {
        let next = 0;
        const sizes: number[] = [];
        for (let part = 0; part < parts; part++) {
          const range = splitRange(count, parts, part);
          assert.equal(range.first, next);
          next += range.count;
          sizes.push(range.count);
        }
        assert.equal(next, count);
        assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
      }),
    );
  });
});

describe("workerPlans", () => {
  test("pubsub 1 -> 1 on two workers: one subscriber, one publisher", () => {
    const plans = workerPlans(options("pubsub", {}));
    assert.equal(plans.length, 2);
    assert.deepEqual(plans[0].subscribers, { first: 0, count: 1 });
    assert.deepEqual(plans[0].publishers.count, 0);
    assert.deepEqual(plans[1].publishers, { first: 0, count: 1 });
    assert.deepEqual(plans[1].subscribers.count, 0);
  });

  test("every client is in exactly one worker, and every worker has clients", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 64 }),
        (publishers, subscribers, workers) => {
          const run = options("pubsub", {
            publishers: String(publishers),
            subscribers: String(subscribers),
            workers: String(workers),
          });
          const plans = workerPlans(run);
          assert.equal(plans.length, Math.min(workers, publishers + subscribers));
          const seen = { pub: new Set<number>(), sub: new Set<number>() };
          for (const plan of plans) {
            assert.ok(plan.publishers.count + plan.subscribers.count > 0, "idle worker");
            for (let i = 0; i < plan.publishers.count; i++) seen.pub.add(plan.publishers.first + i);
            for (let i = 0; i < plan.subscribers.count; i++)
              seen.sub.add(plan.subscribers.first + i);
          }
          assert.equal(seen.pub.size, publishers);
          assert.equal(seen.sub.size, subscribers);
          assert.ok([...seen.pub].every((i) => i < publishers));
        },
      ),
      { numRuns: 200 },
    );
  });

  test("the connect rate is shared in proportion to clients", () => {
    const plans = workerPlans(options("conn", { clients: "300", workers: "2", connRate: "100" }));
    assert.deepEqual(
      plans.map((p) => [p.connections.count, p.connRatePerSecond]),
      [
        [150, 50],
        [150, 50],
      ],
    );
  });
});

test("the connect phase deadline: paced span + connect timeout + slack", () => {
  // 1000 clients at 100/s take 10 s, + 10 s timeout, + 2 s slack per thousand clients.
  assert.equal(connectPhaseMs(options("conn", { clients: "1000", connRate: "100" })), 22_000);
  // As fast as possible: the timeout and the slack alone.
  assert.equal(connectPhaseMs(options("conn", { clients: "10", connectTimeout: "1" })), 3000);
  assert.equal(connectPhaseMs(options("conn", { clients: "100000" })), 210_000);
});
