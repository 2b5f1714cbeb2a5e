import type { Logger } from "../../log/logger.ts";
import { KafkaError } from "../../protocol/kafka/error-codes.ts";
import { StorageError } from "../../storage/log/index.ts";

/**
 * The Kafka error code for a failed log operation. Storage errors carry their own code; anything
 * else is a bug or an unexpected I/O failure, logged here so the client's UNKNOWN_SERVER_ERROR
 * has a matching line in the broker's log.
 */
export function storageErrorCode(
  err: unknown,
  logger: Logger,
): { errorCode: number; message: string } {
  if (err instanceof StorageError) {
    if (err.kafkaErrorCode === KafkaError.KAFKA_STORAGE_ERROR) {
      logger.error({ err, code: err.code }, "Kafka partition storage failure");
    }
    return { errorCode: err.kafkaErrorCode, message: err.message };
  }
  logger.error({ err }, "Kafka request failed");
  return { errorCode: KafkaError.UNKNOWN_SERVER_ERROR, message: "internal error" };
}
