/**
 * The flags of `robustmq bench kafka produce|consume` as commander registers them. Defaults are
 * stated in the help text, not set in commander, so validation can tell a flag given from one
 * left out. Loaded for `--help`, so it imports nothing heavy.
 */
import type { OptionSpecOf } from "../shared/cli.ts";

export const KAFKA_COMMANDS = ["produce", "consume"] as const;
export type KafkaCommand = (typeof KAFKA_COMMANDS)[number];

/** What commander collected: the strings typed, keyed by the camelCase long flag name. */
export interface RawKafkaFlags {
  host?: string;
  port?: string;
  topic?: string;
  partitions?: string;
  producers?: string;
  consumers?: string;
  recordSize?: string;
  batchSize?: string;
  linger?: string;
  acks?: string;
  compression?: string;
  rate?: string;
  inflight?: string;
  duration?: string;
  count?: string;
  from?: string;
  follow?: boolean;
  passes?: string;
  connectTimeout?: string;
  workers?: string;
  json?: boolean;
}

export type KafkaOptionSpec = OptionSpecOf<KafkaCommand>;

const BOTH = KAFKA_COMMANDS;
const PRODUCE: readonly KafkaCommand[] = ["produce"];
const CONSUME: readonly KafkaCommand[] = ["consume"];

export const KAFKA_OPTION_SPECS: readonly KafkaOptionSpec[] = [
  { flags: "--host <host>", description: "bootstrap host (default: 127.0.0.1)", commands: BOTH },
  { flags: "-p, --port <port>", description: "bootstrap port (default: 9092)", commands: BOTH },
  { flags: "-t, --topic <name>", description: "topic (default: rmq-bench)", commands: BOTH },
  {
    flags: "--partitions <n>",
    description: "partitions when the topic is created (default: max(producers, consumers))",
    commands: PRODUCE,
  },
  { flags: "--producers <n>", description: "producers (default: 1)", commands: PRODUCE },
  {
    flags: "--consumers <n>",
    description: "consumers; with produce they read what is produced (default: 0, consume: 1)",
    commands: BOTH,
  },
  {
    flags: "-s, --record-size <bytes>",
    description: "record value size; at least 16 with consumers (default: 1024)",
    commands: PRODUCE,
  },
  {
    flags: "-b, --batch-size <records>",
    description: "records per batch (default: 16)",
    commands: PRODUCE,
  },
  {
    flags: "--linger <ms>",
    description: "longest wait for a batch to fill (default: 0)",
    commands: PRODUCE,
  },
  { flags: "-a, --acks <acks>", description: "0, 1 or -1/all (default: -1)", commands: PRODUCE },
  {
    flags: "--compression <codec>",
    description: "none, gzip or zstd (default: none)",
    commands: PRODUCE,
  },
  {
    flags: "-r, --rate <n>",
    description: "records per second per producer; 0 = unlimited (default: 0)",
    commands: PRODUCE,
  },
  {
    flags: "--inflight <n>",
    description: "unacknowledged produce requests per producer (default: 5)",
    commands: PRODUCE,
  },
  {
    flags: "-d, --duration <seconds>",
    description: "how long to produce or consume (default: 10; with -n: at most 600)",
    commands: BOTH,
  },
  {
    flags: "-n, --count <n>",
    description: "records per producer (produce) or per consumer (consume)",
    commands: BOTH,
  },
  {
    flags: "--from <position>",
    description: "earliest or latest (default: earliest)",
    commands: CONSUME,
  },
  {
    flags: "--follow",
    description: "keep reading new records after the backlog, for the whole --duration",
    commands: CONSUME,
  },
  {
    flags: "--passes <n>",
    description: "read the backlog n times over, for a longer measurement (default: 1)",
    commands: CONSUME,
  },
  {
    flags: "--connect-timeout <seconds>",
    description: "longest wait for a connection or a setup request (default: 10)",
    commands: BOTH,
  },
  {
    flags: "--workers <n>",
    description: "worker threads (default: CPU count, at most one per client)",
    commands: BOTH,
  },
  {
    flags: "--json",
    description: "print the summary as one JSON object on stdout",
    commands: BOTH,
  },
];
