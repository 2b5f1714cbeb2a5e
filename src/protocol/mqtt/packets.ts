import type { ProtocolLevel, QoS } from "./constants.ts";

/**
 * MQTT 5 properties. Every property lives in one flat shape; each packet type allows a
 * subset (the codec rejects a property a packet type does not allow with MALFORMED_PACKET).
 * Absent means "not sent". Binary values are slices of the read buffer, never copies.
 */
export interface Properties {
  payloadFormatIndicator?: number;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /** PUBLISH may carry several; SUBSCRIBE carries at most one. */
  subscriptionIdentifiers?: number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Buffer;
  requestProblemInformation?: number;
  willDelayInterval?: number;
  requestResponseInformation?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: number;
  retainAvailable?: number;
  /** In wire order; names may repeat [MQTT-3.1.3-10]. */
  userProperties?: Array<[string, string]>;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: number;
  subscriptionIdentifierAvailable?: number;
  sharedSubscriptionAvailable?: number;
}

export interface Will {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** v5 will properties (payload format, expiry, content type, response topic, correlation data, user properties, will delay). */
  properties?: Properties;
}

export interface ConnectPacket {
  type: "connect";
  /** "MQTT" for 3.1.1 and 5, "MQIsdp" for 3.1. */
  protocolName: string;
  protocolVersion: ProtocolLevel;
  cleanStart: boolean;
  keepAlive: number;
  clientId: string;
  will?: Will;
  username?: string;
  password?: Buffer;
  properties?: Properties;
}

export interface ConnackPacket {
  type: "connack";
  sessionPresent: boolean;
  /** v5 reason code, or the v3 return code (0-5). */
  reasonCode: number;
  properties?: Properties;
}

export interface PublishPacket {
  type: "publish";
  topic: string;
  /** A slice of the read buffer, not a copy. */
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present iff qos > 0. */
  packetId?: number;
  properties?: Properties;
}

/** PUBACK, PUBREC, PUBREL and PUBCOMP share one shape. */
export interface AckPacket {
  type: "puback" | "pubrec" | "pubrel" | "pubcomp";
  packetId: number;
  /** v5 only; 0 (success) when omitted on the wire. */
  reasonCode: number;
  properties?: Properties;
}

export interface SubscriptionRequest {
  topicFilter: string;
  qos: QoS;
  /** v5 subscription options; false/0 for v3. */
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
}

export interface SubscribePacket {
  type: "subscribe";
  packetId: number;
  subscriptions: SubscriptionRequest[];
  properties?: Properties;
}

export interface SubackPacket {
  type: "suback";
  packetId: number;
  /** One per requested filter: granted QoS or a failure reason code (v3: 0x80). */
  reasonCodes: number[];
  properties?: Properties;
}

export interface UnsubscribePacket {
  type: "unsubscribe";
  packetId: number;
  topicFilters: string[];
  properties?: Properties;
}

export interface UnsubackPacket {
  type: "unsuback";
  packetId: number;
  /** v5 only: one per filter. Empty for v3 (UNSUBACK has no payload there). */
  reasonCodes: number[];
  properties?: Properties;
}

export interface PingreqPacket {
  type: "pingreq";
}

export interface PingrespPacket {
  type: "pingresp";
}

export interface DisconnectPacket {
  type: "disconnect";
  /** v5 only; 0 when omitted on the wire. */
  reasonCode: number;
  properties?: Properties;
}

export interface AuthPacket {
  type: "auth";
  reasonCode: number;
  properties?: Properties;
}

export type Packet =
  | ConnectPacket
  | ConnackPacket
  | PublishPacket
  | AckPacket
  | SubscribePacket
  | SubackPacket
  | UnsubscribePacket
  | UnsubackPacket
  | PingreqPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;
