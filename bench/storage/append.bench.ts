/**
 * Partition log append throughput: 1 KiB records in batches of 10, several concurrent
 * appenders, under each fsync policy, against two baselines measured in the same run on the
 * same disk with the same volume:
 *
 *   sequential       the batches written back to back, one FileHandle.write each, one fsync at
 *                    the end: a plain sequential writer of the same batches (the target's base)
 *   sequential 1 MiB the same volume in 1 MiB writes, one fsync at the end: the disk's
 *                    bandwidth with almost no per-call cost, a stricter base shown alongside
 *   fsync per batch  write + fsync for every batch: a durable log without group commit
 *
 * The target is "always" >= 70% of sequential, which only group commit can reach.
 *
 *   node bench/storage/append.bench.ts [--mib 256] [--appenders 1,8,64] [--policies always,...]
 *
 * Prints one JSON line per measurement, then a table.
 */
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FsyncPolicy, PartitionLog } from "../../src/storage/log/index.ts";
import { buildRecordBatch } from "../../src/storage/log/records.ts";

const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 10;
/** fsync per batch is slow; it writes this share of the volume and is scaled up. */
const PER_BATCH_VOLUME_SHARE = 0.1;

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}

const volumeBytes = Number(argument("mib", "256")) * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;
const appenderCounts = argument("appenders", "1,8,64").split(",").map(Number);
const policies = argument("policies", "always,interval,never").split(",") as FsyncPolicy[];

function makeBatch(seed: number): Buffer {
  const records = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({
    timestamp: Date.now(),
    key: Buffer.from(`key-${seed}-${i}`),
    value: Buffer.alloc(RECORD_BYTES, (seed + i) & 0xff),
  }));
  return buildRecordBatch(records);
}

const batchBytes = makeBatch(0).length;
const batchCount = Math.ceil(volumeBytes / batchBytes);

interface Result {
  name: string;
  seconds: number;
  bytes: number;
  records: number;
  extra?: Record<string, number | string>;
}

function report(result: Result): Result & { mbPerSecond: number; recordsPerSecond: number } {
  const mbPerSecond = result.bytes / 1e6 / result.seconds;
  const recordsPerSecond = result.records / result.seconds;
  const line = {
    bench: "storage-append",
    ...result,
    mbPerSecond: Math.round(mbPerSecond * 10) / 10,
    recordsPerSecond: Math.round(recordsPerSecond),
  };
  console.log(JSON.stringify(line));
  return line;
}

async function withDirectory<T>(run: (directory: string) => Promise<T>): Promise<T> {
  const directory = await mkdtemp(join(tmpdir(), "rmq-bench-"));
  try {
    return await run(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

async function rawSequential(): Promise<Result> {
  return withDirectory(async (directory) => {
    const batch = makeBatch(1);
    const file = await open(join(directory, "raw.log"), "w");
    const start = performance.now();
    for (let i = 0; i < batchCount; i++) await file.write(batch, 0, batch.length, i * batch.length);
    await file.sync();
    const seconds = (performance.now() - start) / 1000;
    await file.close();
    const bytes = batchCount * batch.length;
    return { name: "baseline sequential", seconds, bytes, records: batchCount * RECORDS_PER_BATCH };
  });
}

async function rawChunks(): Promise<Result> {
  return withDirectory(async (directory) => {
    const batch = makeBatch(1);
    const perChunk = Math.floor(CHUNK_BYTES / batch.length);
    const chunk = Buffer.concat(Array.from({ length: perChunk }, () => batch));
    const chunkCount = Math.ceil(batchCount / perChunk);
    const file = await open(join(directory, "chunks.log"), "w");
    const start = performance.now();
    for (let i = 0; i < chunkCount; i++) await file.write(chunk, 0, chunk.length, i * chunk.length);
    await file.sync();
    const seconds = (performance.now() - start) / 1000;
    await file.close();
    const records = chunkCount * perChunk * RECORDS_PER_BATCH;
    return {
      name: "baseline sequential 1 MiB",
      seconds,
      bytes: chunkCount * chunk.length,
      records,
    };
  });
}

async function fsyncPerBatch(): Promise<Result> {
  return withDirectory(async (directory) => {
    const batch = makeBatch(1);
    const count = Math.max(1, Math.floor(batchCount * PER_BATCH_VOLUME_SHARE));
    const file = await open(join(directory, "per-batch.log"), "w");
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      await file.write(batch, 0, batch.length, i * batch.length);
      await file.sync();
    }
    const seconds = (performance.now() - start) / 1000;
    await file.close();
    const bytes = count * batch.length;
    return { name: "baseline fsync per batch", seconds, bytes, records: count * RECORDS_PER_BATCH };
  });
}

async function logAppend(policy: FsyncPolicy, appenders: number): Promise<Result> {
  return withDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, { fsync_policy: policy });
    let remaining = batchCount;
    // Each appender reuses its buffer: append rewrites only the baseOffset, outside the CRC.
    const appender = async (id: number) => {
      const batch = makeBatch(id);
      while (remaining > 0) {
        remaining--;
        await log.append(batch);
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: appenders }, (_, id) => appender(id)));
    const seconds = (performance.now() - start) / 1000;
    const stats = log.commitStats;
    await log.close();
    return {
      name: `log ${policy} x${appenders}`,
      seconds,
      bytes: batchCount * batchBytes,
      records: batchCount * RECORDS_PER_BATCH,
      extra: {
        policy,
        appenders,
        groups: stats.groupCount,
        batchesPerGroup: Math.round((stats.appendCount / stats.groupCount) * 10) / 10,
      },
    };
  });
}

async function main(): Promise<void> {
  const raw = report(await rawSequential());
  const chunks = report(await rawChunks());
  const perBatch = report(await fsyncPerBatch());
  const rows: Array<Array<string | number>> = [];
  const row = (result: ReturnType<typeof report>, perGroup = "") =>
    rows.push([
      result.name,
      result.mbPerSecond,
      result.recordsPerSecond,
      ratio(result, raw),
      ratio(result, chunks),
      perGroup,
    ]);
  for (const base of [raw, chunks, perBatch]) row(base);
  for (const policy of policies) {
    for (const appenders of appenderCounts) {
      const result = report(await logAppend(policy, appenders));
      row(result, String(result.extra?.batchesPerGroup ?? ""));
    }
  }
  const mib = (volumeBytes / 1048576).toFixed(0);
  console.log(`\n${mib} MiB, ${batchBytes}-byte batches of 10 x 1 KiB`);
  console.log("| run | MB/s | records/s | vs sequential | vs sequential 1 MiB | batches/group |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const one of rows) console.log(`| ${one.join(" | ")} |`);
}

function ratio(result: { mbPerSecond: number }, base: { mbPerSecond: number }): string {
  return (result.mbPerSecond / base.mbPerSecond).toFixed(2);
}

await main();
