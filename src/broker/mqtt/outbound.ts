import { PacketType, type QoS } from "../../protocol/mqtt/constants.ts";
import { encodePublish } from "../../protocol/mqtt/index.ts";
import type { AckPacket, Properties } from "../../protocol/mqtt/packets.ts";
import type { MqttConnection } from "./connection.ts";
import { type Message, VARIANT_COUNT, variantIndex } from "./message.ts";

/**
 * Whether this delivery needs bytes of its own: MQTT 5 with subscription identifiers, a
 * remaining expiry or topic aliases. Otherwise publishTemplate's shared bytes are used.
 */
export function needsCustomEncoding(
  conn: MqttConnection,
  message: Message,
  subscriptionIds: number[] | null,
): boolean {
  return (
    conn.protocolVersion === 5 &&
    (subscriptionIds !== null || message.expiresAtMs !== 0 || conn.topicAliasMaxOut > 0)
  );
}

/**
 * The PUBLISH bytes every subscriber of the same protocol family, QoS and retain flag
 * receives, encoded once per message. For QoS 1/2 they carry packet identifier 1 and no DUP:
 * the connection writes the real ones into its own copy (see MqttConnection.writeWithId).
 * Never modified once made.
 */
export function publishTemplate(
  conn: MqttConnection,
  message: Message,
  qos: QoS,
  retain: boolean,
): Buffer {
  const v5 = conn.protocolVersion === 5;
  const slot = variantIndex(v5, qos, retain);
  let cache = message.encoded;
  if (cache === null) {
    cache = new Array<Buffer | undefined>(VARIANT_COUNT);
    message.encoded = cache;
  }
  let template = cache[slot];
  if (template === undefined) {
    template = encodePublish(
      {
        type: "publish",
        topic: message.topic,
        payload: message.payload,
        qos,
        retain,
        dup: false,
        packetId: qos > 0 ? 1 : undefined,
        properties: v5 ? message.properties : undefined,
      },
      conn.protocolVersion,
    );
    cache[slot] = template;
  }
  return template;
}

/** Builds the complete PUBLISH bytes for one delivery (a copy, never a shared template). */
export function encodeDelivery(
  conn: MqttConnection,
  message: Message,
  qos: QoS,
  retain: boolean,
  subscriptionIds: number[] | null,
  packetId: number,
  dup: boolean,
): Buffer {
  if (needsCustomEncoding(conn, message, subscriptionIds)) {
    return encodeCustom(conn, message, qos, retain, subscriptionIds, packetId, dup);
  }
  const template = publishTemplate(conn, message, qos, retain);
  if (qos === 0) return template;
  const copy = Buffer.allocUnsafe(template.length);
  template.copy(copy);
  writePacketId(copy, 0, packetId, dup);
  return copy;
}

export type AckType = AckPacket["type"];

/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP with packet identifier 0 and no reason code: what the
 * encoder makes for reason code 0 (MQTT 5 leaves it off) and for every v3 acknowledgement.
 * Templates for writePacketId; never modified.
 */
export const ACK_TEMPLATES: Readonly<Record<AckType, Buffer>> = {
  puback: Buffer.from([0x40, 0x02, 0x00, 0x00]),
  pubrec: Buffer.from([0x50, 0x02, 0x00, 0x00]),
  pubrel: Buffer.from([0x62, 0x02, 0x00, 0x00]),
  pubcomp: Buffer.from([0x70, 0x02, 0x00, 0x00]),
};

/** Flag in the ids given to writePacketId: set DUP as well. */
export const DUP_FLAG = 0x10000;

/**
 * Writes a packet identifier (and DUP, for a PUBLISH) into the packet that starts at
 * `offset` of `buffer`: a PUBLISH template or an acknowledgement template.
 */
export function writePacketId(
  buffer: Buffer,
  offset: number,
  packetId: number,
  dup: boolean,
): void {
  const at = offset + packetIdOffset(buffer, offset);
  buffer[at] = (packetId >>> 8) & 0xff;
  buffer[at + 1] = packetId & 0xff;
  if (dup) buffer[offset] |= 0x08;
}

/**
 * Offset of the packet identifier within the packet at `start`: after the fixed header, and
 * for a PUBLISH after the topic name too.
 */
function packetIdOffset(buffer: Buffer, start: number): number {
  let pos = start + 1;
  while ((buffer[pos] & 0x80) !== 0) pos++;
  pos++;
  if (buffer[start] >>> 4 !== PacketType.PUBLISH) return pos - start;
  return pos - start + 2 + ((buffer[pos] << 8) | buffer[pos + 1]);
}

export function encodeCustom(
  conn: MqttConnection,
  message: Message,
  qos: QoS,
  retain: boolean,
  subscriptionIds: number[] | null,
  packetId: number,
  dup: boolean,
): Buffer {
  const properties: Properties = { ...message.properties };
  if (message.expiresAtMs !== 0) {
    properties.messageExpiryInterval = message.remainingExpirySeconds(Date.now());
  }
  if (subscriptionIds !== null) properties.subscriptionIdentifiers = subscriptionIds;
  let topic = message.topic;
  let newAlias = false;
  if (conn.topicAliasMaxOut > 0) {
    if (conn.outAliases === null) conn.outAliases = new Map();
    const alias = conn.outAliases.get(topic);
    if (alias !== undefined) {
      properties.topicAlias = alias;
      topic = "";
    } else if (conn.outAliases.size < conn.topicAliasMaxOut) {
      properties.topicAlias = conn.outAliases.size + 1;
      conn.outAliases.set(topic, properties.topicAlias);
      newAlias = true;
    }
  }
  const buffer = encodePublish(
    {
      type: "publish",
      topic,
      payload: message.payload,
      qos,
      retain,
      dup,
      packetId: qos > 0 ? packetId : undefined,
      properties,
    },
    5,
  );
  // A packet over the client's limit is dropped [MQTT-3.1.2-25]: the client never learns the
  // alias, so it must not be used for later messages on this topic.
  if (newAlias && conn.clientMaxPacketBytes > 0 && buffer.length > conn.clientMaxPacketBytes) {
    conn.outAliases?.delete(message.topic);
  }
  return buffer;
}
