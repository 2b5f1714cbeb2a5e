/**
 * Why connected clients went away, in a few fixed categories (bounded metric labels), counted
 * once per connection when it closes.
 */
import { ReasonCode } from "../../protocol/mqtt/constants.ts";

export const DISCONNECT_REASONS = [
  "client",
  "connection_lost",
  "keepalive_timeout",
  "takeover",
  "kicked",
  "shutdown",
  "protocol_error",
  "other",
] as const;
export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];

/** Connections closed after CONNACK, by reason; indexed like DISCONNECT_REASONS. */
export class DisconnectCounts {
  readonly counts = new Float64Array(DISCONNECT_REASONS.length);

  add(reason: DisconnectReason): void {
    this.counts[DISCONNECT_REASONS.indexOf(reason)]++;
  }

  get(reason: DisconnectReason): number {
    return this.counts[DISCONNECT_REASONS.indexOf(reason)];
  }
}

/**
 * `clientSent`: the client sent DISCONNECT. `serverCode`: the reason code of the broker's own
 * DISCONNECT (sent to v5 clients, implied for v3), or -1 when the broker sent none.
 */
export function disconnectReason(
  clientSent: boolean,
  serverCode: number,
  lost: boolean,
): DisconnectReason {
  if (clientSent) return "client";
  switch (serverCode) {
    case -1:
      return lost ? "connection_lost" : "other";
    case ReasonCode.KEEP_ALIVE_TIMEOUT:
      return "keepalive_timeout";
    case ReasonCode.SESSION_TAKEN_OVER:
      return "takeover";
    case ReasonCode.ADMINISTRATIVE_ACTION:
      return "kicked";
    case ReasonCode.SERVER_SHUTTING_DOWN:
      return "shutdown";
    default:
      return serverCode >= 0x80 ? "protocol_error" : "other";
  }
}
