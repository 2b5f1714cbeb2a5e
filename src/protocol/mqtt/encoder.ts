/**
 * The only MQTT encoder. Each packet's exact size is computed first, then it is written
 * into one Buffer.allocUnsafe. Packets are validated with asserts: encoding something the
 * parser would reject is a programmer error, so the two sides check the same rules.
 * For v3.1/v3.1.1 the v5-only fields (properties, reason codes, subscription options)
 * are dropped.
 */
import { assert } from "../../errors.ts";
import { PacketType, type ProtocolLevel } from "./constants.ts";
import type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Packet,
  PublishPacket,
  SubackPacket,
  SubscribePacket,
  UnsubackPacket,
  UnsubscribePacket,
} from "./packets.ts";
import {
  encodedPropertiesLength,
  PropertyContext,
  stringLength,
  writeBinary,
  writeProperties,
  writeString,
} from "./properties.ts";
import {
  ackReasonCodes,
  AUTH_REASON_CODES,
  CONNACK_REASON_CODES,
  CONNACK_RETURN_CODE_V3_MAX,
  DISCONNECT_REASON_CODES,
  SUBACK_REASON_CODES,
  UNSUBACK_REASON_CODES,
} from "./reason-codes.ts";
import { varintLength, writeVarint } from "./varint.ts";

const ACK_TYPES = {
  puback: PacketType.PUBACK,
  pubrec: PacketType.PUBREC,
  pubrel: PacketType.PUBREL,
  pubcomp: PacketType.PUBCOMP,
} as const;

/** v3.1.1 SUBACK "Failure"; a v5 failure reason code is sent as this to a v3 client. */
const SUBACK_FAILURE_V3 = 0x80;

export function encode(packet: Packet, version: ProtocolLevel): Buffer {
  assert(version === 3 || version === 4 || version === 5, `protocol version ${version}`);
  switch (packet.type) {
    case "publish":
      return encodePublish(packet, version);
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return encodeAck(packet, version);
    case "connect":
      return encodeConnect(packet, version);
    case "connack":
      return encodeConnack(packet, version);
    case "subscribe":
      return encodeSubscribe(packet, version);
    case "suback":
      return encodeSuback(packet, version);
    case "unsubscribe":
      return encodeUnsubscribe(packet, version);
    case "unsuback":
      return encodeUnsuback(packet, version);
    case "pingreq":
      return Buffer.from([PacketType.PINGREQ << 4, 0]);
    case "pingresp":
      return Buffer.from([PacketType.PINGRESP << 4, 0]);
    case "disconnect":
      return encodeDisconnect(packet, version);
    case "auth":
      return encodeAuth(packet, version);
  }
}

/** Allocates the whole packet and writes its fixed header; the body starts at headerBytes(). */
function startPacket(first: number, remainingLength: number): Buffer {
  const buffer = Buffer.allocUnsafe(1 + varintLength(remainingLength) + remainingLength);
  buffer[0] = first;
  writeVarint(buffer, 1, remainingLength);
  return buffer;
}

function headerBytes(remainingLength: number): number {
  return 1 + varintLength(remainingLength);
}

function writeU16(buffer: Buffer, offset: number, value: number): number {
  buffer[offset] = value >>> 8;
  buffer[offset + 1] = value & 0xff;
  return offset + 2;
}

function assertPacketId(packetId: number | undefined): asserts packetId is number {
  // [MQTT-2.2.1-3] packet identifiers are non-zero 16-bit integers.
  assert(
    packetId !== undefined && Number.isInteger(packetId) && packetId >= 1 && packetId <= 0xffff,
    `packet identifier ${packetId}`,
  );
}

/** Encoded size of the properties, with their Property Length prefix. */
function propertiesSize(propertiesLength: number): number {
  return varintLength(propertiesLength) + propertiesLength;
}

export function encodePublish(packet: PublishPacket, version: ProtocolLevel): Buffer {
  const { topic, payload, qos, packetId, properties } = packet;
  assert(qos === 0 || qos === 1 || qos === 2, `PUBLISH QoS ${qos}`);
  assert(!(packet.dup && qos === 0), "[MQTT-3.3.1-2] DUP set on a QoS 0 PUBLISH");
  if (qos === 0) assert(packetId === undefined, "packet identifier on a QoS 0 PUBLISH");
  else assertPacketId(packetId);
  assert(Buffer.isBuffer(payload), "PUBLISH payload must be a Buffer");
  let remainingLength = stringLength(topic) + (qos === 0 ? 0 : 2) + payload.length;
  let propertiesLength = 0;
  if (version === 5) {
    propertiesLength = encodedPropertiesLength(properties, PropertyContext.PUBLISH);
    remainingLength += propertiesSize(propertiesLength);
    assert(topic.length > 0 || properties?.topicAlias !== undefined, "empty topic, no alias");
  } else {
    assert(topic.length > 0, "[MQTT-4.7.3-1] empty topic name");
  }
  const first =
    (PacketType.PUBLISH << 4) | (packet.dup ? 0x08 : 0) | (qos << 1) | (packet.retain ? 1 : 0);
  const buffer = startPacket(first, remainingLength);
  let offset = writeString(buffer, headerBytes(remainingLength), topic);
  if (qos !== 0) offset = writeU16(buffer, offset, packetId as number);
  if (version === 5) offset = writeProperties(buffer, offset, properties, propertiesLength);
  buffer.set(payload, offset);
  assert(offset + payload.length === buffer.length, "PUBLISH length mismatch");
  return buffer;
}

function encodeAck(packet: AckPacket, version: ProtocolLevel): Buffer {
  const { type, packetId, reasonCode } = packet;
  assertPacketId(packetId);
  const first = (ACK_TYPES[type] << 4) | (type === "pubrel" ? 0b0010 : 0);
  if (version < 5) return writeU16(startPacket(first, 2), 2, packetId) === 4 ? done(first, 2, packetId) : assertNever();
  assert(ackReasonCodes(type)[reasonCode] === 1, `${type} reason code ${reasonCode}`);
  const propertiesLength = encodedPropertiesLength(packet.properties, PropertyContext.ACK);
  // Section 3.4.2.1: the reason code and property length may be left off when not needed.
  if (propertiesLength === 0 && reasonCode === 0) return done(first, 2, packetId);
  const remainingLength = propertiesLength === 0 ? 3 : 3 + propertiesSize(propertiesLength);
  const buffer = startPacket(first, remainingLength);
  let offset = writeU16(buffer, headerBytes(remainingLength), packetId);
  buffer[offset++] = reasonCode;
  if (propertiesLength > 0) {
    offset = writeProperties(buffer, offset, packet.properties, propertiesLength);
  }
  assert(offset === buffer.length, "ack length mismatch");
  return buffer;
}
