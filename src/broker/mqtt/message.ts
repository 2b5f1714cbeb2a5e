import { COMPACT_WASTE_BYTES_MIN } from "../../config/limits.ts";
import type { QoS } from "../../protocol/mqtt/constants.ts";
import type { Properties } from "../../protocol/mqtt/packets.ts";

/**
 * An application message as the broker holds it: one object per PUBLISH received, shared by
 * every session it is delivered or queued to. Fields are all set in the constructor so the
 * object shape stays stable on the hot path.
 */
export class Message {
  readonly topic: string;
  /** A slice of the read buffer until compact() is called. */
  payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  /**
   * v5 properties forwarded to subscribers unchanged [MQTT-3.3.2-18..20]: payload format,
   * content type, response topic, correlation data, user properties. Never topic alias,
   * subscription identifiers or message expiry (those are per delivery).
   */
  readonly properties: Properties | undefined;
  /** Absolute expiry time in ms since the epoch; 0 = never. */
  readonly expiresAtMs: number;
  /** Client id of the publisher (for No Local); "" for messages the broker makes itself. */
  readonly origin: string;
  /** Encoded PUBLISH buffers, indexed by variantIndex(); filled on first delivery. */
  encoded: Array<Buffer | undefined> | null;
  /** Offset in the MQTT message log once stored there; -1 while it is not (or not yet). */
  logOffset: number;
  /**
   * The append to the message log, while the message is being or has been stored; resolves
   * once it is durable, with logOffset set (shared by the messages of one batch).
   */
  stored: Promise<void> | null;
  /** Appends of the MQTT -> Kafka bridge, when a rule matched. */
  bridged: Promise<unknown> | null;
  /**
   * Published by the Kafka -> MQTT bridge, which the other direction must not send back (a
   * loop). A flag of its own: any string in `origin` could be some client's id.
   */
  fromKafka: boolean;
  /**
   * When the broker took it in (ms since the epoch), for slow-subscription statistics; 0 when
   * they are off (set by MqttBroker.publish, so it costs nothing then).
   */
  receivedAtMs: number;
  private compacted: boolean;

  constructor(
    topic: string,
    payload: Buffer,
    qos: QoS,
    retain: boolean,
    properties: Properties | undefined,
    expiresAtMs: number,
    origin: string,
  ) {
    this.topic = topic;
    this.payload = payload;
    this.qos = qos;
    this.retain = retain;
    this.properties = properties;
    this.expiresAtMs = expiresAtMs;
    this.origin = origin;
    this.encoded = null;
    this.logOffset = -1;
    this.stored = null;
    this.bridged = null;
    this.fromKafka = false;
    this.receivedAtMs = 0;
    this.compacted = false;
  }

  isExpired(nowMs: number): boolean {
    return this.expiresAtMs !== 0 && nowMs >= this.expiresAtMs;
  }

  /** Seconds left for the Message Expiry Interval sent to a subscriber [MQTT-3.3.2-6]. */
  remainingExpirySeconds(nowMs: number): number {
    return Math.max(1, Math.ceil((this.expiresAtMs - nowMs) / 1000));
  }

  /**
   * Called before the message is kept beyond the current read (queued, inflight, retained):
   * a small view into a large socket chunk would otherwise pin the whole chunk in memory.
   */
  compact(): void {
    if (this.compacted) return;
    this.compacted = true;
    const waste = this.payload.buffer.byteLength - this.payload.byteLength;
    // Copy only when the view pins more than it holds: a 100 KB payload in a 101 KB chunk stays.
    if (waste >= COMPACT_WASTE_BYTES_MIN && waste > this.payload.byteLength) {
      this.payload = Buffer.from(this.payload);
    }
    const correlation = this.properties?.correlationData;
    if (correlation !== undefined && this.properties !== undefined) {
      this.properties.correlationData = Buffer.from(correlation);
    }
  }
}

/** Cache slot for a PUBLISH variant: v5 or not, QoS 0-2, retain flag. */
export function variantIndex(v5: boolean, qos: QoS, retain: boolean): number {
  return (v5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
}
export const VARIANT_COUNT = 12;
