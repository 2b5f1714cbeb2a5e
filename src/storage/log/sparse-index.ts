/**
 * The two sparse indexes of a segment, as pure in-memory structures with Kafka's file formats:
 *
 *   .index      8-byte entries: relative offset int32, file position int32
 *   .timeindex 12-byte entries: timestamp int64, relative offset int32
 *
 * Both are the same structure: a growing list of (key, value) entries with increasing keys and
 * non-decreasing values, searched by binary search and stored as fixed-size big-endian entries.
 * SparseIndex is that structure; OffsetIndex and TimeIndex only say what key and value mean,
 * how an entry is laid out in the file, and what makes a loaded file untrustworthy.
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

/** Keys are int32 (relative offsets) or int64 (timestamps, exact as doubles within 2^53). */
type KeyColumn = Int32Array | Float64Array;

/** How one index file lays out an entry. */
interface EntryFormat {
  readonly entryBytes: number;
  newKeys(capacity: number): KeyColumn;
  readKey(bytes: Buffer, at: number): number;
  readValue(bytes: Buffer, at: number): number;
  write(bytes: Buffer, at: number, key: number, value: number): void;
}

/** Finds the last index i in [0, count) with column[i] <= target (or < target), or -1. */
function floorSearch(column: KeyColumn, count: number, target: number, strict: boolean): number {
  let low = 0;
  let high = count - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const value = column[middle];
    if (value < target || (!strict && value === target)) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}

/**
 * The shared core: entries in two typed-array columns, grown by doubling up to entriesMax (an
 * index sized for a 1 GiB segment would otherwise hold 2 MiB per segment from its creation).
 * Ordering is the callers' business: each index checks its own rules before pushing.
 */
class SparseIndex {
  readonly entriesMax: number;
  readonly #format: EntryFormat;
  #keys: KeyColumn;
  #values = new Int32Array(INITIAL_CAPACITY);
  #count = 0;

  constructor(format: EntryFormat, entriesMax: number) {
    assert(Number.isInteger(entriesMax) && entriesMax > 0, `entries max ${entriesMax}`);
    this.#format = format;
    this.entriesMax = entriesMax;
    this.#keys = format.newKeys(INITIAL_CAPACITY);
  }

  get count(): number {
    return this.#count;
  }

  get isFull(): boolean {
    return this.#count >= this.entriesMax;
  }

  key(i: number): number {
    return this.#keys[i];
  }

  value(i: number): number {
    return this.#values[i];
  }

  push(key: number, value: number): void {
    assert(!this.isFull, "index has room");
    if (this.#count === this.#values.length) this.#grow();
    this.#keys[this.#count] = key;
    this.#values[this.#count] = value;
    this.#count++;
  }

  /** Last entry whose key is <= target (< target when strict), or -1. */
  floorByKey(target: number, strict: boolean): number {
    return floorSearch(this.#keys, this.#count, target, strict);
  }

  /** Last entry whose value is <= target, or -1 (values never decrease). */
  floorByValue(target: number): number {
    return floorSearch(this.#values, this.#count, target, false);
  }

  encode(): Buffer {
    const format = this.#format;
    const bytes = Buffer.allocUnsafe(this.#count * format.entryBytes);
    for (let i = 0; i < this.#count; i++) {
      format.write(bytes, i * format.entryBytes, this.#keys[i], this.#values[i]);
    }
    return bytes;
  }

  /**
   * Walks a file's entries, handing each (key, value) to `accept`, which returns why the entry
   * cannot be trusted or null. The result is why the file cannot be trusted, or null.
   */
  static walk(
    format: EntryFormat,
    entriesMax: number,
    bytes: Buffer,
    accept: (i: number, key: number, value: number) => string | null,
  ): string | null {
    if (bytes.length % format.entryBytes !== 0) return `size ${bytes.length} not whole`;
    const count = bytes.length / format.entryBytes;
    if (count > entriesMax) return `${count} entries, at most ${entriesMax} expected`;
    for (let i = 0; i < count; i++) {
      const at = i * format.entryBytes;
      const problem = accept(i, format.readKey(bytes, at), format.readValue(bytes, at));
      if (problem !== null) return problem;
    }
    return null;
  }

  #grow(): void {
    const capacity = Math.min(this.#values.length * 2, this.entriesMax);
    const keys = this.#format.newKeys(capacity);
    const values = new Int32Array(capacity);
    keys.set(this.#keys);
    values.set(this.#values);
    this.#keys = keys;
    this.#values = values;
  }
}

function checkBaseOffset(baseOffset: number): void {
  assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, `base offset ${baseOffset}`);
}

/** .index: key relative offset int32, value position int32. */
const OFFSET_ENTRY: EntryFormat = {
  entryBytes: OFFSET_INDEX_ENTRY_BYTES,
  newKeys: (capacity) => new Int32Array(capacity),
  readKey: (bytes, at) => bytes.readInt32BE(at),
  readValue: (bytes, at) => bytes.readInt32BE(at + 4),
  write(bytes, at, relative, position) {
    bytes.writeInt32BE(relative, at);
    bytes.writeInt32BE(position, at + 4);
  },
};

/** .timeindex: key timestamp int64, value relative offset int32. */
const TIME_ENTRY: EntryFormat = {
  entryBytes: TIME_INDEX_ENTRY_BYTES,
  newKeys: (capacity) => new Float64Array(capacity),
  readKey: (bytes, at) => bytes.readInt32BE(at) * TWO_POW_32 + bytes.readUInt32BE(at + 4),
  readValue: (bytes, at) => bytes.readInt32BE(at + 8),
  write(bytes, at, timestamp, relative) {
    const high = Math.floor(timestamp / TWO_POW_32);
    bytes.writeInt32BE(high, at);
    bytes.writeUInt32BE(timestamp - high * TWO_POW_32, at + 4);
    bytes.writeInt32BE(relative, at + 8);
  },
};

/** Offset -> file position of the batch starting at that offset. */
export class OffsetIndex {
  readonly baseOffset: number;
  readonly #entries: SparseIndex;

  constructor(baseOffset: number, entriesMax: number) {
    checkBaseOffset(baseOffset);
    this.baseOffset = baseOffset;
    this.#entries = new SparseIndex(OFFSET_ENTRY, entriesMax);
  }

  get entriesMax(): number {
    return this.#entries.entriesMax;
  }

  get count(): number {
    return this.#entries.count;
  }

  get isFull(): boolean {
    return this.#entries.isFull;
  }

  /** Records that the batch whose first offset is `offset` starts at `position`. */
  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset;
    assert(relative >= 0 && relative <= INT32_MAX, `relative offset ${relative}`);
    assert(position >= 0 && position <= INT32_MAX, `position ${position}`);
    const count = this.#entries.count;
    if (count > 0) {
      assert(relative > this.#entries.key(count - 1), "offsets increase");
      assert(position > this.#entries.value(count - 1), "positions increase");
    }
    this.#entries.push(relative, position);
  }

  /** The entry at or before `offset`: where a scan for it starts; position 0 when none. */
  lookup(offset: number): { offset: number; position: number } {
    const i = this.#entries.floorByKey(offset - this.baseOffset, false);
    return i < 0 ? { offset: this.baseOffset, position: 0 } : this.entry(i);
  }

  /** The last entry at or before file position `position`, or null when there is none. */
  floorByPosition(position: number): { offset: number; position: number } | null {
    const i = this.#entries.floorByValue(position);
    return i < 0 ? null : this.entry(i);
  }

  entry(i: number): { offset: number; position: number } {
    assert(i >= 0 && i < this.count, `entry ${i} of ${this.count}`);
    return { offset: this.baseOffset + this.#entries.key(i), position: this.#entries.value(i) };
  }

  encode(): Buffer {
    return this.#entries.encode();
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
    const index = new OffsetIndex(baseOffset, entriesMax);
    let lastRelative = -1;
    let lastPosition = -1;
    const problem = SparseIndex.walk(OFFSET_ENTRY, entriesMax, bytes, (i, relative, position) => {
      if (relative <= lastRelative || position <= lastPosition) return `entry ${i} out of order`;
      if (position >= logSizeBytes) return `entry ${i} points past the end of the log`;
      index.#entries.push(relative, position);
      lastRelative = relative;
      lastPosition = position;
      return null;
    });
    return problem ?? index;
  }
}

/** Largest timestamp so far -> an offset at or before which it was reached. */
export class TimeIndex {
  readonly baseOffset: number;
  readonly #entries: SparseIndex;

  constructor(baseOffset: number, entriesMax: number) {
    checkBaseOffset(baseOffset);
    this.baseOffset = baseOffset;
    this.#entries = new SparseIndex(TIME_ENTRY, entriesMax);
  }

  get entriesMax(): number {
    return this.#entries.entriesMax;
  }

  get count(): number {
    return this.#entries.count;
  }

  get lastTimestamp(): number {
    const count = this.#entries.count;
    return count === 0 ? Number.NEGATIVE_INFINITY : this.#entries.key(count - 1);
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
    if (timestamp <= this.lastTimestamp || this.#entries.isFull) return;
    const count = this.#entries.count;
    if (count > 0) assert(relative >= this.#entries.value(count - 1), "in order");
    this.#entries.push(timestamp, relative);
  }

  /**
   * An offset from which to scan for the first record with a timestamp >= `timestamp`: the
   * latest entry strictly earlier than it (all records up to that entry are earlier), else the
   * segment's base offset.
   */
  lookup(timestamp: number): number {
    const i = this.#entries.floorByKey(timestamp, true);
    return i < 0 ? this.baseOffset : this.baseOffset + this.#entries.value(i);
  }

  encode(): Buffer {
    return this.#entries.encode();
  }

  /** Loads a .timeindex file's bytes, or says why they cannot be trusted. */
  static decode(
    baseOffset: number,
    entriesMax: number,
    bytes: Buffer,
    nextOffset: number,
  ): TimeIndex | string {
    const index = new TimeIndex(baseOffset, entriesMax);
    let lastRelative = -1;
    const problem = SparseIndex.walk(TIME_ENTRY, entriesMax, bytes, (i, timestamp, relative) => {
      if (!Number.isSafeInteger(timestamp) || timestamp <= index.lastTimestamp) {
        return `entry ${i} timestamp out of order`;
      }
      if (relative < 0 || baseOffset + relative >= nextOffset) return `entry ${i} offset past end`;
      if (relative < lastRelative) return `entry ${i} out of order`;
      index.#entries.push(timestamp, relative);
      lastRelative = relative;
      return null;
    });
    return problem ?? index;
  }
}
