/**
 * Plain records out of any Kafka record batch. Batches are stored as produced, compressed or
 * not; only the bridge, which republishes records as MQTT messages, needs their contents.
 * gzip and zstd come with node:zlib; snappy and lz4 with maintained napi-rs packages.
 */
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { decompressFrameSync } from "lz4-napi";
import { uncompressSync } from "snappy";
import {
  BATCH_HEADER_BYTES,
  batchSizeBytes,
  Compression,
  type LogRecord,
  OFFSET_ATTRIBUTES,
  OFFSET_BATCH_LENGTH,
  readRecords,
} from "../storage/log/index.ts";

/** snappy-java's stream framing, which Kafka's Java clients (and librdkafka) write. */
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;

export type DecodedBatch = { kind: "ok"; records: LogRecord[] } | { kind: "error"; reason: string };

/** The records of the (CRC-checked) batch at `at` of `buffer`. */
export function batchRecords(buffer: Buffer, at: number): DecodedBatch {
  const result = readRecords(buffer, at);
  if (result.kind === "ok") return result;
  if (result.kind === "corrupt") return { kind: "error", reason: result.reason };
  const end = at + batchSizeBytes(buffer, at);
  const compressed = buffer.subarray(at + BATCH_HEADER_BYTES, end);
  let plain: Buffer;
  try {
    plain = decompress(result.compression, compressed);
  } catch (err) {
    return {
      kind: "error",
      reason: `cannot decompress (codec ${result.compression}): ${String(err)}`,
    };
  }
  // The same header, marked uncompressed, over the plain records: readRecords does the rest.
  const rebuilt = Buffer.allocUnsafe(BATCH_HEADER_BYTES + plain.length);
  buffer.copy(rebuilt, 0, at, at + BATCH_HEADER_BYTES);
  plain.copy(rebuilt, BATCH_HEADER_BYTES);
  rebuilt.writeInt32BE(rebuilt.length - 12, OFFSET_BATCH_LENGTH);
  rebuilt.writeInt16BE(rebuilt.readInt16BE(OFFSET_ATTRIBUTES) & ~0x07, OFFSET_ATTRIBUTES);
  const decoded = readRecords(rebuilt, 0);
  return decoded.kind === "ok"
    ? decoded
    : { kind: "error", reason: "bad records after decompression" };
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
