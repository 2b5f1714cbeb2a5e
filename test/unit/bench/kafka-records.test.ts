/**
 * The generator's record batches: what a producer builds is a valid v2 batch (CRC and all, as
 * the storage layer checks it) whose records the storage reader decodes, and what a consumer
 * reads back from a fetch (plain, gzip, zstd) gives the record count, the value bytes and each
 * record's send time; records before the fetch offset and a cut-off last batch are left out.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  BatchBuilder,
  nextFetchOffset,
  readFetchedRecords,
} from "../../../src/bench/kafka/records.ts";
import { checkBatch, readRecords, setBaseOffset } from "../../../src/storage/log/index.ts";

function stamps(count: number, first: number): Float64Array {
  return Float64Array.from({ length: count }, (_, i) => first + i);
}

describe("bench kafka record batches", () => {
  test("a built batch is valid and holds the stamped values", () => {
    const batch = new BatchBuilder(64, "none").build(5, stamps(5, 1_700_000_000_000_000));
    assert.equal(checkBatch(batch, 0, batch.length, 1 << 20).kind, "ok");
    const result = readRecords(batch);
    assert.ok(result.kind === "ok", JSON.stringify(result));
    assert.equal(result.records.length, 5);
    for (const [i, record] of result.records.entries()) {
      assert.equal(record.key, null);
      assert.equal(record.value?.length, 64);
      assert.equal(record.value?.readDoubleLE(0), 1_700_000_000_000_000 + i);
      assert.equal(record.value?.subarray(8, 16).toString("latin1"), "rmqbench");
    }
  });

  for (const compression of ["none", "gzip", "zstd"] as const) {
    test(`a fetch of ${compression} batches is counted and timed`, () => {
      const builder = new BatchBuilder(100, compression);
      const first = builder.build(4, stamps(4, 1000));
      const second = builder.build(3, stamps(3, 2000));
      assert.equal(checkBatch(second, 0, second.length, 1 << 20).kind, "ok");
      setBaseOffset(first, 0, 10);
      setBaseOffset(second, 0, 14);
      const fetched = Buffer.concat([first, second]);
      const seen: number[] = [];
      const all = readFetchedRecords(fetched, 10, (t) => seen.push(t));
      assert.deepEqual(all, {
        recordCount: 7,
        valueBytes: 700,
        nextOffset: 17,
        unreadableCount: 0,
      });
      assert.deepEqual(seen, [1000, 1001, 1002, 1003, 2000, 2001, 2002]);
      const tail: number[] = [];
      const fromMiddle = readFetchedRecords(fetched, 12, (t) => tail.push(t));
      assert.equal(fromMiddle.recordCount, 5, "records before the fetch offset are skipped");
      assert.deepEqual(tail, [1002, 1003, 2000, 2001, 2002]);
    });
  }

  test("a cut-off last batch waits for the next fetch; values without the header are not timed", () => {
    const builder = new BatchBuilder(8, "none");
    const batch = builder.build(2, stamps(2, 5));
    const cut = Buffer.concat([batch, batch.subarray(0, batch.length - 3)]);
    const seen: number[] = [];
    const outcome = readFetchedRecords(cut, 0, (t) => seen.push(t));
    assert.equal(outcome.recordCount, 2);
    assert.equal(outcome.nextOffset, 2);
    assert.deepEqual(seen, [-1, -1]);
  });

  test("the next fetch offset comes from the headers alone, as readFetchedRecords finds it", () => {
    const builder = new BatchBuilder(16, "none");
    const first = builder.build(4, stamps(4, 1));
    const second = builder.build(3, stamps(3, 1));
    setBaseOffset(first, 0, 10);
    setBaseOffset(second, 0, 14);
    const whole = Buffer.concat([first, second]);
    const cut = whole.subarray(0, whole.length - 5);
    for (const records of [whole, cut, first, whole.subarray(0, 20), Buffer.alloc(0)]) {
      for (const from of [10, 12, 14, 16, 17]) {
        const expected = readFetchedRecords(records, from, () => {}).nextOffset;
        assert.equal(nextFetchOffset(records, from), expected, `${records.length} from ${from}`);
      }
    }
    assert.equal(nextFetchOffset(whole, 10), 17);
    assert.equal(nextFetchOffset(cut, 10), 14, "a cut-off batch is fetched again");
    assert.equal(nextFetchOffset(Buffer.alloc(0), 9), 9);
  });
});
