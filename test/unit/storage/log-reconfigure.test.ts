/**
 * PartitionLog.reconfigure on the real file system: a running log takes new options (a Kafka
 * topic's configs altered at run time) for what comes next, keeps what is stored readable, and
 * reopens with the new options as it was left.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ErrorCode } from "../../../src/errors.ts";
import { NodeFileSystem } from "../../../src/storage/log/file-system.ts";
import type { LogOptions } from "../../../src/storage/log/options.ts";
import { PartitionLog } from "../../../src/storage/log/partition-log.ts";
import { buildRecordBatch } from "../../../src/storage/log/records.ts";
import { StorageError } from "../../../src/storage/log/storage-error.ts";
import { readAll, testBatch } from "./log-suite.ts";

interface Clock {
  now: number;
}

async function withLog(
  options: Partial<LogOptions>,
  run: (
    log: PartitionLog,
    reopen: (o: Partial<LogOptions>) => Promise<PartitionLog>,
    clock: Clock,
  ) => Promise<void>,
): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "rmq-log-reconfigure-"));
  const directory = join(root, "topic-0");
  const clock = { now: Date.now() };
  const deps = { fs: new NodeFileSystem(), now: () => clock.now };
  const opened: PartitionLog[] = [];
  const open = async (o: Partial<LogOptions>) => {
    const log = await PartitionLog.open(directory, o, deps);
    opened.push(log);
    return log;
  };
  try {
    await run(await open(options), open, clock);
  } finally {
    for (const log of opened) await log.close();
    await rm(root, { recursive: true, force: true });
  }
}

async function refusedWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.code, code);
    return true;
  });
}

test("batch_bytes_max: lowered refuses the next larger batch, raised accepts it; stored ones stay", async () => {
  await withLog({ batch_bytes_max: 4000 }, async (log, reopen) => {
    const big = () => testBatch(1, 1, 2000);
    await log.append(big());
    log.reconfigure({ batch_bytes_max: 1000 });
    assert.equal(log.options.batch_bytes_max, 1000);
    await refusedWith(log.append(big()), ErrorCode.STORAGE_BATCH_TOO_LARGE);
    await log.append(testBatch(2, 1, 100));
    log.reconfigure({ batch_bytes_max: 4000 });
    await log.append(big());
    assert.equal(log.logEndOffset, 3);
    // Reopened under a limit lower than stored batches: they are data, not damage.
    await log.close();
    const again = await reopen({ batch_bytes_max: 1000 });
    assert.deepEqual(again.recoveryReport.corruptRegions, []);
    assert.equal((await readAll(again)).length, 3);
  });
});

test("segment_bytes: lowered rolls at the next append, raised lets the next segments grow", async () => {
  await withLog({ segment_bytes: 64 * 1024, index_interval_bytes: 256 }, async (log, reopen) => {
    for (let i = 0; i < 4; i++) await log.append(testBatch(i, 1, 300));
    assert.equal(log.segmentCount, 1);
    log.reconfigure({ segment_bytes: 1024, index_interval_bytes: 256 });
    await log.append(testBatch(4, 1, 300));
    assert.equal(log.segmentCount, 2, "the full active segment rolled");
    for (let i = 5; i < 12; i++) await log.append(testBatch(i, 1, 300));
    const small = log.segmentCount;
    assert.ok(
      log
        .segments()
        .slice(1, -1)
        .every((s) => s.sizeBytes <= 1024),
    );
    log.reconfigure({ segment_bytes: 64 * 1024, index_interval_bytes: 256 });
    for (let i = 12; i < 40; i++) await log.append(testBatch(i, 1, 300));
    // The active segment kept the index sized for 1 KiB and rolled when it filled; the next
    // ones are sized for 64 KiB.
    const sizes = log.segments().map((s) => s.sizeBytes);
    assert.ok(Math.max(...sizes) > 4096, `segments of ${sizes.join(", ")} bytes`);
    assert.ok(log.segmentCount <= small + 2, `${log.segmentCount} segments`);
    assert.equal((await readAll(log)).length, 40);
    await log.close();
    const again = await reopen({ segment_bytes: 64 * 1024, index_interval_bytes: 256 });
    assert.equal((await readAll(again)).length, 40);
    assert.equal(again.logEndOffset, 40);
  });
});

test("segment_ms: a shorter one rolls the active segment by age at the next append", async () => {
  await withLog({}, async (log, _reopen, clock) => {
    const at = clock.now;
    await log.append(testBatch(0, 1, 10, at));
    await log.append(testBatch(1, 1, 10, at + 5000));
    assert.equal(log.segmentCount, 1);
    log.reconfigure({ segment_ms: 1000 });
    await log.append(testBatch(2, 1, 10, at + 6000));
    assert.equal(log.segmentCount, 2);
  });
});

test("retention_ms and retention_bytes: the next retention pass follows the new values", async () => {
  await withLog({ segment_bytes: 1024, retention_ms: -1 }, async (log, _reopen, clock) => {
    const old = clock.now - 3_600_000;
    for (let i = 0; i < 10; i++) await log.append(testBatch(i, 1, 300, old + i));
    for (let i = 10; i < 20; i++) await log.append(testBatch(i, 1, 300, clock.now));
    assert.equal((await log.applyRetention()).deletedSegmentCount, 0);
    log.reconfigure({ segment_bytes: 1024, retention_ms: 60_000 });
    const byTime = await log.applyRetention();
    assert.ok(byTime.deletedSegmentCount > 0);
    assert.ok(log.logStartOffset >= 5 && log.logStartOffset <= 10, `${log.logStartOffset}`);
    log.reconfigure({ segment_bytes: 1024, retention_ms: 60_000, retention_bytes: 1500 });
    await log.applyRetention();
    assert.ok(log.sizeBytes < 1500 + 1024, `${log.sizeBytes} bytes left`);
    assert.equal(log.logEndOffset, 20);
  });
});

test("cleanup_policy: compact on refuses keyless records and compacts; off again, neither", async () => {
  const keyless = () =>
    buildRecordBatch([{ timestamp: Date.now(), key: null, value: Buffer.from("v") }]);
  await withLog({ segment_bytes: 1024 }, async (log) => {
    for (let i = 0; i < 30; i++) await log.append(testBatch(i % 3, 1, 200));
    assert.equal((await log.compact({ force: true })).ran, false, "not compacted yet");
    log.reconfigure({ segment_bytes: 1024, cleanup_policy: "compact" });
    await refusedWith(log.append(keyless()), ErrorCode.STORAGE_INVALID_BATCH);
    const pass = await log.compact({ force: true });
    assert.ok(pass.ran && pass.recordsRemoved > 0, JSON.stringify(pass));
    // compact alone: retention deletes nothing however small the limit.
    log.reconfigure({ segment_bytes: 1024, cleanup_policy: "compact", retention_bytes: 0 });
    assert.equal((await log.applyRetention()).deletedSegmentCount, 0);
    log.reconfigure({ segment_bytes: 1024, cleanup_policy: "delete" });
    await log.append(keyless());
    assert.equal((await log.compact({ force: true })).ran, false);
  });
});

test("fsync_policy: switching between never, interval and always keeps every append", async () => {
  await withLog({ fsync_policy: "never" }, async (log) => {
    await log.append(testBatch(0, 1));
    log.reconfigure({ fsync_policy: "interval", fsync_interval_ms: 5 });
    await log.append(testBatch(1, 1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    log.reconfigure({ fsync_policy: "always" });
    assert.equal(log.options.fsync_policy, "always");
    await log.append(testBatch(2, 1));
    await log.flush();
    assert.equal((await readAll(log)).length, 3);
  });
});

test("options sized at open cannot change, and a closed log takes no options", async () => {
  await withLog({}, async (log) => {
    assert.throws(() => log.reconfigure({ append_queue_bytes_max: 32 * 1024 * 1024 }), /fixed/);
    assert.throws(() => log.reconfigure({ index_interval_bytes: 128 }), /fixed/);
    assert.equal(log.options.append_queue_bytes_max, 64 * 1024 * 1024, "left as it was");
    await log.close();
    assert.throws(
      () => log.reconfigure({ retention_ms: 1 }),
      (error: unknown) => error instanceof StorageError && error.code === ErrorCode.STORAGE_CLOSED,
    );
  });
});
