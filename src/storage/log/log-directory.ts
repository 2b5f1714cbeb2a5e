/**
 * Opening a partition's directory: find the segments, recover each (recovery.ts), check that
 * they follow on from each other, and report. A directory with no segment gets a first, empty
 * one at offset 0.
 */
import { join } from "node:path";
import { assert, ErrorCode } from "../../errors.ts";
import { recoverSwaps } from "./compaction-swap.ts";
import type { FileSystem } from "./file-system.ts";
import { readLogStartOffset, settleLogStart } from "./log-start-offset.ts";
import {
  type RecoveryReport,
  type RecoveryScope,
  recoverActiveSegment,
  recoverClosedSegment,
  type StorageLogger,
} from "./recovery.ts";
import { parseSegmentFileName, Segment, type SegmentSettings } from "./segment.ts";
import { io, KafkaErrorCode, StorageError } from "./storage-error.ts";

/** Segments of one partition allowed in a directory (1 GiB each makes this 1 PiB). */
export const SEGMENTS_PER_LOG_MAX = 1_000_000;
/**
 * The largest batch recovery accepts. Not batch_bytes_max: that limit may have been lowered
 * since the data was written, and a good batch must never be truncated for being larger. A
 * length beyond the end of the file is caught as a torn batch whatever this limit is.
 */
const RECOVERY_BATCH_BYTES_MAX = 2_147_483_647;

export interface OpenedLog {
  segments: Segment[];
  report: RecoveryReport;
  /** At or above the first segment's base offset (log-start-offset.ts). */
  logStartOffset: number;
}

/** Index files whose segment is gone (deleted by retention before a crash): safe to remove. */
async function removeStrayFiles(
  fs: FileSystem,
  directory: string,
  names: readonly string[],
  bases: ReadonlySet<number>,
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of names) {
    const match = /^(\d{20})(\.index|\.timeindex)$/.exec(name);
    if (match === null || bases.has(Number(match[1]))) continue;
    await io("delete", join(directory, name), () => fs.unlink(join(directory, name)));
    removed.push(name);
  }
  return removed;
}

async function closeAll(fs: FileSystem, segments: readonly Segment[]): Promise<void> {
  for (const segment of segments) await fs.close(segment.handle).catch(() => {});
}

function emptyReport(directory: string): RecoveryReport {
  return {
    directory,
    segmentCount: 0,
    truncated: [],
    indexesRebuilt: [],
    corruptRegions: [],
    strayFilesRemoved: [],
    compactionsCompleted: [],
    compactionsRolledBack: [],
    segmentsBelowStartRemoved: [],
    logStartOffsetProblem: null,
    logStartOffset: 0,
    logEndOffset: 0,
  };
}

/** Opens and recovers every segment in `settings.directory`, oldest first. */
export async function openLogDirectory(
  fs: FileSystem,
  settings: SegmentSettings,
  scope: RecoveryScope,
  logger: StorageLogger,
): Promise<OpenedLog> {
  const directory = settings.directory;
  await io("mkdir", directory, () => fs.mkdir(directory));
  const found = await io("list", directory, () => fs.readdir(directory));
  const swaps = await recoverSwaps(fs, directory, found);
  const changed = swaps.completed.length + swaps.rolledBack.length > 0;
  const names = changed ? await io("list", directory, () => fs.readdir(directory)) : found;
  const bases = names
    .map(parseSegmentFileName)
    .filter((base): base is number => base !== null)
    .sort((a, b) => a - b);
  if (bases.length > SEGMENTS_PER_LOG_MAX) {
    const message = `${bases.length} segments in ${directory}, at most ${SEGMENTS_PER_LOG_MAX}`;
    throw new StorageError(ErrorCode.STORAGE_IO, KafkaErrorCode.KAFKA_STORAGE_ERROR, message);
  }
  const report = emptyReport(directory);
  report.compactionsCompleted = swaps.completed;
  report.compactionsRolledBack = swaps.rolledBack;
  report.strayFilesRemoved = await removeStrayFiles(fs, directory, names, new Set(bases));
  const stored = await readLogStartOffset(fs, directory, names);
  report.logStartOffsetProblem = stored.problem;
  let segments: Segment[] = [];
  try {
    if (bases.length === 0) {
      segments.push(await Segment.create(fs, settings, 0));
      await io("fsync", directory, () => fs.syncDirectory(directory));
    }
    for (let i = 0; i < bases.length; i++) {
      const { segment, fileSizeBytes } = await Segment.open(fs, settings, bases[i]);
      segments.push(segment);
      if (i === bases.length - 1) {
        const cut = await recoverActiveSegment(
          fs,
          segment,
          fileSizeBytes,
          RECOVERY_BATCH_BYTES_MAX,
        );
        if (cut !== null) report.truncated.push({ file: segment.logPath, ...cut });
        continue;
      }
      const recovered = await recoverClosedSegment(
        fs,
        segment,
        fileSizeBytes,
        bases[i + 1],
        RECOVERY_BATCH_BYTES_MAX,
        scope,
      );
      if (recovered.rebuiltBecause !== null) {
        report.indexesRebuilt.push({ file: segment.indexPath, reason: recovered.rebuiltBecause });
      }
    }
    checkContinuity(segments, logger);
    const settled = await settleLogStart(fs, settings, segments, stored.offset, logger);
    segments = settled.segments;
    report.segmentsBelowStartRemoved = settled.removed;
    report.logStartOffset = settled.logStartOffset;
  } catch (error) {
    await closeAll(fs, segments);
    throw error;
  }
  finishReport(report, segments);
  logReport(report, logger);
  return { segments, report, logStartOffset: report.logStartOffset };
}

/**
 * Each segment should end where the next begins. A closed segment ending early lost its tail
 * (recovery marked it corrupt when it could tell); one ending late overlaps the next, whose
 * copy of those offsets is the one served.
 */
function checkContinuity(segments: readonly Segment[], logger: StorageLogger): void {
  for (let i = 0; i + 1 < segments.length; i++) {
    const segment = segments[i];
    const nextBase = segments[i + 1].baseOffset;
    if (segment.nextOffset < nextBase) {
      segment.markCorruptTail(
        {
          position: segment.sizeBytes,
          endPosition: null,
          firstOffset: segment.nextOffset,
          lastOffset: nextBase - 1,
          reason: `segment ends at offset ${segment.nextOffset}, the next starts at ${nextBase}`,
        },
        segment.sizeBytes,
        nextBase,
      );
    } else if (segment.nextOffset > nextBase) {
      logger.error(
        { file: segment.logPath, nextOffset: segment.nextOffset, nextBase },
        "segment overlaps the next one; the next one's offsets are served",
      );
    }
  }
}

function finishReport(report: RecoveryReport, segments: readonly Segment[]): void {
  report.segmentCount = segments.length;
  for (const segment of segments) {
    for (const region of segment.corruptRegions) {
      report.corruptRegions.push({ file: segment.logPath, ...region });
    }
  }
  assert(report.logStartOffset >= segments[0].baseOffset, "the start is in the log");
  report.logEndOffset = segments[segments.length - 1].nextOffset;
}

function logReport(report: RecoveryReport, logger: StorageLogger): void {
  if (report.logStartOffsetProblem !== null) {
    logger.error(
      { directory: report.directory, reason: report.logStartOffsetProblem },
      "log start offset file damaged; the log starts at its first segment",
    );
  }
  for (const cut of report.truncated) logger.warn(cut, "truncated a torn or corrupt log tail");
  for (const rebuilt of report.indexesRebuilt) logger.warn(rebuilt, "rebuilt segment indexes");
  for (const region of report.corruptRegions) {
    logger.error(region, "corrupt batch in a closed segment; its offsets cannot be read");
  }
  for (const file of report.strayFilesRemoved) logger.info({ file }, "removed a stray index file");
  for (const file of report.compactionsCompleted) {
    logger.warn({ file }, "finished a compaction swap interrupted by a crash");
  }
  for (const file of report.compactionsRolledBack) {
    logger.warn({ file }, "removed an unfinished compaction; the old segments stay");
  }
  logger.info(
    {
      directory: report.directory,
      segments: report.segmentCount,
      logStartOffset: report.logStartOffset,
      logEndOffset: report.logEndOffset,
    },
    "log opened",
  );
}
