import { type QoS, ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { SubscribePacket, SubscriptionRequest } from "../../../protocol/mqtt/packets.ts";
import type { MqttConnection } from "../connection.ts";
import type { Session, Subscription } from "../session.ts";
import { hasWildcard, parseSharedFilter, topicLevelCount, validateTopicFilter } from "../topic.ts";

/** A granted subscription whose retained messages go out after the SUBACK. */
interface RetainedRequest {
  filter: string;
  qos: QoS;
}

/** Returns the SUBACK code for one filter, or null if the connection was closed. */
function subscribeOne(
  conn: MqttConnection,
  session: Session,
  request: SubscriptionRequest,
  subscriptionId: number,
  retainedRequests: RetainedRequest[],
): number | null {
  const protocol = conn.broker.config.mqtt_protocol_config;
  const limits = conn.broker.config.mqtt_limits;
  const filter = request.topicFilter;
  const shared = parseSharedFilter(filter);
  if (shared === "invalid") return ReasonCode.TOPIC_FILTER_INVALID;
  if (shared === null && !validateTopicFilter(filter)) return ReasonCode.TOPIC_FILTER_INVALID;
  const matchFilter = shared === null ? filter : shared.filter;
  if (shared !== null) {
    if (!protocol.shared_subscription_available)
      return ReasonCode.SHARED_SUBSCRIPTIONS_NOT_SUPPORTED;
    if (request.noLocal) {
      conn.protocolError(ReasonCode.PROTOCOL_ERROR, "No Local on a shared subscription"); // [MQTT-3.8.3-4]
      return null;
    }
  }
  if (!protocol.wildcard_subscription_available && hasWildcard(matchFilter)) {
    return ReasonCode.WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED;
  }
  if (topicLevelCount(matchFilter) > limits.max_topic_levels)
    return ReasonCode.TOPIC_FILTER_INVALID;
  const existing = session.subscriptions.get(filter);
  const max = limits.max_subscriptions_per_client;
  if (existing === undefined && max > 0 && session.subscriptions.size >= max) {
    return ReasonCode.QUOTA_EXCEEDED;
  }
  const qos = Math.min(request.qos, protocol.max_qos) as QoS;
  const sub: Subscription = {
    filter,
    matchFilter,
    shareGroup: shared === null ? null : shared.group,
    qos,
    noLocal: request.noLocal,
    retainAsPublished: request.retainAsPublished,
    retainHandling: request.retainHandling,
    subscriptionId,
  };
  // [MQTT-3.8.4-3] an identical filter replaces the existing subscription.
  session.subscriptions.set(filter, sub);
  conn.broker.router.subscribe(session, sub);
  // [MQTT-3.3.1-9..11] retain handling 0: always, 1: only if new, 2: never. Not for shares.
  const wantRetained =
    request.retainHandling === 0 || (request.retainHandling === 1 && existing === undefined);
  if (shared === null && wantRetained) retainedRequests.push({ filter: matchFilter, qos });
  return qos;
}

export function handleSubscribe(conn: MqttConnection, packet: SubscribePacket): void {
  const session = conn.session as Session;
  const subscriptionId = packet.properties?.subscriptionIdentifiers?.[0] ?? 0;
  if (
    subscriptionId !== 0 &&
    !conn.broker.config.mqtt_protocol_config.subscription_identifier_available
  ) {
    conn.protocolError(
      ReasonCode.SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED,
      "subscription identifiers not supported",
    );
    return;
  }
  const reasonCodes: number[] = [];
  const retainedRequests: RetainedRequest[] = [];
  for (const request of packet.subscriptions) {
    const code = subscribeOne(conn, session, request, subscriptionId, retainedRequests);
    if (code === null) return;
    // v3 has a single failure code [MQTT-3.9.3-2].
    reasonCodes.push(conn.isV5 || code < 0x80 ? code : 0x80);
  }
  conn.sendPacket({ type: "suback", packetId: packet.packetId, reasonCodes }); // [MQTT-3.8.4-1]
  for (const r of retainedRequests) {
    conn.broker.sendRetained(conn, r.filter, r.qos, subscriptionId);
  }
}
