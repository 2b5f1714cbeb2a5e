/**
 * The options of `robustmq bench mqtt conn|pub|sub|pubsub`: which command takes which flag, and
 * their validation. Commander hands over the strings typed; parseBenchOptions checks them all
 * and reports every problem at once, each naming the flag, the value and what is allowed
 * (RMQ_ERR_BENCH_INVALID_OPTION, exit status 2). Pure apart from reading the `--ca` file,
 * which goes through the injected environment.
 */
import type { ProtocolLevel, QoS } from "../protocol/mqtt/index.ts";
import {
  CLIENT_ID_LENGTH_V31_MAX,
  CLIENTS_MAX,
  INFLIGHT_COUNT_MAX,
  KEEPALIVE_SECONDS_DEFAULT,
  KEEPALIVE_SECONDS_MAX,
  PAYLOAD_HEADER_BYTES,
  PAYLOAD_SIZE_BYTES_MAX,
} from "./limits.ts";
import { FlagReader } from "./option-reader.ts";
import type { BenchCommand, ClientRole, RawBenchFlags } from "./option-specs.ts";
import {
  readConnectTimeoutMs,
  readCount,
  readDurationMs,
  readHost,
  readWorkers,
} from "./shared/options.ts";
import { parseSourceAddresses, type SourceAddresses } from "./source-ip.ts";
import {
  expandTopic,
  patternProblem,
  publishTopicProblem,
  subscribeFilterProblem,
} from "./topic.ts";

export interface TlsOptions {
  /** PEM text of `--ca`, or null for the system's trusted CAs. */
  caPem: string | null;
  insecure: boolean;
}

/** A validated run. Structured-clone safe: it is handed to every worker as is. */
export interface BenchOptions {
  command: BenchCommand;
  host: string;
  port: number;
  /** Idle connections (`conn`). */
  connectionCount: number;
  publisherCount: number;
  subscriberCount: number;
  /** All workers together; 0 = as fast as possible. */
  connRatePerSecond: number;
  connectTimeoutMs: number;
  qos: QoS;
  payloadSizeBytes: number;
  /** Per publisher; 0 = unlimited. */
  ratePerSecond: number;
  inflightCountMax: number;
  /** How long publishing (or holding, for conn and sub) lasts at most. */
  durationMs: number;
  messageCountPerPublisher: number | null;
  topicPattern: string;
  subscribeTopicPattern: string;
  cleanStart: boolean;
  sessionExpirySeconds: number | null;
  keepAliveSeconds: number;
  protocolVersion: ProtocolLevel;
  tls: TlsOptions | null;
  sourceAddresses: SourceAddresses | null;
  workerCount: number;
  json: boolean;
  username: string | null;
  password: string | null;
  clientIdPrefix: string;
}

/** What parseBenchOptions needs from the machine. */
export interface BenchEnvironment {
  cpuCount: number;
  pid: number;
  readFile(path: string): string;
}

/** The client id of client `index` in `role`. */
export function clientIdFor(options: BenchOptions, role: ClientRole, index: number): string {
  return `${options.clientIdPrefix}${role}-${index}`;
}

/** Validates the flags of `command`; throws RobustMQError(BENCH_INVALID_OPTION) listing all problems. */
export function parseBenchOptions(
  command: BenchCommand,
  flags: RawBenchFlags,
  environment: BenchEnvironment,
): BenchOptions {
  const reader = new FlagReader();
  const counts = readCounts(reader, command, flags);
  const options: BenchOptions = {
    command,
    ...counts,
    ...readConnection(reader, flags, environment),
    ...readMessaging(reader, command, flags),
    ...readSession(reader, flags, environment),
    workerCount: 1,
    json: flags.json === true,
  };
  options.workerCount = readWorkers(
    reader,
    flags.workers,
    environment.cpuCount,
    options.connectionCount + options.publisherCount + options.subscriberCount,
  );
  checkTopics(reader, options);
  checkCombinations(reader, flags, options);
  reader.throwIfProblems();
  return options;
}

type Counts = Pick<BenchOptions, "connectionCount" | "publisherCount" | "subscriberCount">;

function readCounts(reader: FlagReader, command: BenchCommand, flags: RawBenchFlags): Counts {
  const count = (flag: string, raw: string | undefined): number =>
    reader.integer(flag, raw, 1, CLIENTS_MAX, 1);
  const clients = command === "pubsub" ? 0 : count("--clients", flags.clients);
  const counts: Counts = {
    connectionCount: command === "conn" ? clients : 0,
    publisherCount: command === "pub" ? clients : 0,
    subscriberCount: command === "sub" ? clients : 0,
  };
  if (command === "pubsub") {
    counts.publisherCount = count("--publishers", flags.publishers);
    counts.subscriberCount = count("--subscribers", flags.subscribers);
    if (counts.publisherCount + counts.subscriberCount > CLIENTS_MAX) {
      reader.problem(
        "--publishers",
        flags.publishers,
        `publishers and subscribers together must be at most ${CLIENTS_MAX}`,
      );
    }
  }
  return counts;
}

type ConnectionPart = Pick<
  BenchOptions,
  "host" | "port" | "connRatePerSecond" | "connectTimeoutMs" | "tls" | "sourceAddresses"
>;

function readConnection(
  reader: FlagReader,
  flags: RawBenchFlags,
  environment: BenchEnvironment,
): ConnectionPart {
  const host = readHost(reader, flags.host);
  const tls = flags.tls === true ? readTls(reader, flags, environment) : null;
  return {
    host,
    port: reader.integer("--port", flags.port, 1, 65_535, tls === null ? 1883 : 8883),
    connRatePerSecond: reader.decimal("--conn-rate", flags.connRate, 0, CLIENTS_MAX, 0),
    connectTimeoutMs: readConnectTimeoutMs(reader, flags.connectTimeout),
    tls,
    sourceAddresses: readSourceAddresses(reader, flags.sourceIp),
  };
}

function readTls(
  reader: FlagReader,
  flags: RawBenchFlags,
  environment: BenchEnvironment,
): TlsOptions {
  let caPem: string | null = null;
  if (flags.ca !== undefined) {
    try {
      caPem = environment.readFile(flags.ca);
      if (!caPem.includes("-----BEGIN CERTIFICATE-----")) {
        reader.problem(
          "--ca",
          flags.ca,
          "must be a PEM file of certificates (no BEGIN CERTIFICATE found)",
        );
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      reader.problem("--ca", flags.ca, `must be a readable PEM file (${reason})`);
    }
  }
  return { caPem, insecure: flags.insecure === true };
}

function readSourceAddresses(reader: FlagReader, raw: string | undefined): SourceAddresses | null {
  if (raw === undefined) return null;
  const result = parseSourceAddresses(raw);
  if (result.ok) return result.value;
  reader.problem("--source-ip", raw, result.problem);
  return null;
}

type MessagingPart = Pick<
  BenchOptions,
  | "qos"
  | "payloadSizeBytes"
  | "ratePerSecond"
  | "inflightCountMax"
  | "durationMs"
  | "messageCountPerPublisher"
  | "topicPattern"
  | "subscribeTopicPattern"
>;

function readMessaging(
  reader: FlagReader,
  command: BenchCommand,
  flags: RawBenchFlags,
): MessagingPart {
  const payloadMin = command === "pubsub" ? PAYLOAD_HEADER_BYTES : 0;
  const payloadWhy =
    command === "pubsub"
      ? " (bytes; each payload starts with a 16-byte timestamp header)"
      : " (bytes)";
  const count = readCount(reader, flags.count);
  const topicPattern = reader.pattern("--topic", flags.topic, "bench/%i", patternProblem);
  return {
    qos: reader.choice("--qos", flags.qos, { "0": 0, "1": 1, "2": 2 } as const, 0),
    payloadSizeBytes: reader.integer(
      "--payload-size",
      flags.payloadSize,
      payloadMin,
      PAYLOAD_SIZE_BYTES_MAX,
      64,
      payloadWhy,
    ),
    ratePerSecond: reader.decimal(
      "--rate",
      flags.rate,
      0,
      1_000_000,
      0,
      " (messages per second, 0 = unlimited)",
    ),
    inflightCountMax: reader.integer("--inflight", flags.inflight, 1, INFLIGHT_COUNT_MAX, 32),
    durationMs: readDurationMs(reader, flags.duration, count),
    messageCountPerPublisher: count,
    topicPattern,
    subscribeTopicPattern: reader.pattern(
      "--sub-topic",
      flags.subTopic,
      topicPattern,
      patternProblem,
    ),
  };
}

type SessionPart = Pick<
  BenchOptions,
  | "cleanStart"
  | "sessionExpirySeconds"
  | "keepAliveSeconds"
  | "protocolVersion"
  | "username"
  | "password"
  | "clientIdPrefix"
>;

function readSession(
  reader: FlagReader,
  flags: RawBenchFlags,
  environment: BenchEnvironment,
): SessionPart {
  return {
    cleanStart: reader.choice(
      "--clean-start",
      flags.cleanStart,
      { true: true, false: false } as const,
      true,
    ),
    sessionExpirySeconds:
      flags.sessionExpiry === undefined
        ? null
        : reader.integer("--session-expiry", flags.sessionExpiry, 0, 0xffff_ffff, 0, " (seconds)"),
    keepAliveSeconds: reader.integer(
      "--keepalive",
      flags.keepalive,
      0,
      KEEPALIVE_SECONDS_MAX,
      KEEPALIVE_SECONDS_DEFAULT,
      " (seconds, 0 = off)",
    ),
    protocolVersion: reader.choice(
      "--protocol-version",
      flags.protocolVersion,
      { "3": 3, "4": 4, "5": 5 } as const,
      5,
    ),
    username: flags.username ?? null,
    password: flags.password ?? null,
    clientIdPrefix: flags.clientIdPrefix ?? defaultClientIdPrefix(environment.pid),
  };
}

/** The patterns must expand to valid topics for every client; one expansion shows it. */
function checkTopics(reader: FlagReader, options: BenchOptions): void {
  if (options.command === "conn") return;
  const sampleIndex = CLIENTS_MAX - 1;
  if (options.command !== "sub" && patternProblem(options.topicPattern) === null) {
    const topic = expandTopic(
      options.topicPattern,
      sampleIndex,
      clientIdFor(options, "pub", sampleIndex),
    );
    const problem = publishTopicProblem(topic);
    if (problem !== null) reader.problem("--topic", options.topicPattern, problem);
  }
  const subscribeFlag = options.command === "pubsub" ? "--sub-topic" : "--topic";
  if (options.command !== "pub" && patternProblem(options.subscribeTopicPattern) === null) {
    const filter = expandTopic(
      options.subscribeTopicPattern,
      sampleIndex,
      clientIdFor(options, "sub", sampleIndex),
    );
    const problem = subscribeFilterProblem(filter);
    if (problem !== null) reader.problem(subscribeFlag, options.subscribeTopicPattern, problem);
  }
}

function checkCombinations(reader: FlagReader, flags: RawBenchFlags, options: BenchOptions): void {
  if (flags.tls !== true) {
    if (flags.ca !== undefined) reader.problem("--ca", flags.ca, "needs --tls");
    if (flags.insecure === true) reader.problem("--insecure", "true", "needs --tls");
  }
  if (options.sessionExpirySeconds !== null && options.protocolVersion !== 5) {
    reader.problem(
      "--session-expiry",
      flags.sessionExpiry,
      "needs -V 5 (MQTT 5); MQTT 3 sessions end with --clean-start true",
    );
  }
  if (options.password !== null && options.username === null && options.protocolVersion !== 5) {
    reader.problem("--password", "***", "needs --username with -V 3 or 4 [MQTT-3.1.2-22]");
  }
  if (flags.clientIdPrefix !== undefined && /\s/.test(flags.clientIdPrefix)) {
    reader.problem("--client-id-prefix", flags.clientIdPrefix, "must not contain white space");
  }
  if (options.protocolVersion === 3) checkClientIdLengthV31(reader, flags, options);
}

/** MQTT 3.1 brokers may refuse client ids longer than 23 characters. */
function checkClientIdLengthV31(
  reader: FlagReader,
  flags: RawBenchFlags,
  options: BenchOptions,
): void {
  const clients = Math.max(
    options.connectionCount,
    options.publisherCount,
    options.subscriberCount,
  );
  const longest = clientIdFor(options, options.command === "conn" ? "conn" : "pub", clients - 1);
  if (longest.length > CLIENT_ID_LENGTH_V31_MAX) {
    reader.problem(
      "--client-id-prefix",
      flags.clientIdPrefix ?? options.clientIdPrefix,
      `makes client ids such as ${longest} (${longest.length} characters); MQTT 3.1 (-V 3) allows at most ${CLIENT_ID_LENGTH_V31_MAX}`,
    );
  }
}

/** The default client id prefix: unique per process, short enough for MQTT 3.1. */
export function defaultClientIdPrefix(pid: number): string {
  return `rmq${pid}-`;
}
