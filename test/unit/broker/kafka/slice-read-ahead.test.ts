/**
 * Slices located ahead for consumers reading in order (src/broker/kafka/handlers/
 * slice-read-ahead.ts), on a real partition log: used when the fetch asks for what was
 * expected and would get the same slice now; located again otherwise.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import { SliceReadAhead } from "../../../../src/broker/kafka/handlers/slice-read-ahead.ts";
import { type LogSlice, PartitionLog } from "../../../../src/storage/log/partition-log.ts";
import { buildRecordBatch } from "../../../../src/storage/log/records.ts";

const BATCH_RECORDS = 5;

function batch(id: number): Buffer {
  return buildRecordBatch(
    Array.from({ length: BATCH_RECORDS }, (_, i) => ({
      timestamp: Date.now(),
      key: null,
      value: Buffer.alloc(200, id * BATCH_RECORDS + i),
    })),
  );
}

/** The log, with its read() counted. */
function counted(log: PartitionLog): { reads: () => number } {
  const read = log.read.bind(log);
  let count = 0;
  log.read = (offset: number, maxBytes: number) => {
    count++;
    return read(offset, maxBytes);
  };
  return { reads: () => count };
}

function same(a: LogSlice, b: LogSlice): void {
  assert.deepEqual(
    [a.segment, a.position, a.sizeBytes, a.firstOffset, a.nextOffset],
    [b.segment, b.position, b.sizeBytes, b.firstOffset, b.nextOffset],
  );
}

describe("slices located ahead", () => {
  let root: string;
  let log: PartitionLog;
  const batchBytes = batch(0).length;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "rmq-read-ahead-"));
    log = await PartitionLog.open(join(root, "t-0"), { segment_bytes: 20 * batchBytes });
    for (let i = 0; i < 60; i++) await log.append(batch(i));
  });

  afterEach(async () => {
    await log.close();
    await rm(root, { recursive: true, force: true });
  });

  test("a reader in order gets each next slice without locating it itself", async () => {
    const ahead = new SliceReadAhead();
    const maxBytes = 4 * batchBytes;
    let slice = await ahead.read(log, 0, maxBytes);
    const { reads } = counted(log);
    let offset = 0;
    for (let step = 0; step < 8; step++) {
      ahead.expect(log, slice, maxBytes);
      assert.equal(reads(), step + 1, "located once, ahead");
      offset = slice.nextOffset ?? -1;
      const next = await ahead.read(log, offset, maxBytes);
      assert.equal(reads(), step + 1, "not located again");
      same(next, await PartitionLog.prototype.read.call(log, offset, maxBytes));
      slice = next;
    }
  });

  test("another offset or size, or a slice that reached the log end, is located again", async () => {
    const ahead = new SliceReadAhead();
    const first = await ahead.read(log, 0, 4 * batchBytes);
    ahead.expect(log, first, 4 * batchBytes);
    const { reads } = counted(log);
    await ahead.read(log, BATCH_RECORDS, 4 * batchBytes);
    assert.equal(reads(), 1, "another offset");

    ahead.expect(log, first, 4 * batchBytes);
    await ahead.read(log, first.nextOffset ?? -1, 3 * batchBytes);
    assert.equal(reads(), 3, "another size");

    // From batch 55 on, 10 batches' room reaches the end: appends may follow, so locate anew.
    const tail = await log.read(50 * BATCH_RECORDS, 5 * batchBytes);
    assert.equal(tail.nextOffset, 55 * BATCH_RECORDS);
    ahead.expect(log, tail, 10 * batchBytes);
    await log.append(batch(60));
    const before = reads();
    const now = await ahead.read(log, tail.nextOffset ?? -1, 10 * batchBytes);
    assert.equal(reads(), before + 1);
    same(now, await PartitionLog.prototype.read.call(log, tail.nextOffset ?? -1, 10 * batchBytes));
  });

  test("a slice whose segment left the log is located again", async () => {
    const ahead = new SliceReadAhead();
    const first = await ahead.read(log, 0, 4 * batchBytes);
    ahead.expect(log, first, 4 * batchBytes);
    await log.deleteBefore(30 * BATCH_RECORDS);
    assert.ok(log.logStartOffset > (first.nextOffset ?? 0), "the expected slice is gone");
    await assert.rejects(ahead.read(log, first.nextOffset ?? -1, 4 * batchBytes), {
      code: "RMQ_ERR_STORAGE_OFFSET_OUT_OF_RANGE",
    });
  });
});
