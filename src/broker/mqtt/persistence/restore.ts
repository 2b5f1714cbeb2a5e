/** Turns a recovered durable image into the broker's live sessions and retained messages. */
import type { MqttBroker } from "../broker.ts";
import type { Message } from "../message.ts";
import { DeliveryState, newDelivery, Session, type Subscription } from "../session.ts";
import { parseSharedFilter } from "../topic.ts";
import type { StoredDelivery } from "./image.ts";
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
    restoreDeliveries(broker, session, state.deliveries, messages, nowMs);
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

/**
 * Puts a session's deliveries back in flight or on its queue, in their order. One sent under a
 * known packet id goes back in flight with it [MQTT-4.4.0-1]. A session sends in order, so a
 * QoS 1 delivery before the last one sent was sent too, even when nothing recorded it (routed
 * after the last checkpoint, before a crash): it goes in flight under a fresh id, so that the
 * resend keeps the original order with DUP [MQTT-4.6.0-1]. A QoS 2 one stays queued: its
 * packet id must be in the log before it is sent (see MqttBroker.holdSend).
 */
function restoreDeliveries(
  broker: MqttBroker,
  session: Session,
  deliveries: readonly StoredDelivery[],
  messages: ReadonlyMap<number, Message>,
  nowMs: number,
): void {
  const keptIds = new Set<number>();
  let lastSent = -1;
  for (let i = 0; i < deliveries.length; i++) {
    const d = deliveries[i];
    if (d.p === 0 || d.s === DeliveryState.QUEUED || !messages.has(d.o)) continue;
    keptIds.add(d.p);
    lastSent = i;
  }
  for (let i = 0; i < deliveries.length; i++) {
    const d = deliveries[i];
    const message = messages.get(d.o);
    if (message === undefined) continue;
    const delivery = newDelivery(message, d.q, d.r, d.ids, null);
    if (d.p !== 0 && d.s !== DeliveryState.QUEUED && !session.inflight.has(d.p)) {
      session.markSent(delivery, d.p);
      delivery.state = d.s;
    } else if (!message.isExpired(nowMs)) {
      if (i < lastSent && d.q === 1) session.markSent(delivery, freshPacketId(session, keptIds));
      else broker.enqueue(session, delivery);
    }
  }
}

/** A packet id neither in flight nor kept by a delivery restored later. */
function freshPacketId(session: Session, keptIds: ReadonlySet<number>): number {
  let id = session.allocatePacketId();
  while (keptIds.has(id)) id = session.allocatePacketId();
  return id;
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
