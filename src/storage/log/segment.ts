/**
 * One segment of a partition log: `<baseOffset>.log` holding record batches back to back, with
 * its sparse `.index` and `.timeindex` (sparse-index.ts). The bookkeeping (sizes, offsets,
 * indexes) is synchronous and pure; file access goes through the injected FileSystem.
 *
 * Only bytes the log has committed (sizeBytes) are ever read, so a batch still being written or
 * fsynced is invisible, and a failed write is rolled back by truncating to sizeBytes.
 */
import { join } from "node:path";
import { assert } from "../../errors.ts";
import type { FileHandle, FileSystem } from "./file-system.ts";
import {
  BATCH_HEADER_BYTES,
  batchBaseOffset,
  batchLastOffsetDelta,
  batchMaxTimestamp,
  Compression,
  LOG_OVERHEAD_BYTES,
  MAGIC_V2,
  OFFSET_ATTRIBUTES,
  OFFSET_BATCH_LENGTH,
  OFFSET_MAGIC,
  OFFSET_RECORDS_COUNT,
} from "./record-batch.ts";
import { readRecords } from "./records.ts";
import { OffsetIndex, TimeIndex } from "./sparse-index.ts";
import { corruptError, io } from "./storage-error.ts";

export const LOG_SUFFIX = ".log";
export const INDEX_SUFFIX = ".index";
export const TIME_INDEX_SUFFIX = ".timeindex";
const OFFSET_DIGITS = 20;
/** Batches a slice may be extended by after the index jump, bounding one read's header scan. */
const SLICE_SCAN_BATCHES_MAX = 10_000;

export function segmentFileName(baseOffset: number, suffix: string): string {
  assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, `base offset ${baseOffset}`);
  return String(baseOffset).padStart(OFFSET_DIGITS, "0") + suffix;
}

/** The base offset named by a `.log` file name, or null for any other file. */
export function parseSegmentFileName(name: string): number | null {
  const match = /^(\d{20})\.log$/.exec(name);
  if (match === null) return null;
  const baseOffset = Number(match[1]);
  return Number.isSafeInteger(baseOffset) ? baseOffset : null;
}

export interface SegmentSettings {
  directory: string;
  indexIntervalBytes: number;
  batchBytesMax: number;
  /** Largest the segment may grow to; sizes the indexes. */
  segmentBytesMax: number;
}

/** Where one stored batch is and what it holds. */
export interface BatchInfo {
  position: number;
  sizeBytes: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
  /** Known when read from a header (readBatchInfo); compaction may leave batches with none. */
  recordsCount?: number;
}

/** Bytes found corrupt by recovery; endPosition is null when the batch length itself is bad. */
export interface CorruptRegion {
  position: number;
  endPosition: number | null;
  /** Offsets the region may have held: from the one after the last good batch ... */
  firstOffset: number;
  /** ... to the one before the next good batch (or the segment's end). */
  lastOffset: number;
  reason: string;
}

/** A byte range of whole batches in one segment file, ready to send as is. */
export interface SegmentSlice {
  position: number;
  sizeBytes: number;
  /** baseOffset of the first batch; at or before the offset asked for. */
  firstOffset: number;
  /** Where the batch after the slice starts, when the slice's walk learnt it; else null. */
  nextOffset: number | null;
  /** Set when no batch of the slice holds a record (compaction emptied them): where to go on. */
  recordlessUntil?: number;
}

export class Segment {
  readonly baseOffset: number;
  readonly logPath: string;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  readonly handle: FileHandle;
  readonly #fs: FileSystem;
  readonly #settings: SegmentSettings;
  /** Bytes of committed batches; the file may be longer only while a write is in flight. */
  sizeBytes = 0;
  /** Offset after the last batch. */
  nextOffset: number;
  /** Largest maxTimestamp of any batch; -1 while empty. */
  maxTimestamp = -1;
  /** maxTimestamp of the first batch: when a roll by age is due counts from it (as Kafka). */
  firstBatchTimestamp: number | null = null;
  /** Wall clock when this process created or opened the segment; ages batches without times. */
  createdMs = 0;
  /** Set once the segment is no longer active and its index files are written. */
  closed = false;
  offsetIndex: OffsetIndex;
  timeIndex: TimeIndex;
  corruptRegions: CorruptRegion[] = [];
  #bytesSinceIndexEntry = 0;
  #lastBatchBaseOffset = -1;

  /** The largest this segment may be: the setting, or more for a file written under a larger. */
  readonly #sizeBytesMax: number;

  constructor(
    fs: FileSystem,
    settings: SegmentSettings,
    baseOffset: number,
    handle: FileHandle,
    fileSizeBytes = 0,
  ) {
    this.#fs = fs;
    this.#settings = settings;
    this.#sizeBytesMax = Math.max(settings.segmentBytesMax, fileSizeBytes);
    this.baseOffset = baseOffset;
    this.nextOffset = baseOffset;
    this.handle = handle;
    this.logPath = join(settings.directory, segmentFileName(baseOffset, LOG_SUFFIX));
    this.indexPath = join(settings.directory, segmentFileName(baseOffset, INDEX_SUFFIX));
    this.timeIndexPath = join(settings.directory, segmentFileName(baseOffset, TIME_INDEX_SUFFIX));
    assert(handle.path === this.logPath, "handle is this segment's log file");
    [this.offsetIndex, this.timeIndex] = this.#emptyIndexes();
  }

  static async create(fs: FileSystem, settings: SegmentSettings, base: number): Promise<Segment> {
    const path = join(settings.directory, segmentFileName(base, LOG_SUFFIX));
    const handle = await io("create", path, () => fs.open(path, "create"));
    return new Segment(fs, settings, base, handle);
  }

  /** Opens an existing segment file; its bookkeeping is empty until recovery fills it in. */
  static async open(
    fs: FileSystem,
    settings: SegmentSettings,
    base: number,
  ): Promise<{ segment: Segment; fileSizeBytes: number }> {
    const path = join(settings.directory, segmentFileName(base, LOG_SUFFIX));
    const handle = await io("open", path, () => fs.open(path, "readwrite"));
    try {
      const fileSizeBytes = await io("stat", path, () => fs.size(handle));
      return { segment: new Segment(fs, settings, base, handle, fileSizeBytes), fileSizeBytes };
    } catch (error) {
      await fs.close(handle).catch(() => {});
      throw error;
    }
  }

  get isEmpty(): boolean {
    return this.sizeBytes === 0;
  }

  /** Index entries the segment can need at its largest, plus room for a final time entry. */
  get #indexEntriesMax(): number {
    return Math.floor(this.#sizeBytesMax / this.#settings.indexIntervalBytes) + 2;
  }

  #emptyIndexes(): [OffsetIndex, TimeIndex] {
    const entriesMax = this.#indexEntriesMax;
    return [
      new OffsetIndex(this.baseOffset, entriesMax),
      new TimeIndex(this.baseOffset, entriesMax),
    ];
  }

  /** Forgets every batch (recovery rebuilds from the file, or a truncation empties it). */
  resetBookkeeping(): void {
    this.sizeBytes = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestamp = -1;
    this.firstBatchTimestamp = null;
    this.corruptRegions = [];
    this.#bytesSinceIndexEntry = 0;
    this.#lastBatchBaseOffset = -1;
    [this.offsetIndex, this.timeIndex] = this.#emptyIndexes();
  }

  /**
   * Books a batch stored at the end of the segment: sizes, offsets and, every
   * index_interval_bytes, an index entry for it. `gapAllowed` accepts offsets past nextOffset
   * (a batch after a corrupt region found by recovery); appends never leave gaps.
   */
  recordBatch(batch: BatchInfo, gapAllowed = false): void {
    assert(batch.position >= this.sizeBytes, "batches are booked in file order");
    assert(gapAllowed || batch.position === this.sizeBytes, "no hole before an appended batch");
    assert(gapAllowed ? batch.baseOffset >= this.nextOffset : batch.baseOffset === this.nextOffset);
    assert(batch.lastOffset >= batch.baseOffset, "lastOffset >= baseOffset");
    const indexDue = this.#bytesSinceIndexEntry >= this.#settings.indexIntervalBytes;
    // A full index only makes lookups scan further; appends roll before it fills (indexFull).
    if (indexDue && !this.isEmpty && !this.offsetIndex.isFull) {
      this.offsetIndex.append(batch.baseOffset, batch.position);
      // Every record before this batch is no later than the largest timestamp so far.
      if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, batch.baseOffset);
      this.#bytesSinceIndexEntry = 0;
    }
    this.#bytesSinceIndexEntry += batch.sizeBytes;
    this.sizeBytes = batch.position + batch.sizeBytes;
    this.nextOffset = batch.lastOffset + 1;
    if (this.firstBatchTimestamp === null) this.firstBatchTimestamp = batch.maxTimestamp;
    if (batch.maxTimestamp > this.maxTimestamp) this.maxTimestamp = batch.maxTimestamp;
    this.#lastBatchBaseOffset = batch.baseOffset;
  }

  /**
   * Takes the state of a closed segment loaded from its index files (recovery.ts checks them
   * against the log first), instead of rebuilding it batch by batch.
   */
  restoreClosed(state: {
    sizeBytes: number;
    nextOffset: number;
    maxTimestamp: number;
    firstBatchTimestamp: number | null;
    offsetIndex: OffsetIndex;
    timeIndex: TimeIndex;
  }): void {
    assert(this.isEmpty && this.nextOffset === this.baseOffset, "restored into a fresh segment");
    assert(state.nextOffset >= this.baseOffset && state.sizeBytes >= 0, "a sane state");
    assert(state.offsetIndex.baseOffset === this.baseOffset, "the index is this segment's");
    this.sizeBytes = state.sizeBytes;
    this.nextOffset = state.nextOffset;
    this.maxTimestamp = state.maxTimestamp;
    this.firstBatchTimestamp = state.firstBatchTimestamp;
    this.offsetIndex = state.offsetIndex;
    this.timeIndex = state.timeIndex;
    this.closed = true;
  }

  get indexEntriesMax(): number {
    return this.#indexEntriesMax;
  }

  /** Books a corrupt region of known length found by recovery in the middle of the segment. */
  addCorruptRegion(region: CorruptRegion): void {
    assert(region.endPosition !== null && region.position === this.sizeBytes, "next in file");
    assert(region.endPosition > region.position, "a region has bytes");
    this.corruptRegions.push(region);
  }

  /**
   * Marks everything from a corrupt region of unknown length to the end of the file as
   * unreadable: the segment keeps its file size (so readers meet the region and are told) and
   * ends at `nextOffset`, where the next segment starts.
   */
  markCorruptTail(region: CorruptRegion, fileSizeBytes: number, nextOffset: number): void {
    assert(region.endPosition === null && region.position >= this.sizeBytes, "a tail region");
    assert(nextOffset >= this.nextOffset, "the tail does not go back");
    this.corruptRegions.push({ ...region, lastOffset: nextOffset - 1 });
    this.sizeBytes = fileSizeBytes;
    this.nextOffset = nextOffset;
  }

  /** Whether the indexes can take another entry (a full index forces a roll, as in Kafka). */
  get indexFull(): boolean {
    return this.offsetIndex.isFull;
  }

  /** Writes buffers at the committed end; bookkeeping waits until the caller commits them. */
  async write(buffers: readonly Buffer[]): Promise<void> {
    assert(!this.closed, "only the active segment is written");
    await io("write", this.logPath, () => this.#fs.writev(this.handle, buffers, this.sizeBytes));
  }

  /** Whether writeDurable is available (else write, then sync). */
  get writesDurably(): boolean {
    return this.#fs.writevDurable !== undefined;
  }

  /** write and sync of those bytes in one file-system operation. */
  async writeDurable(buffers: readonly Buffer[]): Promise<void> {
    assert(!this.closed, "only the active segment is written");
    const writevDurable = this.#fs.writevDurable?.bind(this.#fs);
    assert(writevDurable !== undefined, "a file system with durable writes");
    await io("write", this.logPath, () => writevDurable(this.handle, buffers, this.sizeBytes));
  }

  async sync(): Promise<void> {
    await io("fsync", this.logPath, () => this.#fs.fsync(this.handle));
  }

  /** Cuts the file back to the committed size, dropping any bytes of a failed write. */
  async truncateToCommitted(): Promise<void> {
    await io("truncate", this.logPath, () => this.#fs.truncate(this.handle, this.sizeBytes));
  }

  async fileSize(): Promise<number> {
    return io("stat", this.logPath, () => this.#fs.size(this.handle));
  }

  /** The log file's OS descriptor, or -1 (closed, or a file system without descriptors). */
  descriptor(): number {
    return this.#fs.descriptor?.(this.handle) ?? -1;
  }

  async readBytes(position: number, length: number, into?: Buffer): Promise<Buffer> {
    assert(position >= 0 && length >= 0, "a range");
    assert(into === undefined || into.length >= length, "room for the range");
    const buffer = into === undefined ? Buffer.allocUnsafe(length) : into.subarray(0, length);
    const read = await io("read", this.logPath, () =>
      this.#fs.read(this.handle, buffer, 0, length, position),
    );
    if (read < length) {
      throw corruptError(this.logPath, position + read, `file ends ${length - read} bytes early`);
    }
    return buffer;
  }

  /** Reads and sanity-checks the header of the committed batch at `position`. */
  async readBatchInfo(position: number): Promise<BatchInfo> {
    assert(position >= 0 && position < this.sizeBytes, `position ${position} inside segment`);
    const available = Math.min(BATCH_HEADER_BYTES, this.sizeBytes - position);
    if (available < BATCH_HEADER_BYTES) {
      throw corruptError(this.logPath, position, "batch header cut by the end of the segment");
    }
    const header = await this.readBytes(position, BATCH_HEADER_BYTES);
    const sizeBytes = LOG_OVERHEAD_BYTES + header.readInt32BE(OFFSET_BATCH_LENGTH);
    if (header.readInt8(OFFSET_MAGIC) !== MAGIC_V2) {
      throw corruptError(this.logPath, position, `magic ${header.readInt8(OFFSET_MAGIC)}`);
    }
    if (sizeBytes < BATCH_HEADER_BYTES || position + sizeBytes > this.sizeBytes) {
      throw corruptError(this.logPath, position, `batch length ${sizeBytes} out of bounds`);
    }
    const baseOffset = batchBaseOffset(header);
    return {
      position,
      sizeBytes,
      baseOffset,
      lastOffset: baseOffset + batchLastOffsetDelta(header),
      maxTimestamp: batchMaxTimestamp(header),
      recordsCount: header.readInt32BE(OFFSET_RECORDS_COUNT),
    };
  }

  #regionAt(position: number): CorruptRegion | undefined {
    return this.corruptRegions.find((region) => region.position === position);
  }

  /** Start of the first corrupt region after `position`, else the committed end. */
  #readableEnd(position: number): number {
    let end = this.sizeBytes;
    for (const region of this.corruptRegions) {
      if (region.position > position && region.position < end) end = region.position;
    }
    return end;
  }

  /**
   * Finds the committed batch holding `offset`, scanning forward from the index entry before
   * it. Null when the offset is past the segment. A corrupt region in the way that could hold
   * the offset is reported as STORAGE_CORRUPT with its file and position.
   */
  async findBatch(offset: number, fromPosition?: number): Promise<BatchInfo | null> {
    if (offset >= this.nextOffset) return null;
    let position = fromPosition ?? this.offsetIndex.lookup(offset).position;
    while (position < this.sizeBytes) {
      const region = this.#regionAt(position);
      if (region !== undefined) {
        if (offset <= region.lastOffset || region.endPosition === null) {
          throw corruptError(this.logPath, position, `offsets up to ${region.lastOffset} lost`);
        }
        position = region.endPosition;
        continue;
      }
      const batch = await this.readBatchInfo(position);
      if (batch.lastOffset >= offset) return batch;
      position += batch.sizeBytes;
    }
    return null;
  }

  /**
   * The byte range of whole batches starting with the one holding `offset`, at most `maxBytes`
   * long unless that first batch alone is larger (a reader must always make progress, as in
   * Kafka's fetch). Null when the offset is past this segment.
   */
  async read(offset: number, maxBytes: number): Promise<SegmentSlice | null> {
    assert(maxBytes > 0, "maxBytes > 0");
    const first = await this.findBatch(Math.max(offset, this.baseOffset));
    if (first === null) return null;
    const readableEnd = this.#readableEnd(first.position);
    const limit = Math.min(first.position + maxBytes, readableEnd);
    let end = first.position + first.sizeBytes;
    // The offset after the slice: known from the last header read or index entry on the way.
    let nextOffset: number | null = first.lastOffset + 1;
    if (limit >= readableEnd) {
      if (readableEnd > end) nextOffset = readableEnd === this.sizeBytes ? this.nextOffset : null;
      end = Math.max(end, readableEnd);
    } else if (limit > end) {
      // Jump by the index to the last indexed batch boundary within the limit, then walk.
      const jump = this.offsetIndex.floorByPosition(limit);
      if (jump !== null && jump.position > end) {
        end = jump.position;
        nextOffset = jump.offset; // the base offset of the batch there
      }
      for (let i = 0; i < SLICE_SCAN_BATCHES_MAX && end < limit; i++) {
        const next = await this.readBatchInfo(end);
        if (end + next.sizeBytes > limit) {
          nextOffset = next.baseOffset;
          break;
        }
        end += next.sizeBytes;
        nextOffset = next.lastOffset + 1;
      }
    }
    assert(end > first.position && end <= this.sizeBytes, "slice inside the segment");
    const slice = {
      position: first.position,
      sizeBytes: end - first.position,
      firstOffset: first.baseOffset,
      nextOffset,
    };
    if (first.recordsCount !== 0) return slice;
    const recordlessUntil = await this.#recordlessUntil(first, end);
    return recordlessUntil === null ? slice : { ...slice, recordlessUntil };
  }

  /**
   * When every batch from `first` to `end` is empty, the offset after them; else null. Some
   * clients (kafkajs) never move past a fetch answer without a record, so the log skips them.
   */
  async #recordlessUntil(first: BatchInfo, end: number): Promise<number | null> {
    let batch = first;
    for (;;) {
      if (batch.recordsCount !== 0) return null;
      const next = batch.position + batch.sizeBytes;
      if (next >= end) return batch.lastOffset + 1;
      batch = await this.readBatchInfo(next);
    }
  }

  /**
   * The first offset whose record timestamp is >= `timestamp`, or null if no record here is
   * that late. Inside a compressed batch the answer is the batch's base offset, since records
   * are not decompressed here; a Kafka consumer skips the earlier records of the batch itself.
   */
  async offsetForTimestamp(timestamp: number, fromOffset = 0): Promise<number | null> {
    if (this.isEmpty || this.maxTimestamp < timestamp) return null;
    const start = this.offsetIndex.lookup(this.timeIndex.lookup(timestamp));
    let position = start.position;
    while (position < this.sizeBytes) {
      const region = this.#regionAt(position);
      if (region !== undefined) {
        // Past a region of unknown length nothing more can be found in this segment.
        if (region.endPosition === null) return null;
        position = region.endPosition;
        continue;
      }
      const batch = await this.readBatchInfo(position);
      if (batch.maxTimestamp >= timestamp && batch.lastOffset >= fromOffset) {
        const found = await this.#firstRecordAtOrAfter(batch, timestamp, fromOffset);
        if (found !== null) return found;
      }
      position += batch.sizeBytes;
    }
    return null;
  }

  /**
   * The first record of `batch` at or after both `timestamp` and `fromOffset`. A compressed
   * batch is not opened: its first offset from `fromOffset` on stands for it.
   */
  async #firstRecordAtOrAfter(
    batch: BatchInfo,
    timestamp: number,
    fromOffset: number,
  ): Promise<number | null> {
    const bytes = await this.readBytes(batch.position, batch.sizeBytes);
    if ((bytes.readInt16BE(OFFSET_ATTRIBUTES) & 0x07) !== Compression.none) {
      return Math.max(batch.baseOffset, fromOffset);
    }
    const decoded = readRecords(bytes);
    if (decoded.kind !== "ok") throw corruptError(this.logPath, batch.position, "bad records");
    const record = decoded.records.find(
      (one) => one.timestamp >= timestamp && one.offset >= fromOffset,
    );
    return record === undefined ? null : record.offset;
  }

  /**
   * Adds the final time index entry (so the segment's largest timestamp survives a restart),
   * then writes both index files and fsyncs them. The log sets `closed` once the next segment
   * exists, so a failed roll leaves this segment active and writable.
   */
  async persistIndexes(): Promise<void> {
    if (!this.isEmpty && this.#lastBatchBaseOffset >= 0) {
      this.timeIndex.maybeAppend(this.maxTimestamp, this.#lastBatchBaseOffset);
    }
    await this.#writeFile(this.indexPath, this.offsetIndex.encode());
    await this.#writeFile(this.timeIndexPath, this.timeIndex.encode());
  }

  async #writeFile(path: string, bytes: Buffer): Promise<void> {
    const handle = await io("create", path, () => this.#fs.open(path, "create"));
    try {
      await io("write", path, () => this.#fs.write(handle, bytes, 0));
      await io("fsync", path, () => this.#fs.fsync(handle));
    } finally {
      await io("close", path, () => this.#fs.close(handle));
    }
  }

  async close(): Promise<void> {
    await io("close", this.logPath, () => this.#fs.close(this.handle));
  }

  /** Removes the segment's three files; the open handle stays usable until close(). */
  async unlinkFiles(): Promise<void> {
    for (const path of [this.logPath, this.indexPath, this.timeIndexPath]) {
      await io("delete", path, () => this.#fs.unlink(path));
    }
  }
}
