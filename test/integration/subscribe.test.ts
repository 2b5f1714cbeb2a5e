/**
 * SUBSCRIBE / UNSUBSCRIBE through the real broker process: wildcard matching over the wire,
 * `$` topics, overlapping subscriptions, SUBACK and UNSUBACK codes, limits and the features a
 * broker can switch off.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import type { ProtocolLevel, PublishPacket, QoS } from "../../src/protocol/mqtt/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { ClientTracker, connectMqtt, Inbox, uniqueName } from "../helpers/mqtt-clients.ts";
import {
  connectPacket,
  connectRaw,
  describePacket,
  openRaw,
  type RawClient,
} from "../helpers/raw-client.ts";

async function drainPublishes(client: RawClient): Promise<PublishPacket[]> {
  return (await client.drain()).map((p) => {
    if (p.type !== "publish") throw new Error(`expected only PUBLISH, got ${describePacket(p)}`);
    return p;
  });
}

/** Publishes QoS 0 messages and waits until the broker has processed them (routing is done). */
async function publishAll(pub: RawClient, topics: string[]): Promise<void> {
  for (const topic of topics) pub.publish(topic, topic, { qos: 0 });
  await pub.drain();
}

function versionName(version: ProtocolLevel): string {
  return version === 5 ? "v5" : "v3.1.1";
}

describe("subscriptions", () => {
  let broker: BrokerProcess;
  const track = new ClientTracker();
  before(async () => {
    broker = await startBroker();
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  async function raw(prefix: string, version: ProtocolLevel = 5): Promise<RawClient> {
    return track.raw(await connectRaw(broker.port, { clientId: uniqueName(prefix), version }))
      .client;
  }

  const topicsUnder = (b: string) => [
    b,
    `${b}/a`,
    `${b}/b`,
    `${b}/a/x`,
    `${b}/b/x`,
    `${b}/a/x/y`,
    `${b}//x`,
    `${b}/`,
    `${b}x/a`,
  ];
  // [filter suffix, the topics (as suffixes) it must match, exactly]
  const cases: Array<[string, string[]]> = [
    ["/a", ["/a"]],
    ["/+", ["/a", "/b", "/"]],
    ["/+/x", ["/a/x", "/b/x", "//x"]],
    ["/#", ["", "/a", "/b", "/a/x", "/b/x", "/a/x/y", "//x", "/"]],
    ["/a/#", ["/a", "/a/x", "/a/x/y"]],
    ["/+/x/#", ["/a/x", "/b/x", "/a/x/y", "//x"]],
    ["/+/+", ["/a/x", "/b/x", "//x"]],
  ];
  for (const version of [4, 5] as const) {
    test(`${versionName(version)}: wildcard filters match exactly the topics the spec says (# includes the parent level)`, async () => {
      const base = uniqueName("wild");
      const sub = await raw("w-sub", version);
      const pub = await raw("w-pub", version);
      for (const [suffix, expected] of cases) {
        const filter = `${base}${suffix}`;
        assert.deepEqual((await sub.subscribe([{ topicFilter: filter }])).reasonCodes, [0]);
        await publishAll(pub, topicsUnder(base));
        const got = (await drainPublishes(sub)).map((p) => p.topic.slice(base.length)).sort();
        assert.deepEqual(got, [...expected].sort(), `filter ${filter}`);
        assert.deepEqual((await sub.unsubscribe([filter])).type, "unsuback");
      }
    });
  }

  test("topics starting with $ are not matched by a leading + or # [MQTT-4.7.2-1]", async () => {
    const tail = uniqueName("dollar");
    const dollarTopic = `$test-${tail}/x`;
    const wide = await raw("d-wide");
    await wide.subscribe([{ topicFilter: "#" }, { topicFilter: "+/x" }]);
    const exact = await raw("d-exact");
    await exact.subscribe([{ topicFilter: `$test-${tail}/#` }, { topicFilter: `$test-${tail}/+` }]);
    const pub = await raw("d-pub");
    await publishAll(pub, [dollarTopic]);
    assert.deepEqual(
      (await drainPublishes(wide)).filter((p) => p.topic.includes(tail)),
      [],
      "a leading wildcard matched a $ topic",
    );
    // The two overlapping subscriptions of `exact` yield one copy.
    assert.deepEqual(
      (await drainPublishes(exact)).map((p) => p.topic),
      [dollarTopic],
    );
  });

  test("clients cannot publish to $SYS: v5 PUBACK 0x87, and nothing is delivered", async () => {
    const topic = `$SYS/${uniqueName("sys")}`;
    const sub = await raw("sys-sub");
    await sub.subscribe([{ topicFilter: "$SYS/#", qos: 1 }]);
    const v5 = await raw("sys-v5");
    const sent = v5.publish(topic, "fake", { qos: 1 });
    const puback = await v5.expect("puback");
    assert.deepEqual([puback.packetId, puback.reasonCode], [sent.packetId, 0x87]);
    const v3 = await raw("sys-v3", 4);
    v3.publish(topic, "fake", { qos: 1 });
    await v3.expect("puback");
    v3.publish(topic, "fake", { qos: 0, retain: true });
    await v3.drain();
    assert.deepEqual(
      (await drainPublishes(sub)).filter((p) => p.topic === topic),
      [],
    );
  });

  for (const [version, code] of [
    [4, 5],
    [5, 0x87],
  ] as const) {
    test(`${versionName(version)}: a will on $SYS cannot publish there either: CONNACK ${code}`, async () => {
      const topic = `$SYS/${uniqueName("sys-will")}`;
      const sub = await raw("sys-will-sub");
      await sub.subscribe([{ topicFilter: "$SYS/#", qos: 1 }]);
      const client = track.raw(await openRaw(broker.port, version));
      const will = { topic, payload: Buffer.from("fake"), qos: 1 as const, retain: true };
      client.send(connectPacket({ clientId: uniqueName("sys-will"), version, will }));
      const connack = await client.expect("connack");
      assert.equal(connack.reasonCode, code);
      await client.waitClosed();
      assert.deepEqual(
        (await drainPublishes(sub)).filter((p) => p.topic === topic),
        [],
      );
    });
  }

  for (const version of [4, 5] as const) {
    test(`${versionName(version)}: overlapping subscriptions deliver one copy at the highest QoS [MQTT-3.3.4-2]`, async () => {
      const base = uniqueName("overlap");
      const sub = await raw("ov-sub", version);
      const suback = await sub.subscribe([
        { topicFilter: `${base}/+`, qos: 0 },
        { topicFilter: `${base}/#`, qos: 2 },
        { topicFilter: `${base}/a`, qos: 1 },
      ]);
      assert.deepEqual(suback.reasonCodes, [0, 2, 1]);
      const pub = await raw("ov-pub", version);
      for (const qos of [2, 1, 0] as QoS[]) {
        const sent = pub.publish(`${base}/a`, `q${qos}`, { qos });
        if (qos === 1) await pub.expect("puback");
        if (qos === 2) {
          await pub.expect("pubrec");
          pub.send({ type: "pubrel", packetId: sent.packetId as number, reasonCode: 0 });
          await pub.expect("pubcomp");
        }
      }
      await pub.drain();
      const got = await drainPublishes(sub);
      assert.deepEqual(
        got.map((p) => [p.payload.toString(), p.qos]),
        [
          ["q2", 2],
          ["q1", 1],
          ["q0", 0],
        ],
      );
    });
  }

  for (const version of [4, 5] as const) {
    const failure = version === 5 ? 0x8f : 0x80;
    test(`${versionName(version)}: invalid filters get 0x${failure.toString(16)} while the others in the same SUBSCRIBE are granted`, async () => {
      const ok = uniqueName("sa-ok");
      const sub = await raw("sa-sub", version);
      const suback = await sub.subscribe([
        { topicFilter: `${ok}/one`, qos: 1 },
        { topicFilter: "a/#/b" },
        { topicFilter: "a+" },
        { topicFilter: "a/b#" },
        { topicFilter: "$share/g" },
        { topicFilter: "$share/+/x" },
        { topicFilter: "$share//x" },
        { topicFilter: `${ok}/two`, qos: 2 },
      ]);
      assert.deepEqual(suback.reasonCodes, [
        1,
        failure,
        failure,
        failure,
        failure,
        failure,
        failure,
        2,
      ]);
      const pub = await raw("sa-pub", version);
      await publishAll(pub, [`${ok}/one`, `${ok}/two`]);
      assert.deepEqual(
        (await drainPublishes(sub)).map((p) => p.topic),
        [`${ok}/one`, `${ok}/two`],
      );
    });
  }

  test("v5 UNSUBACK codes: 0x00 for a removed subscription, 0x11 for none, 0x8F for an invalid filter", async () => {
    const base = uniqueName("unsub");
    const sub = await raw("us-sub");
    await sub.subscribe([{ topicFilter: `${base}/a` }, { topicFilter: `$share/g/${base}/s` }]);
    const unsuback = await sub.unsubscribe([
      `${base}/a`,
      `${base}/never`,
      `$share/g/${base}/s`,
      "a/#/b",
      `${base}/a`,
    ]);
    assert.deepEqual(unsuback.reasonCodes, [0x00, 0x11, 0x00, 0x8f, 0x11]);
  });

  test("v3.1.1 UNSUBACK carries no reason codes", async () => {
    const base = uniqueName("unsub3");
    const sub = await raw("us3-sub", 4);
    await sub.subscribe([{ topicFilter: `${base}/a` }]);
    const unsuback = await sub.unsubscribe([`${base}/a`, `${base}/never`]);
    assert.deepEqual(unsuback.reasonCodes, []);
  });

  for (const version of [4, 5] as const) {
    test(`${versionName(version)}: after UNSUBSCRIBE no more messages arrive for the filter [MQTT-3.10.4-2]`, async () => {
      const topic = uniqueName("after-unsub");
      const fence = uniqueName("after-unsub-fence");
      const sub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: version }));
      const inbox = new Inbox(sub);
      await sub.subscribeAsync([topic, fence], { qos: 1 });
      const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: version }));
      await pub.publishAsync(topic, "before", { qos: 1 });
      await inbox.waitForTopic(topic);
      await sub.unsubscribeAsync(topic);
      await pub.publishAsync(topic, "after", { qos: 1 });
      await pub.publishAsync(fence, "fence", { qos: 1 });
      await inbox.waitForTopic(fence);
      assert.deepEqual(inbox.payloads(topic), ["before"]);
    });
  }

  test("subscribing again to the same filter replaces the subscription: the new QoS applies [MQTT-3.8.4-3]", async () => {
    const topic = uniqueName("resub");
    const sub = await raw("rs-sub");
    assert.deepEqual((await sub.subscribe([{ topicFilter: topic, qos: 0 }])).reasonCodes, [0]);
    const pub = await raw("rs-pub");
    const sendQos2 = async (payload: string) => {
      const sent = pub.publish(topic, payload, { qos: 2 });
      await pub.expect("pubrec");
      pub.send({ type: "pubrel", packetId: sent.packetId as number, reasonCode: 0 });
      await pub.expect("pubcomp");
    };
    const received: Array<[string, QoS]> = [];
    const sendAndReceive = async (payload: string) => {
      await sendQos2(payload);
      const got = await drainPublishes(sub);
      for (const p of got) {
        received.push([p.payload.toString(), p.qos]);
        if (p.qos === 2) {
          sub.send({ type: "pubrec", packetId: p.packetId as number, reasonCode: 0 });
          await sub.expect("pubrel");
          sub.send({ type: "pubcomp", packetId: p.packetId as number, reasonCode: 0 });
        }
        if (p.qos === 1)
          sub.send({ type: "puback", packetId: p.packetId as number, reasonCode: 0 });
      }
    };
    await sendAndReceive("at0");
    assert.deepEqual((await sub.subscribe([{ topicFilter: topic, qos: 2 }])).reasonCodes, [2]);
    await sendAndReceive("at2");
    assert.deepEqual((await sub.subscribe([{ topicFilter: topic, qos: 1 }])).reasonCodes, [1]);
    await sendAndReceive("at1");
    assert.deepEqual(
      received,
      [
        ["at0", 0],
        ["at2", 2],
        ["at1", 1],
      ],
      "one copy per message, at the QoS of the latest subscription",
    );
  });
});

describe("subscriptions on a restricted broker", () => {
  let broker: BrokerProcess;
  const track = new ClientTracker();
  before(async () => {
    broker = await startBroker({
      config: [
        "[mqtt_protocol_config]",
        "wildcard_subscription_available = false",
        "shared_subscription_available = false",
        "subscription_identifier_available = false",
        "[mqtt_limits]",
        "max_subscriptions_per_client = 2",
        "",
      ].join("\n"),
    });
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  async function raw(prefix: string, version: ProtocolLevel = 5) {
    return track.raw(await connectRaw(broker.port, { clientId: uniqueName(prefix), version }));
  }

  test("CONNACK announces the unavailable features", async () => {
    const { connack } = await raw("r-connack");
    assert.equal(connack.properties?.wildcardSubscriptionAvailable, 0);
    assert.equal(connack.properties?.sharedSubscriptionAvailable, 0);
    assert.equal(connack.properties?.subscriptionIdentifierAvailable, 0);
  });

  for (const version of [4, 5] as const) {
    const quota = version === 5 ? 0x97 : 0x80;
    test(`${versionName(version)}: max_subscriptions_per_client refuses further filters with 0x${quota.toString(16)}`, async () => {
      const base = uniqueName("quota");
      const { client } = await raw("r-quota", version);
      const suback = await client.subscribe([
        { topicFilter: `${base}/1` },
        { topicFilter: `${base}/2` },
        { topicFilter: `${base}/3` },
      ]);
      assert.deepEqual(suback.reasonCodes, [0, 0, quota]);
      // Replacing an existing subscription needs no new slot.
      assert.deepEqual(
        (await client.subscribe([{ topicFilter: `${base}/2`, qos: 1 }])).reasonCodes,
        [1],
      );
      // Unsubscribing frees one.
      await client.unsubscribe([`${base}/1`]);
      assert.deepEqual((await client.subscribe([{ topicFilter: `${base}/3` }])).reasonCodes, [0]);
    });
  }

  test("wildcard_subscription_available = false: wildcard filters get 0xA2, others are granted", async () => {
    const base = uniqueName("nowild");
    const { client } = await raw("r-wild");
    const suback = await client.subscribe([
      { topicFilter: `${base}/+` },
      { topicFilter: `${base}/#` },
    ]);
    assert.deepEqual(suback.reasonCodes, [0xa2, 0xa2]);
    assert.deepEqual((await client.subscribe([{ topicFilter: `${base}/a` }])).reasonCodes, [0]);
  });

  test("shared_subscription_available = false: $share filters get 0x9E", async () => {
    const base = uniqueName("noshare");
    const { client } = await raw("r-share");
    const suback = await client.subscribe([
      { topicFilter: `$share/g/${base}` },
      { topicFilter: base },
    ]);
    assert.deepEqual(suback.reasonCodes, [0x9e, 0]);
  });

  test("subscription_identifier_available = false: SUBSCRIBE with an identifier gets DISCONNECT 0xA1", async () => {
    const { client } = await raw("r-subid");
    client.send({
      type: "subscribe",
      packetId: 1,
      properties: { subscriptionIdentifiers: [5] },
      subscriptions: [
        {
          topicFilter: uniqueName("subid"),
          qos: 0,
          noLocal: false,
          retainAsPublished: false,
          retainHandling: 0,
        },
      ],
    });
    assert.equal((await client.expect("disconnect")).reasonCode, 0xa1);
    await client.waitClosed();
  });
});
