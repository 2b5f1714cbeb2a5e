/** Reading the MQTT message log back: the replay after a checkpoint, and messages by offset. */
import {
  batchBaseOffset,
  batchLastOffsetDelta,
  batchSizeBytes,
  type LogRecord,
  type PartitionLog,
  readRecords,
} from "../../../storage/log/index.ts";

const SCAN_READ_BYTES = 1 << 20;
const FETCH_READ_BYTES = 64 << 10;

/** Calls `visit` for every record from `from` to the log end, in order. */
export async function scanLog(
  log: PartitionLog,
  from: number,
  visit: (record: LogRecord) => void,
): Promise<void> {
  let offset = Math.max(from, log.logStartOffset);
  while (offset < log.logEndOffset) {
    const next = await visitSlice(log, offset, SCAN_READ_BYTES, (record) => {
      if (record.offset >= from) visit(record);
    });
    if (next <= offset) break;
    offset = next;
  }
}

/**
 * Reads the records at `offsets` (ascending), calling `found` for each one present. Offsets
 * the log no longer holds are passed to `missing`.
 */
export async function fetchOffsets(
  log: PartitionLog,
  offsets: readonly number[],
  found: (record: LogRecord) => void,
  missing: (offset: number) => void,
): Promise<void> {
  let i = 0;
  while (i < offsets.length) {
    const offset = offsets[i];
    if (offset < log.logStartOffset || offset >= log.logEndOffset) {
      missing(offset);
      i++;
      continue;
    }
    const wanted = new Set<number>();
    const next = await visitSlice(log, offset, FETCH_READ_BYTES, (record) => {
      if (record.offset < offset) return;
      wanted.add(record.offset);
      found(record);
    });
    // Offsets inside the slice that no record carried are gone (compacted away or never held).
    while (i < offsets.length && offsets[i] < next) {
      if (!wanted.has(offsets[i])) missing(offsets[i]);
      i++;
    }
    if (next <= offset) break;
  }
  for (; i < offsets.length; i++) missing(offsets[i]);
}

/** Visits the records of one read at `offset`; returns the offset after the last batch. */
async function visitSlice(
  log: PartitionLog,
  offset: number,
  maxBytes: number,
  visit: (record: LogRecord) => void,
): Promise<number> {
  const slice = await log.read(offset, maxBytes);
  if (slice.sizeBytes === 0) return offset;
  const buffer = await log.readSlice(slice);
  let next = offset;
  for (let at = 0; at < buffer.length; ) {
    const size = batchSizeBytes(buffer, at);
    const result = readRecords(buffer, at);
    if (result.kind === "ok") for (const record of result.records) visit(record);
    next = batchBaseOffset(buffer, at) + batchLastOffsetDelta(buffer, at) + 1;
    at += size;
  }
  return next;
}
