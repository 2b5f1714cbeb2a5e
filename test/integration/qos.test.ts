/**
 * QoS 0/1/2 end to end through the real broker process, MQTT 3.1.1 and 5.0: delivered QoS,
 * maximum QoS, exactly-once with duplicates, PUBACK reason codes, inflight windows, ordering and
 * large payloads.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, afterEach, before, describe, test } from "node:test";
import {
  encode,
  type Packet,
  type PublishPacket,
  type QoS,
} from "../../src/protocol/mqtt/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { ClientTracker, connectMqtt, Inbox, uniqueName } from "../helpers/mqtt-clients.ts";
import { connectRaw, type RawClient } from "../helpers/raw-client.ts";

const LEVELS: QoS[] = [0, 1, 2];

/** Reads `count` PUBLISH packets in a row from a raw client. */
async function nextPublishes(client: RawClient, count: number): Promise<PublishPacket[]> {
  const out: PublishPacket[] = [];
  for (let i = 0; i < count; i++) out.push(await client.expect("publish"));
  return out;
}

function texts(packets: PublishPacket[]): string[] {
  return packets.map((p) => p.payload.toString());
}

/** Sends `ack` and returns what the broker sends before the next round trip ends. */
function answerAndDrain(client: RawClient, ack: Packet): Promise<Packet[]> {
  client.send(ack);
  return client.drain();
}

describe("QoS with the default configuration", () => {
  let broker: BrokerProcess;
  const track = new ClientTracker();
  before(async () => {
    broker = await startBroker();
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  for (const version of [4, 5] as const) {
    for (const publishQos of LEVELS) {
      for (const subscribeQos of LEVELS) {
        const delivered = Math.min(publishQos, subscribeQos);
        test(`v${version === 5 ? "5" : "3.1.1"}: publish QoS ${publishQos} to a QoS ${subscribeQos} subscription arrives once at QoS ${delivered} [MQTT-3.8.4-8]`, async () => {
          const topic = uniqueName(`qos/${version}/${publishQos}${subscribeQos}`);
          const subscriber = track.mqtt(
            await connectMqtt(broker.url, { protocolVersion: version }),
          );
          const inbox = new Inbox(subscriber);
          const granted = await subscriber.subscribeAsync(topic, { qos: subscribeQos });
          assert.equal(granted[0].qos, subscribeQos);
          const publisher = track.mqtt(await connectMqtt(broker.url, { protocolVersion: version }));
          await publisher.publishAsync(topic, "first", { qos: publishQos });
          await publisher.publishAsync(topic, "second", { qos: publishQos });
          const got = await inbox.waitFor(2);
          // A duplicate of "first" would take the second place.
          assert.deepEqual(inbox.payloads(), ["first", "second"]);
          for (const m of got) assert.equal(m.packet.qos, delivered);
        });
      }
    }
  }

  for (const version of [4, 5] as const) {
    test(`v${version === 5 ? "5" : "3.1.1"}: a refused PUBLISH is acknowledged after the stored one sent before it [MQTT-4.6.0-2, -4]`, async () => {
      const { client } = await connectRaw(broker.port, { clientId: uniqueName("order"), version });
      track.raw(client);
      const retained = uniqueName("order/kept");
      const stored = (qos: 1 | 2, packetId: number): Packet => ({
        type: "publish",
        topic: retained,
        payload: Buffer.from("kept"),
        qos,
        retain: true,
        dup: false,
        packetId,
      });
      // v5: a payload that says UTF-8 and is not; v3.1.1: a $delayed/ topic with no delay.
      const refused = (qos: 1 | 2, packetId: number): Packet =>
        version === 5
          ? {
              ...(stored(qos, packetId) as PublishPacket),
              topic: uniqueName("order/refused"),
              retain: false,
              payload: Buffer.from([0xff, 0xfe]),
              properties: { payloadFormatIndicator: 1 },
            }
          : { ...(stored(qos, packetId) as PublishPacket), topic: "$delayed/abc/x", retain: false };
      for (const qos of [1, 2] as const) {
        // One write: the retained message waits for the message log, the refusal does not.
        client.sendBytes(
          Buffer.concat([
            encode(stored(qos, 10 * qos), version),
            encode(refused(qos, 10 * qos + 1), version),
          ]),
        );
        const type = qos === 1 ? "puback" : "pubrec";
        const first = await client.expect(type);
        const second = await client.expect(type);
        assert.deepEqual([first.packetId, second.packetId], [10 * qos, 10 * qos + 1], type);
        if (version === 5) assert.notEqual(second.reasonCode, 0, "the second is a refusal");
        if (qos === 2) {
          for (const packetId of [20, 21]) {
            client.send({ type: "pubrel", packetId, reasonCode: 0 });
            assert.equal((await client.expect("pubcomp")).packetId, packetId);
          }
        }
      }
      client.send({ ...(stored(1, 30) as PublishPacket), payload: Buffer.alloc(0) });
      await client.expect("puback");
    });
  }

  test("QoS 2 PUBLISH resent with DUP before PUBREL is delivered exactly once [MQTT-4.3.3-10, -12]", async () => {
    const topic = uniqueName("qos/exactly-once");
    const { client: subscriber } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("eo-sub") }),
    );
    assert.deepEqual(
      (await subscriber.subscribe([{ topicFilter: topic, qos: 2 }])).reasonCodes,
      [2],
    );
    const { client: publisher } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("eo-pub") }),
    );

    const packetId = 7;
    publisher.publish(topic, "once", { qos: 2, packetId });
    assert.equal((await publisher.expect("pubrec")).packetId, packetId);
    publisher.publish(topic, "once", { qos: 2, packetId, dup: true });
    const again = await publisher.expect("pubrec");
    assert.equal(again.packetId, packetId);
    assert.ok(
      again.reasonCode < 0x80,
      `PUBREC for the duplicate: 0x${again.reasonCode.toString(16)}`,
    );
    publisher.send({ type: "pubrel", packetId, reasonCode: 0 });
    const pubcomp = await publisher.expect("pubcomp");
    assert.deepEqual([pubcomp.packetId, pubcomp.reasonCode], [packetId, 0]);

    // Everything routed for the publisher's packets was written before this round trip ends.
    const seen = await subscriber.drain();
    assert.deepEqual(
      seen.map((p) => (p.type === "publish" ? p.payload.toString() : p.type)),
      ["once"],
    );

    // After PUBCOMP the same packet identifier starts a new message [MQTT-4.3.3-12].
    publisher.publish(topic, "new", { qos: 2, packetId });
    await publisher.expect("pubrec");
    publisher.send({ type: "pubrel", packetId, reasonCode: 0 });
    await publisher.expect("pubcomp");
    const next = await subscriber.expect("publish");
    assert.equal(next.payload.toString(), "new");
  });

  test("v5 PUBACK and PUBREC say 0x10 No matching subscribers when nobody subscribes", async () => {
    const topic = uniqueName("qos/nobody");
    const { client } = track.raw(await connectRaw(broker.port, { clientId: uniqueName("nms") }));
    client.publish(topic, "x", { qos: 1 });
    assert.equal((await client.expect("puback")).reasonCode, 0x10);
    const { packetId } = client.publish(topic, "x", { qos: 2 });
    const pubrec = await client.expect("pubrec");
    assert.deepEqual([pubrec.packetId, pubrec.reasonCode], [packetId, 0x10]);
    client.send({ type: "pubrel", packetId: packetId as number, reasonCode: 0 });
    assert.equal((await client.expect("pubcomp")).reasonCode, 0);

    // With a subscriber the same publish succeeds.
    const { client: subscriber } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("nms-sub") }),
    );
    await subscriber.subscribe([{ topicFilter: topic, qos: 0 }]);
    client.publish(topic, "x", { qos: 1 });
    assert.equal((await client.expect("puback")).reasonCode, 0);
  });

  test("receive maximum 3 in CONNECT: 3 QoS 1 messages in flight, one more per PUBACK [MQTT-3.3.4-7]", async () => {
    const topic = uniqueName("qos/window");
    const { client: subscriber } = track.raw(
      await connectRaw(broker.port, {
        clientId: uniqueName("win-sub"),
        properties: { receiveMaximum: 3 },
      }),
    );
    await subscriber.subscribe([{ topicFilter: topic, qos: 1 }]);
    const { client: publisher } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("win-pub") }),
    );
    const total = 8;
    for (let i = 0; i < total; i++) publisher.publish(topic, `m${i}`, { qos: 1 });
    for (let i = 0; i < total; i++) assert.equal((await publisher.expect("puback")).reasonCode, 0);

    const first = await nextPublishes(subscriber, 3);
    assert.deepEqual(texts(first), ["m0", "m1", "m2"]);
    assert.deepEqual(await subscriber.drain(), [], "nothing beyond the window before any PUBACK");

    const received = [...first];
    let acked = 0;
    while (received.length < total) {
      subscriber.send({
        type: "puback",
        packetId: received[acked].packetId as number,
        reasonCode: 0,
      });
      acked++;
      received.push(await subscriber.expect("publish"));
      assert.deepEqual(await subscriber.drain(), [], `exactly one more after PUBACK ${acked}`);
    }
    assert.deepEqual(
      texts(received),
      Array.from({ length: total }, (_, i) => `m${i}`),
    );
    const ids = new Set(received.slice(acked).map((p) => p.packetId));
    assert.equal(ids.size, 3, "the unacknowledged messages in flight use distinct packet ids");
  });

  test("receive maximum 2 with QoS 2: PUBREC keeps the slot, PUBCOMP frees it [MQTT-3.3.4-7]", async () => {
    const topic = uniqueName("qos/window2");
    const { client: subscriber } = track.raw(
      await connectRaw(broker.port, {
        clientId: uniqueName("win2-sub"),
        properties: { receiveMaximum: 2 },
      }),
    );
    await subscriber.subscribe([{ topicFilter: topic, qos: 2 }]);
    const publisher = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    for (let i = 0; i < 4; i++) await publisher.publishAsync(topic, `q${i}`, { qos: 2 });

    const [a, b] = await nextPublishes(subscriber, 2);
    assert.deepEqual(texts([a, b]), ["q0", "q1"]);
    subscriber.send({ type: "pubrec", packetId: a.packetId as number, reasonCode: 0 });
    assert.equal((await subscriber.expect("pubrel")).packetId, a.packetId);
    assert.deepEqual(
      await subscriber.drain(),
      [],
      "a PUBREC'd message still counts against the window",
    );
    subscriber.send({ type: "pubcomp", packetId: a.packetId as number, reasonCode: 0 });
    const c = await subscriber.expect("publish");
    assert.equal(c.payload.toString(), "q2");
    // A PUBREC with a failure code ends the flow and frees the slot too.
    subscriber.send({ type: "pubrec", packetId: b.packetId as number, reasonCode: 0x80 });
    const d = await subscriber.expect("publish");
    assert.equal(d.payload.toString(), "q3");
    assert.deepEqual(await subscriber.drain(), []);
  });

  test("a resumed session resends at most the new Receive Maximum at once, in order, before new messages [MQTT-3.3.4-9]", async () => {
    const topic = uniqueName("qos/resend-window");
    const clientId = uniqueName("rw-sub");
    const session = { sessionExpiryInterval: 300 };
    const { client: first } = track.raw(
      await connectRaw(broker.port, {
        clientId,
        properties: { ...session, receiveMaximum: 10 },
      }),
    );
    await first.subscribe([{ topicFilter: topic, qos: 2 }]);
    const publisher = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    // One QoS 2 message left after PUBREC (its PUBREL is resent), then five QoS 1 ones.
    await publisher.publishAsync(topic, "q2", { qos: 2 });
    const q2 = await first.expect("publish");
    first.send({ type: "pubrec", packetId: q2.packetId as number, reasonCode: 0 });
    assert.equal((await first.expect("pubrel")).packetId, q2.packetId);
    for (let i = 0; i < 5; i++) await publisher.publishAsync(topic, `m${i}`, { qos: 1 });
    const sent = await nextPublishes(first, 5);
    assert.deepEqual(texts(sent), ["m0", "m1", "m2", "m3", "m4"]);
    first.destroy();
    await first.waitClosed();

    const { client: second, connack } = track.raw(
      await connectRaw(broker.port, {
        clientId,
        cleanStart: false,
        properties: { ...session, receiveMaximum: 3 },
      }),
    );
    assert.equal(connack.sessionPresent, true);
    // The PUBREL'd message keeps one of the 3 slots until PUBCOMP; the PUBREL itself is not
    // held back by the window [MQTT-4.9.0-3].
    const resumed = await second.drain();
    const show = (p: Packet) =>
      p.type === "publish" ? `${p.payload}${p.dup ? "+dup" : ""}` : p.type;
    assert.deepEqual(resumed.map(show), ["pubrel", "m0+dup", "m1+dup"]);
    await publisher.publishAsync(topic, "new", { qos: 1 });
    assert.deepEqual(await second.drain(), [], "the new message waits behind the resends");

    const puback = (p: Packet) => ({
      type: "puback" as const,
      packetId: (p as PublishPacket).packetId as number,
      reasonCode: 0,
    });
    assert.equal((resumed[1] as PublishPacket).packetId, sent[0].packetId, "original packet id");
    // Each acknowledgement frees one slot: the next resend, in order, then the new message.
    const steps: Array<[Packet, string[]]> = [
      [puback(resumed[1]), ["m2+dup"]],
      [{ type: "pubcomp", packetId: q2.packetId as number, reasonCode: 0 }, ["m3+dup"]],
      [puback(resumed[2]), ["m4+dup"]],
      [puback(sent[2]), ["new"]],
    ];
    for (const [answer, expected] of steps) {
      assert.deepEqual((await answerAndDrain(second, answer)).map(show), expected);
    }
    second.send({ type: "disconnect", reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
  });

  for (const version of [4, 5] as const) {
    test(`v${version === 5 ? "5" : "3.1.1"}: QoS 1 messages of one publisher on one topic keep their order [MQTT-4.6.0-5]`, async () => {
      const topic = uniqueName("qos/order");
      const subscriber = track.mqtt(await connectMqtt(broker.url, { protocolVersion: version }));
      const inbox = new Inbox(subscriber);
      await subscriber.subscribeAsync(topic, { qos: 1 });
      const publisher = track.mqtt(await connectMqtt(broker.url, { protocolVersion: version }));
      const total = 500;
      const expected = Array.from({ length: total }, (_, i) => `n${i}`);
      // All in flight at once: more than the broker's default window of 128 towards the subscriber.
      await Promise.all(expected.map((p) => publisher.publishAsync(topic, p, { qos: 1 })));
      await inbox.waitFor(total);
      assert.deepEqual(inbox.payloads(), expected);
    });
  }

  for (const version of [4, 5] as const) {
    test(`v${version === 5 ? "5" : "3.1.1"}: a 1 MiB payload arrives intact at QoS 1`, async () => {
      const topic = uniqueName("qos/large");
      const payload = randomBytes(1024 * 1024);
      const subscriber = track.mqtt(await connectMqtt(broker.url, { protocolVersion: version }));
      const inbox = new Inbox(subscriber);
      await subscriber.subscribeAsync(topic, { qos: 1 });
      const publisher = track.mqtt(await connectMqtt(broker.url, { protocolVersion: version }));
      await publisher.publishAsync(topic, payload, { qos: 1 });
      const [m] = await inbox.waitFor(1);
      assert.equal(m.payload.length, payload.length);
      assert.ok(m.payload.equals(payload), "payload bytes differ");
    });
  }
});

describe("QoS with max_qos = 1", () => {
  let broker: BrokerProcess;
  const track = new ClientTracker();
  before(async () => {
    broker = await startBroker({ config: "[mqtt_protocol_config]\nmax_qos = 1\n" });
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  test("CONNACK announces Maximum QoS 1 and SUBACK grants at most 1", async () => {
    const { client, connack } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("mq-v5") }),
    );
    assert.equal(connack.properties?.maximumQoS, 1);
    const suback = await client.subscribe([
      { topicFilter: uniqueName("mq/a"), qos: 2 },
      { topicFilter: uniqueName("mq/b"), qos: 1 },
      { topicFilter: uniqueName("mq/c"), qos: 0 },
    ]);
    assert.deepEqual(suback.reasonCodes, [1, 1, 0]);
    const { client: v3 } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("mq-v3"), version: 4 }),
    );
    assert.deepEqual(
      (await v3.subscribe([{ topicFilter: uniqueName("mq/d"), qos: 2 }])).reasonCodes,
      [1],
    );
  });

  test("a subscription asked at QoS 2 receives QoS 1 messages at QoS 1", async () => {
    const topic = uniqueName("mq/deliver");
    const subscriber = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const inbox = new Inbox(subscriber);
    const granted = await subscriber.subscribeAsync(topic, { qos: 2 });
    assert.equal(granted[0].qos, 1);
    const publisher = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    await publisher.publishAsync(topic, "hello", { qos: 1 });
    const [m] = await inbox.waitFor(1);
    assert.equal(m.packet.qos, 1);
  });

  test("v5 PUBLISH at QoS 2 is answered with DISCONNECT 0x9B QoS not supported", async () => {
    const topic = uniqueName("mq/over");
    const { client: subscriber } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("mq-sub") }),
    );
    await subscriber.subscribe([{ topicFilter: topic, qos: 1 }]);
    const { client } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("mq-over") }),
    );
    client.publish(topic, "too high", { qos: 2 });
    const disconnect = await client.expect("disconnect");
    assert.equal(disconnect.reasonCode, 0x9b);
    await client.waitClosed();
    assert.deepEqual(await subscriber.drain(), [], "the refused message is not delivered");
  });
});

describe("QoS with max_inflight_messages = 2", () => {
  let broker: BrokerProcess;
  const track = new ClientTracker();
  before(async () => {
    broker = await startBroker({ config: "[mqtt_limits]\nmax_inflight_messages = 2\n" });
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  for (const version of [4, 5] as const) {
    test(`v${version === 5 ? "5" : "3.1.1"}: at most 2 QoS 1 messages in flight, more as PUBACKs arrive`, async () => {
      const topic = uniqueName("inflight/cfg");
      // The client's Receive Maximum is larger: the configured limit is the one that applies.
      const { client: subscriber } = track.raw(
        await connectRaw(broker.port, {
          clientId: uniqueName("if-sub"),
          version,
          properties: { receiveMaximum: 100 },
        }),
      );
      await subscriber.subscribe([{ topicFilter: topic, qos: 1 }]);
      const publisher = track.mqtt(await connectMqtt(broker.url, { protocolVersion: version }));
      for (let i = 0; i < 5; i++) await publisher.publishAsync(topic, `p${i}`, { qos: 1 });

      const first = await nextPublishes(subscriber, 2);
      assert.deepEqual(texts(first), ["p0", "p1"]);
      assert.deepEqual(await subscriber.drain(), []);
      subscriber.send({ type: "puback", packetId: first[0].packetId as number, reasonCode: 0 });
      subscriber.send({ type: "puback", packetId: first[1].packetId as number, reasonCode: 0 });
      const second = await nextPublishes(subscriber, 2);
      assert.deepEqual(texts(second), ["p2", "p3"]);
      assert.deepEqual(await subscriber.drain(), []);
      subscriber.send({ type: "puback", packetId: second[0].packetId as number, reasonCode: 0 });
      assert.deepEqual(texts(await nextPublishes(subscriber, 1)), ["p4"]);
      assert.deepEqual(await subscriber.drain(), []);
    });
  }
});
