/**
 * CreatePartitions v0-3 (`kafka-topics.sh --alter --partitions`, kafkajs createPartitions),
 * validated as Kafka does: the count only grows, up to PARTITIONS_PER_TOPIC_MAX; manual
 * assignments name this node, one per new partition; a topic named twice is refused; and
 * validate_only changes nothing. Existing partitions keep their data, so keyed records may now
 * map to other partitions, as in Kafka.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, RequestBody, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";
import { UnknownTopicError } from "../topic-store.ts";
import { PARTITIONS_PER_TOPIC_MAX } from "./create-topics.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.CreatePartitions>>;
type TopicRequest = RequestBody<typeof ApiKey.CreatePartitions>["topics"][number];
type TopicResult = NonNullable<Response["results"]>[number];

export const createPartitionsHandler: ApiHandler<typeof ApiKey.CreatePartitions> = {
  apiKey: ApiKey.CreatePartitions,
  minVersion: 0,
  maxVersion: 3,
  async handle(context, request): Promise<Response> {
    const counts = new Map<string, number>();
    for (const topic of request.topics) counts.set(topic.name, (counts.get(topic.name) ?? 0) + 1);
    const results: TopicResult[] = [];
    // One at a time: each waits for its directories and metadata file to be on disk.
    for (const topic of request.topics) {
      if ((counts.get(topic.name) ?? 0) > 1) {
        results.push(refuse(topic.name, KafkaError.INVALID_REQUEST, "Duplicate topic in request."));
        continue;
      }
      results.push(await grow(context, topic, request.validateOnly));
    }
    return { throttleTimeMs: 0, results };
  },
};

async function grow(
  context: RequestContext,
  request: TopicRequest,
  validateOnly: boolean,
): Promise<TopicResult> {
  const { name, count } = request;
  if (!context.may("admin", name)) {
    return refuse(name, KafkaError.TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
  }
  const topic = context.store.get(name);
  if (topic === undefined) {
    return refuse(
      name,
      KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
      `The topic '${name}' does not exist.`,
    );
  }
  const current = topic.metadata.partitions;
  if (count === current) {
    return refuse(name, KafkaError.INVALID_PARTITIONS, `Topic already has ${current} partitions.`);
  }
  if (count < current) {
    const message = `The topic ${name} currently has ${current} partition(s); ${count} would not be an increase.`;
    return refuse(name, KafkaError.INVALID_PARTITIONS, message);
  }
  if (count > PARTITIONS_PER_TOPIC_MAX) {
    const message = `A topic may have at most ${PARTITIONS_PER_TOPIC_MAX} partitions on this node.`;
    return refuse(name, KafkaError.INVALID_PARTITIONS, message);
  }
  const brokerId = context.settings.brokerId;
  const assignments = request.assignments;
  if (
    assignments !== null &&
    (assignments.length !== count - current ||
      assignments.some((a) => a.brokerIds.length !== 1 || a.brokerIds[0] !== brokerId))
  ) {
    const message = `Assignments must give each of the ${count - current} new partitions the single replica ${brokerId}.`;
    return refuse(name, KafkaError.INVALID_REPLICA_ASSIGNMENT, message);
  }
  if (validateOnly) return { name, errorCode: KafkaError.NONE, errorMessage: null };
  try {
    await context.store.addPartitions(name, count);
  } catch (err) {
    if (err instanceof UnknownTopicError) {
      return refuse(
        name,
        KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
        `The topic '${name}' does not exist.`,
      );
    }
    context.logger.error({ err, topic: name, count }, "CreatePartitions failed");
    return refuse(
      name,
      KafkaError.KAFKA_STORAGE_ERROR,
      "The partitions could not be created on disk.",
    );
  }
  return { name, errorCode: KafkaError.NONE, errorMessage: null };
}

function refuse(name: string, errorCode: number, errorMessage: string): TopicResult {
  return { name, errorCode, errorMessage };
}
