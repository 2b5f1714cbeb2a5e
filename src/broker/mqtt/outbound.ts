import type { QoS } from "../../protocol/mqtt/constants.ts";
import { encodePublish } from "../../protocol/mqtt/index.ts";
import type { Properties } from "../../protocol/mqtt/packets.ts";
import type { MqttConnection } from "./connection.ts";
import { type Message, VARIANT_COUNT, variantIndex } from "./message.ts";

/**
 * Builds the PUBLISH bytes for one delivery. Where a subscriber would receive the same bytes as
 * another (same protocol family, QoS and retain flag, nothing per-delivery), the message is
 * encoded once and reused; QoS 1/2 copies patch in their packet identifier and DUP flag.
 */
export function encodeDelivery(
  conn: MqttConnection,
  message: Message,
  qos: QoS,
  retain: boolean,
  subscriptionIds: number[] | null,
  packetId: number,
  dup: boolean,
): Buffer {
  const v5 = conn.protocolVersion === 5;
  if (v5 && (subscriptionIds !== null || message.expiresAtMs !== 0 || conn.topicAliasMaxOut > 0)) {
    return encodeCustom(conn, message, qos, retain, subscriptionIds, packetId, dup);
  }
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
  if (qos === 0) return template;
  const copy = Buffer.allocUnsafe(template.length);
  template.copy(copy);
  copy.writeUInt16BE(packetId, packetIdOffset(copy));
  if (dup) copy[0] |= 0x08;
  return copy;
}

/** Offset of the packet identifier: after the fixed header and the topic name. */
function packetIdOffset(buffer: Buffer): number {
  let pos = 1;
  while ((buffer[pos] & 0x80) !== 0) pos++;
  pos++;
  return pos + 2 + buffer.readUInt16BE(pos);
}

function encodeCustom(
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
