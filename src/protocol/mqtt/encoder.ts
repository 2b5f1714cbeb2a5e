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
  AUTH_REASON_CODES,
  ackReasonCodes,
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
  assert(version === 3 || version === 4 || version === 5, `protocol version ${version}`);
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

/** A 4-byte packet: fixed header, remaining length 2, packet identifier. */
function packetIdOnly(first: number, packetId: number): Buffer {
  const buffer = Buffer.allocUnsafe(4);
  buffer[0] = first;
  buffer[1] = 2;
  writeU16(buffer, 2, packetId);
  return buffer;
}

function encodeAck(packet: AckPacket, version: ProtocolLevel): Buffer {
  const { type, packetId, reasonCode } = packet;
  assertPacketId(packetId);
  const first = (ACK_TYPES[type] << 4) | (type === "pubrel" ? 0b0010 : 0);
  if (version < 5) return packetIdOnly(first, packetId);
  assert(ackReasonCodes(type)[reasonCode] === 1, `${type} reason code ${reasonCode}`);
  const propertiesLength = encodedPropertiesLength(packet.properties, PropertyContext.ACK);
  // Section 3.4.2.1: the reason code and property length may be left off when not needed.
  if (propertiesLength === 0 && reasonCode === 0) return packetIdOnly(first, packetId);
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

const CONNECT_FLAG_CLEAN_START = 0x02;
const CONNECT_FLAG_WILL = 0x04;
const CONNECT_FLAG_WILL_RETAIN = 0x20;
const CONNECT_FLAG_PASSWORD = 0x40;
const CONNECT_FLAG_USERNAME = 0x80;

/** Remaining length of a CONNECT, plus the two property lengths it needs for writing. */
interface ConnectLayout {
  remainingLength: number;
  propertiesLength: number;
  willPropertiesLength: number;
}

function connectLayout(packet: ConnectPacket, version: ProtocolLevel): ConnectLayout {
  const { will, username, password } = packet;
  // Protocol name, level, flags, keep alive, client identifier.
  let remainingLength =
    stringLength(packet.protocolName) + 1 + 1 + 2 + stringLength(packet.clientId);
  let propertiesLength = 0;
  let willPropertiesLength = 0;
  if (version === 5) {
    propertiesLength = encodedPropertiesLength(packet.properties, PropertyContext.CONNECT);
    remainingLength += propertiesSize(propertiesLength);
  }
  if (will !== undefined) {
    assert(will.qos === 0 || will.qos === 1 || will.qos === 2, `will QoS ${will.qos}`);
    assert(Buffer.isBuffer(will.payload) && will.payload.length <= 0xffff, "will payload");
    remainingLength += stringLength(will.topic) + 2 + will.payload.length;
    if (version === 5) {
      willPropertiesLength = encodedPropertiesLength(will.properties, PropertyContext.WILL);
      remainingLength += propertiesSize(willPropertiesLength);
    }
  }
  if (username !== undefined) remainingLength += stringLength(username);
  if (password !== undefined) {
    assert(Buffer.isBuffer(password) && password.length <= 0xffff, "password");
    remainingLength += 2 + password.length;
  }
  return { remainingLength, propertiesLength, willPropertiesLength };
}

function connectFlags(packet: ConnectPacket): number {
  const { will } = packet;
  let flags = packet.cleanStart ? CONNECT_FLAG_CLEAN_START : 0;
  if (will !== undefined) {
    flags |= CONNECT_FLAG_WILL | (will.qos << 3) | (will.retain ? CONNECT_FLAG_WILL_RETAIN : 0);
  }
  if (packet.username !== undefined) flags |= CONNECT_FLAG_USERNAME;
  if (packet.password !== undefined) flags |= CONNECT_FLAG_PASSWORD;
  return flags;
}

function encodeConnect(packet: ConnectPacket, version: ProtocolLevel): Buffer {
  assert(
    packet.protocolVersion === version,
    `CONNECT level ${packet.protocolVersion} as ${version}`,
  );
  assert(
    packet.protocolName === (version === 3 ? "MQIsdp" : "MQTT"),
    `protocol name ${packet.protocolName} for level ${version}`,
  );
  assert(
    version === 5 || packet.password === undefined || packet.username !== undefined,
    "[MQTT-3.1.2-22] password without user name before MQTT 5",
  );
  const { keepAlive } = packet;
  assert(
    Number.isInteger(keepAlive) && keepAlive >= 0 && keepAlive <= 0xffff,
    `keep alive ${keepAlive}`,
  );
  const layout = connectLayout(packet, version);
  const buffer = startPacket(PacketType.CONNECT << 4, layout.remainingLength);
  let offset = writeString(buffer, headerBytes(layout.remainingLength), packet.protocolName);
  buffer[offset++] = version;
  buffer[offset++] = connectFlags(packet);
  offset = writeU16(buffer, offset, packet.keepAlive);
  if (version === 5) {
    offset = writeProperties(buffer, offset, packet.properties, layout.propertiesLength);
  }
  offset = writeString(buffer, offset, packet.clientId);
  const will = packet.will;
  if (will !== undefined) {
    if (version === 5) {
      offset = writeProperties(buffer, offset, will.properties, layout.willPropertiesLength);
    }
    offset = writeString(buffer, offset, will.topic);
    offset = writeBinary(buffer, offset, will.payload);
  }
  if (packet.username !== undefined) offset = writeString(buffer, offset, packet.username);
  if (packet.password !== undefined) offset = writeBinary(buffer, offset, packet.password);
  assert(offset === buffer.length, "CONNECT length mismatch");
  return buffer;
}

function encodeConnack(packet: ConnackPacket, version: ProtocolLevel): Buffer {
  const { reasonCode, sessionPresent } = packet;
  if (version === 5) assert(CONNACK_REASON_CODES[reasonCode] === 1, `CONNACK reason ${reasonCode}`);
  else
    assert(
      reasonCode >= 0 && reasonCode <= CONNACK_RETURN_CODE_V3_MAX,
      `return code ${reasonCode}`,
    );
  assert(!(sessionPresent && reasonCode !== 0), "[MQTT-3.2.2-6] session present on a failure");
  let remainingLength = 2;
  let propertiesLength = 0;
  if (version === 5) {
    propertiesLength = encodedPropertiesLength(packet.properties, PropertyContext.CONNACK);
    remainingLength += propertiesSize(propertiesLength);
  }
  const buffer = startPacket(PacketType.CONNACK << 4, remainingLength);
  let offset = headerBytes(remainingLength);
  // MQTT 3.1 has no session present flag: that byte is reserved there.
  buffer[offset++] = sessionPresent && version > 3 ? 1 : 0;
  buffer[offset++] = reasonCode;
  if (version === 5) offset = writeProperties(buffer, offset, packet.properties, propertiesLength);
  assert(offset === buffer.length, "CONNACK length mismatch");
  return buffer;
}

function encodeSubscribe(packet: SubscribePacket, version: ProtocolLevel): Buffer {
  const { packetId, subscriptions } = packet;
  assertPacketId(packetId);
  assert(subscriptions.length > 0, "[MQTT-3.8.3-2] SUBSCRIBE with no topic filters");
  let remainingLength = 2;
  let propertiesLength = 0;
  if (version === 5) {
    propertiesLength = encodedPropertiesLength(packet.properties, PropertyContext.SUBSCRIBE);
    remainingLength += propertiesSize(propertiesLength);
  }
  for (const subscription of subscriptions) {
    assert(subscription.qos >= 0 && subscription.qos <= 2, `subscription QoS ${subscription.qos}`);
    assert(subscription.retainHandling >= 0 && subscription.retainHandling <= 2, "retain handling");
    remainingLength += stringLength(subscription.topicFilter) + 1;
  }
  const buffer = startPacket((PacketType.SUBSCRIBE << 4) | 0b0010, remainingLength);
  let offset = writeU16(buffer, headerBytes(remainingLength), packetId);
  if (version === 5) offset = writeProperties(buffer, offset, packet.properties, propertiesLength);
  for (const subscription of subscriptions) {
    offset = writeString(buffer, offset, subscription.topicFilter);
    let options = subscription.qos;
    if (version === 5) {
      options |= (subscription.noLocal ? 0x04 : 0) | (subscription.retainAsPublished ? 0x08 : 0);
      options |= subscription.retainHandling << 4;
    }
    buffer[offset++] = options;
  }
  assert(offset === buffer.length, "SUBSCRIBE length mismatch");
  return buffer;
}

function encodeSuback(packet: SubackPacket, version: ProtocolLevel): Buffer {
  const { packetId, reasonCodes } = packet;
  assertPacketId(packetId);
  assert(reasonCodes.length > 0, "SUBACK with no reason codes");
  let remainingLength = 2 + reasonCodes.length;
  let propertiesLength = 0;
  if (version === 5) {
    propertiesLength = encodedPropertiesLength(packet.properties, PropertyContext.SUBACK);
    remainingLength += propertiesSize(propertiesLength);
  }
  const buffer = startPacket(PacketType.SUBACK << 4, remainingLength);
  let offset = writeU16(buffer, headerBytes(remainingLength), packetId);
  if (version === 5) offset = writeProperties(buffer, offset, packet.properties, propertiesLength);
  for (const code of reasonCodes) {
    assert(SUBACK_REASON_CODES[code] === 1, `SUBACK reason code ${code}`);
    // [MQTT-3.9.3-2] v3.1.1 knows only granted QoS 0-2 and 0x80 Failure.
    buffer[offset++] = version === 5 || code < SUBACK_FAILURE_V3 ? code : SUBACK_FAILURE_V3;
  }
  assert(offset === buffer.length, "SUBACK length mismatch");
  return buffer;
}

function encodeUnsubscribe(packet: UnsubscribePacket, version: ProtocolLevel): Buffer {
  const { packetId, topicFilters } = packet;
  assertPacketId(packetId);
  assert(topicFilters.length > 0, "[MQTT-3.10.3-2] UNSUBSCRIBE with no topic filters");
  let remainingLength = 2;
  let propertiesLength = 0;
  if (version === 5) {
    propertiesLength = encodedPropertiesLength(packet.properties, PropertyContext.UNSUBSCRIBE);
    remainingLength += propertiesSize(propertiesLength);
  }
  for (const topicFilter of topicFilters) remainingLength += stringLength(topicFilter);
  const buffer = startPacket((PacketType.UNSUBSCRIBE << 4) | 0b0010, remainingLength);
  let offset = writeU16(buffer, headerBytes(remainingLength), packetId);
  if (version === 5) offset = writeProperties(buffer, offset, packet.properties, propertiesLength);
  for (const topicFilter of topicFilters) offset = writeString(buffer, offset, topicFilter);
  assert(offset === buffer.length, "UNSUBSCRIBE length mismatch");
  return buffer;
}

function encodeUnsuback(packet: UnsubackPacket, version: ProtocolLevel): Buffer {
  const { packetId, reasonCodes } = packet;
  assertPacketId(packetId);
  // Before v5 UNSUBACK is just the packet identifier.
  if (version < 5) return packetIdOnly(PacketType.UNSUBACK << 4, packetId);
  assert(reasonCodes.length > 0, "UNSUBACK with no reason codes");
  const propertiesLength = encodedPropertiesLength(packet.properties, PropertyContext.UNSUBACK);
  const remainingLength = 2 + propertiesSize(propertiesLength) + reasonCodes.length;
  const buffer = startPacket(PacketType.UNSUBACK << 4, remainingLength);
  let offset = writeU16(buffer, headerBytes(remainingLength), packetId);
  offset = writeProperties(buffer, offset, packet.properties, propertiesLength);
  for (const code of reasonCodes) {
    assert(UNSUBACK_REASON_CODES[code] === 1, `UNSUBACK reason code ${code}`);
    buffer[offset++] = code;
  }
  assert(offset === buffer.length, "UNSUBACK length mismatch");
  return buffer;
}

function encodeDisconnect(packet: DisconnectPacket, version: ProtocolLevel): Buffer {
  const first = PacketType.DISCONNECT << 4;
  if (version < 5) return Buffer.from([first, 0]);
  const { reasonCode } = packet;
  assert(DISCONNECT_REASON_CODES[reasonCode] === 1, `DISCONNECT reason code ${reasonCode}`);
  const propertiesLength = encodedPropertiesLength(packet.properties, PropertyContext.DISCONNECT);
  // Section 3.14.2.1: reason 0 with no properties is a bare DISCONNECT; without properties
  // the property length may be left off.
  if (propertiesLength === 0) {
    return reasonCode === 0 ? Buffer.from([first, 0]) : Buffer.from([first, 1, reasonCode]);
  }
  return reasonAndProperties(first, reasonCode, packet, propertiesLength);
}

function encodeAuth(packet: AuthPacket, version: ProtocolLevel): Buffer {
  assert(version === 5, "AUTH exists only in MQTT 5");
  const first = PacketType.AUTH << 4;
  const { reasonCode } = packet;
  assert(AUTH_REASON_CODES[reasonCode] === 1, `AUTH reason code ${reasonCode}`);
  const propertiesLength = encodedPropertiesLength(packet.properties, PropertyContext.AUTH);
  // Section 3.15.2.1: only "success with no properties" may drop both fields.
  if (propertiesLength === 0 && reasonCode === 0) return Buffer.from([first, 0]);
  return reasonAndProperties(first, reasonCode, packet, propertiesLength);
}

/** DISCONNECT or AUTH with a reason code and a property list. */
function reasonAndProperties(
  first: number,
  reasonCode: number,
  packet: DisconnectPacket | AuthPacket,
  propertiesLength: number,
): Buffer {
  const remainingLength = 1 + propertiesSize(propertiesLength);
  const buffer = startPacket(first, remainingLength);
  let offset = headerBytes(remainingLength);
  buffer[offset++] = reasonCode;
  offset = writeProperties(buffer, offset, packet.properties, propertiesLength);
  assert(offset === buffer.length, "DISCONNECT/AUTH length mismatch");
  return buffer;
}
