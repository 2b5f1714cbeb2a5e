/**
 * Rate limits against the real broker process: a client publishing faster than
 * max_message_rate is slowed down (read less often), never disconnected and never loses a
 * message; a connection flood above max_connection_rate is refused socket by socket, logged in
 * summary, and clients after it connect again.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { ClientTracker, connectMqtt, Inbox, uniqueName } from "../helpers/mqtt-clients.ts";

const MESSAGE_RATE = 50;
const CONNECTION_RATE = 5;

describe("rate limits", () => {
  let broker: BrokerProcess;
  const clients = new ClientTracker();
  before(async () => {
    broker = await startBroker({
      logLevel: "info",
      config: `[mqtt_limits]\nmax_message_rate = ${MESSAGE_RATE}\nmax_connection_rate = ${CONNECTION_RATE}\n`,
    });
  });
  after(async () => {
    await clients.closeAll();
    await broker.stop();
  });

  test("a publisher above max_message_rate is slowed, not cut off, and loses nothing", async () => {
    const topic = uniqueName("rate");
    const sub = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(topic, { qos: 1 });
    const pub = clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const count = MESSAGE_RATE * 3;
    const started = Date.now();
    for (let i = 0; i < count; i++) pub.publish(topic, String(i), { qos: 0 });
    const received = await inbox.waitFor(count, () => true, 10_000);
    const elapsedMs = Date.now() - started;
    // A burst of one second's worth, then MESSAGE_RATE a second: at least 2 s for 3 s' worth.
    assert.ok(elapsedMs >= 1500, `all ${count} arrived after only ${elapsedMs} ms`);
    assert.deepEqual(
      received.map((m) => m.payload.toString()),
      Array.from({ length: count }, (_, i) => String(i)),
    );
    assert.equal(pub.connected, true);
  });

  test("a connection flood above max_connection_rate is refused, logged, then lets up", async () => {
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a full bucket
    const attempts = CONNECTION_RATE * 4;
    const outcomes = await Promise.allSettled(
      Array.from({ length: attempts }, () =>
        connectMqtt(broker.url, { protocolVersion: 5, connectTimeout: 2000 }),
      ),
    );
    const connected = outcomes.filter((o) => o.status === "fulfilled");
    for (const o of connected) clients.mqtt(o.value);
    assert.ok(
      connected.length >= 1 && connected.length <= CONNECTION_RATE + 1,
      `${connected.length} of ${attempts} connected`,
    );
    await broker.waitForLog((l) => l.msg === "refusing connections: max_connection_rate reached");
    await new Promise((resolve) => setTimeout(resolve, 1100));
    clients.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
  });
});
