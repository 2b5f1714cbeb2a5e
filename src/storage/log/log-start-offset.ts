/**
 * The log start offset a client raised (Kafka's DeleteRecords), kept in the partition directory
 * in the file `log-start-offset`: one line, `1 <offset> <crc>`, where crc is the CRC-32C (hex)
 * of `1 <offset>`. Without the file the log starts at its first segment's base offset, as it
 * always did (the MQTT persistence never writes one).
 *
 * A write is atomic: the line goes to `log-start-offset.tmp`, which is fsynced, renamed over
 * the file, and the directory fsynced. A crash at any step leaves the old file (or none) or the
 * new one; a temporary file found at open is a write cut short and is removed.
 *
 * At open the offset is clamped to what the segments hold (never below the first segment's
 * base, which retention may have moved past it), and the segments wholly below it are deleted.
 * When it is at or past the recovered log end (every record is below it, or the tail it covered
 * was not durable: fsync policy interval or never), the log restarts empty at the start offset,
 * as Kafka's log loader does: offsets a client saw deleted are never handed out again.
 */
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { assert } from "../../errors.ts";
import type { FileSystem } from "./file-system.ts";
import type { StorageLogger } from "./recovery.ts";
import { segmentsBelow } from "./retention.ts";
import { Segment, type SegmentSettings } from "./segment.ts";
import { io } from "./storage-error.ts";

export const LOG_START_OFFSET_FILE = "log-start-offset";
export const LOG_START_OFFSET_TEMPORARY_FILE = "log-start-offset.tmp";
const FORMAT_VERSION = 1;
/** Longer than any valid line (version, 16 digits, 8 hex digits, separators, newline). */
const FILE_BYTES_MAX = 64;
const LINE = /^(\d+) (\d{1,16}) ([0-9a-f]{8})\n$/;

export function encodeLogStartOffset(offset: number): Buffer {
  assert(Number.isSafeInteger(offset) && offset >= 0, `log start offset ${offset}`);
  const body = `${FORMAT_VERSION} ${offset}`;
  const crc = (crc32c(Buffer.from(body)) >>> 0).toString(16).padStart(8, "0");
  return Buffer.from(`${body} ${crc}\n`);
}

/** The offset a file holds, or the reason it cannot be trusted. */
export function decodeLogStartOffset(
  bytes: Buffer,
): { kind: "ok"; offset: number } | { kind: "bad"; reason: string } {
  const match = LINE.exec(bytes.toString("latin1"));
  if (match === null) return { kind: "bad", reason: "not a log start offset line" };
  if (Number(match[1]) !== FORMAT_VERSION) {
    return { kind: "bad", reason: `unknown format version ${match[1]}` };
  }
  const offset = Number(match[2]);
  if (!Number.isSafeInteger(offset)) return { kind: "bad", reason: `offset ${match[2]}` };
  const expected = encodeLogStartOffset(offset);
  if (!expected.equals(bytes)) return { kind: "bad", reason: "checksum mismatch" };
  return { kind: "ok", offset };
}

/** Writes the start offset durably (temporary file, fsync, rename, directory fsync). */
export async function writeLogStartOffset(
  fs: FileSystem,
  directory: string,
  offset: number,
): Promise<void> {
  const temporary = join(directory, LOG_START_OFFSET_TEMPORARY_FILE);
  const path = join(directory, LOG_START_OFFSET_FILE);
  const bytes = encodeLogStartOffset(offset);
  const handle = await io("create", temporary, () => fs.open(temporary, "create"));
  try {
    await io("write", temporary, () => fs.write(handle, bytes, 0));
    await io("fsync", temporary, () => fs.fsync(handle));
  } finally {
    await fs.close(handle).catch(() => {});
  }
  await io("rename", temporary, () => fs.rename(temporary, path));
  await io("fsync", directory, () => fs.syncDirectory(directory));
}

export interface StoredStartOffset {
  /** The offset the file holds; null without a file or with one that cannot be trusted. */
  offset: number | null;
  /** Why a file that exists was not used (damaged, unknown version); null otherwise. */
  problem: string | null;
}

/**
 * Reads the file, if `names` (the directory's entries) has it, after removing a temporary file
 * left by a write a crash cut short. A damaged file is reported, not fatal: the log then starts
 * at its first segment, so records a client deleted may be readable again, but none is lost.
 */
export async function readLogStartOffset(
  fs: FileSystem,
  directory: string,
  names: readonly string[],
): Promise<StoredStartOffset> {
  if (names.includes(LOG_START_OFFSET_TEMPORARY_FILE)) {
    const temporary = join(directory, LOG_START_OFFSET_TEMPORARY_FILE);
    await io("delete", temporary, () => fs.unlink(temporary));
  }
  if (!names.includes(LOG_START_OFFSET_FILE)) return { offset: null, problem: null };
  const path = join(directory, LOG_START_OFFSET_FILE);
  const handle = await io("open", path, () => fs.open(path, "read"));
  try {
    const size = await io("stat", path, () => fs.size(handle));
    if (size > FILE_BYTES_MAX) return { offset: null, problem: `${size} bytes long` };
    const bytes = Buffer.alloc(size);
    const read = await io("read", path, () => fs.read(handle, bytes, 0, size, 0));
    const decoded = decodeLogStartOffset(bytes.subarray(0, read));
    return decoded.kind === "ok"
      ? { offset: decoded.offset, problem: null }
      : { offset: null, problem: decoded.reason };
  } finally {
    await fs.close(handle).catch(() => {});
  }
}

export interface SettledStart {
  segments: Segment[];
  logStartOffset: number;
  /** `.log` files deleted because every offset they hold is below the start. */
  removed: string[];
}

/**
 * Applies a stored start offset to freshly recovered segments (nobody reads them yet, so
 * deleted segments are closed at once). Deletion goes from the oldest segment on, so a crash
 * part way leaves a contiguous log that the next open settles the same way.
 */
export async function settleLogStart(
  fs: FileSystem,
  settings: SegmentSettings,
  segments: Segment[],
  stored: number | null,
  logger: StorageLogger,
): Promise<SettledStart> {
  assert(segments.length > 0, "a recovered log has a segment");
  const first = segments[0].baseOffset;
  if (stored === null || stored <= first) {
    return { segments, logStartOffset: first, removed: [] };
  }
  const active = segments[segments.length - 1];
  const end = active.nextOffset;
  const restart = stored > end || (stored === end && !active.isEmpty);
  const count = restart ? segments.length : segmentsBelow(segments, stored);
  const removed: string[] = [];
  for (const segment of segments.slice(0, count)) {
    await segment.unlinkFiles();
    await segment.close().catch(() => {});
    removed.push(segment.logPath);
  }
  const kept = segments.slice(count);
  if (count > 0) {
    await io("fsync", settings.directory, () => fs.syncDirectory(settings.directory));
  }
  if (restart) {
    kept.push(await Segment.create(fs, settings, stored));
    await io("fsync", settings.directory, () => fs.syncDirectory(settings.directory));
    logger.warn(
      { directory: settings.directory, logStartOffset: stored, logEndOffset: end },
      "every record is below the log start offset; the log restarts empty at it",
    );
  }
  for (const file of removed) logger.info({ file }, "deleted segment below the log start offset");
  return { segments: kept, logStartOffset: stored, removed };
}
