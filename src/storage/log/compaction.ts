/**
 * One compaction pass over a partition log (cleanup_policy "compact" or "compact,delete"):
 *
 * - The cleanable segments are the closed ones from the start of the log, up to the first whose
 *   newest record is younger than min_compaction_lag_ms or that holds a corrupt region. The
 *   active segment is never cleaned.
 * - The pass runs when the bytes not cleaned yet are at least min_cleanable_dirty_ratio of the
 *   cleanable bytes, or when a kept tombstone's delete horizon has passed.
 * - A first read of the cleanable segments maps each key to its latest offset; a second rewrites
 *   them, in groups merged up to segment_bytes, batch by batch as compaction-plan.ts decides;
 *   each changed group is swapped in as compaction-swap.ts describes.
 *
 * Batches are read in chunks and written as they are planned, so memory is the key map plus a
 * chunk, not a segment.
 */
import { join } from "node:path";
import { assert } from "../../errors.ts";
import {
  type BatchPlan,
  cleaningDue,
  groupSegments,
  KeyMapBuilder,
  keptHorizon,
  type PlanBatch,
  type PlanContext,
  planBatch,
} from "./compaction-plan.ts";
import { CLEANED_SUFFIX, swapIn } from "./compaction-swap.ts";
import { anyBatchRecords } from "./compression.ts";
import type { FileHandle, FileSystem } from "./file-system.ts";
import type { LogOptions } from "./options.ts";
import {
  BATCH_HEADER_BYTES,
  type BatchHeader,
  batchSizeBytes,
  checkBatch,
  readBatchHeader,
} from "./record-batch.ts";
import { buildRecordBatchAs, type LogRecord } from "./records.ts";
import type { StorageLogger } from "./recovery.ts";
import { type BatchInfo, type Segment, type SegmentSettings, segmentFileName } from "./segment.ts";
import { corruptError, io } from "./storage-error.ts";

const CHUNK_BYTES = 1024 * 1024;
const WRITE_BYTES = 1024 * 1024;

export interface CompactionResult {
  /** Whether a pass ran (false: nothing cleanable, or not dirty enough). */
  ran: boolean;
  /** Segments replaced by cleaned ones, and how many cleaned ones replaced them. */
  segmentsCleaned: number;
  segmentsWritten: number;
  bytesBefore: number;
  bytesAfter: number;
  recordsRemoved: number;
}

/** What the log remembers between passes (in memory: a restart finds the whole log dirty). */
export interface CompactionState {
  /** Offsets below this were cleaned by the last pass; -1 before the first. */
  cleanedUpTo: number;
  /** Earliest delete horizon of a tombstone the last pass kept. */
  nextHorizonMs: number | null;
}

export interface CompactionShell {
  /** The log's live list: cleaned groups are swapped into it. */
  segments: Segment[];
  fs: FileSystem;
  settings: SegmentSettings;
  logger: StorageLogger;
  closeLater: (segment: Segment) => void;
}

/** How many segments from the start may be cleaned now. */
export function cleanableCount(
  segments: readonly Pick<Segment, "maxTimestamp" | "corruptRegions">[],
  lagMs: number,
  nowMs: number,
): number {
  let count = 0;
  while (count < segments.length - 1) {
    const segment = segments[count];
    if (segment.corruptRegions.length > 0) break;
    if (lagMs > 0 && segment.maxTimestamp >= 0 && nowMs - segment.maxTimestamp < lagMs) break;
    count++;
  }
  return count;
}

interface ReadBatch {
  bytes: Buffer;
  header: BatchHeader;
  records: LogRecord[];
  plan: PlanBatch;
}

/** Visits every batch of a closed segment in order, CRC-checked and decoded. */
async function forEachBatch(
  segment: Segment,
  visit: (batch: ReadBatch) => Promise<void> | void,
): Promise<void> {
  let chunk: Buffer = Buffer.alloc(0);
  let chunkStart = 0;
  let position = 0;
  while (position < segment.sizeBytes) {
    let at = position - chunkStart;
    if (at + BATCH_HEADER_BYTES > chunk.length) {
      chunk = await segment.readBytes(
        position,
        Math.min(CHUNK_BYTES, segment.sizeBytes - position),
      );
      chunkStart = position;
      at = 0;
    }
    if (chunk.length < BATCH_HEADER_BYTES) throw corruptError(segment.logPath, position, "cut");
    const size = batchSizeBytes(chunk, at);
    if (size < BATCH_HEADER_BYTES || position + size > segment.sizeBytes) {
      throw corruptError(segment.logPath, position, `batch length ${size} out of bounds`);
    }
    if (at + size > chunk.length) {
      chunk = await segment.readBytes(position, size);
      chunkStart = position;
      at = 0;
    }
    const check = checkBatch(chunk, at, at + size, size);
    if (check.kind !== "ok") throw corruptError(segment.logPath, position, "bad batch");
    const bytes = chunk.subarray(at, at + size);
    const boundary = position === 0 || position + size === segment.sizeBytes;
    await visit(decodeBatch(segment, position, bytes, boundary));
    position += size;
  }
}

function decodeBatch(segment: Segment, position: number, bytes: Buffer, boundary: boolean) {
  const header = readBatchHeader(bytes);
  const decoded = header.isControl ? { kind: "ok" as const, records: [] } : anyBatchRecords(bytes);
  if (decoded.kind !== "ok") {
    const reason = decoded.kind === "corrupt" ? decoded.reason : "undecodable records";
    throw corruptError(segment.logPath, position, reason);
  }
  const plan: PlanBatch = {
    baseOffset: header.baseOffset,
    compressed: header.compression !== 0,
    control: header.isControl,
    producerId: header.producerId,
    deleteHorizonMs: header.hasDeleteHorizon ? header.baseTimestamp : null,
    boundary,
    records: decoded.records.map((record) => ({
      offset: record.offset,
      key: record.key === null ? null : record.key.toString("latin1"),
      tombstone: record.value === null,
    })),
  };
  return { bytes, header, records: decoded.records, plan };
}

/** The batch re-encoded with the records the plan keeps; offsets and sequence stay as they were. */
function rewrite(batch: ReadBatch, plan: Extract<BatchPlan, { kind: "rewrite" }>): Buffer {
  const keep = new Set(plan.keep);
  const kept = batch.records
    .filter((record) => keep.has(record.offset))
    .map((record) => ({
      timestamp: record.timestamp,
      key: record.key,
      value: record.value,
      headers: record.headers,
      offsetDelta: record.offsetDelta,
    }));
  const { header } = batch;
  const horizon = plan.deleteHorizonMs;
  const baseTimestamp = horizon ?? kept[0]?.timestamp ?? header.maxTimestamp;
  // Never below a kept record's: a header written wrong (a compressed batch is kept as produced)
  // must not stop the rewrite, or compaction of the partition for good.
  let maxTimestamp = Math.max(header.maxTimestamp, baseTimestamp);
  for (const record of kept) maxTimestamp = Math.max(maxTimestamp, record.timestamp);
  return buildRecordBatchAs(
    kept,
    {
      baseOffset: header.baseOffset,
      partitionLeaderEpoch: header.partitionLeaderEpoch,
      timestampType: header.timestampType,
      isTransactional: header.isTransactional,
      hasDeleteHorizon: horizon !== null,
      producerId: header.producerId,
      producerEpoch: header.producerEpoch,
      baseSequence: header.baseSequence,
    },
    {
      lastOffsetDelta: header.lastOffsetDelta,
      baseTimestamp,
      maxTimestamp,
    },
  );
}

/** A `.cleaned` file being written: batches buffered and written a megabyte at a time. */
class CleanedFile {
  readonly path: string;
  readonly batches: BatchInfo[] = [];
  sizeBytes = 0;
  readonly #fs: FileSystem;
  readonly #handle: FileHandle;
  #pending: Buffer[] = [];
  #written = 0;

  private constructor(fs: FileSystem, path: string, handle: FileHandle) {
    this.#fs = fs;
    this.path = path;
    this.#handle = handle;
  }

  static async create(fs: FileSystem, directory: string, base: number): Promise<CleanedFile> {
    const path = join(directory, segmentFileName(base, CLEANED_SUFFIX));
    const handle = await io("create", path, () => fs.open(path, "create"));
    return new CleanedFile(fs, path, handle);
  }

  async add(bytes: Buffer, header: BatchHeader): Promise<void> {
    this.batches.push({
      position: this.sizeBytes,
      sizeBytes: bytes.length,
      baseOffset: header.baseOffset,
      lastOffset: header.baseOffset + header.lastOffsetDelta,
      maxTimestamp: header.maxTimestamp,
    });
    this.#pending.push(bytes);
    this.sizeBytes += bytes.length;
    if (this.sizeBytes - this.#written >= WRITE_BYTES) await this.#flush();
  }

  async #flush(): Promise<void> {
    const buffers = this.#pending;
    this.#pending = [];
    const at = this.#written;
    await io("write", this.path, () => this.#fs.writev(this.#handle, buffers, at));
    this.#written = this.sizeBytes;
  }

  /** Writes what is left and fsyncs: after this the file is whole on disk. */
  async finish(): Promise<void> {
    await this.#flush();
    await io("fsync", this.path, () => this.#fs.fsync(this.#handle));
    await io("close", this.path, () => this.#fs.close(this.#handle));
  }

  async discard(): Promise<void> {
    await this.#fs.close(this.#handle).catch(() => {});
    await this.#fs.unlink(this.path).catch(() => {});
  }
}

/**
 * One pass over the log's segments. The caller keeps retention and other passes out meanwhile;
 * appends may add segments at the end, which this pass does not reach.
 */
export async function compactLog(
  options: LogOptions,
  state: CompactionState,
  nowMs: number,
  shell: CompactionShell,
  force: boolean,
): Promise<CompactionResult> {
  const result: CompactionResult = {
    ran: false,
    segmentsCleaned: 0,
    segmentsWritten: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    recordsRemoved: 0,
  };
  const { segments } = shell;
  const lagMs = options.min_compaction_lag_ms;
  const cleanable = segments.slice(0, cleanableCount(segments, lagMs, nowMs));
  let cleanBytes = 0;
  let dirtyBytes = 0;
  for (const segment of cleanable) {
    if (segment.baseOffset >= state.cleanedUpTo) dirtyBytes += segment.sizeBytes;
    else cleanBytes += segment.sizeBytes;
  }
  const due = cleaningDue({
    cleanBytes,
    dirtyBytes,
    minDirtyRatio: options.min_cleanable_dirty_ratio,
    nextHorizonMs: state.nextHorizonMs,
    nowMs,
  });
  if (cleanable.length === 0 || (!due && !force)) return result;
  result.ran = true;
  const builder = new KeyMapBuilder();
  for (const segment of cleanable) await forEachBatch(segment, (batch) => builder.add(batch.plan));
  const context: PlanContext = {
    keys: builder.finish(),
    nowMs,
    deleteRetentionMs: options.delete_retention_ms,
  };
  let nextHorizonMs: number | null = null;
  let at = 0;
  for (const count of groupSegments(cleanable, options.segment_bytes)) {
    const group = cleanable.slice(at, at + count);
    at += count;
    const cleaned = await cleanGroup(group, context, shell, result);
    if (cleaned.horizon !== null) {
      nextHorizonMs = Math.min(nextHorizonMs ?? Number.POSITIVE_INFINITY, cleaned.horizon);
    }
  }
  state.cleanedUpTo = cleanable[cleanable.length - 1].nextOffset;
  state.nextHorizonMs = nextHorizonMs;
  return result;
}

async function cleanGroup(
  group: readonly Segment[],
  context: PlanContext,
  shell: CompactionShell,
  result: CompactionResult,
): Promise<{ horizon: number | null }> {
  const { fs, settings } = shell;
  const file = await CleanedFile.create(fs, settings.directory, group[0].baseOffset);
  let changed = group.length > 1;
  let horizon: number | null = null;
  let removed = 0;
  try {
    for (const segment of group) {
      await forEachBatch(segment, async (batch) => {
        const plan = planBatch(batch.plan, context);
        const kept = keptHorizon(batch.plan, plan);
        if (kept !== null) horizon = Math.min(horizon ?? Number.POSITIVE_INFINITY, kept);
        if (plan.kind !== "keep") changed = true;
        if (plan.kind === "drop") {
          removed += batch.records.length;
          return;
        }
        const bytes = plan.kind === "keep" ? batch.bytes : rewrite(batch, plan);
        if (plan.kind === "rewrite") removed += batch.records.length - plan.keep.length;
        await file.add(bytes, batch.header);
      });
    }
    if (!changed) {
      await file.discard();
      return { horizon };
    }
    await file.finish();
  } catch (error) {
    await file.discard();
    throw error;
  }
  assert(file.batches.length > 0, "a cleaned group keeps its boundary batches");
  const bytesBefore = group.reduce((sum, segment) => sum + segment.sizeBytes, 0);
  const fresh = await swapIn(fs, settings, group, file);
  const index = shell.segments.indexOf(group[0]);
  assert(index >= 0 && shell.segments[index + group.length - 1] === group[group.length - 1]);
  shell.segments.splice(index, group.length, fresh);
  for (const old of group) shell.closeLater(old);
  result.segmentsCleaned += group.length;
  result.segmentsWritten++;
  result.bytesBefore += bytesBefore;
  result.bytesAfter += file.sizeBytes;
  result.recordsRemoved += removed;
  shell.logger.info(
    {
      file: fresh.logPath,
      replaced: group.length,
      bytesBefore,
      bytesAfter: file.sizeBytes,
      removed,
    },
    "compacted segments",
  );
  return { horizon };
}
