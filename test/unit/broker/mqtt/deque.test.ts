import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { Deque } from "../../../../src/broker/mqtt/deque.ts";

test("deque: empty deque shifts and peeks undefined", () => {
  const deque = new Deque<number>();
  assert.equal(deque.length, 0);
  assert.equal(deque.shift(), undefined);
  assert.equal(deque.peek(), undefined);
  assert.deepEqual([...deque], []);
});

test("deque: FIFO order", () => {
  const deque = new Deque<string>();
  deque.push("a");
  deque.push("b");
  deque.push("c");
  assert.equal(deque.length, 3);
  assert.equal(deque.peek(), "a");
  assert.equal(deque.shift(), "a");
  assert.equal(deque.peek(), "b");
  assert.equal(deque.shift(), "b");
  assert.equal(deque.shift(), "c");
  assert.equal(deque.shift(), undefined);
  assert.equal(deque.length, 0);
});

test("deque: grows while wrapped around the end of the ring", () => {
  const deque = new Deque<number>(4);
  // Move head to index 3 so the next pushes wrap to the front of the ring.
  for (let i = 0; i < 3; i++) deque.push(-1);
  for (let i = 0; i < 3; i++) assert.equal(deque.shift(), -1);
  for (let i = 0; i < 4; i++) deque.push(i); // fills the ring, wrapped: [1, 2, 3, 0]
  assert.deepEqual([...deque], [0, 1, 2, 3]);
  for (let i = 4; i < 20; i++) deque.push(i); // grows 4 -> 8 -> 16 -> 32 from a wrapped state
  assert.equal(deque.length, 20);
  assert.deepEqual(
    [...deque],
    Array.from({ length: 20 }, (_, i) => i),
  );
  for (let i = 0; i < 20; i++) assert.equal(deque.shift(), i);
  assert.equal(deque.length, 0);
});

test("deque: interleaved push/shift across many wrap-arounds keeps order", () => {
  const deque = new Deque<number>(2);
  let pushed = 0;
  let shifted = 0;
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < 3; i++) deque.push(pushed++);
    for (let i = 0; i < 2; i++) assert.equal(deque.shift(), shifted++);
  }
  assert.equal(deque.length, pushed - shifted);
  assert.deepEqual(
    [...deque],
    Array.from({ length: pushed - shifted }, (_, i) => shifted + i),
  );
});

test("deque: clear empties it and it is usable again", () => {
  const deque = new Deque<number>(2);
  for (let i = 0; i < 11; i++) deque.push(i);
  deque.shift();
  deque.clear();
  assert.equal(deque.length, 0);
  assert.equal(deque.peek(), undefined);
  assert.equal(deque.shift(), undefined);
  assert.deepEqual([...deque], []);
  for (let i = 0; i < 10; i++) deque.push(100 + i);
  assert.deepEqual(
    [...deque],
    Array.from({ length: 10 }, (_, i) => 100 + i),
  );
  assert.equal(deque.shift(), 100);
});

test("deque: iterator yields head to tail without consuming", () => {
  const deque = new Deque<number>(4);
  deque.push(1);
  deque.push(2);
  deque.shift();
  deque.push(3);
  deque.push(4);
  deque.push(5); // wraps
  assert.deepEqual([...deque], [2, 3, 4, 5]);
  assert.deepEqual([...deque], [2, 3, 4, 5], "iterating twice gives the same items");
  assert.equal(deque.length, 4);
  assert.equal(deque.peek(), 2);
});

test("deque: shifted slots are released (no stale references kept)", () => {
  const deque = new Deque<object>(4);
  const item = { big: true };
  deque.push(item);
  deque.shift();
  // The ring is private; look at it only to check the slot was cleared for the GC.
  const ring = (deque as unknown as { items: Array<object | undefined> }).items;
  assert.ok(!ring.includes(item));
});

test("deque: rejects a capacity that is not a power of two", () => {
  assert.throws(() => new Deque<number>(3), /power of two/);
  assert.throws(() => new Deque<number>(0), /power of two/);
});

type DequeOp =
  | { kind: "push"; value: number }
  | { kind: "shift" }
  | { kind: "peek" }
  | { kind: "clear" };

const dequeOp: fc.Arbitrary<DequeOp> = fc.oneof(
  { weight: 6, arbitrary: fc.integer().map((value) => ({ kind: "push" as const, value })) },
  { weight: 4, arbitrary: fc.constant({ kind: "shift" as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: "peek" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "clear" as const }) },
);

test("deque: model test against a plain array (random push/shift/peek/clear)", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(1, 2, 4, 8),
      fc.array(dequeOp, { maxLength: 300 }),
      (capacity, ops) => {
        const deque = new Deque<number>(capacity);
        const model: number[] = [];
        for (const op of ops) {
          if (op.kind === "push") {
            deque.push(op.value);
            model.push(op.value);
          } else if (op.kind === "shift") {
            assert.equal(deque.shift(), model.shift());
          } else if (op.kind === "peek") {
            assert.equal(deque.peek(), model[0]);
          } else {
            deque.clear();
            model.length = 0;
          }
          assert.equal(deque.length, model.length);
        }
        assert.deepEqual([...deque], model);
      },
    ),
    { numRuns: 300 },
  );
});
