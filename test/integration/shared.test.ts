/**
 * Shared subscriptions (`$share/{group}/{filter}`) through the real broker process: how messages
 * spread over a group, several groups, the strategies, No Local, redelivery when a member leaves
 * and removal of the last member.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import type { MqttClient } from "mqtt";
import type { PublishPacket } from "../../src/protocol/mqtt/index.ts";
import { clientGone } from "../helpers/broker-logs.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import {
  ClientTracker,
  connectMqtt,
  Inbox,
  uniqueName,
  WAIT_TIMEOUT_MS,
  waitUntil,
} from "../helpers/mqtt-clients.ts";
import { connectRaw } from "../helpers/raw-client.ts";

/** Publishes `count` numbered QoS 1 messages and waits for every PUBACK. */
async function publishNumbered(
  pub: MqttClient,
  topic: string,
  count: number,
  prefix = "m",
): Promise<string[]> {
  const payloads = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  await Promise.all(payloads.map((p) => pub.publishAsync(topic, p, { qos: 1 })));
  return payloads;
}

/** `count` v5 members of one share group, each with its inbox. */
async function members(
  track: ClientTracker,
  url: string,
  filter: string,
  count: number,
): Promise<Array<{ client: MqttClient; inbox: Inbox }>> {
  const out = [];
  for (let i = 0; i < count; i++) {
    const client = track.mqtt(
      await connectMqtt(url, { protocolVersion: 5, clientId: uniqueName(`member${i}`) }),
    );
    const inbox = new Inbox(client);
    await client.subscribeAsync(filter, { qos: 1 });
    out.push({ client, inbox });
  }
  return out;
}

/** Waits until the members together hold `total` messages and returns each member's payloads. */
async function split(group: Array<{ inbox: Inbox }>, total: number): Promise<string[][]> {
  const inboxes = group.map((m) => m.inbox);
  const sum = () => inboxes.reduce((n, inbox) => n + inbox.messages.length, 0);
  await waitUntil(
    inboxes,
    () => sum() >= total,
    WAIT_TIMEOUT_MS,
    () => `the group received ${sum()} of ${total}`,
  );
  return inboxes.map((inbox) => inbox.payloads());
}

describe("shared subscriptions (round robin)", () => {
  let broker: BrokerProcess;
  const track = new ClientTracker();
  before(async () => {
    broker = await startBroker();
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  test("round robin over 3 members: each gets a third, every message exactly once", async () => {
    const topic = uniqueName("share/rr");
    const group = await members(track, broker.url, `$share/g/${topic}`, 3);
    const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const sent = await publishNumbered(pub, topic, 30);
    const got = await split(group, 30);
    assert.deepEqual(
      got.map((g) => g.length),
      [10, 10, 10],
    );
    assert.deepEqual(got.flat().sort(), [...sent].sort());
  });

  test("two groups on the same filter each get every message", async () => {
    const topic = uniqueName("share/two");
    const g1 = await members(track, broker.url, `$share/one/${topic}`, 2);
    const g2 = await members(track, broker.url, `$share/two/${topic}`, 2);
    const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const sent = await publishNumbered(pub, topic, 10);
    assert.deepEqual((await split(g1, 10)).flat().sort(), [...sent].sort());
    assert.deepEqual((await split(g2, 10)).flat().sort(), [...sent].sort());
  });

  test("a shared group's wildcard filter spreads the matching topics", async () => {
    const base = uniqueName("share/wild");
    const group = await members(track, broker.url, `$share/w/${base}/+`, 2);
    const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    for (let i = 0; i < 4; i++) await pub.publishAsync(`${base}/t${i}`, `t${i}`, { qos: 1 });
    const got = await split(group, 4);
    assert.deepEqual(got.flat().sort(), ["t0", "t1", "t2", "t3"]);
    assert.deepEqual(
      got.map((g) => g.length),
      [2, 2],
    );
  });

  test("a client with a shared and a normal subscription on one topic gets a copy through each", async () => {
    const topic = uniqueName("share/both");
    const client = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const inbox = new Inbox(client);
    await client.subscribeAsync(`$share/g/${topic}`, { qos: 1 });
    await client.subscribeAsync(topic, { qos: 1 });
    const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    await pub.publishAsync(topic, "x", { qos: 1 });
    await pub.publishAsync(topic, "y", { qos: 1 });
    await inbox.waitFor(4);
    assert.deepEqual(inbox.payloads().sort(), ["x", "x", "y", "y"]);
  });

  test("v3.1.1 clients can be share group members too", async () => {
    const topic = uniqueName("share/v3");
    const a = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 4 }));
    const b = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 4 }));
    const group = [{ inbox: new Inbox(a) }, { inbox: new Inbox(b) }];
    await a.subscribeAsync(`$share/v3/${topic}`, { qos: 1 });
    await b.subscribeAsync(`$share/v3/${topic}`, { qos: 1 });
    const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 4 }));
    const sent = await publishNumbered(pub, topic, 6);
    const got = await split(group, 6);
    assert.deepEqual(
      got.map((g) => g.length),
      [3, 3],
    );
    assert.deepEqual(got.flat().sort(), [...sent].sort());
  });

  test("No Local on a shared subscription is a protocol error: DISCONNECT 0x82 [MQTT-3.8.3-4]", async () => {
    const clientId = uniqueName("share-nl");
    const persistent = { clientId, cleanStart: false, properties: { sessionExpiryInterval: 60 } };
    const { client } = track.raw(await connectRaw(broker.port, persistent));
    const plain = uniqueName("share/plain");
    const options = { qos: 1 as const, retainAsPublished: false, retainHandling: 0 as const };
    client.send({
      type: "subscribe",
      packetId: 1,
      subscriptions: [
        { topicFilter: plain, noLocal: false, ...options },
        { topicFilter: `$share/g/${uniqueName("share/nl")}`, noLocal: true, ...options },
      ],
    });
    assert.equal((await client.expect("disconnect")).reasonCode, 0x82);
    await client.waitClosed();
    // No SUBACK, so none of the packet's filters: the session kept no subscription.
    const back = track.raw(await connectRaw(broker.port, persistent));
    assert.equal(back.connack.sessionPresent, true);
    const publisher = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    await publisher.publishAsync(plain, "not for you", { qos: 1 });
    assert.deepEqual(await back.client.drain(), [], "nothing delivered");
  });

  test("QoS 1 messages in flight to a member that disconnects without acking go to another member", async () => {
    const topic = uniqueName("share/departure");
    const filter = `$share/g/${topic}`;
    // The raw member never acknowledges; round robin gives it every other message.
    const { client: silent } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("silent") }),
    );
    await silent.subscribe([{ topicFilter: filter, qos: 1 }]);
    const [steady] = await members(track, broker.url, filter, 1);
    const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const sent = await publishNumbered(pub, topic, 10);

    const unacked: PublishPacket[] = [];
    for (let i = 0; i < 5; i++) unacked.push(await silent.expect("publish"));
    await steady.inbox.waitFor(5);
    assert.equal(
      new Set([...unacked.map((p) => p.payload.toString()), ...steady.inbox.payloads()]).size,
      10,
    );

    silent.destroy();
    await steady.inbox.waitFor(10);
    assert.deepEqual(
      steady.inbox.payloads().sort(),
      [...sent].sort(),
      "every message reached the group",
    );

    // The group still works with the member that is left.
    await pub.publishAsync(topic, "after", { qos: 1 });
    await steady.inbox.waitFor(11);
  });

  test("[MQTT-4.4.0-1] the only member resumes its session: unacknowledged messages are resent with DUP and their ids", async () => {
    const topic = uniqueName("share/sole");
    const filter = `$share/g/${topic}`;
    const clientId = uniqueName("sole");
    const options = { clientId, cleanStart: false, properties: { sessionExpiryInterval: 60 } };
    const first = track.raw(await connectRaw(broker.port, options));
    await first.client.subscribe([{ topicFilter: filter, qos: 1 }]);
    const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    await pub.publishAsync(topic, "unacknowledged", { qos: 1 });
    const original = await first.client.expect("publish");

    // A lost connection, not a takeover: the broker must have closed the session's connection.
    const gone = clientGone(broker, clientId);
    first.client.destroy();
    await gone;
    const second = track.raw(await connectRaw(broker.port, options));
    assert.equal(second.connack.sessionPresent, true);
    const again = await second.client.expect("publish");
    assert.deepEqual(
      [again.payload.toString(), again.dup, again.packetId],
      ["unacknowledged", true, original.packetId],
    );
  });

  test("unsubscribing the last member removes the group: v5 PUBACK then says 0x10", async () => {
    const topic = uniqueName("share/last");
    const filter = `$share/g/${topic}`;
    const { client: member } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("last") }),
    );
    await member.subscribe([{ topicFilter: filter, qos: 0 }]);
    const { client: pub } = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("last-pub") }),
    );
    pub.publish(topic, "to group", { qos: 1 });
    assert.equal((await pub.expect("puback")).reasonCode, 0);
    assert.equal((await member.expect("publish")).payload.toString(), "to group");

    assert.deepEqual((await member.unsubscribe([filter])).reasonCodes, [0]);
    pub.publish(topic, "nobody", { qos: 1 });
    assert.equal((await pub.expect("puback")).reasonCode, 0x10);
    assert.deepEqual(await member.drain(), []);
  });
});

describe("shared subscription strategies", () => {
  let random: BrokerProcess;
  let hashed: BrokerProcess;
  const track = new ClientTracker();
  before(async () => {
    [random, hashed] = await Promise.all([
      startBroker({ config: '[mqtt_limits]\nshared_subscription_strategy = "random"\n' }),
      startBroker({ config: '[mqtt_limits]\nshared_subscription_strategy = "hash_clientid"\n' }),
    ]);
  });
  afterEach(() => track.closeAll());
  after(() => Promise.all([random.stop(), hashed.stop()]));

  test("random: every message goes to exactly one member, and all members get some", async () => {
    const topic = uniqueName("share/random");
    const group = await members(track, random.url, `$share/r/${topic}`, 3);
    const pub = track.mqtt(await connectMqtt(random.url, { protocolVersion: 5 }));
    const sent = await publishNumbered(pub, topic, 90);
    const got = await split(group, 90);
    assert.deepEqual(got.flat().sort(), [...sent].sort());
    // Each member missing out entirely has a probability of about 1e-16.
    for (const g of got) assert.ok(g.length > 0, `member counts ${got.map((x) => x.length)}`);
  });

  test("hash_clientid: all messages of one publisher go to one member, in order", async () => {
    const topic = uniqueName("share/hash");
    const group = await members(track, hashed.url, `$share/h/${topic}`, 3);
    const publishers = [];
    for (let i = 0; i < 4; i++) {
      publishers.push(
        track.mqtt(
          await connectMqtt(hashed.url, {
            protocolVersion: 5,
            clientId: uniqueName(`hash-pub${i}`),
          }),
        ),
      );
    }
    const sent = (
      await Promise.all(publishers.map((p, i) => publishNumbered(p, topic, 10, `p${i}-`)))
    ).flat();
    const got = await split(group, sent.length);
    assert.deepEqual(got.flat().sort(), [...sent].sort());
    for (let i = 0; i < publishers.length; i++) {
      const holders = got.filter((g) => g.some((p) => p.startsWith(`p${i}-`)));
      assert.equal(holders.length, 1, `publisher ${i} reached ${holders.length} members`);
      assert.deepEqual(
        holders[0].filter((p) => p.startsWith(`p${i}-`)),
        Array.from({ length: 10 }, (_, k) => `p${i}-${k}`),
      );
    }
  });
});
