/**
 * Bringing segments back after a restart or a crash.
 *
 * - The active (last) segment is scanned batch by batch: length, magic, CRC and offsets that
 *   follow on from the previous batch. Whatever follows the last good batch (a torn write, a
 *   zero-filled tail, a flipped bit) is truncated away, and its indexes are rebuilt from the scan.
 * - A closed segment is trusted when its index files load and agree with the log: entries in
 *   order and inside the file, and the batches after the last index entry leading exactly to the
 *   end of the file. Its offsets may jump forward between batches: compaction leaves such gaps. Otherwise (or with scope "all") it is scanned like the active one, except
 *   that nothing is truncated: a corrupt batch becomes a corrupt region, reported with its file
 *   and position, and the rest of the log keeps serving.
 *
 * Every repair is returned in a RecoveryReport and logged through the injected logger.
 */
import { assert } from "../../errors.ts";
import type { FileSystem } from "./file-system.ts";
import {
  BATCH_HEADER_BYTES,
  batchBaseOffset,
  batchLastOffsetDelta,
  batchMaxTimestamp,
  checkBatch,
  LOG_OVERHEAD_BYTES,
  OFFSET_BATCH_LENGTH,
} from "./record-batch.ts";
import type { BatchInfo, CorruptRegion, Segment } from "./segment.ts";
import { OffsetIndex, TimeIndex } from "./sparse-index.ts";
import { io } from "./storage-error.ts";

/** The logging the log layer needs; a pino logger fits it. */
export interface StorageLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const silentLogger: StorageLogger = { info() {}, warn() {}, error() {} };

export interface RecoveryReport {
  directory: string;
  segmentCount: number;
  /** Bytes cut from the end of the active segment, and why. */
  truncated: Array<{ file: string; fromBytes: number; toBytes: number; reason: string }>;
  /** Index files rebuilt from their segment, and why they could not be used. */
  indexesRebuilt: Array<{ file: string; reason: string }>;
  /** Corrupt batches in closed segments: not served, not deleted, for an operator to look at. */
  corruptRegions: Array<CorruptRegion & { file: string }>;
  /** Files removed because they belonged to no segment (index files whose .log is gone). */
  strayFilesRemoved: string[];
  /** Compaction swaps a crash interrupted after their commit, finished (compaction-swap.ts). */
  compactionsCompleted: string[];
  /** Compaction outputs a crash interrupted before their commit, removed. */
  compactionsRolledBack: string[];
  /** Segments deleted at open because every offset they hold is below the log start offset. */
  segmentsBelowStartRemoved: string[];
  /** Why the log start offset file was not used (damaged); null when it was, or is absent. */
  logStartOffsetProblem: string | null;
  /** The first offset a read may ask for: the stored start offset, or the first segment's base. */
  logStartOffset: number;
  logEndOffset: number;
}

export type RecoveryScope = "active" | "all";

/** Bytes read at once while scanning; larger batches are read whole on their own. */
const SCAN_CHUNK_BYTES = 1024 * 1024;

type ScanFault =
  | { kind: "torn"; position: number; reason: string }
  | { kind: "corrupt"; position: number; reason: string; sizeBytes: number | null };
type ScanEnd = { kind: "end" } | ScanFault;

/**
 * A window of the file, refilled as the scan moves on. The window's memory is reused from one
 * refill to the next: a fresh megabyte per refill made the garbage collector a seventh of the
 * scan of a 1 GiB segment. Nothing returned by a check keeps a view of it.
 */
class ScanWindow {
  readonly fs: FileSystem;
  readonly segment: Segment;
  readonly fileSizeBytes: number;
  buffer = Buffer.alloc(0);
  start = 0;
  #storage = Buffer.alloc(0);

  constructor(fs: FileSystem, segment: Segment, fileSizeBytes: number) {
    this.fs = fs;
    this.segment = segment;
    this.fileSizeBytes = fileSizeBytes;
  }

  /** Whether the window reaches the end of the file: a batch cut short here is torn. */
  get atEnd(): boolean {
    return this.start + this.buffer.length >= this.fileSizeBytes;
  }

  /** Ensures bytes [position, position + bytes) are buffered, as far as the file has them. */
  async fill(position: number, bytes: number): Promise<void> {
    const want = Math.min(bytes, this.fileSizeBytes - position);
    if (position >= this.start && position + want <= this.start + this.buffer.length) return;
    const length = Math.min(Math.max(want, SCAN_CHUNK_BYTES), this.fileSizeBytes - position);
    if (this.#storage.length < length) this.#storage = Buffer.allocUnsafe(length);
    const storage = this.#storage;
    const read = await io("read", this.segment.logPath, () =>
      this.fs.read(this.segment.handle, storage, 0, length, position),
    );
    this.buffer = storage.subarray(0, read);
    this.start = position;
  }
}

/**
 * Checks the batch at `position` from the buffered bytes alone, or returns null when they do
 * not hold enough of it to tell. Synchronous, so the scan of a long run of batches in one
 * window does not pay a promise per batch. Offsets must follow on: exactly `expected` (or at
 * least it after a gap).
 */
function checkBuffered(
  window: ScanWindow,
  position: number,
  expected: number,
  gapAllowed: boolean,
  batchBytesMax: number,
): BatchInfo | ScanFault | null {
  const at = position - window.start;
  if (at < 0 || at > window.buffer.length) return null;
  const check = checkBatch(window.buffer, at, window.buffer.length, batchBytesMax);
  if (check.kind === "truncated") {
    const fitsFile = check.sizeBytes < 0 || position + check.sizeBytes <= window.fileSizeBytes;
    if (fitsFile && !window.atEnd) return null;
    return { kind: "torn", position, reason: "batch cut short" };
  }
  if (check.kind === "corrupt") {
    const claimed = claimedSize(window, at, position, batchBytesMax);
    return { kind: "corrupt", position, reason: check.reason, sizeBytes: claimed };
  }
  const baseOffset = batchBaseOffset(window.buffer, at);
  if (gapAllowed ? baseOffset < expected : baseOffset !== expected) {
    const reason = `batch starts at offset ${baseOffset}, expected ${expected}`;
    return { kind: "corrupt", position, reason, sizeBytes: check.sizeBytes };
  }
  return {
    position,
    sizeBytes: check.sizeBytes,
    baseOffset,
    lastOffset: baseOffset + batchLastOffsetDelta(window.buffer, at),
    maxTimestamp: batchMaxTimestamp(window.buffer, at),
  };
}

/** checkBuffered, reading the file first when the window does not hold the batch. */
async function checkAt(
  window: ScanWindow,
  position: number,
  expected: number,
  gapAllowed: boolean,
  batchBytesMax: number,
): Promise<BatchInfo | ScanFault> {
  const buffered = checkBuffered(window, position, expected, gapAllowed, batchBytesMax);
  if (buffered !== null) return buffered;
  await window.fill(position, BATCH_HEADER_BYTES);
  const headed = checkBuffered(window, position, expected, gapAllowed, batchBytesMax);
  if (headed !== null) return headed;
  // The header is buffered (else the window would reach the end of the file): read the batch
  // whole, however long it claims to be; checkBuffered bounded that claim by the file's size.
  const at = position - window.start;
  await window.fill(
    position,
    LOG_OVERHEAD_BYTES + window.buffer.readInt32BE(at + OFFSET_BATCH_LENGTH),
  );
  const whole = checkBuffered(window, position, expected, gapAllowed, batchBytesMax);
  return whole ?? { kind: "torn", position, reason: "batch cut short" };
}

/** The size a corrupt batch's length field claims, if it is plausible; else null. */
function claimedSize(window: ScanWindow, at: number, position: number, max: number) {
  if (window.buffer.length - at < LOG_OVERHEAD_BYTES) return null;
  const size = LOG_OVERHEAD_BYTES + window.buffer.readInt32BE(at + OFFSET_BATCH_LENGTH);
  const fits = size >= BATCH_HEADER_BYTES && size <= max;
  return fits && position + size <= window.fileSizeBytes ? size : null;
}

/**
 * Rebuilds the segment's bookkeeping from its file. Stops at the first bad batch unless
 * `closed`, which steps over a corrupt batch whose length is plausible when the batch after it
 * is good (recording the region), for closed segments whose later data is still fine. Closed
 * segments may also have offset gaps between batches (compaction); the active one never has.
 */
export async function scanSegment(
  fs: FileSystem,
  segment: Segment,
  fileSizeBytes: number,
  batchBytesMax: number,
  closed: boolean,
): Promise<ScanEnd> {
  segment.resetBookkeeping();
  const window = new ScanWindow(fs, segment, fileSizeBytes);
  const skipCorrupt = closed;
  let position = 0;
  let gapAllowed = false;
  // Each pass books a batch or ends the scan, and every batch has at least a header's bytes.
  while (position < fileSizeBytes) {
    const expected = segment.nextOffset;
    const result =
      checkBuffered(window, position, expected, gapAllowed, batchBytesMax) ??
      (await checkAt(window, position, expected, gapAllowed, batchBytesMax));
    if (!("kind" in result)) {
      segment.recordBatch(result, gapAllowed);
      position += result.sizeBytes;
      gapAllowed = closed;
      continue;
    }
    if (result.kind !== "corrupt" || !skipCorrupt || result.sizeBytes === null) return result;
    const after = position + result.sizeBytes;
    if (after < fileSizeBytes) {
      const next = await checkAt(window, after, segment.nextOffset, true, batchBytesMax);
      if ("kind" in next) return result;
      const lastOffset = next.baseOffset - 1;
      const region = regionOf(result, segment.nextOffset, lastOffset, after);
      segment.addCorruptRegion(region);
      position = after;
      gapAllowed = true;
      continue;
    }
    return result;
  }
  assert(position === fileSizeBytes, "scan ends at the end of the file");
  return { kind: "end" };
}

function regionOf(
  end: { position: number; reason: string },
  firstOffset: number,
  lastOffset: number,
  endPosition: number | null,
): CorruptRegion {
  return { position: end.position, endPosition, firstOffset, lastOffset, reason: end.reason };
}

/**
 * Recovers the active segment: scan, then truncate anything after the last good batch.
 * Returns the repair made, if any.
 */
export async function recoverActiveSegment(
  fs: FileSystem,
  segment: Segment,
  fileSizeBytes: number,
  batchBytesMax: number,
): Promise<{ fromBytes: number; toBytes: number; reason: string } | null> {
  const end = await scanSegment(fs, segment, fileSizeBytes, batchBytesMax, false);
  if (end.kind === "end") return null;
  assert(end.position === segment.sizeBytes, "the scan stopped after the last good batch");
  await segment.truncateToCommitted();
  await segment.sync();
  return { fromBytes: fileSizeBytes, toBytes: segment.sizeBytes, reason: end.reason };
}

/**
 * Recovers a closed segment. `nextBase` is the base offset of the segment after it. Returns why
 * its indexes were rebuilt (null when they loaded) and any corrupt regions found.
 */
export async function recoverClosedSegment(
  fs: FileSystem,
  segment: Segment,
  fileSizeBytes: number,
  nextBase: number,
  batchBytesMax: number,
  scope: RecoveryScope,
): Promise<{ rebuiltBecause: string | null }> {
  if (scope === "active") {
    const loaded = await loadClosedIndexes(fs, segment, fileSizeBytes, batchBytesMax);
    if (typeof loaded !== "string") {
      segment.restoreClosed(loaded);
      return { rebuiltBecause: null };
    }
    const rebuiltBecause = loaded;
    await rebuildClosed(fs, segment, fileSizeBytes, nextBase, batchBytesMax);
    return { rebuiltBecause };
  }
  await rebuildClosed(fs, segment, fileSizeBytes, nextBase, batchBytesMax);
  return { rebuiltBecause: "full scan requested" };
}

async function rebuildClosed(
  fs: FileSystem,
  segment: Segment,
  fileSizeBytes: number,
  nextBase: number,
  batchBytesMax: number,
): Promise<void> {
  const end = await scanSegment(fs, segment, fileSizeBytes, batchBytesMax, true);
  if (end.kind !== "end") {
    const region = regionOf(end, segment.nextOffset, nextBase - 1, null);
    segment.markCorruptTail(region, fileSizeBytes, Math.max(nextBase, segment.nextOffset));
  }
  await segment.persistIndexes();
  segment.closed = true;
}

type ClosedState = Parameters<Segment["restoreClosed"]>[0];

async function readWhole(fs: FileSystem, path: string): Promise<Buffer | string> {
  let handle: Awaited<ReturnType<FileSystem["open"]>>;
  try {
    handle = await fs.open(path, "read");
  } catch {
    return "missing";
  }
  try {
    const size = await io("stat", path, () => fs.size(handle));
    const bytes = Buffer.alloc(size);
    const read = await io("read", path, () => fs.read(handle, bytes, 0, size, 0));
    return read === size ? bytes : "short read";
  } finally {
    await fs.close(handle).catch(() => {});
  }
}

/**
 * Loads a closed segment's index files and checks them against the log by walking the batches
 * after the last offset index entry to the end of the file. A string says why they failed.
 */
async function loadClosedIndexes(
  fs: FileSystem,
  segment: Segment,
  fileSizeBytes: number,
  batchBytesMax: number,
): Promise<ClosedState | string> {
  const indexBytes = await readWhole(fs, segment.indexPath);
  if (typeof indexBytes === "string") return `${segment.indexPath}: ${indexBytes}`;
  const timeBytes = await readWhole(fs, segment.timeIndexPath);
  if (typeof timeBytes === "string") return `${segment.timeIndexPath}: ${timeBytes}`;
  const entriesMax = segment.indexEntriesMax;
  const base = segment.baseOffset;
  const offsetIndex = OffsetIndex.decode(base, entriesMax, indexBytes, fileSizeBytes);
  if (typeof offsetIndex === "string") return `${segment.indexPath}: ${offsetIndex}`;
  const last = offsetIndex.count > 0 ? offsetIndex.entry(offsetIndex.count - 1) : null;
  const tail = await walkTail(fs, segment, fileSizeBytes, last, batchBytesMax);
  if (typeof tail === "string") return `${segment.indexPath}: ${tail}`;
  const timeIndex = TimeIndex.decode(base, entriesMax, timeBytes, tail.nextOffset);
  if (typeof timeIndex === "string") return `${segment.timeIndexPath}: ${timeIndex}`;
  return {
    sizeBytes: fileSizeBytes,
    nextOffset: tail.nextOffset,
    maxTimestamp: Math.max(tail.maxTimestamp, timeIndex.count > 0 ? timeIndex.lastTimestamp : -1),
    firstBatchTimestamp: tail.firstBatchTimestamp,
    offsetIndex,
    timeIndex,
  };
}

/** Walks batch headers from the last index entry to the end of the file, checking each. */
async function walkTail(
  fs: FileSystem,
  segment: Segment,
  fileSizeBytes: number,
  last: { offset: number; position: number } | null,
  batchBytesMax: number,
): Promise<{ nextOffset: number; maxTimestamp: number; firstBatchTimestamp: number } | string> {
  if (fileSizeBytes === 0) return "empty closed segment";
  const window = new ScanWindow(fs, segment, fileSizeBytes);
  const first = await checkAt(window, 0, segment.baseOffset, false, batchBytesMax);
  if ("kind" in first) return `first batch: ${first.reason}`;
  let position = last?.position ?? 0;
  let expected = last?.offset ?? segment.baseOffset;
  let maxTimestamp = -1;
  while (position < fileSizeBytes) {
    // The batch an index entry names starts at exactly its offset; later ones may skip some.
    const gapAllowed = position !== (last?.position ?? 0);
    const batch = await checkAt(window, position, expected, gapAllowed, batchBytesMax);
    if ("kind" in batch) return `batch at byte ${position}: ${batch.reason}`;
    maxTimestamp = Math.max(maxTimestamp, batch.maxTimestamp);
    expected = batch.lastOffset + 1;
    position += batch.sizeBytes;
  }
  return { nextOffset: expected, maxTimestamp, firstBatchTimestamp: first.maxTimestamp };
}
