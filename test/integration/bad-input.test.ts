/**
 * Bad input over raw sockets against the real broker process. Each case checks that the
 * offending connection (not the process) is closed, with the v5 reason code where there is one,
 * and that another client, connected all along, still gets a publish/receive round trip.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import type { MqttClient } from "mqtt";
import { encode, type Packet, type PublishPacket } from "../../src/protocol/mqtt/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { ClientTracker, connectMqtt, Inbox, uniqueName } from "../helpers/mqtt-clients.ts";
import { connectPacket, connectRaw, openRaw, type RawClient } from "../helpers/raw-client.ts";

const MAX_PACKET_SIZE = 4096;
const RECEIVE_MAX = 2;
const TOPIC_ALIAS_MAX = 5;
const QUEUED_MAX = 100;
const WRITE_BUFFER_MAX = 65_536;

/** Big-endian 16-bit length prefix + bytes: an MQTT string or binary field. */
function lengthPrefixed(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
}

function varint(value: number): Buffer {
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return Buffer.from(out);
}

/** A v5 PUBLISH built by hand, for topics and properties our encoder refuses to write. */
function handmadePublish(options: {
  first?: number;
  topic: Buffer;
  packetId?: number;
  properties?: Buffer;
  payload?: Buffer;
}): Buffer {
  const properties = options.properties ?? Buffer.alloc(0);
  const body = Buffer.concat([
    lengthPrefixed(options.topic),
    options.packetId === undefined
      ? Buffer.alloc(0)
      : Buffer.from([options.packetId >> 8, options.packetId & 0xff]),
    varint(properties.length),
    properties,
    options.payload ?? Buffer.from("x"),
  ]);
  return Buffer.concat([Buffer.from([options.first ?? 0x30]), varint(body.length), body]);
}

/** Mulberry32: a small seeded PRNG, so a failing garbage run can be replayed from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Resident set size of a process in bytes, from /proc (Linux). */
function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  assert.ok(match !== null, "VmRSS in /proc/<pid>/status");
  return Number(match[1]) * 1024;
}

/** Samples a process's RSS every 20 ms until stop(); peakBytes includes a last sample. */
function sampleRss(pid: number): { beforeBytes: number; peakBytes: number; stop(): void } {
  const beforeBytes = rssBytes(pid);
  const sample = { beforeBytes, peakBytes: beforeBytes, stop };
  const timer = setInterval(() => {
    sample.peakBytes = Math.max(sample.peakBytes, rssBytes(pid));
  }, 20);
  function stop(): void {
    clearInterval(timer);
    sample.peakBytes = Math.max(sample.peakBytes, rssBytes(pid));
  }
  return sample;
}

/**
 * Publishes `count` QoS 1 messages as fast as the socket takes them, payloads starting with an
 * 8-digit sequence number, and waits for every PUBACK (in order: the last one means every
 * message was routed). One encoded PUBLISH is copied with its packet id and number patched in.
 */
async function floodQos1(
  publisher: RawClient,
  topic: string,
  count: number,
  payloadBytes: number,
): Promise<void> {
  assert.ok(count <= 65_535, "packet ids stay unique");
  const payload = Buffer.alloc(payloadBytes, 0x2e);
  const template = encode(
    { type: "publish", topic, payload, qos: 1, retain: false, dup: false, packetId: 1 },
    5,
  );
  const payloadAt = template.length - payloadBytes;
  const packetIdAt = payloadAt - 3; // packet id, then a 0 property length
  for (let seq = 0; seq < count; ) {
    const batch = Buffer.allocUnsafe(template.length * Math.min(64, count - seq));
    for (let at = 0; at < batch.length; at += template.length, seq++) {
      template.copy(batch, at);
      batch.writeUInt16BE(seq + 1, at + packetIdAt);
      batch.write(String(seq).padStart(8, "0"), at + payloadAt);
    }
    if (!publisher.socket.write(batch)) await once(publisher.socket, "drain");
  }
  for (let acked = 0; acked < count; ) {
    const packet = await publisher.next(10_000);
    if (packet.type === "puback") acked++;
  }
}

/** The 8-digit sequence number floodQos1 puts at the start of each payload. */
function sequenceOf(packet: Packet): number {
  assert.equal(packet.type, "publish");
  return Number((packet as PublishPacket).payload.subarray(0, 8).toString());
}

describe("bad input", () => {
  let broker: BrokerProcess;
  const tracker = new ClientTracker();
  /** Connected before every case and kept: the broker must keep serving it. */
  let bystander: MqttClient;
  let bystanderInbox: Inbox;
  const bystanderTopic = uniqueName("bystander");
  let roundTrips = 0;

  before(async () => {
    broker = await startBroker({
      // The flood below drops tens of thousands of messages, each worth a debug line.
      logLevel: "info",
      config: `
[mqtt_protocol_config]
max_packet_size = ${MAX_PACKET_SIZE}
receive_max = ${RECEIVE_MAX}
topic_alias_max = ${TOPIC_ALIAS_MAX}

[mqtt_limits]
max_queued_messages = ${QUEUED_MAX}
queue_drop_policy = "drop_oldest"
max_write_buffer_bytes = ${WRITE_BUFFER_MAX}
`,
    });
    bystander = tracker.mqtt(await connectMqtt(broker.url, { protocolVersion: 5 }));
    bystanderInbox = new Inbox(bystander);
    await bystander.subscribeAsync(bystanderTopic, { qos: 1 });
  });
  after(async () => {
    await tracker.closeAll();
    assert.equal(await broker.stop(), 0);
  });

  /** The broker process is alive and the bystander still gets its own message back. */
  async function assertBrokerServes(): Promise<void> {
    assert.equal(broker.child.exitCode, null, "broker process still running");
    roundTrips++;
    const payload = `round trip ${roundTrips}`;
    await bystander.publishAsync(bystanderTopic, payload, { qos: 1 });
    await bystanderInbox.waitFor(1, (m) => m.payload.toString() === payload);
  }

  /** A connected v5 raw client, closed by the broker in each case below. */
  async function offender(name: string): Promise<RawClient> {
    return tracker.raw(await connectRaw(broker.port, { clientId: uniqueName(name) })).client;
  }

  /** The broker sends DISCONNECT with `reasonCode` and closes the socket. */
  async function assertDisconnected(client: RawClient, reasonCode: number): Promise<void> {
    const disconnect = await client.expect("disconnect");
    assert.equal(
      disconnect.reasonCode,
      reasonCode,
      `DISCONNECT 0x${disconnect.reasonCode.toString(16)}, expected 0x${reasonCode.toString(16)}`,
    );
    await client.waitClosed();
    await assertBrokerServes();
  }

  describe("malformed packets", () => {
    test("[MQTT-1.5.5-1] a remaining length with 5 bytes of continuation: DISCONNECT 0x81", async () => {
      const client = await offender("varint");
      client.sendBytes(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
      await assertDisconnected(client, 0x81);
    });

    test("the same before CONNECT: closed without a CONNACK", async () => {
      const client = tracker.raw(await openRaw(broker.port, 4));
      client.sendBytes(Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]));
      await client.waitClosed();
      assert.deepEqual(client.received, []);
      await assertBrokerServes();
    });

    const reservedFlags: Array<[string, number[]]> = [
      ["SUBSCRIBE with flags 0000", [0x80, 0x02, 0x00, 0x01]],
      ["PUBREL with flags 0000", [0x60, 0x02, 0x00, 0x01]],
      ["PINGREQ with flags 0001", [0xc1, 0x00]],
      ["PUBACK with flags 1000", [0x48, 0x02, 0x00, 0x01]],
    ];
    for (const [name, bytes] of reservedFlags) {
      test(`[MQTT-2.1.3-1] reserved fixed header flags (${name}): DISCONNECT 0x81`, async () => {
        const client = await offender("flags");
        client.sendBytes(Buffer.from(bytes));
        await assertDisconnected(client, 0x81);
      });
    }

    test("[MQTT-3.1.2-3] CONNECT with the reserved connect flag set: closed without a CONNACK", async () => {
      const client = tracker.raw(await openRaw(broker.port, 4));
      const connect = encode(connectPacket({ clientId: uniqueName("reserved"), version: 4 }), 4);
      connect[9] |= 0x01; // connect flags: after header (2), protocol name (6) and level (1)
      client.sendBytes(connect);
      await client.waitClosed();
      assert.deepEqual(client.received, []);
      await assertBrokerServes();
    });

    test("[MQTT-1.5.4-1] ill-formed UTF-8 in a topic name: DISCONNECT 0x81", async () => {
      const client = await offender("utf8");
      client.sendBytes(handmadePublish({ topic: Buffer.from([0x61, 0x2f, 0xc3, 0x28]) }));
      await assertDisconnected(client, 0x81);
    });

    test("[MQTT-1.5.4-1] an encoded surrogate (U+D800) in a topic name: DISCONNECT 0x81", async () => {
      const client = await offender("surrogate");
      client.sendBytes(handmadePublish({ topic: Buffer.from([0x61, 0xed, 0xa0, 0x80]) }));
      await assertDisconnected(client, 0x81);
    });

    test("[MQTT-1.5.4-2] U+0000 in a topic name: DISCONNECT 0x81", async () => {
      const client = await offender("nul");
      client.sendBytes(handmadePublish({ topic: Buffer.from("a/\u0000/b") }));
      await assertDisconnected(client, 0x81);
    });

    test("[MQTT-3.3.1-4] PUBLISH with QoS 3: DISCONNECT 0x81", async () => {
      const client = await offender("qos3");
      client.sendBytes(handmadePublish({ first: 0x36, topic: Buffer.from("q/3"), packetId: 1 }));
      await assertDisconnected(client, 0x81);
    });

    test("a truncated packet followed by the client closing: the connection is cleaned up", async () => {
      const client = await offender("truncated");
      const publish = encode(
        {
          type: "publish",
          topic: "t/trunc",
          payload: Buffer.alloc(100),
          qos: 1,
          retain: false,
          dup: false,
          packetId: 1,
        },
        5,
      );
      client.sendBytes(publish.subarray(0, 40));
      client.socket.end();
      await client.waitClosed();
      await assertBrokerServes();
    });
  });

  describe("protocol errors", () => {
    for (const topic of ["a/+/b", "a/#", "+"]) {
      test(`[MQTT-3.3.2-2] wildcard in a PUBLISH topic (${topic}): DISCONNECT 0x90`, async () => {
        const client = await offender("wildcard");
        client.publish(topic, "no wildcards in topic names");
        await assertDisconnected(client, 0x90);
      });
    }

    test("[MQTT-3.3.4-6] a Subscription Identifier in a client's PUBLISH: DISCONNECT 0x82", async () => {
      const client = await offender("subid");
      client.publish("t/subid", "x", { properties: { subscriptionIdentifiers: [7] } });
      await assertDisconnected(client, 0x82);
    });

    test("[MQTT-3.3.2-8] Topic Alias 0: DISCONNECT 0x82 (a Protocol Error)", async () => {
      const client = await offender("alias0");
      client.sendBytes(
        handmadePublish({ topic: Buffer.from("t/alias"), properties: Buffer.from([0x23, 0, 0]) }),
      );
      await assertDisconnected(client, 0x82);
    });

    test("[MQTT-3.3.2-9] Topic Alias above Topic Alias Maximum: DISCONNECT 0x94", async () => {
      const client = await offender("alias-high");
      client.publish("t/alias", "x", { properties: { topicAlias: TOPIC_ALIAS_MAX + 1 } });
      await assertDisconnected(client, 0x94);
    });

    test("a known Topic Alias works; an unknown one with an empty topic: DISCONNECT 0x82", async () => {
      const client = await offender("alias-unknown");
      const topic = uniqueName("t/aliased");
      await client.subscribe([{ topicFilter: topic }]);
      client.publish(topic, "sets alias 1", { properties: { topicAlias: 1 } });
      client.publish("", "uses alias 1", { properties: { topicAlias: 1 } });
      const received = [await client.expect("publish"), await client.expect("publish")];
      assert.deepEqual(
        received.map((p) => [p.topic, p.payload.toString()]),
        [
          [topic, "sets alias 1"],
          [topic, "uses alias 1"],
        ],
      );
      client.publish("", "alias 2 was never set", { properties: { topicAlias: 2 } });
      await assertDisconnected(client, 0x82);
    });

    test("[MQTT-3.3.4-9] more unacknowledged QoS 2 PUBLISH than Receive Maximum: DISCONNECT 0x93", async () => {
      const { client, connack } = tracker.raw(
        await connectRaw(broker.port, { clientId: uniqueName("receive-max") }),
      );
      assert.equal(connack.properties?.receiveMaximum, RECEIVE_MAX);
      // Within the limit, a PUBREL frees a slot.
      for (const packetId of [1, 2]) {
        client.publish("t/rm", "in window", { qos: 2, packetId });
        assert.equal((await client.expect("pubrec")).packetId, packetId);
      }
      client.send({ type: "pubrel", packetId: 1, reasonCode: 0 });
      assert.equal((await client.expect("pubcomp")).packetId, 1);
      client.publish("t/rm", "reuses the freed slot", { qos: 2, packetId: 3 });
      assert.equal((await client.expect("pubrec")).packetId, 3);
      // Ids 2 and 3 are unreleased: a third one is over the limit.
      client.publish("t/rm", "one too many", { qos: 2, packetId: 4 });
      await assertDisconnected(client, 0x93);
    });
  });

  test("[MQTT-3.3.4-9] QoS 1 PUBLISH count too, until their PUBACK is sent: DISCONNECT 0x93", async () => {
    const { client } = tracker.raw(
      await connectRaw(broker.port, { clientId: uniqueName("receive-max-1") }),
    );
    const topic = uniqueName("t/rm1");
    // One at a time, any number: each PUBACK frees its slot.
    for (let packetId = 1; packetId <= RECEIVE_MAX + 2; packetId++) {
      client.publish(topic, "in window", { qos: 1, packetId });
      assert.equal((await client.expect("puback")).packetId, packetId);
    }
    // Retained, so each PUBACK waits for the message log: all in one write, one too many.
    const burst = Array.from({ length: RECEIVE_MAX + 1 }, (_, i) =>
      encode(
        {
          type: "publish",
          topic,
          payload: Buffer.from("kept"),
          qos: 1,
          retain: true,
          dup: false,
          packetId: 100 + i,
        },
        5,
      ),
    );
    client.sendBytes(Buffer.concat(burst));
    await assertDisconnected(client, 0x93);
  });

  describe("maximum packet size", () => {
    test("a PUBLISH of exactly max_packet_size bytes is accepted", async () => {
      const client = await offender("size-max");
      const topic = uniqueName("t/size");
      await client.subscribe([{ topicFilter: topic }]);
      // Remaining length 4093 needs 2 bytes: 1 + 2 + 4093 = 4096. Body: topic, property
      // length (1 byte, 0) and payload.
      const payloadBytes = 4093 - (2 + Buffer.byteLength(topic)) - 1;
      const packet = encode(
        {
          type: "publish",
          topic,
          payload: Buffer.alloc(payloadBytes, 0x61),
          qos: 0,
          retain: false,
          dup: false,
        },
        5,
      );
      assert.equal(packet.length, MAX_PACKET_SIZE);
      client.sendBytes(packet);
      const echoed = await client.expect("publish");
      assert.equal(echoed.payload.length, payloadBytes);
      client.destroy();
    });

    test("a PUBLISH one byte over max_packet_size: DISCONNECT 0x95", async () => {
      const client = await offender("size-over");
      const topic = uniqueName("t/size");
      const payloadBytes = 4093 - (2 + Buffer.byteLength(topic)) - 1 + 1;
      client.publish(topic, Buffer.alloc(payloadBytes));
      await assertDisconnected(client, 0x95);
    });

    test("a CONNECT over max_packet_size: refused (CONNACK 0x95 or closed without one)", async () => {
      const client = tracker.raw(await openRaw(broker.port, 5));
      client.send(
        connectPacket({
          clientId: uniqueName("big-connect"),
          username: "u",
          password: Buffer.alloc(MAX_PACKET_SIZE),
        }),
      );
      await client.waitClosed();
      const codes = client.received.map((p: Packet) =>
        p.type === "connack" ? p.reasonCode : p.type,
      );
      assert.ok(
        codes.length === 0 || (codes.length === 1 && codes[0] === 0x95),
        `got ${JSON.stringify(codes)}`,
      );
      await assertBrokerServes();
    });
  });

  test("a client that never reads, under a flood: bounded queue (drop_oldest), bounded memory", async (t) => {
    const FLOOD_COUNT = 60_000;
    const PAYLOAD_BYTES = 2048;
    const RECEIVE_WINDOW = 10;
    const topic = uniqueName("flood");
    const pid = broker.child.pid as number;

    // QoS 1 subscriber with a window of 10 that stops reading: 10 in flight, the rest queued
    // up to max_queued_messages, oldest dropped first.
    const slow1 = tracker.raw(
      await connectRaw(broker.port, {
        clientId: uniqueName("slow-qos1"),
        properties: { receiveMaximum: RECEIVE_WINDOW },
      }),
    ).client;
    await slow1.subscribe([{ topicFilter: topic, qos: 1 }]);
    slow1.socket.pause();
    // QoS 0 subscriber that stops reading: the broker writes until its socket buffer passes
    // max_write_buffer_bytes, then drops.
    const slow0 = tracker.raw(
      await connectRaw(broker.port, { clientId: uniqueName("slow-qos0") }),
    ).client;
    await slow0.subscribe([{ topicFilter: topic, qos: 0 }]);
    slow0.socket.pause();

    const publisher = tracker.raw(
      await connectRaw(broker.port, { clientId: uniqueName("flooder") }),
    ).client;
    const rss = sampleRss(pid);
    try {
      await floodQos1(publisher, topic, FLOOD_COUNT, PAYLOAD_BYTES);
      // Responsive while both slow clients are still stuck.
      await assertBrokerServes();
    } finally {
      rss.stop();
    }
    const growthBytes = rss.peakBytes - rss.beforeBytes;
    const floodBytes = FLOOD_COUNT * PAYLOAD_BYTES;
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    t.diagnostic(
      `RSS before ${mib(rss.beforeBytes)}, peak ${mib(rss.peakBytes)}, flood ${mib(floodBytes)}`,
    );
    // What the slow clients may hold: 10 + 100 QoS 1 messages and 64 KiB of socket buffer, under
    // 1 MiB. The rest of the growth is garbage-collector headroom for the traffic passing
    // through: 40-65 MiB on a quiet machine, up to 95 MiB with other work competing for the
    // cores (publishers are read in bursts, and a lagging collector lets the young generation
    // grow), not growing with the flood. A broker that kept the flood for the slow clients
    // grows by more than 1.6x the flood (payload copies plus per-message objects). The flood's
    // own size separates the two.
    assert.ok(
      growthBytes < floodBytes,
      `RSS grew by ${mib(growthBytes)} during a ${mib(floodBytes)} flood`,
    );

    // The QoS 1 reader wakes up: the 10 in flight, then the newest 100 (drop_oldest).
    slow1.socket.resume();
    const sequence: number[] = [];
    for (let i = 0; i < RECEIVE_WINDOW + QUEUED_MAX; i++) {
      const publish = await slow1.expect("publish");
      sequence.push(sequenceOf(publish));
      slow1.send({ type: "puback", packetId: publish.packetId as number, reasonCode: 0 });
    }
    const expected = [
      ...Array.from({ length: RECEIVE_WINDOW }, (_, i) => i),
      ...Array.from({ length: QUEUED_MAX }, (_, i) => FLOOD_COUNT - QUEUED_MAX + i),
    ];
    assert.deepEqual(sequence, expected);
    assert.deepEqual(await slow1.drain(), [], "nothing beyond the window and the queue");

    // The QoS 0 reader wakes up: what was in its socket buffers, in order, the rest dropped.
    slow0.socket.resume();
    const got = (await slow0.drain(10_000)).map(sequenceOf);
    t.diagnostic(`QoS 0 reader got ${got.length} of ${FLOOD_COUNT}`);
    assert.ok(got.length > 0 && got.length < FLOOD_COUNT, `QoS 0 reader got ${got.length}`);
    for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], "in publish order");
    slow0.destroy();
    slow1.destroy();
    publisher.destroy();
  });

  test("random garbage from 50 connections: the broker survives and serves", async (t) => {
    const seed = Number(process.env.GARBAGE_SEED ?? Math.floor(Math.random() * 2 ** 32));
    t.diagnostic(`garbage seed=${seed} (replay with GARBAGE_SEED=${seed})`);
    const random = prng(seed);
    const int = (n: number) => Math.floor(random() * n);
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));

    /** A fixed header with a random type, random flags and a correct length, then a random body. */
    const packetLike = () => {
      const body = bytes(int(48));
      return Buffer.concat([Buffer.from([(int(16) << 4) | int(16)]), varint(body.length), body]);
    };

    // Every byte is drawn before any socket opens, so the seed alone decides what is sent.
    const plans = Array.from({ length: 50 }, (_, i) => {
      const mode = i % 3; // 0: garbage only; 1: CONNECT, garbage; 2: CONNECT, packet-like garbage
      const version = ([3, 4, 5] as const)[int(3)];
      const chunks: Buffer[] = [];
      if (mode > 0) {
        chunks.push(encode(connectPacket({ clientId: `garbage-${seed}-${i}`, version }), version));
      }
      if (mode === 2) for (let k = 0, n = 1 + int(8); k < n; k++) chunks.push(packetLike());
      else chunks.push(bytes(1 + int(512)));
      return { version, chunks };
    });
    const runs = plans.map(async ({ version, chunks }) => {
      const client = tracker.raw(await openRaw(broker.port, version));
      for (const chunk of chunks) client.sendBytes(chunk);
      client.socket.end();
      // The broker closes on a protocol error, or when it sees our end of the stream.
      await client.waitClosed(5000);
    });
    const outcomes = await Promise.allSettled(runs);
    const failed = outcomes.filter((o) => o.status === "rejected");
    assert.deepEqual(failed, [], `seed=${seed}`);
    assert.equal(broker.child.exitCode, null, `broker exited (seed=${seed})`);
    const fatal = broker.logs.filter((l) => l.level === "fatal" || l.level === "error");
    assert.deepEqual(fatal, [], `seed=${seed}`);
    await assertBrokerServes();
    const fresh = tracker.mqtt(await connectMqtt(broker.url));
    const inbox = new Inbox(fresh);
    const topic = uniqueName("after-garbage");
    await fresh.subscribeAsync(topic, { qos: 1 });
    await fresh.publishAsync(topic, "still here", { qos: 1 });
    assert.equal((await inbox.waitForTopic(topic)).payload.toString(), "still here");
  });
});
