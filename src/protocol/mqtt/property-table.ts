/**
 * The MQTT 5 property table (spec section 2.2.2.2, table 2-4): each property's identifier,
 * wire type, and the packet types it may appear in. properties.ts decodes and encodes with it.
 */
import { assert } from "../../errors.ts";
import { PropertyId } from "./constants.ts";
import type { Properties } from "./packets.ts";

/** Where a property list sits: each packet type (the four acks share one) plus the will. */
export const PropertyContext = {
  CONNECT: 1 << 0,
  CONNACK: 1 << 1,
  PUBLISH: 1 << 2,
  WILL: 1 << 3,
  /** PUBACK, PUBREC, PUBREL, PUBCOMP. */
  ACK: 1 << 4,
  SUBSCRIBE: 1 << 5,
  SUBACK: 1 << 6,
  UNSUBSCRIBE: 1 << 7,
  UNSUBACK: 1 << 8,
  DISCONNECT: 1 << 9,
  AUTH: 1 << 10,
} as const;
export type PropertyContextBit = (typeof PropertyContext)[keyof typeof PropertyContext];

export const CONTEXT_NAMES: Record<PropertyContextBit, string> = {
  1: "CONNECT",
  2: "CONNACK",
  4: "PUBLISH",
  8: "will properties",
  16: "PUBACK/PUBREC/PUBREL/PUBCOMP",
  32: "SUBSCRIBE",
  64: "SUBACK",
  128: "UNSUBSCRIBE",
  256: "UNSUBACK",
  512: "DISCONNECT",
  1024: "AUTH",
};

/** Wire data types (spec section 1.5). Every one-byte property is a 0/1 flag. */
export const Kind = {
  FLAG: 1,
  UINT16: 2,
  UINT32: 3,
  VARINT: 4,
  STRING: 5,
  BINARY: 6,
  PAIR: 7,
} as const;
export type KindValue = (typeof Kind)[keyof typeof Kind];

export interface PropertyDefinition {
  id: number;
  key: keyof Properties;
  name: string;
  kind: KindValue;
  /** Bitmask of PropertyContext values the property may appear in (spec table 2-4). */
  contexts: number;
  /** A value of 0 is a protocol error (receive maximum, maximum packet size, ...). */
  zeroForbidden: boolean;
}

const C = PropertyContext;
const ALL_CONTEXTS = 0x7ff;
const PUBLISH_OR_WILL = C.PUBLISH | C.WILL;
const REASON_CONTEXTS = C.CONNACK | C.ACK | C.SUBACK | C.UNSUBACK | C.DISCONNECT | C.AUTH;

function define(
  id: number,
  key: keyof Properties,
  name: string,
  kind: KindValue,
  contexts: number,
  zeroForbidden = false,
): PropertyDefinition {
  return { id, key, name, kind, contexts, zeroForbidden };
}

const P = PropertyId;
/** In identifier order, which is also the order the encoder writes them. */
export const PROPERTY_DEFINITIONS: readonly PropertyDefinition[] = [
  define(
    P.PAYLOAD_FORMAT_INDICATOR,
    "payloadFormatIndicator",
    "Payload Format Indicator",
    Kind.FLAG,
    PUBLISH_OR_WILL,
  ),
  define(
    P.MESSAGE_EXPIRY_INTERVAL,
    "messageExpiryInterval",
    "Message Expiry Interval",
    Kind.UINT32,
    PUBLISH_OR_WILL,
  ),
  define(P.CONTENT_TYPE, "contentType", "Content Type", Kind.STRING, PUBLISH_OR_WILL),
  define(P.RESPONSE_TOPIC, "responseTopic", "Response Topic", Kind.STRING, PUBLISH_OR_WILL),
  define(P.CORRELATION_DATA, "correlationData", "Correlation Data", Kind.BINARY, PUBLISH_OR_WILL),
  // Sections 3.3.2.3.8 and 3.8.2.1.2: 1 to 268,435,455; 0 is a protocol error.
  define(
    P.SUBSCRIPTION_IDENTIFIER,
    "subscriptionIdentifiers",
    "Subscription Identifier",
    Kind.VARINT,
    C.PUBLISH | C.SUBSCRIBE,
    true,
  ),
  define(
    P.SESSION_EXPIRY_INTERVAL,
    "sessionExpiryInterval",
    "Session Expiry Interval",
    Kind.UINT32,
    C.CONNECT | C.CONNACK | C.DISCONNECT,
  ),
  define(
    P.ASSIGNED_CLIENT_IDENTIFIER,
    "assignedClientIdentifier",
    "Assigned Client Identifier",
    Kind.STRING,
    C.CONNACK,
  ),
  define(P.SERVER_KEEP_ALIVE, "serverKeepAlive", "Server Keep Alive", Kind.UINT16, C.CONNACK),
  define(
    P.AUTHENTICATION_METHOD,
    "authenticationMethod",
    "Authentication Method",
    Kind.STRING,
    C.CONNECT | C.CONNACK | C.AUTH,
  ),
  define(
    P.AUTHENTICATION_DATA,
    "authenticationData",
    "Authentication Data",
    Kind.BINARY,
    C.CONNECT | C.CONNACK | C.AUTH,
  ),
  define(
    P.REQUEST_PROBLEM_INFORMATION,
    "requestProblemInformation",
    "Request Problem Information",
    Kind.FLAG,
    C.CONNECT,
  ),
  define(P.WILL_DELAY_INTERVAL, "willDelayInterval", "Will Delay Interval", Kind.UINT32, C.WILL),
  define(
    P.REQUEST_RESPONSE_INFORMATION,
    "requestResponseInformation",
    "Request Response Information",
    Kind.FLAG,
    C.CONNECT,
  ),
  define(
    P.RESPONSE_INFORMATION,
    "responseInformation",
    "Response Information",
    Kind.STRING,
    C.CONNACK,
  ),
  define(
    P.SERVER_REFERENCE,
    "serverReference",
    "Server Reference",
    Kind.STRING,
    C.CONNACK | C.DISCONNECT,
  ),
  define(P.REASON_STRING, "reasonString", "Reason String", Kind.STRING, REASON_CONTEXTS),
  define(
    P.RECEIVE_MAXIMUM,
    "receiveMaximum",
    "Receive Maximum",
    Kind.UINT16,
    C.CONNECT | C.CONNACK,
    true,
  ),
  define(
    P.TOPIC_ALIAS_MAXIMUM,
    "topicAliasMaximum",
    "Topic Alias Maximum",
    Kind.UINT16,
    C.CONNECT | C.CONNACK,
  ),
  // [MQTT-3.3.2-8] a Topic Alias of 0 is not permitted.
  define(P.TOPIC_ALIAS, "topicAlias", "Topic Alias", Kind.UINT16, C.PUBLISH, true),
  define(P.MAXIMUM_QOS, "maximumQoS", "Maximum QoS", Kind.FLAG, C.CONNACK),
  define(P.RETAIN_AVAILABLE, "retainAvailable", "Retain Available", Kind.FLAG, C.CONNACK),
  define(P.USER_PROPERTY, "userProperties", "User Property", Kind.PAIR, ALL_CONTEXTS),
  define(
    P.MAXIMUM_PACKET_SIZE,
    "maximumPacketSize",
    "Maximum Packet Size",
    Kind.UINT32,
    C.CONNECT | C.CONNACK,
    true,
  ),
  define(
    P.WILDCARD_SUBSCRIPTION_AVAILABLE,
    "wildcardSubscriptionAvailable",
    "Wildcard Subscription Available",
    Kind.FLAG,
    C.CONNACK,
  ),
  define(
    P.SUBSCRIPTION_IDENTIFIER_AVAILABLE,
    "subscriptionIdentifierAvailable",
    "Subscription Identifier Available",
    Kind.FLAG,
    C.CONNACK,
  ),
  define(
    P.SHARED_SUBSCRIPTION_AVAILABLE,
    "sharedSubscriptionAvailable",
    "Shared Subscription Available",
    Kind.FLAG,
    C.CONNACK,
  ),
];

export const DEFINITION_BY_ID: Array<PropertyDefinition | undefined> = new Array(256).fill(
  undefined,
);
for (const definition of PROPERTY_DEFINITIONS) DEFINITION_BY_ID[definition.id] = definition;
assert(PROPERTY_DEFINITIONS.length === Object.keys(PropertyId).length, "a property is missing");
