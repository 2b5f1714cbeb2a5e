/**
 * Deleting the start of the log. Whole closed segments go, from the first one, as in Kafka:
 * retention deletes them while the log is over retention_bytes or their newest record is older
 * than retention_ms; deleteBefore deletes those whose every record is below a given offset, and
 * deleteBelowStart those below a raised log start offset (log-start-offset.ts). The active
 * segment is never deleted. The first remaining segment's base is where the log starts, unless
 * a raised start offset is further on.
 *
 * Which segments go is decided by pure functions; one shell (deleteLeadingSegments) removes them
 * from the log at once (so no new read reaches them), unlinks the files, and leaves the open
 * handle to be closed after file_delete_delay_ms so that reads already under way finish.
 */
import { assert } from "../../errors.ts";
import type { FileSystem } from "./file-system.ts";
import type { LogOptions } from "./options.ts";
import type { StorageLogger } from "./recovery.ts";
import type { Segment } from "./segment.ts";
import { io } from "./storage-error.ts";

export interface RetentionResult {
  deletedSegmentCount: number;
  deletedBytes: number;
  logStartOffset: number;
}

/** What retention needs to know of a segment. */
export interface RetentionView {
  sizeBytes: number;
  maxTimestamp: number;
}

/**
 * How many segments from the start to delete. The last (active) one never is; a segment
 * without timestamps (maxTimestamp -1) is never old.
 */
export function segmentsToDelete(
  segments: readonly RetentionView[],
  options: Pick<LogOptions, "retention_bytes" | "retention_ms">,
  nowMs: number,
): number {
  let total = 0;
  for (const segment of segments) total += segment.sizeBytes;
  let count = 0;
  while (count < segments.length - 1) {
    const segment = segments[count];
    const overSize =
      options.retention_bytes >= 0 && total - segment.sizeBytes >= options.retention_bytes;
    const tooOld =
      options.retention_ms >= 0 &&
      segment.maxTimestamp >= 0 &&
      nowMs - segment.maxTimestamp > options.retention_ms;
    if (!overSize && !tooOld) break;
    total -= segment.sizeBytes;
    count++;
  }
  assert(count < segments.length, "the active segment stays");
  return count;
}

/**
 * How many segments from the start hold only offsets below `offset` (each ends at or before
 * it). The last (active) one never counts, and the count stops at the first segment that
 * reaches `offset`, so only a prefix of the log is ever taken.
 */
export function segmentsBelow(segments: readonly { nextOffset: number }[], offset: number): number {
  let count = 0;
  while (count < segments.length - 1 && segments[count].nextOffset <= offset) count++;
  return count;
}

export interface RetentionShell {
  fs: FileSystem;
  directory: string;
  logger: StorageLogger;
  closeLater: (segment: Segment) => void;
}

export async function applyRetention(
  segments: Segment[],
  options: LogOptions,
  nowMs: number,
  shell: RetentionShell,
): Promise<RetentionResult> {
  const count = segmentsToDelete(segments, options, nowMs);
  return deleteLeadingSegments(segments, count, shell, "deleted segment past retention");
}

/** Deletes the closed segments all of whose records are below `offset`. */
export async function deleteBefore(
  segments: Segment[],
  offset: number,
  shell: RetentionShell,
): Promise<RetentionResult> {
  assert(Number.isSafeInteger(offset) && offset >= 0, `offset ${offset}`);
  const count = segmentsBelow(segments, offset);
  return deleteLeadingSegments(segments, count, shell, "deleted segment below offset", { offset });
}

/**
 * Deletes the closed segments wholly below a raised log start offset (DeleteRecords); the same
 * as deleteBefore, logged as what it is.
 */
export async function deleteBelowStart(
  segments: Segment[],
  startOffset: number,
  shell: RetentionShell,
): Promise<RetentionResult> {
  assert(Number.isSafeInteger(startOffset) && startOffset >= 0, `offset ${startOffset}`);
  const count = segmentsBelow(segments, startOffset);
  return deleteLeadingSegments(
    segments,
    count,
    shell,
    "deleted segment below the log start offset",
    {
      logStartOffset: startOffset,
    },
  );
}

/**
 * The one deletion path: takes the first `count` segments out of `segments` before the first
 * await (so a read or a concurrent deletion that starts later never sees them), then unlinks.
 */
async function deleteLeadingSegments(
  segments: Segment[],
  count: number,
  shell: RetentionShell,
  message: string,
  fields: object = {},
): Promise<RetentionResult> {
  const deleted = segments.splice(0, count);
  assert(segments.length > 0, "the active segment stays");
  let deletedBytes = 0;
  for (const segment of deleted) {
    assert(segment.closed, "only closed segments are deleted");
    deletedBytes += segment.sizeBytes;
    shell.closeLater(segment);
    await segment.unlinkFiles();
    shell.logger.info(
      { file: segment.logPath, nextOffset: segment.nextOffset, ...fields },
      message,
    );
  }
  if (count > 0) await io("fsync", shell.directory, () => shell.fs.syncDirectory(shell.directory));
  return { deletedSegmentCount: count, deletedBytes, logStartOffset: segments[0].baseOffset };
}
