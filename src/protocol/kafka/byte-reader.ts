/**
 * Bounds-checked big-endian reads over one frame. Every read checks the bytes left first, so
 * hostile input ends in a KafkaCodecError, never in a RangeError or an out-of-bounds view.
 * Byte fields come back as views into the frame (no copy).
 */
import { KafkaCodecError } from "./codec-error.ts";

export class ByteReader {
  readonly buffer: Buffer;
  offset: number;
  readonly end: number;

  constructor(buffer: Buffer, offset = 0, end = buffer.length) {
    this.buffer = buffer;
    this.offset = offset;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  #need(bytes: number, what: string): number {
    const at = this.offset;
    if (bytes > this.end - at) {
      throw new KafkaCodecError(
        "truncated",
        `${what}: needs ${bytes} bytes at ${at}, ${this.end - at} left`,
      );
    }
    this.offset = at + bytes;
    return at;
  }

  int8(what = "int8"): number {
    return this.buffer.readInt8(this.#need(1, what));
  }

  int16(what = "int16"): number {
    return this.buffer.readInt16BE(this.#need(2, what));
  }

  uint16(what = "uint16"): number {
    return this.buffer.readUInt16BE(this.#need(2, what));
  }

  int32(what = "int32"): number {
    return this.buffer.readInt32BE(this.#need(4, what));
  }

  uint32(what = "uint32"): number {
    return this.buffer.readUInt32BE(this.#need(4, what));
  }

  int64(what = "int64"): bigint {
    return this.buffer.readBigInt64BE(this.#need(8, what));
  }

  float64(what = "float64"): number {
    return this.buffer.readDoubleBE(this.#need(8, what));
  }

  bytes(length: number, what = "bytes"): Buffer {
    const at = this.#field(length, what);
    return this.buffer.subarray(at, at + length);
  }

  /** `length` bytes as UTF-8 text, decoded in place (no view of them is made). */
  utf8(length: number, what = "string"): string {
    const at = this.#field(length, what);
    return this.buffer.toString("utf8", at, at + length);
  }

  /** Where a field of `length` bytes starts; a length past the frame is oversize. */
  #field(length: number, what: string): number {
    if (length > this.end - this.offset) {
      throw new KafkaCodecError(
        "oversize",
        `${what}: length ${length} but only ${this.end - this.offset} bytes left`,
      );
    }
    return this.#need(length, what);
  }

  /** Unsigned LEB128 as Kafka writes it (at most 5 bytes for 32 bits). */
  uvarint(what = "unsigned varint"): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.buffer.readUInt8(this.#need(1, what));
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) break;
        return value;
      }
    }
    throw new KafkaCodecError("invalid", `${what}: unsigned varint longer than 32 bits`);
  }

  skip(bytes: number, what = "skipped bytes"): void {
    this.bytes(bytes, what);
  }
}
