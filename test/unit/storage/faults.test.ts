/**
 * Disk faults under the partition log, on the fault-injecting file system: failed writes and
 * fsyncs reject exactly the appends they hit with RMQ_ERR_STORAGE_IO, leave no partial batch
 * visible, and the next append after the fault works. A seeded simulation then mixes random
 * faults, concurrent appends and crashes; a failure prints its seed (STORAGE_SEED replays it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ErrorCode } from "../../../src/errors.ts";
import type { LogOptions } from "../../../src/storage/log/options.ts";
import { PartitionLog } from "../../../src/storage/log/partition-log.ts";
import { segmentFileName } from "../../../src/storage/log/segment.ts";
import { StorageError } from "../../../src/storage/log/storage-error.ts";
import { Prng, testSeed } from "../../helpers/prng.ts";
import { FaultyFileSystem } from "./faulty-fs.ts";
import { readAll, testBatch } from "./log-suite.ts";

const DIRECTORY = "/data/p0";

async function setup(options: Partial<LogOptions> = {}, seed = 1) {
  const fs = new FaultyFileSystem({ seed });
  await fs.mkdir(DIRECTORY);
  const log = await PartitionLog.open(DIRECTORY, options, { fs });
  return { fs, log };
}

function isIoError(error: unknown): boolean {
  return error instanceof StorageError && error.code === ErrorCode.STORAGE_IO;
}

/** The bytes that identify a batch whatever offset it was given. */
function identity(batch: Buffer): string {
  return batch.subarray(8).toString("hex");
}

describe("disk faults", () => {
  for (const [operation, policy] of [
    ["write", "always"],
    ["fsync", "always"],
    ["write", "never"],
  ] as const) {
    test(`a failed ${operation} (policy ${policy}) rejects the group and leaves no trace`, async () => {
      const { fs, log } = await setup({ fsync_policy: policy });
      try {
        await log.append(testBatch(0, 2));
        fs.failNext(operation, 1, "ENOSPC");
        const results = await Promise.allSettled([1, 2, 3].map((i) => log.append(testBatch(i))));
        for (const result of results) {
          assert.equal(result.status, "rejected");
          if (result.status === "rejected")
            assert.ok(isIoError(result.reason), String(result.reason));
        }
        assert.equal(log.logEndOffset, 2);
        const file = fs.fileBytes(join(DIRECTORY, segmentFileName(0, ".log")));
        assert.equal(file?.length, testBatch(0, 2).length, "the failed bytes were cut back");
        assert.deepEqual(await log.append(testBatch(4, 1)), { baseOffset: 2, lastOffset: 2 });
        assert.equal((await readAll(log)).length, 2);
      } finally {
        await log.close();
      }
    });
  }

  test("when the cut back fails too, the next append cuts first and then succeeds", async () => {
    const { fs, log } = await setup();
    try {
      await log.append(testBatch(0, 1));
      fs.failNext("write");
      fs.failNext("truncate");
      await assert.rejects(log.append(testBatch(1)), isIoError);
      assert.equal(log.logEndOffset, 1);
      assert.deepEqual(await log.append(testBatch(2, 1)), { baseOffset: 1, lastOffset: 1 });
      assert.equal((await readAll(log)).length, 2);
    } finally {
      await log.close();
    }
  });

  test("a failed roll leaves the old segment active and the next append rolls", async () => {
    const { fs, log } = await setup({ segment_bytes: 600 });
    try {
      await log.append(testBatch(0, 2));
      await log.append(testBatch(1, 2));
      fs.failNext("open", 1, "EMFILE");
      await assert.rejects(log.append(testBatch(2, 2)), isIoError);
      assert.equal(log.segmentCount, 1);
      assert.deepEqual(await log.append(testBatch(3, 2)), { baseOffset: 4, lastOffset: 5 });
      assert.equal(log.segmentCount, 2);
      assert.equal((await readAll(log)).length, 3);
    } finally {
      await log.close();
    }
  });

  test("under 'interval', a failed fsync is reported by flush and retried", async () => {
    const { fs, log } = await setup({ fsync_policy: "interval", fsync_interval_ms: 60_000 });
    try {
      await log.append(testBatch(0, 1));
      fs.failNext("fsync");
      await assert.rejects(log.flush(), isIoError);
      await log.flush();
      fs.crash();
      const reopened = await PartitionLog.open(DIRECTORY, {}, { fs });
      assert.equal(reopened.logEndOffset, 1);
      await reopened.close();
    } finally {
      await log.close().catch(() => {});
    }
  });

  test("appends beyond the queue limit are refused while the disk is busy", async () => {
    const { log } = await setup({ batch_bytes_max: 1000, append_queue_bytes_max: 1000 });
    try {
      const batches = Array.from({ length: 6 }, (_, i) => testBatch(i, 1, 200));
      assert.ok(batches[0].length * 3 <= 1000 && batches[0].length * 4 > 1000);
      // The first is taken by the committer at once; three fit the queue behind it.
      const settled = await Promise.allSettled(batches.map((batch) => log.append(batch)));
      const refused = settled.map((one) =>
        one.status === "rejected" && one.reason instanceof StorageError ? one.reason.code : "ok",
      );
      assert.deepEqual(refused, [
        "ok",
        "ok",
        "ok",
        "ok",
        ...Array(2).fill(ErrorCode.STORAGE_QUEUE_FULL),
      ]);
      assert.equal(log.logEndOffset, 4);
      assert.deepEqual(await log.append(testBatch(9, 1, 200)), { baseOffset: 4, lastOffset: 4 });
    } finally {
      await log.close();
    }
  });

  test("under 'interval', acknowledged appends are durable after the next tick", async () => {
    const { fs, log } = await setup({ fsync_policy: "interval", fsync_interval_ms: 10 });
    await log.append(testBatch(0, 3));
    const fsyncs = fs.counts.fsync;
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.ok(fs.counts.fsync > fsyncs, "the timer fsynced");
    fs.crash();
    const reopened = await PartitionLog.open(DIRECTORY, {}, { fs });
    assert.equal(reopened.logEndOffset, 3);
    await reopened.close();
    await log.close().catch(() => {});
  });

  test("under 'never', a crash may lose acknowledged appends, never part of one", async () => {
    const { fs, log } = await setup({ fsync_policy: "never" });
    for (let i = 0; i < 5; i++) await log.append(testBatch(i, 2));
    fs.crash(true);
    const reopened = await PartitionLog.open(DIRECTORY, {}, { fs });
    assert.ok(reopened.logEndOffset % 2 === 0 && reopened.logEndOffset <= 10);
    assert.equal((await readAll(reopened)).length, reopened.logEndOffset / 2);
    await reopened.close();
  });

  test("seeded simulation: random faults, concurrent appends and crashes", async () => {
    const seed = testSeed("storage fault simulation");
    for (let run = 0; run < 6; run++) {
      try {
        await simulate(seed + run, run % 2 === 0 ? "always" : "never");
      } catch (error) {
        throw new Error(`run ${run} failed: replay with STORAGE_SEED=${seed}`, { cause: error });
      }
    }
  });
});

interface Model {
  /** Acknowledged batches in order, as stored. */
  acked: Buffer[];
  /** How many of them are known durable (policy always: all; else up to the last flush). */
  durableCount: number;
  /** Identities of batches whose append was rejected: they may survive a crash, never half. */
  rejected: Set<string>;
}

async function simulate(seed: number, policy: "always" | "never"): Promise<void> {
  const prng = new Prng(seed);
  const fs = new FaultyFileSystem({
    seed,
    faultProbability: { write: 0.05, fsync: 0.05, truncate: 0.2 },
  });
  const options = { fsync_policy: policy, segment_bytes: 4000, index_interval_bytes: 500 } as const;
  await fs.mkdir(DIRECTORY);
  let log = await PartitionLog.open(DIRECTORY, options, { fs });
  const model: Model = { acked: [], durableCount: 0, rejected: new Set() };
  let id = 0;
  for (let step = 0; step < 40; step++) {
    const burst = Array.from({ length: 1 + prng.below(6) }, () =>
      testBatch(id++, 1 + prng.below(3)),
    );
    const settled = await Promise.allSettled(burst.map((batch) => log.append(Buffer.from(batch))));
    settled.forEach((result, i) => {
      if (result.status === "fulfilled")
        model.acked.push(stored(burst[i], result.value.baseOffset));
      else {
        assert.ok(isIoError(result.reason), String(result.reason));
        model.rejected.add(identity(burst[i]));
      }
    });
    if (policy === "always") model.durableCount = model.acked.length;
    assert.deepEqual(await readAll(log), model.acked, `step ${step}: the log shows the acked`);
    if (prng.chance(0.15)) {
      const flushed = await log.flush().then(
        () => true,
        () => false,
      );
      if (flushed) model.durableCount = model.acked.length;
    }
    if (prng.chance(0.2)) log = await crashAndReopen(fs, prng, model, options);
  }
  fs.clearFaults();
  await log.close();
}

function stored(batch: Buffer, baseOffset: number): Buffer {
  const copy = Buffer.from(batch);
  copy.writeBigInt64BE(BigInt(baseOffset), 0);
  return copy;
}

async function crashAndReopen(
  fs: FaultyFileSystem,
  prng: Prng,
  model: Model,
  options: Partial<LogOptions>,
): Promise<PartitionLog> {
  const probabilities = { ...fs.faultProbability };
  fs.clearFaults();
  fs.crash(prng.chance(0.5));
  const log = await PartitionLog.open(DIRECTORY, options, { fs });
  const recovered = await readAll(log);
  for (let i = 0; i < model.durableCount; i++) {
    assert.ok(recovered[i]?.equals(model.acked[i]), `durable batch ${i} survived the crash`);
  }
  for (let i = 0; i < recovered.length; i++) {
    const known = i < model.acked.length && recovered[i].equals(model.acked[i]);
    assert.ok(known || model.rejected.has(identity(recovered[i])), `batch ${i} was appended`);
  }
  model.acked = recovered;
  model.durableCount = recovered.length;
  Object.assign(fs.faultProbability, probabilities);
  return log;
}
