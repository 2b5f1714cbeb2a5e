/**
 * The records of a batch whatever its codec. The log stores batches as produced and rarely needs
 * their contents: a compacted log checks every record has a key (Kafka's rule) and its cleaner
 * needs every key, and a produced compressed batch is opened once to check that its records are
 * what its header says (compressedRecordsProblem). gzip and zstd come with node:zlib; snappy and
 * lz4 with the napi-rs packages the broker already depends on.
 */
import { promisify } from "node:util";
import { gunzip, gunzipSync, zstdDecompress, zstdDecompressSync } from "node:zlib";
import { decompressFrame, decompressFrameSync } from "lz4-napi";
import { uncompress, uncompressSync } from "snappy";
import {
  BATCH_HEADER_BYTES,
  batchSizeBytes,
  Compression,
  LOG_OVERHEAD_BYTES,
  OFFSET_ATTRIBUTES,
  OFFSET_BATCH_LENGTH,
} from "./record-batch.ts";
import { plainRecordsProblem, type RecordsResult, readRecords } from "./records.ts";

const gunzipAsync = promisify(gunzip);
const zstdDecompressAsync = promisify(zstdDecompress);

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

/**
 * Why the records inside the compressed batch at `at` (whole, CRC already checked) are not what
 * its header says, as readRecords judges an uncompressed batch (every record well formed, as
 * many as the header counts, offset deltas increasing up to exactly lastOffsetDelta), or why it
 * does not decompress; null when they are, and for an uncompressed batch. Decompression runs off
 * the event loop (zlib's thread pool, the napi-rs tasks), so a large batch does not stall other
 * connections.
 */
export async function compressedRecordsProblem(batch: Buffer, at = 0): Promise<string | null> {
  const codec = batch.readInt16BE(at + OFFSET_ATTRIBUTES) & 0x07;
  if (codec === Compression.none) return null;
  const data = batch.subarray(at + BATCH_HEADER_BYTES, at + batchSizeBytes(batch, at));
  let plain: Buffer;
  try {
    plain = await decompressAsync(codec, data);
  } catch (error) {
    return `cannot decompress (codec ${codec}): ${error instanceof Error ? error.message : error}`;
  }
  return plainRecordsProblem(batch, at, plain, true);
}

function decompress(codec: number, data: Buffer): Buffer {
  switch (codec) {
    case Compression.gzip:
      return gunzipSync(data);
    case Compression.snappy: {
      const blocks = xerialBlocks(data);
      if (blocks === null) return toBuffer(uncompressSync(data));
      return Buffer.concat(blocks.map((block) => toBuffer(uncompressSync(block))));
    }
    case Compression.lz4:
      return decompressFrameSync(data);
    case Compression.zstd:
      return zstdDecompressSync(data);
    default:
      throw new Error(`unknown compression codec ${codec}`);
  }
}

async function decompressAsync(codec: number, data: Buffer): Promise<Buffer> {
  switch (codec) {
    case Compression.gzip:
      return gunzipAsync(data);
    case Compression.snappy: {
      const blocks = xerialBlocks(data);
      if (blocks === null) return toBuffer(await uncompress(data));
      const plain = await Promise.all(blocks.map((block) => uncompress(block)));
      return Buffer.concat(plain.map(toBuffer));
    }
    case Compression.lz4:
      return decompressFrame(data);
    case Compression.zstd:
      return zstdDecompressAsync(data);
    default:
      throw new Error(`unknown compression codec ${codec}`);
  }
}

/** The compressed blocks of snappy-java framing (views, not copies); null for raw snappy. */
function xerialBlocks(data: Buffer): Buffer[] | null {
  if (data.length < XERIAL_HEADER_BYTES || !data.subarray(0, 8).equals(XERIAL_MAGIC)) return null;
  const blocks: Buffer[] = [];
  for (let at = XERIAL_HEADER_BYTES; at < data.length; ) {
    if (data.length - at < 4) throw new Error("truncated snappy block length");
    const length = data.readInt32BE(at);
    at += 4;
    if (length < 0 || at + length > data.length) throw new Error("truncated snappy block");
    blocks.push(data.subarray(at, at + length));
    at += length;
  }
  return blocks;
}

function toBuffer(value: string | Buffer): Buffer {
  return typeof value === "string" ? Buffer.from(value) : value;
}
