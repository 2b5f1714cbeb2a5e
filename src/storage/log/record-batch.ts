/**
 * Kafka record batch v2 (magic 2), the unit the log stores and a Kafka fetch returns unchanged.
 * Layout, all integers big-endian (Kafka docs, implementation section 5.3.1):
 *
 *   0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8 |
 *   17 crc uint32 | 21 attributes int16 | 23 lastOffsetDelta int32 | 27 baseTimestamp int64 |
 *   35 maxTimestamp int64 | 43 producerId int64 | 51 producerEpoch int16 | 53 baseSequence int32 |
 *   57 recordsCount int32 | 61 records
 *
 * batchLength counts the bytes after itself, so a batch occupies 12 + batchLength bytes. The CRC
 * (CRC-32C) covers attributes to the end of the batch: baseOffset, batchLength,
 * partitionLeaderEpoch and magic are outside it, which is what lets the log assign offsets (and a
 * leader stamp its epoch) without recomputing it.
 */
import { crc32c } from "@node-rs/crc32";
import { assert } from "../../errors.ts";

export const OFFSET_BASE_OFFSET = 0;
export const OFFSET_BATCH_LENGTH = 8;
export const OFFSET_PARTITION_LEADER_EPOCH = 12;
export const OFFSET_MAGIC = 16;
export const OFFSET_CRC = 17;
export const OFFSET_ATTRIBUTES = 21;
export const OFFSET_LAST_OFFSET_DELTA = 23;
export const OFFSET_BASE_TIMESTAMP = 27;
export const OFFSET_MAX_TIMESTAMP = 35;
export const OFFSET_PRODUCER_ID = 43;
export const OFFSET_PRODUCER_EPOCH = 51;
export const OFFSET_BASE_SEQUENCE = 53;
export const OFFSET_RECORDS_COUNT = 57;
/** Size of the batch header; the records (or the compressed records) follow it. */
export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes not counted by batchLength (Kafka's LOG_OVERHEAD). */
export const LOG_OVERHEAD_BYTES = 12;
export const MAGIC_V2 = 2;

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
export type CompressionCode = (typeof Compression)[keyof typeof Compression];
export const TimestampType = { createTime: 0, logAppendTime: 1 } as const;
export type TimestampTypeCode = (typeof TimestampType)[keyof typeof TimestampType];

const ATTRIBUTE_COMPRESSION_MASK = 0x07;
const ATTRIBUTE_TIMESTAMP_TYPE = 0x08;
const ATTRIBUTE_TRANSACTIONAL = 0x10;
const ATTRIBUTE_CONTROL = 0x20;
const ATTRIBUTE_DELETE_HORIZON = 0x40;
const TWO_POW_32 = 4_294_967_296;

export interface BatchHeader {
  baseOffset: number;
  /** Bytes after the batchLength field; the whole batch is LOG_OVERHEAD_BYTES + this. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: number;
  timestampType: TimestampTypeCode;
  isTransactional: boolean;
  isControl: boolean;
  hasDeleteHorizon: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordsCount: number;
}

/**
 * A signed int64 as a number. Exact within +-2^53; the log only stores offsets and timestamps it
 * can represent (checked by checkBatch for timestamps and asserted for offsets).
 */
function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

function writeInt64(buf: Buffer, at: number, value: number): void {
  assert(Number.isSafeInteger(value), `int64 ${value}`);
  const high = Math.floor(value / TWO_POW_32);
  buf.writeInt32BE(high, at);
  buf.writeUInt32BE(value - high * TWO_POW_32, at + 4);
}

/** Decodes the 61-byte header at `at` without checking it (see checkBatch). */
export function readBatchHeader(buf: Buffer, at = 0): BatchHeader {
  assert(at >= 0 && at + BATCH_HEADER_BYTES <= buf.length, "a whole header is available");
  const attributes = buf.readInt16BE(at + OFFSET_ATTRIBUTES);
  return {
    baseOffset: readInt64(buf, at + OFFSET_BASE_OFFSET),
    batchLength: buf.readInt32BE(at + OFFSET_BATCH_LENGTH),
    partitionLeaderEpoch: buf.readInt32BE(at + OFFSET_PARTITION_LEADER_EPOCH),
    magic: buf.readInt8(at + OFFSET_MAGIC),
    crc: buf.readUInt32BE(at + OFFSET_CRC),
    attributes,
    compression: attributes & ATTRIBUTE_COMPRESSION_MASK,
    timestampType: (attributes & ATTRIBUTE_TIMESTAMP_TYPE) === 0 ? 0 : 1,
    isTransactional: (attributes & ATTRIBUTE_TRANSACTIONAL) !== 0,
    isControl: (attributes & ATTRIBUTE_CONTROL) !== 0,
    hasDeleteHorizon: (attributes & ATTRIBUTE_DELETE_HORIZON) !== 0,
    lastOffsetDelta: buf.readInt32BE(at + OFFSET_LAST_OFFSET_DELTA),
    baseTimestamp: readInt64(buf, at + OFFSET_BASE_TIMESTAMP),
    maxTimestamp: readInt64(buf, at + OFFSET_MAX_TIMESTAMP),
    producerId: buf.readBigInt64BE(at + OFFSET_PRODUCER_ID),
    producerEpoch: buf.readInt16BE(at + OFFSET_PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(at + OFFSET_BASE_SEQUENCE),
    recordsCount: buf.readInt32BE(at + OFFSET_RECORDS_COUNT),
  };
}

/** Offset of the batch's first record as stored (hot path: no header object). */
export function batchBaseOffset(buf: Buffer, at = 0): number {
  return readInt64(buf, at + OFFSET_BASE_OFFSET);
}

/** Whole size of the batch at `at`: LOG_OVERHEAD_BYTES + batchLength. */
export function batchSizeBytes(buf: Buffer, at = 0): number {
  return LOG_OVERHEAD_BYTES + buf.readInt32BE(at + OFFSET_BATCH_LENGTH);
}

export function batchLastOffsetDelta(buf: Buffer, at = 0): number {
  return buf.readInt32BE(at + OFFSET_LAST_OFFSET_DELTA);
}

export function batchMaxTimestamp(buf: Buffer, at = 0): number {
  return readInt64(buf, at + OFFSET_MAX_TIMESTAMP);
}

/**
 * Rewrites the batch's baseOffset in place. The CRC starts at attributes, so it stays valid
 * (the tests re-verify the CRC of every batch read back from the log).
 */
export function setBaseOffset(buf: Buffer, at: number, baseOffset: number): void {
  assert(Number.isSafeInteger(baseOffset) && baseOffset >= 0, `offset ${baseOffset}`);
  assert(buf.readInt8(at + OFFSET_MAGIC) === MAGIC_V2, "a v2 batch");
  writeInt64(buf, at + OFFSET_BASE_OFFSET, baseOffset);
}

/**
 * Sets a CreateTime batch's max timestamp to what its records hold, as Kafka's LogValidator
 * does: a producer's wrong value would mislead time lookups and retention, and compaction
 * rebuilds batches from it. Inside the CRC, so the CRC is computed again; a no-op when right.
 */
export function correctMaxTimestamp(buf: Buffer, at: number, recordsMax: number): void {
  if ((buf.readInt16BE(at + OFFSET_ATTRIBUTES) & ATTRIBUTE_TIMESTAMP_TYPE) !== 0) return;
  if (readInt64(buf, at + OFFSET_MAX_TIMESTAMP) === recordsMax) return;
  writeInt64(buf, at + OFFSET_MAX_TIMESTAMP, recordsMax);
  const size = LOG_OVERHEAD_BYTES + buf.readInt32BE(at + OFFSET_BATCH_LENGTH);
  buf.writeUInt32BE(computeBatchCrc(buf, at, size), at + OFFSET_CRC);
}

/** Stamps the leader epoch in place; also outside the CRC. */
export function setPartitionLeaderEpoch(buf: Buffer, at: number, epoch: number): void {
  assert(Number.isInteger(epoch) && epoch >= -1 && epoch <= 0x7fffffff, `epoch ${epoch}`);
  buf.writeInt32BE(epoch, at + OFFSET_PARTITION_LEADER_EPOCH);
}

/** CRC-32C of attributes..end, as stored in the crc field. */
export function computeBatchCrc(buf: Buffer, at: number, sizeBytes: number): number {
  assert(sizeBytes >= BATCH_HEADER_BYTES && at + sizeBytes <= buf.length, "whole batch in buf");
  return crc32c(buf.subarray(at + OFFSET_ATTRIBUTES, at + sizeBytes)) >>> 0;
}

export type BatchCheck =
  | { kind: "ok"; sizeBytes: number }
  /** The bytes end inside the batch: a torn write, or a read that has to fetch more. */
  | { kind: "truncated"; sizeBytes: number }
  /**
   * `intact`: the CRC matches, so the sender wrote these bytes as they are (an inconsistent
   * header, not damage); a Kafka client gets INVALID_RECORD for it rather than CORRUPT_MESSAGE.
   */
  | { kind: "corrupt"; reason: string; intact?: boolean };

/**
 * Checks the batch at `at` (bytes available up to `end`) the way recovery and produce validation
 * need: a plausible length, magic 2, known compression, sane counts and timestamps, and a CRC
 * that matches. Never throws on bad bytes. `sizeBytesMax` bounds how large a batch may claim to
 * be, so a corrupt length is reported as corrupt rather than waited for.
 */
export function checkBatch(buf: Buffer, at: number, end: number, sizeBytesMax: number): BatchCheck {
  assert(at >= 0 && end <= buf.length && at <= end, "range inside the buffer");
  if (end - at < LOG_OVERHEAD_BYTES) return { kind: "truncated", sizeBytes: -1 };
  const batchLength = buf.readInt32BE(at + OFFSET_BATCH_LENGTH);
  const sizeBytes = LOG_OVERHEAD_BYTES + batchLength;
  if (sizeBytes < BATCH_HEADER_BYTES) return corrupt(`batch length ${batchLength} too small`);
  if (sizeBytes > sizeBytesMax) return corrupt(`batch of ${sizeBytes} bytes over ${sizeBytesMax}`);
  if (end - at > OFFSET_MAGIC && buf.readInt8(at + OFFSET_MAGIC) !== MAGIC_V2) {
    return corrupt(`magic ${buf.readInt8(at + OFFSET_MAGIC)}, only 2 is stored`);
  }
  if (end - at < sizeBytes) return { kind: "truncated", sizeBytes };
  // The CRC first, as Kafka: a damaged batch is reported as damaged whatever its header says.
  const crc = computeBatchCrc(buf, at, sizeBytes);
  const stored = buf.readUInt32BE(at + OFFSET_CRC);
  if (crc !== stored) return corrupt(`crc ${hex(crc)} does not match stored ${hex(stored)}`);
  const problem = headerProblem(buf, at);
  if (problem !== null) return { kind: "corrupt", reason: problem, intact: true };
  return { kind: "ok", sizeBytes };
}

/**
 * Reads only the fields it checks, not a whole BatchHeader: recovery checks every batch of the
 * active segment (a million for 1 GiB of 1 KiB batches), and the header object with its bigint
 * producer id was a tenth of that scan's time.
 */
function headerProblem(buf: Buffer, at: number): string | null {
  const compression = buf.readInt16BE(at + OFFSET_ATTRIBUTES) & ATTRIBUTE_COMPRESSION_MASK;
  if (compression > Compression.zstd) return `unknown compression ${compression}`;
  const lastOffsetDelta = buf.readInt32BE(at + OFFSET_LAST_OFFSET_DELTA);
  if (lastOffsetDelta < 0) return `negative lastOffsetDelta ${lastOffsetDelta}`;
  const recordsCount = buf.readInt32BE(at + OFFSET_RECORDS_COUNT);
  if (recordsCount < 0) return `negative records count ${recordsCount}`;
  if (recordsCount > lastOffsetDelta + 1) {
    return `${recordsCount} records in ${lastOffsetDelta + 1} offsets`;
  }
  const baseTimestamp = readInt64(buf, at + OFFSET_BASE_TIMESTAMP);
  const maxTimestamp = readInt64(buf, at + OFFSET_MAX_TIMESTAMP);
  if (!Number.isSafeInteger(baseTimestamp) || !Number.isSafeInteger(maxTimestamp)) {
    return "timestamp out of range";
  }
  return null;
}

/**
 * What Kafka's LogValidator refuses in a v2 batch that a client produced (InvalidRecordException,
 * INVALID_RECORD), beyond what checkBatch finds: readers rely on a batch's header describing its
 * records exactly, and control batches and sequence numbers belong to the broker and the
 * idempotent producer protocol. Header fields only; the records are checked by recordsProblem
 * (and, inside compressed batches, by compressedRecordsProblem).
 */
export function clientBatchProblem(buf: Buffer, at = 0): string | null {
  const count = buf.readInt32BE(at + OFFSET_RECORDS_COUNT);
  if (count <= 0) return `invalid reported count for record batch: ${count}`;
  const lastOffsetDelta = buf.readInt32BE(at + OFFSET_LAST_OFFSET_DELTA);
  if (lastOffsetDelta + 1 !== count) {
    return `inconsistent batch offset range [0, ${lastOffsetDelta}] and count of records ${count}`;
  }
  if ((buf.readInt16BE(at + OFFSET_ATTRIBUTES) & ATTRIBUTE_CONTROL) !== 0) {
    return "clients are not allowed to write control records";
  }
  const baseSequence = buf.readInt32BE(at + OFFSET_BASE_SEQUENCE);
  if (buf.readBigInt64BE(at + OFFSET_PRODUCER_ID) >= 0n && baseSequence < 0) {
    return `invalid sequence number ${baseSequence} in a batch with a producer id`;
  }
  return null;
}

function corrupt(reason: string): BatchCheck {
  return { kind: "corrupt", reason };
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, "0")}`;
}

/** Header fields a producer chooses; defaults are those of a non-idempotent Kafka producer. */
export interface BatchOptions {
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  compression?: CompressionCode;
  timestampType?: TimestampTypeCode;
  isTransactional?: boolean;
  isControl?: boolean;
  /** baseTimestamp is the time after which the batch's tombstones may go (compaction). */
  hasDeleteHorizon?: boolean;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
}

/** What buildRawBatch needs beyond the options: counts, timestamps and the records section. */
export interface RawBatchBody {
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  recordsCount: number;
  /** Bytes of the records section, length of it, and a writer filling it at a position. */
  recordsBytes: number;
  writeRecords: (buf: Buffer, at: number) => number;
}

function attributesOf(options: BatchOptions): number {
  const compression = options.compression ?? Compression.none;
  assert(compression >= 0 && compression <= Compression.zstd, `compression ${compression}`);
  let attributes = compression;
  if ((options.timestampType ?? TimestampType.createTime) === TimestampType.logAppendTime) {
    attributes |= ATTRIBUTE_TIMESTAMP_TYPE;
  }
  if (options.isTransactional === true) attributes |= ATTRIBUTE_TRANSACTIONAL;
  if (options.isControl === true) attributes |= ATTRIBUTE_CONTROL;
  if (options.hasDeleteHorizon === true) attributes |= ATTRIBUTE_DELETE_HORIZON;
  return attributes;
}

/**
 * Writes a whole batch: header, records section (by the body's writer) and the CRC last, over
 * the finished bytes. Used for uncompressed batches (records.ts) and for records sections
 * compressed elsewhere, which are stored as given.
 */
export function buildRawBatch(options: BatchOptions, body: RawBatchBody): Buffer {
  assert(body.recordsCount >= 0 && body.lastOffsetDelta >= 0, "counts are non-negative");
  // A delete horizon replaces baseTimestamp and is usually later than every record.
  const horizon = options.hasDeleteHorizon === true;
  assert(horizon || body.maxTimestamp >= body.baseTimestamp || body.maxTimestamp === -1, "max");
  const sizeBytes = BATCH_HEADER_BYTES + body.recordsBytes;
  const buf = Buffer.allocUnsafe(sizeBytes);
  writeInt64(buf, OFFSET_BASE_OFFSET, options.baseOffset ?? 0);
  buf.writeInt32BE(sizeBytes - LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH);
  buf.writeInt32BE(options.partitionLeaderEpoch ?? -1, OFFSET_PARTITION_LEADER_EPOCH);
  buf.writeInt8(MAGIC_V2, OFFSET_MAGIC);
  buf.writeInt16BE(attributesOf(options), OFFSET_ATTRIBUTES);
  buf.writeInt32BE(body.lastOffsetDelta, OFFSET_LAST_OFFSET_DELTA);
  writeInt64(buf, OFFSET_BASE_TIMESTAMP, body.baseTimestamp);
  writeInt64(buf, OFFSET_MAX_TIMESTAMP, body.maxTimestamp);
  buf.writeBigInt64BE(options.producerId ?? -1n, OFFSET_PRODUCER_ID);
  buf.writeInt16BE(options.producerEpoch ?? -1, OFFSET_PRODUCER_EPOCH);
  buf.writeInt32BE(options.baseSequence ?? -1, OFFSET_BASE_SEQUENCE);
  buf.writeInt32BE(body.recordsCount, OFFSET_RECORDS_COUNT);
  const written = body.writeRecords(buf, BATCH_HEADER_BYTES);
  assert(written === sizeBytes, `records wrote ${written - BATCH_HEADER_BYTES} bytes`);
  buf.writeUInt32BE(computeBatchCrc(buf, 0, sizeBytes), OFFSET_CRC);
  return buf;
}
