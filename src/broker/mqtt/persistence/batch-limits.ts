/**
 * How large a batch the MQTT message log must take: one message of the largest PUBLISH a
 * client may send (mqtt_protocol_config.max_packet_size) in a batch of its own, with what its
 * record key adds that is not in the PUBLISH (the publisher's client id, the shared-subscription
 * members that took it) and the record's and batch's own bytes.
 */
import { DEFAULT_LOG_OPTIONS, type LogOptions } from "../../../storage/log/options.ts";

/** Room for a key's client id (up to 64 KiB) and share members, and the record's overhead. */
const KEY_EXTRA_BYTES_MAX = 256 * 1024;

export function mqttLogBatchBytesMax(maxPacketSize: number): number {
  return Math.max(DEFAULT_LOG_OPTIONS.batch_bytes_max, maxPacketSize + KEY_EXTRA_BYTES_MAX);
}

/** The log options that let such a batch through the group commit and its queue. */
export function mqttLogBatchOptions(
  maxPacketSize: number,
): Pick<LogOptions, "batch_bytes_max" | "group_commit_bytes_max" | "append_queue_bytes_max"> {
  const batch = mqttLogBatchBytesMax(maxPacketSize);
  return {
    batch_bytes_max: batch,
    group_commit_bytes_max: Math.max(DEFAULT_LOG_OPTIONS.group_commit_bytes_max, batch),
    append_queue_bytes_max: Math.max(DEFAULT_LOG_OPTIONS.append_queue_bytes_max, 2 * batch),
  };
}
