/**
 * Record batches as the generator writes and reads them. A producer builds the records section
 * of a full batch once (null keys, no headers, values of --record-size bytes carrying the bench
 * payload header of src/bench/wire.ts) and per batch only copies it, stamps each value's send
 * time and computes the CRC. A consumer walks the batches of a fetch without building record
 * objects: it counts the records at or after its fetch offset and reads each value's send time.
 */
import { gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from "node:zlib";
import { assert } from "../../errors.ts";
import {
  BATCH_HEADER_BYTES,
  buildRawBatch,
  Compression,
  type CompressionCode,
  LOG_OVERHEAD_BYTES,
  OFFSET_ATTRIBUTES,
  OFFSET_BATCH_LENGTH,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_RECORDS_COUNT,
} from "../../storage/log/record-batch.ts";
import { varintBytes, writeVarint } from "../../storage/log/varint.ts";
import { PAYLOAD_HEADER_BYTES } from "../limits.ts";
import { benchPayload } from "../wire.ts";
import type { KafkaCompression } from "./options.ts";

const MARKER_LOW = Buffer.from("rmqb", "latin1").readUInt32LE(0);
const MARKER_HIGH = Buffer.from("ench", "latin1").readUInt32LE(0);
const TWO_POW_32 = 4_294_967_296;

const CODES: Readonly<Record<KafkaCompression, CompressionCode>> = {
  none: Compression.none,
  gzip: Compression.gzip,
  zstd: Compression.zstd,
};

interface RecordsTemplate {
  bytes: Buffer;
  /** Where each record's value starts in `bytes`; -1 entries never occur. */
  valueOffsets: Int32Array;
}

/** The records section of `count` records with `value` each (offset and timestamp deltas 0..). */
function recordsTemplate(count: number, value: Buffer): RecordsTemplate {
  const parts: Buffer[] = [];
  const valueOffsets = new Int32Array(count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    // attributes, timestampDelta 0, offsetDelta i, key length -1, value length, value, 0 headers
    const body =
      1 + 1 + varintBytes(i) + varintBytes(-1) + varintBytes(value.length) + value.length + 1;
    const record = Buffer.alloc(varintBytes(body) + body);
    let at = writeVarint(record, 0, body);
    record[at++] = 0;
    record[at++] = 0;
    at = writeVarint(record, at, i);
    at = writeVarint(record, at, -1);
    at = writeVarint(record, at, value.length);
    valueOffsets[i] = total + at;
    value.copy(record, at);
    at += value.length;
    record[at++] = 0;
    assert(at === record.length, "record template size");
    parts.push(record);
    total += record.length;
  }
  return { bytes: Buffer.concat(parts, total), valueOffsets };
}

/** Builds one producer's batches; keeps a template per batch length it has been asked for. */
export class BatchBuilder {
  private readonly value: Buffer;
  private readonly stamped: boolean;
  private readonly compression: KafkaCompression;
  private readonly templates = new Map<number, RecordsTemplate>();

  constructor(recordSizeBytes: number, compression: KafkaCompression) {
    this.value = benchPayload(recordSizeBytes);
    this.stamped = recordSizeBytes >= PAYLOAD_HEADER_BYTES;
    this.compression = compression;
  }

  /** A batch of `count` records, record i stamped with `sendMicros[i]`. */
  build(count: number, sendMicros: Float64Array): Buffer {
    let template = this.templates.get(count);
    if (template === undefined) {
      template = recordsTemplate(count, this.value);
      this.templates.set(count, template);
    }
    const timestampMs = Math.floor(sendMicros[0] / 1000);
    const body = {
      lastOffsetDelta: count - 1,
      baseTimestamp: timestampMs,
      maxTimestamp: timestampMs,
      recordsCount: count,
    };
    const { bytes, valueOffsets } = template;
    if (this.compression === "none") {
      return buildRawBatch(
        {},
        {
          ...body,
          recordsBytes: bytes.length,
          writeRecords: (buf, at) => {
            bytes.copy(buf, at);
            if (this.stamped) {
              for (let i = 0; i < count; i++)
                buf.writeDoubleLE(sendMicros[i], at + valueOffsets[i]);
            }
            return at + bytes.length;
          },
        },
      );
    }
    // The template is private and compressed into a new buffer, so it is stamped in place.
    if (this.stamped) {
      for (let i = 0; i < count; i++) bytes.writeDoubleLE(sendMicros[i], valueOffsets[i]);
    }
    const compressed = this.compression === "gzip" ? gzipSync(bytes) : zstdCompressSync(bytes);
    return buildRawBatch(
      { compression: CODES[this.compression] },
      {
        ...body,
        recordsBytes: compressed.length,
        writeRecords: (buf, at) => at + compressed.copy(buf, at),
      },
    );
  }
}

/** What one fetched partition's records held. */
export interface ReadOutcome {
  recordCount: number;
  valueBytes: number;
  /** The offset after the last whole batch read; the fetch offset when there was none. */
  nextOffset: number;
  /** Batches whose records could not be read (unknown codec, malformed): counted, not timed. */
  unreadableCount: number;
}

function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_POW_32 + buf.readUInt32BE(at + 4);
}

/** Zigzag varint at `state.at`; advances it. Returns NaN past the end. */
function varint(buf: Buffer, cursor: { at: number }): number {
  let result = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    if (cursor.at >= buf.length) return Number.NaN;
    const byte = buf[cursor.at++];
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return (result >>> 1) ^ -(result & 1);
    shift += 7;
  }
  return Number.NaN;
}

function skipVarlong(buf: Buffer, cursor: { at: number }): void {
  for (let i = 0; i < 10 && cursor.at < buf.length; i++) {
    if ((buf[cursor.at++] & 0x80) === 0) return;
  }
}

/**
 * Walks `records` (uncompressed) and calls `onValue` for each record at or after
 * `firstOffsetDelta` with its value's send time (-1 when the value carries no bench header).
 * Returns the value bytes seen, or -1 when the bytes are malformed.
 */
function walkRecords(
  records: Buffer,
  count: number,
  firstOffsetDelta: number,
  onValue: (sendMicros: number) => void,
): number {
  const cursor = { at: 0 };
  // DataView reads are intrinsics to V8; Buffer's readDoubleLE and readUInt32LE were a tenth of
  // the consumer thread's time at a million records a second.
  const view = new DataView(records.buffer, records.byteOffset, records.length);
  let valueBytes = 0;
  for (let i = 0; i < count; i++) {
    const length = varint(records, cursor);
    const end = cursor.at + length;
    if (!(length > 0) || end > records.length) return -1;
    cursor.at++; // attributes
    skipVarlong(records, cursor);
    const offsetDelta = varint(records, cursor);
    const keyLength = varint(records, cursor);
    if (keyLength > 0) cursor.at += keyLength;
    const valueLength = varint(records, cursor);
    if (Number.isNaN(offsetDelta) || Number.isNaN(valueLength)) return -1;
    if (offsetDelta >= firstOffsetDelta && valueLength >= 0) {
      valueBytes += valueLength;
      const at = cursor.at;
      const marked =
        valueLength >= PAYLOAD_HEADER_BYTES &&
        view.getUint32(at + 8, true) === MARKER_LOW &&
        view.getUint32(at + 12, true) === MARKER_HIGH;
      onValue(marked ? view.getFloat64(at, true) : -1);
    }
    cursor.at = end;
  }
  return valueBytes;
}

function decompress(codec: number, bytes: Buffer): Buffer | null {
  if (codec === Compression.none) return bytes;
  if (codec === Compression.gzip) return gunzipSync(bytes);
  if (codec === Compression.zstd) return zstdDecompressSync(bytes);
  return null;
}

/**
 * The offset to fetch next after `records` (fetched from `fetchOffset`): after the last whole
 * batch, from the batch headers alone. The consumer asks for more with it before it walks the
 * records, so the broker reads the next range while this one is counted. Equals the nextOffset
 * of readFetchedRecords for the same arguments.
 */
export function nextFetchOffset(records: Buffer, fetchOffset: number): number {
  let next = fetchOffset;
  let at = 0;
  while (records.length - at >= BATCH_HEADER_BYTES) {
    const size = LOG_OVERHEAD_BYTES + records.readInt32BE(at + OFFSET_BATCH_LENGTH);
    if (size < BATCH_HEADER_BYTES || at + size > records.length) break;
    const lastOffset = readInt64(records, at) + records.readInt32BE(at + OFFSET_LAST_OFFSET_DELTA);
    if (lastOffset >= fetchOffset) next = lastOffset + 1;
    at += size;
  }
  return next;
}

/**
 * Reads the batches of one fetched partition from `fetchOffset` on. A trailing partial batch
 * (a broker may cut the last one at its byte limit) is left for the next fetch.
 */
export function readFetchedRecords(
  records: Buffer,
  fetchOffset: number,
  onValue: (sendMicros: number) => void,
): ReadOutcome {
  const outcome: ReadOutcome = {
    recordCount: 0,
    valueBytes: 0,
    nextOffset: fetchOffset,
    unreadableCount: 0,
  };
  let at = 0;
  while (records.length - at >= BATCH_HEADER_BYTES) {
    const size = LOG_OVERHEAD_BYTES + records.readInt32BE(at + OFFSET_BATCH_LENGTH);
    if (size < BATCH_HEADER_BYTES || at + size > records.length) break;
    const baseOffset = readInt64(records, at);
    const lastOffset = baseOffset + records.readInt32BE(at + OFFSET_LAST_OFFSET_DELTA);
    if (lastOffset >= fetchOffset) {
      const count = records.readInt32BE(at + OFFSET_RECORDS_COUNT);
      const codec = records.readInt16BE(at + OFFSET_ATTRIBUTES) & 0x07;
      const body = decompress(codec, records.subarray(at + BATCH_HEADER_BYTES, at + size));
      const firstDelta = Math.max(0, fetchOffset - baseOffset);
      let seen = 0;
      const valueBytes =
        body === null
          ? -1
          : walkRecords(body, count, firstDelta, (sendMicros) => {
              seen++;
              onValue(sendMicros);
            });
      if (valueBytes < 0) {
        outcome.unreadableCount++;
        outcome.recordCount += Math.max(0, lastOffset + 1 - Math.max(baseOffset, fetchOffset));
      } else {
        outcome.recordCount += seen;
        outcome.valueBytes += valueBytes;
      }
      outcome.nextOffset = lastOffset + 1;
    }
    at += size;
  }
  return outcome;
}
