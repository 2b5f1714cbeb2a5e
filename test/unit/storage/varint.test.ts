import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type Decoded,
  readVarint,
  readVarlong,
  varintBytes,
  varlongBytes,
  writeVarint,
  writeVarlong,
} from "../../../src/storage/log/varint.ts";
import { fcParameters } from "./fc-config.ts";

function encodeVarint(value: number): Buffer {
  const buf = Buffer.alloc(varintBytes(value));
  assert.equal(writeVarint(buf, 0, value), buf.length);
  return buf;
}

function encodeVarlong(value: number): Buffer {
  const buf = Buffer.alloc(varlongBytes(value));
  assert.equal(writeVarlong(buf, 0, value), buf.length);
  return buf;
}

describe("zigzag varints", () => {
  test("known encodings (Protocol Buffers zigzag)", () => {
    const cases: Array<[number, string]> = [
      [0, "00"],
      [-1, "01"],
      [1, "02"],
      [63, "7e"],
      [-64, "7f"],
      [64, "8001"],
      [300, "d804"],
      [2_147_483_647, "feffffff0f"],
      [-2_147_483_648, "ffffffff0f"],
    ];
    for (const [value, hex] of cases) {
      assert.equal(encodeVarint(value).toString("hex"), hex, `varint ${value}`);
      assert.equal(encodeVarlong(value).toString("hex"), hex, `varlong ${value}`);
    }
  });

  test("int32 round trip", () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (value) => {
        const buf = encodeVarint(value);
        const out = readVarint(buf, 0, buf.length, { value: 0, next: 0 });
        assert.deepEqual(out, { value, next: buf.length });
      }),
      fcParameters(2000),
    );
  });

  test("varlong round trip within +-2^52", () => {
    const limit = 2 ** 52 - 1;
    fc.assert(
      fc.property(fc.integer({ min: -limit, max: limit }), (value) => {
        const buf = encodeVarlong(value);
        const out = readVarlong(buf, 0, buf.length, { value: 0, next: 0 });
        assert.deepEqual(out, { value, next: buf.length });
      }),
      fcParameters(2000),
    );
  });

  test("truncated, overlong and out-of-range encodings are malformed, never thrown", () => {
    const out: Decoded = { value: 0, next: 0 };
    assert.equal(readVarint(Buffer.from("80", "hex"), 0, 1, out).next, -1);
    assert.equal(readVarint(Buffer.from("8080808010", "hex"), 0, 5, out).next, -1);
    assert.equal(readVarint(Buffer.from("808080808001", "hex"), 0, 6, out).next, -1);
    assert.equal(readVarlong(Buffer.from("ffffffffffffffffff01", "hex"), 0, 10, out).next, -1);
    assert.equal(readVarlong(Buffer.from("8080", "hex"), 0, 2, out).next, -1);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
        const buf = Buffer.from(bytes);
        for (const read of [readVarint, readVarlong]) {
          const result = read(buf, 0, buf.length, out);
          assert.ok(result.next === -1 || (result.next > 0 && result.next <= buf.length));
        }
      }),
      fcParameters(2000),
    );
  });
});
