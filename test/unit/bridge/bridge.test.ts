/**
 * The bridge's pure parts: Kafka's partitioner (against Kafka's own test vectors) and records
 * out of batches compressed with each codec Kafka clients use (the log's anyBatchRecords).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { compressFrameSync } from "lz4-napi";
import { compressSync } from "snappy";
import { murmur2, partitionForKey } from "../../../src/bridge/partitioner.ts";
import {
  anyBatchRecords,
  BATCH_HEADER_BYTES,
  buildRawBatch,
  buildRecordBatch,
  Compression,
  type CompressionCode,
} from "../../../src/storage/log/index.ts";

describe("partitioner", () => {
  test("murmur2 matches Kafka's UtilsTest vectors", () => {
    const vectors: Array<[string, number]> = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
      ["abc", 479470107],
    ];
    for (const [text, expected] of vectors)
      assert.equal(murmur2(Buffer.from(text)), expected, text);
  });

  test("a key always maps into range, the same way every time", () => {
    for (let i = 0; i < 1000; i++) {
      const key = Buffer.from(`sensors/${i}/temp`);
      const p = partitionForKey(key, 7);
      assert.ok(p >= 0 && p < 7);
      assert.equal(partitionForKey(key, 7), p);
    }
  });
});

const RECORDS = [
  {
    timestamp: 1000,
    key: Buffer.from("k1"),
    value: Buffer.from("v1".repeat(100)),
    headers: [{ key: "h", value: Buffer.from("x") }],
  },
  { timestamp: 1001, key: null, value: Buffer.from("v2") },
];

/** The same records as a batch whose records section is compressed with `codec`. */
function compressedBatch(codec: CompressionCode, compress: (plain: Buffer) => Buffer): Buffer {
  const plain = buildRecordBatch(RECORDS);
  const section = compress(plain.subarray(BATCH_HEADER_BYTES));
  return buildRawBatch(
    { compression: codec },
    {
      lastOffsetDelta: 1,
      baseTimestamp: 1000,
      maxTimestamp: 1001,
      recordsCount: 2,
      recordsBytes: section.length,
      writeRecords: (buf, at) => at + section.copy(buf, at),
    },
  );
}

/** snappy-java's framing: magic, version, compatible version, then [length][block]... */
function xerial(plain: Buffer): Buffer {
  const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
  const half = plain.length >> 1;
  const blocks = [plain.subarray(0, half), plain.subarray(half)].map((b) => compressSync(b));
  const parts: Buffer[] = [header];
  for (const block of blocks) {
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length);
    parts.push(length, block);
  }
  return Buffer.concat(parts);
}

describe("anyBatchRecords (what the Kafka -> MQTT direction reads)", () => {
  const codecs: Array<[string, CompressionCode, (b: Buffer) => Buffer]> = [
    ["none", Compression.none, (b) => b],
    ["gzip", Compression.gzip, (b) => gzipSync(b)],
    ["snappy (raw)", Compression.snappy, (b) => compressSync(b)],
    ["snappy (xerial framing)", Compression.snappy, xerial],
    ["lz4 (frame)", Compression.lz4, (b) => compressFrameSync(b)],
    ["zstd", Compression.zstd, (b) => zstdCompressSync(b)],
  ];
  for (const [name, codec, compress] of codecs) {
    test(`${name}: the records come back with keys, values and headers`, () => {
      const batch =
        codec === Compression.none ? buildRecordBatch(RECORDS) : compressedBatch(codec, compress);
      const decoded = anyBatchRecords(batch, 0);
      assert.equal(decoded.kind, "ok");
      if (decoded.kind !== "ok") return;
      assert.deepEqual(
        decoded.records.map((r) => [r.offset, String(r.key), String(r.value), r.headers.length]),
        [
          [0, "k1", "v1".repeat(100), 1],
          [1, "null", "v2", 0],
        ],
      );
    });
  }

  test("garbage in a compressed batch is an error, not an exception", () => {
    const batch = compressedBatch(Compression.gzip, () => Buffer.from("not gzip at all"));
    const decoded = anyBatchRecords(batch, 0);
    assert.equal(decoded.kind, "corrupt");
  });
});
