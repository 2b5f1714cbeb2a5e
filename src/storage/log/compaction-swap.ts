/**
 * Replacing segments by their cleaned copy so that a crash at any step leaves a log that
 * recovers to the old segments or to the new one, never a mix, as Kafka's cleaner does:
 *
 *   1. the cleaned batches are written to `<base>.log.cleaned` and fsynced;
 *   2. it is renamed to `<base>.log.swap` and the directory fsynced: this is the commit point;
 *   3. the old segments' files are unlinked (open handles keep serving reads under way);
 *   4. the swap is renamed to `<base>.log` and the directory fsynced; its indexes are written.
 *
 * At open, a `.cleaned` file is an unfinished step 1 and is removed (the old segments are whole);
 * a `.swap` file is a committed swap, finished by redoing steps 3 and 4: every segment file whose
 * base offset falls in the swap's offsets goes, then the rename. The swap's end is read from its
 * last batch, which a cleaning always keeps (compaction-plan.ts).
 */
import { join } from "node:path";
import type { FileSystem } from "./file-system.ts";
import {
  BATCH_HEADER_BYTES,
  batchBaseOffset,
  batchLastOffsetDelta,
  LOG_OVERHEAD_BYTES,
  OFFSET_BATCH_LENGTH,
} from "./record-batch.ts";
import { LOG_SUFFIX, Segment, type SegmentSettings, segmentFileName } from "./segment.ts";
import { io } from "./storage-error.ts";

export const CLEANED_SUFFIX = ".log.cleaned";
export const SWAP_SUFFIX = ".log.swap";
const CLEANED_NAME = /^(\d{20})\.log\.cleaned$/;
const SWAP_NAME = /^(\d{20})\.log\.swap$/;
const SEGMENT_FILE = /^(\d{20})\.(log|index|timeindex)$/;

export interface SwapRecovery {
  /** `.cleaned` files removed: cleanings interrupted before their commit. */
  rolledBack: string[];
  /** `.swap` files that replaced their old segments: cleanings committed before a crash. */
  completed: string[];
}

/** Steps 2 to 4 for one cleaned file; returns the new segment, closed, with its indexes. */
export async function swapIn(
  fs: FileSystem,
  settings: SegmentSettings,
  old: readonly Segment[],
  cleaned: { path: string; sizeBytes: number; batches: Parameters<Segment["recordBatch"]>[0][] },
): Promise<Segment> {
  const directory = settings.directory;
  const base = old[0].baseOffset;
  const swap = join(directory, segmentFileName(base, SWAP_SUFFIX));
  await io("rename", cleaned.path, () => fs.rename(cleaned.path, swap));
  await io("fsync", directory, () => fs.syncDirectory(directory));
  for (const segment of old) await segment.unlinkFiles();
  const path = join(directory, segmentFileName(base, LOG_SUFFIX));
  await io("rename", swap, () => fs.rename(swap, path));
  await io("fsync", directory, () => fs.syncDirectory(directory));
  const handle = await io("open", path, () => fs.open(path, "readwrite"));
  const segment = new Segment(fs, settings, base, handle, cleaned.sizeBytes);
  try {
    for (const batch of cleaned.batches) segment.recordBatch(batch, true);
    await segment.persistIndexes();
  } catch (error) {
    await fs.close(handle).catch(() => {});
    throw error;
  }
  segment.closed = true;
  return segment;
}

/** Finishes or rolls back the swaps a crash interrupted, before the segments are listed. */
export async function recoverSwaps(
  fs: FileSystem,
  directory: string,
  names: readonly string[],
): Promise<SwapRecovery> {
  const result: SwapRecovery = { rolledBack: [], completed: [] };
  for (const name of names) {
    if (!CLEANED_NAME.test(name)) continue;
    await io("delete", join(directory, name), () => fs.unlink(join(directory, name)));
    result.rolledBack.push(name);
  }
  for (const name of names) {
    const match = SWAP_NAME.exec(name);
    if (match === null) continue;
    const base = Number(match[1]);
    const swap = join(directory, name);
    const end = await endOffset(fs, swap);
    if (end === null) {
      // Never committed whole (it is fsynced before its rename): the old segments stand.
      await io("delete", swap, () => fs.unlink(swap));
      result.rolledBack.push(name);
      continue;
    }
    for (const other of names) {
      const file = SEGMENT_FILE.exec(other);
      if (file === null) continue;
      const otherBase = Number(file[1]);
      if (otherBase < base || otherBase >= end) continue;
      await io("delete", join(directory, other), () => fs.unlink(join(directory, other)));
    }
    const path = join(directory, segmentFileName(base, LOG_SUFFIX));
    await io("rename", swap, () => fs.rename(swap, path));
    result.completed.push(name);
  }
  if (result.rolledBack.length + result.completed.length > 0) {
    await io("fsync", directory, () => fs.syncDirectory(directory));
  }
  return result;
}

/** One past the last offset of the swap file's batches, walking their headers; null if none. */
async function endOffset(fs: FileSystem, path: string): Promise<number | null> {
  const handle = await io("open", path, () => fs.open(path, "read"));
  try {
    const size = await io("stat", path, () => fs.size(handle));
    const header = Buffer.alloc(BATCH_HEADER_BYTES);
    let position = 0;
    let end: number | null = null;
    while (position + BATCH_HEADER_BYTES <= size) {
      const read = await io("read", path, () =>
        fs.read(handle, header, 0, BATCH_HEADER_BYTES, position),
      );
      const length = LOG_OVERHEAD_BYTES + header.readInt32BE(OFFSET_BATCH_LENGTH);
      if (read < BATCH_HEADER_BYTES || length < BATCH_HEADER_BYTES || position + length > size) {
        return null;
      }
      end = batchBaseOffset(header) + batchLastOffsetDelta(header) + 1;
      position += length;
    }
    return position === size ? end : null;
  } finally {
    await fs.close(handle).catch(() => {});
  }
}
