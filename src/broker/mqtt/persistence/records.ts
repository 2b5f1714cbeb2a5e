/**
 * What the MQTT message log holds. Every entry is one Kafka record; the records of one
 * event-loop turn share a batch (appender.ts):
 *
 *   an application message   key = message key (message-key.ts: meta + topic), value = payload
 *   a session state change   key = null, value = a StateChange (msgpack)
 *
 * Logs written before format 1 hold messages as key = topic, value = payload, header "mqtt" =
 * msgpack MessageMeta; they are still read. Messages are stored once however many sessions
 * they are queued for: sessions refer to them by log offset. The state changes are those that
 * must be durable before the broker answers (SUBACK, PUBREL, PUBCOMP, a QoS 2 PUBLISH to a
 * subscriber, PUBREC of a delayed QoS 2 publish); the rest of a session's state is written by
 * checkpoints.
 */
import { pack, unpack } from "msgpackr";
import type { QoS } from "../../../protocol/mqtt/constants.ts";
import type { Properties } from "../../../protocol/mqtt/packets.ts";
import { buildRecordBatch, type LogRecord, type RecordInput } from "../../../storage/log/index.ts";
import type { Subscription } from "../session.ts";
import { decodeMessageKey, encodeMessageKey, isMessageKey } from "./message-key.ts";

/** A subscription as stored. */
export interface StoredSubscription {
  /** The filter as subscribed, with any `$share/{group}/` prefix. */
  f: string;
  q: QoS;
  nl: boolean;
  rap: boolean;
  rh: 0 | 1 | 2;
  /** Subscription Identifier; 0 = none. */
  id: number;
  /** Subscribed as `$exclusive/<filter>` (absent in logs from before it was stored). */
  x?: true;
}

export function storedSubscription(sub: Subscription): StoredSubscription {
  const stored: StoredSubscription = {
    f: sub.filter,
    q: sub.qos,
    nl: sub.noLocal,
    rap: sub.retainAsPublished,
    rh: sub.retainHandling,
    id: sub.subscriptionId,
  };
  if (sub.exclusive) stored.x = true;
  return stored;
}

/** How an application message was published. */
export interface MessageMeta {
  q: QoS;
  r: boolean;
  /**
   * Published with retain, but a limit kept it from the retained store (max_retained_messages,
   * max_retained_payload_bytes): a replay does not retain it either.
   */
  n?: true;
  /** Forwarded v5 properties. */
  p?: Properties;
  /** Absolute expiry in ms since the epoch; 0 = never. */
  x: number;
  /** Publisher's client id ("" for the broker's own messages). */
  o: string;
  /** Packet id of a QoS 2 PUBLISH from a persistent session: the PUBREL it waits for. */
  i?: number;
  /** Persistent sessions that got it through a shared subscription: [clientId, filter]. */
  s?: Array<[string, string]>;
}

export type StateChange =
  /** A persistent session was created, or its expiry interval changed. */
  | { t: "session"; c: string; e: number }
  /** A persistent session ended (or became one that ends with its connection). */
  | { t: "drop"; c: string }
  | { t: "subscribe"; c: string; s: StoredSubscription[] }
  | { t: "unsubscribe"; c: string; f: string[] }
  /** A QoS 2 delivery of the message at offset `o` goes out under packet id `p`. */
  | { t: "send"; c: string; o: number; p: number }
  /** PUBREC received for outbound packet id `p`: from now on only PUBREL is resent. */
  | { t: "received"; c: string; p: number }
  /**
   * Inbound QoS 2 packet id `p` accepted for a message kept outside this log (a delayed
   * publish): held until PUBREL, as the `i` of a message record holds it.
   */
  | { t: "held"; c: string; p: number }
  /** PUBREL received for inbound packet id `p`: the id is free again. */
  | { t: "released"; c: string; p: number }
  /** Marks the log position a checkpoint covers. */
  | { t: "checkpoint" };

export type LogEntry =
  | {
      kind: "message";
      offset: number;
      timestamp: number;
      topic: string;
      payload: Buffer;
      meta: MessageMeta;
    }
  | { kind: "change"; offset: number; change: StateChange };

/** The header of a message record written before format 1. */
const LEGACY_META_HEADER = "mqtt";

/** A message as one record (format 1). */
export function messageRecord(
  topic: string,
  payload: Buffer,
  meta: MessageMeta,
  nowMs: number,
): RecordInput {
  return { timestamp: nowMs, key: encodeMessageKey(topic, meta), value: payload };
}

export function changeRecord(change: StateChange, nowMs: number): RecordInput {
  return { timestamp: nowMs, key: null, value: pack(change) };
}

/** A message alone in a batch (tests, tools). */
export function messageBatch(
  topic: string,
  payload: Buffer,
  meta: MessageMeta,
  nowMs: number,
): Buffer {
  return buildRecordBatch([messageRecord(topic, payload, meta, nowMs)]);
}

/** A message as logs before format 1 held it: kept to test that they are still read. */
export function legacyMessageBatch(
  topic: string,
  payload: Buffer,
  meta: MessageMeta,
  nowMs: number,
): Buffer {
  return buildRecordBatch([
    {
      timestamp: nowMs,
      key: Buffer.from(topic),
      value: payload,
      headers: [{ key: LEGACY_META_HEADER, value: pack(meta) }],
    },
  ]);
}

export function changeBatch(change: StateChange, nowMs: number): Buffer {
  return buildRecordBatch([changeRecord(change, nowMs)]);
}

/**
 * Decodes a record of the MQTT log; null for a record this version does not know. A record
 * that claims a known format but does not decode throws STORAGE_CORRUPT.
 */
export function decodeEntry(record: LogRecord): LogEntry | null {
  if (record.key === null) {
    if (record.value === null) return null;
    const change = unpack(record.value) as StateChange;
    return typeof change?.t === "string" ? { kind: "change", offset: record.offset, change } : null;
  }
  const payload = record.value ?? Buffer.alloc(0);
  if (record.headers.length === 0) {
    if (!isMessageKey(record.key)) return null;
    const { topic, meta } = decodeMessageKey(record.key);
    return {
      kind: "message",
      offset: record.offset,
      timestamp: record.timestamp,
      topic,
      payload,
      meta,
    };
  }
  const header = record.headers.find((h) => h.key === LEGACY_META_HEADER);
  if (header === undefined || header.value === null) return null;
  return {
    kind: "message",
    offset: record.offset,
    timestamp: record.timestamp,
    topic: record.key.toString(),
    payload,
    meta: unpack(header.value) as MessageMeta,
  };
}
