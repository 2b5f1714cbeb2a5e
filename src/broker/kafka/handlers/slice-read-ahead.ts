/**
 * Where a consumer reading in order goes next, found while its last answer is on its way.
 * Locating a slice reads two batch headers from the segment file (from the page cache when it
 * holds them, else two trips to the thread pool: 0.15-0.2 ms per fetch measured, a sixth of a
 * 1 MiB fetch's round trip), and a consumer's next fetch asks for the offset right after what
 * it was just sent. One per connection; a fetch for anything else locates its slice as before.
 *
 * A slice located ahead is used only if it stopped at its size limit, not at the log end: then a
 * slice located now would be the same (batches never change once appended), and a fetch waiting
 * for min_bytes is not answered short while more is there. It is dropped when a segment it lies
 * in left the log (retention, compaction) or the log closed.
 */
import type { LogSlice, PartitionLog } from "../../../storage/log/partition-log.ts";

/** Partitions of one connection whose next slice is located ahead, at most. */
const ENTRIES_MAX = 64;

interface Entry {
  offset: number;
  maxBytes: number;
  /** The slice, or null when locating it failed (the fetch then locates it again). */
  slice: Promise<LogSlice | null>;
}

export class SliceReadAhead {
  readonly #entries = new Map<PartitionLog, Entry>();

  /** The slice of `log` from `offset` (PartitionLog.read), located ahead when it was expected. */
  async read(log: PartitionLog, offset: number, maxBytes: number): Promise<LogSlice> {
    const entry = this.#entries.get(log);
    if (entry !== undefined) {
      this.#entries.delete(log);
      if (entry.offset === offset && entry.maxBytes === maxBytes) {
        const slice = await entry.slice;
        if (slice !== null && log.holds(slice)) return slice;
      }
    }
    return log.read(offset, maxBytes);
  }

  /** After answering with `slice`: locates the one after it, unless it stopped at the log end. */
  expect(log: PartitionLog, slice: LogSlice, maxBytes: number): void {
    const offset = slice.nextOffset;
    if (offset === null || offset >= log.logEndOffset) return;
    if (!this.#entries.has(log) && this.#entries.size >= ENTRIES_MAX) return;
    // Committed before the read starts: a slice ending before it stopped at its size limit.
    const end = log.logEndOffset;
    const located = log.read(offset, maxBytes).then(
      (next) => (next.nextOffset !== null && next.nextOffset < end ? next : null),
      () => null,
    );
    this.#entries.set(log, { offset, maxBytes, slice: located });
  }
}
