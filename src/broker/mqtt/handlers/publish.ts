import { isUtf8 } from "node:buffer";
import { ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { Properties, PublishPacket } from "../../../protocol/mqtt/packets.ts";
import type { MqttConnection } from "../connection.ts";
import { DELAYED_QUOTA_EXCEEDED, type DelayedPublisher } from "../delayed/publisher.ts";
import { DELAYED_INVALID } from "../delayed/topic.ts";
import { Message } from "../message.ts";
import { payloadAccepted } from "../schema-validation.ts";
import type { Session } from "../session.ts";
import { isSysTopic, topicLevelCount, validateResponseTopic, validateTopicName } from "../topic.ts";

/** Resolves the topic name, applying an inbound Topic Alias [MQTT-3.3.2-7..12]; null = closed. */
function resolveTopic(conn: MqttConnection, packet: PublishPacket): string | null {
  const alias = packet.properties?.topicAlias;
  if (alias === undefined || !conn.isV5) {
    if (packet.topic === "") {
      conn.protocolError(ReasonCode.PROTOCOL_ERROR, "empty topic name without topic alias");
      return null;
    }
    return packet.topic;
  }
  if (alias > conn.broker.config.mqtt_protocol_config.topic_alias_max) {
    conn.protocolError(ReasonCode.TOPIC_ALIAS_INVALID, `topic alias ${alias} above maximum`);
    return null;
  }
  if (conn.inAliases === null) conn.inAliases = new Map();
  if (packet.topic === "") {
    const topic = conn.inAliases.get(alias);
    if (topic === undefined) {
      conn.protocolError(ReasonCode.PROTOCOL_ERROR, `unknown topic alias ${alias}`);
      return null;
    }
    return topic;
  }
  // Each alias keeps its topic for the connection's life: their bytes are bounded, or one
  // client could fill the heap with 65,535 aliases of 64 KiB topics.
  const previous = conn.inAliases.get(alias);
  const bytes =
    conn.inAliasBytes +
    Buffer.byteLength(packet.topic) -
    (previous === undefined ? 0 : Buffer.byteLength(previous));
  const max = conn.broker.config.mqtt_limits.max_topic_alias_bytes;
  if (bytes > max) {
    conn.protocolError(ReasonCode.QUOTA_EXCEEDED, `topic aliases would hold over ${max} bytes`);
    return null;
  }
  conn.inAliasBytes = bytes;
  conn.inAliases.set(alias, packet.topic);
  return packet.topic;
}

/** Properties forwarded to subscribers: everything but the per-hop ones. */
function forwardedProperties(properties: Properties | undefined): Properties | undefined {
  if (properties === undefined) return undefined;
  if (properties.topicAlias === undefined && properties.messageExpiryInterval === undefined) {
    return properties;
  }
  const { topicAlias: _a, messageExpiryInterval: _e, ...rest } = properties;
  return rest;
}

/** Sends PUBACK or PUBREC with a reason code (v3 has none: plain ack). */
function acknowledge(conn: MqttConnection, packet: PublishPacket, reasonCode: number): void {
  const packetId = packet.packetId as number;
  if (packet.qos === 1) conn.inboundQos1Unacked--;
  conn.sendAck(packet.qos === 1 ? "puback" : "pubrec", packetId, conn.isV5 ? reasonCode : 0);
}

/**
 * A refused message's acknowledgement: at once, unless earlier ones still wait for the disk,
 * whose order it keeps [MQTT-4.6.0-2, MQTT-4.6.0-4].
 */
function refuse(conn: MqttConnection, packet: PublishPacket, reasonCode: number): void {
  const send = () => acknowledge(conn, packet, reasonCode);
  conn.answerAfter(null, send, send);
}

/**
 * Acknowledges once the message is durable. If it could not be stored (disk full, I/O error)
 * a v5 publisher is told so with 0x97 and keeps its connection; a v3 publisher, whose
 * acknowledgements carry no reason code, is disconnected and will resend.
 */
function acknowledgeStored(
  conn: MqttConnection,
  packet: PublishPacket,
  stored: Promise<unknown> | null,
  reasonCode: number,
): void {
  conn.answerAfter(
    stored,
    () => acknowledge(conn, packet, reasonCode),
    (err) => {
      conn.broker.logger.warn(
        { err, clientId: conn.clientId, packetId: packet.packetId },
        "message not stored: publish refused",
      );
      if (packet.qos === 2) conn.session?.inboundQos2.delete(packet.packetId as number);
      if (conn.isV5) acknowledge(conn, packet, ReasonCode.QUOTA_EXCEEDED);
      else conn.close("message not stored", false);
    },
  );
}

/**
 * Clients never publish to `$SYS`; beyond that the ACL decides. Only the first refusal of a
 * connection is logged at info: a client retrying a forbidden topic must not flood the log.
 */
function mayPublish(conn: MqttConnection, topic: string): boolean {
  const security = conn.broker.security;
  const principal = conn.principal;
  const allowed =
    isSysTopic(topic) && topic.startsWith("$SYS")
      ? false
      : security === null ||
        principal === null ||
        security.mayPublish(principal, conn.aclCache, topic);
  if (allowed) return true;
  conn.broker.stats.aclDenied++;
  const log = conn.broker.logger;
  const first = conn.publishDenials++ === 0;
  log[first ? "info" : "debug"]({ clientId: conn.clientId, topic }, "publish not authorized");
  return false;
}

/** Checks that end the connection; returns false when it was closed. */
function admissible(conn: MqttConnection, packet: PublishPacket, session: Session): boolean {
  const protocol = conn.broker.config.mqtt_protocol_config;
  if (packet.properties?.subscriptionIdentifiers !== undefined) {
    // [MQTT-3.3.4-6] only the server sends subscription identifiers.
    conn.protocolError(ReasonCode.PROTOCOL_ERROR, "subscription identifier in PUBLISH");
    return false;
  }
  const responseTopic = packet.properties?.responseTopic;
  if (responseTopic !== undefined && !validateResponseTopic(responseTopic)) {
    // [MQTT-3.3.2-14] forwarded, it would make us send a PUBLISH the spec forbids.
    conn.protocolError(ReasonCode.PROTOCOL_ERROR, "wildcard in Response Topic");
    return false;
  }
  if (packet.qos > protocol.max_qos) {
    conn.protocolError(ReasonCode.QOS_NOT_SUPPORTED, `QoS ${packet.qos} above maximum QoS`); // [MQTT-3.2.2-11]
    return false;
  }
  if (packet.retain && !protocol.retain_available) {
    conn.protocolError(ReasonCode.RETAIN_NOT_SUPPORTED, "retain not supported"); // [MQTT-3.2.2-14]
    return false;
  }
  // QoS 2 until PUBCOMP, QoS 1 until its PUBACK is sent (it may wait for the disk).
  if (
    packet.qos > 0 &&
    session.inboundQos2.size + conn.inboundQos1Unacked >= protocol.receive_max &&
    !(packet.qos === 2 && session.inboundQos2.has(packet.packetId as number))
  ) {
    conn.protocolError(ReasonCode.RECEIVE_MAXIMUM_EXCEEDED, "receive maximum exceeded"); // [MQTT-3.3.4-9]
    return false;
  }
  return true;
}

export function handlePublish(conn: MqttConnection, packet: PublishPacket): void {
  const broker = conn.broker;
  if (conn.messageRate !== null) conn.overRate(conn.messageRate, 1);
  const session = conn.session as Session;
  const topic = resolveTopic(conn, packet);
  if (topic === null) return;
  if (!validateTopicName(topic)) {
    conn.protocolError(ReasonCode.TOPIC_NAME_INVALID, "invalid topic name"); // [MQTT-3.3.2-2]
    return;
  }
  if (topicLevelCount(topic) > broker.config.mqtt_limits.max_topic_levels) {
    conn.protocolError(ReasonCode.TOPIC_NAME_INVALID, "too many topic levels");
    return;
  }
  if (!admissible(conn, packet, session)) return;
  // Every QoS 1 PUBLISH admitted is acknowledged (acknowledge() counts it down) or its
  // connection closed.
  if (packet.qos === 1) conn.inboundQos1Unacked++;
  if (packet.qos === 2 && session.inboundQos2.has(packet.packetId as number)) {
    // Duplicate: already accepted [MQTT-4.3.3-10]; answered once the original is stored.
    conn.answerAfter(
      session.lastStored,
      () => acknowledge(conn, packet, ReasonCode.SUCCESS),
      () => acknowledge(conn, packet, ReasonCode.SUCCESS),
    );
    return;
  }
  // `$delayed/{seconds}/{topic}`: checked and authorized as its target topic, stored, sent later.
  const delayed = broker.delayed;
  const delay = delayed === null ? null : delayed.parse(topic);
  if (delay === DELAYED_INVALID) {
    (delayed as DelayedPublisher).refuseInvalid(conn, conn.clientId, topic);
    // v3 has no negative acknowledgement: the message is acknowledged, dropped and counted.
    if (packet.qos > 0) refuse(conn, packet, ReasonCode.TOPIC_NAME_INVALID);
    return;
  }
  let target = delay === null ? topic : delay.topic;
  // Topic rewrite rules (rules/topic-rewrite.ts), before the ACL, routing and retained handling.
  const rewrite = broker.topicRewrite;
  if (rewrite !== null && rewrite.publishRules.length > 0) target = rewrite.rewriteTopic(target);
  if (!mayPublish(conn, target)) {
    broker.stats.droppedNotAuthorized++;
    // v3 has no negative acknowledgement: the message is acknowledged, dropped and counted.
    if (packet.qos > 0) refuse(conn, packet, ReasonCode.NOT_AUTHORIZED);
    return;
  }
  const schemas = broker.schemaValidation;
  if (schemas !== null && !payloadAccepted(conn, schemas, target, packet.payload, packet.retain)) {
    // Dropped and counted; only a v5 acknowledgement can say why.
    if (packet.qos > 0) refuse(conn, packet, ReasonCode.PAYLOAD_FORMAT_INVALID);
    return;
  }
  const props = packet.properties;
  if (props?.payloadFormatIndicator === 1 && !isUtf8(packet.payload)) {
    broker.stats.droppedPayloadFormat++;
    if (packet.qos > 0) refuse(conn, packet, ReasonCode.PAYLOAD_FORMAT_INVALID);
    return;
  }
  const message = new Message(
    target,
    packet.payload,
    packet.qos,
    packet.retain,
    forwardedProperties(props),
    expiryOf(conn, props),
    conn.clientId,
  );
  if (broker.kafkaRefuses?.(message) === true) {
    // Too large for a bridged Kafka topic: refused before any subscriber gets it, not after
    // (which disconnected a v3 publisher, and it resent). v3 has no negative acknowledgement:
    // the message is acknowledged, dropped and counted (by the bridge, which logs it).
    if (packet.qos > 0) refuse(conn, packet, ReasonCode.QUOTA_EXCEEDED);
    return;
  }
  if (delay !== null) {
    acceptDelayed(conn, packet, session, delayed as DelayedPublisher, message, delay.delayS);
    return;
  }
  // A persistent session's QoS 2 packet id must survive a crash with the message, or a
  // resend after it would be taken as a new message.
  const inboundPacketId =
    packet.qos === 2 && session.persistedExpiryS > 0 ? (packet.packetId as number) : 0;
  const deliveries = broker.publish(message, conn, inboundPacketId);
  if (packet.qos === 0) return;
  if (packet.qos === 2) {
    session.inboundQos2.add(packet.packetId as number);
    if (message.stored !== null) session.lastStored = message.stored;
  }
  const code = deliveries === 0 ? ReasonCode.NO_MATCHING_SUBSCRIBERS : ReasonCode.SUCCESS;
  acknowledgeStored(conn, packet, durable(message), code);
}

/** A `$delayed/` message is acknowledged once stored; refused while max_messages wait. */
function acceptDelayed(
  conn: MqttConnection,
  packet: PublishPacket,
  session: Session,
  delayed: DelayedPublisher,
  message: Message,
  delayS: number,
): void {
  const stored = delayed.accept(message, delayS);
  if (stored === DELAYED_QUOTA_EXCEEDED) {
    // v3 has no negative acknowledgement: the message is acknowledged, dropped and counted.
    if (packet.qos > 0) refuse(conn, packet, ReasonCode.QUOTA_EXCEEDED);
    return;
  }
  if (packet.qos === 0) return;
  if (packet.qos !== 2) {
    acknowledgeStored(conn, packet, stored, ReasonCode.SUCCESS);
    return;
  }
  const packetId = packet.packetId as number;
  session.inboundQos2.add(packetId);
  // The message is in the delayed store, not the MQTT log: the packet id's hold goes to the log
  // on its own, or a resend after a crash would be taken as a new message.
  const persistence = conn.broker.persistence;
  if (persistence === null || session.persistedExpiryS === 0) {
    acknowledgeStored(conn, packet, stored, ReasonCode.SUCCESS);
    return;
  }
  const change = { c: session.clientId, p: packetId };
  const held = persistence.record({ t: "held", ...change });
  const both = stored === null ? held : Promise.all([stored, held]);
  // Refused: the id is free for the client's next message, after a restart too.
  const durable = both.catch(async (error: unknown) => {
    await persistence.record({ t: "released", ...change }).catch(() => {});
    throw error;
  });
  session.lastStored = durable;
  acknowledgeStored(conn, packet, durable, ReasonCode.SUCCESS);
}

/** What must hold before the acknowledgement: stored in the MQTT log, appended to Kafka. */
function durable(message: Message): Promise<unknown> | null {
  const { stored, bridged } = message;
  if (bridged === null) return stored;
  return stored === null ? bridged : Promise.all([stored, bridged]);
}

/** Absolute expiry from the Message Expiry Interval, capped by configuration; 0 = none. */
function expiryOf(conn: MqttConnection, props: Properties | undefined): number {
  const capS = conn.broker.config.mqtt_protocol_config.max_message_expiry_interval;
  let seconds = props?.messageExpiryInterval;
  if (capS > 0 && (seconds === undefined || seconds > capS)) seconds = capS;
  return seconds === undefined ? 0 : Date.now() + seconds * 1000;
}
