/**
 * The set-up a run does from the main thread before any worker starts, over one connection:
 * find the topic (Metadata), create it if a produce run needs it (CreateTopics), and read each
 * partition's earliest and latest offsets (ListOffsets), where consumers start and where a
 * backlog ends. Every request has a deadline; a failure is an error kind for the summary.
 */
import { ApiKey, type ApiKeyValue } from "../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../protocol/kafka/error-codes.ts";
import type { Encodable, RequestBody, ResponseBody } from "../../protocol/kafka/kafka-codec.ts";
import { KafkaConnection } from "./connection.ts";
import type { KafkaBenchOptions } from "./options.ts";

export const VERSIONS = {
  produce: 8,
  fetch: 11,
  metadata: 8,
  listOffsets: 5,
  createTopics: 4,
} as const;

const ERROR_NAMES = new Map<number, string>(
  Object.entries(KafkaError).map(([name, code]) => [code, name]),
);

/** `UNKNOWN_TOPIC_OR_PARTITION`, or `error 123` for a code this codebase has no name for. */
export function kafkaErrorName(code: number): string {
  return ERROR_NAMES.get(code) ?? `error ${code}`;
}

/** The topic as the run found (or made) it. */
export interface TopicLayout {
  partitionCount: number;
  /** Per partition: the log start offset at set-up. */
  earliestOffsets: number[];
  /** Per partition: the log end offset at set-up. */
  latestOffsets: number[];
  created: boolean;
}

export type SetupOutcome = { ok: true; layout: TopicLayout } | { ok: false; errorKind: string };

class SetupError extends Error {
  readonly kind: string;
  constructor(kind: string) {
    super(kind);
    this.kind = kind;
  }
}

/** Metadata retries while a just-created topic has no partitions yet. */
const METADATA_ATTEMPTS_MAX = 20;
const METADATA_RETRY_MS = 100;

class AdminClient {
  private readonly connection: KafkaConnection;
  private readonly timeoutMs: number;
  private failure: string | null = null;
  private onFailure: ((kind: string) => void) | null = null;

  constructor(connection: KafkaConnection, timeoutMs: number) {
    this.connection = connection;
    this.timeoutMs = timeoutMs;
  }

  static connect(options: KafkaBenchOptions): Promise<AdminClient> {
    return new Promise((resolve, reject) => {
      let admin: AdminClient | null = null;
      const connection = new KafkaConnection(options.host, options.port, "rmq-bench-admin", {
        connected: () => {
          if (admin !== null) resolve(admin);
        },
        connectFailed: (kind) => reject(new SetupError(kind)),
        lost: (kind) => admin?.fail(kind),
      });
      admin = new AdminClient(connection, options.connectTimeoutMs);
      connection.open(options.connectTimeoutMs);
    });
  }

  fail(kind: string): void {
    this.failure = kind;
    this.onFailure?.(kind);
  }

  call<K extends ApiKeyValue>(
    apiKey: K,
    version: number,
    body: Encodable<RequestBody<K>>,
    what: string,
  ): Promise<ResponseBody<K>> {
    if (this.failure !== null) return Promise.reject(new SetupError(this.failure));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new SetupError(`setup:${what} timeout`)),
        this.timeoutMs,
      );
      this.onFailure = (kind) => {
        clearTimeout(timer);
        reject(new SetupError(kind));
      };
      this.connection.request(apiKey, version, body, (response) => {
        clearTimeout(timer);
        resolve(response);
      });
    });
  }

  close(): void {
    this.connection.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The topic's partition count, or null when it does not exist. */
async function partitionCountOf(admin: AdminClient, topic: string): Promise<number | null> {
  for (let attempt = 1; ; attempt++) {
    const response = await admin.call(
      ApiKey.Metadata,
      VERSIONS.metadata,
      { topics: [{ name: topic }], allowAutoTopicCreation: false },
      "metadata",
    );
    const found = response.topics.find((t) => t.name === topic);
    const code = found?.errorCode ?? KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
    if (code === KafkaError.UNKNOWN_TOPIC_OR_PARTITION) return null;
    const retriable = code === KafkaError.LEADER_NOT_AVAILABLE || found?.partitions.length === 0;
    if (code === KafkaError.NONE && found !== undefined && found.partitions.length > 0) {
      return found.partitions.length;
    }
    if (!retriable || attempt >= METADATA_ATTEMPTS_MAX) {
      throw new SetupError(`setup:metadata ${kafkaErrorName(code)}`);
    }
    await sleep(METADATA_RETRY_MS);
  }
}

async function createTopic(admin: AdminClient, options: KafkaBenchOptions): Promise<void> {
  const response = await admin.call(
    ApiKey.CreateTopics,
    VERSIONS.createTopics,
    {
      topics: [
        {
          name: options.topic,
          numPartitions: options.partitionCount,
          replicationFactor: -1,
          assignments: [],
          configs: [],
        },
      ],
      timeoutMs: options.connectTimeoutMs,
      validateOnly: false,
    },
    "create topic",
  );
  const code = response.topics[0]?.errorCode ?? KafkaError.UNKNOWN_SERVER_ERROR;
  // Another run may have created it meanwhile; its partition count is what counts then.
  if (code !== KafkaError.NONE && code !== KafkaError.TOPIC_ALREADY_EXISTS) {
    throw new SetupError(`setup:create topic ${kafkaErrorName(code)}`);
  }
}

async function offsets(
  admin: AdminClient,
  topic: string,
  partitionCount: number,
  timestamp: bigint,
): Promise<number[]> {
  const response = await admin.call(
    ApiKey.ListOffsets,
    VERSIONS.listOffsets,
    {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: topic,
          partitions: Array.from({ length: partitionCount }, (_, partitionIndex) => ({
            partitionIndex,
            currentLeaderEpoch: -1,
            timestamp,
          })),
        },
      ],
    },
    "list offsets",
  );
  const result = new Array<number>(partitionCount).fill(-1);
  for (const partition of response.topics[0]?.partitions ?? []) {
    if (partition.errorCode !== KafkaError.NONE) {
      throw new SetupError(`setup:list offsets ${kafkaErrorName(partition.errorCode)}`);
    }
    result[partition.partitionIndex] = Number(partition.offset);
  }
  if (result.includes(-1)) throw new SetupError("setup:list offsets incomplete");
  return result;
}

/** Finds or creates the topic and reads its offsets; never throws, never waits unbounded. */
export async function prepareTopic(options: KafkaBenchOptions): Promise<SetupOutcome> {
  let admin: AdminClient | null = null;
  try {
    admin = await AdminClient.connect(options);
    let partitionCount = await partitionCountOf(admin, options.topic);
    let created = false;
    if (partitionCount === null) {
      if (options.command === "consume") {
        return { ok: false, errorKind: `setup:topic ${options.topic} does not exist` };
      }
      await createTopic(admin, options);
      created = true;
      partitionCount = await partitionCountOf(admin, options.topic);
      if (partitionCount === null) throw new SetupError("setup:topic missing after creation");
    }
    if (options.consumerCount > partitionCount) {
      return {
        ok: false,
        errorKind: `setup:${options.consumerCount} consumers for ${partitionCount} partitions`,
      };
    }
    const earliestOffsets = await offsets(admin, options.topic, partitionCount, -2n);
    const latestOffsets = await offsets(admin, options.topic, partitionCount, -1n);
    return { ok: true, layout: { partitionCount, earliestOffsets, latestOffsets, created } };
  } catch (error) {
    if (error instanceof SetupError) return { ok: false, errorKind: error.kind };
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, errorKind: `setup:${reason}` };
  } finally {
    admin?.close();
  }
}
