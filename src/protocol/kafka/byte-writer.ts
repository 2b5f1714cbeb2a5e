/**
 * Big-endian writes into a list of chunks. Small fields are copied into a scratch chunk; large
 * byte fields (record batches read from the log) are kept by reference, so a Fetch response goes
 * to the socket without copying the stored bytes.
 */
const CHUNK_BYTES = 8192;
/**
 * Most messages (a Produce answer, a Fetch request) fit in the first chunk. Below half of
 * Buffer.poolSize it is a slice of Node's shared pool: a chunk of its own per message was most
 * of the time to encode a Produce answer.
 */
const FIRST_CHUNK_BYTES = 512;
/** Byte fields at least this large are referenced, not copied. */
const REFERENCE_BYTES_MIN = 1024;

export class ByteWriter {
  readonly #chunks: Buffer[] = [];
  readonly #first: Buffer = Buffer.allocUnsafe(FIRST_CHUNK_BYTES);
  #current: Buffer = this.#first;
  #position = 0;
  #start = 0;
  #length = 0;
  readonly #sizePrefixed: boolean;

  /**
   * `sizePrefixed`: the first 4 bytes hold the size of what follows them (a Kafka frame), set
   * by finish().
   */
  constructor(sizePrefixed = false) {
    this.#sizePrefixed = sizePrefixed;
    if (sizePrefixed) this.#reserve(4);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  /**
   * Where the next `bytes` go in #current, which may be a new chunk: call it before reading
   * #current (`this.#current.writeX(v, this.#reserve(n))` would write into the old chunk,
   * evaluated before the argument).
   */
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
    const at = this.#reserve(1);
    this.#current.writeInt8(value, at);
  }

  int16(value: number): void {
    const at = this.#reserve(2);
    this.#current.writeInt16BE(value, at);
  }

  uint16(value: number): void {
    const at = this.#reserve(2);
    this.#current.writeUInt16BE(value, at);
  }

  int32(value: number): void {
    const at = this.#reserve(4);
    this.#current.writeInt32BE(value, at);
  }

  uint32(value: number): void {
    const at = this.#reserve(4);
    this.#current.writeUInt32BE(value, at);
  }

  int64(value: bigint): void {
    const at = this.#reserve(8);
    // Offsets, timestamps and -1 are safe integers: two 32-bit writes instead of BigInt
    // arithmetic, which was the largest cost of encoding a Produce answer.
    const n = Number(value);
    if (Number.isSafeInteger(n)) {
      const high = Math.floor(n / 0x100000000);
      this.#current.writeInt32BE(high, at);
      this.#current.writeUInt32BE(n - high * 0x100000000, at + 4);
    } else {
      this.#current.writeBigInt64BE(value, at);
    }
  }

  float64(value: number): void {
    const at = this.#reserve(8);
    this.#current.writeDoubleBE(value, at);
  }

  uvarint(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new RangeError(`unsigned varint out of range: ${value}`);
    }
    while (value >= 0x80) {
      const at = this.#reserve(1);
      this.#current.writeUInt8((value & 0x7f) | 0x80, at);
      value = Math.floor(value / 128);
    }
    const at = this.#reserve(1);
    this.#current.writeUInt8(value, at);
  }

  /** A string's UTF-8 bytes, `byteLength` of them (Buffer.byteLength), written in place. */
  utf8(value: string, byteLength: number): void {
    const at = this.#reserve(byteLength);
    this.#current.write(value, at, byteLength, "utf8");
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
    if (this.#sizePrefixed) this.#first.writeInt32BE(this.#length - 4, 0);
    return this.#chunks.slice();
  }

  /** One contiguous copy; for tests and small messages. */
  toBuffer(): Buffer {
    return Buffer.concat(this.finish(), this.#length);
  }
}
