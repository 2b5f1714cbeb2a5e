import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkSequence,
  lastSequenceOf,
  type ProducerEntry,
  recordBatch,
} from "../../../../src/broker/kafka/producers/sequence-check.ts";
import { KafkaError } from "../../../../src/protocol/kafka/error-codes.ts";

function entryWith(epoch: number, ...ranges: Array<[number, number, number]>): ProducerEntry {
  let entry: ProducerEntry | undefined;
  for (const [firstSequence, lastSequence, baseOffset] of ranges) {
    entry = recordBatch(entry, epoch, { firstSequence, lastSequence, baseOffset });
  }
  assert.ok(entry);
  return entry;
}

const batch = (producerEpoch: number, firstSequence: number, lastSequence: number) => ({
  producerEpoch,
  firstSequence,
  lastSequence,
});

test("an unknown producer starts at any sequence", () => {
  assert.deepEqual(checkSequence(undefined, batch(0, 7, 9)), { kind: "append" });
});

test("the next sequence is appended, a cached one is a duplicate, a gap is out of order", () => {
  const entry = entryWith(0, [0, 1, 100], [2, 4, 102]);
  assert.deepEqual(checkSequence(entry, batch(0, 5, 5)), { kind: "append" });
  const duplicate = checkSequence(entry, batch(0, 0, 1));
  assert.equal(duplicate.kind, "duplicate");
  assert.equal(duplicate.kind === "duplicate" && duplicate.batch.baseOffset, 100);
  const gap = checkSequence(entry, batch(0, 7, 7));
  assert.equal(gap.kind === "error" && gap.errorCode, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER);
  // Overlapping but not equal to a cached batch: not a retry of it.
  const overlap = checkSequence(entry, batch(0, 1, 2));
  assert.equal(
    overlap.kind === "error" && overlap.errorCode,
    KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
  );
});

test("older epochs are fenced; a newer epoch must start at 0", () => {
  const entry = entryWith(3, [0, 0, 1]);
  const old = checkSequence(entry, batch(2, 1, 1));
  assert.equal(old.kind === "error" && old.errorCode, KafkaError.INVALID_PRODUCER_EPOCH);
  const bumped = checkSequence(entry, batch(4, 1, 1));
  assert.equal(
    bumped.kind === "error" && bumped.errorCode,
    KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
  );
  assert.deepEqual(checkSequence(entry, batch(4, 0, 0)), { kind: "append" });
  assert.deepEqual(recordBatch(entry, 4, { firstSequence: 0, lastSequence: 0, baseOffset: 9 }), {
    epoch: 4,
    batches: [{ firstSequence: 0, lastSequence: 0, baseOffset: 9 }],
  });
});

test("only the last five batches are remembered; sequences wrap at 2^31", () => {
  const entry = entryWith(
    0,
    ...Array.from({ length: 7 }, (_, i): [number, number, number] => [i, i, i]),
  );
  assert.deepEqual(
    entry.batches.map((b) => b.firstSequence),
    [2, 3, 4, 5, 6],
  );
  assert.equal(lastSequenceOf(2 ** 31 - 2, 3), 1);
  const wrapped = entryWith(0, [2 ** 31 - 2, 2 ** 31 - 1, 0]);
  assert.deepEqual(checkSequence(wrapped, batch(0, 0, 4)), { kind: "append" });
});
