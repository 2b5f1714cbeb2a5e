/**
 * Kafka's LogValidator rules for batches from clients: every refused shape gets INVALID_RECORD
 * (a damaged CRC stays CORRUPT_MESSAGE), through the produce handler's up-front check and, for
 * what can be seen without decompressing, through the log's append; nothing is stored.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { compressFrameSync } from "lz4-napi";
import { compressSync } from "snappy";
import { producedBatchProblem } from "../../../../src/broker/kafka/handlers/produce.ts";
import {
  Compression,
  type CompressionCode,
  clientBatchProblem,
  compressedRecordsProblem,
  DECOMPRESSED_BATCH_BYTES_MAX,
  PartitionLog,
  StorageError,
} from "../../../../src/storage/log/index.ts";
import {
  oneRecordBatch,
  rawBatch,
  recordsSection,
  refusedBatches,
} from "../../../helpers/invalid-batches.ts";

const MAX = 1_048_588;
const INVALID_RECORD = 87;
const CORRUPT_MESSAGE = 2;

function compressed(codec: CompressionCode, compress: (plain: Buffer) => Buffer): Buffer {
  const section = compress(recordsSection(3));
  return rawBatch({ compression: codec }, { recordsCount: 3, lastOffsetDelta: 2, section });
}

describe("batches Kafka refuses from clients", () => {
  for (const { name, batch, reason } of refusedBatches()) {
    test(`${name}: INVALID_RECORD before anything is stored`, async () => {
      const problem = await producedBatchProblem(batch, MAX);
      assert.ok(problem !== null, "refused");
      assert.equal(problem.errorCode, INVALID_RECORD);
      assert.match(problem.reason, reason);
    });
  }

  test("a damaged CRC stays CORRUPT_MESSAGE, even on a batch that is also invalid", async () => {
    for (const batch of [oneRecordBatch(), refusedBatches()[0].batch]) {
      batch[batch.length - 1] ^= 0xff;
      assert.equal((await producedBatchProblem(batch, MAX))?.errorCode, CORRUPT_MESSAGE);
    }
  });

  test("valid batches in every codec pass, idempotent ones included", async () => {
    const valid = [
      oneRecordBatch(),
      oneRecordBatch({ producerId: 7n, producerEpoch: 0, baseSequence: 0 }),
      compressed(Compression.gzip, (b) => gzipSync(b)),
      compressed(Compression.snappy, (b) => compressSync(b)),
      compressed(Compression.lz4, (b) => compressFrameSync(b)),
      compressed(Compression.zstd, (b) => zstdCompressSync(b)),
    ];
    for (const batch of valid) {
      assert.equal(await producedBatchProblem(batch, MAX), null);
      assert.equal(clientBatchProblem(batch), null);
    }
  });

  test("a batch that would decompress past the bound is refused, in every codec", async () => {
    const over = Buffer.alloc(DECOMPRESSED_BATCH_BYTES_MAX + 1);
    // snappy: a block that claims more than the bound (its length comes first, decoded alone).
    const claimsTooMuch = Buffer.from([0x81, 0x80, 0x80, 0x40, 0x00]); // 2^27 + 1 bytes
    const sections: Array<[string, CompressionCode, Buffer]> = [
      ["gzip", Compression.gzip, gzipSync(over)],
      ["zstd", Compression.zstd, zstdCompressSync(over)],
      ["lz4", Compression.lz4, compressFrameSync(over)],
      ["snappy", Compression.snappy, claimsTooMuch],
    ];
    for (const [name, compression, section] of sections) {
      const batch = rawBatch({ compression }, { recordsCount: 1, lastOffsetDelta: 0, section });
      assert.match(
        String(await compressedRecordsProblem(batch)),
        /decompresses to more than/,
        name,
      );
    }
  });

  test("compressedRecordsProblem leaves uncompressed batches to the append", async () => {
    const empty = rawBatch({}, { recordsCount: 0, lastOffsetDelta: 0, section: Buffer.alloc(0) });
    assert.equal(await compressedRecordsProblem(empty), null);
  });

  test("the log's append refuses what it sees, only for client batches", async () => {
    const directory = await mkdtemp(join(tmpdir(), "rmq-client-batches-"));
    const log = await PartitionLog.open(directory, {});
    try {
      const uncompressed = refusedBatches().filter((c) => !c.name.includes(":"));
      assert.ok(uncompressed.length >= 5);
      for (const { name, batch, reason } of uncompressed) {
        await assert.rejects(log.append(Buffer.from(batch), { fromClient: true }), (error) => {
          assert.ok(error instanceof StorageError, name);
          assert.equal(error.kafkaErrorCode, INVALID_RECORD, name);
          assert.match(error.message, reason, name);
          return true;
        });
      }
      assert.equal(log.logEndOffset, 0, "nothing stored");
      // The log's own writers are not Kafka clients: an emptied batch may still be written.
      const empty = rawBatch({}, { recordsCount: 0, lastOffsetDelta: 0, section: Buffer.alloc(0) });
      await log.append(empty);
      assert.equal((await log.append(oneRecordBatch(), { fromClient: true })).baseOffset, 1);
    } finally {
      await log.close();
      await rm(directory, { recursive: true, force: true });
    }
  });
});
