/**
 * The flags of `robustmq bench mqtt conn|pub|sub|pubsub` as commander registers them: which
 * command takes which flag, and its help text (defaults are stated there, not set in commander,
 * so that validation can tell a flag given from one left out). Loaded for `--help`, so it
 * imports nothing heavy.
 */
import {
  CONNECT_TIMEOUT_SECONDS_DEFAULT,
  DURATION_SECONDS_DEFAULT,
  DURATION_WITH_COUNT_SECONDS_DEFAULT,
  KEEPALIVE_SECONDS_DEFAULT,
  PAYLOAD_HEADER_BYTES,
} from "./limits.ts";
import type { OptionSpecOf } from "./shared/cli.ts";

export const BENCH_COMMANDS = ["conn", "pub", "sub", "pubsub"] as const;
export type BenchCommand = (typeof BENCH_COMMANDS)[number];
export type ClientRole = "conn" | "pub" | "sub";

/** What commander collected: the strings typed, keyed by the camelCase long flag name. */
export interface RawBenchFlags {
  host?: string;
  port?: string;
  clients?: string;
  publishers?: string;
  subscribers?: string;
  connRate?: string;
  connectTimeout?: string;
  qos?: string;
  payloadSize?: string;
  rate?: string;
  inflight?: string;
  duration?: string;
  count?: string;
  topic?: string;
  subTopic?: string;
  cleanStart?: string;
  sessionExpiry?: string;
  keepalive?: string;
  protocolVersion?: string;
  tls?: boolean;
  ca?: string;
  insecure?: boolean;
  sourceIp?: string;
  workers?: string;
  json?: boolean;
  username?: string;
  password?: string;
  clientIdPrefix?: string;
}

export type OptionSpec = OptionSpecOf<BenchCommand>;

const ALL = BENCH_COMMANDS;
const PUBLISHING: readonly BenchCommand[] = ["pub", "pubsub"];
const MESSAGING: readonly BenchCommand[] = ["pub", "sub", "pubsub"];

/** Every flag, in the order `--help` lists them; defaults are in the descriptions. */
export const OPTION_SPECS: readonly OptionSpec[] = [
  { flags: "--host <host>", description: "broker host (default: 127.0.0.1)", commands: ALL },
  {
    flags: "-p, --port <port>",
    description: "broker port (default: 1883, or 8883 with --tls)",
    commands: ALL,
  },
  {
    flags: "-c, --clients <n>",
    description: "clients (default: 1)",
    commands: ["conn", "pub", "sub"],
  },
  {
    flags: "--publishers <n>",
    description: "publishing clients (default: 1)",
    commands: ["pubsub"],
  },
  {
    flags: "--subscribers <n>",
    description: "subscribing clients (default: 1)",
    commands: ["pubsub"],
  },
  {
    flags: "--conn-rate <n>",
    description:
      "new connections per second, all clients together; 0 = as fast as possible (default: 0)",
    commands: ALL,
  },
  {
    flags: "--connect-timeout <seconds>",
    description: `longest wait for one CONNACK (default: ${CONNECT_TIMEOUT_SECONDS_DEFAULT})`,
    commands: ALL,
  },
  { flags: "-q, --qos <qos>", description: "0, 1 or 2 (default: 0)", commands: MESSAGING },
  {
    flags: "-s, --payload-size <bytes>",
    description: `payload size; pubsub needs at least ${PAYLOAD_HEADER_BYTES} (default: 64)`,
    commands: PUBLISHING,
  },
  {
    flags: "-r, --rate <n>",
    description: "messages per second per publisher; 0 = unlimited (default: 0)",
    commands: PUBLISHING,
  },
  {
    flags: "--inflight <n>",
    description: "QoS 1/2: unacknowledged messages per publisher (default: 32)",
    commands: PUBLISHING,
  },
  {
    flags: "-d, --duration <seconds>",
    description: `how long to publish or hold connections (default: ${DURATION_SECONDS_DEFAULT}; with -n: at most ${DURATION_WITH_COUNT_SECONDS_DEFAULT})`,
    commands: ALL,
  },
  { flags: "-n, --count <n>", description: "messages per publisher", commands: PUBLISHING },
  {
    flags: "-t, --topic <pattern>",
    description: "topic; %i = client index, %c = client id (default: bench/%i)",
    commands: MESSAGING,
  },
  {
    flags: "--sub-topic <pattern>",
    description: "the subscribers' topic filter (default: the -t pattern)",
    commands: ["pubsub"],
  },
  { flags: "--clean-start <bool>", description: "true or false (default: true)", commands: ALL },
  {
    flags: "--session-expiry <seconds>",
    description: "MQTT 5 session expiry interval (default: not sent)",
    commands: ALL,
  },
  {
    flags: "-k, --keepalive <seconds>",
    description: `keep alive; 0 = off (default: ${KEEPALIVE_SECONDS_DEFAULT})`,
    commands: ALL,
  },
  {
    flags: "-V, --protocol-version <version>",
    description: "3 (MQTT 3.1), 4 (3.1.1) or 5 (default: 5)",
    commands: ALL,
  },
  { flags: "--tls", description: "connect with TLS", commands: ALL },
  { flags: "--ca <file>", description: "PEM file of CAs to trust (with --tls)", commands: ALL },
  {
    flags: "--insecure",
    description: "do not verify the broker's certificate (with --tls)",
    commands: ALL,
  },
  {
    flags: "--source-ip <range>",
    description: "local addresses to connect from, e.g. 127.0.0.2-127.0.0.50",
    commands: ALL,
  },
  {
    flags: "--workers <n>",
    description: "worker threads (default: CPU count, at most one per client)",
    commands: ALL,
  },
  { flags: "--json", description: "print the summary as one JSON object on stdout", commands: ALL },
  { flags: "-u, --username <name>", description: "username", commands: ALL },
  { flags: "-P, --password <password>", description: "password", commands: ALL },
  {
    flags: "--client-id-prefix <prefix>",
    description: "client ids are <prefix><conn|pub|sub>-<index> (default: rmq<pid>-)",
    commands: ALL,
  },
];
