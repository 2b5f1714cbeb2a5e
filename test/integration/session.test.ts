/**
 * Sessions against the real broker process: clean start and session present, persistence of
 * subscriptions and queued messages, session expiry, DISCONNECT's session expiry, takeover,
 * queue limits and redelivery of unacknowledged messages.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from "mqtt";
import type { Packet, ProtocolLevel, PublishPacket } from "../../src/protocol/mqtt/index.ts";
import { clientGone, nextLog } from "../helpers/broker-logs.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import {
  ClientTracker,
  connectMqtt,
  Inbox,
  uniqueName,
  WAIT_TIMEOUT_MS,
  withTimeout,
} from "../helpers/mqtt-clients.ts";
import {
  connectPacket,
  connectRaw,
  describePacket,
  openRaw,
  type RawClient,
  type RawConnectOptions,
} from "../helpers/raw-client.ts";

const EXPIRY_S = 60;

/** A persistent session's options: clean start off, and for v5 an expiry that outlives the test. */
function persistent(clientId: string, version: ProtocolLevel = 5): RawConnectOptions {
  return {
    clientId,
    version,
    cleanStart: false,
    properties: version === 5 ? { sessionExpiryInterval: EXPIRY_S } : undefined,
  };
}

function payloadsOf(packets: Packet[]): string[] {
  return packets.map((p) => {
    assert.equal(p.type, "publish", `expected PUBLISH, got ${describePacket(p)}`);
    return (p as PublishPacket).payload.toString();
  });
}

/** Publishes QoS 1 messages one after another; each is routed once its PUBACK is back. */
async function publishAll(client: MqttClient, topic: string, payloads: string[]): Promise<void> {
  for (const payload of payloads) await client.publishAsync(topic, payload, { qos: 1 });
}

/** Reads `count` PUBLISH packets, acknowledging each (PUBACK for QoS 1). */
async function receiveAndAck(client: RawClient, count: number): Promise<PublishPacket[]> {
  const received: PublishPacket[] = [];
  for (let i = 0; i < count; i++) {
    const publish = await client.expect("publish");
    received.push(publish);
    if (publish.qos === 1) {
      client.send({ type: "puback", packetId: publish.packetId as number, reasonCode: 0 });
    }
  }
  return received;
}

/**
 * mqtt.js delivers messages that arrive with the CONNACK before connectAsync's promise settles,
 * so a resuming client needs its Inbox attached before it connects.
 */
async function connectWithInbox(
  url: string,
  options: IClientOptions,
): Promise<{ client: MqttClient; inbox: Inbox; sessionPresent: boolean; wire: string[] }> {
  const client = mqtt.connect(url, {
    reconnectPeriod: 0,
    connectTimeout: WAIT_TIMEOUT_MS,
    ...options,
  });
  const inbox = new Inbox(client);
  // PUBLISH packets in the order they came off the socket, as "payload/qos".
  const wire: string[] = [];
  client.on("packetreceive", (packet) => {
    if (packet.cmd === "publish") wire.push(`${packet.payload.toString()}/${packet.qos}`);
  });
  const connected = new Promise<IConnackPacket>((resolve, reject) => {
    client.once("connect", resolve);
    client.once("error", reject);
  });
  const connack = await withTimeout(connected, WAIT_TIMEOUT_MS, "mqtt.js connect");
  return { client, inbox, sessionPresent: connack.sessionPresent, wire };
}

describe("sessions", () => {
  let broker: BrokerProcess;
  const tracker = new ClientTracker();
  let publisher: MqttClient;

  before(async () => {
    broker = await startBroker();
    publisher = tracker.mqtt(await connectMqtt(broker.url, { clientId: uniqueName("publisher") }));
  });
  after(async () => {
    await tracker.closeAll();
    assert.equal(await broker.stop(), 0);
  });

  describe("session present [MQTT-3.2.2-1..3]", () => {
    for (const version of [4, 5] as const) {
      test(`v${version}: present only when clean start is 0 and a session exists`, async () => {
        const clientId = uniqueName(`present-v${version}`);
        // [MQTT-3.2.2-3] clean start 0, no session yet: 0.
        const first = tracker.raw(await connectRaw(broker.port, persistent(clientId, version)));
        assert.equal(first.connack.sessionPresent, false);
        const topic = uniqueName("present/topic");
        await first.client.subscribe([{ topicFilter: topic, qos: 1 }]);
        await first.client.disconnect();

        // [MQTT-3.2.2-2] clean start 0, session kept: 1.
        const second = tracker.raw(await connectRaw(broker.port, persistent(clientId, version)));
        assert.equal(second.connack.sessionPresent, true);
        await second.client.disconnect();

        // [MQTT-3.2.2-1] clean start 1: 0, and the old session is discarded [MQTT-3.1.2-4].
        // (For v5 with Session Expiry Interval 0, so that this session ends with the connection.)
        const clean = tracker.raw(
          await connectRaw(broker.port, { clientId, version, cleanStart: true }),
        );
        assert.equal(clean.connack.sessionPresent, false);
        await publisher.publishAsync(topic, "after clean start", { qos: 1 });
        assert.deepEqual(await clean.client.drain(), [], "the old subscription is gone");
        await clean.client.disconnect();

        // A clean session (v3.1.1) or expiry 0 (v5) ended at that disconnect: 0 again.
        const last = tracker.raw(await connectRaw(broker.port, persistent(clientId, version)));
        assert.equal(last.connack.sessionPresent, false);
        last.client.destroy();
      });
    }
  });

  test("v3.1: a resumed session works, and CONNACK's first byte stays 0 (3.1 has no session present flag)", async () => {
    const clientId = uniqueName("mqisdp");
    const topic = uniqueName("mqisdp/topic");
    const first = tracker.raw(await connectRaw(broker.port, persistent(clientId, 3)));
    await first.client.subscribe([{ topicFilter: topic, qos: 1 }]);
    await first.client.disconnect();
    await publisher.publishAsync(topic, "kept for 3.1", { qos: 1 });

    const client = tracker.raw(await openRaw(broker.port, 3));
    const bytes: Buffer[] = [];
    client.socket.on("data", (chunk: Buffer) => bytes.push(chunk));
    client.send(connectPacket(persistent(clientId, 3)));
    await client.expect("connack");
    assert.deepEqual([...Buffer.concat(bytes).subarray(0, 4)], [0x20, 0x02, 0x00, 0x00]);
    const [publish] = await receiveAndAck(client, 1);
    assert.equal(publish.payload.toString(), "kept for 3.1");
    client.destroy();
  });

  test("a persistent session keeps its subscription and queues QoS 1 and 2, not QoS 0, while offline", async () => {
    const clientId = uniqueName("queue-mqttjs");
    const topic = uniqueName("queue/topic");
    const options: IClientOptions = { clientId, clean: false, protocolVersion: 4 };
    const first = await connectWithInbox(broker.url, options);
    tracker.mqtt(first.client);
    await first.client.subscribeAsync(topic, { qos: 2 });
    const gone = clientGone(broker, clientId);
    await first.client.endAsync();
    await gone; // the broker has the session offline before anything is published

    // QoS 0 and 1 go out in order on one connection, so the QoS 1 PUBACK means both were routed.
    await publisher.publishAsync(topic, "offline-qos0", { qos: 0 });
    await publisher.publishAsync(topic, "offline-qos1", { qos: 1 });
    await publisher.publishAsync(topic, "offline-qos2", { qos: 2 });

    const second = await connectWithInbox(broker.url, options);
    tracker.mqtt(second.client);
    assert.equal(second.sessionPresent, true);
    // The subscription survived: a live message arrives without subscribing again, after the
    // queued ones (which the broker sends right after CONNACK).
    await publisher.publishAsync(topic, "live", { qos: 1 });
    await second.inbox.waitFor(3);
    // mqtt.js emits a QoS 2 message only after PUBREL, so compare the sets here and the wire
    // order below.
    assert.deepEqual(second.inbox.payloads().sort(), ["live", "offline-qos1", "offline-qos2"]);
    assert.deepEqual(second.wire, ["offline-qos1/1", "offline-qos2/2", "live/1"]);
    await second.client.endAsync();
  });

  describe("v5 session expiry", () => {
    test("a session outlives its connection for the expiry interval, then is gone", async () => {
      const clientId = uniqueName("expiry");
      const topic = uniqueName("expiry/topic");
      const options: RawConnectOptions = {
        clientId,
        cleanStart: false,
        properties: { sessionExpiryInterval: 1 },
      };
      const first = tracker.raw(await connectRaw(broker.port, options));
      await first.client.subscribe([{ topicFilter: topic, qos: 1 }]);
      await first.client.disconnect();

      const resumed = tracker.raw(await connectRaw(broker.port, options));
      assert.equal(resumed.connack.sessionPresent, true, "within the interval");
      const expired = nextLog(
        broker,
        (l) => l.msg === "session expired" && l.clientId === clientId,
        WAIT_TIMEOUT_MS,
      );
      const offlineAtMs = Date.now(); // before the disconnect: the broker's clock starts later
      await resumed.client.disconnect();
      await publisher.publishAsync(topic, "queued, then expired with the session", { qos: 1 });
      await expired;
      const elapsedMs = Date.now() - offlineAtMs;
      assert.ok(elapsedMs >= 990, `session expired after ${elapsedMs} ms, interval is 1 s`);

      const late = tracker.raw(await connectRaw(broker.port, options));
      assert.equal(late.connack.sessionPresent, false, "after the interval");
      assert.deepEqual(await late.client.drain(), [], "the queued message went with the session");
      late.client.destroy();
    });

    test("MQTT 5 3.14.2.2.2: DISCONNECT setting an expiry after CONNECT's 0 is a protocol error (0x82)", async () => {
      const clientId = uniqueName("disc-expiry-0");
      const { client } = tracker.raw(await connectRaw(broker.port, { clientId }));
      client.send({ type: "disconnect", reasonCode: 0, properties: { sessionExpiryInterval: 30 } });
      const disconnect = await client.expect("disconnect");
      assert.equal(disconnect.reasonCode, 0x82);
      await client.waitClosed();
      const again = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      assert.equal(again.connack.sessionPresent, false, "the expiry stayed 0: no session kept");
      again.client.destroy();
    });

    test("DISCONNECT with Session Expiry Interval 0 ends a persistent session at once", async () => {
      const clientId = uniqueName("disc-expiry-end");
      const { client } = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      await client.subscribe([{ topicFilter: uniqueName("disc/topic"), qos: 1 }]);
      client.send({ type: "disconnect", reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
      await client.waitClosed();
      assert.deepEqual(client.buffered, [], "no DISCONNECT from the broker: this is allowed");
      const again = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      assert.equal(again.connack.sessionPresent, false);
      again.client.destroy();
    });

    test("DISCONNECT can lengthen a non-zero expiry: the session outlives the CONNECT interval", async () => {
      const clientId = uniqueName("disc-expiry-longer");
      const options: RawConnectOptions = {
        clientId,
        cleanStart: false,
        properties: { sessionExpiryInterval: 1 },
      };
      const { client } = tracker.raw(await connectRaw(broker.port, options));
      client.send({ type: "disconnect", reasonCode: 0, properties: { sessionExpiryInterval: 30 } });
      await client.waitClosed();
      // Only waiting past the original 1 s interval can show that the session did not expire.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const again = tracker.raw(await connectRaw(broker.port, options));
      assert.equal(again.connack.sessionPresent, true);
      again.client.destroy();
    });
  });

  describe("session takeover [MQTT-3.1.4-3]", () => {
    test("v5: the old connection gets DISCONNECT 0x8E and closes; the new one gets the session", async () => {
      const clientId = uniqueName("takeover5");
      const topic = uniqueName("takeover/topic");
      const old = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      await old.client.subscribe([{ topicFilter: topic, qos: 1 }]);

      const fresh = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      assert.equal(fresh.connack.sessionPresent, true);
      const disconnect = await old.client.expect("disconnect");
      assert.equal(disconnect.reasonCode, 0x8e);
      await old.client.waitClosed();

      await publisher.publishAsync(topic, "to the new connection", { qos: 1 });
      const [publish] = await receiveAndAck(fresh.client, 1);
      assert.equal(publish.payload.toString(), "to the new connection");
      fresh.client.destroy();
    });

    test("v5: messages the old connection did not acknowledge go to the new one, with DUP", async () => {
      const clientId = uniqueName("takeover-inflight");
      const topic = uniqueName("takeover/inflight");
      const old = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      await old.client.subscribe([{ topicFilter: topic, qos: 1 }]);
      await publisher.publishAsync(topic, "unacknowledged", { qos: 1 });
      const original = await old.client.expect("publish");

      const fresh = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      assert.equal((await old.client.expect("disconnect")).reasonCode, 0x8e);
      const [again] = await receiveAndAck(fresh.client, 1);
      assert.deepEqual(
        [again.payload.toString(), again.dup, again.packetId],
        ["unacknowledged", true, original.packetId],
      );
      assert.deepEqual(await fresh.client.drain(), []);
      fresh.client.destroy();
    });

    test("v3.1.1: the old connection is closed without a packet; the new one gets the session", async () => {
      const clientId = uniqueName("takeover4");
      const topic = uniqueName("takeover/topic");
      const old = tracker.raw(await connectRaw(broker.port, persistent(clientId, 4)));
      await old.client.subscribe([{ topicFilter: topic, qos: 1 }]);
      const before = old.client.received.length;

      const fresh = tracker.raw(await connectRaw(broker.port, persistent(clientId, 4)));
      assert.equal(fresh.connack.sessionPresent, true);
      await old.client.waitClosed();
      assert.equal(old.client.received.length, before);

      await publisher.publishAsync(topic, "v4 takeover", { qos: 1 });
      const [publish] = await receiveAndAck(fresh.client, 1);
      assert.equal(publish.payload.toString(), "v4 takeover");
      fresh.client.destroy();
    });
  });

  describe("redelivery on reconnect [MQTT-4.4.0-1]", () => {
    for (const version of [4, 5] as const) {
      test(`v${version}: unacknowledged QoS 1 messages are resent with DUP, same ids, same order`, async () => {
        const clientId = uniqueName(`redeliver1-v${version}`);
        const topic = uniqueName("redeliver/topic");
        const first = tracker.raw(await connectRaw(broker.port, persistent(clientId, version)));
        await first.client.subscribe([{ topicFilter: topic, qos: 1 }]);
        await publishAll(publisher, topic, ["r1", "r2", "r3"]);
        const sent: PublishPacket[] = [];
        for (let i = 0; i < 3; i++) sent.push(await first.client.expect("publish"));
        assert.deepEqual(
          sent.map((p) => p.dup),
          [false, false, false],
        );
        const gone = clientGone(broker, clientId);
        first.client.destroy(); // no PUBACK for any of them
        await gone;

        const second = tracker.raw(await connectRaw(broker.port, persistent(clientId, version)));
        assert.equal(second.connack.sessionPresent, true);
        const resent = await receiveAndAck(second.client, 3);
        assert.deepEqual(payloadsOf(resent), ["r1", "r2", "r3"]);
        assert.deepEqual(
          resent.map((p) => [p.dup, p.qos, p.packetId]),
          sent.map((p) => [true, 1, p.packetId]),
        );
        assert.deepEqual(await second.client.drain(), []);
        await second.client.disconnect();

        // Acknowledged now: nothing is sent again on the next connection.
        const third = tracker.raw(await connectRaw(broker.port, persistent(clientId, version)));
        assert.deepEqual(await third.client.drain(), []);
        third.client.destroy();
      });
    }

    test("[MQTT-4.3.3-10] an inbound QoS 2 message resent after reconnect is delivered once", async () => {
      const clientId = uniqueName("inbound-qos2");
      const topic = uniqueName("inbound2/topic");
      const watcher = tracker.raw(
        await connectRaw(broker.port, { clientId: uniqueName("watch2") }),
      );
      await watcher.client.subscribe([{ topicFilter: topic, qos: 0 }]);

      const first = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      first.client.publish(topic, "once only", { qos: 2, packetId: 7 });
      assert.equal((await first.client.expect("pubrec")).packetId, 7);
      const gone = clientGone(broker, clientId);
      first.client.destroy(); // before PUBREL
      await gone;

      const second = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      assert.equal(second.connack.sessionPresent, true);
      second.client.publish(topic, "once only", { qos: 2, packetId: 7, dup: true });
      assert.equal((await second.client.expect("pubrec")).packetId, 7);
      second.client.send({ type: "pubrel", packetId: 7, reasonCode: 0 });
      const pubcomp = await second.client.expect("pubcomp");
      assert.deepEqual([pubcomp.packetId, pubcomp.reasonCode], [7, 0]);

      assert.deepEqual(payloadsOf(await watcher.client.drain()), ["once only"]);
      second.client.destroy();
      watcher.client.destroy();
    });

    test("QoS 2 without PUBREC: the PUBLISH is resent with DUP", async () => {
      const clientId = uniqueName("redeliver2-publish");
      const topic = uniqueName("redeliver2/topic");
      const first = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      await first.client.subscribe([{ topicFilter: topic, qos: 2 }]);
      await publisher.publishAsync(topic, "exactly once", { qos: 2 });
      const original = await first.client.expect("publish");
      assert.equal(original.qos, 2);
      const gone = clientGone(broker, clientId);
      first.client.destroy();
      await gone;

      const second = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      const resent = await second.client.expect("publish");
      assert.equal(resent.dup, true);
      assert.equal(resent.packetId, original.packetId);
      assert.equal(resent.payload.toString(), "exactly once");
      second.client.destroy();
    });

    test("QoS 2 after PUBREC, before PUBCOMP: the PUBREL is resent, not the PUBLISH", async () => {
      const clientId = uniqueName("redeliver2-pubrel");
      const topic = uniqueName("redeliver2/topic");
      const first = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      await first.client.subscribe([{ topicFilter: topic, qos: 2 }]);
      await publisher.publishAsync(topic, "released", { qos: 2 });
      const publish = await first.client.expect("publish");
      const packetId = publish.packetId as number;
      first.client.send({ type: "pubrec", packetId, reasonCode: 0 });
      assert.equal((await first.client.expect("pubrel")).packetId, packetId);
      const gone = clientGone(broker, clientId);
      first.client.destroy(); // no PUBCOMP
      await gone;

      const second = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      const pubrel = await second.client.expect("pubrel");
      assert.equal(pubrel.packetId, packetId);
      second.client.send({ type: "pubcomp", packetId, reasonCode: 0 });
      assert.deepEqual(await second.client.drain(), [], "no PUBLISH after the PUBREL");
      await second.client.disconnect();

      const third = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      assert.deepEqual(await third.client.drain(), [], "completed: nothing resent");
      third.client.destroy();
    });
  });
});

for (const policy of ["drop_oldest", "drop_new"] as const) {
  describe(`max_queued_messages = 3 with queue_drop_policy = ${policy}`, () => {
    let broker: BrokerProcess;
    const tracker = new ClientTracker();

    before(async () => {
      broker = await startBroker({
        config: `[mqtt_limits]\nmax_queued_messages = 3\nqueue_drop_policy = "${policy}"\n`,
      });
    });
    after(async () => {
      await tracker.closeAll();
      assert.equal(await broker.stop(), 0);
    });

    test(`an offline session keeps ${policy === "drop_oldest" ? "the newest" : "the oldest"} 3 of 5 messages`, async () => {
      const clientId = uniqueName(`queue-${policy}`);
      const topic = uniqueName("bounded/topic");
      const first = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      await first.client.subscribe([{ topicFilter: topic, qos: 1 }]);
      await first.client.disconnect();

      const publisher = tracker.mqtt(await connectMqtt(broker.url));
      await publishAll(publisher, topic, ["m1", "m2", "m3", "m4", "m5"]);

      const second = tracker.raw(await connectRaw(broker.port, persistent(clientId)));
      assert.equal(second.connack.sessionPresent, true);
      const delivered = payloadsOf(await receiveAndAck(second.client, 3));
      assert.deepEqual(
        delivered,
        policy === "drop_oldest" ? ["m3", "m4", "m5"] : ["m1", "m2", "m3"],
      );
      assert.deepEqual(await second.client.drain(), [], "the other two were dropped");
    });
  });
}
