/**
 * Exclusive subscription bookkeeping: one holder per filter, re-claim by the holder, release on
 * unsubscribe and when the session ends (clean disconnect, expiry, takeover with clean start),
 * and a stale claim (its holder replaced or no longer subscribed) never blocks anyone.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";
import { MqttBroker } from "../../../../src/broker/mqtt/broker.ts";
import type { MqttConnection } from "../../../../src/broker/mqtt/connection.ts";
import { ExclusiveClaims } from "../../../../src/broker/mqtt/exclusive.ts";
import { Session, type Subscription } from "../../../../src/broker/mqtt/session.ts";
import { defaultConfig } from "../../../../src/config/load.ts";
import { createLogger } from "../../../../src/log/logger.ts";

function newBroker(): MqttBroker {
  return new MqttBroker(defaultConfig(), createLogger({ level: "silent", format: "json" }));
}

/** Just the fields the broker's session bookkeeping reads. */
function fakeConnection(clientId: string): MqttConnection {
  return {
    clientId,
    session: null,
    will: null,
    closeReason: "lost",
    disconnect() {},
  } as unknown as MqttConnection;
}

function subscription(filter: string): Subscription {
  return {
    filter,
    matchFilter: filter,
    shareGroup: null,
    qos: 1,
    noLocal: false,
    retainAsPublished: false,
    retainHandling: 0,
    subscriptionId: 0,
    exclusive: true,
  };
}

/** What subscribeOne does for `$exclusive/<filter>`: claim, then subscribe. */
function subscribeExclusive(broker: MqttBroker, session: Session, filter: string): boolean {
  if (!broker.exclusive.claim(session, filter)) return false;
  const sub = subscription(filter);
  session.subscriptions.set(filter, sub);
  broker.router.subscribe(session, sub);
  return true;
}

/** A connected client with its session. */
function connect(broker: MqttBroker, clientId: string, cleanStart = true, expiryS = 0) {
  const conn = fakeConnection(clientId);
  broker.openSession(conn, cleanStart, expiryS);
  return { conn, session: conn.session as Session };
}

beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
afterEach(() => mock.timers.reset());

describe("ExclusiveClaims", () => {
  test("one holder per filter; the holder may claim again; other filters are free", () => {
    const broker = newBroker();
    const a = connect(broker, "a").session;
    const b = connect(broker, "b").session;
    assert.ok(subscribeExclusive(broker, a, "t/1"));
    assert.ok(subscribeExclusive(broker, a, "t/1"), "the holder re-subscribes");
    assert.equal(subscribeExclusive(broker, b, "t/1"), false);
    assert.ok(subscribeExclusive(broker, b, "t/2"));
    assert.equal(broker.exclusive.holder("t/1"), a);
    assert.equal(broker.exclusive.size, 2);
  });

  test("released when the holder unsubscribes", () => {
    const broker = newBroker();
    const a = connect(broker, "a").session;
    const b = connect(broker, "b").session;
    subscribeExclusive(broker, a, "t");
    // What handleUnsubscribe does.
    a.subscriptions.delete("t");
    broker.exclusive.release(a, "t");
    assert.equal(broker.exclusive.size, 0);
    assert.ok(subscribeExclusive(broker, b, "t"));
  });

  test("released when a clean session disconnects", () => {
    const broker = newBroker();
    const { conn, session } = connect(broker, "a");
    subscribeExclusive(broker, session, "t");
    broker.onConnectionClosed(conn, true, false);
    assert.equal(broker.exclusive.size, 0, "the claim went with the session");
    assert.ok(subscribeExclusive(broker, connect(broker, "b").session, "t"));
  });

  test("kept while a persistent session is offline, released when it expires", () => {
    const broker = newBroker();
    const { conn, session } = connect(broker, "a", true, 60);
    subscribeExclusive(broker, session, "t");
    broker.onConnectionClosed(conn, true, false);
    const b = connect(broker, "b").session;
    assert.equal(subscribeExclusive(broker, b, "t"), false, "the offline session holds it");
    mock.timers.tick(61_000);
    assert.equal(broker.sessions.has("a"), false, "expired");
    assert.ok(subscribeExclusive(broker, b, "t"));
  });

  test("released by a takeover with clean start, kept by one without", () => {
    const broker = newBroker();
    const first = connect(broker, "a", true, 60).session;
    subscribeExclusive(broker, first, "t");
    const resumed = connect(broker, "a", false, 60).session;
    assert.equal(resumed, first, "the session was resumed");
    assert.equal(broker.exclusive.holder("t"), first);
    const fresh = connect(broker, "a", true, 60).session;
    assert.notEqual(fresh, first);
    assert.equal(broker.exclusive.holder("t"), undefined);
    assert.ok(subscribeExclusive(broker, connect(broker, "b").session, "t"));
  });

  test("a claim whose holder is replaced or unsubscribed does not stand", () => {
    const sessions = new Map<string, Session>();
    const claims = new ExclusiveClaims((s) => sessions.get(s.clientId) === s);
    const a = new Session("a");
    const b = new Session("b");
    sessions.set("a", a);
    sessions.set("b", b);
    assert.ok(claims.claim(a, "t"));
    // Claimed but never subscribed (a SUBSCRIBE undone): the claim does not stand.
    assert.equal(claims.holder("t"), undefined);
    assert.ok(claims.claim(b, "t"));
    b.subscriptions.set("t", subscription("t"));
    assert.equal(claims.claim(a, "t"), false);
    sessions.set("b", new Session("b")); // replaced without endSession
    assert.ok(claims.claim(a, "t"));
    claims.releaseSession(b);
    assert.equal(claims.size, 1, "releasing another session's filter leaves the claim");
  });
});
