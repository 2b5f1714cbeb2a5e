/**
 * Every error RobustMQ reports carries a stable code, declared once here and documented in
 * docs/errors.md (a test keeps the two in step). A retired code is never reused.
 */
export const ErrorCode = {
  CONFIG_FILE: "RMQ_ERR_CONFIG_FILE",
  CONFIG_INVALID: "RMQ_ERR_CONFIG_INVALID",
  CLI_USAGE: "RMQ_ERR_CLI_USAGE",
  LISTEN_FAILED: "RMQ_ERR_LISTEN_FAILED",
  DATA_DIR_LOCKED: "RMQ_ERR_DATA_DIR_LOCKED",
  MQTT_MALFORMED_PACKET: "RMQ_ERR_MQTT_MALFORMED_PACKET",
  MQTT_PROTOCOL_ERROR: "RMQ_ERR_MQTT_PROTOCOL_ERROR",
  MQTT_PACKET_TOO_LARGE: "RMQ_ERR_MQTT_PACKET_TOO_LARGE",
  MQTT_UNSUPPORTED_PROTOCOL_VERSION: "RMQ_ERR_MQTT_UNSUPPORTED_PROTOCOL_VERSION",
  STORAGE_IO: "RMQ_ERR_STORAGE_IO",
  STORAGE_CORRUPT: "RMQ_ERR_STORAGE_CORRUPT",
  STORAGE_INVALID_BATCH: "RMQ_ERR_STORAGE_INVALID_BATCH",
  STORAGE_BATCH_TOO_LARGE: "RMQ_ERR_STORAGE_BATCH_TOO_LARGE",
  STORAGE_OFFSET_OUT_OF_RANGE: "RMQ_ERR_STORAGE_OFFSET_OUT_OF_RANGE",
  STORAGE_QUEUE_FULL: "RMQ_ERR_STORAGE_QUEUE_FULL",
  STORAGE_CLOSED: "RMQ_ERR_STORAGE_CLOSED",
  KAFKA_MALFORMED_REQUEST: "RMQ_ERR_KAFKA_MALFORMED_REQUEST",
  BENCH_INVALID_OPTION: "RMQ_ERR_BENCH_INVALID_OPTION",
  BENCH_CONNECT_FAILED: "RMQ_ERR_BENCH_CONNECT_FAILED",
  BENCH_RUN_FAILED: "RMQ_ERR_BENCH_RUN_FAILED",
  ADMIN_UNAUTHORIZED: "RMQ_ERR_ADMIN_UNAUTHORIZED",
  ADMIN_NOT_FOUND: "RMQ_ERR_ADMIN_NOT_FOUND",
  ADMIN_CONFLICT: "RMQ_ERR_ADMIN_CONFLICT",
  ADMIN_INVALID_REQUEST: "RMQ_ERR_ADMIN_INVALID_REQUEST",
  ADMIN_BODY_TOO_LARGE: "RMQ_ERR_ADMIN_BODY_TOO_LARGE",
  ADMIN_CREDENTIALS: "RMQ_ERR_ADMIN_CREDENTIALS",
  ADMIN_BUSY: "RMQ_ERR_ADMIN_BUSY",
  ADMIN_INTERNAL: "RMQ_ERR_ADMIN_INTERNAL",
  CTL_UNREACHABLE: "RMQ_ERR_CTL_UNREACHABLE",
  CTL_REQUEST_FAILED: "RMQ_ERR_CTL_REQUEST_FAILED",
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export class RobustMQError extends Error {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string) {
    super(message);
    this.name = "RobustMQError";
    this.code = code;
  }
}

/** A peer broke the MQTT rules; `reasonCode` is what a v5 peer is told (0x81, 0x82, 0x95, ...). */
export class MqttProtocolError extends RobustMQError {
  readonly reasonCode: number;
  constructor(code: ErrorCodeValue, reasonCode: number, message: string) {
    super(code, message);
    this.name = "MqttProtocolError";
    this.reasonCode = reasonCode;
  }
}

/** Programmer errors crash; this assert stays on in production. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
