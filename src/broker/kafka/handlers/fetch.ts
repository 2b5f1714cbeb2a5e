/**
 * Fetch v4-11: whole stored batches, sent as read from the segment files. The high watermark is
 * the log end offset (only acknowledged batches are readable, and this node is the whole ISR),
 * and with no transactions the last stable offset equals it.
 *
 * Limits as in Kafka (KIP-74): partitions are filled in request order within max_bytes and
 * partition_max_bytes, except that the first batch of the first partition with data is returned
 * whole even when larger, so a consumer always progresses. Long polling: when fewer than
 * min_bytes are available the request waits, up to max_wait_ms, for an append to any partition
 * it reads. Fetch sessions (KIP-227) are not offered: session id 0 in every response.
 */
import { ApiKey } from "../../../protocol/kafka/api-keys.ts";
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";
import type { Encodable, RequestBody, ResponseBody } from "../../../protocol/kafka/kafka-codec.ts";
import type { ApiHandler, RequestContext } from "../handler-context.ts";
import { partitionKey } from "../partition-waiters.ts";
import { storageErrorCode } from "../storage-errors.ts";

type Request = RequestBody<typeof ApiKey.Fetch>;
type Response = Encodable<ResponseBody<typeof ApiKey.Fetch>>;
type PartitionData = NonNullable<NonNullable<Response["responses"]>[number]["partitions"]>[number];

/** Longest a fetch may park; clients ask for 500 ms to a few seconds. */
const MAX_WAIT_MS_CAP = 30_000;
const READ_COMMITTED = 1;

interface ReadResult {
  response: Response;
  bytes: number;
  failed: boolean;
  /** Log end offsets seen, to notice appends made while the read was under way. */
  ends: Map<string, number>;
}

function partitionError(index: number, errorCode: number): PartitionData {
  return {
    partitionIndex: index,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    records: Buffer.alloc(0),
  };
}

async function readAll(context: RequestContext, request: Request): Promise<ReadResult> {
  let budget = context.version >= 3 ? request.maxBytes : 0x7fffffff;
  let bytes = 0;
  let failed = false;
  const ends = new Map<string, number>();
  const aborted = request.isolationLevel === READ_COMMITTED ? [] : null;
  const responses: NonNullable<Response["responses"]> = [];
  for (const { topic: name, partitions } of request.topics) {
    const topic = context.store.get(name);
    const out: PartitionData[] = [];
    const allowed = context.may("read", name);
    for (const p of partitions) {
      if (!allowed) {
        out.push(partitionError(p.partition, KafkaError.TOPIC_AUTHORIZATION_FAILED));
        failed = true;
        continue;
      }
      const log = topic?.logs[p.partition];
      if (log === undefined || p.partition < 0) {
        out.push(partitionError(p.partition, KafkaError.UNKNOWN_TOPIC_OR_PARTITION));
        failed = true;
        continue;
      }
      // This node's leader epoch is always 0 (see Metadata).
      if (p.currentLeaderEpoch > 0) {
        out.push(partitionError(p.partition, KafkaError.UNKNOWN_LEADER_EPOCH));
        failed = true;
        continue;
      }
      const end = log.logEndOffset;
      const start = log.logStartOffset;
      // The offsets as they are when the partition is answered: an append acknowledged while
      // its records were located may be among them, and the high watermark must cover it.
      const base = () => {
        ends.set(partitionKey(name, p.partition), log.logEndOffset);
        return {
          partitionIndex: p.partition,
          highWatermark: BigInt(log.logEndOffset),
          lastStableOffset: BigInt(log.logEndOffset),
          logStartOffset: BigInt(log.logStartOffset),
          abortedTransactions: aborted,
          preferredReadReplica: -1,
        };
      };
      const offset = Number(p.fetchOffset);
      if (offset < start || offset > end) {
        out.push({
          ...base(),
          errorCode: KafkaError.OFFSET_OUT_OF_RANGE,
          records: Buffer.alloc(0),
        });
        failed = true;
        continue;
      }
      const limit = Math.min(p.partitionMaxBytes, budget);
      let records: Buffer = Buffer.alloc(0);
      if (offset < end && (limit > 0 || bytes === 0)) {
        try {
          const slice = await context.readAhead.read(log, offset, Math.max(limit, 1));
          // Only the first partition with data may exceed the limits (KIP-74).
          if (slice.sizeBytes <= limit || bytes === 0) {
            records = await context.readRecords(log, slice);
            context.readAhead.expect(log, slice, Math.max(limit, 1));
          }
        } catch (err) {
          const { errorCode } = storageErrorCode(err, context.logger);
          out.push({ ...base(), errorCode, records: Buffer.alloc(0) });
          failed = true;
          continue;
        }
      }
      bytes += records.length;
      budget -= records.length;
      out.push({ ...base(), errorCode: KafkaError.NONE, records });
    }
    responses.push({ topic: name, partitions: out });
  }
  return {
    response: { throttleTimeMs: 0, errorCode: KafkaError.NONE, sessionId: 0, responses },
    bytes,
    failed,
    ends,
  };
}

function advancedSince(context: RequestContext, ends: Map<string, number>): boolean {
  for (const [key, end] of ends) {
    const slash = key.lastIndexOf("/");
    const log = context.store.get(key.slice(0, slash))?.logs[Number(key.slice(slash + 1))];
    if (log === undefined || log.logEndOffset !== end) return true;
  }
  return false;
}

export const fetchHandler: ApiHandler<typeof ApiKey.Fetch> = {
  apiKey: ApiKey.Fetch,
  minVersion: 4,
  maxVersion: 11,
  async handle(context, request): Promise<Response> {
    if (request.sessionId !== 0) {
      return {
        throttleTimeMs: 0,
        errorCode: KafkaError.FETCH_SESSION_ID_NOT_FOUND,
        sessionId: 0,
        responses: [],
      };
    }
    const deadline = Date.now() + Math.min(Math.max(request.maxWaitMs, 0), MAX_WAIT_MS_CAP);
    const keys = request.topics.flatMap(({ topic, partitions }) =>
      partitions.map((p) => partitionKey(topic, p.partition)),
    );
    for (;;) {
      const result = await readAll(context, request);
      const remaining = deadline - Date.now();
      // As Kafka: min_bytes 0 (or nothing to wait on) answers at once, even with no records.
      const satisfied = result.bytes >= request.minBytes || keys.length === 0;
      if (satisfied || result.failed || remaining <= 0 || context.signal.aborted) {
        return result.response;
      }
      // Too little to answer with: read again (into the same buffers) after the next append.
      context.discardAnswerRecords();
      // Checked and registered in one synchronous step, so no append can slip between them.
      if (advancedSince(context, result.ends)) continue;
      await context.store.waiters.wait(keys, remaining, context.signal);
    }
  },
};
