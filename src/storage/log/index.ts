/**
 * The log layer: Kafka record batch v2 codec, segments with sparse indexes, partition logs with
 * group commit, and crash recovery. See docs/storage.md.
 */

export type { CompactionResult } from "./compaction.ts";
export type { BatchPlan, PlanBatch } from "./compaction-plan.ts";
export {
  anyBatchRecords,
  compressedRecordsProblem,
  DECOMPRESSED_BATCH_BYTES_MAX,
} from "./compression.ts";
export { type FileHandle, type FileSystem, NodeFileSystem, type OpenMode } from "./file-system.ts";
export type { AppendResult } from "./group-commit.ts";
export {
  CLEANUP_POLICIES,
  type CleanupPolicy,
  DEFAULT_LOG_OPTIONS,
  deletes,
  FSYNC_POLICIES,
  type FsyncPolicy,
  type LogOptions,
  resolveLogOptions,
} from "./options.ts";
export {
  type AppendOptions,
  type LogSlice,
  PartitionLog,
  type PartitionLogDependencies,
  type SegmentInfo,
} from "./partition-log.ts";
export * from "./record-batch.ts";
export {
  buildRecordBatch,
  buildRecordBatchAs,
  type LogRecord,
  type RecordHeader,
  type RecordInput,
  type RecordsResult,
  readRecords,
  recordsProblem,
} from "./records.ts";
export {
  type RecoveryReport,
  type RecoveryScope,
  type StorageLogger,
  silentLogger,
} from "./recovery.ts";
export { type RetentionResult, segmentsBelow, segmentsToDelete } from "./retention.ts";
export { type CorruptRegion, segmentFileName } from "./segment.ts";
export { KafkaErrorCode, StorageError } from "./storage-error.ts";
