import assert from "node:assert/strict";
import { test } from "node:test";
import { ReadBufferPool } from "../../../../src/broker/kafka/read-buffers.ts";

const SIZE = 1024 * 1024;

test("a released buffer is handed out again, whole", () => {
  const pool = new ReadBufferPool(SIZE, 4);
  const first = pool.acquire(600_000);
  assert.equal(first.length, SIZE);
  pool.release(first);
  assert.equal(pool.acquire(SIZE), first);
  assert.notEqual(pool.acquire(SIZE), first, "a buffer in use is not handed out twice");
});

test("small and oversize reads are not pooled", () => {
  const pool = new ReadBufferPool(SIZE, 4);
  const small = pool.acquire(100);
  const large = pool.acquire(SIZE + 1);
  assert.equal(small.length, 100);
  assert.equal(large.length, SIZE + 1);
  pool.release(small);
  pool.release(large);
  assert.equal(pool.idleCount, 0);
});

test("at most maxFree buffers stay idle", () => {
  const pool = new ReadBufferPool(SIZE, 2);
  const taken = [pool.acquire(SIZE), pool.acquire(SIZE), pool.acquire(SIZE)];
  for (const buffer of taken) pool.release(buffer);
  assert.equal(pool.idleCount, 2);
});
