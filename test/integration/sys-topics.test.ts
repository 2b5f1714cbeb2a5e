/**
 * `$SYS/brokers/<broker_id>/...` from the real broker process: state topics at the configured
 * interval, client connect/disconnect events, and nothing for filters that start with a
 * wildcard [MQTT-4.7.2-1].
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { ClientTracker, connectMqtt, Inbox, uniqueName } from "../helpers/mqtt-clients.ts";

let broker: BrokerProcess;
const clients = new ClientTracker();

before(async () => {
  broker = await startBroker({ config: "broker_id = 7\n[mqtt_sys]\ninterval_ms = 200\n" });
});
after(async () => {
  await clients.closeAll();
  assert.equal(await broker.stop(), 0);
});

test("state topics come every interval, not retained; '#' does not see them", async () => {
  const watcher = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
  const sys = new Inbox(watcher);
  await watcher.subscribeAsync("$SYS/brokers/7/#", { qos: 0 });
  const version = await sys.waitForTopic("$SYS/brokers/7/version");
  assert.equal(version.packet.retain, false);
  assert.match(version.payload.toString(), /^\d+\.\d+\.\d+/);
  // The watcher itself is counted once the next interval is published.
  await sys.waitFor(
    1,
    (m) => m.topic === "$SYS/brokers/7/clients/connected" && Number(m.payload.toString()) >= 1,
  );
  const before = sys.messages.filter((m) => m.topic === "$SYS/brokers/7/uptime").length;
  await sys.waitFor(before + 2, (m) => m.topic === "$SYS/brokers/7/uptime");

  const everything = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
  const all = new Inbox(everything);
  await everything.subscribeAsync("#", { qos: 0 });
  await everything.subscribeAsync("+/brokers/#", { qos: 0 });
  await sys.waitFor(before + 4, (m) => m.topic === "$SYS/brokers/7/uptime");
  assert.deepEqual(
    all.messages.filter((m) => m.topic.startsWith("$")).map((m) => m.topic),
    [],
  );
});

test("connect and disconnect events name the client", async () => {
  const watcher = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
  const events = new Inbox(watcher);
  await watcher.subscribeAsync("$SYS/brokers/7/clients/+/+", { qos: 0 });
  const clientId = uniqueName("sys-event");
  const subject = await connectMqtt(broker.url, { clientId, username: "erin", protocolVersion: 5 });
  const connected = await events.waitForTopic(`$SYS/brokers/7/clients/${clientId}/connected`);
  const info = JSON.parse(connected.payload.toString()) as Record<string, unknown>;
  assert.equal(info.clientId, clientId);
  assert.equal(info.username, "erin");
  assert.equal(info.protocolVersion, 5);
  assert.equal(connected.packet.retain, false);
  await subject.endAsync();
  const gone = await events.waitForTopic(`$SYS/brokers/7/clients/${clientId}/disconnected`);
  assert.equal(JSON.parse(gone.payload.toString()).event, "disconnected");
});

test("a session taken over: the old connection's disconnected event, then the new one's connected", async () => {
  const watcher = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
  const events = new Inbox(watcher);
  const clientId = uniqueName("sys-takeover");
  await watcher.subscribeAsync(`$SYS/brokers/7/clients/${clientId}/+`, { qos: 0 });
  const options = { clientId, protocolVersion: 5 as const, reconnectPeriod: 0 };
  clients.mqtt(await connectMqtt(broker.url, options));
  await events.waitFor(1);
  const second = clients.mqtt(await connectMqtt(broker.url, options));
  await events.waitFor(3);
  await second.endAsync();
  await events.waitFor(4);
  const kinds = events.messages.map((m) => {
    const event = JSON.parse(m.payload.toString()) as { event: string; reason?: string };
    return event.reason === undefined ? event.event : `${event.event}: ${event.reason}`;
  });
  assert.deepEqual(kinds, [
    "connected",
    "disconnected: session taken over",
    "connected",
    "disconnected: client disconnected",
  ]);
});

test("a client id with / + # % gets its own percent-encoded level, never the count's topic", async () => {
  const watcher = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
  const events = new Inbox(watcher);
  await watcher.subscribeAsync("$SYS/brokers/7/clients/+/+", { qos: 0 });
  const prefix = uniqueName("sys");
  const clientId = `${prefix}/a+b#c%d`;
  const subject = await connectMqtt(broker.url, { clientId, protocolVersion: 5 });
  const level = `${prefix}%2Fa%2Bb%23c%25d`;
  const connected = await events.waitForTopic(`$SYS/brokers/7/clients/${level}/connected`);
  assert.equal(JSON.parse(connected.payload.toString()).clientId, clientId);
  await subject.endAsync();
});
