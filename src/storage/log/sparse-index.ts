/**
 * The two sparse indexes of a segment, as pure in-memory structures with Kafka's file formats:
 *
 *   .index      8-byte entries: relative offset int32, file position int32
 *   .timeindex 12-byte entries: timestamp int64, relative offset int32
 *
 * Offsets are stored relative to the segment's base offset, so a segment must roll before its
 * offsets span more than 2^31 (partition-log.ts does). An entry is added every
 * index_interval_bytes of log, so a lookup lands at most that many bytes before its target and
 * the segment scans forward from there. Both indexes can always be rebuilt from the .log file,
 * which is why they are written only when a segment is closed and checked when loaded.
 */
import { assert } from "../../errors.ts";

export const OFFSET_INDEX_ENTRY_BYTES = 8;
export const TIME_INDEX_ENTRY_BYTES = 12;
const INITIAL_CAPACITY = 64;
const TWO_POW_32 = 4_294_967_296;
const INT32_MAX = 2_147_483_647;

/** Finds the last index i in [0, count) with key(i) <= target (or < target), or -1. */
function floorSearch(count: number, key: (i: number) => number, target: number, strict: boolean) {
  let low = 0;
  let high = count - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = key(middle);
    if (value < target || (!strict && value === target)) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

/** Offset -> file position of the batch starting at that offset. */
export class OffsetIndex {
  readonly baseOffset: number;
  readonly entriesMax: number;
  #relativeOffsets = new Int32Array(INITIAL_CAPACITY);
  #positions = new Int32Array(INITIAL_CAPACITY);
  #count = 0;

  constructor(baseOffset: number, entriesMax: number) {
    assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, `base offset ${baseOffset}`);
    assert(Number.isInteger(entriesMax) && entriesMax > 0, `entries max ${entriesMax}`);
    this.baseOffset = baseOffset;
    this.entriesMax = entriesMax;
  }

  get count(): number {
    return this.#count;
  }

  get isFull(): boolean {
    return this.#count >= this.entriesMax;
  }

  /** Records that the batch whose first offset is `offset` starts at `position`. */
  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset;
    assert(relative >= 0 && relative <= INT32_MAX, `relative offset ${relative}`);
    assert(position >= 0 && position <= INT32_MAX, `position ${position}`);
    assert(!this.isFull, "index has room");
    if (this.#count > 0) {
      assert(relative > this.#relativeOffsets[this.#count - 1], "offsets increase");
      assert(position > this.#positions[this.#count - 1], "positions increase");
    }
    if (this.#count === this.#positions.length) this.#grow();
    this.#relativeOffsets[this.#count] = relative;
    this.#positions[this.#count] = position;
    this.#count++;
  }

  /** The entry at or before `offset`: where a scan for it starts; position 0 when none. */
  lookup(offset: number): { offset: number; position: number } {
    const relative = offset - this.baseOffset;
    const i = floorSearch(this.#count, (k) => this.#relativeOffsets[k], relative, false);
    if (i < 0) return { offset: this.baseOffset, position: 0 };
    return { offset: this.baseOffset + this.#relativeOffsets[i], position: this.#positions[i] };
  }

  /** The last entry at or before file position `position`, or null when there is none. */
  floorByPosition(position: number): { offset: number; position: number } | null {
    const i = floorSearch(this.#count, (k) => this.#positions[k], position, false);
    return i < 0 ? null : this.entry(i);
  }

  entry(i: number): { offset: number; position: number } {
    assert(i >= 0 && i < this.#count, `entry ${i} of ${this.#count}`);
    return { offset: this.baseOffset + this.#relativeOffsets[i], position: this.#positions[i] };
  }

  encode(): Buffer {
    const buf = Buffer.allocUnsafe(this.#count * OFFSET_INDEX_ENTRY_BYTES);
    for (let i = 0; i < this.#count; i++) {
      buf.writeInt32BE(this.#relativeOffsets[i], i * OFFSET_INDEX_ENTRY_BYTES);
      buf.writeInt32BE(this.#positions[i], i * OFFSET_INDEX_ENTRY_BYTES + 4);
    }
    return buf;
  }

  /**
   * Loads an index file's bytes, or says why they cannot be trusted: a size that is not whole
   * entries, entries that do not increase, or a position at or past the end of the log.
   */
  static decode(
    baseOffset: number,
    entriesMax: number,
    bytes: Buffer,
    logSizeBytes: number,
  ): OffsetIndex | string {
    if (bytes.length % OFFSET_INDEX_ENTRY_BYTES !== 0) return `size ${bytes.length} not whole`;
    const count = bytes.length / OFFSET_INDEX_ENTRY_BYTES;
    if (count > entriesMax) return `${count} entries, at most ${entriesMax} expected`;
    const index = new OffsetIndex(baseOffset, entriesMax);
    let lastRelative = -1;
    let lastPosition = -1;
    for (let i = 0; i < count; i++) {
      const relative = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES);
      const position = bytes.readInt32BE(i * OFFSET_INDEX_ENTRY_BYTES + 4);
      if (relative <= lastRelative || position <= lastPosition) return `entry ${i} out of order`;
      if (position >= logSizeBytes) return `entry ${i} points past the end of the log`;
      index.append(baseOffset + relative, position);
      lastRelative = relative;
      lastPosition = position;
    }
    return index;
  }

  #grow(): void {
    const capacity = Math.min(this.#positions.length * 2, this.entriesMax);
    const offsets = new Int32Array(capacity);
    const positions = new Int32Array(capacity);
    offsets.set(this.#relativeOffsets);
    positions.set(this.#positions);
    this.#relativeOffsets = offsets;
    this.#positions = positions;
  }
}

/** Largest timestamp so far -> an offset at or before which it was reached. */
export class TimeIndex {
  readonly baseOffset: number;
  readonly entriesMax: number;
  #timestamps = new Float64Array(INITIAL_CAPACITY);
  #relativeOffsets = new Int32Array(INITIAL_CAPACITY);
  #count = 0;

  constructor(baseOffset: number, entriesMax: number) {
    assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, `base offset ${baseOffset}`);
    assert(Number.isInteger(entriesMax) && entriesMax > 0, `entries max ${entriesMax}`);
    this.baseOffset = baseOffset;
    this.entriesMax = entriesMax;
  }

  get count(): number {
    return this.#count;
  }

  get lastTimestamp(): number {
    return this.#count === 0 ? Number.NEGATIVE_INFINITY : this.#timestamps[this.#count - 1];
  }

  /**
   * Adds (timestamp, offset) when `timestamp` is a new maximum. The caller promises that every
   * record before the batch starting at `offset` is no later than `timestamp` (segment.ts adds
   * one when a batch is indexed, and a final one for the last batch when the segment closes).
   */
  maybeAppend(timestamp: number, offset: number): void {
    const relative = offset - this.baseOffset;
    assert(relative >= 0 && relative <= INT32_MAX, `relative offset ${relative}`);
    assert(Number.isSafeInteger(timestamp), `timestamp ${timestamp}`);
    if (timestamp <= this.lastTimestamp || this.#count >= this.entriesMax) return;
    if (this.#count > 0) assert(relative >= this.#relativeOffsets[this.#count - 1], "in order");
    if (this.#count === this.#timestamps.length) this.#grow();
    this.#timestamps[this.#count] = timestamp;
    this.#relativeOffsets[this.#count] = relative;
    this.#count++;
  }

  /**
   * An offset from which to scan for the first record with a timestamp >= `timestamp`: the
   * latest entry strictly earlier than it (all records up to that entry are earlier), else the
   * segment's base offset.
   */
  lookup(timestamp: number): number {
    const i = floorSearch(this.#count, (k) => this.#timestamps[k], timestamp, true);
    return i < 0 ? this.baseOffset : this.baseOffset + this.#relativeOffsets[i];
  }

  encode(): Buffer {
    const buf = Buffer.allocUnsafe(this.#count * TIME_INDEX_ENTRY_BYTES);
    for (let i = 0; i < this.#count; i++) {
      const at = i * TIME_INDEX_ENTRY_BYTES;
      const high = Math.floor(this.#timestamps[i] / TWO_POW_32);
      buf.writeInt32BE(high, at);
      buf.writeUInt32BE(this.#timestamps[i] - high * TWO_POW_32, at + 4);
      buf.writeInt32BE(this.#relativeOffsets[i], at + 8);
    }
    return buf;
  }

  /** Loads a .timeindex file's bytes, or says why they cannot be trusted. */
  static decode(
    baseOffset: number,
    entriesMax: number,
    bytes: Buffer,
    nextOffset: number,
  ): TimeIndex | string {
    if (bytes.length % TIME_INDEX_ENTRY_BYTES !== 0) return `size ${bytes.length} not whole`;
    const count = bytes.length / TIME_INDEX_ENTRY_BYTES;
    if (count > entriesMax) return `${count} entries, at most ${entriesMax} expected`;
    const index = new TimeIndex(baseOffset, entriesMax);
    for (let i = 0; i < count; i++) {
      const at = i * TIME_INDEX_ENTRY_BYTES;
      const timestamp = bytes.readInt32BE(at) * TWO_POW_32 + bytes.readUInt32BE(at + 4);
      const relative = bytes.readInt32BE(at + 8);
      if (!Number.isSafeInteger(timestamp) || timestamp <= index.lastTimestamp) {
        return `entry ${i} timestamp out of order`;
      }
      if (relative < 0 || baseOffset + relative >= nextOffset) return `entry ${i} offset past end`;
      if (i > 0 && relative < index.#relativeOffsets[i - 1]) return `entry ${i} out of order`;
      index.maybeAppend(timestamp, baseOffset + relative);
    }
    return index;
  }

  #grow(): void {
    const capacity = Math.min(this.#timestamps.length * 2, this.entriesMax);
    const timestamps = new Float64Array(capacity);
    const offsets = new Int32Array(capacity);
    timestamps.set(this.#timestamps);
    offsets.set(this.#relativeOffsets);
    this.#timestamps = timestamps;
    this.#relativeOffsets = offsets;
  }
}
