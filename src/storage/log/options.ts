/**
 * Options of one partition log. Names follow the config keys the lead will add (snake_case as in
 * Kafka and the original RobustMQ); defaults match Kafka's where Kafka has the same setting.
 */
import { assert } from "../../errors.ts";

export const FSYNC_POLICIES = ["always", "interval", "never"] as const;
export type FsyncPolicy = (typeof FSYNC_POLICIES)[number];
/** Kafka's cleanup.policy values (its "delete,compact" spelling is normalised by the caller). */
export const CLEANUP_POLICIES = ["delete", "compact", "compact,delete"] as const;
export type CleanupPolicy = (typeof CLEANUP_POLICIES)[number];

export interface LogOptions {
  /** Roll the active segment before it would exceed this size. Default 1 GiB; at most 2^31-1. */
  segment_bytes: number;
  /** Roll the active segment once its first batch is older than this. Default 7 days. */
  segment_ms: number;
  /** Bytes of log between sparse index entries. Default 4096. */
  index_interval_bytes: number;
  /** Delete closed segments while the log is larger than this; -1 for no limit (default). */
  retention_bytes: number;
  /** Delete closed segments whose newest record is older than this; -1 to keep. Default 7 days. */
  retention_ms: number;
  /**
   * When an append is acknowledged: "always" after its bytes are written and fsynced (group
   * committed), "interval" after the write with an fsync every fsync_interval_ms, "never" after
   * the write, leaving flushing to the operating system. Default "always".
   */
  fsync_policy: FsyncPolicy;
  /** Period of the background fsync under the "interval" policy. Default 1000. */
  fsync_interval_ms: number;
  /** Largest batch accepted (Kafka's message.max.bytes). Default 1,048,588 or segment_bytes. */
  batch_bytes_max: number;
  /** Bytes of appends that may wait for the disk before new ones are refused. Default 64 MiB. */
  append_queue_bytes_max: number;
  /** Most bytes coalesced into one group commit (one writev + one fsync). Default 8 MiB. */
  group_commit_bytes_max: number;
  /** How long a deleted segment's file stays open for reads already under way. Default 60 s. */
  file_delete_delay_ms: number;
  /**
   * "delete" (default): retention deletes old segments. "compact": closed segments are
   * compacted to the latest record per key and retention deletes nothing. "compact,delete":
   * both. See compaction.ts.
   */
  cleanup_policy: CleanupPolicy;
  /** How long a tombstone stays after the cleaning that first saw it. Default 24 h. */
  delete_retention_ms: number;
  /** Share of the cleanable bytes not yet cleaned that makes a pass worth it. Default 0.5. */
  min_cleanable_dirty_ratio: number;
  /** Records newer than this are not compacted (their segment waits). Default 0. */
  min_compaction_lag_ms: number;
}

/**
 * Options that size what a log builds when it opens (the append queue, group commits, index
 * spacing, delayed closes): a running log keeps them; PartitionLog.reconfigure changes the rest.
 */
export const OPTIONS_FIXED_AT_OPEN = [
  "index_interval_bytes",
  "append_queue_bytes_max",
  "group_commit_bytes_max",
  "file_delete_delay_ms",
] as const satisfies ReadonlyArray<keyof LogOptions>;

const DAY_MS = 24 * 60 * 60 * 1000;
const INT32_MAX = 2_147_483_647;

export const DEFAULT_LOG_OPTIONS: Readonly<LogOptions> = Object.freeze({
  segment_bytes: 1024 * 1024 * 1024,
  segment_ms: 7 * DAY_MS,
  index_interval_bytes: 4096,
  retention_bytes: -1,
  retention_ms: 7 * DAY_MS,
  fsync_policy: "always",
  fsync_interval_ms: 1000,
  batch_bytes_max: 1_048_588,
  append_queue_bytes_max: 64 * 1024 * 1024,
  group_commit_bytes_max: 8 * 1024 * 1024,
  file_delete_delay_ms: 60_000,
  cleanup_policy: "delete",
  delete_retention_ms: DAY_MS,
  min_cleanable_dirty_ratio: 0.5,
  min_compaction_lag_ms: 0,
});

/**
 * Fills in defaults and checks every value. The config schema will reject bad values with
 * operator-facing messages first, so a failure here is a programmer error and asserts.
 */
/** Whether the policy compacts / deletes by retention. */
export function compacts(options: Pick<LogOptions, "cleanup_policy">): boolean {
  return options.cleanup_policy !== "delete";
}

export function deletes(options: Pick<LogOptions, "cleanup_policy">): boolean {
  return options.cleanup_policy !== "compact";
}

export function resolveLogOptions(given: Partial<LogOptions> = {}): LogOptions {
  const options: LogOptions = { ...DEFAULT_LOG_OPTIONS, ...given };
  // Small segments (tests, tiny deployments) would otherwise also have to lower the batch limit.
  if (given.batch_bytes_max === undefined) {
    options.batch_bytes_max = Math.min(options.batch_bytes_max, options.segment_bytes);
  }
  const positive = (name: keyof LogOptions, max = Number.MAX_SAFE_INTEGER) => {
    const value = options[name];
    assert(Number.isInteger(value) && Number(value) > 0 && Number(value) <= max, `${name}`);
  };
  positive("segment_bytes", INT32_MAX);
  positive("segment_ms");
  positive("index_interval_bytes", INT32_MAX);
  positive("fsync_interval_ms");
  positive("batch_bytes_max", INT32_MAX);
  positive("append_queue_bytes_max");
  positive("group_commit_bytes_max");
  assert(options.retention_bytes === -1 || options.retention_bytes >= 0, "retention_bytes");
  assert(options.retention_ms === -1 || options.retention_ms >= 0, "retention_ms");
  assert(
    Number.isInteger(options.file_delete_delay_ms) && options.file_delete_delay_ms >= 0,
    "delay",
  );
  assert(FSYNC_POLICIES.includes(options.fsync_policy), `fsync_policy ${options.fsync_policy}`);
  assert(CLEANUP_POLICIES.includes(options.cleanup_policy), `cleanup ${options.cleanup_policy}`);
  for (const name of ["delete_retention_ms", "min_compaction_lag_ms"] as const) {
    assert(Number.isSafeInteger(options[name]) && options[name] >= 0, name);
  }
  const ratio = options.min_cleanable_dirty_ratio;
  assert(Number.isFinite(ratio) && ratio >= 0 && ratio <= 1, "min_cleanable_dirty_ratio");
  // A batch must fit a fresh segment, and one group must be able to carry the largest batch.
  assert(options.batch_bytes_max <= options.segment_bytes, "batch_bytes_max <= segment_bytes");
  assert(options.batch_bytes_max <= options.group_commit_bytes_max, "a batch fits a group");
  assert(options.batch_bytes_max <= options.append_queue_bytes_max, "a batch fits the queue");
  return options;
}
