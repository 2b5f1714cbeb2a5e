/**
 * fast-check arbitraries for valid MQTT packets, in exactly the shape MqttParser returns for
 * the given version (optional keys absent, v5-only fields at their v3 defaults), so that
 * parse(encode(p)) deep-equals p. The allowed-property lists are written out from spec
 * table 2-4 independently of src/, so the tests do not trust the code's own table.
 */
import fc from "fast-check";
import {
  type ProtocolLevel,
  type QoS,
  VARINT_MAX,
} from "../../../../src/protocol/mqtt/constants.ts";
import type {
  AckPacket,
  ConnackPacket,
  ConnectPacket,
  Packet,
  Properties,
  PublishPacket,
  SubscriptionRequest,
  Will,
} from "../../../../src/protocol/mqtt/packets.ts";

export type Context =
  | "connect"
  | "connack"
  | "publish"
  | "will"
  | "ack"
  | "subscribe"
  | "suback"
  | "unsubscribe"
  | "unsuback"
  | "disconnect"
  | "auth";

/** Spec table 2-4, read per packet type. */
export const ALLOWED_PROPERTIES: Record<Context, ReadonlyArray<keyof Properties>> = {
  connect: [
    "sessionExpiryInterval",
    "receiveMaximum",
    "maximumPacketSize",
    "topicAliasMaximum",
    "requestResponseInformation",
    "requestProblemInformation",
    "userProperties",
    "authenticationMethod",
    "authenticationData",
  ],
  connack: [
    "sessionExpiryInterval",
    "receiveMaximum",
    "maximumQoS",
    "retainAvailable",
    "maximumPacketSize",
    "assignedClientIdentifier",
    "topicAliasMaximum",
    "reasonString",
    "userProperties",
    "wildcardSubscriptionAvailable",
    "subscriptionIdentifierAvailable",
    "sharedSubscriptionAvailable",
    "serverKeepAlive",
    "responseInformation",
    "serverReference",
    "authenticationMethod",
    "authenticationData",
  ],
  publish: [
    "payloadFormatIndicator",
    "messageExpiryInterval",
    "topicAlias",
    "responseTopic",
    "correlationData",
    "userProperties",
    "subscriptionIdentifiers",
    "contentType",
  ],
  will: [
    "willDelayInterval",
    "payloadFormatIndicator",
    "messageExpiryInterval",
    "contentType",
    "responseTopic",
    "correlationData",
    "userProperties",
  ],
  ack: ["reasonString", "userProperties"],
  subscribe: ["subscriptionIdentifiers", "userProperties"],
  suback: ["reasonString", "userProperties"],
  unsubscribe: ["userProperties"],
  unsuback: ["reasonString", "userProperties"],
  disconnect: ["sessionExpiryInterval", "reasonString", "userProperties", "serverReference"],
  auth: ["authenticationMethod", "authenticationData", "reasonString", "userProperties"],
};

/** Reason codes per packet type (spec section 2.4 and each packet's table). */
export const REASON_CODES = {
  connack: [
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x90, 0x95, 0x97,
    0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9f,
  ],
  puback: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  pubrec: [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99],
  pubrel: [0x00, 0x92],
  pubcomp: [0x00, 0x92],
  suback: [0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2],
  unsuback: [0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91],
  disconnect: [
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
  ],
  auth: [0x00, 0x18, 0x19],
} as const;

/** Options that let the differential test steer around known mqtt-packet deviations. */
export interface ArbitraryOptions {
  /** Non-empty user property values (mqtt-packet merges a repeated name whose value is ""). */
  nonEmptyUserPropertyValues?: boolean;
  /** Non-empty client id and will topic (mqtt-packet's generate refuses empty ones). */
  nonEmptyIdentifiers?: boolean;
  /** No password without a user name (mqtt-packet's generate refuses it even for v5). */
  passwordNeedsUsername?: boolean;
  /** Leave out AUTH success without properties (mqtt-packet cannot parse its short form). */
  noBareAuth?: boolean;
}

/** Valid MQTT strings: mostly ASCII (the parser's fast path), some full Unicode. */
export function mqttString(maxLength = 12, minLength = 0): fc.Arbitrary<string> {
  return fc
    .oneof(
      { weight: 3, arbitrary: fc.string({ unit: "grapheme-ascii", minLength, maxLength }) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", minLength, maxLength }) },
    )
    .map((value) => value.replaceAll("\0", "_"));
}

export const binary = (maxLength = 16): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength }).map((bytes) => Buffer.from(bytes));
const flag = fc.constantFrom(0, 1);
const u16 = fc.integer({ min: 0, max: 0xffff });
const u16NonZero = fc.integer({ min: 1, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const packetId = u16NonZero;
const subscriptionIdentifier = fc.oneof(
  fc.integer({ min: 1, max: 200 }),
  fc.integer({ min: 1, max: VARINT_MAX }),
  fc.constantFrom(127, 128, 16_383, 16_384, 2_097_151, 2_097_152, VARINT_MAX),
);

function propertyArbitrary(
  key: keyof Properties,
  context: Context,
  options: ArbitraryOptions,
): fc.Arbitrary<unknown> {
  const value = options.nonEmptyUserPropertyValues ? mqttString(8, 1) : mqttString(8);
  switch (key) {
    case "payloadFormatIndicator":
    case "requestProblemInformation":
    case "requestResponseInformation":
    case "maximumQoS":
    case "retainAvailable":
    case "wildcardSubscriptionAvailable":
    case "subscriptionIdentifierAvailable":
    case "sharedSubscriptionAvailable":
      return flag;
    case "receiveMaximum":
    case "topicAlias":
      return u16NonZero;
    case "topicAliasMaximum":
    case "serverKeepAlive":
      return u16;
    case "maximumPacketSize":
      return fc.integer({ min: 1, max: 0xffff_ffff });
    case "messageExpiryInterval":
    case "sessionExpiryInterval":
    case "willDelayInterval":
      return u32;
    case "correlationData":
    case "authenticationData":
      return binary();
    case "subscriptionIdentifiers":
      return fc.array(subscriptionIdentifier, {
        minLength: 1,
        maxLength: context === "publish" ? 3 : 1,
      });
    case "userProperties":
      return fc.array(fc.tuple(mqttString(8), value), { minLength: 1, maxLength: 4 });
    default:
      return mqttString(16);
  }
}

/** Properties allowed in `context`, or undefined (as the parser returns for none). */
export function propertiesArbitrary(
  context: Context,
  options: ArbitraryOptions = {},
): fc.Arbitrary<Properties | undefined> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const key of ALLOWED_PROPERTIES[context]) {
    model[key] = propertyArbitrary(key, context, options);
  }
  return fc.record(model, { requiredKeys: [] }).map((record) => {
    const properties = compact(record) as Properties;
    // Authentication Data needs an Authentication Method.
    if (
      properties.authenticationData !== undefined &&
      properties.authenticationMethod === undefined
    ) {
      properties.authenticationMethod = "SCRAM-SHA-1";
    }
    return Object.keys(properties).length === 0 ? undefined : properties;
  });
}

function v5Properties(
  version: ProtocolLevel,
  context: Context,
  options: ArbitraryOptions,
): fc.Arbitrary<Properties | undefined> {
  return version === 5 ? propertiesArbitrary(context, options) : fc.constant(undefined);
}

/**
 * A plain-prototype copy without the keys whose value is undefined, as the parser never
 * sets them (fc.record builds null-prototype objects, which deepStrictEqual tells apart).
 */
export function compact<T extends object>(value: T): T {
  const copy = { ...value };
  for (const key of Object.keys(copy) as Array<keyof T>) {
    if (copy[key] === undefined) delete copy[key];
  }
  return copy;
}

const qos = fc.constantFrom<QoS>(0, 1, 2);
const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });

function willArbitrary(version: ProtocolLevel, options: ArbitraryOptions): fc.Arbitrary<Will> {
  return fc
    .record({
      topic: mqttString(16, options.nonEmptyIdentifiers ? 1 : 0),
      payload: binary(32),
      qos,
      retain: fc.boolean(),
      properties: v5Properties(version, "will", options),
    })
    .map((will) => compact(will));
}

export function connectArbitrary(
  version: ProtocolLevel,
  options: ArbitraryOptions = {},
): fc.Arbitrary<ConnectPacket> {
  return fc
    .record({
      cleanStart: fc.boolean(),
      keepAlive: u16,
      clientId: mqttString(23, options.nonEmptyIdentifiers ? 1 : 0),
      will: optional(willArbitrary(version, options)),
      username: optional(mqttString(12)),
      password: optional(binary(12)),
      properties: v5Properties(version, "connect", options),
    })
    .map((fields) => {
      // [MQTT-3.1.2-22] before v5 a password needs a user name.
      if ((version < 5 || options.passwordNeedsUsername) && fields.username === undefined) {
        fields.password = undefined;
      }
      const protocolName = version === 3 ? "MQIsdp" : "MQTT";
      return compact({ type: "connect", protocolName, protocolVersion: version, ...fields });
    });
}

export function connackArbitrary(
  version: ProtocolLevel,
  options: ArbitraryOptions = {},
): fc.Arbitrary<ConnackPacket> {
  const codes = version === 5 ? REASON_CODES.connack : [0, 1, 2, 3, 4, 5];
  return fc
    .record({
      sessionPresent: fc.boolean(),
      reasonCode: fc.constantFrom(...codes),
      properties: v5Properties(version, "connack", options),
    })
    .map((fields) => {
      // [MQTT-3.2.2-6] no session on failure; MQTT 3.1 has no session present flag.
      const sessionPresent = fields.sessionPresent && fields.reasonCode === 0 && version > 3;
      return compact({ type: "connack", ...fields, sessionPresent });
    });
}

export function publishArbitrary(
  version: ProtocolLevel,
  options: ArbitraryOptions = {},
): fc.Arbitrary<PublishPacket> {
  return fc
    .record({
      topic: mqttString(24),
      payload: binary(64),
      qos,
      retain: fc.boolean(),
      dup: fc.boolean(),
      packetId,
      properties: v5Properties(version, "publish", options),
    })
    .map(({ topic, payload, qos, retain, dup, packetId, properties }) => {
      // An empty topic is only valid (v5) with a Topic Alias.
      if (topic === "" && properties?.topicAlias === undefined) topic = "t";
      const packet: PublishPacket =
        qos === 0
          ? { type: "publish", topic, payload, qos, retain, dup: false }
          : { type: "publish", topic, payload, qos, retain, dup, packetId };
      if (properties !== undefined) packet.properties = properties;
      return packet;
    });
}

export function ackArbitrary(
  version: ProtocolLevel,
  options: ArbitraryOptions = {},
): fc.Arbitrary<AckPacket> {
  return fc
    .constantFrom("puback", "pubrec", "pubrel", "pubcomp" as const)
    .chain((type) =>
      fc.record({
        type: fc.constant(type),
        packetId,
        reasonCode: version === 5 ? fc.constantFrom(...REASON_CODES[type]) : fc.constant(0),
        properties: v5Properties(version, "ack", options),
      }),
    )
    .map((packet) => compact(packet));
}

function subscriptionArbitrary(version: ProtocolLevel): fc.Arbitrary<SubscriptionRequest> {
  const v5 = version === 5;
  return fc
    .record({
      topicFilter: mqttString(24),
      qos,
      noLocal: v5 ? fc.boolean() : fc.constant(false),
      retainAsPublished: v5 ? fc.boolean() : fc.constant(false),
      retainHandling: v5 ? fc.constantFrom<0 | 1 | 2>(0, 1, 2) : fc.constant<0>(0),
    })
    .map(compact);
}

export function packetArbitrary(
  version: ProtocolLevel,
  options: ArbitraryOptions = {},
): fc.Arbitrary<Packet> {
  const v5 = version === 5;
  const arbitraries: Array<fc.Arbitrary<Packet>> = [
    connectArbitrary(version, options),
    connackArbitrary(version, options),
    publishArbitrary(version, options),
    ackArbitrary(version, options),
    fc
      .record({
        type: fc.constant("subscribe" as const),
        packetId,
        subscriptions: fc.array(subscriptionArbitrary(version), { minLength: 1, maxLength: 4 }),
        properties: v5Properties(version, "subscribe", options),
      })
      .map(compact),
    fc
      .record({
        type: fc.constant("suback" as const),
        packetId,
        reasonCodes: fc.array(fc.constantFrom(...(v5 ? REASON_CODES.suback : [0, 1, 2, 0x80])), {
          minLength: 1,
          maxLength: 4,
        }),
        properties: v5Properties(version, "suback", options),
      })
      .map(compact),
    fc
      .record({
        type: fc.constant("unsubscribe" as const),
        packetId,
        topicFilters: fc.array(mqttString(24), { minLength: 1, maxLength: 4 }),
        properties: v5Properties(version, "unsubscribe", options),
      })
      .map(compact),
    fc
      .record({
        type: fc.constant("unsuback" as const),
        packetId,
        reasonCodes: v5
          ? fc.array(fc.constantFrom<number>(...REASON_CODES.unsuback), {
              minLength: 1,
              maxLength: 4,
            })
          : fc.constant<number[]>([]),
        properties: v5Properties(version, "unsuback", options),
      })
      .map(compact),
    fc.constant({ type: "pingreq" as const }),
    fc.constant({ type: "pingresp" as const }),
    fc
      .record({
        type: fc.constant("disconnect" as const),
        reasonCode: v5 ? fc.constantFrom(...REASON_CODES.disconnect) : fc.constant(0),
        properties: v5Properties(version, "disconnect", options),
      })
      .map(compact),
  ];
  if (v5) {
    const auth = fc
      .record({
        type: fc.constant("auth" as const),
        reasonCode: fc.constantFrom(...REASON_CODES.auth),
        properties: propertiesArbitrary("auth", options),
      })
      .map(compact)
      .filter(
        (packet) =>
          !options.noBareAuth || packet.reasonCode !== 0 || packet.properties !== undefined,
      );
    arbitraries.push(auth);
  }
  return fc.oneof(...arbitraries);
}
