/**
 * The behaviour every FileSystem under the partition log must give (as aedes-persistence's
 * abstract.js): a backend's test file calls runLogSuite with a factory, and these tests run
 * against it. Covers append, read, roll, retention, deleteBefore, timestamps, reopen and
 * recovery.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ErrorCode } from "../../../src/errors.ts";
import type { FileSystem } from "../../../src/storage/log/file-system.ts";
import type { LogOptions } from "../../../src/storage/log/options.ts";
import {
  PartitionLog,
  type PartitionLogDependencies,
} from "../../../src/storage/log/partition-log.ts";
import {
  checkBatch,
  readBatchHeader,
  setBaseOffset,
} from "../../../src/storage/log/record-batch.ts";
import { buildRecordBatch, readRecords } from "../../../src/storage/log/records.ts";
import { segmentFileName } from "../../../src/storage/log/segment.ts";
import { StorageError } from "../../../src/storage/log/storage-error.ts";

export interface LogTestEnvironment {
  fs: FileSystem;
  directory: string;
  /** Raw file access behind the log's back, for damaging files between runs. */
  readFile(path: string): Promise<Buffer>;
  writeFile(path: string, bytes: Buffer): Promise<void>;
  removeFile(path: string): Promise<void>;
  listFiles(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export type LogTestFactory = () => Promise<LogTestEnvironment>;

/** Record timestamps near the real clock, so default time retention keeps them. */
const T0 = Date.now() - 60_000;

/** A batch of `count` records whose values name the batch, `valueBytes` each. */
export function testBatch(id: number, count = 3, valueBytes = 100, timestamp = T0 + id): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({
    timestamp: timestamp + i,
    key: Buffer.from(`k${id}`),
    value: Buffer.alloc(valueBytes, `${id}:${i};`),
  }));
  return buildRecordBatch(records);
}

/** Every batch from `from` to the end, read in slices of `maxBytes`, checked and decoded. */
export async function readAll(log: PartitionLog, from = log.logStartOffset, maxBytes = 4096) {
  const batches: Buffer[] = [];
  let offset = from;
  while (offset < log.logEndOffset) {
    const slice = await log.read(offset, maxBytes);
    assert.ok(slice.sizeBytes > 0, `no data at ${offset} < ${log.logEndOffset}`);
    const bytes = await log.readSlice(slice);
    let at = 0;
    while (at < bytes.length) {
      const check = checkBatch(bytes, at, bytes.length, 1 << 30);
      assert.equal(check.kind, "ok", `batch at ${at} of slice from ${offset}`);
      const size = check.kind === "ok" ? check.sizeBytes : 0;
      const batch = Buffer.from(bytes.subarray(at, at + size));
      const header = readBatchHeader(batch);
      if (header.baseOffset + header.lastOffsetDelta >= offset) batches.push(batch);
      offset = Math.max(offset, header.baseOffset + header.lastOffsetDelta + 1);
      at += size;
    }
  }
  return batches;
}

/** A copy with baseOffset set, for comparing stored batches with what was appended. */
function withOffset(batch: Buffer, baseOffset: number): Buffer {
  const copy = Buffer.from(batch);
  setBaseOffset(copy, 0, baseOffset);
  return copy;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.code, code);
    return true;
  });
}

interface SuiteContext {
  factory: LogTestFactory;
  /** Opens a log on a fresh environment, runs `run`, then closes and cleans up. */
  withLog(
    options: Partial<LogOptions>,
    run: (log: PartitionLog, env: LogTestEnvironment) => Promise<void>,
    deps?: PartitionLogDependencies,
  ): Promise<void>;
  /** Opens (again) the log of an environment. */
  reopen(
    env: LogTestEnvironment,
    options: Partial<LogOptions>,
    deps?: PartitionLogDependencies,
  ): Promise<PartitionLog>;
}

async function emptyLog(ctx: SuiteContext): Promise<void> {
  await ctx.withLog({}, async (log, env) => {
    assert.equal(log.logStartOffset, 0);
    assert.equal(log.logEndOffset, 0);
    assert.equal((await log.read(0, 1000)).sizeBytes, 0);
    await expectCode(log.read(1, 1000), ErrorCode.STORAGE_OFFSET_OUT_OF_RANGE);
    assert.deepEqual(await env.listFiles(), [segmentFileName(0, ".log")]);
  });
}

async function concurrentAppends(ctx: SuiteContext): Promise<void> {
  await ctx.withLog({}, async (log) => {
    const batches = Array.from({ length: 20 }, (_, i) => testBatch(i, 1 + (i % 4)));
    const originals = batches.map((batch) => Buffer.from(batch));
    const results = await Promise.all(batches.map((batch) => log.append(batch)));
    let next = 0;
    results.forEach((result, i) => {
      assert.deepEqual(result, { baseOffset: next, lastOffset: next + (i % 4) });
      next = result.lastOffset + 1;
    });
    assert.equal(log.logEndOffset, next);
    const stored = await readAll(log);
    assert.deepEqual(
      stored,
      originals.map((batch, i) => withOffset(batch, results[i].baseOffset)),
    );
    const records = readRecords(stored[3]);
    assert.ok(records.kind === "ok");
    assert.equal(records.records[0].offset, results[3].baseOffset);
  });
}

async function groupCommitCoalesces(ctx: SuiteContext): Promise<void> {
  await ctx.withLog({ fsync_policy: "always" }, async (log) => {
    await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(testBatch(i, 1))));
    const stats = log.commitStats;
    assert.equal(stats.appendCount, 200);
    assert.ok(stats.groupCount < 50, `${stats.groupCount} groups for 200 appends`);
  });
}

async function readReturnsWholeBatches(ctx: SuiteContext): Promise<void> {
  await ctx.withLog({ index_interval_bytes: 256 }, async (log) => {
    const sizes: number[] = [];
    for (let i = 0; i < 40; i++) {
      const batch = testBatch(i, 2, 50 + (i % 7) * 30);
      sizes.push(batch.length);
      await log.append(batch);
    }
    for (const offset of [0, 1, 2, 17, 41, 79]) {
      for (const maxBytes of [1, 200, 777, 5000, 1 << 20]) {
        const slice = await log.read(offset, maxBytes);
        const batchIndex = Math.floor(offset / 2);
        assert.equal(slice.firstOffset, batchIndex * 2);
        let expected = sizes[batchIndex];
        for (let k = batchIndex + 1; k < sizes.length && expected + sizes[k] <= maxBytes; k++) {
          expected += sizes[k];
        }
        assert.equal(slice.sizeBytes, expected, `offset ${offset} maxBytes ${maxBytes}`);
      }
    }
  });
}

async function refusedBatches(ctx: SuiteContext): Promise<void> {
  await ctx.withLog({ batch_bytes_max: 2000 }, async (log) => {
    const corrupt = testBatch(1);
    corrupt[corrupt.length - 1] ^= 1;
    await expectCode(log.append(corrupt), ErrorCode.STORAGE_INVALID_BATCH);
    await expectCode(log.append(testBatch(2, 1, 3000)), ErrorCode.STORAGE_BATCH_TOO_LARGE);
    const two = Buffer.concat([testBatch(3, 1), testBatch(4, 1)]);
    await expectCode(log.append(two), ErrorCode.STORAGE_INVALID_BATCH);
    await expectCode(log.append(testBatch(5).subarray(0, 70)), ErrorCode.STORAGE_INVALID_BATCH);
    assert.equal(log.logEndOffset, 0);
    assert.deepEqual(await log.append(testBatch(6, 1)), { baseOffset: 0, lastOffset: 0 });
  });
}

async function rollBySize(ctx: SuiteContext): Promise<void> {
  await ctx.withLog({ segment_bytes: 2048 }, async (log, env) => {
    const results = [];
    for (let i = 0; i < 30; i++) results.push(await log.append(testBatch(i, 2, 150)));
    assert.ok(log.segmentCount > 3, `${log.segmentCount} segments`);
    const files = await env.listFiles();
    const logs = files.filter((file) => file.endsWith(".log"));
    assert.equal(logs.length, log.segmentCount);
    for (const file of logs) assert.match(file, /^\d{20}\.log$/);
    assert.equal((await readAll(log)).length, 30);
    assert.equal((await readAll(log, 31)).length, 15);
  });
}

/**
 * A slice says where the next one starts: a reader that follows nextOffset (as a Kafka
 * consumer's next fetch does) reads every batch once, in order, across segments, at any size.
 */
async function followNextOffset(ctx: SuiteContext): Promise<void> {
  await ctx.withLog({ segment_bytes: 4096, index_interval_bytes: 700 }, async (log) => {
    const appended = [];
    for (let i = 0; i < 60; i++) appended.push(testBatch(i, 1 + (i % 4), 90 + ((i * 37) % 200)));
    for (const batch of appended) await log.append(batch);
    const all = await readAll(log);
    for (const maxBytes of [1, 300, 1000, 2500, 5000, 1 << 20]) {
      const seen: Buffer[] = [];
      let offset = 0;
      let known = 0;
      while (offset < log.logEndOffset) {
        const slice = await log.read(offset, maxBytes);
        const bytes = await log.readSlice(slice);
        for (let at = 0; at < bytes.length; at += 12 + bytes.readInt32BE(at + 8)) {
          seen.push(Buffer.from(bytes.subarray(at, at + 12 + bytes.readInt32BE(at + 8))));
        }
        const last = readBatchHeader(seen[seen.length - 1]);
        const after = last.baseOffset + last.lastOffsetDelta + 1;
        if (slice.nextOffset !== null) {
          assert.equal(slice.nextOffset, after, `nextOffset of the slice from ${offset}`);
          known++;
        }
        offset = after;
      }
      assert.deepEqual(seen, all, `slices of ${maxBytes} bytes`);
      assert.ok(known > 0, `slices of ${maxBytes} bytes mostly know what follows`);
    }
    const end = await log.read(log.logEndOffset, 1000);
    assert.equal(end.nextOffset, null, "nothing at the end");
  });
}

async function rollByAge(ctx: SuiteContext): Promise<void> {
  let now = T0;
  await ctx.withLog(
    { segment_ms: 1000 },
    async (log) => {
      await log.append(testBatch(0, 1, 10, T0));
      await log.append(testBatch(1, 1, 10, T0 + 1));
      assert.equal(log.segmentCount, 1);
      now = T0 + 1001;
      await log.append(testBatch(2, 1, 10, now));
      assert.equal(log.segmentCount, 2);
      assert.equal((await log.read(2, 100)).file?.endsWith(segmentFileName(2, ".log")), true);
    },
    { now: () => now },
  );
}

async function retentionBySize(ctx: SuiteContext): Promise<void> {
  await ctx.withLog({ segment_bytes: 1024, retention_bytes: 3000 }, async (log, env) => {
    for (let i = 0; i < 40; i++) await log.append(testBatch(i, 1, 200));
    await log.applyRetention();
    assert.ok(log.sizeBytes >= 3000 - 1024 && log.sizeBytes < 3000 + 1024, `${log.sizeBytes}`);
    assert.ok(log.logStartOffset > 0);
    await expectCode(log.read(0, 100), ErrorCode.STORAGE_OFFSET_OUT_OF_RANGE);
    const first = await log.read(log.logStartOffset, 100);
    assert.equal(first.firstOffset, log.logStartOffset);
    const logs = (await env.listFiles()).filter((file) => file.endsWith(".log"));
    assert.equal(logs[0], segmentFileName(log.logStartOffset, ".log"));
  });
}

async function retentionByTime(ctx: SuiteContext): Promise<void> {
  let now = T0;
  await ctx.withLog(
    { segment_bytes: 1024, retention_ms: 60_000 },
    async (log) => {
      for (let i = 0; i < 10; i++) await log.append(testBatch(i, 1, 300, T0 + i));
      for (let i = 10; i < 20; i++) await log.append(testBatch(i, 1, 300, T0 + 100_000 + i));
      now = T0 + 100_000 + 30;
      const result = await log.applyRetention();
      assert.ok(result.deletedSegmentCount > 0);
      assert.ok(log.logStartOffset <= 10 && log.logStartOffset > 5, `${log.logStartOffset}`);
      assert.equal(log.logEndOffset, 20);
    },
    { now: () => now },
  );
}

/** Base offsets of the segments on disk, from the .log file names. */
async function segmentBases(env: LogTestEnvironment): Promise<number[]> {
  const logs = (await env.listFiles()).filter((file) => file.endsWith(".log"));
  return logs.map((file) => Number(file.slice(0, 20)));
}

async function deleteBeforeOffset(ctx: SuiteContext): Promise<void> {
  const env = await ctx.factory();
  // Retention off, so every deletion here is deleteBefore's.
  const options = { segment_bytes: 1024, retention_bytes: -1, retention_ms: -1 };
  const log = await ctx.reopen(env, options);
  try {
    for (let i = 0; i < 20; i++) await log.append(testBatch(i, 2, 150));
    const bases = await segmentBases(env);
    assert.ok(bases.length >= 5, `${bases.length} segments`);
    const sizeBefore = log.sizeBytes;
    // An offset inside the fourth segment: the first three end below it and go; the fourth
    // holds records below the offset but also the offset itself, so it stays.
    const offset = bases[3] + 1;
    const result = await log.deleteBefore(offset);
    assert.equal(result.deletedSegmentCount, 3);
    assert.equal(result.logStartOffset, bases[3]);
    assert.equal(result.deletedBytes, sizeBefore - log.sizeBytes);
    assert.ok(result.deletedBytes > 0);
    assert.equal(log.logStartOffset, bases[3]);
    assert.deepEqual(await segmentBases(env), bases.slice(3));
    const indexes = (await env.listFiles()).filter((file) => !file.endsWith(".log"));
    assert.ok(
      indexes.every((file) => Number(file.slice(0, 20)) >= bases[3]),
      indexes.join(),
    );
    await expectCode(log.read(bases[3] - 1, 100), ErrorCode.STORAGE_OFFSET_OUT_OF_RANGE);
    assert.equal((await log.read(bases[3], 100)).firstOffset, bases[3]);
    assert.equal((await readAll(log)).length, 20 - bases[3] / 2);
    // At a segment's base offset exactly: the segment before it ends at offset - 1 and goes.
    const exact = await log.deleteBefore(bases[4]);
    assert.equal(exact.deletedSegmentCount, 1);
    assert.equal(log.logStartOffset, bases[4]);
    // Nothing below the start any more: a second call deletes nothing.
    const again = await log.deleteBefore(bases[4]);
    assert.deepEqual(again, { deletedSegmentCount: 0, deletedBytes: 0, logStartOffset: bases[4] });
  } finally {
    await log.close();
  }
  const reopened = await ctx.reopen(env, options);
  try {
    assert.equal((await segmentBases(env))[0], reopened.logStartOffset);
    assert.deepEqual(reopened.recoveryReport.strayFilesRemoved, []);
    assert.equal(reopened.logEndOffset, 40);
  } finally {
    await reopened.close();
    await env.cleanup();
  }
}

async function deleteBeforeKeepsActive(ctx: SuiteContext): Promise<void> {
  await ctx.withLog({ segment_bytes: 1024 }, async (log, env) => {
    for (let i = 0; i < 12; i++) await log.append(testBatch(i, 2, 150));
    const bases = await segmentBases(env);
    const active = bases[bases.length - 1];
    assert.ok(active > 0 && active < log.logEndOffset, "the active segment holds records");
    const result = await log.deleteBefore(log.logEndOffset + 1000);
    assert.equal(result.deletedSegmentCount, bases.length - 1);
    assert.equal(log.segmentCount, 1);
    assert.equal(log.logStartOffset, active);
    assert.deepEqual(await segmentBases(env), [active]);
    assert.equal((await readAll(log)).length, (24 - active) / 2);
    assert.deepEqual(await log.append(testBatch(99, 1)), { baseOffset: 24, lastOffset: 24 });
  });
}

async function deleteBeforeDelaysClose(ctx: SuiteContext): Promise<void> {
  for (const delayMs of [60_000, 0]) {
    await ctx.withLog({ segment_bytes: 1024, file_delete_delay_ms: delayMs }, async (log) => {
      for (let i = 0; i < 8; i++) await log.append(testBatch(i, 2, 150));
      const slice = await log.read(0, 100);
      const expected = await log.readSlice(slice);
      assert.equal((await log.deleteBefore(log.logEndOffset)).logStartOffset > 0, true);
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (delayMs > 0) {
        // A read under way when the segment went still gets its bytes.
        assert.deepEqual(await log.readSlice(slice), expected);
      } else {
        await assert.rejects(log.readSlice(slice));
      }
    });
  }
}

async function deleteBeforeAfterClose(ctx: SuiteContext): Promise<void> {
  const env = await ctx.factory();
  const log = await ctx.reopen(env, { segment_bytes: 1024 });
  for (let i = 0; i < 8; i++) await log.append(testBatch(i, 2, 150));
  await log.close();
  const files = await env.listFiles();
  await expectCode(log.deleteBefore(10), ErrorCode.STORAGE_CLOSED);
  assert.deepEqual(await env.listFiles(), files);
  await env.cleanup();
}

async function offsetForTimestamp(ctx: SuiteContext): Promise<void> {
  await ctx.withLog({ segment_bytes: 2048, index_interval_bytes: 128 }, async (log) => {
    // Batch i holds records at T0 + 10i, +1, +2; batch 27 is stamped late, out of order.
    for (let i = 0; i < 30; i++) {
      await log.append(testBatch(i, 3, 60, i === 27 ? T0 + 500 : T0 + 10 * i));
    }
    assert.equal(await log.offsetForTimestamp(T0 - 5), 0);
    assert.equal(await log.offsetForTimestamp(T0 + 1), 1);
    assert.equal(await log.offsetForTimestamp(T0 + 42), 14);
    assert.equal(await log.offsetForTimestamp(T0 + 253), 78);
    assert.equal(await log.offsetForTimestamp(T0 + 265), 81);
    assert.equal(await log.offsetForTimestamp(T0 + 291), 81);
    assert.equal(await log.offsetForTimestamp(T0 + 501), 82);
    assert.equal(await log.offsetForTimestamp(T0 + 503), null);
  });
  await ctx.withLog({}, async (log) => {
    // A batch stamped late (0-2), then earlier ones (3-8).
    await log.append(testBatch(0, 3, 60, T0 + 500));
    await log.append(testBatch(1, 3, 60, T0 + 10));
    await log.append(testBatch(2, 3, 60, T0 + 20));
    // Below a raised start the records are gone, whatever their timestamps.
    await log.raiseLogStartOffset(4);
    assert.equal(await log.offsetForTimestamp(T0 + 500), null);
    assert.equal(await log.offsetForTimestamp(T0 + 10), 4);
    assert.equal(await log.offsetForTimestamp(T0 + 12), 5);
    assert.equal(await log.offsetForTimestamp(T0 + 21), 7);
  });
}

async function reopenedLog(ctx: SuiteContext): Promise<void> {
  const env = await ctx.factory();
  const options = { segment_bytes: 2048, index_interval_bytes: 256 };
  const log = await ctx.reopen(env, options);
  for (let i = 0; i < 25; i++) await log.append(testBatch(i, 2, 120));
  const before = await readAll(log);
  await log.close();
  const again = await ctx.reopen(env, options);
  try {
    assert.equal(again.logEndOffset, 50);
    assert.deepEqual(await readAll(again), before);
    assert.deepEqual(again.recoveryReport.indexesRebuilt, []);
    assert.deepEqual(again.recoveryReport.truncated, []);
    assert.deepEqual(await again.append(testBatch(99, 1)), { baseOffset: 50, lastOffset: 50 });
    assert.equal(await again.offsetForTimestamp(T0 + 24), 47);
  } finally {
    await again.close();
    await env.cleanup();
  }
}

async function tornTail(ctx: SuiteContext): Promise<void> {
  const env = await ctx.factory();
  const log = await ctx.reopen(env, {});
  for (let i = 0; i < 5; i++) await log.append(testBatch(i, 2));
  await log.close();
  const path = join(env.directory, segmentFileName(0, ".log"));
  const bytes = await env.readFile(path);
  await env.writeFile(path, bytes.subarray(0, bytes.length - 17));
  const again = await ctx.reopen(env, {});
  try {
    assert.equal(again.logEndOffset, 8);
    const [cut] = again.recoveryReport.truncated;
    assert.equal(cut.file, path);
    assert.equal(cut.fromBytes, bytes.length - 17);
    assert.equal(cut.toBytes, bytes.length - testBatch(4, 2).length);
    assert.deepEqual(await again.append(testBatch(9, 1)), { baseOffset: 8, lastOffset: 8 });
    assert.equal((await readAll(again)).length, 5);
  } finally {
    await again.close();
    await env.cleanup();
  }
}

async function damagedIndexes(ctx: SuiteContext): Promise<void> {
  const env = await ctx.factory();
  const options = { segment_bytes: 2048, index_interval_bytes: 200 };
  const log = await ctx.reopen(env, options);
  for (let i = 0; i < 30; i++) await log.append(testBatch(i, 2, 120));
  const before = await readAll(log);
  await log.close();
  const dir = env.directory;
  await env.removeFile(join(dir, segmentFileName(0, ".index")));
  await env.removeFile(join(dir, segmentFileName(0, ".timeindex")));
  const second = (await env.listFiles()).find((file) => file.endsWith(".index"));
  assert.ok(second !== undefined && second !== segmentFileName(0, ".index"));
  // One entry pointing far past the end of its log.
  const entry = Buffer.alloc(8);
  entry.writeInt32BE(1, 0);
  entry.writeInt32BE(1 << 30, 4);
  await env.writeFile(join(dir, second), entry);
  const again = await ctx.reopen(env, options);
  try {
    const rebuilt = again.recoveryReport.indexesRebuilt.map((one) => one.reason);
    assert.equal(rebuilt.length, 2, rebuilt.join("; "));
    assert.match(rebuilt[0], /missing/);
    assert.match(rebuilt[1], /past the end/);
    assert.deepEqual(await readAll(again), before);
    assert.ok((await env.readFile(join(dir, segmentFileName(0, ".index")))).length > 0);
  } finally {
    await again.close();
    await env.cleanup();
  }
}

async function corruptClosedSegment(ctx: SuiteContext): Promise<void> {
  const env = await ctx.factory();
  const options = { segment_bytes: 4096 };
  const log = await ctx.reopen(env, options);
  const sizes: number[] = [];
  for (let i = 0; i < 30; i++) {
    const batch = testBatch(i, 1, 200);
    sizes.push(batch.length);
    await log.append(batch);
  }
  await log.close();
  const path = join(env.directory, segmentFileName(0, ".log"));
  const bytes = await env.readFile(path);
  const position = sizes[0] + sizes[1];
  bytes[position + 100] ^= 0x10; // a value byte of batch 2: only the CRC can tell
  await env.writeFile(path, bytes);
  const warnings: object[] = [];
  const logger = { info() {}, warn() {}, error: (fields: object) => warnings.push(fields) };
  const again = await ctx.reopen(env, options, { recoveryScope: "all", logger });
  try {
    const [region] = again.recoveryReport.corruptRegions;
    assert.equal(region.file, path);
    assert.equal(region.position, position);
    assert.equal(region.firstOffset, 2);
    assert.equal(region.lastOffset, 2);
    assert.ok(warnings.length >= 1);
    await expectCode(again.read(2, 1000), ErrorCode.STORAGE_CORRUPT);
    assert.equal((await again.read(1, 100)).firstOffset, 1);
    assert.equal((await again.read(3, 100)).firstOffset, 3);
    assert.equal((await readAll(again, 3)).length, 27);
    assert.equal(again.logEndOffset, 30);
  } finally {
    await again.close();
    await env.cleanup();
  }
}

async function appendAfterClose(ctx: SuiteContext): Promise<void> {
  const env = await ctx.factory();
  const log = await ctx.reopen(env, {});
  await log.close();
  await expectCode(log.append(testBatch(0)), ErrorCode.STORAGE_CLOSED);
  await env.cleanup();
}

async function policyCase(ctx: SuiteContext, policy: "always" | "interval" | "never") {
  await ctx.withLog({ fsync_policy: policy, fsync_interval_ms: 5 }, async (log) => {
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => log.append(testBatch(i, 1))),
    );
    assert.equal(results[29].lastOffset, 29);
    await log.flush();
    assert.equal((await readAll(log)).length, 30);
  });
}

/** Title and body of every case; the titles say what each body checks. */
const CASES: ReadonlyArray<[string, (ctx: SuiteContext) => Promise<void>]> = [
  ["an empty log starts at 0 and reads nothing", emptyLog],
  ["concurrent appends get consecutive offsets and read back byte for byte", concurrentAppends],
  ["group commit coalesces appends that arrive during a write", groupCommitCoalesces],
  [
    "read starts at the batch holding the offset and returns whole batches",
    readReturnsWholeBatches,
  ],
  ["invalid, oversized and multiple batches are refused and leave no trace", refusedBatches],
  ["segments roll by size, named by base offset, and reads cross them", rollBySize],
  ["a reader following each slice's nextOffset reads every batch once", followNextOffset],
  ["segments roll by age of their first batch", rollByAge],
  ["retention by size deletes whole closed segments and moves the start", retentionBySize],
  ["retention by time deletes segments whose newest record is too old", retentionByTime],
  [
    "deleteBefore deletes the closed segments wholly below an offset and moves the start",
    deleteBeforeOffset,
  ],
  ["deleteBefore never deletes the active segment", deleteBeforeKeepsActive],
  ["deleteBefore keeps deleted files open for reads under way", deleteBeforeDelaysClose],
  ["deleteBefore on a closed log is refused and deletes nothing", deleteBeforeAfterClose],
  ["offsetForTimestamp finds the first record at or after a time", offsetForTimestamp],
  ["a reopened log has the same offsets and data, trusting closed indexes", reopenedLog],
  ["a torn tail is truncated on open and appends continue after it", tornTail],
  ["missing or damaged index files of closed segments are rebuilt", damagedIndexes],
  [
    "a corrupt batch inside a closed segment is reported; other ranges still serve",
    corruptClosedSegment,
  ],
  ["appends after close are refused", appendAfterClose],
];

export function runLogSuite(name: string, factory: LogTestFactory): void {
  const ctx: SuiteContext = {
    factory,
    async withLog(options, run, deps = {}) {
      const env = await factory();
      const log = await PartitionLog.open(env.directory, options, { fs: env.fs, ...deps });
      try {
        await run(log, env);
      } finally {
        await log.close();
        await env.cleanup();
      }
    },
    reopen: (env, options, deps = {}) =>
      PartitionLog.open(env.directory, options, { fs: env.fs, ...deps }),
  };
  describe(`partition log suite: ${name}`, () => {
    for (const [title, run] of CASES) test(title, () => run(ctx));
    for (const policy of ["always", "interval", "never"] as const) {
      test(`fsync policy ${policy}: acknowledged appends read back, flush works`, () =>
        policyCase(ctx, policy));
    }
  });
}
