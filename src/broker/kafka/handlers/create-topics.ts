/**
 * CreateTopics v0-4, validated as Kafka does: names, partition counts, replication factor (one
 * broker, so at most 1), manual assignments (every replica must be this node, partitions
 * 0..n-1), configs (the supported subset, see topic-configs.ts), duplicates in one request, and
 * validate_only.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, RequestBody, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";
import { topicConfigProblem } from "../topic-configs.ts";
import { topicNameProblem } from "../topic-names.ts";
import { TopicExistsError } from "../topic-store.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.CreateTopics>>;
type TopicRequest = RequestBody<typeof ApiKey.CreateTopics>["topics"][number];
type TopicResult = NonNullable<Response["topics"]>[number];

/** A bound on what one request can make the node open (one directory and file per partition). */
export const PARTITIONS_PER_TOPIC_MAX = 10_000;

interface Plan {
  partitions: number;
  configs: Record<string, string>;
}

function refuse(name: string, errorCode: number, errorMessage: string): TopicResult {
  return { name, errorCode, errorMessage };
}

function partitionsPlanned(
  context: RequestContext,
  topic: TopicRequest,
): number | { errorCode: number; message: string } {
  const brokerId = context.settings.brokerId;
  if (topic.assignments.length > 0) {
    if (topic.numPartitions !== -1 || topic.replicationFactor !== -1) {
      return {
        errorCode: KafkaError.INVALID_REQUEST,
        message: "both num_partitions or replication_factor and assignments were set",
      };
    }
    const indexes = topic.assignments.map((a) => a.partitionIndex).sort((a, b) => a - b);
    const consecutive = indexes.every((index, i) => index === i);
    const local = topic.assignments.every(
      (a) => a.brokerIds.length === 1 && a.brokerIds[0] === brokerId,
    );
    if (!consecutive || !local) {
      return {
        errorCode: KafkaError.INVALID_REPLICA_ASSIGNMENT,
        message: `assignments must name partitions 0..n-1, each with the single replica ${brokerId}`,
      };
    }
    return topic.assignments.length;
  }
  const partitions =
    topic.numPartitions === -1 ? context.settings.defaultPartitions : topic.numPartitions;
  if (partitions < 1 || partitions > PARTITIONS_PER_TOPIC_MAX) {
    return {
      errorCode: KafkaError.INVALID_PARTITIONS,
      message: `number of partitions must be -1 or from 1 to ${PARTITIONS_PER_TOPIC_MAX}`,
    };
  }
  if (topic.replicationFactor === 0 || topic.replicationFactor < -1) {
    return {
      errorCode: KafkaError.INVALID_REPLICATION_FACTOR,
      message: "replication factor must be -1 or larger than 0",
    };
  }
  if (topic.replicationFactor > 1) {
    return {
      errorCode: KafkaError.INVALID_REPLICATION_FACTOR,
      message: `replication factor ${topic.replicationFactor} larger than available brokers: 1`,
    };
  }
  return partitions;
}

function plan(context: RequestContext, topic: TopicRequest): Plan | TopicResult {
  // Authorization first, as Kafka: a refused client learns nothing about the name.
  if (!context.may("admin", topic.name)) {
    return refuse(topic.name, KafkaError.TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
  }
  const nameProblem = topicNameProblem(topic.name);
  if (nameProblem !== null) {
    return refuse(topic.name, KafkaError.INVALID_TOPIC_EXCEPTION, nameProblem);
  }
  if (context.store.get(topic.name) !== undefined) {
    return refuse(topic.name, KafkaError.TOPIC_ALREADY_EXISTS, `topic "${topic.name}" exists`);
  }
  const partitions = partitionsPlanned(context, topic);
  if (typeof partitions !== "number") {
    return refuse(topic.name, partitions.errorCode, partitions.message);
  }
  // fromEntries defines own properties: a "__proto__" entry is kept (and refused), not swallowed.
  const configs: Record<string, string> = Object.fromEntries(
    topic.configs.flatMap(({ name, value }) => (value === null ? [] : [[name, value]])),
  );
  const configProblem = topicConfigProblem(configs);
  if (configProblem !== null) return refuse(topic.name, KafkaError.INVALID_CONFIG, configProblem);
  return { partitions, configs };
}

async function createOne(
  context: RequestContext,
  topic: TopicRequest,
  validateOnly: boolean,
): Promise<TopicResult> {
  const planned = plan(context, topic);
  if (!("partitions" in planned)) return planned;
  if (!validateOnly) {
    try {
      await context.store.create(topic.name, planned.partitions, planned.configs, "fail");
    } catch (err) {
      if (err instanceof TopicExistsError) {
        return refuse(topic.name, KafkaError.TOPIC_ALREADY_EXISTS, err.message);
      }
      context.logger.error({ err, topic: topic.name }, "Kafka topic creation failed");
      return refuse(topic.name, KafkaError.UNKNOWN_SERVER_ERROR, "topic creation failed");
    }
  }
  return { name: topic.name, errorCode: KafkaError.NONE, errorMessage: null };
}

export const createTopicsHandler: ApiHandler<typeof ApiKey.CreateTopics> = {
  apiKey: ApiKey.CreateTopics,
  minVersion: 0,
  maxVersion: 4,
  async handle(context, request): Promise<Response> {
    const counts = new Map<string, number>();
    for (const { name } of request.topics) counts.set(name, (counts.get(name) ?? 0) + 1);
    const topics: TopicResult[] = [];
    for (const topic of request.topics) {
      if ((counts.get(topic.name) ?? 0) > 1) {
        topics.push(
          refuse(
            topic.name,
            KafkaError.INVALID_REQUEST,
            "topic named more than once in the request",
          ),
        );
        continue;
      }
      topics.push(await createOne(context, topic, request.validateOnly));
    }
    return { throttleTimeMs: 0, topics };
  },
};
