/**
 * A raised log start offset (Kafka's DeleteRecords) on a real partition log, for every
 * FileSystem (run by log-node-fs.test.ts and log-faulty-fs.test.ts): reads below it refused,
 * segments below it deleted (the active one too when nothing is left), never lowered, durable
 * across reopening, clamped at open, and retention and compaction that keep it. A log never
 * raised (the MQTT persistence) writes no start offset file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ErrorCode } from "../../../src/errors.ts";
import {
  encodeLogStartOffset,
  LOG_START_OFFSET_FILE,
  LOG_START_OFFSET_TEMPORARY_FILE,
} from "../../../src/storage/log/log-start-offset.ts";
import type { LogOptions } from "../../../src/storage/log/options.ts";
import { PartitionLog } from "../../../src/storage/log/partition-log.ts";
import { StorageError } from "../../../src/storage/log/storage-error.ts";
import { COMPACTED, keyed, records } from "./compaction-suite.ts";
import { type LogTestEnvironment, type LogTestFactory, readAll, testBatch } from "./log-suite.ts";

/** Small segments, retention off: every deletion here is the start offset's. */
const OPTIONS: Partial<LogOptions> = {
  segment_bytes: 1024,
  retention_bytes: -1,
  retention_ms: -1,
  file_delete_delay_ms: 0,
};

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.code, code);
    return true;
  });
}

async function segmentBases(env: LogTestEnvironment): Promise<number[]> {
  const logs = (await env.listFiles()).filter((file) => file.endsWith(".log"));
  return logs.map((file) => Number(file.slice(0, 20)));
}

/** 20 batches of two records (offsets 0-39) over several segments. */
async function filled(log: PartitionLog): Promise<void> {
  for (let i = 0; i < 20; i++) await log.append(testBatch(i, 2, 150));
}

type Case = (factory: LogTestFactory) => Promise<void>;

async function withEnv(
  factory: LogTestFactory,
  run: (env: LogTestEnvironment) => Promise<void>,
): Promise<void> {
  const env = await factory();
  try {
    await run(env);
  } finally {
    await env.cleanup();
  }
}

async function open(env: LogTestEnvironment, options = OPTIONS): Promise<PartitionLog> {
  return PartitionLog.open(env.directory, options, { fs: env.fs });
}

const raiseInsideASegment: Case = (factory) =>
  withEnv(factory, async (env) => {
    const log = await open(env);
    try {
      await filled(log);
      const bases = await segmentBases(env);
      assert.ok(bases.length >= 5, `${bases.length} segments`);
      const start = bases[3] + 3; // inside the fourth segment, inside a batch
      const result = await log.raiseLogStartOffset(start);
      assert.equal(result.logStartOffset, start);
      assert.equal(result.deletedSegmentCount, 3);
      assert.equal(log.logStartOffset, start);
      assert.deepEqual(await segmentBases(env), bases.slice(3));
      await expectCode(log.read(start - 1, 100), ErrorCode.STORAGE_OFFSET_OUT_OF_RANGE);
      await expectCode(log.read(0, 100), ErrorCode.STORAGE_OFFSET_OUT_OF_RANGE);
      // Whole batches, as a Kafka fetch: the one holding the start begins before it.
      assert.equal((await log.read(start, 100)).firstOffset, start - 1);
      const left = await readAll(log);
      assert.equal(left.length, (40 - (start - 1)) / 2);
      assert.equal(await log.offsetForTimestamp(0), start);
      assert.equal(log.logEndOffset, 40);
      assert.deepEqual(await log.append(testBatch(99, 1)), { baseOffset: 40, lastOffset: 40 });
      const file = await env.readFile(join(env.directory, LOG_START_OFFSET_FILE));
      assert.deepEqual(file, encodeLogStartOffset(start));
      assert.equal(file.toString().split(" ")[1], String(start));
    } finally {
      await log.close();
    }
  });

const neverLowered: Case = (factory) =>
  withEnv(factory, async (env) => {
    const log = await open(env);
    try {
      await filled(log);
      await log.raiseLogStartOffset(25);
      const path = join(env.directory, LOG_START_OFFSET_FILE);
      const written = await env.readFile(path);
      for (const lower of [24, 10, 0, 25]) {
        const result = await log.raiseLogStartOffset(lower);
        assert.deepEqual(result, { deletedSegmentCount: 0, deletedBytes: 0, logStartOffset: 25 });
      }
      assert.deepEqual(await env.readFile(path), written, "no write for an offset at or below");
      for (const bad of [41, 1000, -1, 2.5, Number.NaN]) {
        await expectCode(log.raiseLogStartOffset(bad), ErrorCode.STORAGE_OFFSET_OUT_OF_RANGE);
      }
      assert.equal(log.logStartOffset, 25);
      assert.equal((await log.raiseLogStartOffset(40)).logStartOffset, 40, "the end is allowed");
    } finally {
      await log.close();
    }
    await expectCode(log.raiseLogStartOffset(40), ErrorCode.STORAGE_CLOSED);
  });

const raiseToTheEnd: Case = (factory) =>
  withEnv(factory, async (env) => {
    const log = await open(env);
    try {
      await filled(log);
      const result = await log.raiseLogStartOffset(40);
      assert.equal(result.logStartOffset, 40);
      // The active segment rolled so that it could go too: one empty segment is left.
      assert.deepEqual(await segmentBases(env), [40]);
      assert.equal(log.segmentCount, 1);
      assert.equal(log.sizeBytes, 0);
      assert.equal((await log.read(40, 100)).sizeBytes, 0);
      await expectCode(log.read(39, 100), ErrorCode.STORAGE_OFFSET_OUT_OF_RANGE);
      const appends = await Promise.all([1, 2, 3].map((i) => log.append(testBatch(i, 1))));
      assert.deepEqual(
        appends.map((a) => a.baseOffset),
        [40, 41, 42],
      );
      assert.equal((await readAll(log)).length, 3);
    } finally {
      await log.close();
    }
  });

const raiseWhileAppending: Case = (factory) =>
  withEnv(factory, async (env) => {
    const log = await open(env);
    try {
      await filled(log);
      const appends = Array.from({ length: 30 }, (_, i) => log.append(testBatch(100 + i, 1)));
      const raised = log.raiseLogStartOffset(40);
      const more = Array.from({ length: 10 }, (_, i) => log.append(testBatch(200 + i, 1)));
      const results = await Promise.all([...appends, ...more]);
      assert.equal((await raised).logStartOffset, 40);
      const offsets = results.map((r) => r.baseOffset).sort((a, b) => a - b);
      assert.deepEqual(
        offsets,
        Array.from({ length: 40 }, (_, i) => 40 + i),
      );
      assert.equal((await readAll(log)).length, 40);
      assert.equal(log.logEndOffset, 80);
    } finally {
      await log.close();
    }
  });

const survivesReopen: Case = (factory) =>
  withEnv(factory, async (env) => {
    const first = await open(env);
    await filled(first);
    const bases = await segmentBases(env);
    await first.raiseLogStartOffset(bases[2] + 1);
    await first.close();
    const second = await open(env);
    try {
      assert.equal(second.logStartOffset, bases[2] + 1);
      assert.equal(second.recoveryReport.logStartOffset, bases[2] + 1);
      assert.deepEqual(second.recoveryReport.segmentsBelowStartRemoved, []);
      await expectCode(second.read(bases[2], 100), ErrorCode.STORAGE_OFFSET_OUT_OF_RANGE);
      assert.equal(second.logEndOffset, 40);
      await second.raiseLogStartOffset(40);
    } finally {
      await second.close();
    }
    const third = await open(env);
    try {
      assert.equal(third.logStartOffset, 40);
      assert.equal(third.logEndOffset, 40);
      assert.deepEqual(await segmentBases(env), [40]);
    } finally {
      await third.close();
    }
  });

/** What a crash can leave: the file written, the segments below not yet deleted. */
const settledAtOpen: Case = (factory) =>
  withEnv(factory, async (env) => {
    const first = await open(env);
    await filled(first);
    await first.close();
    const bases = await segmentBases(env);
    const path = join(env.directory, LOG_START_OFFSET_FILE);
    await env.writeFile(path, encodeLogStartOffset(bases[2] + 1));
    await env.writeFile(join(env.directory, LOG_START_OFFSET_TEMPORARY_FILE), Buffer.from("1 9"));
    const second = await open(env);
    try {
      assert.equal(second.logStartOffset, bases[2] + 1);
      assert.equal(second.recoveryReport.segmentsBelowStartRemoved.length, 2);
      assert.deepEqual(await segmentBases(env), bases.slice(2));
      assert.ok(!(await env.listFiles()).includes(LOG_START_OFFSET_TEMPORARY_FILE));
    } finally {
      await second.close();
    }
    // Past the end (a tail that was not durable is gone): the log restarts empty there.
    await env.writeFile(path, encodeLogStartOffset(100));
    const third = await open(env);
    try {
      assert.equal(third.logStartOffset, 100);
      assert.equal(third.logEndOffset, 100);
      assert.deepEqual(await segmentBases(env), [100]);
      assert.equal(third.recoveryReport.segmentsBelowStartRemoved.length, bases.length - 2);
      assert.deepEqual(await third.append(testBatch(1, 1)), { baseOffset: 100, lastOffset: 100 });
    } finally {
      await third.close();
    }
  });

const damagedFile: Case = (factory) =>
  withEnv(factory, async (env) => {
    const first = await open(env);
    await filled(first);
    await first.raiseLogStartOffset(7);
    await first.close();
    const path = join(env.directory, LOG_START_OFFSET_FILE);
    const bytes = await env.readFile(path);
    bytes[2] = "8".charCodeAt(0); // 7 -> 8: the checksum no longer matches
    await env.writeFile(path, bytes);
    const errors: object[] = [];
    const logger = { info() {}, warn() {}, error: (fields: object) => errors.push(fields) };
    const second = await PartitionLog.open(env.directory, OPTIONS, { fs: env.fs, logger });
    try {
      assert.equal(second.recoveryReport.logStartOffsetProblem, "checksum mismatch");
      const base = (await segmentBases(env))[0];
      assert.ok(base > 0 && base < 7, `${base}`);
      assert.equal(second.logStartOffset, base, "the first segment's base");
      assert.equal(errors.length, 1);
      assert.equal((await readAll(second)).length, (40 - base) / 2, "nothing more is lost");
      await second.raiseLogStartOffset(9);
    } finally {
      await second.close();
    }
    const third = await open(env);
    try {
      assert.equal(third.logStartOffset, 9);
      assert.equal(third.recoveryReport.logStartOffsetProblem, null);
    } finally {
      await third.close();
    }
  });

const retentionKeepsIt: Case = (factory) =>
  withEnv(factory, async (env) => {
    const log = await open(env, { ...OPTIONS, retention_bytes: 2500 });
    try {
      await filled(log);
      const bases = await segmentBases(env);
      // Below what retention will keep: retention moves the start on, past the raised one.
      await log.raiseLogStartOffset(3);
      const retained = await log.applyRetention();
      assert.ok(retained.deletedSegmentCount > 0);
      const start = log.logStartOffset;
      assert.ok(start > 3 && bases.includes(start), `${start}`);
      assert.equal(retained.logStartOffset, start);
      // A raise inside the first remaining segment; retention then never lowers it.
      await log.raiseLogStartOffset(start + 1);
      await log.applyRetention();
      assert.equal(log.logStartOffset, start + 1);
      for (let i = 0; i < 10; i++) await log.append(testBatch(50 + i, 2, 150));
      await log.applyRetention();
      assert.ok(log.logStartOffset >= start + 1);
    } finally {
      await log.close();
    }
    const reopened = await open(env, { ...OPTIONS, retention_bytes: 2500 });
    try {
      assert.ok(reopened.logStartOffset >= 0 && reopened.logStartOffset > 3);
    } finally {
      await reopened.close();
    }
  });

const compactionKeepsIt: Case = (factory) =>
  withEnv(factory, async (env) => {
    const log = await open(env, COMPACTED);
    try {
      for (let n = 0; n < 80; n++) await log.append(keyed(n % 5, n));
      const bases = await segmentBases(env);
      assert.ok(bases.length >= 4, `${bases.length} segments`);
      const start = bases[2] + 1;
      // Under cleanup_policy compact the raise deletes segments too, as in Kafka.
      assert.equal((await log.raiseLogStartOffset(start)).deletedSegmentCount, 2);
      const before = await records(log, start);
      const result = await log.compact({ force: true });
      assert.ok(result.ran && result.recordsRemoved > 0);
      assert.equal(log.logStartOffset, start);
      await expectCode(log.read(start - 1, 100), ErrorCode.STORAGE_OFFSET_OUT_OF_RANGE);
      const after = await records(log, start);
      // Compaction keeps each key's latest record: everything it kept was there before.
      const seen = new Set(before.map((r) => `${r.offset}:${r.value}`));
      for (const r of after) assert.ok(seen.has(`${r.offset}:${r.value}`));
      assert.deepEqual(after.at(-1), before.at(-1));
      assert.equal((await log.applyRetention()).logStartOffset, start);
    } finally {
      await log.close();
    }
  });

const neverRaisedWritesNothing: Case = (factory) =>
  withEnv(factory, async (env) => {
    const log = await open(env, { ...OPTIONS, retention_bytes: 2000 });
    try {
      await filled(log);
      await log.applyRetention();
      const start = log.logStartOffset;
      assert.equal(start, (await segmentBases(env))[0]);
      const later = (await segmentBases(env))[1];
      assert.equal((await log.deleteBefore(later)).logStartOffset, later);
      assert.equal(log.logStartOffset, later);
    } finally {
      await log.close();
    }
    const files = await env.listFiles();
    assert.ok(!files.some((file) => file.startsWith(LOG_START_OFFSET_FILE)), files.join());
  });

const CASES: ReadonlyArray<[string, Case]> = [
  [
    "a raise inside a segment deletes the segments below, refuses reads below, keeps the rest",
    raiseInsideASegment,
  ],
  ["the start is never lowered; past the log end is refused; closed is refused", neverLowered],
  ["a raise to the log end rolls so that every old segment goes; appends go on", raiseToTheEnd],
  ["a raise while appends are in flight loses and misplaces none of them", raiseWhileAppending],
  ["the start survives reopening", survivesReopen],
  [
    "at open, segments below the stored start go, and past the end the log restarts there",
    settledAtOpen,
  ],
  ["a damaged start offset file is reported and the log starts at its first segment", damagedFile],
  ["retention moves the start on but never back", retentionKeepsIt],
  ["compaction keeps the start; a compacted log's segments below it go", compactionKeepsIt],
  ["a log never raised writes no start offset file", neverRaisedWritesNothing],
];

export function runStartOffsetSuite(name: string, factory: LogTestFactory): void {
  describe(`log start offset suite: ${name}`, () => {
    for (const [title, run] of CASES) test(title, () => run(factory));
  });
}
