/**
 * Retained messages through the real broker process: store, replace, clear, delivery on
 * subscribe, the RETAIN flag on live messages, retain handling, wildcards, limits, shared
 * subscriptions and message expiry.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import type { Packet, ProtocolLevel, PublishPacket, QoS } from "../../src/protocol/mqtt/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { ClientTracker, connectMqtt, Inbox, uniqueName } from "../helpers/mqtt-clients.ts";
import { connectRaw, describePacket, type RawClient } from "../helpers/raw-client.ts";

function publishesOf(packets: Packet[]): PublishPacket[] {
  return packets.map((p) => {
    if (p.type !== "publish") throw new Error(`expected only PUBLISH, got ${describePacket(p)}`);
    return p;
  });
}

/** "topic=payload" per PUBLISH, sorted (retained messages of a wildcard come in no set order). */
function summary(packets: PublishPacket[]): string[] {
  return packets.map((p) => `${p.topic}=${p.payload.toString()}`).sort();
}

/** Publishes at QoS 1 from a raw client and waits for the PUBACK (the message is stored then). */
async function publishAcked(
  client: RawClient,
  topic: string,
  payload: string,
  options: { retain?: boolean; properties?: PublishPacket["properties"] } = {},
): Promise<void> {
  const sent = client.publish(topic, payload, {
    qos: 1,
    retain: options.retain ?? true,
    properties: options.properties,
  });
  const puback = await client.expect("puback");
  assert.equal(puback.packetId, sent.packetId);
  assert.ok(puback.reasonCode < 0x80, `PUBACK 0x${puback.reasonCode.toString(16)}`);
}

describe("retained messages", () => {
  let broker: BrokerProcess;
  const track = new ClientTracker();
  before(async () => {
    broker = await startBroker();
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  /** A fresh client subscribes and returns what it got right after the SUBACK. */
  async function retainedFor(
    filter: string,
    options: { qos?: QoS; version?: ProtocolLevel } = {},
  ): Promise<PublishPacket[]> {
    const { client } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("rt-probe"), version: options.version }),
    );
    const suback = await client.subscribe([{ topicFilter: filter, qos: options.qos ?? 1 }]);
    assert.ok(suback.reasonCodes[0] < 0x80, `SUBACK 0x${suback.reasonCodes[0].toString(16)}`);
    return publishesOf(await client.drain());
  }

  async function publisher(): Promise<RawClient> {
    return track.raw(await connectRaw(broker.port, { clientId: uniqueName("rt-pub") })).client;
  }

  test("a retained message is stored, replaced by the next one, and kept by RETAIN=0 publishes [MQTT-3.3.1-5, -8]", async () => {
    const topic = uniqueName("rt/replace");
    const pub = await publisher();
    await publishAcked(pub, topic, "v1");
    assert.deepEqual(summary(await retainedFor(topic)), [`${topic}=v1`]);
    await publishAcked(pub, topic, "v2");
    assert.deepEqual(summary(await retainedFor(topic)), [`${topic}=v2`]);
    await publishAcked(pub, topic, "not retained", { retain: false });
    assert.deepEqual(summary(await retainedFor(topic)), [`${topic}=v2`]);
  });

  test("an empty retained payload clears the topic and still reaches current subscribers [MQTT-3.3.1-6, -7]", async () => {
    const topic = uniqueName("rt/clear");
    const pub = await publisher();
    await publishAcked(pub, topic, "keep me");
    const { client: existing } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("rt-ex") }),
    );
    await existing.subscribe([{ topicFilter: topic, qos: 1 }]);
    assert.equal((await existing.expect("publish")).payload.toString(), "keep me");

    await publishAcked(pub, topic, "");
    const live = await existing.expect("publish");
    assert.equal(live.payload.length, 0);
    assert.equal(live.retain, false);
    assert.deepEqual(await retainedFor(topic), [], "no retained message after the clear");
  });

  for (const version of [4, 5] as const) {
    test(`v${version === 5 ? "5" : "3.1.1"}: retained messages are sent on subscribe with RETAIN=1 at the lower QoS [MQTT-3.3.1-9]`, async () => {
      const topic = uniqueName("rt/onsub");
      const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: version }));
      await pub.publishAsync(topic, "stored", { qos: 1, retain: true });
      for (const [subscribeQos, expectedQos] of [
        [0, 0],
        [2, 1],
      ] as const) {
        const sub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: version }));
        const inbox = new Inbox(sub);
        await sub.subscribeAsync(topic, { qos: subscribeQos });
        const [m] = await inbox.waitFor(1);
        assert.equal(m.payload.toString(), "stored");
        assert.equal(m.packet.retain, true);
        assert.equal(m.packet.qos, expectedQos);
      }
    });
  }

  test("live messages carry RETAIN=0, except with Retain As Published [MQTT-3.3.1-12, -13]", async () => {
    const topic = uniqueName("rt/live");
    const subscribers: Array<[string, RawClient]> = [];
    for (const [name, version, retainAsPublished] of [
      ["v5", 5, false],
      ["v5-rap", 5, true],
      ["v3", 4, false],
    ] as const) {
      const { client } = track.raw(
        await connectRaw(broker.port, { clientId: uniqueName(`rt-${name}`), version }),
      );
      await client.subscribe([{ topicFilter: topic, qos: 1, retainAsPublished }]);
      subscribers.push([name, client]);
    }
    const pub = await publisher();
    await publishAcked(pub, topic, "retained", { retain: true });
    await publishAcked(pub, topic, "plain", { retain: false });
    const flags: Record<string, string[]> = {};
    for (const [name, client] of subscribers) {
      const got = [await client.expect("publish"), await client.expect("publish")];
      flags[name] = got.map((p) => `${p.payload.toString()}:${p.retain ? 1 : 0}`);
    }
    assert.deepEqual(flags, {
      v5: ["retained:0", "plain:0"],
      "v5-rap": ["retained:1", "plain:0"],
      v3: ["retained:0", "plain:0"],
    });
  });

  test("retain handling 0 sends on every subscribe, 1 only on a new subscription, 2 never [MQTT-3.3.1-9, -10, -11]", async () => {
    const topic = uniqueName("rt/handling");
    const pub = await publisher();
    await publishAcked(pub, topic, "r");
    const counts: Record<string, number[]> = {};
    for (const retainHandling of [0, 1, 2] as const) {
      const { client } = track.raw(
        await connectRaw(broker.port, { clientId: uniqueName(`rt-rh${retainHandling}`) }),
      );
      const perSubscribe: number[] = [];
      for (let i = 0; i < 2; i++) {
        await client.subscribe([{ topicFilter: topic, qos: 1, retainHandling }]);
        const got = publishesOf(await client.drain());
        for (const p of got) {
          assert.equal(p.retain, true);
          client.send({ type: "puback", packetId: p.packetId as number, reasonCode: 0 });
        }
        perSubscribe.push(got.length);
      }
      counts[`rh${retainHandling}`] = perSubscribe;
      // Whatever the retain handling, live messages still flow.
      await publishAcked(pub, topic, `live${retainHandling}`, { retain: false });
      assert.equal((await client.expect("publish")).payload.toString(), `live${retainHandling}`);
    }
    assert.deepEqual(counts, { rh0: [1, 1], rh1: [1, 0], rh2: [0, 0] });
  });

  test("a wildcard subscription receives every matching retained message", async () => {
    const base = uniqueName("rt/wild");
    const pub = await publisher();
    for (const suffix of ["a", "b", "b/c", "d/e/f"])
      await publishAcked(pub, `${base}/${suffix}`, suffix);
    await publishAcked(pub, `${base}-other/a`, "other");
    assert.deepEqual(summary(await retainedFor(`${base}/#`)), [
      `${base}/a=a`,
      `${base}/b/c=b/c`,
      `${base}/b=b`,
      `${base}/d/e/f=d/e/f`,
    ]);
    assert.deepEqual(summary(await retainedFor(`${base}/+`)), [`${base}/a=a`, `${base}/b=b`]);
    assert.deepEqual(summary(await retainedFor(`${base}/+/c`)), [`${base}/b/c=b/c`]);
  });

  test("retained messages are not sent when a shared subscription is made", async () => {
    const topic = uniqueName("rt/shared");
    const pub = await publisher();
    await publishAcked(pub, topic, "r");
    assert.deepEqual(await retainedFor(`$share/g/${topic}`), []);
    assert.deepEqual(summary(await retainedFor(topic)), [`${topic}=r`]);
  });

  test("a retained message expires with its Message Expiry Interval [MQTT-3.3.2-5, -6]", async () => {
    const short = uniqueName("rt/expire-short");
    const long = uniqueName("rt/expire-long");
    const pub = await publisher();
    const start = Date.now();
    await publishAcked(pub, short, "short", { properties: { messageExpiryInterval: 1 } });
    await publishAcked(pub, long, "long", { properties: { messageExpiryInterval: 100 } });
    const [fresh] = await retainedFor(short);
    assert.equal(fresh.payload.toString(), "short");
    assert.equal(fresh.properties?.messageExpiryInterval, 1);

    // Time is what expires the message: wait past the interval.
    await new Promise((resolve) => setTimeout(resolve, 1100 - (Date.now() - start)));
    assert.deepEqual(await retainedFor(short), [], "expired retained message is not sent");
    const [aged] = await retainedFor(long);
    assert.equal(aged.payload.toString(), "long");
    const elapsedS = Math.ceil((Date.now() - start) / 1000);
    const left = aged.properties?.messageExpiryInterval as number;
    // At least a second has passed: the interval counts down while the message is stored.
    assert.ok(left <= 99 && left >= 100 - elapsedS, `expiry interval ${left} after ${elapsedS} s`);
  });
});

describe("retained message limits", () => {
  let countLimited: BrokerProcess;
  let sizeLimited: BrokerProcess;
  const track = new ClientTracker();
  before(async () => {
    [countLimited, sizeLimited] = await Promise.all([
      startBroker({ config: "[mqtt_limits]\nmax_retained_messages = 2\n" }),
      startBroker({ config: "[mqtt_limits]\nmax_retained_payload_bytes = 16\n" }),
    ]);
  });
  afterEach(() => track.closeAll());
  after(() => Promise.all([countLimited.stop(), sizeLimited.stop()]));

  async function clients(broker: BrokerProcess, filter: string) {
    const { client: live } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("lim-live") }),
    );
    await live.subscribe([{ topicFilter: filter, qos: 1 }]);
    const { client: pub } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("lim-pub") }),
    );
    return { live, pub };
  }

  async function retainedFor(broker: BrokerProcess, filter: string): Promise<string[]> {
    const { client } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("lim-probe") }),
    );
    await client.subscribe([{ topicFilter: filter, qos: 1 }]);
    return summary(publishesOf(await client.drain()));
  }

  test("max_retained_messages: when full, a new topic is delivered but not retained", async () => {
    const base = uniqueName("lim/count");
    const { live, pub } = await clients(countLimited, `${base}/#`);
    await publishAcked(pub, `${base}/1`, "one");
    await publishAcked(pub, `${base}/2`, "two");
    await publishAcked(pub, `${base}/3`, "three");
    const delivered = [];
    for (let i = 0; i < 3; i++) delivered.push(await live.expect("publish"));
    assert.deepEqual(
      delivered.map((p) => p.payload.toString()),
      ["one", "two", "three"],
      "current subscribers get every message",
    );
    assert.deepEqual(await retainedFor(countLimited, `${base}/#`), [
      `${base}/1=one`,
      `${base}/2=two`,
    ]);

    // Replacing a retained topic needs no new slot; clearing one frees a slot.
    await publishAcked(pub, `${base}/1`, "uno");
    await publishAcked(pub, `${base}/2`, "");
    await publishAcked(pub, `${base}/3`, "tres");
    assert.deepEqual(await retainedFor(countLimited, `${base}/#`), [
      `${base}/1=uno`,
      `${base}/3=tres`,
    ]);
    // Free the slots for the next test on this broker.
    await publishAcked(pub, `${base}/1`, "");
    await publishAcked(pub, `${base}/3`, "");
  });

  test("max_retained_messages: an expired retained message no longer takes a slot [MQTT-3.3.2-5]", async () => {
    const base = uniqueName("lim/expiry");
    const { client: pub } = track.raw(
      await connectRaw(countLimited.port, { clientId: uniqueName("lim-pub") }),
    );
    const start = Date.now();
    await publishAcked(pub, `${base}/short`, "short", { properties: { messageExpiryInterval: 1 } });
    await publishAcked(pub, `${base}/kept`, "kept");
    // Time is what expires the message: wait past the interval (no subscriber looks meanwhile).
    await new Promise((resolve) => setTimeout(resolve, 1100 - (Date.now() - start)));
    await publishAcked(pub, `${base}/new`, "new");
    assert.deepEqual(await retainedFor(countLimited, `${base}/#`), [
      `${base}/kept=kept`,
      `${base}/new=new`,
    ]);
    await publishAcked(pub, `${base}/kept`, "");
    await publishAcked(pub, `${base}/new`, "");
  });

  test("max_retained_payload_bytes: a larger payload is delivered but not retained", async () => {
    const base = uniqueName("lim/size");
    const { live, pub } = await clients(sizeLimited, `${base}/#`);
    const fits = "x".repeat(16);
    const tooBig = "y".repeat(17);
    await publishAcked(pub, `${base}/fits`, fits);
    await publishAcked(pub, `${base}/big`, tooBig);
    assert.equal((await live.expect("publish")).payload.toString(), fits);
    assert.equal((await live.expect("publish")).payload.toString(), tooBig);
    assert.deepEqual(await retainedFor(sizeLimited, `${base}/#`), [`${base}/fits=${fits}`]);
  });
});
