/**
 * Idempotent producer sequence rules for one partition (Kafka's ProducerStateManager), pure:
 * the last five batches of each producer id, enough to recognise any retry of a producer with
 * at most five requests in flight.
 */
import { KafkaError } from "../../../protocol/kafka/error-codes.ts";

/** Kafka's max.in.flight.requests.per.connection limit for idempotence. */
export const CACHED_BATCHES_MAX = 5;
const SEQUENCE_MODULUS = 2 ** 31;

export interface CachedBatch {
  firstSequence: number;
  lastSequence: number;
  /** The batch's base offset; a promise while its append is under way. */
  baseOffset: Promise<number> | number;
}

export interface ProducerEntry {
  epoch: number;
  batches: CachedBatch[];
}

export interface IncomingBatch {
  producerEpoch: number;
  firstSequence: number;
  lastSequence: number;
}

export type SequenceVerdict =
  | { kind: "append" }
  | { kind: "duplicate"; batch: CachedBatch }
  | { kind: "error"; errorCode: number; message: string };

export function lastSequenceOf(firstSequence: number, lastOffsetDelta: number): number {
  return (firstSequence + lastOffsetDelta) % SEQUENCE_MODULUS;
}

export function checkSequence(
  entry: ProducerEntry | undefined,
  batch: IncomingBatch,
): SequenceVerdict {
  // No state (a new producer, or one whose batches retention removed): any sequence starts it.
  if (entry === undefined) return { kind: "append" };
  if (batch.producerEpoch < entry.epoch) {
    return {
      kind: "error",
      errorCode: KafkaError.INVALID_PRODUCER_EPOCH,
      message: `epoch ${batch.producerEpoch} is older than ${entry.epoch}`,
    };
  }
  if (batch.producerEpoch > entry.epoch) {
    if (batch.firstSequence === 0) return { kind: "append" };
    return {
      kind: "error",
      errorCode: KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
      message: `a new epoch must start at sequence 0, not ${batch.firstSequence}`,
    };
  }
  const duplicate = entry.batches.find(
    (b) => b.firstSequence === batch.firstSequence && b.lastSequence === batch.lastSequence,
  );
  if (duplicate !== undefined) return { kind: "duplicate", batch: duplicate };
  const last = entry.batches.at(-1);
  if (last === undefined || batch.firstSequence === (last.lastSequence + 1) % SEQUENCE_MODULUS) {
    return { kind: "append" };
  }
  return {
    kind: "error",
    errorCode: KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
    message: `sequence ${batch.firstSequence} after ${last.lastSequence}`,
  };
}

/** Records an accepted batch: a new epoch starts afresh; only the last five are kept. */
export function recordBatch(
  entry: ProducerEntry | undefined,
  epoch: number,
  batch: CachedBatch,
): ProducerEntry {
  const next = entry === undefined || entry.epoch !== epoch ? { epoch, batches: [] } : entry;
  next.batches.push(batch);
  if (next.batches.length > CACHED_BATCHES_MAX) next.batches.shift();
  return next;
}
