import { ReasonCode } from "../../../protocol/mqtt/constants.ts";
import type { UnsubscribePacket } from "../../../protocol/mqtt/packets.ts";
import type { MqttConnection } from "../connection.ts";
import { resolveFilter } from "../filter-prefixes.ts";
import type { Session, Subscription } from "../session.ts";
import { parseSharedFilter, validateTopicFilter } from "../topic.ts";

export function handleUnsubscribe(conn: MqttConnection, packet: UnsubscribePacket): void {
  const session = conn.session as Session;
  const reasonCodes: number[] = [];
  const removed: Subscription[] = [];
  for (const requested of packet.topicFilters) {
    // `$queue/`, `$exclusive/` and topic rewrite rules, as for SUBSCRIBE.
    const filter = resolveFilter(conn, requested);
    if (typeof filter === "number") {
      reasonCodes.push(filter);
      continue;
    }
    const shared = parseSharedFilter(filter);
    if (shared === "invalid" || (shared === null && !validateTopicFilter(filter))) {
      reasonCodes.push(ReasonCode.TOPIC_FILTER_INVALID);
      continue;
    }
    const sub = session.subscriptions.get(filter);
    if (sub === undefined) {
      reasonCodes.push(ReasonCode.NO_SUBSCRIPTION_EXISTED);
      continue;
    }
    // [MQTT-3.10.4-1, -2] delete it and stop adding new messages for it.
    session.subscriptions.delete(filter);
    conn.broker.router.unsubscribe(session, sub);
    conn.broker.exclusive.release(session, filter);
    removed.push(sub);
    reasonCodes.push(ReasonCode.SUCCESS);
  }
  const persistence = conn.broker.persistence;
  let recorded: Promise<unknown> | null = null;
  if (persistence !== null && session.persistedExpiryS > 0 && removed.length > 0) {
    persistence.touch(session);
    recorded = persistence.record({
      t: "unsubscribe",
      c: session.clientId,
      f: removed.map((sub) => sub.filter),
    });
  }
  // [MQTT-3.10.4-4, -5] UNSUBACK always; v3 carries no reason codes.
  const answer = (codes: number[]) =>
    conn.sendPacket({
      type: "unsuback",
      packetId: packet.packetId,
      reasonCodes: conn.isV5 ? codes : [],
    });
  conn.answerAfter(
    recorded,
    () => answer(reasonCodes),
    (err) => {
      // Still subscribed on disk: stay subscribed here too, and say so.
      conn.broker.logger.warn({ err, clientId: conn.clientId }, "unsubscribe not stored");
      for (const sub of removed) {
        session.subscriptions.set(sub.filter, sub);
        conn.broker.router.subscribe(session, sub);
      }
      if (!conn.isV5) conn.close("unsubscribe not stored", false);
      else
        answer(
          reasonCodes.map((c) => (c === ReasonCode.SUCCESS ? ReasonCode.UNSPECIFIED_ERROR : c)),
        );
    },
  );
}
