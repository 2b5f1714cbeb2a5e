/**
 * OffsetCommit v2-7: stored durably (groups/offset-store.ts) once the group agrees the member
 * and generation are current; answered after the write is on disk. A commit with generation -1
 * and no member id comes from a client that assigns partitions itself and is accepted while the
 * group has no members. The retention time of v2-4 is ignored: offsets are kept until their
 * topic is deleted.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { OffsetCommitEntry } from "../groups/offset-store.ts";
import type { ApiHandler } from "../handler-context.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.OffsetCommit>>;

/** Kafka's offset.metadata.max.bytes default. */
export const OFFSET_METADATA_MAX_BYTES = 4096;

export const offsetCommitHandler: ApiHandler<typeof ApiKey.OffsetCommit> = {
  apiKey: ApiKey.OffsetCommit,
  minVersion: 2,
  maxVersion: 7,
  async handle(context, request): Promise<Response> {
    if (!context.mayGroup("read", request.groupId)) {
      const errorCode = KafkaError.GROUP_AUTHORIZATION_FAILED;
      return {
        throttleTimeMs: 0,
        topics: request.topics.map(({ name, partitions }) => ({
          name,
          partitions: partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
        })),
      };
    }
    const groupError = context.groups.checkCommit({
      groupId: request.groupId,
      generationId: request.generationIdOrMemberEpoch,
      memberId: request.memberId,
      groupInstanceId: request.groupInstanceId,
    });
    const now = Date.now();
    const entries: OffsetCommitEntry[] = [];
    const topics = request.topics.map(({ name, partitions }) => {
      const topic = context.store.get(name);
      const allowed = context.may("read", name);
      return {
        name,
        partitions: partitions.map((p) => {
          let errorCode: number = groupError;
          if (!allowed) {
            errorCode = KafkaError.TOPIC_AUTHORIZATION_FAILED;
          } else if (
            topic === undefined ||
            p.partitionIndex < 0 ||
            p.partitionIndex >= topic.logs.length
          ) {
            errorCode = KafkaError.UNKNOWN_TOPIC_OR_PARTITION;
          } else if (Buffer.byteLength(p.committedMetadata ?? "") > OFFSET_METADATA_MAX_BYTES) {
            errorCode = KafkaError.OFFSET_METADATA_TOO_LARGE;
          }
          if (errorCode === KafkaError.NONE) {
            entries.push({
              topic: name,
              partition: p.partitionIndex,
              value: {
                offset: p.committedOffset,
                leaderEpoch: context.version >= 6 ? p.committedLeaderEpoch : -1,
                metadata: p.committedMetadata,
                commitTimestampMs: now,
              },
            });
          }
          return { partitionIndex: p.partitionIndex, errorCode };
        }),
      };
    });
    try {
      await context.offsets.commit(request.groupId, entries);
    } catch (err) {
      context.logger.error({ err, group: request.groupId }, "Kafka offset commit failed");
      for (const topic of topics) {
        for (const p of topic.partitions) {
          if (p.errorCode === KafkaError.NONE) p.errorCode = KafkaError.UNKNOWN_SERVER_ERROR;
        }
      }
    }
    return { throttleTimeMs: 0, topics };
  },
};
