/**
 * OffsetFetch v1-5: the group's committed offsets; -1 (and empty metadata) where none is
 * committed. Null topics (v2+) ask for every partition the group has an offset for.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.OffsetFetch>>;

export const offsetFetchHandler: ApiHandler<typeof ApiKey.OffsetFetch> = {
  apiKey: ApiKey.OffsetFetch,
  minVersion: 1,
  maxVersion: 5,
  async handle(context, request): Promise<Response> {
    const { groupId } = request;
    if (!context.mayDescribeGroup(groupId)) {
      const errorCode = KafkaError.GROUP_AUTHORIZATION_FAILED;
      // v1 has no top-level error: each partition carries it. v2+ carry only the top-level
      // error, with no topics, as Kafka answers.
      if (context.version >= 2) return { throttleTimeMs: 0, errorCode, topics: [] };
      const topics = (request.topics ?? []).map(({ name, partitionIndexes }) => ({
        name,
        partitions: partitionIndexes.map((partitionIndex) => ({
          partitionIndex,
          committedOffset: -1n,
          committedLeaderEpoch: -1,
          metadata: "",
          errorCode,
        })),
      }));
      return { throttleTimeMs: 0, errorCode, topics };
    }
    // Every partition with an offset means every one this client may read ([kafka_acl]).
    const wanted =
      request.topics ??
      [...context.offsets.topicsOf(groupId)]
        .filter(([name]) => context.may("read", name))
        .map(([name, partitions]) => ({
          name,
          partitionIndexes: [...partitions.keys()].sort((a, b) => a - b),
        }));
    return {
      throttleTimeMs: 0,
      errorCode: KafkaError.NONE,
      topics: wanted.map(({ name, partitionIndexes }) => {
        const allowed = context.may("read", name);
        return {
          name,
          partitions: partitionIndexes.map((partitionIndex) => {
            if (!allowed) {
              return {
                partitionIndex,
                committedOffset: -1n,
                committedLeaderEpoch: -1,
                metadata: "",
                errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
              };
            }
            const committed = context.offsets.get(groupId, name, partitionIndex);
            return {
              partitionIndex,
              committedOffset: committed?.offset ?? -1n,
              committedLeaderEpoch: committed?.leaderEpoch ?? -1,
              metadata: committed?.metadata ?? "",
              errorCode: KafkaError.NONE,
            };
          }),
        };
      }),
    };
  },
};
