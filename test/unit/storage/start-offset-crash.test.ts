/**
 * Crash safety of raising the log start offset, on the fault-injecting file system: the process
 * dies at every step of a raise in turn (haltAfter), the machine loses whatever was not durable
 * (crash, with torn tails), and the log is reopened. The start is then the old one or the new
 * one, nothing else, and the new one whenever the raise was acknowledged; every record at or
 * above it is still there, byte for byte. Failed writes leave the start where it was. The seed
 * (torn tails) is printed: STORAGE_SEED.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ErrorCode } from "../../../src/errors.ts";
import {
  LOG_START_OFFSET_FILE,
  LOG_START_OFFSET_TEMPORARY_FILE,
  writeLogStartOffset,
} from "../../../src/storage/log/log-start-offset.ts";
import type { LogOptions } from "../../../src/storage/log/options.ts";
import { PartitionLog } from "../../../src/storage/log/partition-log.ts";
import { readBatchHeader } from "../../../src/storage/log/record-batch.ts";
import { StorageError } from "../../../src/storage/log/storage-error.ts";
import { Prng, testSeed } from "../../helpers/prng.ts";
import { FaultyFileSystem } from "./faulty-fs.ts";
import { readAll, testBatch } from "./log-suite.ts";

const DIRECTORY = "/data/topic-0";
const OPTIONS: Partial<LogOptions> = {
  segment_bytes: 1024,
  retention_bytes: -1,
  retention_ms: -1,
  file_delete_delay_ms: 0,
};
/** 20 batches of two records: offsets 0-39, two batches per segment. */
const END = 40;

async function written(seed: number, options = OPTIONS): Promise<FaultyFileSystem> {
  const fs = new FaultyFileSystem({ seed });
  await fs.mkdir(DIRECTORY);
  const log = await PartitionLog.open(DIRECTORY, options, { fs });
  for (let i = 0; i < END / 2; i++) await log.append(testBatch(i, 2, 150));
  await log.close();
  return fs;
}

function open(fs: FaultyFileSystem, options = OPTIONS): Promise<PartitionLog> {
  return PartitionLog.open(DIRECTORY, options, { fs });
}

/** The batches a reader from `start` gets (whole batches: the first may begin before it). */
function from(batches: readonly Buffer[], start: number): Buffer[] {
  return batches.filter((b) => {
    const header = readBatchHeader(b);
    return header.baseOffset + header.lastOffsetDelta >= start;
  });
}

async function sweep(seed: number, target: number): Promise<void> {
  const reference = await written(seed);
  const log = await open(reference);
  const all = await readAll(log);
  const stepsBefore = reference.steps;
  await log.raiseLogStartOffset(target);
  const steps = reference.steps - stepsBefore;
  await log.close();
  const prng = new Prng(seed ^ 0x57a7);
  const seen = { old: 0, new: 0 };
  for (let halt = 0; halt <= steps; halt++) {
    const where = `target ${target}, halt after ${halt} of ${steps} steps`;
    const fs = await written(seed);
    const victim = await open(fs);
    fs.haltAfter(halt);
    const acknowledged = await victim.raiseLogStartOffset(target).then(
      () => true,
      () => false,
    );
    fs.crash(prng.chance(0.5));
    const recovered = await open(fs);
    try {
      const start = recovered.logStartOffset;
      assert.ok(start === 0 || start === target, `${where}: start ${start}`);
      if (acknowledged) assert.equal(start, target, `${where}: acknowledged`);
      seen[start === 0 ? "old" : "new"]++;
      assert.equal(recovered.logEndOffset, END, where);
      assert.deepEqual(await readAll(recovered), from(all, start), where);
      assert.ok(!fs.list(DIRECTORY).includes(LOG_START_OFFSET_TEMPORARY_FILE), where);
      // Whatever was left half done, raising again finishes it.
      await recovered.raiseLogStartOffset(target);
      assert.equal(recovered.logStartOffset, target, where);
      const bases = recovered.segments().map((s) => s.baseOffset);
      assert.ok(bases.length === 1 || bases[1] > target, `${where}: segments ${bases}`);
    } finally {
      await recovered.close();
    }
  }
  assert.ok(seen.old > 0 && seen.new > 0, JSON.stringify({ steps, ...seen }));
}

describe("log start offset crash safety", () => {
  test("a crash at any step of a raise leaves the old or the new start", async () => {
    const seed = testSeed("start offset crash sweep");
    try {
      await sweep(seed, 15); // inside a closed segment
      await sweep(seed, END); // the whole log: the active segment rolls and goes too
    } catch (error) {
      throw new Error(`replay with STORAGE_SEED=${seed}`, { cause: error });
    }
  });

  test("an acknowledged raise survives a crash, under every fsync policy", async () => {
    const seed = testSeed("start offset acknowledged");
    for (const fsync_policy of ["always", "interval", "never"] as const) {
      const options = { ...OPTIONS, fsync_policy };
      const fs = await written(seed, options);
      const log = await open(fs, options);
      await log.raiseLogStartOffset(21);
      fs.crash(true);
      const recovered = await open(fs, options);
      try {
        assert.equal(recovered.logStartOffset, 21, fsync_policy);
        assert.equal(recovered.logEndOffset, END, fsync_policy);
      } finally {
        await recovered.close();
      }
    }
  });

  test("a start past a tail the crash lost restarts the log there, as Kafka does", async () => {
    const seed = testSeed("start offset past lost tail");
    const options = { ...OPTIONS, segment_bytes: 1 << 20, fsync_policy: "never" as const };
    const fs = new FaultyFileSystem({ seed });
    await fs.mkdir(DIRECTORY);
    const log = await open(fs, options);
    for (let i = 0; i < 10; i++) await log.append(testBatch(i, 2, 150));
    // Acknowledged but, under "never", not durable; the raise is.
    await log.raiseLogStartOffset(15);
    fs.crash(false);
    const recovered = await open(fs, options);
    try {
      assert.equal(recovered.logStartOffset, 15);
      assert.equal(recovered.logEndOffset, 15, "no offset below the start is handed out again");
      assert.deepEqual(await recovered.append(testBatch(99, 1)), {
        baseOffset: 15,
        lastOffset: 15,
      });
      assert.equal(recovered.segments()[0].baseOffset, 15);
    } finally {
      await recovered.close();
    }
  });

  test("a raise whose write or fsync fails leaves the start where it was", async () => {
    const seed = testSeed("start offset write faults");
    for (const operation of ["open", "write", "fsync", "rename"] as const) {
      const fs = await written(seed);
      const log = await open(fs);
      try {
        fs.failNext(operation, 1, "ENOSPC");
        await assert.rejects(log.raiseLogStartOffset(21), (error: unknown) => {
          assert.ok(error instanceof StorageError, String(error));
          assert.equal(error.code, ErrorCode.STORAGE_IO);
          return true;
        });
        assert.equal(log.logStartOffset, 0, operation);
        assert.equal((await log.read(0, 100)).firstOffset, 0, operation);
        assert.ok(!fs.list(DIRECTORY).includes(LOG_START_OFFSET_FILE), operation);
        assert.equal((await log.raiseLogStartOffset(21)).logStartOffset, 21, operation);
      } finally {
        await log.close();
      }
    }
  });

  test("after a raise to the end whose roll failed, no timestamp finds an offset", async () => {
    const seed = testSeed("start offset failed roll");
    // The changing steps of writing the start offset alone; the roll's come after them.
    const probe = new FaultyFileSystem({ seed });
    await probe.mkdir(DIRECTORY);
    const before = probe.steps;
    await writeLogStartOffset(probe, DIRECTORY, END);
    const fs = await written(seed);
    const log = await open(fs);
    try {
      fs.haltAfter(probe.steps - before);
      assert.equal((await log.raiseLogStartOffset(END)).logStartOffset, END);
      assert.ok((log.segments().at(-1)?.sizeBytes ?? 0) > 0, "the roll failed: records stay");
      // Every record is below the start: none is at or after any timestamp.
      assert.equal(await log.offsetForTimestamp(0), null);
    } finally {
      fs.haltAfter(Infinity);
      await log.close();
    }
  });

  test("a failed deletion after the raise is logged; the start stands and the files go", async () => {
    const seed = testSeed("start offset unlink fault");
    const fs = await written(seed);
    const errors: object[] = [];
    const logger = { info() {}, warn() {}, error: (fields: object) => errors.push(fields) };
    const log = await PartitionLog.open(DIRECTORY, OPTIONS, { fs, logger });
    fs.failNext("unlink", 1, "EIO");
    assert.equal((await log.raiseLogStartOffset(21)).logStartOffset, 21);
    assert.equal(errors.length, 1);
    assert.equal(log.logStartOffset, 21);
    await log.close();
    const reopened = await open(fs);
    try {
      assert.equal(reopened.logStartOffset, 21);
      const bases = fs
        .list(DIRECTORY)
        .filter((name) => name.endsWith(".log"))
        .map((name) => Number(name.slice(0, 20)));
      assert.ok(bases[1] > 21, `segments ${bases}`);
    } finally {
      await reopened.close();
    }
  });
});
