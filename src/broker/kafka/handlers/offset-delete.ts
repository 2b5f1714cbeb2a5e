/**
 * OffsetDelete v0, for kafka-consumer-groups.sh --delete-offsets: removes a group's committed
 * offsets of some partitions, with Kafka's rules. A group without members loses any of them; a
 * consumer group with members only those of topics none of its members subscribes to
 * (GROUP_SUBSCRIBED_TO_TOPIC for the others); any other group with members is NON_EMPTY_GROUP.
 * Partitions of topics that do not exist get UNKNOWN_TOPIC_OR_PARTITION.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import { subscribedTopics } from "../groups/subscriptions.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.OffsetDelete>>;

function groupError(errorCode: number): Response {
  return { errorCode, throttleTimeMs: 0, topics: [] };
}

export const offsetDeleteHandler: ApiHandler<typeof ApiKey.OffsetDelete> = {
  apiKey: ApiKey.OffsetDelete,
  minVersion: 0,
  maxVersion: 0,
  async handle(context, request): Promise<Response> {
    const { groupId } = request;
    if (groupId === "") return groupError(KafkaError.INVALID_GROUP_ID);
    if (!context.mayGroup("admin", groupId)) {
      return groupError(KafkaError.GROUP_AUTHORIZATION_FAILED);
    }
    const group = context.groups.coordinator.group(groupId);
    const hasOffsets = context.offsets.topicsOf(groupId).size > 0;
    if (group === undefined && !hasOffsets) return groupError(KafkaError.GROUP_ID_NOT_FOUND);
    // Without members nothing is read; with members, what they subscribe to (null: unknown).
    let subscribed: Set<string> | null = new Set();
    if (group !== undefined && group.state !== "Empty") {
      if (group.protocolType !== "consumer") return groupError(KafkaError.NON_EMPTY_GROUP);
      subscribed = subscribedTopics(group);
    }
    const doomed: { topic: string; partition: number }[] = [];
    const topics = request.topics.map(({ name, partitions }) => {
      const topic = context.store.get(name);
      return {
        name,
        partitions: partitions.map(({ partitionIndex }) => {
          let errorCode: number = KafkaError.NONE;
          if (!context.may("read", name)) {
            errorCode = KafkaError.TOPIC_AUTHORIZATION_FAILED;
          } else if (topic === undefined || topic.logs[partitionIndex] === undefined) {
            errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
          } else if (subscribed === null || subscribed.has(name)) {
            errorCode = KafkaError.GROUP_SUBSCRIBED_TO_TOPIC;
          } else {
            doomed.push({ topic: name, partition: partitionIndex });
          }
          return { partitionIndex, errorCode };
        }),
      };
    });
    try {
      await context.offsets.deletePartitions(groupId, doomed);
    } catch (err) {
      context.logger.warn({ err, groupId }, "deleting committed offsets failed");
      return groupError(KafkaError.UNKNOWN_SERVER_ERROR);
    }
    if (doomed.length > 0) {
      context.logger.info({ groupId, partitions: doomed.length }, "committed offsets deleted");
    }
    return { errorCode: KafkaError.NONE, throttleTimeMs: 0, topics };
  },
};
