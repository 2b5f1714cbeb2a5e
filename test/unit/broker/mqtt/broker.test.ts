/**
 * MqttBroker's session and will timers, driven by mocked timers: no sockets, a fake connection
 * object stands in for MqttConnection (openSession and onConnectionClosed only read its fields).
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, mock, test } from "node:test";
import { MqttBroker } from "../../../../src/broker/mqtt/broker.ts";
import type { MqttConnection } from "../../../../src/broker/mqtt/connection.ts";
import { defaultConfig } from "../../../../src/config/load.ts";
import { createLogger } from "../../../../src/log/logger.ts";
import type { Will } from "../../../../src/protocol/mqtt/index.ts";

const MINUTE_MS = 60 * 1000;
const THIRTY_DAYS_S = 30 * 24 * 60 * 60;

function newBroker(): MqttBroker {
  const config = defaultConfig();
  config.mqtt_protocol_config.max_session_expiry_interval = 0xffff_fffe;
  return new MqttBroker(config, createLogger({ level: "silent", format: "json" }));
}

/** Just the fields the broker's session bookkeeping reads. */
function fakeConnection(clientId: string, will: Will | null = null): MqttConnection {
  return { clientId, session: null, will, closeReason: "lost" } as unknown as MqttConnection;
}

beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
afterEach(() => mock.timers.reset());

/**
 * Advances the mocked clock in small steps: a timer armed from inside a timer counts from the
 * end of the current tick, so a step is how late a re-armed timer may fire here.
 */
function advanceDays(days: number): void {
  for (let i = 0; i < days * 24 * 60; i++) mock.timers.tick(MINUTE_MS);
}

test("a session expiry beyond setTimeout's range (about 24.8 days) is not cut short", () => {
  const broker = newBroker();
  const conn = fakeConnection("long-lived");
  broker.openSession(conn, true, THIRTY_DAYS_S);
  broker.onConnectionClosed(conn, true, true);
  advanceDays(29);
  assert.ok(broker.sessions.has("long-lived"), "session still there after 29 of 30 days");
  advanceDays(1);
  mock.timers.tick(MINUTE_MS);
  assert.equal(broker.sessions.has("long-lived"), false, "session gone after 30 days");
});

test("a will delay beyond setTimeout's range fires after the delay, not at once", () => {
  const broker = newBroker();
  const will: Will = {
    topic: "wills/long",
    payload: Buffer.from("bye"),
    qos: 0,
    retain: false,
    properties: { willDelayInterval: THIRTY_DAYS_S },
  };
  const conn = fakeConnection("delayed-will", will);
  broker.openSession(conn, true, 0xffff_fffe);
  broker.onConnectionClosed(conn, true, true);
  mock.timers.tick(1000);
  assert.equal(broker.stats.willsPublished, 0, "not published after 1 s");
  advanceDays(29);
  assert.equal(broker.stats.willsPublished, 0, "not published after 29 days");
  advanceDays(1);
  mock.timers.tick(MINUTE_MS);
  assert.equal(broker.stats.willsPublished, 1, "published after 30 days");
});
