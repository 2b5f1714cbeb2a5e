/**
 * Fan-out through the real broker process: one publisher, 200 mqtt.js subscribers on one topic;
 * every subscriber gets every message, once, in order, at QoS 0 and QoS 1.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { MqttClient } from "mqtt";
import type { QoS } from "../../src/protocol/mqtt/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import {
  ClientTracker,
  connectMqtt,
  Inbox,
  uniqueName,
  waitUntil,
} from "../helpers/mqtt-clients.ts";

const SUBSCRIBERS = 200;
const MESSAGES = 50;
const FANOUT_TIMEOUT_MS = 20_000;

describe("fan-out to 200 subscribers", () => {
  let broker: BrokerProcess;
  const track = new ClientTracker();
  const base = uniqueName("fanout");
  const subscribers: Array<{ client: MqttClient; inbox: Inbox }> = [];
  let publisher: MqttClient;

  before(async () => {
    broker = await startBroker({ logLevel: "info" });
    const connected = await Promise.all(
      Array.from({ length: SUBSCRIBERS }, async (_, i) => {
        // Mix protocol versions: both encodings of each message are fanned out.
        const client = track.mqtt(
          await connectMqtt(broker.url, { protocolVersion: i % 2 === 0 ? 5 : 4 }),
        );
        const inbox = new Inbox(client);
        await client.subscribeAsync({ [`${base}/q0`]: { qos: 0 }, [`${base}/q1`]: { qos: 1 } });
        return { client, inbox };
      }),
    );
    subscribers.push(...connected);
    publisher = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
  });
  after(async () => {
    await track.closeAll();
    await broker.stop();
  });

  for (const qos of [0, 1] as QoS[]) {
    test(`QoS ${qos}: every subscriber gets all ${MESSAGES} messages in order`, async () => {
      const topic = `${base}/q${qos}`;
      const expected = Array.from({ length: MESSAGES }, (_, i) => `${qos}:${i}`);
      const inboxes = subscribers.map((s) => s.inbox);
      const baseline = inboxes.map((inbox) => inbox.messages.length);
      const newCount = (i: number) => inboxes[i].messages.length - baseline[i];
      // All at once on one connection: the broker must keep their order per subscriber.
      await Promise.all(expected.map((payload) => publisher.publishAsync(topic, payload, { qos })));
      await waitUntil(
        inboxes,
        () => inboxes.every((_, i) => newCount(i) >= MESSAGES),
        FANOUT_TIMEOUT_MS,
        () => `fewest received: ${Math.min(...inboxes.map((_, i) => newCount(i)))} of ${MESSAGES}`,
      );
      for (const [i, inbox] of inboxes.entries()) {
        const got = inbox.messages.slice(baseline[i]);
        assert.deepEqual(
          got.map((m) => `${m.topic === topic ? "" : m.topic}${m.payload.toString()}`),
          expected,
          `subscriber ${i}`,
        );
        for (const m of got) assert.equal(m.packet.qos, qos);
      }
    });
  }
});
