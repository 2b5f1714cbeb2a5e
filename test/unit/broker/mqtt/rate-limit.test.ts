import assert from "node:assert/strict";
import { test } from "node:test";
import { TokenBucket } from "../../../../src/broker/mqtt/rate-limit.ts";

test("a full bucket allows a burst of one second's worth, then asks for a wait", () => {
  const bucket = new TokenBucket(100, 0);
  for (let i = 0; i < 100; i++) assert.equal(bucket.take(1, 0), 0, `message ${i}`);
  assert.equal(bucket.take(1, 0), 10, "one token in debt at 100/s: 10 ms");
  assert.equal(bucket.take(49, 0), 500, "50 tokens in debt: half a second");
});

test("tokens come back at the rate, never above one second's worth", () => {
  const bucket = new TokenBucket(1000, 0);
  assert.equal(bucket.take(1000, 0), 0);
  assert.equal(bucket.take(500, 500), 0, "500 ms refilled 500 tokens");
  assert.ok(bucket.take(1, 500) > 0, "and no more");
  assert.equal(bucket.take(1000, 60_000), 0, "a long pause refills to the cap");
  assert.ok(bucket.take(1, 60_000) > 0, "the cap is one second's worth");
});

test("a sustained rate above the limit is held to the limit", () => {
  const rate = 200;
  const bucket = new TokenBucket(rate, 0);
  let nowMs = 0;
  let sent = 0;
  // Send as fast as allowed for 10 simulated seconds, waiting whenever told to.
  while (nowMs < 10_000) {
    const waitMs = bucket.take(1, nowMs);
    sent++;
    nowMs += waitMs > 0 ? waitMs : 1;
  }
  // The initial burst of `rate` plus `rate` per second.
  assert.ok(sent <= rate * 11 + 1 && sent >= rate * 10, `sent ${sent}`);
});

test("tryTake refuses without going into debt", () => {
  const bucket = new TokenBucket(2, 0);
  assert.equal(bucket.tryTake(1, 0), true);
  assert.equal(bucket.tryTake(1, 0), true);
  assert.equal(bucket.tryTake(1, 0), false);
  assert.equal(bucket.tryTake(1, 100), false, "0.2 tokens back");
  assert.equal(bucket.tryTake(1, 500), true, "one token back after 500 ms, not more");
  assert.equal(bucket.tryTake(1, 500), false);
});
