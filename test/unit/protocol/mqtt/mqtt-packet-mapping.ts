/**
 * Maps between our Packet shape and mqtt-packet's (npm, v9) packet objects, so mqtt-packet
 * can serve as the differential oracle. mqtt-packet's differences:
 * - `cmd`, `messageId`, `clean`, `keepalive`, `protocolId`, `granted`, `unsubscriptions`,
 *   `returnCode` (v3 CONNACK) instead of our names;
 * - one-byte 0/1 properties are booleans (maximumQoS stays a number);
 * - `subscriptionIdentifier` is a number, or an array when repeated;
 * - `subscriptionIdentifiersAvailable` (with an s);
 * - user properties are an object name -> value | value[], so pairs come back grouped by
 *   name, in object key order (groupUserProperties gives the order to compare against).
 */
import assert from "node:assert/strict";
import type { ProtocolLevel, QoS } from "../../../../src/protocol/mqtt/constants.ts";
import type {
  Packet,
  Properties,
  SubscriptionRequest,
} from "../../../../src/protocol/mqtt/packets.ts";

export type MqttPacketObject = Record<string, unknown>;

const FLAG_PROPERTIES = [
  "payloadFormatIndicator",
  "requestProblemInformation",
  "requestResponseInformation",
  "retainAvailable",
  "wildcardSubscriptionAvailable",
  "sharedSubscriptionAvailable",
] as const;

export function toMqttPacketProperties(properties: Properties): MqttPacketObject {
  const out: MqttPacketObject = {};
  for (const [key, value] of Object.entries(properties)) {
    if (value === undefined) continue;
    if ((FLAG_PROPERTIES as readonly string[]).includes(key)) out[key] = value === 1;
    else if (key === "subscriptionIdentifierAvailable")
      out.subscriptionIdentifiersAvailable = value === 1;
    else if (key === "subscriptionIdentifiers") {
      const identifiers = value as number[];
      out.subscriptionIdentifier = identifiers.length === 1 ? identifiers[0] : identifiers;
    } else if (key === "userProperties") {
      const grouped: Record<string, string | string[]> = Object.create(null);
      for (const [name, pairValue] of value as Array<[string, string]>) {
        const existing = grouped[name];
        if (existing === undefined) grouped[name] = pairValue;
        else if (Array.isArray(existing)) existing.push(pairValue);
        else grouped[name] = [existing, pairValue];
      }
      out.userProperties = grouped;
    } else out[key] = value;
  }
  return out;
}

export function fromMqttPacketProperties(properties: MqttPacketObject): Properties {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    if ((FLAG_PROPERTIES as readonly string[]).includes(key)) out[key] = value ? 1 : 0;
    else if (key === "subscriptionIdentifiersAvailable")
      out.subscriptionIdentifierAvailable = value ? 1 : 0;
    else if (key === "subscriptionIdentifier")
      out.subscriptionIdentifiers = Array.isArray(value) ? value : [value];
    else if (key === "userProperties") {
      const pairs: Array<[string, string]> = [];
      for (const [name, values] of Object.entries(value as Record<string, string | string[]>)) {
        for (const pairValue of Array.isArray(values) ? values : [values])
          pairs.push([name, pairValue]);
      }
      out.userProperties = pairs;
    } else out[key] = value;
  }
  return out as Properties;
}

function withProperties(
  target: MqttPacketObject,
  properties: Properties | undefined,
): MqttPacketObject {
  if (properties !== undefined) target.properties = toMqttPacketProperties(properties);
  return target;
}

export function toMqttPacket(packet: Packet, version: ProtocolLevel): MqttPacketObject {
  switch (packet.type) {
    case "connect": {
      const out: MqttPacketObject = {
        cmd: "connect",
        protocolId: packet.protocolName,
        protocolVersion: packet.protocolVersion,
        clean: packet.cleanStart,
        keepalive: packet.keepAlive,
        clientId: packet.clientId,
      };
      if (packet.will !== undefined) {
        const { topic, payload, qos, retain } = packet.will;
        out.will = withProperties({ topic, payload, qos, retain }, packet.will.properties);
      }
      if (packet.username !== undefined) out.username = packet.username;
      if (packet.password !== undefined) out.password = packet.password;
      return withProperties(out, packet.properties);
    }
    case "connack": {
      const code =
        version === 5 ? { reasonCode: packet.reasonCode } : { returnCode: packet.reasonCode };
      return withProperties(
        { cmd: "connack", sessionPresent: packet.sessionPresent, ...code },
        packet.properties,
      );
    }
    case "publish": {
      const { topic, payload, qos, retain, dup, packetId } = packet;
      const out: MqttPacketObject = { cmd: "publish", topic, payload, qos, retain, dup };
      if (packetId !== undefined) out.messageId = packetId;
      return withProperties(out, packet.properties);
    }
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return withProperties(
        { cmd: packet.type, messageId: packet.packetId, reasonCode: packet.reasonCode },
        packet.properties,
      );
    case "subscribe": {
      const subscriptions = packet.subscriptions.map((subscription) => ({
        topic: subscription.topicFilter,
        qos: subscription.qos,
        nl: subscription.noLocal,
        rap: subscription.retainAsPublished,
        rh: subscription.retainHandling,
      }));
      return withProperties(
        { cmd: "subscribe", messageId: packet.packetId, subscriptions },
        packet.properties,
      );
    }
    case "suback":
    case "unsuback":
      return withProperties(
        { cmd: packet.type, messageId: packet.packetId, granted: packet.reasonCodes },
        packet.properties,
      );
    case "unsubscribe":
      return withProperties(
        { cmd: "unsubscribe", messageId: packet.packetId, unsubscriptions: packet.topicFilters },
        packet.properties,
      );
    case "pingreq":
    case "pingresp":
      return { cmd: packet.type };
    case "disconnect":
    case "auth":
      return withProperties({ cmd: packet.type, reasonCode: packet.reasonCode }, packet.properties);
  }
}

function field<T>(object: MqttPacketObject, key: string, type: string): T {
  const value = object[key];
  if (type === "buffer") assert.ok(Buffer.isBuffer(value), `${key} should be a Buffer`);
  else assert.equal(typeof value, type, `${key} should be a ${type}`);
  return value as T;
}

function propertiesOf(object: MqttPacketObject): { properties?: Properties } {
  const properties = object.properties as MqttPacketObject | undefined;
  return properties === undefined ? {} : { properties: fromMqttPacketProperties(properties) };
}

function connectFrom(object: MqttPacketObject): Packet {
  const out: Packet = {
    type: "connect",
    protocolName: field(object, "protocolId", "string"),
    protocolVersion: field(object, "protocolVersion", "number"),
    cleanStart: field(object, "clean", "boolean"),
    keepAlive: field(object, "keepalive", "number"),
    clientId: field(object, "clientId", "string"),
  };
  const will = object.will as MqttPacketObject | undefined;
  if (will !== undefined) {
    out.will = {
      topic: field(will, "topic", "string"),
      payload: field(will, "payload", "buffer"),
      qos: field(will, "qos", "number"),
      retain: field(will, "retain", "boolean"),
      ...propertiesOf(will),
    };
  }
  if (object.username !== undefined) out.username = field(object, "username", "string");
  if (object.password !== undefined) out.password = field(object, "password", "buffer");
  return { ...out, ...propertiesOf(object) };
}

function subscriptionFrom(object: MqttPacketObject): SubscriptionRequest {
  return {
    topicFilter: field(object, "topic", "string"),
    qos: field<QoS>(object, "qos", "number"),
    noLocal: object.nl === true,
    retainAsPublished: object.rap === true,
    retainHandling: (object.rh ?? 0) as 0 | 1 | 2,
  };
}

/** Our packet for what mqtt-packet's parser emitted. */
export function fromMqttPacket(object: MqttPacketObject, version: ProtocolLevel): Packet {
  const cmd = field<string>(object, "cmd", "string");
  const properties = propertiesOf(object);
  const messageId = () => field<number>(object, "messageId", "number");
  const reasonCode = () =>
    object.reasonCode === undefined ? 0 : field<number>(object, "reasonCode", "number");
  switch (cmd) {
    case "connect":
      return connectFrom(object);
    case "connack": {
      const code = version === 5 ? reasonCode() : field<number>(object, "returnCode", "number");
      const sessionPresent = field<boolean>(object, "sessionPresent", "boolean");
      return { type: "connack", sessionPresent, reasonCode: code, ...properties };
    }
    case "publish": {
      const qos = field<QoS>(object, "qos", "number");
      const base = {
        type: "publish" as const,
        topic: field<string>(object, "topic", "string"),
        payload: field<Buffer>(object, "payload", "buffer"),
        qos,
        retain: field<boolean>(object, "retain", "boolean"),
        dup: field<boolean>(object, "dup", "boolean"),
      };
      return qos === 0
        ? { ...base, ...properties }
        : { ...base, packetId: messageId(), ...properties };
    }
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return { type: cmd, packetId: messageId(), reasonCode: reasonCode(), ...properties };
    case "subscribe": {
      const subscriptions = (object.subscriptions as MqttPacketObject[]).map(subscriptionFrom);
      return { type: "subscribe", packetId: messageId(), subscriptions, ...properties };
    }
    case "suback":
      return {
        type: "suback",
        packetId: messageId(),
        reasonCodes: object.granted as number[],
        ...properties,
      };
    case "unsuback": {
      const reasonCodes = version === 5 ? (object.granted as number[]) : [];
      return { type: "unsuback", packetId: messageId(), reasonCodes, ...properties };
    }
    case "unsubscribe": {
      const topicFilters = object.unsubscriptions as string[];
      return { type: "unsubscribe", packetId: messageId(), topicFilters, ...properties };
    }
    case "pingreq":
    case "pingresp":
      return { type: cmd };
    case "disconnect":
    case "auth":
      return { type: cmd, reasonCode: reasonCode(), ...properties };
    default:
      assert.fail(`unknown mqtt-packet cmd ${cmd}`);
  }
}

/** Pairs in the order an object keyed by name enumerates them (integer-like names first). */
function groupPairs(pairs: Array<[string, string]>): Array<[string, string]> {
  const byName: Record<string, Array<[string, string]>> = Object.create(null);
  for (const pair of pairs) {
    const group = byName[pair[0]];
    if (group === undefined) byName[pair[0]] = [pair];
    else group.push(pair);
  }
  return Object.values(byName).flat();
}

function groupIn(properties: Properties | undefined): Properties | undefined {
  if (properties?.userProperties === undefined) return properties;
  return { ...properties, userProperties: groupPairs(properties.userProperties) };
}

/** The packet with user properties grouped by name, the only order mqtt-packet can keep. */
export function groupUserProperties(packet: Packet): Packet {
  if (!("properties" in packet) && packet.type !== "connect") return packet;
  const copy = { ...packet };
  if ("properties" in copy && copy.properties !== undefined)
    copy.properties = groupIn(copy.properties);
  if (copy.type === "connect" && copy.will?.properties !== undefined) {
    copy.will = { ...copy.will, properties: groupIn(copy.will.properties) };
  }
  return copy;
}
