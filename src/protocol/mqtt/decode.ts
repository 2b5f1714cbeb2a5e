/**
 * Packet body decoders. Each takes a Reader positioned on the variable header and bounded by
 * the remaining length, and throws MqttProtocolError on anything the spec calls malformed or
 * a protocol error. The fixed header flags were already checked by the parser.
 */
import type { ProtocolLevel, QoS } from "./constants.ts";
import type {
  AckPacket,
  AuthPacket,
  ConnackPacket,
  ConnectPacket,
  DisconnectPacket,
  Properties,
  PublishPacket,
  SubackPacket,
  SubscribePacket,
  SubscriptionRequest,
  UnsubackPacket,
  UnsubscribePacket,
  Will,
} from "./packets.ts";
import { decodeProperties, PropertyContext } from "./properties.ts";
import {
  decodeUtf8,
  malformed,
  protocolError,
  type Reader,
  unsupportedProtocolVersion,
} from "./reader.ts";
import {
  AUTH_REASON_CODES,
  ackReasonCodes,
  CONNACK_REASON_CODES,
  CONNACK_RETURN_CODE_V3_MAX,
  DISCONNECT_REASON_CODES,
  SUBACK_REASON_CODES,
  SUBACK_RETURN_CODES_V3,
  UNSUBACK_REASON_CODES,
} from "./reason-codes.ts";

const CONNECT_FLAG_RESERVED = 0x01;
const CONNECT_FLAG_CLEAN_START = 0x02;
const CONNECT_FLAG_WILL = 0x04;
const CONNECT_FLAG_WILL_RETAIN = 0x20;
const CONNECT_FLAG_PASSWORD = 0x40;
const CONNECT_FLAG_USERNAME = 0x80;

export function decodeConnect(reader: Reader): ConnectPacket {
  const protocolName = reader.string("protocol name");
  const protocolVersion = readProtocolLevel(reader, protocolName);
  const flags = reader.u8("connect flags");
  checkConnectFlags(flags, protocolVersion);
  const keepAlive = reader.u16("keep alive");
  const properties =
    protocolVersion === 5 ? decodeProperties(reader, PropertyContext.CONNECT) : undefined;
  const clientId = reader.string("client identifier");
  const packet: ConnectPacket = {
    type: "connect",
    protocolName,
    protocolVersion,
    cleanStart: (flags & CONNECT_FLAG_CLEAN_START) !== 0,
    keepAlive,
    clientId,
  };
  if ((flags & CONNECT_FLAG_WILL) !== 0) packet.will = decodeWill(reader, flags, protocolVersion);
  if ((flags & CONNECT_FLAG_USERNAME) !== 0) packet.username = reader.string("user name");
  if ((flags & CONNECT_FLAG_PASSWORD) !== 0) packet.password = reader.binary("password");
  if (properties !== undefined) packet.properties = properties;
  reader.expectEnd("CONNECT");
  return packet;
}

function readProtocolLevel(reader: Reader, protocolName: string): ProtocolLevel {
  // [MQTT-3.1.2-1] a name that is neither MQTT nor 3.1's MQIsdp is not an MQTT CONNECT.
  if (protocolName !== "MQTT" && protocolName !== "MQIsdp") {
    throw malformed(`[MQTT-3.1.2-1] protocol name ${JSON.stringify(protocolName)}`);
  }
  const level = reader.u8("protocol level");
  // [MQTT-3.1.2-2] a known name with a level we do not speak: CONNACK 0x84 / return code 1.
  if (protocolName === "MQIsdp") {
    if (level !== 3) throw unsupportedProtocolVersion(`[MQTT-3.1.2-2] MQIsdp level ${level}`);
    return 3;
  }
  if (level !== 4 && level !== 5) {
    throw unsupportedProtocolVersion(`[MQTT-3.1.2-2] MQTT level ${level}`);
  }
  return level;
}

function checkConnectFlags(flags: number, version: ProtocolLevel): void {
  if ((flags & CONNECT_FLAG_RESERVED) !== 0) {
    throw malformed("[MQTT-3.1.2-3] CONNECT reserved flag is 1");
  }
  const willQoS = (flags >> 3) & 3;
  if (willQoS === 3) throw malformed("[MQTT-3.1.2-12] will QoS 3");
  if ((flags & CONNECT_FLAG_WILL) === 0) {
    if (willQoS !== 0) throw malformed("[MQTT-3.1.2-11] will QoS set without the will flag");
    if ((flags & CONNECT_FLAG_WILL_RETAIN) !== 0) {
      throw malformed("[MQTT-3.1.2-13] will retain set without the will flag");
    }
  }
  // v5 allows a password alone (for extended auth); 3.1 and 3.1.1 do not.
  if (
    version < 5 &&
    (flags & CONNECT_FLAG_PASSWORD) !== 0 &&
    (flags & CONNECT_FLAG_USERNAME) === 0
  ) {
    throw malformed("[MQTT-3.1.2-22] password flag set without the user name flag");
  }
}

function decodeWill(reader: Reader, flags: number, version: ProtocolLevel): Will {
  const properties = version === 5 ? decodeProperties(reader, PropertyContext.WILL) : undefined;
  const will: Will = {
    topic: reader.string("will topic"),
    payload: reader.binary("will payload"),
    qos: ((flags >> 3) & 3) as QoS,
    retain: (flags & CONNECT_FLAG_WILL_RETAIN) !== 0,
  };
  if (properties !== undefined) will.properties = properties;
  return will;
}

export function decodeConnack(reader: Reader, version: ProtocolLevel): ConnackPacket {
  let flags = reader.u8("connect acknowledge flags");
  // MQTT 3.1 has no session present flag: the byte is "reserved, not used" there.
  if (version === 3) flags = 0;
  if (flags > 1) throw malformed("[MQTT-3.2.2-1] CONNACK flags bits 7-1 must be 0");
  const reasonCode = reader.u8("CONNACK reason code");
  if (version === 5) {
    if (CONNACK_REASON_CODES[reasonCode] === 0) {
      throw protocolError(`CONNACK reason code 0x${reasonCode.toString(16)}`);
    }
  } else if (reasonCode > CONNACK_RETURN_CODE_V3_MAX) {
    throw protocolError(`CONNACK return code ${reasonCode} is reserved`);
  }
  const sessionPresent = flags === 1;
  if (sessionPresent && reasonCode !== 0) {
    throw protocolError("[MQTT-3.2.2-6] CONNACK with a failure code and session present");
  }
  const packet: ConnackPacket = { type: "connack", sessionPresent, reasonCode };
  if (version === 5) {
    const properties = decodeProperties(reader, PropertyContext.CONNACK);
    if (properties !== undefined) packet.properties = properties;
  }
  reader.expectEnd("CONNACK");
  return packet;
}

/**
 * The hot path: reads topic and packet identifier straight from the buffer, builds the
 * properties object only when there are properties, and slices the payload.
 */
export function decodePublish(
  reader: Reader,
  first: number,
  version: ProtocolLevel,
): PublishPacket {
  const buffer = reader.buffer;
  const end = reader.end;
  let position = reader.position;
  if (end - position < 2) throw malformed("packet ends inside topic name");
  const topicEnd = position + 2 + ((buffer[position] << 8) | buffer[position + 1]);
  if (topicEnd > end) throw malformed("packet ends inside topic name");
  const topic = decodeUtf8(buffer, position + 2, topicEnd, "topic name");
  position = topicEnd;
  const qos = ((first >> 1) & 3) as QoS;
  let packetId = 0;
  if (qos !== 0) {
    if (end - position < 2) throw malformed("packet ends inside packet identifier");
    packetId = (buffer[position] << 8) | buffer[position + 1];
    if (packetId === 0) throw protocolError("[MQTT-2.2.1-3] PUBLISH QoS > 0 with packet id 0");
    position += 2;
  }
  let properties: Properties | undefined;
  if (version === 5) {
    reader.position = position;
    properties = decodeProperties(reader, PropertyContext.PUBLISH);
    position = reader.position;
  }
  if (topic.length === 0) checkEmptyTopic(version, properties);
  const retain = (first & 1) !== 0;
  const dup = (first & 8) !== 0;
  const payload = buffer.subarray(position, end);
  const packet: PublishPacket =
    qos === 0
      ? { type: "publish", topic, payload, qos, retain, dup }
      : { type: "publish", topic, payload, qos, retain, dup, packetId };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function checkEmptyTopic(version: ProtocolLevel, properties: Properties | undefined): void {
  if (version < 5) throw protocolError("[MQTT-4.7.3-1] PUBLISH with an empty topic name");
  if (properties?.topicAlias === undefined) {
    // Section 3.3.2.1: a zero-length topic name is only valid with a Topic Alias.
    throw protocolError("PUBLISH with an empty topic name and no Topic Alias");
  }
}

function readPacketId(reader: Reader, packetName: string): number {
  const packetId = reader.u16("packet identifier");
  // [MQTT-2.2.1-3] identifiers are non-zero, so one that echoes 0 matches nothing either.
  if (packetId === 0) throw protocolError(`[MQTT-2.2.1-3] ${packetName} with packet id 0`);
  return packetId;
}

export function decodeAck(
  reader: Reader,
  type: AckPacket["type"],
  version: ProtocolLevel,
): AckPacket {
  const name = type.toUpperCase();
  const packetId = readPacketId(reader, name);
  const packet: AckPacket = { type, packetId, reasonCode: 0 };
  // v5 section 3.4.2.1: remaining length 2 means success without properties, 3 means a
  // reason code without properties.
  if (version === 5 && reader.remaining() > 0) {
    const reasonCode = reader.u8("reason code");
    if (ackReasonCodes(type)[reasonCode] === 0) {
      throw protocolError(`${name} reason code 0x${reasonCode.toString(16)}`);
    }
    packet.reasonCode = reasonCode;
    if (reader.remaining() > 0) {
      const properties = decodeProperties(reader, PropertyContext.ACK);
      if (properties !== undefined) packet.properties = properties;
    }
  }
  reader.expectEnd(name);
  return packet;
}

export function decodeSubscribe(reader: Reader, version: ProtocolLevel): SubscribePacket {
  const packetId = readPacketId(reader, "SUBSCRIBE");
  const properties =
    version === 5 ? decodeProperties(reader, PropertyContext.SUBSCRIBE) : undefined;
  const subscriptions: SubscriptionRequest[] = [];
  while (reader.remaining() > 0) {
    const topicFilter = reader.string("topic filter");
    const options = reader.u8("subscription options");
    subscriptions.push(
      version === 5 ? subscriptionV5(topicFilter, options) : subscriptionV3(topicFilter, options),
    );
  }
  if (subscriptions.length === 0) {
    const rule = version === 5 ? "[MQTT-3.8.3-2]" : "[MQTT-3.8.3-3]";
    throw protocolError(`${rule} SUBSCRIBE with no topic filters`);
  }
  const packet: SubscribePacket = { type: "subscribe", packetId, subscriptions };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

function subscriptionV5(topicFilter: string, options: number): SubscriptionRequest {
  if ((options & 0xc0) !== 0) {
    throw malformed("[MQTT-3.8.3-5] subscription options reserved bits 6-7 set");
  }
  const qos = options & 3;
  // Section 3.8.3.1 calls both of these a Protocol Error (not malformed).
  if (qos === 3) throw protocolError("SUBSCRIBE maximum QoS 3");
  const retainHandling = (options >> 4) & 3;
  if (retainHandling === 3) throw protocolError("SUBSCRIBE retain handling 3");
  return {
    topicFilter,
    qos: qos as QoS,
    noLocal: (options & 0x04) !== 0,
    retainAsPublished: (options & 0x08) !== 0,
    retainHandling: retainHandling as 0 | 1 | 2,
  };
}

function subscriptionV3(topicFilter: string, options: number): SubscriptionRequest {
  // v3.1.1 [MQTT-3-8.3-4]: reserved bits set or QoS 3 is malformed.
  if ((options & 0xfc) !== 0) throw malformed("[MQTT-3-8.3-4] requested QoS byte bits 2-7 set");
  if (options === 3) throw malformed("[MQTT-3-8.3-4] requested QoS 3");
  const qos = options as QoS;
  return { topicFilter, qos, noLocal: false, retainAsPublished: false, retainHandling: 0 };
}

export function decodeSuback(reader: Reader, version: ProtocolLevel): SubackPacket {
  const packetId = readPacketId(reader, "SUBACK");
  const properties = version === 5 ? decodeProperties(reader, PropertyContext.SUBACK) : undefined;
  const allowed = version === 5 ? SUBACK_REASON_CODES : SUBACK_RETURN_CODES_V3;
  const reasonCodes = readReasonCodes(reader, allowed, "SUBACK");
  const packet: SubackPacket = { type: "suback", packetId, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

/** The payload of SUBACK and v5 UNSUBACK: one code per requested filter, so at least one. */
function readReasonCodes(reader: Reader, allowed: Uint8Array, packetName: string): number[] {
  const reasonCodes: number[] = [];
  while (reader.remaining() > 0) {
    const code = reader.u8("reason code");
    if (allowed[code] === 0)
      throw protocolError(`${packetName} reason code 0x${code.toString(16)}`);
    reasonCodes.push(code);
  }
  if (reasonCodes.length === 0) throw protocolError(`${packetName} with no reason codes`);
  return reasonCodes;
}

export function decodeUnsubscribe(reader: Reader, version: ProtocolLevel): UnsubscribePacket {
  const packetId = readPacketId(reader, "UNSUBSCRIBE");
  const properties =
    version === 5 ? decodeProperties(reader, PropertyContext.UNSUBSCRIBE) : undefined;
  const topicFilters: string[] = [];
  while (reader.remaining() > 0) topicFilters.push(reader.string("topic filter"));
  if (topicFilters.length === 0) {
    throw protocolError("[MQTT-3.10.3-2] UNSUBSCRIBE with no topic filters");
  }
  const packet: UnsubscribePacket = { type: "unsubscribe", packetId, topicFilters };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function decodeUnsuback(reader: Reader, version: ProtocolLevel): UnsubackPacket {
  const packetId = readPacketId(reader, "UNSUBACK");
  if (version < 5) {
    reader.expectEnd("UNSUBACK");
    return { type: "unsuback", packetId, reasonCodes: [] };
  }
  const properties = decodeProperties(reader, PropertyContext.UNSUBACK);
  const reasonCodes = readReasonCodes(reader, UNSUBACK_REASON_CODES, "UNSUBACK");
  const packet: UnsubackPacket = { type: "unsuback", packetId, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function decodeDisconnect(reader: Reader, version: ProtocolLevel): DisconnectPacket {
  const packet: DisconnectPacket = { type: "disconnect", reasonCode: 0 };
  // v5 section 3.14.2.1: remaining length 0 means normal disconnection.
  if (version === 5) readReasonAndProperties(reader, packet, DISCONNECT_REASON_CODES, "DISCONNECT");
  reader.expectEnd("DISCONNECT");
  return packet;
}

export function decodeAuth(reader: Reader): AuthPacket {
  const packet: AuthPacket = { type: "auth", reasonCode: 0 };
  // Section 3.15.2.1: remaining length 0 means success with no properties.
  readReasonAndProperties(reader, packet, AUTH_REASON_CODES, "AUTH");
  reader.expectEnd("AUTH");
  return packet;
}

/** DISCONNECT and AUTH: an optional reason code, then optional properties. */
function readReasonAndProperties(
  reader: Reader,
  packet: DisconnectPacket | AuthPacket,
  allowed: Uint8Array,
  packetName: "DISCONNECT" | "AUTH",
): void {
  if (reader.remaining() === 0) return;
  const reasonCode = reader.u8("reason code");
  if (allowed[reasonCode] === 0) {
    throw protocolError(`${packetName} reason code 0x${reasonCode.toString(16)}`);
  }
  packet.reasonCode = reasonCode;
  if (reader.remaining() === 0) return;
  const context = packetName === "AUTH" ? PropertyContext.AUTH : PropertyContext.DISCONNECT;
  const properties = decodeProperties(reader, context);
  if (properties !== undefined) packet.properties = properties;
}
