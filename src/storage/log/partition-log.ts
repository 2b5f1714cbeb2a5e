/**
 * A partition log: ordered segments, the last one active. Appends go through group commit: one
 * committer drains the queue, so appends that arrive while a write + fsync is in flight are
 * written together by the next single writev and made durable by the next single fsync.
 *
 * What an acknowledgement (the resolved append) means, by fsync_policy:
 *   always    the batch is written and fsynced: it survives a crash of the process or machine.
 *   interval  the batch is written to the OS; an fsync follows within fsync_interval_ms. A crash
 *             of the machine (not of the process) may lose that last interval.
 *   never     the batch is written to the OS, which flushes when it chooses; segments are
 *             fsynced when they roll and when the log closes.
 * Under every policy a batch becomes readable only once acknowledged, and an append that fails
 * (I/O error, disk full) leaves nothing behind: the file is cut back to the committed end.
 */
import { assert, ErrorCode } from "../../errors.ts";
import { type CompactionResult, type CompactionState, compactLog } from "./compaction.ts";
import { anyBatchRecords } from "./compression.ts";
import { type FileSystem, NodeFileSystem } from "./file-system.ts";
import { type AppendResult, GroupCommitter, type PendingAppend } from "./group-commit.ts";
import { openLogDirectory } from "./log-directory.ts";
import { writeLogStartOffset } from "./log-start-offset.ts";
import {
  compacts,
  deletes,
  type LogOptions,
  OPTIONS_FIXED_AT_OPEN,
  resolveLogOptions,
} from "./options.ts";
import {
  batchLastOffsetDelta,
  batchMaxTimestamp,
  checkBatch,
  clientBatchProblem,
  correctMaxTimestamp,
  LOG_OVERHEAD_BYTES,
  OFFSET_BATCH_LENGTH,
  readBatchHeader,
} from "./record-batch.ts";
import { recordsProblem } from "./records.ts";
import {
  type RecoveryReport,
  type RecoveryScope,
  type StorageLogger,
  silentLogger,
} from "./recovery.ts";
import {
  applyRetention,
  deleteBefore,
  deleteBelowStart,
  type RetentionResult,
  type RetentionShell,
} from "./retention.ts";
import { Segment, type SegmentSettings } from "./segment.ts";
import {
  invalidBatchError,
  invalidRecordsError,
  KafkaErrorCode,
  outOfRangeError,
  StorageError,
} from "./storage-error.ts";

export interface SegmentInfo {
  baseOffset: number;
  /** One past the segment's last offset. */
  nextOffset: number;
  sizeBytes: number;
  /** Newest record timestamp (ms); -1 when the segment has none. */
  maxTimestamp: number;
  /** Corrupt ranges recovery found (reads of them fail; the rest is served). */
  corruptRegions: number;
}

/** Whole batches in one segment file; empty (sizeBytes 0, segment null) at the log end. */
export interface LogSlice {
  segment: Segment | null;
  file: string | null;
  position: number;
  sizeBytes: number;
  /** baseOffset of the first batch in the slice (at or before the offset asked for). */
  firstOffset: number;
  /**
   * The offset after the slice's batches when the read learnt it (where a reader in order goes
   * next, barring offsets removed by compaction); null when it did not, or for an empty slice.
   */
  nextOffset: number | null;
}

export interface PartitionLogDependencies {
  fs?: FileSystem;
  logger?: StorageLogger;
  /** Wall clock in ms, for rolls and retention by age. Default Date.now. */
  now?: () => number;
  /** "active" (default) scans only the active segment at open; "all" scans every segment. */
  recoveryScope?: RecoveryScope;
}

const RELATIVE_OFFSET_MAX = 2_147_483_647;

export type { AppendResult };

export interface AppendOptions {
  /**
   * The batch comes from a Kafka client: Kafka's rules for client batches apply too
   * (clientBatchProblem). The log's own writers (MQTT persistence, the bridge) leave it unset.
   */
  fromClient?: boolean;
}

export class PartitionLog {
  readonly directory: string;
  readonly recoveryReport: RecoveryReport;
  readonly #fs: FileSystem;
  readonly #logger: StorageLogger;
  readonly #now: () => number;
  /**
   * Resolved and frozen; reconfigure replaces the object whole, so a pass that took it
   * (retention, compaction) works with one consistent set to its end.
   */
  #options: LogOptions;
  /** Settings of segments made from now on; existing ones keep those they were made with. */
  #settings: SegmentSettings;
  readonly #segments: Segment[];
  readonly #committer: GroupCommitter;
  #closing = false;
  #syncTimer: NodeJS.Timeout | null = null;
  /** Deleted segments whose handles stay open a while for reads under way. */
  readonly #pendingCloses = new Map<NodeJS.Timeout, Segment>();
  /** Retention, deleteBefore and compaction run one at a time: they all rewrite the list. */
  #maintenance: Promise<unknown> = Promise.resolve();
  #maintaining = false;
  readonly #compaction: CompactionState = { cleanedUpTo: -1, nextHorizonMs: null };
  /**
   * The start a client raised (raiseLogStartOffset), durable in the partition directory; only
   * ever goes up. The log starts here or at its first segment, whichever is later.
   */
  #startOffset: number;

  private constructor(
    directory: string,
    options: LogOptions,
    deps: Required<Omit<PartitionLogDependencies, "recoveryScope">>,
    segments: Segment[],
    report: RecoveryReport,
  ) {
    this.directory = directory;
    this.#startOffset = report.logStartOffset;
    this.#options = Object.freeze(options);
    this.#fs = deps.fs;
    this.#logger = deps.logger;
    this.#now = deps.now;
    this.#settings = settingsOf(directory, options);
    this.#segments = segments;
    for (const segment of segments) segment.createdMs = deps.now();
    this.recoveryReport = report;
    this.#committer = new GroupCommitter(options, deps.logger, {
      active: () => this.#active,
      rollIfNeeded: (first) => this.#rollIfNeeded(first),
      fits: (segment, bytes, nextOffset, append) => this.#fits(segment, bytes, nextOffset, append),
    });
    this.#startSyncTimer();
  }

  /** The options in force: those the log was opened with, or the last reconfigure's. */
  get options(): LogOptions {
    return this.#options;
  }

  /**
   * Changes the options of the open log (a Kafka topic's configs altered at run time), resolved
   * as open resolves them, so the log behaves as if reopened with them. They apply at once, for
   * what comes next: the next append is checked against batch_bytes_max (and, once compacting,
   * for keys), the next roll follows segment_bytes / segment_ms, the next retention and
   * compaction passes their settings; a pass under way finishes with the options it started
   * with. Data already stored is never rewritten: batches larger than a lowered
   * batch_bytes_max stay readable (recovery does not judge stored batches by it, see
   * log-directory.ts), and the active segment keeps the index sized for its old segment_bytes,
   * rolling early when that fills (indexFull). Moving to fsync_policy "always" fsyncs what the
   * looser policy acknowledged at the committer's next turn. The options that size structures
   * made at open (OPTIONS_FIXED_AT_OPEN) must not change.
   */
  reconfigure(given: Partial<LogOptions>): void {
    this.#refuseIfClosing();
    const next = resolveLogOptions(given);
    const previous = this.#options;
    for (const name of OPTIONS_FIXED_AT_OPEN) {
      assert(next[name] === previous[name], `${name} is fixed while the log is open`);
    }
    this.#options = Object.freeze(next);
    this.#settings = settingsOf(this.directory, next);
    this.#committer.reconfigure(next);
    const policyChanged =
      next.fsync_policy !== previous.fsync_policy ||
      next.fsync_interval_ms !== previous.fsync_interval_ms;
    if (policyChanged) this.#startSyncTimer();
    if (next.fsync_policy === "always" && previous.fsync_policy !== "always") {
      this.#committer.requestSync();
    }
  }

  /** The fsync timer of the "interval" policy, (re)started for the options in force. */
  #startSyncTimer(): void {
    if (this.#syncTimer !== null) clearInterval(this.#syncTimer);
    this.#syncTimer = null;
    if (this.#options.fsync_policy !== "interval") return;
    this.#syncTimer = setInterval(
      () => this.#committer.requestSync(),
      this.#options.fsync_interval_ms,
    );
    this.#syncTimer.unref();
  }

  /** Opens (creating if needed) the log in `directory`, recovering it first. */
  static async open(
    directory: string,
    options: Partial<LogOptions> = {},
    deps: PartitionLogDependencies = {},
  ): Promise<PartitionLog> {
    const resolved = resolveLogOptions(options);
    const fs = deps.fs ?? new NodeFileSystem();
    const logger = deps.logger ?? silentLogger;
    const settings = settingsOf(directory, resolved);
    const opened = await openLogDirectory(fs, settings, deps.recoveryScope ?? "active", logger);
    return new PartitionLog(
      directory,
      resolved,
      { fs, logger, now: deps.now ?? Date.now },
      opened.segments,
      opened.report,
    );
  }

  /** The first offset a read may ask for; it only ever goes up. */
  get logStartOffset(): number {
    return Math.max(this.#startOffset, this.#segments[0].baseOffset);
  }

  /** The offset the next batch will get: one past the last acknowledged batch. */
  get logEndOffset(): number {
    return this.#active.nextOffset;
  }

  get segmentCount(): number {
    return this.#segments.length;
  }

  /** What an operator sees of each segment, oldest first; the last one is active. */
  segments(): SegmentInfo[] {
    return this.#segments.map((s) => ({
      baseOffset: s.baseOffset,
      nextOffset: s.nextOffset,
      sizeBytes: s.sizeBytes,
      maxTimestamp: s.maxTimestamp,
      corruptRegions: s.corruptRegions.length,
    }));
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.#segments) total += segment.sizeBytes;
    return total;
  }

  /** Group commits done and appends they carried: appends / groups is the coalescing factor. */
  get commitStats(): { groupCount: number; appendCount: number } {
    return { groupCount: this.#committer.groupCount, appendCount: this.#committer.appendCount };
  }

  get #active(): Segment {
    return this.#segments[this.#segments.length - 1];
  }

  /**
   * Appends one record batch (v2, any compression), taking ownership of the buffer: its
   * baseOffset is rewritten in place with the offset assigned. Resolves when the fsync policy's
   * guarantee holds; rejects with a StorageError (invalid or oversized batch, full queue, I/O
   * failure, closed log), in which case nothing of the batch is stored. The records inside a
   * compressed batch are not opened here (see compressedRecordsProblem).
   */
  append(batch: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    if (this.#closing) {
      return Promise.reject(
        new StorageError(
          ErrorCode.STORAGE_CLOSED,
          KafkaErrorCode.NOT_LEADER_OR_FOLLOWER,
          "log closed",
        ),
      );
    }
    const problem = this.#validate(batch, options.fromClient === true);
    if (problem !== null) return Promise.reject(problem);
    return this.#committer.enqueue(batch, batchLastOffsetDelta(batch), batchMaxTimestamp(batch));
  }

  #validate(batch: Buffer, fromClient: boolean): StorageError | null {
    if (batch.length >= LOG_OVERHEAD_BYTES) {
      const size = LOG_OVERHEAD_BYTES + batch.readInt32BE(OFFSET_BATCH_LENGTH);
      if (size > this.#options.batch_bytes_max) {
        return new StorageError(
          ErrorCode.STORAGE_BATCH_TOO_LARGE,
          KafkaErrorCode.MESSAGE_TOO_LARGE,
          `batch of ${size} bytes, at most ${this.#options.batch_bytes_max}`,
        );
      }
    }
    const check = checkBatch(batch, 0, batch.length, this.#options.batch_bytes_max);
    if (check.kind === "truncated") return invalidBatchError("cut short");
    if (check.kind === "corrupt") {
      return check.intact === true
        ? invalidRecordsError(check.reason)
        : invalidBatchError(check.reason);
    }
    if (check.sizeBytes !== batch.length) return invalidBatchError("more than one batch");
    // After the CRC, as Kafka: a batch damaged in transit is CORRUPT_MESSAGE (retriable).
    const rule = fromClient ? clientBatchProblem(batch) : null;
    if (rule !== null) return invalidRecordsError(rule);
    const seen = { maxTimestamp: Number.NaN };
    const problem = recordsProblem(batch, 0, true, seen);
    if (problem !== null) return invalidRecordsError(problem);
    // Known when the records were walked (not for a compressed batch).
    if (fromClient && !Number.isNaN(seen.maxTimestamp))
      correctMaxTimestamp(batch, 0, seen.maxTimestamp);
    return compacts(this.#options) ? keylessProblem(batch) : null;
  }

  /** Whether `append` can go into `segment` after `bytes` bytes ending at `nextOffset`. */
  #fits(segment: Segment, bytes: number, nextOffset: number, append: PendingAppend): boolean {
    if (bytes === 0) return true;
    if (bytes + append.sizeBytes > this.#options.segment_bytes) return false;
    return nextOffset + append.lastOffsetDelta - segment.baseOffset <= RELATIVE_OFFSET_MAX;
  }

  /** Rolls before `first` when the active segment is full, old, or its index is full. */
  #rollIfNeeded(first: PendingAppend): Promise<void> | null {
    const active = this.#active;
    if (active.isEmpty) return null;
    // As Kafka: the incoming batch's time against the first batch's, so a log fed old-stamped
    // records does not roll on every append; the wall clock only when there are no timestamps.
    const firstTimestamp = active.firstBatchTimestamp ?? -1;
    const age =
      firstTimestamp >= 0 && first.maxTimestamp >= 0
        ? first.maxTimestamp - firstTimestamp
        : this.#now() - active.createdMs;
    const due =
      !this.#fits(active, active.sizeBytes, active.nextOffset, first) ||
      age > this.#options.segment_ms ||
      active.indexFull;
    return due ? this.#roll() : null;
  }

  /**
   * Closes the active segment and starts the next: fsync the old one (closed segments are
   * always durable, whatever the policy), write its indexes, create the new file and make the
   * directory entry durable. A failure on the way leaves the old segment active.
   */
  async #roll(): Promise<void> {
    const old = this.#active;
    await old.sync();
    await old.persistIndexes();
    const fresh = await Segment.create(this.#fs, this.#settings, old.nextOffset);
    try {
      await this.#fs.syncDirectory(this.directory);
    } catch (error) {
      await this.#fs.close(fresh.handle).catch(() => {});
      throw error;
    }
    old.closed = true;
    fresh.createdMs = this.#now();
    this.#segments.push(fresh);
    this.#committer.markSynced();
    this.#logger.info({ file: fresh.logPath, baseOffset: fresh.baseOffset }, "rolled segment");
    // The roll has succeeded; a retention failure is reported, not charged to the append. While
    // a compaction runs, retention waits for the owner's next call rather than stall appends.
    if (this.#maintaining) return;
    await this.applyRetention().catch((error: unknown) => {
      this.#logger.error({ directory: this.directory, error: String(error) }, "retention failed");
    });
  }

  /**
   * Where the batches from `offset` are: whole batches starting with the one holding `offset`,
   * up to maxBytes (or the first batch alone if larger). Empty at the log end; throws
   * STORAGE_OFFSET_OUT_OF_RANGE outside [logStartOffset, logEndOffset] and STORAGE_CORRUPT for a
   * range recovery found corrupt.
   */
  async read(offset: number, maxBytes: number): Promise<LogSlice> {
    if (offset < this.logStartOffset || offset > this.logEndOffset) {
      throw outOfRangeError(offset, this.logStartOffset, this.logEndOffset);
    }
    // A snapshot: retention may remove segments from the list while this read awaits.
    for (const segment of this.#segments.slice(this.#segmentIndexFor(offset))) {
      let slice = await segment.read(offset, maxBytes);
      // Batches a compaction emptied are skipped when nothing else is in the slice.
      while (slice?.recordlessUntil !== undefined) {
        offset = slice.recordlessUntil;
        slice = await segment.read(offset, maxBytes);
      }
      if (slice !== null) {
        const { recordlessUntil: _, ...range } = slice;
        return { segment, file: segment.logPath, ...range };
      }
    }
    const empty = { position: 0, sizeBytes: 0, firstOffset: offset, nextOffset: null };
    return { segment: null, file: null, ...empty };
  }

  /**
   * The bytes of a slice, ready to send; also valid for a segment deleted since read(). Read
   * into `into` (at least slice.sizeBytes long) when given, else into a new buffer.
   */
  async readSlice(slice: LogSlice, into?: Buffer): Promise<Buffer> {
    if (slice.segment === null) return Buffer.alloc(0);
    return slice.segment.readBytes(slice.position, slice.sizeBytes, into);
  }

  /** Whether a slice from read() still lies in one of this log's segments (none replaced it). */
  holds(slice: LogSlice): boolean {
    if (slice.segment === null) return true;
    const index = this.#segmentIndexFor(slice.firstOffset);
    return !this.#closing && this.#segments[index] === slice.segment;
  }

  /**
   * The OS descriptor of the file holding a slice, to send the slice without copying it (see
   * src/broker/kafka/zero-copy.ts): the committed bytes of a segment file never change, since
   * appends go after them and compaction and retention replace or delete whole files. -1 when
   * there is no such descriptor (an empty slice, a closed segment, a file system without them).
   */
  sliceDescriptor(slice: LogSlice): number {
    return slice.segment?.descriptor() ?? -1;
  }

  /**
   * The first offset from the log start on with a timestamp >= `timestamp`; null when every
   * record there is earlier. Records below a raised start are gone, whatever their timestamps.
   */
  async offsetForTimestamp(timestamp: number): Promise<number | null> {
    const start = this.logStartOffset;
    for (const segment of [...this.#segments]) {
      if (segment.maxTimestamp < timestamp) continue;
      const offset = await segment.offsetForTimestamp(timestamp, start);
      if (offset === null) continue;
      // There may be no record at all from the start on (the roll of a raise to the end failed,
      // and the active segment holds only records below it).
      return offset < this.logEndOffset ? offset : null;
    }
    return null;
  }

  /** Last segment whose base offset is <= `offset`. */
  #segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.#segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.#segments[middle].baseOffset <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /**
   * Deletes closed segments beyond retention_bytes / retention_ms; see retention.ts. Under
   * cleanup_policy "compact" alone nothing is deleted (as in Kafka).
   */
  async applyRetention(): Promise<RetentionResult> {
    const belowStart = this.#startOffset > this.#segments[0].baseOffset;
    if (!deletes(this.#options) && !belowStart) {
      return { deletedSegmentCount: 0, deletedBytes: 0, logStartOffset: this.logStartOffset };
    }
    return this.#exclusive(async () => {
      // Segments wholly below a raised start go whatever the policy, as in Kafka; they are
      // left here only when the deletion right after the raise failed.
      const start = await deleteBelowStart(this.#segments, this.#startOffset, this.#retentionShell);
      // One set of options for the whole pass, whatever reconfigure does meanwhile.
      const options = this.#options;
      if (!deletes(options)) return { ...start, logStartOffset: this.logStartOffset };
      const result = await applyRetention(
        this.#segments,
        options,
        this.#now(),
        this.#retentionShell,
      );
      return {
        deletedSegmentCount: start.deletedSegmentCount + result.deletedSegmentCount,
        deletedBytes: start.deletedBytes + result.deletedBytes,
        logStartOffset: this.logStartOffset,
      };
    });
  }

  /**
   * One compaction pass (compaction.ts) when the policy compacts and the log is dirty enough
   * (min_cleanable_dirty_ratio) or a tombstone's delete horizon has passed; `force` skips that
   * test. Reads under way keep their segments until file_delete_delay_ms.
   */
  async compact(options: { force?: boolean } = {}): Promise<CompactionResult> {
    this.#refuseIfClosing();
    const shell = {
      segments: this.#segments,
      fs: this.#fs,
      settings: this.#settings,
      logger: this.#logger,
      closeLater: (segment: Segment) => this.#closeLater(segment),
    };
    const idle: CompactionResult = {
      ran: false,
      segmentsCleaned: 0,
      segmentsWritten: 0,
      bytesBefore: 0,
      bytesAfter: 0,
      recordsRemoved: 0,
    };
    if (!compacts(this.#options)) return idle;
    return this.#exclusive(() =>
      compactLog(this.#options, this.#compaction, this.#now(), shell, options.force === true),
    );
  }

  #exclusive<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#maintenance.then(async () => {
      this.#maintaining = true;
      try {
        return await run();
      } finally {
        this.#maintaining = false;
      }
    });
    this.#maintenance = next.catch(() => {});
    return next;
  }

  #refuseIfClosing(): void {
    if (this.#closing) {
      throw new StorageError(
        ErrorCode.STORAGE_CLOSED,
        KafkaErrorCode.NOT_LEADER_OR_FOLLOWER,
        "log closed",
      );
    }
  }

  /**
   * Deletes the closed segments all of whose records are below `offset`, for an owner that knows
   * nothing there is referenced any more (whatever retention says). The active segment stays,
   * so the log start offset moves to the first remaining segment's base, which may still be
   * below `offset`; reads already under way finish as after retention.
   */
  async deleteBefore(offset: number): Promise<RetentionResult> {
    this.#refuseIfClosing();
    return this.#exclusive(async () => {
      const result = await deleteBefore(this.#segments, offset, this.#retentionShell);
      return { ...result, logStartOffset: this.logStartOffset };
    });
  }

  /**
   * Raises the log start offset to `offset` (Kafka's DeleteRecords): reads below it fail with
   * STORAGE_OFFSET_OUT_OF_RANGE from the moment this resolves, and it survives a crash (it is
   * written durably first; see log-start-offset.ts). An offset at or below the current start
   * changes nothing; one past the log end is refused with STORAGE_OFFSET_OUT_OF_RANGE. The
   * segments wholly below it are then deleted; when that is every record, the active segment
   * rolls first so that it can go too. A failure of that clean-up is logged, not returned (the
   * start has moved; the next applyRetention deletes them). Rejects with STORAGE_IO when the
   * start could not be made durable: it has not moved then, although after a crash it may have
   * (the rename was the last step), as a rejected append may still be found after one.
   */
  async raiseLogStartOffset(offset: number): Promise<RetentionResult> {
    this.#refuseIfClosing();
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.logEndOffset) {
      throw new StorageError(
        ErrorCode.STORAGE_OFFSET_OUT_OF_RANGE,
        KafkaErrorCode.OFFSET_OUT_OF_RANGE,
        `log start offset ${offset} is outside [0, ${this.logEndOffset}] (the log end offset)`,
      );
    }
    return this.#exclusive(() => this.#raiseStart(offset));
  }

  async #raiseStart(offset: number): Promise<RetentionResult> {
    const unchanged = { deletedSegmentCount: 0, deletedBytes: 0 };
    if (offset <= this.logStartOffset) return { ...unchanged, logStartOffset: this.logStartOffset };
    await writeLogStartOffset(this.#fs, this.directory, offset);
    assert(offset > this.#startOffset && offset <= this.logEndOffset, "the start only goes up");
    this.#startOffset = offset;
    try {
      // Between two group commits, so no append is writing to the segment that rolls.
      await this.#committer.betweenGroups(() => this.#rollIfAllBelow(offset));
      const result = await deleteBelowStart(this.#segments, offset, this.#retentionShell);
      return { ...result, logStartOffset: this.logStartOffset };
    } catch (error) {
      this.#logger.error(
        { directory: this.directory, logStartOffset: offset, error: String(error) },
        "deleting segments below the log start offset failed; retention retries",
      );
      return { ...unchanged, logStartOffset: this.logStartOffset };
    }
  }

  /** Rolls when the active segment holds records and all of them are below `offset`. */
  async #rollIfAllBelow(offset: number): Promise<void> {
    const active = this.#active;
    if (!active.isEmpty && active.nextOffset <= offset) await this.#roll();
  }

  get #retentionShell(): RetentionShell {
    return {
      fs: this.#fs,
      directory: this.directory,
      logger: this.#logger,
      closeLater: (segment) => this.#closeLater(segment),
    };
  }

  #closeLater(segment: Segment): void {
    const timer = setTimeout(() => {
      this.#pendingCloses.delete(timer);
      void segment.close().catch(() => {});
    }, this.#options.file_delete_delay_ms);
    timer.unref();
    this.#pendingCloses.set(timer, segment);
  }

  /** Makes every acknowledged batch durable now, whatever the policy. */
  async flush(): Promise<void> {
    await this.#committer.sync();
  }

  /**
   * Stops taking appends, waits for queued ones, fsyncs the active segment, writes its indexes
   * and closes every file. (The next open rescans the active segment all the same: its index
   * files are only trusted once it is closed by a roll.)
   */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#syncTimer !== null) clearInterval(this.#syncTimer);
    await this.#committer.drain();
    await this.#maintenance;
    try {
      await this.#active.sync();
      await this.#active.persistIndexes();
    } finally {
      for (const [timer, segment] of this.#pendingCloses) {
        clearTimeout(timer);
        await segment.close().catch(() => {});
      }
      this.#pendingCloses.clear();
      for (const segment of this.#segments) await segment.close().catch(() => {});
    }
  }
}

/**
 * Kafka's rule for compacted topics: every record needs a key (else INVALID_RECORD), checked
 * inside compressed batches too. Control batches carry no user records.
 */
function keylessProblem(batch: Buffer): StorageError | null {
  if (readBatchHeader(batch).isControl) return null;
  const decoded = anyBatchRecords(batch);
  if (decoded.kind !== "ok")
    return invalidBatchError(decoded.kind === "corrupt" ? decoded.reason : "");
  if (decoded.records.every((record) => record.key !== null)) return null;
  return new StorageError(
    ErrorCode.STORAGE_INVALID_BATCH,
    KafkaErrorCode.INVALID_RECORD,
    "a compacted log takes only records with a key",
  );
}

function settingsOf(directory: string, options: LogOptions): SegmentSettings {
  return {
    directory,
    indexIntervalBytes: options.index_interval_bytes,
    batchBytesMax: options.batch_bytes_max,
    segmentBytesMax: options.segment_bytes,
  };
}
