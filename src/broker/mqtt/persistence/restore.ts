/** Turns a recovered durable image into the broker's live sessions and retained messages. */
import type { MqttBroker } from "../broker.ts";
import { DeliveryState, newDelivery, Session, type Subscription } from "../session.ts";
import { parseSharedFilter } from "../topic.ts";
import { type MqttPersistence, type Recovered, storedMessage } from "./persistence.ts";
import type { StoredSubscription } from "./records.ts";

/** Installs what was recovered and starts checkpointing the broker's state. */
export async function attachPersistence(
  broker: MqttBroker,
  persistence: MqttPersistence,
  recovered: Recovered,
): Promise<void> {
  const nowMs = Date.now();
  const { image, messages } = recovered;
  broker.persistence = persistence;
  for (const [topic, r] of image.retained) {
    const message = storedMessage(topic, r.payload, r.meta, -1);
    if (!message.isExpired(nowMs)) broker.adoptRetained(message);
  }
  for (const state of image.sessions.values()) {
    const session = new Session(state.clientId);
    session.expiryIntervalS = state.expiryS;
    session.persistedExpiryS = state.expiryS;
    session.disconnectedAtMs = state.disconnectedAtMs === 0 ? nowMs : state.disconnectedAtMs;
    for (const sub of state.subs.values()) session.subscriptions.set(sub.f, subscriptionOf(sub));
    for (const packetId of state.inbound) session.inboundQos2.add(packetId);
    for (const d of state.deliveries) {
      const message = messages.get(d.o);
      if (message === undefined) continue;
      const delivery = newDelivery(message, d.q, d.r, d.ids, null);
      // A QoS 2 delivery already sent keeps its packet id [MQTT-4.4.0-1]; the rest queue.
      if (d.p !== 0 && d.s !== DeliveryState.QUEUED && !session.inflight.has(d.p)) {
        session.markSent(delivery, d.p);
        delivery.state = d.s;
      } else if (!message.isExpired(nowMs)) {
        broker.enqueue(session, delivery);
      }
    }
    const forever = state.expiryS === 0xffffffff;
    const remainingMs = forever ? 0 : state.expiryS * 1000 - (nowMs - session.disconnectedAtMs);
    broker.adoptSession(session, Math.max(0, remainingMs));
    persistence.touch(session);
  }
  for (const topic of image.retained.keys()) persistence.retainedChanged(topic);
  persistence.start(
    {
      session: (clientId) => broker.sessions.get(clientId),
      retained: (topic) => broker.retained.get(topic),
    },
    broker.config.mqtt_persistence.checkpoint_interval_ms,
  );
  // Checkpoint what was replayed, so that the next start does not replay it again.
  await persistence.checkpoint();
}

function subscriptionOf(sub: StoredSubscription): Subscription {
  const shared = parseSharedFilter(sub.f);
  const share = shared === null || shared === "invalid" ? null : shared;
  return {
    filter: sub.f,
    matchFilter: share === null ? sub.f : share.filter,
    shareGroup: share === null ? null : share.group,
    qos: sub.q,
    noLocal: sub.nl,
    retainAsPublished: sub.rap,
    retainHandling: sub.rh,
    subscriptionId: sub.id,
    exclusive: sub.x === true,
  };
}
