/**
 * Errors of the log layer. Each carries a stable code (src/errors.ts, docs/errors.md) and the
 * Kafka error code a Kafka handler answers with, so a handler never has to guess a mapping.
 */
import { ErrorCode, type ErrorCodeValue, RobustMQError } from "../../errors.ts";

/** Kafka protocol error codes for the storage errors (Kafka protocol guide, "Error Codes"). */
export const KafkaErrorCode = {
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  MESSAGE_TOO_LARGE: 10,
  NOT_LEADER_OR_FOLLOWER: 6,
  KAFKA_STORAGE_ERROR: 56,
  INVALID_RECORD: 87,
} as const;

export class StorageError extends RobustMQError {
  readonly kafkaErrorCode: number;
  /** The file involved, when one is; null for errors about the caller's input. */
  readonly file: string | null;
  constructor(
    code: ErrorCodeValue,
    kafkaErrorCode: number,
    message: string,
    file: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(code, message);
    this.name = "StorageError";
    this.kafkaErrorCode = kafkaErrorCode;
    this.file = file;
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** Wraps a failed file operation (EIO, ENOSPC, ...), keeping the system error as the cause. */
export function ioError(operation: string, file: string, cause: unknown): StorageError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StorageError(
    ErrorCode.STORAGE_IO,
    KafkaErrorCode.KAFKA_STORAGE_ERROR,
    `${operation} failed on ${file}: ${detail}`,
    file,
    { cause },
  );
}

/** Stored bytes that fail validation where a reader needed them. */
export function corruptError(file: string, position: number, reason: string): StorageError {
  return new StorageError(
    ErrorCode.STORAGE_CORRUPT,
    KafkaErrorCode.CORRUPT_MESSAGE,
    `corrupt batch in ${file} at byte ${position}: ${reason}`,
    file,
  );
}

export function invalidBatchError(reason: string): StorageError {
  return new StorageError(
    ErrorCode.STORAGE_INVALID_BATCH,
    KafkaErrorCode.CORRUPT_MESSAGE,
    `invalid record batch: ${reason}`,
  );
}

/**
 * A batch whose header and CRC are sound but whose records are not what the header says, or
 * that Kafka refuses from a client (count, offset range, control, sequence): Kafka's
 * InvalidRecordException, answered with INVALID_RECORD (non-retriable, unlike CORRUPT_MESSAGE,
 * since resending the same bytes cannot help).
 */
export function invalidRecordsError(reason: string): StorageError {
  return new StorageError(
    ErrorCode.STORAGE_INVALID_BATCH,
    KafkaErrorCode.INVALID_RECORD,
    `invalid record batch: ${reason}`,
  );
}

export function outOfRangeError(offset: number, start: number, end: number): StorageError {
  return new StorageError(
    ErrorCode.STORAGE_OFFSET_OUT_OF_RANGE,
    KafkaErrorCode.OFFSET_OUT_OF_RANGE,
    `offset ${offset} is outside the log [${start}, ${end})`,
  );
}

/** Runs a file operation, turning any failure into a STORAGE_IO error naming the file. */
export async function io<T>(operation: string, file: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    if (cause instanceof StorageError) throw cause;
    throw ioError(operation, file, cause);
  }
}
