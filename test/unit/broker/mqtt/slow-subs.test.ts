import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Message } from "../../../../src/broker/mqtt/message.ts";
import { SlowSubs, SlowSubsTable } from "../../../../src/broker/mqtt/slow-subs.ts";

const OPTIONS = { topK: 3, thresholdMs: 100, expireMs: 10_000 };

function pairs(table: SlowSubsTable, nowMs: number): string[] {
  return table.list(nowMs).map((e) => `${e.clientId}:${e.topic}:${e.latencyMsMax}`);
}

describe("SlowSubsTable", () => {
  test("ignores deliveries below the threshold", () => {
    const table = new SlowSubsTable(OPTIONS);
    table.record("a", "t", 99, 1000);
    assert.equal(table.size, 0);
    table.record("a", "t", 100, 1000);
    assert.deepEqual(pairs(table, 1000), ["a:t:100"]);
  });

  test("lists the slowest first, ties by most recently seen", () => {
    const table = new SlowSubsTable(OPTIONS);
    table.record("a", "t", 200, 1000);
    table.record("b", "t", 500, 1001);
    table.record("c", "t", 200, 1002);
    assert.deepEqual(pairs(table, 1003), ["b:t:500", "c:t:200", "a:t:200"]);
  });

  test("a known pair is updated in place: latest, max, count, last seen", () => {
    const table = new SlowSubsTable(OPTIONS);
    table.record("a", "t", 300, 1000);
    table.record("a", "t", 150, 2000);
    const [entry] = table.list(2000);
    assert.deepEqual(entry, {
      clientId: "a",
      topic: "t",
      latencyMs: 150,
      latencyMsMax: 300,
      count: 2,
      lastSeenMs: 2000,
    });
    assert.equal(table.size, 1);
  });

  test("the same client on two topics, and two clients on one topic, are separate pairs", () => {
    const table = new SlowSubsTable(OPTIONS);
    table.record("a", "t1", 200, 1000);
    table.record("a", "t2", 300, 1000);
    table.record("b", "t1", 400, 1000);
    assert.deepEqual(pairs(table, 1000), ["b:t1:400", "a:t2:300", "a:t1:200"]);
  });

  test("when full, a slower pair displaces the fastest; a faster one is not kept", () => {
    const table = new SlowSubsTable(OPTIONS);
    table.record("a", "t", 200, 1000);
    table.record("b", "t", 300, 1000);
    table.record("c", "t", 400, 1000);
    table.record("d", "t", 150, 1001);
    assert.deepEqual(pairs(table, 1001), ["c:t:400", "b:t:300", "a:t:200"]);
    table.record("e", "t", 250, 1002);
    assert.deepEqual(pairs(table, 1002), ["c:t:400", "b:t:300", "e:t:250"]);
    assert.equal(table.size, 3);
  });

  test("pairs expire expire_s after their last slow delivery", () => {
    const table = new SlowSubsTable(OPTIONS);
    table.record("a", "t", 200, 1000);
    table.record("b", "t", 300, 5000);
    assert.deepEqual(pairs(table, 10_999), ["b:t:300", "a:t:200"]);
    assert.deepEqual(pairs(table, 11_000), ["b:t:300"]);
    assert.deepEqual(pairs(table, 15_000), []);
    assert.equal(table.size, 0);
  });

  test("a full table makes room from expired pairs before comparing", () => {
    const table = new SlowSubsTable(OPTIONS);
    table.record("a", "t", 900, 1000);
    table.record("b", "t", 900, 20_000);
    table.record("c", "t", 900, 20_001);
    // "a" expired at 11,000: a new, faster pair takes its place.
    table.record("d", "t", 150, 20_002);
    assert.deepEqual(pairs(table, 20_002), ["c:t:900", "b:t:900", "d:t:150"]);
  });

  test("clear() forgets everything", () => {
    const table = new SlowSubsTable(OPTIONS);
    table.record("a", "t", 200, 1000);
    table.clear();
    assert.equal(table.size, 0);
    assert.deepEqual(table.list(1000), []);
  });

  test("holds the top_k slowest of any sequence (against a sort of all of them)", () => {
    const sample = fc.array(
      fc.record({ client: fc.constantFrom("a", "b", "c", "d", "e"), latency: fc.nat(1000) }),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(sample, (records) => {
        const table = new SlowSubsTable({ topK: 3, thresholdMs: 100, expireMs: 1e9 });
        const max = new Map<string, number>();
        for (const { client, latency } of records) {
          table.record(client, "t", latency, 1000);
          if (latency >= 100) max.set(client, Math.max(max.get(client) ?? 0, latency));
        }
        const kept = table.list(1000);
        assert.ok(kept.length <= 3);
        assert.equal(kept.length, Math.min(3, max.size));
        // Whatever was kept is sorted and at least as slow as anything left out.
        const keptMax = kept.map((e) => e.latencyMsMax);
        assert.deepEqual(
          keptMax,
          [...keptMax].sort((x, y) => y - x),
        );
        const top = [...max.values()].sort((x, y) => y - x);
        assert.equal(keptMax[0] ?? 0, top[0] ?? 0);
      }),
    );
  });
});

describe("SlowSubs", () => {
  function message(receivedAtMs: number): Message {
    const m = new Message("t/1", Buffer.from("x"), 1, false, undefined, 0, "pub");
    m.receivedAtMs = receivedAtMs;
    return m;
  }

  test("records the time from receipt to now for messages received while connected", () => {
    const slow = new SlowSubs({ topK: 10, thresholdMs: 50, expireMs: 60_000 });
    const now = Date.now();
    slow.completed("sub", now - 10_000, message(now - 1000));
    const [entry] = slow.table.list(Date.now());
    assert.equal(entry.clientId, "sub");
    assert.equal(entry.topic, "t/1");
    assert.ok(entry.latencyMs >= 1000 && entry.latencyMs < 5000, String(entry.latencyMs));
  });

  test("skips messages older than the connection, unstamped ones and fast ones", () => {
    const slow = new SlowSubs({ topK: 10, thresholdMs: 500, expireMs: 60_000 });
    const now = Date.now();
    slow.completed("sub", now - 100, message(now - 1000)); // queued while offline
    slow.completed("sub", 0, message(0)); // received while the statistics were off
    slow.completed("sub", now - 10_000, message(now)); // fast
    assert.equal(slow.table.size, 0);
  });
});
