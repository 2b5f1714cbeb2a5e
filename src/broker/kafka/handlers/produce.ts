/**
 * Produce v3-8 (record batch v2 only; v0-2 carry the old message formats and are answered with
 * UNSUPPORTED_VERSION for every partition). Batches are appended exactly as produced; the log
 * assigns offsets in place and validates each batch (CRC, lengths, records, and Kafka's rules for
 * client batches). The records inside a compressed batch are checked here, before the append,
 * since decompressing is asynchronous and the log's validation is not.
 *
 * Refusals follow Kafka's LogValidator: a batch failing its CRC or lengths gets CORRUPT_MESSAGE
 * (retriable: damaged in transit); one that is intact but invalid (records not matching the
 * header, a bad count or offset range, a control batch, a producer id without a sequence, a
 * payload that does not decompress) gets INVALID_RECORD. Kafka sends INVALID_RECORD to every
 * Produce version (it only rewrites KAFKA_STORAGE_ERROR for v3 and older); a client older than
 * 2.4 reads it as an unknown, non-retriable error.
 *
 * acks: 1 and -1 are answered once the log's fsync policy holds (this node is the whole ISR, so
 * they mean the same); 0 gets no response, and a failed append closes the connection, as in Kafka,
 * since that is the only way such a producer learns of it.
 */
import { ErrorCode } from "../../../errors.ts";
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import {
  type AppendResult,
  BATCH_HEADER_BYTES,
  Compression,
  checkBatch,
  clientBatchProblem,
  compressedRecordsProblem,
  LOG_OVERHEAD_BYTES,
  OFFSET_BATCH_LENGTH,
  readBatchHeader,
  recordsProblem,
  StorageError,
} from "../../../storage/log/index.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";
import {
  type CachedBatch,
  checkSequence,
  lastSequenceOf,
  recordBatch,
} from "../producers/sequence-check.ts";
import { storageErrorCode } from "../storage-errors.ts";
import type { KafkaTopic } from "../topic-store.ts";

type Response = Encodable<ResponseBody<typeof ApiKey.Produce>>;
type PartitionResponse = NonNullable<
  NonNullable<Response["responses"]>[number]["partitionResponses"]
>[number];

interface PartitionOutcome {
  response: PartitionResponse;
  /** Appends under way (acks = 0 only watches them). */
  appended: Promise<AppendResult[]> | null;
}

function failed(index: number, errorCode: number, errorMessage: string | null): PartitionOutcome {
  return {
    response: { index, errorCode, baseOffset: -1n, logStartOffset: -1n, errorMessage },
    appended: null,
  };
}

/**
 * A partition whose append is queued. The append is marked as handled at once: a request that
 * ends early (a partition refused beside it with acks = 0, a failure in another partition) never
 * awaits it, and an unhandled rejection would end the process.
 */
function queued(index: number, appended: Promise<AppendResult[]>): PartitionOutcome {
  appended.catch(() => {});
  return { response: { index, errorCode: KafkaError.NONE }, appended };
}

/** The batches in a produce's records, or why they cannot be split into whole batches. */
export function splitBatches(records: Buffer): Buffer[] | string {
  const batches: Buffer[] = [];
  let at = 0;
  while (at < records.length) {
    if (records.length - at < LOG_OVERHEAD_BYTES) return `${records.length - at} stray bytes`;
    const size = LOG_OVERHEAD_BYTES + records.readInt32BE(at + OFFSET_BATCH_LENGTH);
    if (size < BATCH_HEADER_BYTES) return `batch length ${size - LOG_OVERHEAD_BYTES} too small`;
    if (size > records.length - at) return `batch of ${size} bytes cut short`;
    batches.push(records.subarray(at, at + size));
    at += size;
  }
  return batches.length === 0 ? "no record batch" : batches;
}

export interface Refusal {
  errorCode: number;
  reason: string;
}

/**
 * Full validation up front, in Kafka's order (CRC first), so that no batch of a partition is
 * stored if one is invalid; the append checks again what it can check synchronously.
 */
export async function producedBatchProblem(
  batch: Buffer,
  sizeBytesMax: number,
): Promise<Refusal | null> {
  const check = checkBatch(batch, 0, batch.length, sizeBytesMax);
  if (check.kind === "truncated")
    return { errorCode: KafkaError.CORRUPT_MESSAGE, reason: "cut short" };
  if (check.kind === "corrupt") {
    const errorCode =
      check.intact === true ? KafkaError.INVALID_RECORD : KafkaError.CORRUPT_MESSAGE;
    return { errorCode, reason: check.reason };
  }
  const reason =
    clientBatchProblem(batch) ??
    recordsProblem(batch, 0, true) ??
    (await compressedRecordsProblem(batch));
  return reason === null ? null : { errorCode: KafkaError.INVALID_RECORD, reason };
}

/** Answers a partition with a refusal, logged so that the client's error has a broker line. */
function refused(
  context: RequestContext,
  topic: string,
  index: number,
  refusal: Refusal,
): PartitionOutcome {
  logRefusal(context, topic, index, refusal.errorCode, refusal.reason);
  return failed(index, refusal.errorCode, `invalid record batch: ${refusal.reason}`);
}

function logRefusal(
  context: RequestContext,
  topic: string,
  partition: number,
  errorCode: number,
  message: string,
): void {
  context.logger.warn({ topic, partition, errorCode, message }, "Kafka produce refused");
}

/**
 * An idempotent producer's batch (producer id >= 0): checked against the partition's producer
 * state, then appended, or answered with the offset it was stored at if it is a retry.
 */
async function produceIdempotent(
  context: RequestContext,
  topic: KafkaTopic,
  index: number,
  batch: Buffer,
): Promise<PartitionOutcome> {
  const header = readBatchHeader(batch);
  const producers = await context.producers.of(topic.logs[index]);
  const incoming = {
    producerEpoch: header.producerEpoch,
    firstSequence: header.baseSequence,
    lastSequence: lastSequenceOf(header.baseSequence, header.lastOffsetDelta),
  };
  const entry = producers.get(header.producerId);
  const verdict = checkSequence(entry, incoming);
  if (verdict.kind === "error") return failed(index, verdict.errorCode, verdict.message);
  if (verdict.kind === "duplicate") {
    const baseOffset = Promise.resolve(verdict.batch.baseOffset);
    const appended = baseOffset.then((offset) => [
      { baseOffset: offset, lastOffset: offset + header.lastOffsetDelta },
    ]);
    return queued(index, appended);
  }
  // Checked and queued in one synchronous step, so no other produce slips in between.
  const appended = context.store.append(topic, index, batch, { fromClient: true });
  const baseOffset = appended.then((r) => r.baseOffset);
  // Only a retry arriving while the append is under way awaits this; it may never be read.
  baseOffset.catch(() => {});
  const cached: CachedBatch = {
    firstSequence: incoming.firstSequence,
    lastSequence: incoming.lastSequence,
    baseOffset,
  };
  const updated = recordBatch(entry, header.producerEpoch, cached);
  producers.set(header.producerId, updated);
  appended.then(
    (result) => {
      cached.baseOffset = result.baseOffset;
    },
    () => {
      // Not stored: a retry of this batch must be appended, not taken for a duplicate.
      const at = updated.batches.indexOf(cached);
      if (at >= 0) updated.batches.splice(at, 1);
    },
  );
  return queued(
    index,
    appended.then((r) => [r]),
  );
}

async function producePartition(
  context: RequestContext,
  name: string,
  topic: KafkaTopic | undefined,
  index: number,
  records: Buffer | null,
): Promise<PartitionOutcome> {
  // Before the topic's existence, as Kafka does: a refused client learns nothing of it.
  if (!context.may("write", name)) {
    return failed(index, KafkaError.TOPIC_AUTHORIZATION_FAILED, null);
  }
  if (topic === undefined || index < 0 || index >= topic.logs.length) {
    return failed(index, KafkaError.UNKNOWN_TOPIC_OR_PARTITION, null);
  }
  if (records === null) return failed(index, KafkaError.CORRUPT_MESSAGE, "no records");
  const batches = splitBatches(records);
  if (typeof batches === "string") return failed(index, KafkaError.CORRUPT_MESSAGE, batches);
  const log = topic.logs[index];
  let idempotent = false;
  let compressed = false;
  for (const batch of batches) {
    const header = readBatchHeader(batch);
    if (header.isTransactional) {
      return failed(index, KafkaError.INVALID_REQUEST, "transactions are not supported");
    }
    idempotent ||= header.producerId >= 0n;
    compressed ||= header.compression !== Compression.none;
    if (batch.length > log.options.batch_bytes_max) {
      return failed(index, KafkaError.MESSAGE_TOO_LARGE, `batch of ${batch.length} bytes`);
    }
  }
  if (batches.length > 1) {
    return refused(
      context,
      topic.metadata.name,
      index,
      severalBatchesRefusal(batches, log.options.batch_bytes_max),
    );
  }
  const batch = batches[0];
  // One uncompressed batch, the common case, is validated by the append alone (one pass).
  if (idempotent || compressed) {
    const problem = await producedBatchProblem(batch, log.options.batch_bytes_max);
    if (problem !== null) return refused(context, topic.metadata.name, index, problem);
  }
  if (idempotent) return produceIdempotent(context, topic, index, batch);
  const appended = context.store.append(topic, index, batch, { fromClient: true });
  return queued(
    index,
    appended.then((r) => [r]),
  );
}

/**
 * A partition's records must be one batch, as Kafka's LogValidator requires of format v2; a
 * batch damaged on the way among them is reported as such first (Kafka checks every CRC before).
 */
function severalBatchesRefusal(batches: Buffer[], sizeBytesMax: number): Refusal {
  for (const batch of batches) {
    const check = checkBatch(batch, 0, batch.length, sizeBytesMax);
    if (check.kind === "truncated" || (check.kind === "corrupt" && check.intact !== true)) {
      const reason = check.kind === "corrupt" ? check.reason : "cut short";
      return { errorCode: KafkaError.CORRUPT_MESSAGE, reason };
    }
  }
  return { errorCode: KafkaError.INVALID_RECORD, reason: "more than one record batch" };
}

async function settle(outcome: PartitionOutcome, context: RequestContext, topic: string) {
  if (outcome.appended === null) return outcome.response;
  try {
    const results = await outcome.appended;
    const log = context.store.get(topic)?.logs[Number(outcome.response.index)];
    return {
      ...outcome.response,
      baseOffset: BigInt(results[0].baseOffset),
      logAppendTimeMs: -1n,
      logStartOffset: BigInt(log?.logStartOffset ?? -1),
    };
  } catch (err) {
    const { errorCode, message } = storageErrorCode(err, context.logger);
    if (err instanceof StorageError && err.code === ErrorCode.STORAGE_INVALID_BATCH) {
      logRefusal(context, topic, Number(outcome.response.index), errorCode, message);
    }
    return { ...outcome.response, errorCode, baseOffset: -1n, errorMessage: message };
  }
}

/**
 * acks = 0: nobody waits for the appends, and the log keeps their order. A failure closes the
 * connection, as in Kafka, since that is the only way such a producer learns of it: at once for
 * a partition refused before its append, once known for an append refused or failed later.
 */
function unanswered(
  context: RequestContext,
  topics: Array<{ name: string; outcomes: PartitionOutcome[] }>,
): "close" | null {
  let refused = false;
  for (const { name: topic, outcomes } of topics) {
    for (const { response, appended } of outcomes) {
      const partition = Number(response.index);
      if (response.errorCode !== KafkaError.NONE) {
        const { errorCode, errorMessage } = response;
        context.logger.warn({ topic, partition, errorCode, errorMessage }, ACKS_0_FAILED);
        refused = true;
      }
      appended?.catch((err: unknown) => {
        const { errorCode, message } = storageErrorCode(err, context.logger);
        context.closeConnection(ACKS_0_FAILED, { topic, partition, errorCode, message });
      });
    }
  }
  return refused ? "close" : null;
}

const ACKS_0_FAILED = "Kafka produce with acks 0 failed";

export const produceHandler: ApiHandler<typeof ApiKey.Produce> = {
  apiKey: ApiKey.Produce,
  minVersion: 3,
  maxVersion: 8,
  // librdkafka up to 2.11 sends gzip, snappy and lz4 batches only to a broker whose Produce
  // range starts at 0 (its codec check asks for Produce v0), so v0 is advertised as Kafka 3
  // does; v0-2 requests are still answered with UNSUPPORTED_VERSION.
  advertisedMinVersion: 0,
  async handle(context, request) {
    const acks = request.acks;
    if (acks !== 0 && acks !== 1 && acks !== -1) {
      return this.errorResponse?.(request, KafkaError.INVALID_REQUIRED_ACKS) ?? null;
    }
    if (request.transactionalId !== null) {
      return this.errorResponse?.(request, KafkaError.INVALID_REQUEST) ?? null;
    }
    // Plain uncompressed partitions are queued synchronously, in request order: producePartition
    // only awaits for idempotent batches (the producer state) and compressed ones (their check).
    // The connection's next request waits for context.release() below, so a client's produces
    // still reach each partition in the order it sent them.
    const pending = request.topicData.map(({ name, partitionData }) => {
      const topic = context.store.get(name);
      return {
        name,
        outcomes: partitionData.map((p) =>
          producePartition(context, name, topic, p.index, p.records),
        ),
      };
    });
    const topics = await Promise.all(
      pending.map(async ({ name, outcomes }) => ({ name, outcomes: await Promise.all(outcomes) })),
    );
    // Every append is queued: the client's next request may go ahead while these reach disk,
    // so its in-flight produces share fsyncs instead of waiting one after another.
    context.release();
    if (acks === 0) return unanswered(context, topics);
    const responses = await Promise.all(
      topics.map(async ({ name, outcomes }) => ({
        name,
        partitionResponses: await Promise.all(outcomes.map((o) => settle(o, context, name))),
      })),
    );
    return { responses, throttleTimeMs: 0 };
  },
  errorResponse(request, errorCode): Response {
    return {
      responses: request.topicData.map(({ name, partitionData }) => ({
        name,
        partitionResponses: partitionData.map(({ index }) => ({
          index,
          errorCode,
          baseOffset: -1n,
          logStartOffset: -1n,
        })),
      })),
      throttleTimeMs: 0,
    };
  },
};
