import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  BATCH_HEADER_BYTES,
  Compression,
  checkBatch,
  computeBatchCrc,
  OFFSET_ATTRIBUTES,
  OFFSET_CRC,
  readBatchHeader,
  setBaseOffset,
  setPartitionLeaderEpoch,
} from "../../../src/storage/log/record-batch.ts";
import { buildRecordBatch, readRecords } from "../../../src/storage/log/records.ts";
import { recordsArbitrary } from "./arbitraries.ts";
import { fcParameters } from "./fc-config.ts";

const SIZE_MAX = 1 << 20;

/** Bitwise CRC-32C (reflected polynomial 0x82F63B78): an independent check of the native one. */
function referenceCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe("record batch v2 layout", () => {
  test("CRC-32C check value and agreement with a reference implementation", () => {
    assert.equal(referenceCrc32c(Buffer.from("123456789")), 0xe3069283);
    const batch = buildRecordBatch([{ timestamp: 5, key: null, value: Buffer.from("x") }]);
    const crc = computeBatchCrc(batch, 0, batch.length);
    assert.equal(crc, referenceCrc32c(batch.subarray(OFFSET_ATTRIBUTES)));
  });

  test("one record, byte for byte as the Kafka spec lays it out", () => {
    const batch = buildRecordBatch(
      [{ timestamp: 1000, key: Buffer.from("k"), value: Buffer.from("v") }],
      { baseOffset: 7, partitionLeaderEpoch: 3, producerId: 42n, producerEpoch: 1 },
    );
    // Record: length 8 (zigzag 0x10), attributes 0, timestampDelta 0, offsetDelta 0,
    // keyLength 1 (zigzag 0x02) "k", valueLength 1 "v", headersCount 0.
    const record = "10" + "00" + "00" + "00" + "02" + "6b" + "02" + "76" + "00";
    const afterCrc =
      "0000" + // attributes: no compression, create time
      "00000000" + // lastOffsetDelta
      "00000000000003e8" + // baseTimestamp 1000
      "00000000000003e8" + // maxTimestamp 1000
      "000000000000002a" + // producerId 42
      "0001" + // producerEpoch
      "ffffffff" + // baseSequence -1
      "00000001" + // recordsCount
      record;
    const crc = referenceCrc32c(Buffer.from(afterCrc, "hex")).toString(16).padStart(8, "0");
    const expected =
      "0000000000000007" + // baseOffset
      "0000003a" + // batchLength: 70 bytes - 12
      "00000003" + // partitionLeaderEpoch
      "02" + // magic
      crc +
      afterCrc;
    assert.equal(batch.toString("hex"), expected);
    assert.equal(batch.length, BATCH_HEADER_BYTES + 9);
  });

  test("header fields read back", () => {
    const batch = buildRecordBatch(
      [
        { timestamp: 2000, key: null, value: null },
        { timestamp: 1500, key: null, value: null, offsetDelta: 4 },
      ],
      { isTransactional: true, timestampType: 1, baseSequence: 9 },
    );
    const header = readBatchHeader(batch);
    assert.equal(header.magic, 2);
    assert.equal(header.lastOffsetDelta, 4);
    assert.equal(header.recordsCount, 2);
    assert.equal(header.baseTimestamp, 2000);
    assert.equal(header.maxTimestamp, 2000);
    assert.equal(header.timestampType, 1);
    assert.equal(header.isTransactional, true);
    assert.equal(header.isControl, false);
    assert.equal(header.compression, Compression.none);
    assert.equal(header.producerId, -1n);
    assert.equal(header.baseSequence, 9);
    assert.equal(header.batchLength + 12, batch.length);
  });

  test("round trip of random records", () => {
    fc.assert(
      fc.property(recordsArbitrary, fc.nat(2 ** 40), (records, baseOffset) => {
        const batch = buildRecordBatch(records, { baseOffset });
        assert.deepEqual(checkBatch(batch, 0, batch.length, SIZE_MAX), {
          kind: "ok",
          sizeBytes: batch.length,
        });
        const decoded = readRecords(batch);
        assert.equal(decoded.kind, "ok");
        if (decoded.kind !== "ok") return;
        assert.equal(decoded.records.length, records.length);
        decoded.records.forEach((record, i) => {
          assert.equal(record.offset, baseOffset + i);
          assert.equal(record.timestamp, records[i].timestamp);
          assert.deepEqual(record.key && new Uint8Array(record.key), records[i].key);
          assert.deepEqual(record.value && new Uint8Array(record.value), records[i].value);
          const headers = record.headers.map((h) => ({
            key: h.key,
            value: h.value && new Uint8Array(h.value),
          }));
          assert.deepEqual(headers, records[i].headers);
        });
      }),
      fcParameters(300),
    );
  });

  test("rewriting baseOffset and leader epoch keeps the CRC valid (both are outside it)", () => {
    fc.assert(
      fc.property(recordsArbitrary, fc.nat(2 ** 50), fc.nat(2 ** 31 - 1), (records, to, epoch) => {
        const batch = buildRecordBatch(records);
        const crc = batch.readUInt32BE(OFFSET_CRC);
        setBaseOffset(batch, 0, to);
        setPartitionLeaderEpoch(batch, 0, epoch);
        assert.equal(batch.readUInt32BE(OFFSET_CRC), crc);
        assert.equal(checkBatch(batch, 0, batch.length, SIZE_MAX).kind, "ok");
        assert.equal(readBatchHeader(batch).baseOffset, to);
        assert.equal(readBatchHeader(batch).partitionLeaderEpoch, epoch);
      }),
      fcParameters(200),
    );
  });
});

describe("record batch validation", () => {
  test("any single bit flip from batchLength on is detected (epoch excepted: outside the CRC)", () => {
    const arbitrary = recordsArbitrary.chain((records) => {
      const batch = buildRecordBatch(records);
      return fc.tuple(fc.constant(batch), fc.nat(batch.length * 8 - 1));
    });
    fc.assert(
      fc.property(arbitrary, ([pristine, bit]) => {
        const batch = Buffer.from(pristine);
        const byte = bit >> 3;
        batch[byte] ^= 1 << (bit & 7);
        const result = checkBatch(batch, 0, batch.length, SIZE_MAX);
        if (byte < 8 || (byte >= 12 && byte < 16)) assert.equal(result.kind, "ok");
        else assert.notEqual(result.kind, "ok", `flip of bit ${bit & 7} in byte ${byte}`);
      }),
      fcParameters(3000),
    );
  });

  test("every truncated prefix is reported truncated, never ok", () => {
    fc.assert(
      fc.property(recordsArbitrary, (records) => {
        const batch = buildRecordBatch(records);
        for (let length = 0; length < batch.length; length++) {
          const result = checkBatch(batch.subarray(0, length), 0, length, SIZE_MAX);
          assert.equal(result.kind, "truncated", `prefix of ${length}/${batch.length}`);
        }
      }),
      fcParameters(50),
    );
  });

  test("bad magic, tiny or huge lengths and unknown compression are corrupt", () => {
    const pristine = buildRecordBatch([{ timestamp: 1, key: null, value: Buffer.from("v") }]);
    const cases: Array<[string, (b: Buffer) => void, RegExp]> = [
      ["magic 1", (b) => b.writeInt8(1, 16), /magic 1/],
      ["length 10", (b) => b.writeInt32BE(10, 8), /too small/],
      ["length 2 GiB", (b) => b.writeInt32BE(0x7fffffff, 8), /over/],
      ["negative length", (b) => b.writeInt32BE(-5, 8), /too small/],
      ["compression 6", (b) => b.writeInt16BE(6, OFFSET_ATTRIBUTES), /crc/],
    ];
    for (const [name, mutate, reason] of cases) {
      const batch = Buffer.from(pristine);
      mutate(batch);
      const result = checkBatch(batch, 0, batch.length, SIZE_MAX);
      assert.equal(result.kind, "corrupt", name);
      if (result.kind === "corrupt") assert.match(result.reason, reason, name);
    }
  });

  test("the CRC is checked first; a bad header under a good CRC is corrupt but intact", () => {
    const batch = buildRecordBatch([{ timestamp: 1, key: null, value: Buffer.from("v") }]);
    batch.writeInt16BE(6, OFFSET_ATTRIBUTES);
    batch.writeUInt32BE(computeBatchCrc(batch, 0, batch.length), OFFSET_CRC);
    const result = checkBatch(batch, 0, batch.length, SIZE_MAX);
    assert.equal(result.kind, "corrupt");
    if (result.kind === "corrupt") {
      assert.match(result.reason, /compression 6/);
      assert.equal(result.intact, true, "the sender wrote it so: INVALID_RECORD, not retried");
    }
    batch[batch.length - 1] ^= 1;
    const damaged = checkBatch(batch, 0, batch.length, SIZE_MAX);
    assert.equal(damaged.kind === "corrupt" && damaged.intact, undefined);
  });

  test("random bytes never throw and are almost never ok", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const buf = Buffer.from(bytes);
        const result = checkBatch(buf, 0, buf.length, SIZE_MAX);
        if (result.kind === "ok") assert.equal(readRecords(buf).kind !== undefined, true);
      }),
      fcParameters(2000),
    );
  });

  test("records that do not fill the batch, or a wrong count, are corrupt", () => {
    const batch = buildRecordBatch([
      { timestamp: 1, key: null, value: Buffer.from("a") },
      { timestamp: 2, key: null, value: Buffer.from("b") },
    ]);
    const fewer = Buffer.from(batch);
    fewer.writeInt32BE(1, 57);
    assert.equal(readRecords(fewer).kind, "corrupt");
    const more = Buffer.from(batch);
    more.writeInt32BE(3, 57);
    assert.equal(readRecords(more).kind, "corrupt");
  });
});
