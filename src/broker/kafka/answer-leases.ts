/**
 * What one answer holds until the socket has taken it: the pooled buffers its records were read
 * into, and the file ranges it sends without a copy, each with a descriptor of its own
 * (zero-copy.ts). Released exactly once, whether the answer was sent or dropped.
 */
import type { LogSlice, PartitionLog } from "../../storage/log/partition-log.ts";
import type { ReadBufferPool } from "./read-buffers.ts";
import type { FileRange, ZeroCopy } from "./zero-copy.ts";

/** Record bytes of Fetch answers by how they reached the socket (robustmq_kafka_fetch_bytes_total). */
export interface FetchByteCounts {
  /** Sent by the kernel straight from the segment files. */
  sendfile: number;
  /** Read into the process and written from there. */
  copied: number;
}

export class AnswerLeases {
  readonly #pool: ReadBufferPool;
  readonly #zeroCopy: ZeroCopy | null;
  readonly #counts: FetchByteCounts;
  readonly #buffers: Buffer[] = [];
  /** Placeholder -> the file range sent in its place. */
  readonly #ranges = new Map<Buffer, FileRange>();

  /** `zeroCopy`: null where records must pass through the process (TLS, no addon, disabled). */
  constructor(pool: ReadBufferPool, zeroCopy: ZeroCopy | null, counts: FetchByteCounts) {
    this.#pool = pool;
    this.#zeroCopy = zeroCopy;
    this.#counts = counts;
  }

  /**
   * The records of `slice`, for the answer: a placeholder for the file range when it can go
   * without a copy, else the bytes, read into a pooled buffer.
   */
  async records(log: PartitionLog, slice: LogSlice): Promise<Buffer> {
    const zero =
      this.#zeroCopy?.open(log.sliceDescriptor(slice), slice.position, slice.sizeBytes) ?? null;
    if (zero === null) {
      this.#counts.copied += slice.sizeBytes;
      const buffer = this.#pool.acquire(slice.sizeBytes);
      this.#buffers.push(buffer);
      return log.readSlice(slice, buffer);
    }
    this.#ranges.set(zero.placeholder, zero.range);
    return zero.placeholder;
  }

  /** The file range an answer chunk stands for, if it is a placeholder. */
  rangeOf(chunk: Buffer): FileRange | undefined {
    return this.#ranges.get(chunk);
  }

  get hasRanges(): boolean {
    return this.#ranges.size > 0;
  }

  release(): void {
    for (const buffer of this.#buffers) this.#pool.release(buffer);
    this.#buffers.length = 0;
    for (const range of this.#ranges.values()) this.#zeroCopy?.close(range);
    this.#ranges.clear();
  }
}
