/**
 * MQTT 5 features end to end through the real broker process: topic aliases both ways,
 * subscription identifiers, no local, retain as published, message expiry, the client's maximum
 * packet size, forwarded PUBLISH properties, payload format validation, request/response and
 * problem information.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import mqtt, { type IConnackPacket } from "mqtt";
import { encode, type Properties, type PublishPacket } from "../../src/protocol/mqtt/index.ts";
import { clientGone } from "../helpers/broker-logs.ts";
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
} from "../helpers/raw-client.ts";

/** Publishes at QoS 1 and returns the PUBACK reason code. */
async function publishAcked(
  client: RawClient,
  topic: string,
  payload: string | Buffer,
  properties?: Properties,
): Promise<number> {
  const sent = client.publish(topic, payload, { qos: 1, properties });
  const puback = await client.expect("puback");
  assert.equal(puback.packetId, sent.packetId);
  return puback.reasonCode;
}

/** What a subscriber got before a PINGRESP, as PUBLISH packets only. */
async function drainPublishes(client: RawClient): Promise<PublishPacket[]> {
  return (await client.drain()).map((p) => {
    if (p.type !== "publish") throw new Error(`expected only PUBLISH, got ${describePacket(p)}`);
    return p;
  });
}

describe("MQTT 5 features", () => {
  let broker: BrokerProcess;
  const track = new ClientTracker();
  before(async () => {
    broker = await startBroker();
  });
  afterEach(() => track.closeAll());
  after(() => broker.stop());

  async function raw(prefix: string, properties?: Properties, cleanStart = true) {
    return track.raw(
      await connectRaw(broker.port, { clientId: uniqueName(prefix), properties, cleanStart }),
    );
  }

  // ---- topic aliases ------------------------------------------------------------------

  test("client-to-server topic alias: set with a topic, then used alone; subscribers see the topic [MQTT-3.3.2-7..12]", async () => {
    const topic = uniqueName("alias/in");
    const other = uniqueName("alias/in-other");
    const { client: sub } = await raw("ai-sub");
    await sub.subscribe([{ topicFilter: topic }, { topicFilter: other }]);
    const { client: pub } = await raw("ai-pub");
    assert.equal(await publishAcked(pub, topic, "1", { topicAlias: 3 }), 0);
    assert.equal(await publishAcked(pub, "", "2", { topicAlias: 3 }), 0);
    // The alias can be remapped to another topic [MQTT-3.3.2-12].
    assert.equal(await publishAcked(pub, other, "3", { topicAlias: 3 }), 0);
    assert.equal(await publishAcked(pub, "", "4", { topicAlias: 3 }), 0);
    const got = await drainPublishes(sub);
    assert.deepEqual(
      got.map((p) => [p.topic, p.payload.toString(), p.properties?.topicAlias]),
      [
        [topic, "1", undefined],
        [topic, "2", undefined],
        [other, "3", undefined],
        [other, "4", undefined],
      ],
    );
  });

  test("an unknown inbound topic alias is a protocol error (DISCONNECT 0x82)", async () => {
    const { client } = await raw("ai-unknown");
    client.publish("", "x", { qos: 1, properties: { topicAlias: 9 } });
    assert.equal((await client.expect("disconnect")).reasonCode, 0x82);
    await client.waitClosed();
  });

  test("aliases holding more than max_topic_alias_bytes of topics: DISCONNECT 0x97", async () => {
    const { client } = await raw("ai-bytes");
    // 16 topics of 65,000 bytes fit the default 1 MiB; a 17th would not. Replacing an
    // alias counts the new topic instead of the old one.
    const topic = (n: number) => `${n}/`.padEnd(65_000, "t");
    for (let alias = 1; alias <= 16; alias++) {
      client.publish(topic(alias), "x", { qos: 1, properties: { topicAlias: alias } });
      assert.equal((await client.expect("puback")).packetId > 0, true, `alias ${alias}`);
    }
    client.publish(topic(1), "x", { qos: 1, properties: { topicAlias: 16 } });
    assert.ok((await client.expect("puback")).packetId > 0, "alias 16 replaced");
    client.publish(topic(17), "x", { qos: 1, properties: { topicAlias: 17 } });
    const disconnect = await client.expect("disconnect");
    assert.equal(disconnect.reasonCode, 0x97);
    await client.waitClosed();
  });

  test("server-to-client topic alias: the second message on a topic arrives with the alias and an empty topic", async () => {
    const base = uniqueName("alias/out");
    const { client: sub } = await raw("ao-sub", { topicAliasMaximum: 2 });
    await sub.subscribe([{ topicFilter: `${base}/#` }]);
    const { client: pub } = await raw("ao-pub");
    for (const suffix of ["a", "a", "b", "c", "c", "b", "a"]) {
      await publishAcked(pub, `${base}/${suffix}`, suffix);
    }
    const wire = (await drainPublishes(sub)).map((p) => [
      p.topic,
      p.properties?.topicAlias,
      p.payload.toString(),
    ]);
    assert.deepEqual(wire, [
      [`${base}/a`, 1, "a"],
      ["", 1, "a"],
      [`${base}/b`, 2, "b"],
      // Both aliases are taken: further topics go out in full, without an alias.
      [`${base}/c`, undefined, "c"],
      [`${base}/c`, undefined, "c"],
      ["", 2, "b"],
      ["", 1, "a"],
    ]);
  });

  test("server-to-client topic aliases are resolved by mqtt.js to the full topic", async () => {
    const topic = uniqueName("alias/mqttjs");
    const sub = track.mqtt(
      await connectMqtt(broker.url, { protocolVersion: 5, properties: { topicAliasMaximum: 10 } }),
    );
    const inbox = new Inbox(sub);
    await sub.subscribeAsync(topic, { qos: 1 });
    const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    for (let i = 0; i < 3; i++) await pub.publishAsync(topic, `m${i}`, { qos: 1 });
    const got = await inbox.waitFor(3);
    assert.deepEqual(
      got.map((m) => [m.topic, m.payload.toString()]),
      [0, 1, 2].map((i) => [topic, `m${i}`]),
    );
  });

  test("a message dropped as too large for the client does not use up a topic alias [MQTT-3.1.2-25]", async () => {
    const topic = uniqueName("alias/big");
    const { client: sub } = await raw("ab-sub", { topicAliasMaximum: 5, maximumPacketSize: 128 });
    await sub.subscribe([{ topicFilter: topic, qos: 1 }]);
    const { client: pub } = await raw("ab-pub");
    await publishAcked(pub, topic, "x".repeat(300));
    await publishAcked(pub, topic, "small");
    await publishAcked(pub, topic, "again");
    const got = await drainPublishes(sub);
    // The client never saw the alias being set, so the first message it gets must name the topic.
    assert.deepEqual(
      got.map((p) => [p.topic, p.properties?.topicAlias, p.payload.toString()]),
      [
        [topic, 1, "small"],
        ["", 1, "again"],
      ],
    );
  });

  // ---- subscription identifiers -------------------------------------------------------

  test("overlapping subscriptions give one message carrying every Subscription Identifier [MQTT-3.3.4-3, -4, -5]", async () => {
    const base = uniqueName("subid");
    const { client: sub } = await raw("si-sub");
    await sub.subscribe([{ topicFilter: `${base}/a/+`, qos: 1 }], { subscriptionIdentifiers: [1] });
    await sub.subscribe([{ topicFilter: `${base}/#`, qos: 0 }], { subscriptionIdentifiers: [2] });
    await sub.subscribe([{ topicFilter: `${base}/a/b`, qos: 0 }]);
    const { client: other } = await raw("si-other");
    await other.subscribe([{ topicFilter: `${base}/#` }], { subscriptionIdentifiers: [77] });

    const { client: pub } = await raw("si-pub");
    await publishAcked(pub, `${base}/a/b`, "ab");
    await publishAcked(pub, `${base}/x`, "x");
    const got = await drainPublishes(sub);
    for (const p of got) {
      if (p.qos > 0) sub.send({ type: "puback", packetId: p.packetId as number, reasonCode: 0 });
    }
    assert.deepEqual(
      got.map((p) => [
        p.payload.toString(),
        p.qos,
        [...(p.properties?.subscriptionIdentifiers ?? [])].sort(),
      ]),
      [
        ["ab", 1, [1, 2]],
        ["x", 0, [2]],
      ],
    );
    const others = await drainPublishes(other);
    assert.deepEqual(
      others.map((p) => [p.payload.toString(), p.properties?.subscriptionIdentifiers]),
      [
        ["ab", [77]],
        ["x", [77]],
      ],
    );
  });

  test("a retained message sent on subscribe carries that subscription's identifier", async () => {
    const topic = uniqueName("subid/retained");
    const { client: pub } = await raw("sir-pub");
    pub.publish(topic, "kept", { qos: 1, retain: true });
    await pub.expect("puback");
    const { client: sub } = await raw("sir-sub");
    await sub.subscribe([{ topicFilter: topic }], { subscriptionIdentifiers: [4242] });
    const [p] = await drainPublishes(sub);
    assert.equal(p.retain, true);
    assert.deepEqual(p.properties?.subscriptionIdentifiers, [4242]);
  });

  // ---- no local, retain as published --------------------------------------------------

  test("No Local: a client does not receive its own publications [MQTT-3.8.3-3]", async () => {
    const topic = uniqueName("nolocal");
    const fence = uniqueName("nolocal-fence");
    const self = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const selfInbox = new Inbox(self);
    await self.subscribeAsync(topic, { qos: 1, nl: true });
    await self.subscribeAsync(fence, { qos: 1 });
    const peer = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const peerInbox = new Inbox(peer);
    await peer.subscribeAsync(topic, { qos: 1 });

    await self.publishAsync(topic, "mine", { qos: 1 });
    await self.publishAsync(fence, "fence", { qos: 1 });
    await selfInbox.waitForTopic(fence);
    assert.deepEqual(selfInbox.payloads(topic), [], "own message came back despite No Local");
    assert.deepEqual(
      (await peerInbox.waitFor(1)).map((m) => m.payload.toString()),
      ["mine"],
    );

    // Messages from others still arrive on the No Local subscription.
    await peer.publishAsync(topic, "theirs", { qos: 1 });
    await selfInbox.waitForTopic(topic);
    assert.deepEqual(selfInbox.payloads(topic), ["theirs"]);
  });

  test("Retain As Published keeps the RETAIN flag on live messages (mqtt.js) [MQTT-3.3.1-12, -13]", async () => {
    const topic = uniqueName("rap");
    const keep = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const keepInbox = new Inbox(keep);
    await keep.subscribeAsync(topic, { qos: 1, rap: true });
    const clear = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const clearInbox = new Inbox(clear);
    await clear.subscribeAsync(topic, { qos: 1, rap: false });
    const pub = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    await pub.publishAsync(topic, "r", { qos: 1, retain: true });
    await pub.publishAsync(topic, "", { qos: 1, retain: true }); // clear it again
    assert.deepEqual(
      (await keepInbox.waitFor(2)).map((m) => m.packet.retain),
      [true, true],
    );
    assert.deepEqual(
      (await clearInbox.waitFor(2)).map((m) => m.packet.retain),
      [false, false],
    );
  });

  // ---- message expiry -----------------------------------------------------------------

  test("Message Expiry Interval is forwarded on immediate delivery", async () => {
    const topic = uniqueName("expiry/now");
    const { client: sub } = await raw("exn-sub");
    await sub.subscribe([{ topicFilter: topic, qos: 1 }]);
    const { client: pub } = await raw("exn-pub");
    await publishAcked(pub, topic, "e", { messageExpiryInterval: 60 });
    await publishAcked(pub, topic, "none");
    const got = await drainPublishes(sub);
    assert.deepEqual(
      got.map((p) => [p.payload.toString(), p.properties?.messageExpiryInterval]),
      [
        ["e", 60],
        ["none", undefined],
      ],
    );
  });

  test("queued for an offline session: expired messages are dropped, the others arrive with the time left [MQTT-3.3.2-5, -6]", async () => {
    const topic = uniqueName("expiry/offline");
    const clientId = uniqueName("exo-sub");
    const first = track.raw(
      await connectRaw(broker.port, { clientId, properties: { sessionExpiryInterval: 60 } }),
    );
    await first.client.subscribe([{ topicFilter: topic, qos: 1 }]);
    await first.client.disconnect();

    const { client: pub } = await raw("exo-pub");
    const start = Date.now();
    await publishAcked(pub, topic, "short", { messageExpiryInterval: 1 });
    await publishAcked(pub, topic, "long", { messageExpiryInterval: 30 });
    await publishAcked(pub, topic, "forever");
    // Time is what expires the message: wait past the short interval.
    await new Promise((resolve) => setTimeout(resolve, 1100 - (Date.now() - start)));

    const again = track.raw(
      await connectRaw(broker.port, {
        clientId,
        cleanStart: false,
        properties: { sessionExpiryInterval: 60 },
      }),
    );
    assert.equal(again.connack.sessionPresent, true);
    const got = await drainPublishes(again.client);
    const elapsedS = Math.ceil((Date.now() - start) / 1000);
    assert.deepEqual(
      got.map((p) => p.payload.toString()),
      ["long", "forever"],
    );
    // At least a second has passed since the publish: the interval sent is the time left.
    const left = got[0].properties?.messageExpiryInterval as number;
    assert.ok(left <= 29 && left >= 30 - elapsedS, `expiry interval ${left} after ${elapsedS} s`);
    assert.equal(got[1].properties?.messageExpiryInterval, undefined);
  });

  // ---- maximum packet size ------------------------------------------------------------

  test("a message larger than the client's Maximum Packet Size is not sent to it; others get it [MQTT-3.1.2-24, -25]", async () => {
    const topic = uniqueName("maxpkt");
    // Receive Maximum 1: a dropped QoS 1 message must not keep the only inflight slot.
    const { client: small } = await raw("mp-small", { maximumPacketSize: 128, receiveMaximum: 1 });
    await small.subscribe([{ topicFilter: topic, qos: 1 }]);
    const big = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    const bigInbox = new Inbox(big);
    await big.subscribeAsync(topic, { qos: 1 });

    const { client: pub } = await raw("mp-pub");
    const large = "L".repeat(200);
    assert.equal(await publishAcked(pub, topic, large), 0);
    pub.publish(topic, large, { qos: 0 });
    assert.equal(await publishAcked(pub, topic, "fits"), 0);
    const got = await drainPublishes(small);
    assert.deepEqual(
      got.map((p) => p.payload.toString()),
      ["fits"],
    );
    for (const p of got) assert.ok(encode(p, 5).length <= 128, "packet within the client limit");
    assert.deepEqual(
      (await bigInbox.waitFor(3)).map((m) => m.payload.length),
      [200, 200, 4],
    );
  });

  test("[MQTT-3.1.2-25] an unacknowledged message too large for the resumed client is discarded, not kept inflight", async () => {
    const topic = uniqueName("maxpkt-resend");
    const clientId = uniqueName("mp-resume");
    const persistent = { clientId, cleanStart: false, properties: { sessionExpiryInterval: 60 } };
    const first = track.raw(await connectRaw(broker.port, persistent));
    await first.client.subscribe([{ topicFilter: topic, qos: 1 }]);
    const { client: pub } = await raw("mp-resume-pub");
    assert.equal(await publishAcked(pub, topic, "L".repeat(200)), 0);
    await first.client.expect("publish"); // never acknowledged
    const gone = clientGone(broker, clientId);
    first.client.destroy();
    await gone;

    // Back with a limit the unacknowledged message no longer fits in, and one inflight slot.
    const limits = { sessionExpiryInterval: 60, maximumPacketSize: 128, receiveMaximum: 1 };
    const second = track.raw(await connectRaw(broker.port, { ...persistent, properties: limits }));
    assert.equal(second.connack.sessionPresent, true);
    assert.equal(await publishAcked(pub, topic, "fits"), 0);
    const got = await drainPublishes(second.client);
    assert.deepEqual(
      got.map((p) => p.payload.toString()),
      ["fits"],
    );
  });

  // ---- forwarded properties, payload format -------------------------------------------

  test("payload format, content type, response topic, correlation data and user properties arrive unchanged [MQTT-3.3.2-4, -15, -16, -17, -18, -20]", async () => {
    const topic = uniqueName("props");
    const { client: sub } = await raw("pr-sub");
    await sub.subscribe([{ topicFilter: topic, qos: 1 }]);
    const v3 = track.raw(
      await connectRaw(broker.port, { clientId: uniqueName("pr-v3"), version: 4 }),
    );
    await v3.client.subscribe([{ topicFilter: topic, qos: 1 }]);
    const properties: Properties = {
      payloadFormatIndicator: 1,
      contentType: "application/json; charset=utf-8",
      responseTopic: `${topic}/reply`,
      correlationData: Buffer.from([0, 1, 2, 0xff, 0xfe]),
      userProperties: [
        ["zeta", "1"],
        ["alpha", "2"],
        ["zeta", "3"],
        ["alpha", "2"],
        ["ünïcode", "välue"],
      ],
    };
    const { client: pub } = await raw("pr-pub");
    assert.equal(await publishAcked(pub, topic, '{"k":"v"}', properties), 0);
    pub.publish(topic, "qos0", { qos: 0, properties });
    assert.equal(await publishAcked(pub, topic, "plain"), 0);

    const got = await drainPublishes(sub);
    assert.equal(got.length, 3);
    assert.deepEqual(got[0].properties, properties);
    assert.deepEqual(got[1].properties, properties);
    assert.equal(got[2].properties, undefined, "no properties invented for a plain message");
    const v3got = await drainPublishes(v3.client);
    assert.deepEqual(
      v3got.map((p) => p.payload.toString()),
      ['{"k":"v"}', "qos0", "plain"],
    );
  });

  test("a Response Topic with a wildcard is a protocol error: DISCONNECT 0x82, not forwarded [MQTT-3.3.2-14]", async () => {
    const topic = uniqueName("rt-wild");
    const { client: sub } = await raw("rtw-sub");
    await sub.subscribe([{ topicFilter: `${topic}/#`, qos: 1 }]);
    for (const responseTopic of ["replies/#", "x/+/y"]) {
      const { client: pub } = await raw("rtw-pub");
      pub.publish(`${topic}/req`, "request", { qos: 1, properties: { responseTopic } });
      const disconnect = await pub.expect("disconnect");
      assert.equal(disconnect.reasonCode, 0x82, responseTopic);
      assert.match(String(disconnect.properties?.reasonString), /Response Topic/);
      await pub.waitClosed();
    }
    const will = track.raw(await openRaw(broker.port));
    will.send(
      connectPacket({
        clientId: uniqueName("rtw-will"),
        will: {
          topic: `${topic}/will`,
          payload: Buffer.from("gone"),
          qos: 0,
          retain: false,
          properties: { responseTopic: "x/+/y" },
        },
      }),
    );
    const connack = await will.expect("connack");
    assert.equal(connack.reasonCode, 0x82);
    await will.waitClosed();
    assert.deepEqual(await drainPublishes(sub), [], "neither the request nor the will went out");
    await broker.waitForLog((l) => /wildcard in will Response Topic/.test(l.msg));
  });

  test("Payload Format Indicator 1 with invalid UTF-8 is refused with PUBACK 0x99 and not delivered", async () => {
    const topic = uniqueName("pfi");
    const { client: sub } = await raw("pfi-sub");
    await sub.subscribe([{ topicFilter: topic, qos: 1 }]);
    const { client: pub } = await raw("pfi-pub");
    const invalid = Buffer.from([0x61, 0xff, 0xfe, 0x62]);
    assert.equal(await publishAcked(pub, topic, invalid, { payloadFormatIndicator: 1 }), 0x99);
    pub.publish(topic, invalid, { qos: 0, properties: { payloadFormatIndicator: 1 } });
    // Invalid UTF-8 is fine when the payload is declared binary.
    assert.equal(await publishAcked(pub, topic, invalid, { payloadFormatIndicator: 0 }), 0);
    assert.equal(await publishAcked(pub, topic, "ok ✓", { payloadFormatIndicator: 1 }), 0);
    const got = await drainPublishes(sub);
    assert.deepEqual(
      got.map((p) => [p.payload.toString("hex"), p.properties?.payloadFormatIndicator]),
      [
        [invalid.toString("hex"), 0],
        [Buffer.from("ok ✓").toString("hex"), 1],
      ],
    );
  });

  // ---- request / response, problem information ----------------------------------------

  test("Request Response Information: CONNACK carries Response Information only when asked [MQTT-3.1.2-28]", async () => {
    const asked = await raw("rri-yes", { requestResponseInformation: 1 });
    const info = asked.connack.properties?.responseInformation;
    assert.equal(typeof info, "string");
    assert.ok((info as string).length > 0);
    const notAsked = await raw("rri-no");
    assert.equal(notAsked.connack.properties?.responseInformation, undefined);
    const refused = await raw("rri-zero", { requestResponseInformation: 0 });
    assert.equal(refused.connack.properties?.responseInformation, undefined);
  });

  test("request/response round trip with response topic and correlation data (mqtt.js)", async () => {
    const service = uniqueName("svc/request");
    const requester = mqtt.connect(broker.url, {
      protocolVersion: 5,
      reconnectPeriod: 0,
      clientId: uniqueName("requester"),
      properties: { requestResponseInformation: true },
    });
    track.mqtt(requester);
    const connack = await withTimeout(
      new Promise<IConnackPacket>((resolve) => requester.once("connect", resolve)),
      WAIT_TIMEOUT_MS,
      "requester CONNACK",
    );
    const responseBase = connack.properties?.responseInformation;
    assert.ok(responseBase, "CONNACK has Response Information");
    const replyTopic = `${responseBase}/reply`;
    const requesterInbox = new Inbox(requester);
    await requester.subscribeAsync(replyTopic, { qos: 1 });

    const responder = track.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    responder.on("message", (_topic, payload, packet) => {
      const props = packet.properties;
      if (props?.responseTopic === undefined) return;
      void responder.publish(props.responseTopic, `re:${payload.toString()}`, {
        qos: 1,
        properties: { correlationData: props.correlationData },
      });
    });
    await responder.subscribeAsync(service, { qos: 1 });

    const correlation = Buffer.from("req-42");
    await requester.publishAsync(service, "ping", {
      qos: 1,
      properties: { responseTopic: replyTopic, correlationData: correlation },
    });
    const reply = await requesterInbox.waitForTopic(replyTopic);
    assert.equal(reply.payload.toString(), "re:ping");
    assert.ok(Buffer.from(reply.packet.properties?.correlationData ?? []).equals(correlation));
  });

  test("Request Problem Information 0: no Reason String on SUBACK, PUBACK or DISCONNECT [MQTT-3.1.2-29]", async () => {
    for (const requestProblemInformation of [0, 1]) {
      const { client } = await raw(`rpi-${requestProblemInformation}`, {
        requestProblemInformation,
      });
      const suback = await client.subscribe([{ topicFilter: "bad/#/filter" }]);
      assert.deepEqual(suback.reasonCodes, [0x8f]);
      assert.equal(suback.properties?.reasonString, undefined);
      const puback = client.publish(uniqueName("rpi"), Buffer.from([0xff]), {
        qos: 1,
        properties: { payloadFormatIndicator: 1 },
      });
      const ack = await client.expect("puback");
      assert.deepEqual([ack.packetId, ack.reasonCode], [puback.packetId, 0x99]);
      assert.equal(ack.properties?.reasonString, undefined);
      client.publish("", "x", { qos: 0, properties: { topicAlias: 77 } });
      const disconnect = await client.expect("disconnect");
      assert.equal(disconnect.reasonCode, 0x82);
      // With problem information requested the broker explains the DISCONNECT; without, not.
      if (requestProblemInformation === 0)
        assert.equal(disconnect.properties?.reasonString, undefined);
      else assert.equal(typeof disconnect.properties?.reasonString, "string");
      await client.waitClosed();
    }
  });
});
