/**
 * Idempotent producer state of every partition, as Kafka keeps it: per producer id, its epoch
 * and last batches (sequence-check.ts). Built lazily, the first time an idempotent batch
 * reaches a partition, from the batch headers of the partition's last two segments: Kafka
 * rebuilds it from the log the same way. A producer whose last batch is older than that is
 * unknown again and may continue with any sequence, which is also Kafka's rule once retention
 * has removed a producer's batches.
 */
import { readdir } from "node:fs/promises";
import { type PartitionLog, readBatchHeader } from "../../../storage/log/index.ts";
import { parseSegmentFileName } from "../../../storage/log/segment.ts";
import { lastSequenceOf, type ProducerEntry, recordBatch } from "./sequence-check.ts";

const SCAN_READ_BYTES = 4 * 1024 * 1024;
/** Segments scanned at the end of the log. */
const SCANNED_SEGMENTS = 2;

export type PartitionProducers = Map<bigint, ProducerEntry>;

export class ProducerStates {
  readonly #partitions = new WeakMap<PartitionLog, Promise<PartitionProducers>>();

  /** The partition's producer state; built on first use (a deleted topic's state goes with it). */
  of(log: PartitionLog): Promise<PartitionProducers> {
    let state = this.#partitions.get(log);
    if (state === undefined) {
      state = rebuild(log);
      this.#partitions.set(log, state);
      // A failed scan is retried by the next produce rather than remembered.
      state.catch(() => this.#partitions.delete(log));
    }
    return state;
  }
}

async function rebuild(log: PartitionLog): Promise<PartitionProducers> {
  const producers: PartitionProducers = new Map();
  const bases = (await readdir(log.directory))
    .map(parseSegmentFileName)
    .filter((base): base is number => base !== null)
    .sort((a, b) => a - b);
  let offset = Math.max(log.logStartOffset, bases.at(-SCANNED_SEGMENTS) ?? 0);
  const end = log.logEndOffset;
  while (offset < end) {
    const slice = await log.read(offset, SCAN_READ_BYTES);
    if (slice.sizeBytes === 0) break;
    const bytes = await log.readSlice(slice);
    const from = offset;
    for (let at = 0; at + 61 <= bytes.length; at += 12 + bytes.readInt32BE(at + 8)) {
      const header = readBatchHeader(bytes, at);
      offset = header.baseOffset + header.lastOffsetDelta + 1;
      if (header.producerId < 0n || header.isControl) continue;
      const entry = producers.get(header.producerId);
      producers.set(
        header.producerId,
        recordBatch(entry, header.producerEpoch, {
          firstSequence: header.baseSequence,
          lastSequence: lastSequenceOf(header.baseSequence, header.lastOffsetDelta),
          baseOffset: header.baseOffset,
        }),
      );
    }
    if (offset === from) break;
  }
  return producers;
}
