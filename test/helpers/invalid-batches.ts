/**
 * Record batches with a valid CRC that Kafka's LogValidator refuses from a client with
 * INVALID_RECORD, one of each shape, built with the log's own batch builders.
 */
import { gzipSync } from "node:zlib";
import { compressFrameSync } from "lz4-napi";
import { compressSync } from "snappy";
import {
  BATCH_HEADER_BYTES,
  type BatchOptions,
  buildRawBatch,
  buildRecordBatch,
  Compression,
} from "../../src/storage/log/index.ts";

const NOW = 1_700_000_000_000;

export function oneRecordBatch(options: BatchOptions = {}, value = "v"): Buffer {
  return buildRecordBatch([{ timestamp: NOW, key: Buffer.from("k"), value: Buffer.from(value) }], {
    ...options,
  });
}

/** The records section of an uncompressed batch of `count` records (deltas 0..count-1). */
export function recordsSection(count: number): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({
    timestamp: NOW,
    key: Buffer.from(`k${i}`),
    value: Buffer.from(`v${i}`),
  }));
  return buildRecordBatch(records).subarray(BATCH_HEADER_BYTES);
}

/** A batch whose header says what the caller wants over the given (maybe compressed) section. */
export function rawBatch(
  options: BatchOptions,
  body: { recordsCount: number; lastOffsetDelta: number; section: Buffer },
): Buffer {
  return buildRawBatch(options, {
    lastOffsetDelta: body.lastOffsetDelta,
    baseTimestamp: NOW,
    maxTimestamp: NOW,
    recordsCount: body.recordsCount,
    recordsBytes: body.section.length,
    writeRecords: (buf, at) => at + body.section.copy(buf, at),
  });
}

const gzip = { compression: Compression.gzip } as const;

/** Each refused shape, with the words Kafka's (and the broker's) reason contains. */
export function refusedBatches(): Array<{ name: string; batch: Buffer; reason: RegExp }> {
  const empty = Buffer.alloc(0);
  return [
    {
      name: "count 0, lastOffsetDelta 0",
      batch: rawBatch({}, { recordsCount: 0, lastOffsetDelta: 0, section: empty }),
      reason: /invalid reported count/,
    },
    {
      name: "count 0, lastOffsetDelta 999",
      batch: rawBatch({}, { recordsCount: 0, lastOffsetDelta: 999, section: empty }),
      reason: /invalid reported count/,
    },
    {
      name: "1 record, lastOffsetDelta 999",
      batch: rawBatch({}, { recordsCount: 1, lastOffsetDelta: 999, section: recordsSection(1) }),
      reason: /inconsistent batch offset range/,
    },
    {
      name: "count 2 in 1 offset",
      batch: rawBatch({}, { recordsCount: 2, lastOffsetDelta: 0, section: recordsSection(2) }),
      reason: /2 records in 1 offsets/,
    },
    {
      name: "control batch",
      batch: oneRecordBatch({ isControl: true }),
      reason: /control records/,
    },
    {
      name: "producer id 7, base sequence -1",
      batch: oneRecordBatch({ producerId: 7n, producerEpoch: 0, baseSequence: -1 }),
      reason: /invalid sequence number -1/,
    },
    {
      name: "gzip: garbage payload",
      batch: rawBatch(gzip, { recordsCount: 1, lastOffsetDelta: 0, section: Buffer.from("junk") }),
      reason: /cannot decompress/,
    },
    {
      name: "gzip: 1 record inside, lastOffsetDelta 999",
      batch: rawBatch(gzip, {
        recordsCount: 1,
        lastOffsetDelta: 999,
        section: gzipSync(recordsSection(1)),
      }),
      reason: /inconsistent batch offset range/,
    },
    {
      name: "gzip: header says 5 records, 1 inside",
      batch: rawBatch(gzip, {
        recordsCount: 5,
        lastOffsetDelta: 4,
        section: gzipSync(recordsSection(1)),
      }),
      reason: /record 1: bad length/,
    },
    {
      name: "snappy: header says 1 record, 3 inside",
      batch: rawBatch(
        { compression: Compression.snappy },
        { recordsCount: 1, lastOffsetDelta: 0, section: compressSync(recordsSection(3)) },
      ),
      reason: /bytes after the last record/,
    },
    {
      name: "lz4: truncated frame",
      batch: rawBatch(
        { compression: Compression.lz4 },
        {
          recordsCount: 2,
          lastOffsetDelta: 1,
          section: compressFrameSync(recordsSection(2)).subarray(0, 9),
        },
      ),
      // lz4-napi returns what it could decode of a cut frame: too few records, still refused.
      reason: /cannot decompress|record 0: bad length/,
    },
  ];
}
