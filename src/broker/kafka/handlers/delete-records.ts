/**
 * DeleteRecords v0-2 (`kafka-delete-records.sh`, kafkajs admin.deleteTopicRecords): raises each
 * partition's log start offset, as Kafka's ReplicaManager does on the leader. Offset -1 means the
 * high watermark (the log end offset here); an offset below the current start changes nothing
 * and is answered with the current start. The answer's low watermark is the new start, sent
 * once it is durable (PartitionLog.raiseLogStartOffset).
 *
 * timeout_ms bounds, in Kafka, the wait for the followers' log start offsets to catch up. This
 * node is the only replica, so that wait is over as soon as the local raise is, and Kafka
 * answers then whatever the timeout; so does this handler.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, RequestBody, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import { deletes } from "../../../storage/log/index.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";
import { storageErrorCode } from "../storage-errors.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.DeleteRecords>>;
type PartitionResult = NonNullable<NonNullable<Response["topics"]>[number]["partitions"]>[number];
type TopicRequest = RequestBody<typeof ApiKey.DeleteRecords>["topics"][number];

const HIGH_WATERMARK = -1n;
/** Kafka's DeleteRecordsResponse.INVALID_LOW_WATERMARK, sent with every error. */
const INVALID_LOW_WATERMARK = -1n;

export const deleteRecordsHandler: ApiHandler<typeof ApiKey.DeleteRecords> = {
  apiKey: ApiKey.DeleteRecords,
  minVersion: 0,
  maxVersion: 2,
  async handle(context, request): Promise<Response> {
    const topics = await Promise.all(
      [...byPartition(request.topics)].map(async ([name, partitions]) => ({
        name,
        partitions: await Promise.all(
          [...partitions].map(([index, offset]) => deleteIn(context, name, index, offset)),
        ),
      })),
    );
    return { throttleTimeMs: 0, topics };
  },
};

/**
 * Offsets by topic and partition, in request order. Kafka keys the request by partition, so a
 * partition named twice is answered once, with the later offset.
 */
function byPartition(topics: readonly TopicRequest[]): Map<string, Map<number, bigint>> {
  const wanted = new Map<string, Map<number, bigint>>();
  for (const topic of topics) {
    let partitions = wanted.get(topic.name);
    if (partitions === undefined) {
      partitions = new Map();
      wanted.set(topic.name, partitions);
    }
    for (const p of topic.partitions) partitions.set(p.partitionIndex, p.offset);
  }
  return wanted;
}

/** Kafka's checks in Kafka's order: authorization, existence, cleanup policy, offset. */
async function deleteIn(
  context: RequestContext,
  topic: string,
  partition: number,
  requested: bigint,
): Promise<PartitionResult> {
  const user = context.sasl.principal;
  const refuse = (errorCode: number, reason: string): PartitionResult => {
    context.logger.warn(
      { topic, partition, offset: requested, errorCode, user, reason },
      "Kafka DeleteRecords refused",
    );
    return { partitionIndex: partition, lowWatermark: INVALID_LOW_WATERMARK, errorCode };
  };
  if (!context.may("admin", topic)) {
    return refuse(KafkaError.TOPIC_AUTHORIZATION_FAILED, "not authorized");
  }
  const log = partition >= 0 ? context.store.get(topic)?.logs[partition] : undefined;
  if (log === undefined) return refuse(KafkaError.UNKNOWN_TOPIC_OR_PARTITION, "no such partition");
  if (!deletes(log.options)) {
    return refuse(KafkaError.POLICY_VIOLATION, "cleanup.policy compact keeps its records");
  }
  const end = BigInt(log.logEndOffset);
  const offset = requested === HIGH_WATERMARK ? end : requested;
  if (offset < 0n || offset > end) {
    return refuse(KafkaError.OFFSET_OUT_OF_RANGE, `outside [0, ${end}] (the high watermark)`);
  }
  const before = log.logStartOffset;
  try {
    const result = await log.raiseLogStartOffset(Number(offset));
    if (result.logStartOffset > before) {
      context.logger.info(
        {
          topic,
          partition,
          logStartOffset: result.logStartOffset,
          previousLogStartOffset: before,
          deletedSegments: result.deletedSegmentCount,
          user,
        },
        "Kafka records deleted",
      );
    }
  } catch (err) {
    const { errorCode, message } = storageErrorCode(err, context.logger);
    return refuse(errorCode, message);
  }
  return {
    partitionIndex: partition,
    lowWatermark: BigInt(log.logStartOffset),
    errorCode: KafkaError.NONE,
  };
}
