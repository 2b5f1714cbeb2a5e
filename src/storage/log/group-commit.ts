/**
 * Group commit: a single committer loop per log takes everything queued, assigns offsets, writes
 * it with one writev and (policy "always") makes it durable with one fsync (or with one O_DSYNC
 * writev, where the file system offers writevDurable), then acknowledges the whole group. While
 * that I/O is in flight new appends queue up and form the next group, so the number of fsyncs
 * follows the disk's speed, not the number of producers. The next group's write starts within
 * two microtask turns of the acknowledgements, before the CPU work they set off (a broker's
 * answers), so that work overlaps the disk instead of alternating with it.
 *
 * On a failed write or fsync the file is cut back to the last committed byte before anything is
 * booked, every append of the group is rejected with the error, and the committer carries on:
 * the next append after the fault clears succeeds. If the cut itself fails it is retried before
 * the next write, which therefore never lands after stray bytes.
 */

import { assert, ErrorCode } from "../../errors.ts";
import { ioTiming } from "./io-timing.ts";
import type { LogOptions } from "./options.ts";
import { setBaseOffset } from "./record-batch.ts";
import type { StorageLogger } from "./recovery.ts";
import type { Segment } from "./segment.ts";
import { KafkaErrorCode, StorageError } from "./storage-error.ts";

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
}

export interface PendingAppend {
  batch: Buffer;
  sizeBytes: number;
  lastOffsetDelta: number;
  maxTimestamp: number;
  /** Assigned when the group is formed. */
  baseOffset: number;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** What the committer needs from the log: the active segment, rolling, and the size rules. */
export interface CommitTarget {
  active(): Segment;
  /** Rolls if `first` cannot go into the active segment; null (no await) when no roll is due. */
  rollIfNeeded(first: PendingAppend): Promise<void> | null;
  fits(segment: Segment, bytes: number, nextOffset: number, append: PendingAppend): boolean;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class GroupCommitter {
  /** Replaced whole (never changed in place) by reconfigure. */
  #options: LogOptions;
  readonly #logger: StorageLogger;
  readonly #target: CommitTarget;
  #queue: PendingAppend[] = [];
  #queuedBytes = 0;
  /** Committed (written, and fsynced under "always"), acknowledged by #run. */
  #committed: PendingAppend[] = [];
  #looping = false;
  #loopDone: Promise<void> = Promise.resolve();
  /** Acknowledged bytes of the active segment not yet fsynced (policies interval and never). */
  #dirty = false;
  #syncRequested = false;
  #syncWaiters: Waiter[] = [];
  /** A segment whose failed write could not be cut back yet. */
  #truncatePending: Segment | null = null;
  /** Work that must not overlap a group's write (betweenGroups), run in order. */
  #between: Array<Waiter & { run: () => Promise<void> }> = [];
  /** Groups formed, and appends committed: appendCount / groupCount is the coalescing. */
  groupCount = 0;
  appendCount = 0;

  constructor(options: LogOptions, logger: StorageLogger, target: CommitTarget) {
    this.#options = options;
    this.#logger = logger;
    this.#target = target;
  }

  /**
   * Takes the log's new options (PartitionLog.reconfigure): the next group uses them. A group
   * being written keeps the fsync policy it started with. The queue and group limits are fixed.
   */
  reconfigure(options: LogOptions): void {
    assert(options.append_queue_bytes_max === this.#options.append_queue_bytes_max, "queue");
    assert(options.group_commit_bytes_max === this.#options.group_commit_bytes_max, "group");
    this.#options = options;
  }

  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  enqueue(batch: Buffer, lastOffsetDelta: number, maxTimestamp: number): Promise<AppendResult> {
    assert(lastOffsetDelta >= 0, "a checked batch");
    if (this.#queuedBytes + batch.length > this.#options.append_queue_bytes_max) {
      const message = `${this.#queuedBytes} bytes already wait for the disk`;
      return Promise.reject(
        new StorageError(ErrorCode.STORAGE_QUEUE_FULL, KafkaErrorCode.KAFKA_STORAGE_ERROR, message),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<AppendResult>();
    const append: PendingAppend = {
      batch,
      sizeBytes: batch.length,
      lastOffsetDelta,
      maxTimestamp,
      baseOffset: -1,
      resolve,
      reject,
    };
    this.#queue.push(append);
    this.#queuedBytes += batch.length;
    this.#kick();
    return promise;
  }

  /** Asks for an fsync of acknowledged bytes at the committer's next turn (interval timer). */
  requestSync(): void {
    if (!this.#dirty) return;
    this.#syncRequested = true;
    this.#kick();
  }

  /** Fsyncs everything acknowledged so far. */
  sync(): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#syncWaiters.push({ resolve, reject });
    this.#syncRequested = true;
    this.#kick();
    return promise;
  }

  /**
   * Runs `task` at the committer's next turn, while no group is being written: it may roll the
   * active segment (a raised log start offset does). Settles with the task.
   */
  betweenGroups(task: () => Promise<void>): Promise<void> {
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#between.push({ run: task, resolve, reject });
    this.#kick();
    return promise;
  }

  /** The active segment was fsynced by a roll. */
  markSynced(): void {
    this.#dirty = false;
  }

  /** Resolves once the queue is empty and the committer idle. */
  async drain(): Promise<void> {
    while (this.#looping) await this.#loopDone;
  }

  #kick(): void {
    if (this.#looping) return;
    this.#looping = true;
    this.#loopDone = this.#run();
  }

  async #run(): Promise<void> {
    for (;;) {
      if (this.#acknowledge() > 0) {
        // An appender resuming from its acknowledgement may append again at once (one promise
        // step later): let it queue first, so that its append shares the next group. Only two
        // microtask turns: a broker's answers to the acknowledged produces are several promise
        // steps deep, so the next group's write (started with no await, see #commitGroup)
        // reaches the disk before that CPU work runs, and the two overlap.
        await null;
        await null;
      }
      if (this.#syncRequested) {
        await this.#syncNow();
      } else if (this.#between.length > 0) {
        await this.#runBetween();
      } else if (this.#queue.length > 0) {
        await this.#commitGroup(this.#takeGroup());
      } else if (this.#committed.length === 0) {
        // Cleared in the same synchronous step as the last check, so no append is stranded.
        this.#looping = false;
        return;
      }
    }
  }

  /** Resolves the appends committed since the last call; returns how many. */
  #acknowledge(): number {
    const committed = this.#committed;
    if (committed.length === 0) return 0;
    this.#committed = [];
    for (const append of committed) {
      assert(append.baseOffset >= 0, "an acknowledged append has its offset");
      append.resolve({
        baseOffset: append.baseOffset,
        lastOffset: append.baseOffset + append.lastOffsetDelta,
      });
    }
    return committed.length;
  }

  /** Everything queued, up to group_commit_bytes_max (always at least one append). */
  #takeGroup(): PendingAppend[] {
    let bytes = 0;
    let count = 0;
    while (count < this.#queue.length) {
      const size = this.#queue[count].sizeBytes;
      if (count > 0 && bytes + size > this.#options.group_commit_bytes_max) break;
      bytes += size;
      count++;
    }
    const group = this.#queue.splice(0, count);
    this.#queuedBytes -= bytes;
    assert(group.length > 0 && this.#queuedBytes >= 0, "a group was taken");
    return group;
  }

  async #commitGroup(group: PendingAppend[]): Promise<void> {
    this.groupCount++;
    let i = 0;
    while (i < group.length) {
      // No await unless there is something to do: the write of a group then starts in the same
      // step as it is taken (see #run).
      try {
        if (this.#truncatePending !== null) await this.#cutBackPending();
        const roll = this.#target.rollIfNeeded(group[i]);
        if (roll !== null) await roll;
      } catch (error) {
        return rejectAll(group, i, error);
      }
      const segment = this.#target.active();
      const end = this.#assignOffsets(segment, group, i);
      const error = await this.#writeRun(segment, group, i, end);
      if (error !== null) return rejectAll(group, end, error);
      i = end;
    }
  }

  /** Gives offsets to group[from..] while they fit the segment; returns the end of that run. */
  #assignOffsets(segment: Segment, group: PendingAppend[], from: number): number {
    let bytes = segment.sizeBytes;
    let next = segment.nextOffset;
    let end = from;
    while (end < group.length && this.#target.fits(segment, bytes, next, group[end])) {
      const append = group[end];
      setBaseOffset(append.batch, 0, next);
      append.baseOffset = next;
      next += append.lastOffsetDelta + 1;
      bytes += append.sizeBytes;
      end++;
    }
    assert(end > from, "a rolled segment takes at least one batch");
    return end;
  }

  /** Writes (and under "always" fsyncs) group[from..end); null when all is committed. */
  async #writeRun(
    segment: Segment,
    group: PendingAppend[],
    from: number,
    end: number,
  ): Promise<unknown> {
    const buffers: Buffer[] = [];
    for (let k = from; k < end; k++) buffers.push(group[k].batch);
    // Read once: a reconfigure while this write is under way applies from the next one.
    const always = this.#options.fsync_policy === "always";
    try {
      const started = performance.now();
      if (always && segment.writesDurably) {
        // One trip to the disk instead of write, back to the event loop, then fsync: a busy
        // event loop (a broker's) ran the write's completion late while the disk sat idle.
        await segment.writeDurable(buffers);
        // Both a write and a sync: observed as each, so neither histogram goes quiet.
        const seconds = (performance.now() - started) / 1000;
        ioTiming.write(seconds);
        ioTiming.fsync(seconds);
      } else {
        await segment.write(buffers);
        const written = performance.now();
        ioTiming.write((written - started) / 1000);
        if (always) {
          await segment.sync();
          ioTiming.fsync((performance.now() - written) / 1000);
        }
      }
    } catch (error) {
      this.#truncatePending = segment;
      await this.#cutBackPending().catch((cutError: unknown) => {
        this.#logger.error({ file: segment.logPath, error: String(cutError) }, "cut back failed");
      });
      rejectAll(group.slice(0, end), from, error);
      return error;
    }
    let position = segment.sizeBytes;
    for (let k = from; k < end; k++) {
      const append = group[k];
      const lastOffset = append.baseOffset + append.lastOffsetDelta;
      const info = { position, sizeBytes: append.sizeBytes, lastOffset };
      segment.recordBatch({
        ...info,
        baseOffset: append.baseOffset,
        maxTimestamp: append.maxTimestamp,
      });
      position += append.sizeBytes;
    }
    if (!always) this.#dirty = true;
    this.appendCount += end - from;
    for (let k = from; k < end; k++) this.#committed.push(group[k]);
    return null;
  }

  /**
   * Cuts a failed write back and fsyncs the cut, so rejected bytes cannot reach the disk later
   * through the page cache. (If the machine crashes before this succeeds, a rejected batch may
   * survive in the tail: a rejection means "not acknowledged", as a Kafka produce error does.)
   */
  async #cutBackPending(): Promise<void> {
    const segment = this.#truncatePending;
    if (segment === null) return;
    await segment.truncateToCommitted();
    await segment.sync();
    this.#truncatePending = null;
  }

  async #runBetween(): Promise<void> {
    const task = this.#between.shift();
    assert(task !== undefined, "a task is waiting");
    try {
      // Never roll (and so fsync) the bytes of a failed write: cut them first.
      await this.#cutBackPending();
      await task.run();
      task.resolve();
    } catch (error) {
      task.reject(error);
    }
  }

  async #syncNow(): Promise<void> {
    this.#syncRequested = false;
    const waiters = this.#syncWaiters;
    this.#syncWaiters = [];
    try {
      // Never make the bytes of a failed write durable: cut them first.
      await this.#cutBackPending();
      if (this.#dirty || waiters.length > 0) {
        const started = performance.now();
        await this.#target.active().sync();
        ioTiming.fsync((performance.now() - started) / 1000);
      }
      this.#dirty = false;
      for (const waiter of waiters) waiter.resolve();
    } catch (error) {
      // Acknowledged bytes may now be lost on a crash; the next interval tries again.
      this.#logger.error({ error: String(error) }, "periodic fsync failed");
      for (const waiter of waiters) waiter.reject(error);
    }
  }
}

function rejectAll(group: readonly PendingAppend[], from: number, error: unknown): void {
  for (let k = from; k < group.length; k++) group[k].reject(error);
}
