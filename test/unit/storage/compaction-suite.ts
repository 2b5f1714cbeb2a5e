/**
 * Compaction on a real partition log, for every FileSystem (run by log-node-fs.test.ts and
 * log-faulty-fs.test.ts): latest value per key, offsets kept with gaps that reads and reopening
 * handle, tombstones until their horizon, keyless records refused, merging, the dirty ratio.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode } from "../../../src/errors.ts";
import type { LogOptions } from "../../../src/storage/log/options.ts";
import { PartitionLog } from "../../../src/storage/log/partition-log.ts";
import {
  checkBatch,
  computeBatchCrc,
  OFFSET_CRC,
  OFFSET_MAX_TIMESTAMP,
  readBatchHeader,
} from "../../../src/storage/log/record-batch.ts";
import { buildRecordBatch, readRecords } from "../../../src/storage/log/records.ts";
import { KafkaErrorCode, StorageError } from "../../../src/storage/log/storage-error.ts";
import { type LogTestEnvironment, type LogTestFactory, readAll } from "./log-suite.ts";

const T0 = Date.now() - 60_000;

export const COMPACTED: Partial<LogOptions> = {
  cleanup_policy: "compact",
  segment_bytes: 1024,
  index_interval_bytes: 128,
  file_delete_delay_ms: 0,
};

/** One record per batch: key `k<key>`, value `v<n>` (null for a tombstone). */
export function keyed(key: number, n: number | null, timestamp = T0): Buffer {
  return buildRecordBatch([
    {
      timestamp,
      key: Buffer.from(`k${key}`),
      value: n === null ? null : Buffer.from(`v${n}`.padEnd(40, ".")),
    },
  ]);
}

export interface ReadRecord {
  offset: number;
  key: string | null;
  value: string | null;
}

/** Every record of the log, in offset order. */
export async function records(log: PartitionLog, from?: number): Promise<ReadRecord[]> {
  const out: ReadRecord[] = [];
  for (const batch of await readAll(log, from, 300)) {
    const decoded = readRecords(batch);
    assert.ok(decoded.kind === "ok", "stored batches decode");
    for (const r of decoded.records) {
      if (from !== undefined && r.offset < from) continue;
      const value = r.value === null ? null : r.value.toString().replace(/\.+$/, "");
      out.push({ offset: r.offset, key: r.key?.toString() ?? null, value });
    }
  }
  return out;
}

/** key -> [offset, value] after replaying `list` (tombstones delete). */
export function finalState(list: readonly ReadRecord[]): Map<string, [number, string]> {
  const state = new Map<string, [number, string]>();
  for (const r of list) {
    if (r.key === null) continue;
    if (r.value === null) state.delete(r.key);
    else state.set(r.key, [r.offset, r.value]);
  }
  return state;
}

async function withLog(
  factory: LogTestFactory,
  options: Partial<LogOptions>,
  run: (log: PartitionLog, env: LogTestEnvironment, clock: { now: number }) => Promise<void>,
): Promise<void> {
  const env = await factory();
  const clock = { now: Date.now() };
  const log = await PartitionLog.open(env.directory, options, {
    fs: env.fs,
    now: () => clock.now,
  });
  try {
    await run(log, env, clock);
  } finally {
    await log.close();
    await env.cleanup();
  }
}

async function compactsToLatest(factory: LogTestFactory): Promise<void> {
  await withLog(factory, COMPACTED, async (log, env) => {
    for (let n = 0; n < 120; n++) await log.append(keyed(n % 5, n));
    const before = await records(log);
    const segmentsBefore = log.segmentCount;
    const result = await log.compact();
    assert.ok(result.ran && result.recordsRemoved > 0, JSON.stringify(result));
    // Groups are formed by size before cleaning (as Kafka): the shrunk segments merge next time.
    assert.equal(log.segmentCount, segmentsBefore);
    const merged = await log.compact({ force: true });
    assert.ok(merged.segmentsCleaned > merged.segmentsWritten, JSON.stringify(merged));
    assert.ok(log.segmentCount < segmentsBefore, "cleaned segments were merged");
    const after = await records(log);
    assert.deepEqual(finalState(after), finalState(before));
    const active = log.segments()[log.segmentCount - 1];
    const closed = after.filter((r) => r.offset < active.baseOffset);
    // Closed segments hold at most one record per key (and the boundary batches' records).
    assert.ok(closed.length <= 5 + 2 * log.segmentCount, `${closed.length} records left`);
    assert.equal(log.logStartOffset, 0);
    assert.equal(log.logEndOffset, 120);
    // A read at an offset whose whole batch was compacted away gets the next batch.
    const spans = (await readAll(log)).map((batch) => {
      const header = readBatchHeader(batch);
      return [header.baseOffset, header.baseOffset + header.lastOffsetDelta];
    });
    const gone = before.find((r) => !spans.some(([a, b]) => a <= r.offset && r.offset <= b));
    assert.ok(gone !== undefined, "some batch was dropped");
    const slice = await log.read(gone.offset, 100);
    assert.ok(slice.firstOffset > gone.offset);
    // No read answers with emptied batches alone (kafkajs would never move past them).
    for (let offset = 0; offset < log.logEndOffset; offset++) {
      const bytes = await log.readSlice(await log.read(offset, 1));
      assert.ok(bytes.length > 0 && readBatchHeader(bytes).recordsCount > 0, `at ${offset}`);
    }
    // Reopening (with every segment scanned, gaps and all) gives the same records.
    await log.close();
    for (const scope of ["active", "all"] as const) {
      const again = await PartitionLog.open(env.directory, COMPACTED, {
        fs: env.fs,
        recoveryScope: scope,
      });
      try {
        assert.deepEqual(again.recoveryReport.corruptRegions, []);
        assert.deepEqual(await records(again), after);
      } finally {
        await again.close();
      }
    }
    assert.deepEqual(
      (await env.listFiles()).filter((f) => f.includes(".cleaned") || f.includes(".swap")),
      [],
    );
  });
}

/** Two records whose batch header states a max timestamp below the second one's. */
function understatedBatch(): Buffer {
  const batch = buildRecordBatch([
    { timestamp: T0, key: Buffer.from("k1"), value: Buffer.from("v1") },
    { timestamp: T0 + 1000, key: Buffer.from("k2"), value: Buffer.from("v2") },
  ]);
  batch.writeBigInt64BE(BigInt(T0), OFFSET_MAX_TIMESTAMP);
  batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), OFFSET_CRC);
  return batch;
}

async function wrongMaxTimestamp(factory: LogTestFactory): Promise<void> {
  await withLog(factory, COMPACTED, async (log) => {
    // From a client, the header is set to what the records hold, with its CRC.
    await log.append(understatedBatch(), { fromClient: true });
    const [stored] = await readAll(log);
    assert.equal(readBatchHeader(stored).maxTimestamp, T0 + 1000);
    assert.equal(checkBatch(stored, 0, stored.length, 1 << 20).kind, "ok");
    // Kept as written otherwise: compaction still rewrites it, never below a record's time.
    await log.append(understatedBatch());
    for (let n = 0; n < 30; n++) await log.append(keyed(1, n, T0 + 2000));
    const result = await log.compact({ force: true });
    assert.ok(result.ran && result.recordsRemoved > 0, JSON.stringify(result));
    const headers = (await readAll(log)).map((batch) => readBatchHeader(batch));
    const rewritten = headers.filter((h) => h.baseOffset < 4);
    assert.ok(rewritten.length > 0);
    for (const header of rewritten) assert.ok(header.maxTimestamp >= T0 + 1000);
    assert.equal(finalState(await records(log)).get("k2")?.[1], "v2");
  });
}

async function tombstonesUntilHorizon(factory: LogTestFactory): Promise<void> {
  const options = { ...COMPACTED, delete_retention_ms: 10_000 };
  await withLog(factory, options, async (log, _env, clock) => {
    for (let n = 0; n < 40; n++) await log.append(keyed(n % 4, n));
    await log.append(keyed(1, null));
    for (let n = 0; n < 30; n++) await log.append(keyed(9, n));
    await log.compact({ force: true });
    const kept = await records(log);
    assert.ok(
      kept.some((r) => r.key === "k1" && r.value === null),
      "tombstone kept for now",
    );
    assert.ok(!kept.some((r) => r.key === "k1" && r.value !== null), "older k1 values gone");
    clock.now += 5_000;
    await log.compact({ force: true });
    assert.ok(
      (await records(log)).some((r) => r.key === "k1"),
      "still inside the horizon",
    );
    clock.now += 6_000;
    // Not dirty, but the horizon has passed: the pass is due without force.
    const result = await log.compact();
    assert.ok(result.ran);
    const left = await records(log);
    assert.ok(!left.some((r) => r.key === "k1"), "tombstone removed after the horizon");
    assert.deepEqual(finalState(left), finalState(kept));
  });
}

async function keylessRefused(factory: LogTestFactory): Promise<void> {
  await withLog(factory, COMPACTED, async (log) => {
    const keyless = buildRecordBatch([
      { timestamp: T0, key: Buffer.from("a"), value: Buffer.from("1") },
      { timestamp: T0, key: null, value: Buffer.from("2") },
    ]);
    await assert.rejects(log.append(keyless), (error: unknown) => {
      assert.ok(error instanceof StorageError);
      assert.equal(error.code, ErrorCode.STORAGE_INVALID_BATCH);
      assert.equal(error.kafkaErrorCode, KafkaErrorCode.INVALID_RECORD);
      return true;
    });
    assert.equal(log.logEndOffset, 0);
  });
  await withLog(factory, { ...COMPACTED, cleanup_policy: "delete" }, async (log) => {
    const keyless = buildRecordBatch([{ timestamp: T0, key: null, value: Buffer.from("1") }]);
    assert.deepEqual(await log.append(keyless), { baseOffset: 0, lastOffset: 0 });
    assert.equal((await log.compact()).ran, false, "a delete-policy log is not compacted");
  });
}

async function dirtyRatioAndLag(factory: LogTestFactory): Promise<void> {
  await withLog(factory, { ...COMPACTED, min_cleanable_dirty_ratio: 0.5 }, async (log) => {
    for (let n = 0; n < 80; n++) await log.append(keyed(n % 3, n));
    assert.equal((await log.compact()).ran, true, "a log never cleaned is all dirty");
    assert.equal((await log.compact()).ran, false, "nothing new since");
    const size = log.sizeBytes;
    // Compact-only logs keep everything retention would delete.
    assert.equal((await log.applyRetention()).deletedSegmentCount, 0);
    assert.equal(log.sizeBytes, size);
  });
  await withLog(
    factory,
    { ...COMPACTED, min_compaction_lag_ms: 60_000 },
    async (log, _env, clock) => {
      for (let n = 0; n < 60; n++) await log.append(keyed(n % 3, n, clock.now));
      assert.equal((await log.compact({ force: true })).ran, false, "too recent to clean");
      clock.now += 61_000;
      assert.equal((await log.compact({ force: true })).ran, true);
    },
  );
}

async function readsUnderWaySurvive(factory: LogTestFactory): Promise<void> {
  await withLog(factory, { ...COMPACTED, file_delete_delay_ms: 60_000 }, async (log) => {
    for (let n = 0; n < 60; n++) await log.append(keyed(n % 3, n));
    const slice = await log.read(0, 200);
    await log.compact();
    // The slice names the old segment, whose handle stays open for reads under way.
    const bytes = await log.readSlice(slice);
    assert.equal(bytes.length, slice.sizeBytes);
    const decoded = readRecords(bytes);
    assert.ok(decoded.kind === "ok" && decoded.records[0].offset === 0);
  });
}

const CASES: ReadonlyArray<[string, (factory: LogTestFactory) => Promise<void>]> = [
  ["compaction keeps the latest value per key, offsets and reopening", compactsToLatest],
  ["tombstones stay until delete_retention_ms after their first cleaning", tombstonesUntilHorizon],
  ["a compacted log refuses keyless records (INVALID_RECORD)", keylessRefused],
  ["the dirty ratio and the compaction lag decide when a pass runs", dirtyRatioAndLag],
  ["reads under way finish on the replaced segments", readsUnderWaySurvive],
  [
    "a batch's wrong max timestamp: set right from clients, and no stop to compaction",
    wrongMaxTimestamp,
  ],
];

export function runCompactionSuite(name: string, factory: LogTestFactory): void {
  describe(`compaction suite: ${name}`, () => {
    for (const [title, run] of CASES) test(title, () => run(factory));
  });
}
