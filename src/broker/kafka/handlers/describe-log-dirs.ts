/**
 * DescribeLogDirs v0-4, for kafka-log-dirs.sh, admin clients and management consoles that show
 * how much disk each partition takes. This node keeps every Kafka partition under one directory
 * ([kafka] under data_dir), so the answer has one log directory; v4 adds the size and free space
 * of its volume. The offset lag is 0: with one replica the high watermark is the log end.
 *
 * Kafka asks for DESCRIBE on the cluster; this broker has no cluster-wide rules, so instead the
 * answer lists only the topics the client may see ([kafka_acl]), as Metadata does. Partitions
 * that do not exist are left out, as Kafka leaves out those not in the directory.
 */
import { statfs } from "node:fs/promises";
import { resolve } from "node:path";
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";
import type { KafkaTopic } from "../topic-store.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.DescribeLogDirs>>;
type TopicResult = NonNullable<NonNullable<Response["results"]>[number]["topics"]>[number];

export const describeLogDirsHandler: ApiHandler<typeof ApiKey.DescribeLogDirs> = {
  apiKey: ApiKey.DescribeLogDirs,
  minVersion: 0,
  maxVersion: 4,
  async handle(context, request): Promise<Response> {
    const wanted =
      request.topics === null
        ? context.store.names().map((name) => ({ name, partitions: null }))
        : mergeByTopic(request.topics);
    const topics: TopicResult[] = [];
    for (const { name, partitions } of wanted) {
      const topic = context.store.get(name);
      if (topic === undefined || !context.mayDescribe(name)) continue;
      const described = describePartitions(topic, partitions);
      if (described.length > 0) topics.push({ name, partitions: described });
    }
    const logDir = resolve(context.store.directory);
    const volume = await volumeBytes(context, logDir);
    return {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      results: [{ errorCode: KafkaError.NONE, logDir, topics, ...volume }],
    };
  },
};

/** A topic named twice in the request is described once, with the partitions of both. */
function mergeByTopic(
  requested: { topic: string; partitions: number[] }[],
): { name: string; partitions: Set<number> }[] {
  const byName = new Map<string, Set<number>>();
  for (const { topic, partitions } of requested) {
    const set = byName.get(topic) ?? new Set<number>();
    for (const partition of partitions) set.add(partition);
    byName.set(topic, set);
  }
  return [...byName].map(([name, partitions]) => ({ name, partitions }));
}

/** The topic's partitions in `only` (all when null) that exist, in partition order. */
function describePartitions(topic: KafkaTopic, only: Set<number> | null) {
  const described: NonNullable<TopicResult["partitions"]> = [];
  topic.logs.forEach((log, partitionIndex) => {
    if (only !== null && !only.has(partitionIndex)) return;
    const partitionSize = log.segments().reduce((sum, segment) => sum + segment.sizeBytes, 0);
    described.push({
      partitionIndex,
      partitionSize: BigInt(partitionSize),
      offsetLag: 0n,
      isFutureKey: false,
    });
  });
  return described;
}

/** The volume's size and the bytes still usable on it; -1 (unknown) if it cannot be read. */
async function volumeBytes(context: RequestContext, directory: string) {
  try {
    const stats = await statfs(directory, { bigint: true });
    return { totalBytes: stats.blocks * stats.bsize, usableBytes: stats.bavail * stats.bsize };
  } catch (err) {
    context.logger.warn({ err, directory }, "cannot read the size of the Kafka log volume");
    return { totalBytes: -1n, usableBytes: -1n };
  }
}
