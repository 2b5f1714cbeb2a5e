/**
 * Partition log recovery time after a crash: a child process appends 1 KiB records (batches of
 * 10, several concurrent appenders) until the log holds the target size, the parent SIGKILLs it
 * while appends are still in flight, and fresh processes then time PartitionLog.open on the
 * directory: the scan of the active segment (every batch read and CRC-checked), the truncation
 * of any torn tail, the rebuild of its indexes, and the index loading of the closed segments.
 *
 * Two variants: the default 1 GiB segments (the whole log is one active segment, the worst
 * case) and 128 MiB segments (closed segments load from their index files; only the active
 * one is scanned). Target: under 2 s for 1 GiB.
 *
 * The kill leaves the written bytes in the page cache, as a process crash does, so this is the
 * restart-after-crash figure; after a machine crash the first scan also reads the segment from
 * the disk.
 *
 *   node bench/storage/recovery.bench.ts [--mib 1024] [--segments-mib 1024,128] [--opens 3]
 *       [--records-per-batch 10] [--appenders 64] [--policy always] [--cpu-prof DIR]
 *
 * Each open runs in its own process, as a restart does (module loading is not timed). The first
 * open is the recovery proper (it repairs); later opens of the same directory show the spread.
 * Prints one JSON line per variant, then a table.
 */
import { type ChildProcess, fork } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type FsyncPolicy, PartitionLog } from "../../src/storage/log/index.ts";
import { buildRecordBatch } from "../../src/storage/log/records.ts";
import { newestFile, topSelfTime } from "../compare/profile.ts";

const MIB = 1024 * 1024;
const RECORD_BYTES = 1024;
/** The child reports once the log is this close to the target, and the parent kills it then. */
const KILL_MARGIN_BYTES_MAX = 8 * MIB;
const PROFILE_TOP = 12;
const SELF = fileURLToPath(import.meta.url);

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}

/** Sent by the writer when the log is near the target. */
interface NearMessage {
  kind: "near";
  /** One past the highest acknowledged offset: all of these must survive the kill. */
  ackedEndOffset: number;
  sizeBytes: number;
}

/** Sent by an opener. */
interface OpenedMessage {
  kind: "opened";
  openMs: number;
  segmentCount: number;
  logStartOffset: number;
  logEndOffset: number;
  sizeBytes: number;
  /** Size of the active segment after recovery: the bytes the open scanned in full. */
  activeBytes: number;
  truncatedBytes: number;
  truncatedReason: string | null;
  indexesRebuilt: number;
  corruptRegions: number;
}

/** Records per batch: 10 as in append.bench.ts; 1 gives the most batches per byte to check. */
const recordsPerBatch = Number(argument("records-per-batch", "10"));

function makeBatch(seed: number): Buffer {
  const records = Array.from({ length: recordsPerBatch }, (_, i) => ({
    timestamp: Date.now(),
    key: Buffer.from(`key-${seed}-${i}`),
    value: Buffer.alloc(RECORD_BYTES, (seed + i) & 0xff),
  }));
  return buildRecordBatch(records);
}

/** Child: appends until the parent kills it, never past the target (which would roll). */
async function writer(): Promise<void> {
  const directory = argument("dir", "");
  const segmentBytes = Number(argument("segment-bytes", "0"));
  const targetBytes = Number(argument("target-bytes", "0"));
  const appenders = Number(argument("appenders", "64"));
  const policy = argument("policy", "always") as FsyncPolicy;
  const log = await PartitionLog.open(directory, {
    segment_bytes: segmentBytes,
    fsync_policy: policy,
  });
  const batchBytes = makeBatch(0).length;
  // Each appender has at most one batch in flight, so stopping here keeps the log at or under
  // the target: with target = segment size, the active segment is as large as it gets.
  const limit = targetBytes - appenders * batchBytes;
  const nearAt = targetBytes - Math.min(KILL_MARGIN_BYTES_MAX, targetBytes / 8);
  let ackedEndOffset = 0;
  let told = false;
  const appender = async (id: number) => {
    const batch = makeBatch(id);
    while (log.sizeBytes < limit) {
      const result = await log.append(batch);
      ackedEndOffset = Math.max(ackedEndOffset, result.lastOffset + 1);
      if (!told && log.sizeBytes >= nearAt) {
        told = true;
        const message: NearMessage = { kind: "near", ackedEndOffset, sizeBytes: log.sizeBytes };
        process.send?.(message);
      }
    }
  };
  await Promise.all(Array.from({ length: appenders }, (_, id) => appender(id)));
  // Reached the limit before the kill: wait for it, appends stopped (the parent reports this).
  process.send?.({ kind: "limit" });
  await new Promise(() => {});
}

/** Child: one timed open, as a restarting broker does it. */
async function opener(): Promise<void> {
  const directory = argument("dir", "");
  const segmentBytes = Number(argument("segment-bytes", "0"));
  const start = performance.now();
  const log = await PartitionLog.open(directory, { segment_bytes: segmentBytes });
  const openMs = performance.now() - start;
  const report = log.recoveryReport;
  const cut = report.truncated[0];
  const logs = (await readdir(directory)).filter((name) => name.endsWith(".log")).sort();
  const active = logs.at(-1);
  const message: OpenedMessage = {
    kind: "opened",
    openMs,
    segmentCount: log.segmentCount,
    logStartOffset: log.logStartOffset,
    logEndOffset: log.logEndOffset,
    sizeBytes: log.sizeBytes,
    activeBytes: active === undefined ? 0 : (await stat(join(directory, active))).size,
    truncatedBytes: cut === undefined ? 0 : cut.fromBytes - cut.toBytes,
    truncatedReason: cut?.reason ?? null,
    indexesRebuilt: report.indexesRebuilt.length,
    corruptRegions: report.corruptRegions.length,
  };
  process.send?.(message);
  await log.close();
}

function child(role: string, args: string[], execArgv: string[] = []): ChildProcess {
  return fork(SELF, ["--role", role, ...args], {
    execArgv,
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
}

function exited(process: ChildProcess): Promise<number | string | null> {
  return new Promise((resolve) => process.once("exit", (code, signal) => resolve(signal ?? code)));
}

async function logFileBytes(directory: string): Promise<{ bytes: number; files: number }> {
  const names = (await readdir(directory)).filter((name) => name.endsWith(".log"));
  let bytes = 0;
  for (const name of names) bytes += (await stat(join(directory, name))).size;
  return { bytes, files: names.length };
}

/** Writes, kills mid-append, then opens `opens` times; returns the measurements. */
async function variant(
  targetBytes: number,
  segmentBytes: number,
  opens: number,
  profileDir: string | null,
) {
  const directory = await mkdtemp(join(tmpdir(), "rmq-recovery-"));
  try {
    const appenders = argument("appenders", "64");
    const policy = argument("policy", "always");
    const common = [
      ...["--dir", directory, "--segment-bytes", String(segmentBytes)],
      ...["--records-per-batch", String(recordsPerBatch)],
    ];
    const writing = child("write", [
      ...common,
      ...["--target-bytes", String(targetBytes), "--appenders", appenders, "--policy", policy],
    ]);
    const writeStart = performance.now();
    let stoppedAtLimit = false;
    const near = await new Promise<NearMessage>((resolve, reject) => {
      writing.on("message", (message: NearMessage | { kind: "limit" }) => {
        if (message.kind === "near") {
          writing.kill("SIGKILL");
          resolve(message);
        } else stoppedAtLimit = true;
      });
      writing.once("exit", (code) => reject(new Error(`writer exited early (${code})`)));
    });
    const signal = await exited(writing);
    const writeSeconds = (performance.now() - writeStart) / 1000;
    const onDisk = await logFileBytes(directory);
    const runs: OpenedMessage[] = [];
    for (let i = 0; i < opens; i++) {
      const execArgv: string[] = [];
      let runProfileDir: string | null = null;
      if (profileDir !== null && i === 0) {
        runProfileDir = join(profileDir, `segments-${segmentBytes / MIB}mib`);
        await mkdir(runProfileDir, { recursive: true });
        execArgv.push("--cpu-prof", "--cpu-prof-dir", runProfileDir);
      }
      const opening = child("open", common, execArgv);
      const done = exited(opening);
      const opened = await new Promise<OpenedMessage>((resolve, reject) => {
        opening.once("message", (message: OpenedMessage) => resolve(message));
        opening.once("exit", (code) => reject(new Error(`opener exited (${code})`)));
      });
      const code = await done;
      if (code !== 0) throw new Error(`opener exited with ${code}`);
      runs.push(opened);
      if (runProfileDir !== null) printProfile(runProfileDir);
    }
    const first = runs[0];
    return {
      bench: "storage-recovery",
      targetMib: targetBytes / MIB,
      segmentMib: segmentBytes / MIB,
      policy,
      appenders: Number(appenders),
      recordsPerBatch,
      writeSeconds: round(writeSeconds, 2),
      killedBy: signal,
      stoppedAtLimit,
      ackedEndOffset: near.ackedEndOffset,
      onDiskMib: round(onDisk.bytes / MIB, 1),
      segmentFiles: onDisk.files,
      recoveryMs: round(first.openMs, 1),
      laterOpensMs: runs.slice(1).map((run) => round(run.openMs, 1)),
      activeMib: round(first.activeBytes / MIB, 1),
      segmentCount: first.segmentCount,
      logEndOffset: first.logEndOffset,
      acknowledgedSurvived: first.logEndOffset >= near.ackedEndOffset,
      truncatedBytes: first.truncatedBytes,
      truncatedReason: first.truncatedReason,
      indexesRebuilt: first.indexesRebuilt,
      corruptRegions: first.corruptRegions,
    };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

function printProfile(directory: string): void {
  const file = newestFile(directory, ".cpuprofile");
  if (file === null) return;
  console.log(`cpu profile ${file}`);
  for (const row of topSelfTime(file, PROFILE_TOP)) {
    console.log(`  ${row.percent.toFixed(1).padStart(5)}%  ${row.where}`);
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

async function main(): Promise<void> {
  const targetBytes = Number(argument("mib", "1024")) * MIB;
  const segmentSizes = argument("segments-mib", "1024,128")
    .split(",")
    .map((mib) => Number(mib) * MIB);
  const opens = Number(argument("opens", "3"));
  const profileDir = argument("cpu-prof", "") || null;
  const rows: Array<Awaited<ReturnType<typeof variant>>> = [];
  for (const segmentBytes of segmentSizes) {
    const row = await variant(targetBytes, segmentBytes, opens, profileDir);
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  console.log(
    `\n${targetBytes / MIB} MiB log, ${makeBatch(0).length}-byte batches of ${recordsPerBatch} x 1 KiB, killed mid-append`,
  );
  console.log(
    "| segments | on disk MiB | segment files | active MiB | recovery ms | later opens ms | truncated bytes | indexes rebuilt | acked survived |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
  for (const row of rows) {
    const cells = [
      `${row.segmentMib} MiB`,
      row.onDiskMib,
      row.segmentFiles,
      row.activeMib,
      row.recoveryMs,
      row.laterOpensMs.join(", "),
      row.truncatedBytes,
      row.indexesRebuilt,
      row.acknowledgedSurvived ? "yes" : "**no**",
    ];
    console.log(`| ${cells.join(" | ")} |`);
  }
}

const role = argument("role", "main");
if (role === "write") await writer();
else if (role === "open") await opener();
else await main();
