/**
 * Checks on each PUBLISH a client reads that depend on its MQTT 5 options: topic aliases it
 * must resolve, Message Expiry Intervals, Subscription Identifiers. Pure functions of what the
 * client knows; every failure goes to the checker.
 */
import type { PublishPacket } from "../../../../../src/protocol/mqtt/index.ts";
import type { ClientBook } from "./sim-book.ts";
import type { Arrival, Conn } from "./sim-conn.ts";
import { type Checker, keyOfPayload, type PublishRecord } from "./sim-model.ts";
import type { ClientProfile } from "./sim-profile.ts";

/** The topic of a PUBLISH after its Topic Alias, or null when it cannot be resolved. */
export function resolveTopic(
  conn: Conn,
  packet: PublishPacket,
  profile: ClientProfile,
  checker: Checker,
): string | null {
  const alias = packet.properties?.topicAlias;
  const who = profile.id;
  if (alias === undefined) {
    checker.check(packet.topic !== "", () => `${who}: PUBLISH without topic name or alias`);
    return packet.topic === "" ? null : packet.topic;
  }
  // [MQTT-3.3.2-11] never above the Topic Alias Maximum the client sent (absent = 0), and
  // [MQTT-3.3.2-8] never 0.
  if (alias < 1 || alias > profile.topicAliasMax) {
    checker.fail(
      `${who}: topic alias ${alias}, its Topic Alias Maximum is ${profile.topicAliasMax}`,
    );
    return null;
  }
  if (packet.topic !== "") {
    conn.inAliases.set(alias, packet.topic);
    return packet.topic;
  }
  const topic = conn.inAliases.get(alias);
  // An alias is only used on the connection that set it [MQTT-3.3.2-10 note: per connection].
  checker.check(topic !== undefined, () => `${who}: topic alias ${alias} used before it was set`);
  return topic ?? null;
}

/**
 * [MQTT-3.3.2-6] the Message Expiry Interval sent on is what was left of it: never more than
 * the publisher's, never less than what the time since it was sent leaves. [MQTT-3.3.2-5] a
 * message is not sent to a subscriber once expired (unless its delivery already started: DUP).
 */
export function checkExpiry(
  who: string,
  v5: boolean,
  record: PublishRecord,
  packet: PublishPacket,
  arrival: Arrival,
  checker: Checker,
  outputHeld = false,
): void {
  const got = packet.properties?.messageExpiryInterval;
  const what = `${who} got ${record.key} (expiry ${record.expiryS} s)`;
  if (record.expiryS === 0) {
    checker.check(got === undefined, () => `${what} with Message Expiry Interval ${got}`);
    return;
  }
  if (v5) {
    const leftMs = record.sentAtMs + record.expiryS * 1000 - arrival.atMs;
    const lowS = Math.max(1, Math.ceil(leftMs / 1000));
    checker.check(
      got !== undefined && got <= record.expiryS && got >= lowS,
      () => `${what}: Message Expiry Interval ${got}, ${leftMs} ms were left`,
    );
  }
  // A connection the broker holds back (flow control) keeps its output, deliveries included,
  // until it is read again: onward delivery started when the PUBLISH was queued, not written.
  if (record.ackedAtMs >= 0 && !packet.dup && !outputHeld) {
    const expiredForMs = arrival.atMs - (record.ackedAtMs + record.expiryS * 1000);
    checker.check(expiredForMs <= 0, () => `${what}: sent ${expiredForMs} ms after it expired`);
  }
}

/**
 * [MQTT-3.3.4-3, -4] a PUBLISH carries the Subscription Identifiers of every matching
 * subscription of the session that has one; checked exactly when the client knows which
 * subscriptions matched, otherwise only that each is one it asked for on a matching filter.
 */
export function checkSubscriptionIds(
  who: string,
  book: ClientBook,
  record: PublishRecord | undefined,
  packet: PublishPacket,
  topic: string,
  checker: Checker,
): void {
  const got = [...new Set(packet.properties?.subscriptionIdentifiers ?? [])].sort((a, b) => a - b);
  const payload = keyOfPayload(packet.payload.toString());
  for (const id of got) {
    const filters = book.requestedIds.get(id);
    checker.check(
      filters !== undefined,
      () => `${who} got "${payload}" with subscription id ${id}, never requested`,
    );
  }
  if (record === undefined || packet.retain) return;
  const expected = book.expectedSubIds(topic, record.sentAt, record.publisher === who);
  if (expected === null) return;
  checker.check(
    expected.join(",") === got.join(","),
    () => `${who} got "${payload}" with subscription ids [${got}], expected [${expected}]`,
  );
}
