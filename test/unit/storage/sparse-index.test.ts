import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { segmentsBelow, segmentsToDelete } from "../../../src/storage/log/retention.ts";
import { parseSegmentFileName, segmentFileName } from "../../../src/storage/log/segment.ts";
import { OffsetIndex, TimeIndex } from "../../../src/storage/log/sparse-index.ts";
import { fcParameters } from "./fc-config.ts";

describe("offset index", () => {
  test("lookup finds the entry at or before an offset, against a linear model", () => {
    const entries = fc.uniqueArray(fc.nat(10_000), { minLength: 0, maxLength: 60 });
    fc.assert(
      fc.property(entries, fc.nat(10_100), (relatives, target) => {
        const sorted = [...relatives].sort((a, b) => a - b);
        const index = new OffsetIndex(500, 100);
        for (const [i, relative] of sorted.entries()) index.append(500 + relative, (i + 1) * 10);
        const floor = sorted.filter((relative) => relative <= target).length - 1;
        const expected =
          floor < 0
            ? { offset: 500, position: 0 }
            : { offset: 500 + sorted[floor], position: (floor + 1) * 10 };
        assert.deepEqual(index.lookup(500 + target), expected);
        const decoded = OffsetIndex.decode(500, 100, index.encode(), 1_000_000);
        assert.ok(decoded instanceof OffsetIndex);
        assert.deepEqual(decoded.lookup(500 + target), expected);
      }),
      fcParameters(500),
    );
  });

  test("decode rejects partial entries, disorder and positions past the log", () => {
    const index = new OffsetIndex(0, 10);
    index.append(3, 100);
    index.append(9, 300);
    const bytes = index.encode();
    assert.match(String(OffsetIndex.decode(0, 10, bytes.subarray(0, 12), 1000)), /not whole/);
    assert.match(String(OffsetIndex.decode(0, 10, bytes, 300)), /past the end/);
    const swapped = Buffer.concat([bytes.subarray(8), bytes.subarray(0, 8)]);
    assert.match(String(OffsetIndex.decode(0, 10, swapped, 1000)), /out of order/);
    assert.match(String(OffsetIndex.decode(0, 1, bytes, 1000)), /at most/);
    assert.equal(OffsetIndex.decode(0, 10, Buffer.alloc(0), 0) instanceof OffsetIndex, true);
  });

  test("floorByPosition finds the last entry at or before a position", () => {
    const index = new OffsetIndex(0, 10);
    index.append(5, 100);
    index.append(9, 250);
    assert.equal(index.floorByPosition(99), null);
    assert.deepEqual(index.floorByPosition(100), { offset: 5, position: 100 });
    assert.deepEqual(index.floorByPosition(1000), { offset: 9, position: 250 });
  });
});

describe("time index", () => {
  test("keeps only new maxima and looks up the latest entry strictly earlier", () => {
    const index = new TimeIndex(100, 10);
    index.maybeAppend(1000, 105);
    index.maybeAppend(900, 110); // not a new maximum
    index.maybeAppend(2000, 120);
    assert.equal(index.count, 2);
    assert.equal(index.lookup(500), 100);
    assert.equal(index.lookup(1000), 100);
    assert.equal(index.lookup(1001), 105);
    assert.equal(index.lookup(5000), 120);
    const decoded = TimeIndex.decode(100, 10, index.encode(), 121);
    assert.ok(decoded instanceof TimeIndex);
    assert.equal(decoded.lookup(1500), 105);
    assert.match(String(TimeIndex.decode(100, 10, index.encode(), 110)), /past end/);
    assert.match(String(TimeIndex.decode(100, 10, index.encode().subarray(1), 121)), /not whole/);
  });
});

describe("time index, encoded", () => {
  test("round-trips int64 timestamps and looks up as a linear model does", () => {
    const steps = fc.array(fc.tuple(fc.integer({ min: 1, max: 2 ** 45 }), fc.nat(1000)), {
      maxLength: 40,
    });
    fc.assert(
      fc.property(steps, fc.nat(2 ** 52), (increments, probe) => {
        const index = new TimeIndex(7, 100);
        const entries: Array<[number, number]> = [];
        let timestamp = 0;
        let relative = 0;
        for (const [dt, dOffset] of increments) {
          timestamp += dt;
          relative += dOffset;
          index.maybeAppend(timestamp, 7 + relative);
          entries.push([timestamp, relative]);
        }
        const earlier = entries.filter(([at]) => at < probe);
        const expected = earlier.length === 0 ? 7 : 7 + earlier[earlier.length - 1][1];
        const decoded = TimeIndex.decode(7, 100, index.encode(), 8 + relative);
        assert.ok(decoded instanceof TimeIndex, String(decoded));
        assert.equal(decoded.count, entries.length);
        assert.equal(decoded.lookup(probe), expected);
        assert.deepEqual(decoded.encode(), index.encode());
      }),
      fcParameters(300),
    );
  });

  test("decode rejects offsets that go back and timestamps that do not increase", () => {
    const entry = (timestamp: number, relative: number) => {
      const bytes = Buffer.alloc(12);
      bytes.writeBigInt64BE(BigInt(timestamp), 0);
      bytes.writeInt32BE(relative, 8);
      return bytes;
    };
    const back = Buffer.concat([entry(10, 5), entry(20, 4)]);
    assert.match(String(TimeIndex.decode(0, 10, back, 100)), /entry 1 out of order/);
    const flat = Buffer.concat([entry(10, 5), entry(10, 6)]);
    assert.match(String(TimeIndex.decode(0, 10, flat, 100)), /timestamp out of order/);
    assert.match(String(TimeIndex.decode(0, 1, flat, 100)), /at most 1/);
  });
});

describe("segment files and retention", () => {
  test("file names are 20-digit base offsets", () => {
    assert.equal(segmentFileName(42, ".log"), "00000000000000000042.log");
    assert.equal(parseSegmentFileName("00000000000000000042.log"), 42);
    assert.equal(parseSegmentFileName("00000000000000000042.index"), null);
    assert.equal(parseSegmentFileName("42.log"), null);
  });

  test("segmentsToDelete never takes the active segment and stops at the first kept", () => {
    const segments = [
      { sizeBytes: 100, maxTimestamp: 10 },
      { sizeBytes: 100, maxTimestamp: 500 },
      { sizeBytes: 100, maxTimestamp: 20 },
      { sizeBytes: 100, maxTimestamp: 30 },
    ];
    const keepAll = { retention_bytes: -1, retention_ms: -1 };
    assert.equal(segmentsToDelete(segments, keepAll, 1000), 0);
    assert.equal(segmentsToDelete(segments, { ...keepAll, retention_ms: 100 }, 550), 1);
    assert.equal(segmentsToDelete(segments, { ...keepAll, retention_bytes: 250 }, 0), 1);
    assert.equal(segmentsToDelete(segments, { ...keepAll, retention_bytes: 0 }, 0), 3);
    assert.equal(segmentsToDelete(segments, { ...keepAll, retention_ms: 0 }, 10_000), 3);
    assert.equal(segmentsToDelete([{ sizeBytes: 5, maxTimestamp: -1 }], keepAll, 0), 0);
  });

  test("segmentsBelow counts the leading segments that end at or before an offset", () => {
    // Segments [0, 10), [10, 25), [25, 30) and the active one from 30.
    const segments = [
      { nextOffset: 10 },
      { nextOffset: 25 },
      { nextOffset: 30 },
      { nextOffset: 42 },
    ];
    assert.equal(segmentsBelow(segments, 0), 0);
    assert.equal(segmentsBelow(segments, 9), 0);
    assert.equal(segmentsBelow(segments, 10), 1);
    assert.equal(segmentsBelow(segments, 24), 1);
    assert.equal(segmentsBelow(segments, 25), 2);
    assert.equal(segmentsBelow(segments, 1000), 3, "never the active segment");
    assert.equal(segmentsBelow([{ nextOffset: 5 }], 1000), 0);
  });
});
