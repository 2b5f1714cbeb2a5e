/**
 * Turns the records the broker stores in one event-loop turn into one record batch and one
 * append. A durable QoS 1 message used to cost a batch of its own (header, CRC, validation,
 * index entry, promise); now a turn's messages share them, and the log's group commit still
 * shares each write and fsync among the turn's batches. Everything goes through here, in
 * call order, so the log keeps the order in which the broker recorded things (a subscription
 * before the messages it takes, a checkpoint marker after what its copy covers).
 *
 * A record is durable, and its batch's promise resolves, when the append is: nothing is
 * acknowledged earlier than before. Offsets are given to the batch's messages before it
 * resolves.
 */
import { assert } from "../../../errors.ts";
import {
  buildRecordBatch,
  type PartitionLog,
  type RecordInput,
} from "../../../storage/log/index.ts";
import type { Message } from "../message.ts";

/**
 * A batch is closed at this size: a message read back by offset (fetchOffsets, 64 KiB reads)
 * costs a read of its whole batch, so batches stay around that size.
 */
export const BATCH_BYTES_TARGET = 64 << 10;
/** Bytes a v2 batch adds around its records (Kafka's RECORD_BATCH_OVERHEAD). */
const BATCH_OVERHEAD_BYTES = 61;
/** Upper bound on what a record adds around key and value: varints, attributes, header count. */
export const RECORD_OVERHEAD_BYTES_MAX = 40;

function ignore(): void {}

/** The records of one turn on their way to the log. */
export class PendingBatch {
  readonly records: RecordInput[] = [];
  /** The message each record stores (null for a state change): its offset is set on commit. */
  readonly messages: Array<Message | null> = [];
  /** Upper bound of the encoded size. */
  sizeBytes = BATCH_OVERHEAD_BYTES;
  /** The offset of the first record once appended; -1 before. */
  baseOffset = -1;
  /** Resolves once every record of the batch is durable; rejects if the append failed. */
  readonly done: Promise<void>;
  readonly #resolve: () => void;
  readonly #reject: (error: unknown) => void;

  constructor() {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.done = promise;
    this.#resolve = resolve;
    this.#reject = reject;
    // Those who wait on the batch handle its failure; the batch itself is not unhandled.
    promise.catch(ignore);
  }

  /** Adds a record; returns its index in the batch (its offset delta). */
  add(record: RecordInput, sizeBytes: number, message: Message | null): number {
    assert(this.baseOffset < 0, "a batch is not added to once appended");
    this.records.push(record);
    this.messages.push(message);
    this.sizeBytes += sizeBytes;
    return this.records.length - 1;
  }

  commit(baseOffset: number): void {
    assert(baseOffset >= 0 && this.baseOffset < 0, "a batch is committed once");
    this.baseOffset = baseOffset;
    const messages = this.messages;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i];
      if (message !== null) message.logOffset = baseOffset + i;
    }
    this.#resolve();
  }

  fail(error: unknown): void {
    this.#reject(error);
  }
}

export class LogAppender {
  readonly #log: PartitionLog;
  readonly #batchBytesMax: number;
  #pending: PendingBatch | null = null;
  #scheduled = false;
  readonly #flushBound = (): void => {
    this.#scheduled = false;
    this.flush();
  };
  /** Records whose append failed (disk full, I/O error). */
  failedRecords = 0;
  /** Batches appended, and the records in them: recordCount / batchCount is the coalescing. */
  batchCount = 0;
  recordCount = 0;

  constructor(log: PartitionLog) {
    this.#log = log;
    this.#batchBytesMax = Math.min(BATCH_BYTES_TARGET, log.options.batch_bytes_max);
    assert(this.#batchBytesMax > BATCH_OVERHEAD_BYTES, "a batch has room for records");
  }

  /**
   * Queues a record for this turn's batch; `sizeBytes` is its key and value length. Returns
   * the batch: `done` tells when the record is durable, `baseOffset` + the index where.
   */
  add(record: RecordInput, sizeBytes: number, message: Message | null): PendingBatch {
    const size = sizeBytes + RECORD_OVERHEAD_BYTES_MAX;
    let batch = this.#pending;
    if (batch !== null && batch.sizeBytes + size > this.#batchBytesMax) {
      this.flush();
      batch = null;
    }
    if (batch === null) {
      batch = new PendingBatch();
      this.#pending = batch;
      if (!this.#scheduled) {
        this.#scheduled = true;
        // The check phase: after every socket read of this turn, so they share the batch.
        setImmediate(this.#flushBound);
      }
    }
    batch.add(record, size, message);
    return batch;
  }

  /** Appends the batch being gathered now (also at close). */
  flush(): void {
    const batch = this.#pending;
    if (batch === null) return;
    this.#pending = null;
    const count = batch.records.length;
    assert(count > 0, "a pending batch holds a record");
    this.batchCount++;
    this.recordCount += count;
    let encoded: Buffer;
    try {
      encoded = buildRecordBatch(batch.records);
    } catch (error) {
      this.failedRecords += count;
      batch.fail(error);
      return;
    }
    this.#log.append(encoded).then(
      (result) => {
        assert(result.lastOffset - result.baseOffset === count - 1, "one offset per record");
        batch.commit(result.baseOffset);
      },
      (error: unknown) => {
        this.failedRecords += count;
        batch.fail(error);
      },
    );
  }
}
