/**
 * The generator's response framing: frames come out whole and in order however the stream is
 * cut into chunks (down to single bytes), a frame inside one chunk is a view of it, and a bad
 * size prefix stops the reader.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FrameReader } from "../../../src/bench/kafka/frames.ts";

function framed(bodies: readonly Buffer[]): Buffer {
  return Buffer.concat(
    bodies.flatMap((body) => {
      const size = Buffer.alloc(4);
      size.writeInt32BE(body.length);
      return [size, body];
    }),
  );
}

function bodies(count: number, seed: number): Buffer[] {
  return Array.from({ length: count }, (_, i) =>
    Buffer.alloc(((seed * 7919 + i * 104729) % 3000) + (i % 3 === 0 ? 0 : 1), (seed + i) & 0xff),
  );
}

describe("bench kafka response frames", () => {
  for (const chunkBytes of [1, 3, 4, 5, 64, 1000, 1 << 20]) {
    test(`frames survive chunks of ${chunkBytes} bytes`, () => {
      const sent = bodies(12, chunkBytes);
      const stream = framed(sent);
      const reader = new FrameReader(1 << 20);
      const got: Buffer[] = [];
      for (let at = 0; at < stream.length; at += chunkBytes) {
        const outcome = reader.push(stream.subarray(at, at + chunkBytes), (frame) => {
          // Copied: a frame is valid only during its callback.
          got.push(Buffer.from(frame));
          return true;
        });
        assert.equal(outcome, "ok");
      }
      assert.deepEqual(got, sent);
    });
  }

  for (const readBytes of [1, 7, 1000, 4096]) {
    test(`reads of up to ${readBytes} bytes into nextReadTarget give the same frames`, () => {
      // As the socket does: each read goes into the frame under way when there is one.
      const sent = bodies(12, readBytes);
      const stream = framed(sent);
      const reader = new FrameReader(1 << 20);
      const scratch = Buffer.alloc(readBytes);
      const got: Buffer[] = [];
      const onFrame = (frame: Buffer) => got.push(Buffer.from(frame)) > 0;
      let direct = 0;
      for (let at = 0; at < stream.length; ) {
        const target = reader.nextReadTarget() ?? scratch;
        const bytes = Math.min(target.length, readBytes, stream.length - at);
        stream.copy(target, 0, at, at + bytes);
        at += bytes;
        if (target === scratch)
          assert.equal(reader.push(scratch.subarray(0, bytes), onFrame), "ok");
        else {
          direct += bytes;
          reader.filled(bytes, onFrame);
        }
      }
      assert.deepEqual(got, sent);
      if (readBytes < 3000) assert.ok(direct > 0, "part of the frames read in place");
    });
  }

  test("a frame inside one chunk is a view of it; a spanning one is assembled", () => {
    const stream = framed([Buffer.from("abc"), Buffer.from("defgh")]);
    const reader = new FrameReader(100);
    const frames: Buffer[] = [];
    reader.push(stream.subarray(0, 10), (frame) => frames.push(frame) > 0);
    assert.equal(frames.length, 1);
    assert.equal(frames[0].buffer, stream.buffer, "no copy");
    reader.push(stream.subarray(10), (frame) => frames.push(Buffer.from(frame)) > 0);
    assert.deepEqual(
      frames.map((f) => f.toString()),
      ["abc", "defgh"],
    );
  });

  test("a callback returning false stops the chunk; a bad size is reported", () => {
    const stream = framed([Buffer.from("a"), Buffer.from("b")]);
    const reader = new FrameReader(100);
    let calls = 0;
    assert.equal(
      reader.push(stream, () => {
        calls++;
        return false;
      }),
      "ok",
    );
    assert.equal(calls, 1);
    const bad = Buffer.alloc(4);
    bad.writeInt32BE(101);
    assert.deepEqual(
      new FrameReader(100).push(bad, () => true),
      { badSizeBytes: 101 },
    );
    bad.writeInt32BE(-1);
    assert.deepEqual(
      new FrameReader(100).push(bad, () => true),
      { badSizeBytes: -1 },
    );
  });
});
