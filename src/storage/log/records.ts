/**
 * Records inside an uncompressed v2 batch (Kafka docs, implementation section 5.3.2):
 *
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *   keyLength varint | key | valueLength varint | value | headersCount varint |
 *   headers: headerKeyLength varint | headerKey (UTF-8) | headerValueLength varint | value
 *
 * A null key or value has length -1. Deltas are relative to the batch's baseOffset and
 * baseTimestamp. Compressed batches are stored as produced; their records are not read here.
 */
import { assert } from "../../errors.ts";
import {
  BATCH_HEADER_BYTES,
  type BatchOptions,
  buildRawBatch,
  Compression,
  LOG_OVERHEAD_BYTES,
  OFFSET_ATTRIBUTES,
  OFFSET_BASE_TIMESTAMP,
  OFFSET_BATCH_LENGTH,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_RECORDS_COUNT,
  readBatchHeader,
} from "./record-batch.ts";
import {
  type Decoded,
  isVarlongValue,
  readVarint,
  readVarlong,
  varintBytes,
  varlongBytes,
  writeVarint,
  writeVarlong,
} from "./varint.ts";

export interface RecordHeader {
  key: string;
  value: Uint8Array | null;
}

export interface RecordInput {
  /** Milliseconds since the epoch (create time). */
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers?: readonly RecordHeader[];
  /** Position within the batch; defaults to the record's index. Must increase strictly. */
  offsetDelta?: number;
}

/** A decoded record; key, value and header values are views into the batch, not copies. */
export interface LogRecord {
  offset: number;
  timestamp: number;
  offsetDelta: number;
  attributes: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<{ key: string; value: Buffer | null }>;
}

/** Records one batch may hold, matching Kafka's int32 count with room for deltas. */
export const RECORDS_PER_BATCH_MAX = 1_000_000;

interface Sized {
  record: RecordInput;
  offsetDelta: number;
  timestampDelta: number;
  headerKeys: Buffer[];
  bodyBytes: number;
}

function bytesLength(bytes: Uint8Array | null): number {
  return bytes === null ? varintBytes(-1) : varintBytes(bytes.length) + bytes.length;
}

function sizeRecord(record: RecordInput, index: number, baseTimestamp: number): Sized {
  const offsetDelta = record.offsetDelta ?? index;
  const timestampDelta = record.timestamp - baseTimestamp;
  assert(isVarlongValue(timestampDelta), `timestamp delta ${timestampDelta}`);
  const headers = record.headers ?? [];
  const headerKeys = headers.map((header) => Buffer.from(header.key, "utf8"));
  let bodyBytes =
    1 +
    varlongBytes(timestampDelta) +
    varintBytes(offsetDelta) +
    bytesLength(record.key) +
    bytesLength(record.value) +
    varintBytes(headers.length);
  for (let i = 0; i < headers.length; i++) {
    bodyBytes += bytesLength(headerKeys[i]) + bytesLength(headers[i].value);
  }
  return { record, offsetDelta, timestampDelta, headerKeys, bodyBytes };
}

function writeBytes(buf: Buffer, at: number, bytes: Uint8Array | null): number {
  if (bytes === null) return writeVarint(buf, at, -1);
  at = writeVarint(buf, at, bytes.length);
  buf.set(bytes, at);
  return at + bytes.length;
}

function writeRecord(buf: Buffer, at: number, sized: Sized): number {
  const start = at;
  at = writeVarint(buf, at, sized.bodyBytes);
  const bodyStart = at;
  buf[at++] = 0; // record attributes: unused in v2
  at = writeVarlong(buf, at, sized.timestampDelta);
  at = writeVarint(buf, at, sized.offsetDelta);
  at = writeBytes(buf, at, sized.record.key);
  at = writeBytes(buf, at, sized.record.value);
  const headers = sized.record.headers ?? [];
  at = writeVarint(buf, at, headers.length);
  for (let i = 0; i < headers.length; i++) {
    at = writeBytes(buf, at, sized.headerKeys[i]);
    at = writeBytes(buf, at, headers[i].value);
  }
  assert(at - bodyStart === sized.bodyBytes, "record body size as computed");
  assert(at > start, "record written");
  return at;
}

/**
 * Encodes records into one uncompressed v2 batch. baseTimestamp is the first record's
 * timestamp and maxTimestamp the largest, as a Kafka producer writes them.
 */
export function buildRecordBatch(
  records: readonly RecordInput[],
  options: BatchOptions = {},
): Buffer {
  assert(records.length > 0, "at least one record");
  let maxTimestamp = records[0].timestamp;
  for (const record of records) maxTimestamp = Math.max(maxTimestamp, record.timestamp);
  const lastOffsetDelta = records[records.length - 1].offsetDelta ?? records.length - 1;
  return buildRecordBatchAs(records, options, {
    lastOffsetDelta,
    baseTimestamp: records[0].timestamp,
    maxTimestamp,
  });
}

/**
 * Encodes records with header fields chosen by the caller: compaction keeps a batch's
 * lastOffsetDelta and maxTimestamp when it drops records (so the batch still spans its original
 * offsets, as Kafka's cleaner does) and may set a delete horizon as baseTimestamp. No records
 * at all is allowed: an emptied batch that must stay for the offsets it spans.
 */
export function buildRecordBatchAs(
  records: readonly RecordInput[],
  options: BatchOptions,
  header: { lastOffsetDelta: number; baseTimestamp: number; maxTimestamp: number },
): Buffer {
  assert(records.length <= RECORDS_PER_BATCH_MAX, "at most the records a batch may hold");
  assert((options.compression ?? Compression.none) === Compression.none, "compress elsewhere");
  let recordsBytes = 0;
  let previousDelta = -1;
  const sized: Sized[] = [];
  for (let i = 0; i < records.length; i++) {
    const one = sizeRecord(records[i], i, header.baseTimestamp);
    assert(one.offsetDelta > previousDelta, "offset deltas increase strictly");
    previousDelta = one.offsetDelta;
    recordsBytes += varintBytes(one.bodyBytes) + one.bodyBytes;
    sized.push(one);
  }
  assert(previousDelta <= header.lastOffsetDelta, "records inside the batch's offsets");
  return buildRawBatch(options, {
    lastOffsetDelta: header.lastOffsetDelta,
    baseTimestamp: header.baseTimestamp,
    maxTimestamp: header.maxTimestamp,
    recordsCount: records.length,
    recordsBytes,
    writeRecords: (buf, at) => {
      for (const one of sized) at = writeRecord(buf, at, one);
      return at;
    },
  });
}

export type RecordsResult =
  | { kind: "ok"; records: LogRecord[] }
  | { kind: "corrupt"; reason: string }
  | { kind: "compressed"; compression: number };

/**
 * Decodes every record of the (already CRC-checked) uncompressed batch at `at`, checking that
 * the records fill the batch exactly, that their count matches the header, and that offset
 * deltas increase up to lastOffsetDelta. The last record may end before lastOffsetDelta: a
 * compacted batch keeps the offsets it spanned (`exactLastDelta` refuses that, for appends).
 * Never throws on bad bytes.
 */
export function readRecords(buf: Buffer, at = 0, exactLastDelta = false): RecordsResult {
  const header = readBatchHeader(buf, at);
  if (header.compression !== Compression.none) {
    return { kind: "compressed", compression: header.compression };
  }
  const end = at + LOG_OVERHEAD_BYTES + header.batchLength;
  assert(end <= buf.length, "whole batch in buf");
  const records: LogRecord[] = [];
  const cursor: Decoded = { value: 0, next: at + BATCH_HEADER_BYTES };
  let previousDelta = -1;
  for (let i = 0; i < header.recordsCount; i++) {
    const record = readRecord(buf, cursor, end, header.baseOffset, header.baseTimestamp);
    if (typeof record === "string") return { kind: "corrupt", reason: `record ${i}: ${record}` };
    if (record.offsetDelta <= previousDelta) {
      return { kind: "corrupt", reason: `record ${i}: offset delta does not increase` };
    }
    previousDelta = record.offsetDelta;
    records.push(record);
  }
  if (cursor.next !== end) return { kind: "corrupt", reason: "bytes after the last record" };
  if (previousDelta > header.lastOffsetDelta) {
    return { kind: "corrupt", reason: `offset delta ${previousDelta} past the batch's last` };
  }
  if (exactLastDelta && records.length > 0 && previousDelta !== header.lastOffsetDelta) {
    return { kind: "corrupt", reason: `last offset delta ${previousDelta}, header says more` };
  }
  return { kind: "ok", records };
}

/**
 * The checks of readRecords (uncompressed batch at `at`, CRC already checked) without building
 * a record: the reason readRecords would give, or null when it would read the batch (also for a
 * compressed one, which it does not open). Appends validate every batch this way; the records
 * built only to be dropped were most of the append path's garbage.
 */
export function recordsProblem(
  buf: Buffer,
  at = 0,
  exactLastDelta = false,
  seen?: RecordsSeen,
): string | null {
  if ((buf.readInt16BE(at + OFFSET_ATTRIBUTES) & 0x07) !== Compression.none) return null;
  const end = at + LOG_OVERHEAD_BYTES + buf.readInt32BE(at + OFFSET_BATCH_LENGTH);
  assert(end <= buf.length, "whole batch in buf");
  const header = sectionHeader(buf, at);
  return sectionProblem(buf, at + BATCH_HEADER_BYTES, end, header, exactLastDelta, seen);
}

/** What the walk of a batch's records found, for a caller that asks (recordsProblem). */
export interface RecordsSeen {
  /** The largest record timestamp; the base timestamp when there are no records. */
  maxTimestamp: number;
}

/**
 * recordsProblem for the records of the compressed batch at `at` of `batch`, given decompressed
 * in `plain`: the same checks against the batch's own header, without copying the records back
 * behind a header as anyBatchRecords does.
 */
export function plainRecordsProblem(
  batch: Buffer,
  at: number,
  plain: Buffer,
  exactLastDelta = false,
): string | null {
  return sectionProblem(plain, 0, plain.length, sectionHeader(batch, at), exactLastDelta);
}

interface SectionHeader {
  count: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
}

function sectionHeader(buf: Buffer, at: number): SectionHeader {
  return {
    count: buf.readInt32BE(at + OFFSET_RECORDS_COUNT),
    lastOffsetDelta: buf.readInt32BE(at + OFFSET_LAST_OFFSET_DELTA),
    // As readBatchHeader reads it (a number), so that the range check matches readRecord's.
    baseTimestamp:
      buf.readInt32BE(at + OFFSET_BASE_TIMESTAMP) * 2 ** 32 +
      buf.readUInt32BE(at + OFFSET_BASE_TIMESTAMP + 4),
  };
}

/** A cursor through records that also says the last record's timestamp delta. */
interface RecordCursor extends Decoded {
  timestampDelta: number;
}

/** The records in buf[start, end) against what the header says of them. */
function sectionProblem(
  buf: Buffer,
  start: number,
  end: number,
  header: SectionHeader,
  exactLastDelta: boolean,
  seen?: RecordsSeen,
): string | null {
  const cursor: RecordCursor = { value: 0, next: start, timestampDelta: 0 };
  let previousDelta = -1;
  let maxTimestampDelta = 0;
  for (let i = 0; i < header.count; i++) {
    const problem = skipRecord(buf, cursor, end, header.baseTimestamp);
    if (problem !== null) return `record ${i}: ${problem}`;
    // skipRecord leaves the offset delta in cursor.value.
    if (cursor.value <= previousDelta) return `record ${i}: offset delta does not increase`;
    previousDelta = cursor.value;
    if (i === 0 || cursor.timestampDelta > maxTimestampDelta) {
      maxTimestampDelta = cursor.timestampDelta;
    }
  }
  if (seen !== undefined) seen.maxTimestamp = header.baseTimestamp + maxTimestampDelta;
  if (cursor.next !== end) return "bytes after the last record";
  if (previousDelta > header.lastOffsetDelta) {
    return `offset delta ${previousDelta} past the batch's last`;
  }
  if (exactLastDelta && header.count > 0 && previousDelta !== header.lastOffsetDelta) {
    return `last offset delta ${previousDelta}, header says more`;
  }
  return null;
}

/** readRecord's checks in the same order; leaves the offset delta in cursor.value. */
function skipRecord(
  buf: Buffer,
  cursor: RecordCursor,
  batchEnd: number,
  baseTimestamp: number,
): string | null {
  const length = readVarint(buf, cursor.next, batchEnd, cursor).value;
  if (cursor.next < 0 || length < 0 || cursor.next + length > batchEnd) return "bad length";
  const end = cursor.next + length;
  if (end - cursor.next < 1) return "empty record";
  cursor.next++; // attributes
  const timestampDelta = readVarlong(buf, cursor.next, end, cursor).value;
  if (cursor.next < 0) return "bad timestamp delta";
  const offsetDelta = readVarint(buf, cursor.next, end, cursor).value;
  if (cursor.next < 0 || offsetDelta < 0) return "bad offset delta";
  if (skipBytes(buf, cursor, end) === undefined) return "bad key";
  if (skipBytes(buf, cursor, end) === undefined) return "bad value";
  const count = readVarint(buf, cursor.next, end, cursor).value;
  if (cursor.next < 0 || count < 0 || count * 2 > end - cursor.next) return "bad header count";
  for (let i = 0; i < count; i++) {
    const key = skipBytes(buf, cursor, end);
    if (key === undefined || key === -1) return `bad header ${i} key`;
    if (skipBytes(buf, cursor, end) === undefined) return `bad header ${i} value`;
  }
  if (cursor.next !== end) return "record length does not match its fields";
  if (!Number.isSafeInteger(baseTimestamp + timestampDelta)) {
    return "timestamp out of range";
  }
  cursor.value = offsetDelta;
  cursor.timestampDelta = timestampDelta;
  return null;
}

/** Skips a length-prefixed byte string; its length (-1 for null), undefined when malformed. */
function skipBytes(buf: Buffer, cursor: Decoded, end: number): number | undefined {
  const length = readVarint(buf, cursor.next, end, cursor).value;
  if (cursor.next < 0 || length < -1 || cursor.next + length > end) return undefined;
  if (length > 0) cursor.next += length;
  return length;
}

/** Reads one record at cursor.next, leaving cursor.next after it; a string describes a fault. */
function readRecord(
  buf: Buffer,
  cursor: Decoded,
  batchEnd: number,
  baseOffset: number,
  baseTimestamp: number,
): LogRecord | string {
  const length = readVarint(buf, cursor.next, batchEnd, cursor).value;
  if (cursor.next < 0 || length < 0 || cursor.next + length > batchEnd) return "bad length";
  const end = cursor.next + length;
  if (end - cursor.next < 1) return "empty record";
  const attributes = buf[cursor.next++];
  const timestampDelta = readVarlong(buf, cursor.next, end, cursor).value;
  if (cursor.next < 0) return "bad timestamp delta";
  const offsetDelta = readVarint(buf, cursor.next, end, cursor).value;
  if (cursor.next < 0 || offsetDelta < 0) return "bad offset delta";
  const key = readBytes(buf, cursor, end);
  if (key === undefined) return "bad key";
  const value = readBytes(buf, cursor, end);
  if (value === undefined) return "bad value";
  const headers = readHeaders(buf, cursor, end);
  if (typeof headers === "string") return headers;
  if (cursor.next !== end) return "record length does not match its fields";
  const timestamp = baseTimestamp + timestampDelta;
  if (!Number.isSafeInteger(timestamp)) return "timestamp out of range";
  return {
    offset: baseOffset + offsetDelta,
    timestamp,
    offsetDelta,
    attributes,
    key,
    value,
    headers,
  };
}

function readHeaders(
  buf: Buffer,
  cursor: Decoded,
  end: number,
): Array<{ key: string; value: Buffer | null }> | string {
  const count = readVarint(buf, cursor.next, end, cursor).value;
  // Each header takes at least two bytes, which bounds the loop by the record's size.
  if (cursor.next < 0 || count < 0 || count * 2 > end - cursor.next) return "bad header count";
  const headers: Array<{ key: string; value: Buffer | null }> = [];
  for (let i = 0; i < count; i++) {
    const key = readBytes(buf, cursor, end);
    if (key === undefined || key === null) return `bad header ${i} key`;
    const value = readBytes(buf, cursor, end);
    if (value === undefined) return `bad header ${i} value`;
    headers.push({ key: key.toString("utf8"), value });
  }
  return headers;
}

/** A length-prefixed byte string as a view; null for length -1; undefined when malformed. */
function readBytes(buf: Buffer, cursor: Decoded, end: number): Buffer | null | undefined {
  const length = readVarint(buf, cursor.next, end, cursor).value;
  if (cursor.next < 0 || length < -1 || cursor.next + length > end) return undefined;
  if (length === -1) return null;
  const bytes = buf.subarray(cursor.next, cursor.next + length);
  cursor.next += length;
  return bytes;
}
