/**
 * Kafka's record-level integers: zigzag varints as in Protocol Buffers. A varint carries an int32
 * (at most 5 bytes), a varlong an int64 (at most 10 bytes). JavaScript numbers hold int64 values
 * exactly only within +-2^53; a varlong's zigzag form must stay below 2^53 too, so varlongs are
 * limited to +-2^52 (about 142,000 years of milliseconds, or 4.5e15 offsets). A varlong outside
 * that range is reported as malformed rather than silently rounded.
 *
 * Decoders never throw on bad input: they return -1 as the next position (a record parser turns
 * that into a corrupt-batch result), because malformed bytes from disk or a client are operating
 * errors, not programmer errors.
 */
import { assert } from "../../errors.ts";

export const VARINT_BYTES_MAX = 5;
export const VARLONG_BYTES_MAX = 10;
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
const TWO_POW_32 = 4_294_967_296;

/** The decoded value and the position just past it; `next` is -1 when the bytes are malformed. */
export interface Decoded {
  value: number;
  next: number;
}

export function varintBytes(value: number): number {
  assert(Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX, `int32 ${value}`);
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let bytes = 1;
  while (zigzag >= 0x80) {
    zigzag >>>= 7;
    bytes++;
  }
  return bytes;
}

/** Writes `value` at `at` and returns the position after it. */
export function writeVarint(buf: Uint8Array, at: number, value: number): number {
  assert(Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX, `int32 ${value}`);
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  while (zigzag >= 0x80) {
    buf[at++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  buf[at++] = zigzag;
  return at;
}

export function readVarint(buf: Uint8Array, at: number, end: number, out: Decoded): Decoded {
  let raw = 0;
  for (let i = 0; i < VARINT_BYTES_MAX; i++) {
    if (at + i >= end) return fail(out);
    const byte = buf[at + i];
    // The fifth byte may carry only the top 4 bits of a 32-bit value.
    if (i === VARINT_BYTES_MAX - 1 && byte > 0x0f) return fail(out);
    raw += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) {
      const unsigned = raw >>> 0;
      out.value = (unsigned >>> 1) ^ -(unsigned & 1);
      out.next = at + i + 1;
      return out;
    }
  }
  return fail(out);
}

function zigzagLong(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** Whether `value` fits the varlongs this module handles (zigzag form a safe integer). */
export function isVarlongValue(value: number): boolean {
  return Number.isSafeInteger(value) && Number.isSafeInteger(zigzagLong(value));
}

export function varlongBytes(value: number): number {
  assert(isVarlongValue(value), `varlong ${value}`);
  let zigzag = zigzagLong(value);
  let bytes = 1;
  while (zigzag >= 0x80) {
    zigzag = Math.floor(zigzag / 128);
    bytes++;
  }
  return bytes;
}

export function writeVarlong(buf: Uint8Array, at: number, value: number): number {
  assert(isVarlongValue(value), `varlong ${value}`);
  let zigzag = zigzagLong(value);
  // Above 2^31 bitwise operators would truncate, so divide instead; below it take the fast path.
  while (zigzag >= TWO_POW_32) {
    buf[at++] = (zigzag % 128) | 0x80;
    zigzag = Math.floor(zigzag / 128);
  }
  while (zigzag >= 0x80) {
    buf[at++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  buf[at++] = zigzag;
  return at;
}

export function readVarlong(buf: Uint8Array, at: number, end: number, out: Decoded): Decoded {
  let raw = 0;
  for (let i = 0; i < VARLONG_BYTES_MAX; i++) {
    if (at + i >= end) return fail(out);
    const byte = buf[at + i];
    raw += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) {
      // Past 2^53 the sum above may already have been rounded, so the value is unknown.
      if (raw > Number.MAX_SAFE_INTEGER) return fail(out);
      out.value = raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      out.next = at + i + 1;
      return out;
    }
  }
  return fail(out);
}

function fail(out: Decoded): Decoded {
  out.value = 0;
  out.next = -1;
  return out;
}
