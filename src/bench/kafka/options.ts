/**
 * The options of `robustmq bench kafka produce|consume`, validated all at once: every problem
 * names the flag, the value and what is allowed (RMQ_ERR_BENCH_INVALID_OPTION, exit status 2).
 * Pure.
 */
import { PAYLOAD_HEADER_BYTES } from "../limits.ts";
import { FlagReader } from "../option-reader.ts";
import {
  readConnectTimeoutMs,
  readCount,
  readDurationMs,
  readHost,
  readWorkers,
} from "../shared/options.ts";
import {
  BATCH_BYTES_MAX,
  BATCH_RECORDS_DEFAULT,
  BATCH_RECORDS_MAX,
  INFLIGHT_DEFAULT,
  INFLIGHT_MAX,
  KAFKA_CLIENTS_MAX,
  KAFKA_PORT_DEFAULT,
  LINGER_MS_MAX,
  PARTITIONS_MAX,
  RECORD_SIZE_BYTES_DEFAULT,
  RECORD_SIZE_BYTES_MAX,
  TOPIC_DEFAULT,
} from "./limits.ts";
import type { KafkaCommand, RawKafkaFlags } from "./option-specs.ts";

export type Acks = 0 | 1 | -1;
export type KafkaCompression = "none" | "gzip" | "zstd";
export type StartPosition = "earliest" | "latest";

/** A validated run. Structured-clone safe: it is handed to every worker as is. */
export interface KafkaBenchOptions {
  command: KafkaCommand;
  host: string;
  port: number;
  topic: string;
  /** Partitions of the topic if the run creates it. */
  partitionCount: number;
  producerCount: number;
  consumerCount: number;
  recordSizeBytes: number;
  batchRecordCount: number;
  lingerMs: number;
  acks: Acks;
  compression: KafkaCompression;
  /** Records per second per producer; 0 = unlimited. */
  ratePerSecond: number;
  inflightCountMax: number;
  durationMs: number;
  /** Records per producer (produce) or per consumer (consume); null = until --duration. */
  recordCountPerClient: number | null;
  /** consume: where reading starts. produce: consumers start at the end. */
  from: StartPosition;
  /** consume: keep reading after the backlog present at the start. */
  follow: boolean;
  /** consume: how many times each consumer reads its backlog (1 without one). */
  passes: number;
  connectTimeoutMs: number;
  workerCount: number;
  json: boolean;
}

const PASSES_MAX = 1000;
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's topic name rules; null when `name` follows them. */
export function topicNameProblem(name: string): string | null {
  if (name === "." || name === "..") return 'must not be "." or ".."';
  if (!TOPIC_NAME.test(name)) return "must be 1 to 249 characters of a-z A-Z 0-9 . _ -";
  return null;
}

/** Validates the flags of `command`; throws RobustMQError(BENCH_INVALID_OPTION) listing all problems. */
export function parseKafkaOptions(
  command: KafkaCommand,
  flags: RawKafkaFlags,
  cpuCount: number,
): KafkaBenchOptions {
  const reader = new FlagReader();
  const producing = command === "produce";
  const host = readHost(reader, flags.host);
  const producerCount = producing
    ? reader.integer("--producers", flags.producers, 1, KAFKA_CLIENTS_MAX, 1)
    : 0;
  const consumerCount = reader.integer(
    "--consumers",
    flags.consumers,
    producing ? 0 : 1,
    KAFKA_CLIENTS_MAX,
    producing ? 0 : 1,
  );
  if (producerCount + consumerCount > KAFKA_CLIENTS_MAX) {
    reader.problem(
      "--consumers",
      flags.consumers,
      `producers and consumers together must be at most ${KAFKA_CLIENTS_MAX}`,
    );
  }
  const count = readCount(reader, flags.count);
  const from = reader.choice(
    "--from",
    flags.from,
    { earliest: "earliest", latest: "latest" } as const,
    "earliest",
  );
  const recordMin = consumerCount > 0 ? PAYLOAD_HEADER_BYTES : 0;
  const options: KafkaBenchOptions = {
    command,
    host,
    port: reader.integer("--port", flags.port, 1, 65_535, KAFKA_PORT_DEFAULT),
    topic: reader.pattern("--topic", flags.topic, TOPIC_DEFAULT, topicNameProblem),
    partitionCount: reader.integer(
      "--partitions",
      flags.partitions,
      1,
      PARTITIONS_MAX,
      Math.min(PARTITIONS_MAX, Math.max(1, producerCount, consumerCount)),
    ),
    producerCount,
    consumerCount,
    recordSizeBytes: reader.integer(
      "--record-size",
      flags.recordSize,
      recordMin,
      RECORD_SIZE_BYTES_MAX,
      RECORD_SIZE_BYTES_DEFAULT,
      recordMin > 0
        ? " (bytes; with consumers each value starts with a 16-byte timestamp header)"
        : " (bytes)",
    ),
    batchRecordCount: reader.integer(
      "--batch-size",
      flags.batchSize,
      1,
      BATCH_RECORDS_MAX,
      BATCH_RECORDS_DEFAULT,
      " (records)",
    ),
    lingerMs: reader.decimal("--linger", flags.linger, 0, LINGER_MS_MAX, 0, " (milliseconds)"),
    acks: reader.choice("--acks", flags.acks, { "0": 0, "1": 1, "-1": -1, all: -1 } as const, -1),
    compression: reader.choice(
      "--compression",
      flags.compression,
      { none: "none", gzip: "gzip", zstd: "zstd" } as const,
      "none",
    ),
    ratePerSecond: reader.decimal(
      "--rate",
      flags.rate,
      0,
      10_000_000,
      0,
      " (records per second, 0 = unlimited)",
    ),
    inflightCountMax: reader.integer(
      "--inflight",
      flags.inflight,
      1,
      INFLIGHT_MAX,
      INFLIGHT_DEFAULT,
    ),
    durationMs: readDurationMs(reader, flags.duration, count),
    recordCountPerClient: count,
    // produce's consumers read what the run produces: from the end, for the whole run.
    from: producing ? "latest" : from,
    // Reading from the end has no backlog to stop at: it follows for the whole run.
    follow: producing || flags.follow === true || from === "latest",
    passes: reader.integer("--passes", flags.passes, 1, PASSES_MAX, 1),
    connectTimeoutMs: readConnectTimeoutMs(reader, flags.connectTimeout),
    workerCount: 1,
    json: flags.json === true,
  };
  checkCombinations(reader, flags, options);
  options.workerCount = readWorkers(reader, flags.workers, cpuCount, producerCount + consumerCount);
  reader.throwIfProblems();
  return options;
}

function checkCombinations(
  reader: FlagReader,
  flags: RawKafkaFlags,
  options: KafkaBenchOptions,
): void {
  const batchBytes = options.recordSizeBytes * options.batchRecordCount;
  if (batchBytes > BATCH_BYTES_MAX) {
    reader.problem(
      "--batch-size",
      flags.batchSize,
      `batches of ${batchBytes} bytes (records x --record-size) exceed ${BATCH_BYTES_MAX}`,
    );
  }
  if (options.passes > 1 && (options.follow || options.recordCountPerClient !== null)) {
    reader.problem(
      "--passes",
      flags.passes,
      "passes read a backlog again: not with --follow, --from latest or --count",
    );
  }
  if (options.consumerCount > options.partitionCount && flags.partitions !== undefined) {
    reader.problem(
      "--consumers",
      flags.consumers,
      `each consumer reads whole partitions: at most --partitions (${options.partitionCount})`,
    );
  }
}
