/**
 * Recovery under damage, as property tests on the in-memory file system: random truncation,
 * random bit flips and zero-filled tails of the active segment always recover to exactly the
 * batches before the damage, and the log takes appends again. fast-check prints the seed of any
 * failure (replay with FC_SEED / FC_PATH).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { LogOptions } from "../../../src/storage/log/options.ts";
import { PartitionLog } from "../../../src/storage/log/partition-log.ts";
import {
  OFFSET_PARTITION_LEADER_EPOCH,
  setBaseOffset,
} from "../../../src/storage/log/record-batch.ts";
import type { StorageLogger } from "../../../src/storage/log/recovery.ts";
import { segmentFileName } from "../../../src/storage/log/segment.ts";
import { FaultyFileSystem } from "./faulty-fs.ts";
import { fcParameters } from "./fc-config.ts";
import { readAll, testBatch } from "./log-suite.ts";

const DIRECTORY = "/data/p0";
const ACTIVE = join(DIRECTORY, segmentFileName(0, ".log"));

interface Written {
  fs: FaultyFileSystem;
  /** Stored form of each batch (with its offset), in order. */
  batches: Buffer[];
  /** Byte position where each batch starts, plus the end. */
  bounds: number[];
}

async function writeLog(
  shape: readonly number[],
  options: Partial<LogOptions> = {},
  valueBytes = (i: number) => 20 + ((i * 37) % 90),
) {
  const fs = new FaultyFileSystem({ seed: 7 });
  await fs.mkdir(DIRECTORY);
  const log = await PartitionLog.open(DIRECTORY, options, { fs });
  const batches: Buffer[] = [];
  const bounds = [0];
  for (let i = 0; i < shape.length; i++) {
    const batch = testBatch(i, shape[i], valueBytes(i));
    const copy = Buffer.from(batch);
    const { baseOffset } = await log.append(batch);
    setBaseOffset(copy, 0, baseOffset);
    batches.push(copy);
    bounds.push(bounds[i] + copy.length);
  }
  await log.close();
  return { fs, batches, bounds } satisfies Written;
}

function recordingLogger(): StorageLogger & { lines: string[] } {
  const lines: string[] = [];
  const record = (_fields: object, message: string) => lines.push(message);
  return { lines, info: record, warn: record, error: record };
}

/** Reopens, checks the recovered log holds exactly `expected`, and that it takes an append. */
async function expectRecovered(written: Written, expected: readonly Buffer[]) {
  const logger = recordingLogger();
  const log = await PartitionLog.open(DIRECTORY, {}, { fs: written.fs, logger });
  try {
    assert.deepEqual(await readAll(log), expected);
    const next = expected.length === 0 ? 0 : nextOffsetOf(expected[expected.length - 1]);
    assert.equal(log.logEndOffset, next);
    const appended = await log.append(testBatch(999, 2));
    assert.deepEqual(appended, { baseOffset: next, lastOffset: next + 1 });
    assert.ok(logger.lines.includes("log opened"));
    return log.recoveryReport;
  } finally {
    await log.close();
  }
}

function nextOffsetOf(batch: Buffer): number {
  return Number(batch.readBigInt64BE(0)) + batch.readInt32BE(23) + 1;
}

const shapeArbitrary = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 12 });

describe("recovery of the active segment", () => {
  test("random truncation keeps exactly the whole batches before the cut", async () => {
    await fc.assert(
      fc.asyncProperty(
        shapeArbitrary,
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (shape, at) => {
          const written = await writeLog(shape);
          const size = written.bounds[written.bounds.length - 1];
          const cut = Math.floor(at * size);
          written.fs.setLength(ACTIVE, cut);
          const whole = written.bounds.filter((bound) => bound <= cut).length - 1;
          const report = await expectRecovered(written, written.batches.slice(0, whole));
          const atBoundary = written.bounds.includes(cut);
          assert.equal(report.truncated.length, atBoundary ? 0 : 1);
          if (!atBoundary) assert.equal(report.truncated[0].toBytes, written.bounds[whole]);
        },
      ),
      fcParameters(150),
    );
  });

  test("a random bit flip loses the flipped batch and all after it, nothing before", async () => {
    await fc.assert(
      fc.asyncProperty(
        shapeArbitrary,
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (shape, at) => {
          const written = await writeLog(shape);
          const size = written.bounds[written.bounds.length - 1];
          const bit = Math.min(Math.floor(at * size * 8), size * 8 - 1);
          written.fs.flipBit(ACTIVE, bit);
          const byte = bit >> 3;
          const hit = written.bounds.findIndex(
            (bound, i) => byte >= bound && byte < written.bounds[i + 1],
          );
          const within = byte - written.bounds[hit];
          const inEpoch =
            within >= OFFSET_PARTITION_LEADER_EPOCH && within < OFFSET_PARTITION_LEADER_EPOCH + 4;
          if (inEpoch) {
            // The leader epoch is outside the CRC by design (Kafka stamps it on arrival).
            const expected = written.batches.map((batch) => Buffer.from(batch));
            expected[hit][within] ^= 1 << (bit & 7);
            await expectRecovered(written, expected);
          } else {
            const report = await expectRecovered(written, written.batches.slice(0, hit));
            assert.equal(report.truncated.length, 1);
            assert.equal(report.truncated[0].file, ACTIVE);
          }
        },
      ),
      fcParameters(200),
    );
  });

  test("batches across and larger than the 1 MiB scan window recover up to a random cut", async () => {
    // The scan reads the file a megabyte at a time into one reused buffer: batches that start
    // near a window's end, or are larger than a window, must be read again whole.
    const sizes = fc.array(fc.integer({ min: 1, max: 1_600_000 }), { minLength: 1, maxLength: 5 });
    await fc.assert(
      fc.asyncProperty(sizes, fc.double({ min: 0, max: 1, noNaN: true }), async (values, at) => {
        const shape = values.map(() => 1);
        const written = await writeLog(
          shape,
          { batch_bytes_max: 2 * 1024 * 1024 },
          (i) => values[i],
        );
        const size = written.bounds[written.bounds.length - 1];
        const cut = at > 0.8 ? size : Math.floor((at / 0.8) * size);
        written.fs.setLength(ACTIVE, cut);
        const whole = written.bounds.filter((bound) => bound <= cut).length - 1;
        const report = await expectRecovered(written, written.batches.slice(0, whole));
        assert.equal(report.truncated.length, written.bounds.includes(cut) ? 0 : 1);
      }),
      fcParameters(25),
    );
  });

  test("a zero-filled tail (file extended without data) is cut off", async () => {
    await fc.assert(
      fc.asyncProperty(shapeArbitrary, fc.integer({ min: 1, max: 5000 }), async (shape, extra) => {
        const written = await writeLog(shape);
        const size = written.bounds[written.bounds.length - 1];
        written.fs.setLength(ACTIVE, size + extra);
        const report = await expectRecovered(written, written.batches);
        assert.deepEqual(report.truncated[0], {
          file: ACTIVE,
          fromBytes: size + extra,
          toBytes: size,
          reason: report.truncated[0].reason,
        });
      }),
      fcParameters(50),
    );
  });
});

describe("recovery of closed segments", () => {
  const options = { segment_bytes: 1500, index_interval_bytes: 300 };

  test("garbage index files are detected and rebuilt, whatever the bytes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (garbage) => {
        const written = await writeLog(
          Array.from({ length: 30 }, () => 3),
          options,
        );
        written.fs.putFile(join(DIRECTORY, segmentFileName(0, ".index")), Buffer.from(garbage));
        const log = await PartitionLog.open(DIRECTORY, options, { fs: written.fs });
        try {
          assert.deepEqual(await readAll(log), written.batches);
        } finally {
          await log.close();
        }
      }),
      fcParameters(60),
    );
  });

  test("a stray index file without its segment is removed", async () => {
    const written = await writeLog([1, 2], options);
    const stray = segmentFileName(12345, ".timeindex");
    written.fs.putFile(join(DIRECTORY, stray), Buffer.alloc(12));
    const report = await expectRecovered(written, written.batches);
    assert.deepEqual(report.strayFilesRemoved, [stray]);
    assert.ok(!written.fs.list(DIRECTORY).includes(stray));
  });

  test("a closed segment cut short is reported and its lost offsets refused", async () => {
    const written = await writeLog(
      Array.from({ length: 20 }, () => 2),
      options,
    );
    const files = written.fs.list(DIRECTORY).filter((file) => file.endsWith(".log"));
    assert.ok(files.length >= 3);
    const first = join(DIRECTORY, files[0]);
    const size = written.fs.fileBytes(first)?.length ?? 0;
    written.fs.setLength(first, size - 10);
    const log = await PartitionLog.open(DIRECTORY, options, { fs: written.fs });
    try {
      const regions = log.recoveryReport.corruptRegions;
      assert.equal(regions.length, 1);
      assert.equal(regions[0].file, first);
      assert.ok(log.recoveryReport.indexesRebuilt.length >= 1);
      const lost = regions[0].firstOffset;
      await assert.rejects(log.read(lost, 100), /corrupt batch/);
      assert.deepEqual(
        await readAll(log, regions[0].lastOffset + 1),
        written.batches.slice((regions[0].lastOffset + 1) / 2),
      );
      assert.deepEqual(await readAll(log, 0, 100).catch(() => null), null);
    } finally {
      await log.close();
    }
  });
});
