/**
 * Kafka speed against the storage engine underneath, in one run on one machine:
 *
 *   (a) storage   PartitionLog directly: append throughput of 1 KiB records in batches for
 *                 --seconds (--fsync-policy, default always; as many concurrent appends as the
 *                 Kafka producers keep in flight), then read throughput of that log in 1 MiB
 *                 reads, --read-passes times over
 *   (b) kafka     `robustmq bench kafka produce` against a fresh broker (the same fsync policy
 *                 for its Kafka topics) with the same records, batches and concurrency into a
 *                 1-partition topic, for --seconds; then `consume` of that topic's backlog,
 *                 --read-passes times over
 *   (c) latency   produce-to-consume latency at a fixed rate, p50/p99
 *   (d) reference storage append where each appender waits 1 ms after its acknowledgement
 *                 before appending again, as a producer across a network does, against the
 *                 plain storage append just before it: what that wait alone costs group commit
 *   (e) reference the same log's bytes read from another process over loopback TCP, sent with
 *                 sendfile, 1 MiB per request, no protocol (loopback.ts), against the storage
 *                 read just before it: what moving the bytes alone costs, which bounds consume
 *
 * The machine's speed moves from one minute to the next (shared cores and disk), so every
 * Kafka figure is paired with a storage figure taken just before it: storage append and read,
 * then Kafka produce and consume, once for acks=1 and once for acks=-1. The ratios (target
 * >= 0.70) are per pair; everything is repeated --repeat times and reported as median with
 * min-max.
 *
 *   node bench/kafka/throughput.bench.ts [--repeat 3] [--seconds 5] [--producers 8]
 *        [--inflight 5] [--batch 10] [--latency-rate 1000] [--workers 1] [--warmup-seconds 2]
 *        [--fsync-policy always|interval|never] [--read-passes 5] [--cpu-prof <dir>]
 *
 * 8 producers with Kafka's default of 5 requests in flight each: enough concurrency for the
 * throughput of both sides, not the round trip of the produce requests, to be measured (see
 * bench/README.md for fewer in flight). The generator runs with --workers (1) threads, and a
 * --warmup-seconds produce into another topic precedes the measured runs on each fresh broker:
 * without it the first measured run paid the broker's JIT warm-up.
 *
 * Prints one JSON line per measurement, then a Markdown table.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KafkaBenchSummary } from "../../src/bench/kafka/summary.ts";
import { FSYNC_POLICIES, type FsyncPolicy, PartitionLog } from "../../src/storage/log/index.ts";
import { buildRecordBatch } from "../../src/storage/log/records.ts";
import { runBenchCli } from "../../test/helpers/bench-cli.ts";
import { startBroker } from "../../test/helpers/broker-process.ts";
import { loopbackRead } from "./loopback.ts";

const RECORD_BYTES = 1024;
const READ_BYTES = 1024 * 1024;
/** Reused in turn (one alone stays in the CPU cache and reads faster than any real reader). */
const READ_BUFFERS = 8;

function argument(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}

const repeat = Number(argument("repeat", "3"));
const seconds = Number(argument("seconds", "5"));
const producers = Number(argument("producers", "8"));
const inflight = Number(argument("inflight", "5"));
const batchRecords = Number(argument("batch", "10"));
const latencyRate = Number(argument("latency-rate", "1000"));
/** Generator worker threads: one keeps up with the load, and leaves the other core to the broker. */
const workers = argument("workers", "1");
/** Unmeasured produce into a fresh broker first, so neither acks setting pays its JIT warm-up. */
const warmupSeconds = Number(argument("warmup-seconds", "2"));
const cpuProfDir = argument("cpu-prof", "");
/**
 * Both reads (storage, Kafka consume) go over the data this many times: once, 500 MB took half
 * a second, and the consumer process's start (cold JIT) weighed on the figure.
 */
const readPasses = Number(argument("read-passes", "5"));
/** The fsync policy of both sides: the broker's Kafka topics and the storage appends. */
const fsyncPolicy = argument("fsync-policy", "always") as FsyncPolicy;
if (!FSYNC_POLICIES.includes(fsyncPolicy)) {
  throw new Error(`--fsync-policy ${fsyncPolicy}: one of ${FSYNC_POLICIES.join(", ")}`);
}

interface Measurement {
  name: string;
  recordsPerSecond: number;
  mbPerSecond: number;
  p50Micros?: number;
  p99Micros?: number;
}

function emit(run: number, m: Measurement): Measurement {
  console.log(JSON.stringify({ bench: "kafka-throughput", run, ...m }));
  return m;
}

function makeBatch(seed: number): Buffer {
  const records = Array.from({ length: batchRecords }, (_, i) => ({
    timestamp: Date.now(),
    key: null,
    value: Buffer.alloc(RECORD_BYTES, (seed + i) & 0xff),
  }));
  return buildRecordBatch(records);
}

async function withDirectory<T>(run: (directory: string) => Promise<T>): Promise<T> {
  const directory = await mkdtemp(join(tmpdir(), "rmq-kbench-"));
  try {
    return await run(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

function rates(name: string, records: number, bytes: number, ms: number): Measurement {
  return {
    name,
    recordsPerSecond: Math.round(records / (ms / 1000)),
    mbPerSecond: Math.round((bytes / 1e6 / (ms / 1000)) * 10) / 10,
  };
}

/**
 * (a) append for --seconds with producers x inflight concurrent appends, then read it all back.
 * With `returnMs` > 0 each appender waits that long after its acknowledgement before it appends
 * again, as a producer across a network does: a reference for what that wait alone costs.
 * `withLoopback`: (e) on the same log as well, before it is removed.
 */
async function storage(
  policy: FsyncPolicy,
  returnMs = 0,
  withLoopback = false,
): Promise<[Measurement, Measurement, Measurement | null]> {
  return withDirectory(async (directory) => {
    const log = await PartitionLog.open(directory, { fsync_policy: policy });
    const batchBytes = makeBatch(0).length;
    let batchCount = 0;
    const deadline = performance.now() + seconds * 1000;
    // Each appender reuses its buffer: append rewrites only the baseOffset, outside the CRC.
    const appender = async (id: number) => {
      const batch = makeBatch(id);
      while (performance.now() < deadline) {
        await log.append(batch);
        batchCount++;
        if (returnMs > 0) await new Promise((resolve) => setTimeout(resolve, returnMs));
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: producers * inflight }, (_, id) => appender(id)));
    const appendMs = performance.now() - start;
    const records = batchCount * batchRecords;
    const label = returnMs > 0 ? `, appenders back ${returnMs} ms after their ack` : "";
    const name = `storage append ${policy}${label}`;
    const append = rates(name, records, batchCount * batchBytes, appendMs);
    // Each pass reads the whole log in READ_BYTES slices into reused buffers, as the broker
    // reads into pooled ones (a fresh buffer per read halves this figure: garbage collection);
    // offsets follow from the last whole batch of each slice.
    const ring = Array.from({ length: READ_BUFFERS }, () => Buffer.allocUnsafeSlow(READ_BYTES));
    const readStart = performance.now();
    let bytes = 0;
    for (let pass = 0; pass < readPasses; pass++) {
      let offset = log.logStartOffset;
      for (let reads = 0; offset < log.logEndOffset && reads < 1e7; reads++) {
        const slice = await log.read(offset, READ_BYTES);
        if (slice.sizeBytes === 0) break;
        const into = slice.sizeBytes <= READ_BYTES ? ring[reads % READ_BUFFERS] : undefined;
        const data = await log.readSlice(slice, into);
        bytes += data.length;
        let at = 0;
        let last = offset;
        while (at + 61 <= data.length) {
          const size = 12 + data.readInt32BE(at + 8);
          if (at + size > data.length) break;
          last = Number(data.readBigInt64BE(at)) + data.readInt32BE(at + 23) + 1;
          at += size;
        }
        offset = last;
      }
    }
    const readRecords = readPasses * batchCount * batchRecords;
    const read = rates("storage read", readRecords, bytes, performance.now() - readStart);
    await log.close();
    if (!withLoopback) return [append, read, null];
    const loop = await loopbackRead(directory, readPasses);
    const loopName = "loopback reference: the log sent to another process, no protocol";
    return [append, read, rates(loopName, readRecords, loop.bytes, loop.ms)];
  });
}

/** Runs `robustmq bench kafka ...` with --json; rejects on no summary. */
async function benchKafka(args: string[]): Promise<KafkaBenchSummary> {
  const { summary } = await runBenchCli<KafkaBenchSummary>("kafka", args, (seconds + 120) * 1000);
  if (!summary.ok)
    console.error(`bench kafka ${args.join(" ")}: ${JSON.stringify(summary.errors)}`);
  return summary;
}

interface Pair {
  /** The Kafka figure, and the storage figure taken just before it. */
  kafka: Measurement;
  base: Measurement;
}

function rate(
  name: string,
  summary: { recordsPerSecond: number; throughputBytesPerSecond: number } | null | undefined,
): Measurement {
  return {
    name,
    recordsPerSecond: Math.round(summary?.recordsPerSecond ?? 0),
    mbPerSecond: Math.round(((summary?.throughputBytesPerSecond ?? 0) / 1e6) * 10) / 10,
  };
}

/** (a) to (e) around one fresh broker: storage, then Kafka, per acks setting. */
async function kafka(run: number, keep: (m: Measurement) => void): Promise<Pair[]> {
  // The profile flags reach only the broker: the generator processes start after they are reset.
  const nodeOptions = process.env.NODE_OPTIONS;
  if (cpuProfDir !== "") process.env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${cpuProfDir}`;
  const config = `[kafka]\nfsync_policy = "${fsyncPolicy}"\n`;
  const broker = await startBroker({ logLevel: "info", config }).finally(() => {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
  });
  try {
    const port = String(broker.kafkaPort);
    const common = [
      ...["-p", port, "-s", String(RECORD_BYTES), "-b", String(batchRecords)],
      ...["--workers", workers],
    ];
    const load = [...common, "--producers", String(producers), "--inflight", String(inflight)];
    if (warmupSeconds > 0) {
      const warmup = ["-t", `tp-warmup-${run}`, "--partitions", "1", "--acks", "-1"];
      await benchKafka(["produce", ...load, ...warmup, "-d", String(warmupSeconds)]);
    }
    const pairs: Pair[] = [];
    for (const acks of ["1", "-1"]) {
      if (acks === "-1") {
        // Not a base: group commit when every appender comes back a timer tick after its ack.
        const [base] = await storage(fsyncPolicy);
        const [late] = await storage(fsyncPolicy, 1);
        keep(late);
        pairs.push({ kafka: late, base });
      }
      // (e) once per run, in the first pair.
      const [append, read, loop] = await storage(fsyncPolicy, 0, acks === "1");
      keep(append);
      keep(read);
      if (loop !== null) {
        keep(loop);
        pairs.push({ kafka: loop, base: read });
      }
      const topic = `tp-acks${acks === "1" ? "1" : "all"}-${run}`;
      const produced = await benchKafka([
        "produce",
        ...load,
        ...["-t", topic, "--partitions", "1", "--acks", acks, "-d", String(seconds)],
      ]);
      const p = produced.produce;
      const produce = {
        ...rate(`kafka produce acks=${acks}`, p),
        p50Micros: p?.ackLatencyMicros?.p50,
        p99Micros: p?.ackLatencyMicros?.p99,
      };
      keep(produce);
      pairs.push({ kafka: produce, base: append });
      const consumed = await benchKafka([
        "consume",
        ...["-p", port, "--workers", workers, "-t", topic, "--consumers", "1", "-d", "120"],
        ...["--passes", String(readPasses)],
      ]);
      const consume = rate(`kafka consume (acks=${acks} topic)`, consumed.consume);
      keep(consume);
      pairs.push({ kafka: consume, base: read });
    }
    const latency = await benchKafka([
      "produce",
      ...common,
      ...["-t", `tp-latency-${run}`, "--partitions", "1", "--producers", "1"],
      ...["--consumers", "1", "--acks", "-1", "-r", String(latencyRate), "-d", String(seconds)],
    ]);
    const l = latency.consume?.latencyMicros;
    keep({
      ...rate(`kafka latency at ${latencyRate} records/s`, latency.consume),
      p50Micros: l?.p50,
      p99Micros: l?.p99,
    });
    return pairs;
  } finally {
    await broker.stop("SIGTERM");
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function spread(values: number[]): string {
  return `${median(values)} (${Math.min(...values)}-${Math.max(...values)})`;
}

async function main(): Promise<void> {
  const byName = new Map<string, Measurement[]>();
  const ratios = new Map<string, number[]>();
  for (let run = 1; run <= repeat; run++) {
    const keep = (m: Measurement) => {
      emit(run, m);
      byName.set(m.name, [...(byName.get(m.name) ?? []), m]);
    };
    for (const { kafka: m, base } of await kafka(run, keep)) {
      const ratio = Math.round((m.mbPerSecond / base.mbPerSecond) * 100) / 100;
      ratios.set(m.name, [...(ratios.get(m.name) ?? []), ratio]);
      console.log(JSON.stringify({ bench: "kafka-throughput", run, ratio: m.name, value: ratio }));
    }
  }
  console.log(
    `\n${repeat} runs; 1 KiB records, batches of ${batchRecords}, ${producers} producers x ${inflight} in flight (storage: ${producers * inflight} concurrent appends), 1 partition, ${seconds} s each`,
  );
  console.log(
    "| measurement | records/s | MB/s | vs storage just before (target >= 0.70) | p50 | p99 |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  const ms = (values: Array<number | undefined>) =>
    values.every((v) => v !== undefined)
      ? spread(values.map((v) => Math.round((v ?? 0) / 100) / 10))
      : "";
  for (const [name, list] of byName) {
    const ratio = ratios.get(name);
    console.log(
      `| ${name} | ${spread(list.map((m) => m.recordsPerSecond))} | ${spread(list.map((m) => m.mbPerSecond))} | ${ratio === undefined ? "" : spread(ratio)} | ${ms(list.map((m) => m.p50Micros))} | ${ms(list.map((m) => m.p99Micros))} |`,
    );
  }
  console.log("(median (min-max); latencies in ms)");
}

await main();
