import { type QoS, ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { SubscribePacket, SubscriptionRequest } from "../../../protocol/mqtt/packets.ts";
import type { MqttConnection } from "../connection.ts";
import { isExclusiveFilter, resolveFilter } from "../filter-prefixes.ts";
import { storedSubscription } from "../persistence/records.ts";
import type { Session, Subscription } from "../session.ts";
import { hasWildcard, parseSharedFilter, topicLevelCount, validateTopicFilter } from "../topic.ts";

/** A granted subscription whose retained messages go out after the SUBACK. */
export interface RetainedRequest {
  filter: string;
  qos: QoS;
}

/** A subscription this SUBSCRIBE made, and the one it replaced (to undo it). */
export interface Granted {
  sub: Subscription;
  replaced: Subscription | undefined;
}

/**
 * Returns the SUBACK code for one filter, or null if the connection was closed. Also used by
 * auto-subscribe (rules/auto-subscriber.ts).
 */
export function subscribeOne(
  conn: MqttConnection,
  session: Session,
  request: SubscriptionRequest,
  subscriptionId: number,
  retainedRequests: RetainedRequest[],
  granted: Granted[],
): number | null {
  const protocol = conn.broker.config.mqtt_protocol_config;
  const limits = conn.broker.config.mqtt_limits;
  // `$queue/`, `$exclusive/` and topic rewrite rules give the filter the session keys it by.
  const filter = resolveFilter(conn, request.topicFilter);
  if (typeof filter === "number") return filter;
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
  if (!authorized(conn, matchFilter)) return ReasonCode.NOT_AUTHORIZED;
  const existing = session.subscriptions.get(filter);
  const max = limits.max_subscriptions_per_client;
  if (existing === undefined && max > 0 && session.subscriptions.size >= max) {
    return ReasonCode.QUOTA_EXCEEDED;
  }
  const claims = conn.broker.exclusive;
  if (isExclusiveFilter(request.topicFilter) && !claims.claim(session, filter)) {
    return ReasonCode.QUOTA_EXCEEDED; // another client holds the exclusive subscription
  }
  // Also true when the session holds the claim and subscribes to `<filter>` as written.
  const exclusive = claims.holds(session, filter);
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
    exclusive,
  };
  // [MQTT-3.8.4-3] an identical filter replaces the existing subscription.
  session.subscriptions.set(filter, sub);
  conn.broker.router.subscribe(session, sub);
  granted.push({ sub, replaced: existing });
  // [MQTT-3.3.1-9..11] retain handling 0: always, 1: only if new, 2: never. Not for shares.
  const wantRetained =
    request.retainHandling === 0 || (request.retainHandling === 1 && existing === undefined);
  if (shared === null && wantRetained) retainedRequests.push({ filter: matchFilter, qos });
  return qos;
}

/** The ACL's answer for a filter (a shared one without its `$share/<group>/`). */
function authorized(conn: MqttConnection, filter: string): boolean {
  const security = conn.broker.security;
  const principal = conn.principal;
  if (security === null || principal === null) return true;
  if (security.maySubscribe(principal, conn.aclCache, filter)) return true;
  conn.broker.stats.aclDenied++;
  conn.broker.logger.info({ clientId: conn.clientId, filter }, "subscription not authorized");
  return false;
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
  const granted: Granted[] = [];
  for (const request of packet.subscriptions) {
    const code = subscribeOne(conn, session, request, subscriptionId, retainedRequests, granted);
    if (code === null) {
      // A protocol error closed the connection: no SUBACK, so none of the packet's filters.
      undo(conn, session, granted);
      return;
    }
    // v3 has a single failure code [MQTT-3.9.3-2].
    reasonCodes.push(conn.isV5 || code < 0x80 ? code : 0x80);
  }
  const recorded = recordSubscriptions(conn, session, granted);
  conn.answerAfter(
    recorded,
    () => {
      conn.sendPacket({ type: "suback", packetId: packet.packetId, reasonCodes }); // [MQTT-3.8.4-1]
      for (const r of retainedRequests) {
        conn.broker.sendRetained(conn, r.filter, r.qos, subscriptionId);
      }
    },
    (err) => {
      conn.broker.logger.warn({ err, clientId: conn.clientId }, "subscription not stored");
      undo(conn, session, granted);
      const failed = reasonCodes.map((c) => (c < 0x80 ? failureCode(conn) : c));
      conn.sendPacket({ type: "suback", packetId: packet.packetId, reasonCodes: failed });
    },
  );
}

/** A persistent session's subscriptions are durable before the SUBACK; null if not needed. */
export function recordSubscriptions(
  conn: MqttConnection,
  session: Session,
  granted: readonly Granted[],
): Promise<unknown> | null {
  const persistence = conn.broker.persistence;
  if (persistence === null || session.persistedExpiryS === 0 || granted.length === 0) return null;
  persistence.touch(session);
  return persistence.record({
    t: "subscribe",
    c: session.clientId,
    s: granted.map(({ sub }) => storedSubscription(sub)),
  });
}

/** Puts back what the session had before a SUBSCRIBE that could not be stored. */
export function undo(conn: MqttConnection, session: Session, granted: readonly Granted[]): void {
  const router = conn.broker.router;
  for (let i = granted.length - 1; i >= 0; i--) {
    const { sub, replaced } = granted[i];
    router.unsubscribe(session, sub);
    if (replaced === undefined) {
      session.subscriptions.delete(sub.filter);
    } else {
      session.subscriptions.set(sub.filter, replaced);
      router.subscribe(session, replaced);
    }
  }
}

function failureCode(conn: MqttConnection): number {
  return conn.isV5 ? ReasonCode.QUOTA_EXCEEDED : 0x80;
}
