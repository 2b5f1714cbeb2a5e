/**
 * Big-endian writes into a list of chunks. Small fields are copied into a scratch chunk; large
 * byte fields (record batches read from the log) are kept by reference, so a Fetch response goes
 * to the socket without copying the stored bytes.
 */
const CHUNK_BYTES = 8192;
/** Byte fields at least this large are referenced, not copied. */
const REFERENCE_BYTES_MIN = 1024;

export class ByteWriter {
  readonly #chunks: Buffer[] = [];
  #current: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  #position = 0;
  #start = 0;
  #length = 0;

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  #reserve(bytes: number): number {
    if (this.#position + bytes > this.#current.length) {
      this.#seal();
      this.#current = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
      this.#position = 0;
      this.#start = 0;
    }
    const at = this.#position;
    this.#position += bytes;
    this.#length += bytes;
    return at;
  }

  #seal(): void {
    if (this.#position > this.#start) {
      this.#chunks.push(this.#current.subarray(this.#start, this.#position));
      this.#start = this.#position;
    }
  }

  int8(value: number): void {
    this.#current.writeInt8(value, this.#reserve(1));
  }

  int16(value: number): void {
    this.#current.writeInt16BE(value, this.#reserve(2));
  }

  uint16(value: number): void {
    this.#current.writeUInt16BE(value, this.#reserve(2));
  }

  int32(value: number): void {
    this.#current.writeInt32BE(value, this.#reserve(4));
  }

  uint32(value: number): void {
    this.#current.writeUInt32BE(value, this.#reserve(4));
  }

  int64(value: bigint): void {
    this.#current.writeBigInt64BE(value, this.#reserve(8));
  }

  float64(value: number): void {
    this.#current.writeDoubleBE(value, this.#reserve(8));
  }

  uvarint(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError(`unsigned varint out of range: ${value}`);
    }
    while (value >= 0x80) {
      this.#current.writeUInt8((value & 0x7f) | 0x80, this.#reserve(1));
      value = Math.floor(value / 128);
    }
    this.#current.writeUInt8(value, this.#reserve(1));
  }

  bytes(value: Uint8Array): void {
    if (value.length >= REFERENCE_BYTES_MIN) {
      this.#seal();
      // The Buffer itself when it is one: a Fetch answer's placeholders are known by identity.
      this.#chunks.push(
        Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length),
      );
      this.#length += value.length;
      return;
    }
    const at = this.#reserve(value.length);
    this.#current.set(value, at);
  }

  /** Appends what another writer produced (used for tagged fields, whose size comes first). */
  append(other: ByteWriter): void {
    for (const chunk of other.finish()) this.bytes(chunk);
  }

  /** The bytes written, as chunks in order. The writer may keep being used afterwards. */
  finish(): Buffer[] {
    this.#seal();
    return this.#chunks.slice();
  }

  /** One contiguous copy; for tests and small messages. */
  toBuffer(): Buffer {
    return Buffer.concat(this.finish(), this.#length);
  }
}
