/**
 * The records of a batch whatever its codec. The log stores batches as produced and never needs
 * their contents, except in a compacted log: append checks every record has a key (Kafka's
 * rule), and the cleaner needs every key. gzip and zstd come with node:zlib; snappy and lz4
 * with the napi-rs packages the broker already depends on.
 */
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { decompressFrameSync } from "lz4-napi";
import { uncompressSync } from "snappy";
import {
  BATCH_HEADER_BYTES,
  batchSizeBytes,
  Compression,
  LOG_OVERHEAD_BYTES,
  OFFSET_ATTRIBUTES,
  OFFSET_BATCH_LENGTH,
} from "./record-batch.ts";
import { type RecordsResult, readRecords } from "./records.ts";

/** snappy-java's stream framing, which Kafka's Java clients (and librdkafka) write. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

/** Decoded records of the (CRC-checked) batch at `at`, decompressing it if need be. */
export function anyBatchRecords(buffer: Buffer, at = 0): RecordsResult {
  const result = readRecords(buffer, at);
  if (result.kind !== "compressed") return result;
  const end = at + batchSizeBytes(buffer, at);
  let plain: Buffer;
  try {
    plain = decompress(result.compression, buffer.subarray(at + BATCH_HEADER_BYTES, end));
  } catch (error) {
    return { kind: "corrupt", reason: `cannot decompress (codec ${result.compression}): ${error}` };
  }
  // The same header over the plain records, marked uncompressed: readRecords does the rest.
  const rebuilt = Buffer.allocUnsafe(BATCH_HEADER_BYTES + plain.length);
  buffer.copy(rebuilt, 0, at, at + BATCH_HEADER_BYTES);
  plain.copy(rebuilt, BATCH_HEADER_BYTES);
  rebuilt.writeInt32BE(rebuilt.length - LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH);
  rebuilt.writeInt16BE(rebuilt.readInt16BE(OFFSET_ATTRIBUTES) & ~0x07, OFFSET_ATTRIBUTES);
  return readRecords(rebuilt, 0);
}

function decompress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Compression.gzip:
      return gunzipSync(data);
    case Compression.snappy:
      return snappy(data);
    case Compression.lz4:
      return decompressFrameSync(data);
    case Compression.zstd:
      return zstdDecompressSync(data);
    default:
      throw new Error(`unknown compression codec ${codec}`);
  }
}

function snappy(data: Buffer): Buffer {
  if (data.length < XERIAL_HEADER_BYTES || !data.subarray(0, 8).equals(XERIAL_MAGIC)) {
    return toBuffer(uncompressSync(data));
  }
  const blocks: Buffer[] = [];
  for (let at = XERIAL_HEADER_BYTES; at < data.length; ) {
    const length = data.readInt32BE(at);
    at += 4;
    if (length < 0 || at + length > data.length) throw new Error("truncated snappy block");
    blocks.push(toBuffer(uncompressSync(data.subarray(at, at + length))));
    at += length;
  }
  return Buffer.concat(blocks);
}

function toBuffer(value: string | Buffer): Buffer {
  return typeof value === "string" ? Buffer.from(value) : value;
}
