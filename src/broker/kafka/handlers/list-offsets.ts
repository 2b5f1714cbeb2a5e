/**
 * ListOffsets v1-5: -2 earliest (log start), -1 latest (log end = high watermark = last stable
 * offset), or the first offset whose record timestamp is at or after the one given, with that
 * record's timestamp. No such record: offset -1 and timestamp -1, as in Kafka.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import { type PartitionLog, readBatchHeader, readRecords } from "../../../storage/log/index.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";
import { storageErrorCode } from "../storage-errors.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.ListOffsets>>;
type PartitionResponse = NonNullable<NonNullable<Response["topics"]>[number]["partitions"]>[number];

const LATEST = -1n;
const EARLIEST = -2n;

/** The timestamp of the record at `offset` (the batch's newest for a compressed batch). */
async function timestampAt(log: PartitionLog, offset: number): Promise<bigint> {
  const batch = await log.readSlice(await log.read(offset, 1));
  const header = readBatchHeader(batch);
  const decoded = header.compression === 0 ? readRecords(batch) : null;
  if (decoded?.kind === "ok") {
    const record = decoded.records.find((r) => r.offset === offset);
    if (record !== undefined) return BigInt(record.timestamp);
  }
  return BigInt(header.maxTimestamp);
}

async function lookUp(
  context: RequestContext,
  log: PartitionLog,
  index: number,
  timestamp: bigint,
): Promise<PartitionResponse> {
  const found = { partitionIndex: index, errorCode: KafkaError.NONE, leaderEpoch: 0 };
  if (timestamp === LATEST) {
    return { ...found, timestamp: -1n, offset: BigInt(log.logEndOffset) };
  }
  if (timestamp === EARLIEST) {
    return { ...found, timestamp: -1n, offset: BigInt(log.logStartOffset) };
  }
  if (timestamp < 0n) {
    return { partitionIndex: index, errorCode: KafkaError.INVALID_REQUEST };
  }
  try {
    const offset = await log.offsetForTimestamp(Number(timestamp));
    if (offset === null) return { ...found, timestamp: -1n, offset: -1n };
    return { ...found, timestamp: await timestampAt(log, offset), offset: BigInt(offset) };
  } catch (err) {
    return { partitionIndex: index, errorCode: storageErrorCode(err, context.logger).errorCode };
  }
}

export const listOffsetsHandler: ApiHandler<typeof ApiKey.ListOffsets> = {
  apiKey: ApiKey.ListOffsets,
  minVersion: 1,
  maxVersion: 5,
  async handle(context, request): Promise<Response> {
    const topics = await Promise.all(
      request.topics.map(async ({ name, partitions }) => {
        const topic = context.store.get(name);
        return {
          name,
          partitions: await Promise.all(
            partitions.map(async (p): Promise<PartitionResponse> => {
              if (!context.mayDescribe(name)) {
                return {
                  partitionIndex: p.partitionIndex,
                  errorCode: KafkaError.TOPIC_AUTHORIZATION_FAILED,
                };
              }
              const log = topic?.logs[p.partitionIndex];
              if (log === undefined || p.partitionIndex < 0) {
                return {
                  partitionIndex: p.partitionIndex,
                  errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
                };
              }
              if (p.currentLeaderEpoch > 0) {
                return {
                  partitionIndex: p.partitionIndex,
                  errorCode: KafkaError.UNKNOWN_LEADER_EPOCH,
                };
              }
              return lookUp(context, log, p.partitionIndex, p.timestamp);
            }),
          ),
        };
      }),
    );
    return { throttleTimeMs: 0, topics };
  },
};
