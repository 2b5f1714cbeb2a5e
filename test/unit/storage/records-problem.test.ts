/**
 * recordsProblem is readRecords' validation without building records (the append path uses it):
 * on valid batches and on batches with random bytes overwritten after the header, it must give
 * exactly the reason readRecords gives, or null where readRecords reads the records.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { BATCH_HEADER_BYTES } from "../../../src/storage/log/record-batch.ts";
import { buildRecordBatch, readRecords, recordsProblem } from "../../../src/storage/log/records.ts";
import { recordsArbitrary } from "./arbitraries.ts";
import { fcParameters } from "./fc-config.ts";

function expected(batch: Buffer, exactLastDelta: boolean): string | null {
  const result = readRecords(batch, 0, exactLastDelta);
  return result.kind === "corrupt" ? result.reason : null;
}

describe("recordsProblem", () => {
  test("valid batches have no problem", () => {
    fc.assert(
      fc.property(recordsArbitrary, (records) => {
        const batch = buildRecordBatch(records);
        assert.equal(recordsProblem(batch, 0, true), null);
        assert.equal(recordsProblem(batch), null);
      }),
      fcParameters(200),
    );
  });

  test("damaged records get readRecords' reason", () => {
    const damage = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(recordsArbitrary, damage, fc.boolean(), (records, edits, exact) => {
        const batch = buildRecordBatch(records);
        const body = batch.length - BATCH_HEADER_BYTES;
        for (const [at, byte] of edits) batch[BATCH_HEADER_BYTES + (at % body)] = byte;
        assert.equal(recordsProblem(batch, 0, exact), expected(batch, exact));
      }),
      fcParameters(2000),
    );
  });

  test("a batch at an offset inside a larger buffer", () => {
    const batch = buildRecordBatch([{ timestamp: 1, key: null, value: Buffer.from("v") }]);
    const padded = Buffer.concat([Buffer.alloc(7), batch, Buffer.alloc(3)]);
    assert.equal(recordsProblem(padded, 7, true), null);
    padded[7 + batch.length - 1] = 5; // header count of the last record
    assert.equal(recordsProblem(padded, 7, true), expected(padded.subarray(7), true));
    assert.notEqual(recordsProblem(padded, 7, true), null);
  });
});
