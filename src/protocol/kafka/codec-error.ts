/**
 * Every way Kafka bytes can be wrong, as one typed error. The listener answers it by closing the
 * connection with a log line (a peer that sends malformed frames cannot be resynchronised), so
 * the decoder never has to guess.
 */
import { ErrorCode, RobustMQError } from "../../errors.ts";

export type KafkaCodecProblem =
  /** The bytes end before the field does. */
  | "truncated"
  /** A length or count below -1, or -1 where null is not allowed. */
  | "negative_length"
  /** A length or count larger than the bytes left, or than a configured limit. */
  | "oversize"
  /** Anything else: bad varint, unknown API, value out of range when encoding. */
  | "invalid";

export class KafkaCodecError extends RobustMQError {
  readonly problem: KafkaCodecProblem;
  constructor(problem: KafkaCodecProblem, message: string) {
    super(ErrorCode.KAFKA_MALFORMED_REQUEST, message);
    this.name = "KafkaCodecError";
    this.problem = problem;
  }
}
