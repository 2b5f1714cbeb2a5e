/** fast-check generators for records and batches shared by the storage tests. */
import fc from "fast-check";
import type { RecordInput } from "../../../src/storage/log/records.ts";

const BASE_TIMESTAMP_MS = 1_700_000_000_000;

export const recordArbitrary: fc.Arbitrary<RecordInput> = fc.record(
  {
    timestamp: fc.integer({ min: BASE_TIMESTAMP_MS - 1e9, max: BASE_TIMESTAMP_MS + 1e9 }),
    key: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
    value: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }),
    headers: fc.array(
      fc.record(
        {
          key: fc.string({ maxLength: 12, unit: "grapheme" }),
          value: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }),
        },
        { noNullPrototype: true },
      ),
      { maxLength: 3 },
    ),
  },
  { noNullPrototype: true },
);

export const recordsArbitrary: fc.Arbitrary<RecordInput[]> = fc.array(recordArbitrary, {
  minLength: 1,
  maxLength: 8,
});
