import { assert } from "../../errors.ts";
import { VARINT_MAX } from "./constants.ts";

/** Bytes a Variable Byte Integer takes on the wire (1-4). */
export function varintLength(value: number): number {
  assert(value >= 0 && value <= VARINT_MAX && Number.isInteger(value), `varint ${value}`);
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x20_0000) return 3;
  return 4;
}

/** Writes `value` as a Variable Byte Integer at `offset`; returns the offset after it. */
export function writeVarint(buffer: Buffer, offset: number, value: number): number {
  assert(value >= 0 && value <= VARINT_MAX, `varint ${value}`);
  while (value >= 0x80) {
    buffer[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buffer[offset++] = value;
  return offset;
}
