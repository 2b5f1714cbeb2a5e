import assert from "node:assert/strict";
import { test } from "node:test";
import { Message, VARIANT_COUNT, variantIndex } from "../../../../src/broker/mqtt/message.ts";
import { COMPACT_WASTE_BYTES_MIN } from "../../../../src/config/limits.ts";
import type { QoS } from "../../../../src/protocol/mqtt/constants.ts";
import type { Properties } from "../../../../src/protocol/mqtt/packets.ts";

function message(payload: Buffer, expiresAtMs = 0, properties?: Properties): Message {
  return new Message("a/b", payload, 1, false, properties, expiresAtMs, "pub");
}

test("message: expiresAtMs 0 never expires", () => {
  const m = message(Buffer.alloc(1), 0);
  assert.equal(m.isExpired(0), false);
  assert.equal(m.isExpired(Number.MAX_SAFE_INTEGER), false);
});

test("message: isExpired is false before expiresAtMs and true from it on", () => {
  const m = message(Buffer.alloc(1), 10_000);
  assert.equal(m.isExpired(0), false);
  assert.equal(m.isExpired(9_999), false);
  assert.equal(m.isExpired(10_000), true);
  assert.equal(m.isExpired(10_001), true);
});

test("message: remainingExpirySeconds rounds up and never goes below 1", () => {
  const m = message(Buffer.alloc(1), 100_000);
  assert.equal(m.remainingExpirySeconds(0), 100);
  assert.equal(m.remainingExpirySeconds(1), 100, "99.999 s left rounds up");
  assert.equal(m.remainingExpirySeconds(999), 100);
  assert.equal(m.remainingExpirySeconds(1_000), 99);
  assert.equal(m.remainingExpirySeconds(98_000), 2);
  assert.equal(m.remainingExpirySeconds(98_999), 2, "1.001 s left rounds up to 2");
  assert.equal(m.remainingExpirySeconds(99_000), 1);
  assert.equal(m.remainingExpirySeconds(99_999), 1, "1 ms left is still 1 s");
  assert.equal(m.remainingExpirySeconds(100_000), 1, "0 left: clamped to 1, never 0");
  assert.equal(m.remainingExpirySeconds(200_000), 1, "past expiry: clamped to 1");
});

test("message: compact copies a small view of a large buffer", () => {
  const chunk = Buffer.alloc(64 * 1024, 7);
  chunk.write("hello", 100);
  const view = chunk.subarray(100, 105);
  const m = message(view);
  m.compact();
  assert.notEqual(m.payload, view);
  assert.notEqual(m.payload.buffer, chunk.buffer, "no longer pins the chunk");
  assert.equal(m.payload.toString(), "hello");
  chunk.fill(0);
  assert.equal(m.payload.toString(), "hello", "a copy, not an alias");
});

test("message: compact keeps a standalone buffer as it is", () => {
  const standalone = Buffer.alloc(5000, 1); // Buffer.alloc never uses the shared pool
  assert.equal(standalone.buffer.byteLength, standalone.byteLength);
  const m = message(standalone);
  m.compact();
  assert.equal(m.payload, standalone);
  // A view that wastes less than COMPACT_WASTE_BYTES_MIN of its backing buffer is not copied.
  const backing = Buffer.alloc(4 * COMPACT_WASTE_BYTES_MIN);
  const nearlyWhole = backing.subarray(0, backing.length - (COMPACT_WASTE_BYTES_MIN - 1));
  const n = message(nearlyWhole);
  n.compact();
  assert.equal(n.payload, nearlyWhole);
});

test("message: compact works only once", () => {
  const chunk = Buffer.alloc(64 * 1024);
  const m = message(chunk.subarray(0, 10));
  m.compact();
  const first = m.payload;
  assert.notEqual(first.buffer, chunk.buffer);
  m.compact();
  assert.equal(m.payload, first, "the second call does not copy again");
  // Even a fresh large-buffer view is left alone: compaction happened already.
  const later = Buffer.alloc(64 * 1024).subarray(0, 10);
  m.payload = later;
  m.compact();
  assert.equal(m.payload, later);
});

test("message: compact copies correlation data out of the read buffer", () => {
  const chunk = Buffer.alloc(64 * 1024);
  chunk.write("corr", 50);
  const correlation = chunk.subarray(50, 54);
  const properties: Properties = { correlationData: correlation };
  const m = message(Buffer.alloc(3), 0, properties);
  m.compact();
  const copied = m.properties?.correlationData;
  assert.ok(copied !== undefined);
  assert.notEqual(copied, correlation);
  assert.notEqual(copied.buffer, chunk.buffer);
  assert.equal(copied.toString(), "corr");
});

test("message: every PUBLISH variant has its own cache slot", () => {
  const seen = new Set<number>();
  for (const v5 of [false, true]) {
    for (const qos of [0, 1, 2] as QoS[]) {
      for (const retain of [false, true]) {
        const index = variantIndex(v5, qos, retain);
        assert.ok(index >= 0 && index < VARIANT_COUNT);
        seen.add(index);
      }
    }
  }
  assert.equal(seen.size, VARIANT_COUNT);
});
