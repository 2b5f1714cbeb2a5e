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

/**
 * The most a batch may decompress to. A few KiB of gzip or zstd can expand to gigabytes; without
 * a bound one produce request could exhaust the broker's memory. Real batches stay far below it
 * (a producer's batch.size is tens of KiB; the log takes at most 8 MiB per batch as stored).
 */
export const DECOMPRESSED_BATCH_BYTES_MAX = 64 * 1024 * 1024;
const TOO_LARGE = `decompresses to more than ${DECOMPRESSED_BATCH_BYTES_MAX} bytes`;
const ZLIB_BOUND = { maxOutputLength: DECOMPRESSED_BATCH_BYTES_MAX };

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
      return bounded(() => gunzipSync(data, ZLIB_BOUND));
    case Compression.snappy: {
      const blocks = xerialBlocks(data) ?? [data];
      checkSnappyBound(blocks);
      return Buffer.concat(blocks.map((block) => toBuffer(uncompressSync(block))));
    }
    case Compression.lz4:
      checkLz4Bound(data);
      return decompressFrameSync(data);
    case Compression.zstd:
      return bounded(() => zstdDecompressSync(data, ZLIB_BOUND));
    default:
      throw new Error(`unknown compression codec ${codec}`);
  }
}

async function decompressAsync(codec: number, data: Buffer): Promise<Buffer> {
  switch (codec) {
    case Compression.gzip:
      return gunzipAsync(data, ZLIB_BOUND).catch(tooLargeOr);
    case Compression.snappy: {
      const blocks = xerialBlocks(data) ?? [data];
      checkSnappyBound(blocks);
      const plain = await Promise.all(blocks.map((block) => uncompress(block)));
      return Buffer.concat(plain.map(toBuffer));
    }
    case Compression.lz4:
      checkLz4Bound(data);
      return decompressFrame(data);
    case Compression.zstd:
      return zstdDecompressAsync(data, ZLIB_BOUND).catch(tooLargeOr);
    default:
      throw new Error(`unknown compression codec ${codec}`);
  }
}

function bounded(run: () => Buffer): Buffer {
  try {
    return run();
  } catch (error) {
    return tooLargeOr(error);
  }
}

/** zlib's own error for maxOutputLength says "Cannot create a Buffer larger than ...". */
function tooLargeOr(error: unknown): never {
  if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw new Error(TOO_LARGE);
  throw error;
}

/** A raw snappy block starts with its uncompressed length (a little-endian base-128 varint). */
function checkSnappyBound(blocks: Buffer[]): void {
  let total = 0;
  for (const block of blocks) {
    let length = 0;
    for (let i = 0, shift = 0; ; i++, shift += 7) {
      if (i >= block.length || i >= 5) throw new Error("bad snappy length");
      length += (block[i] & 0x7f) * 2 ** shift;
      if ((block[i] & 0x80) === 0) break;
    }
    total += length;
    if (total > DECOMPRESSED_BATCH_BYTES_MAX) throw new Error(TOO_LARGE);
  }
}

const LZ4_MAGIC = 0x184d2204;
const LZ4_BLOCK_MAX_BYTES = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

/**
 * An LZ4 frame's blocks each decompress to at most the frame's block maximum, so their count
 * bounds the whole without decompressing (the frame's content size, when present, is not to be
 * trusted more than that). Frames that do not parse are left to the decompressor to refuse.
 */
function checkLz4Bound(data: Buffer): void {
  if (data.length < 7 || data.readUInt32LE(0) !== LZ4_MAGIC) return;
  const flags = data[4];
  const blockMax = LZ4_BLOCK_MAX_BYTES[(data[5] >> 4) & 0x07];
  let at = 7 + (flags & 0x08 ? 8 : 0) + (flags & 0x01 ? 4 : 0);
  const blockChecksum = flags & 0x10 ? 4 : 0;
  let bound = 0;
  while (at + 4 <= data.length) {
    const size = data.readUInt32LE(at) & 0x7fffffff;
    if (size === 0) return; // end mark
    bound += blockMax;
    if (bound > DECOMPRESSED_BATCH_BYTES_MAX) throw new Error(TOO_LARGE);
    at += 4 + size + blockChecksum;
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
