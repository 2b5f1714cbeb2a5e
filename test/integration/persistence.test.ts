/**
 * Durable MQTT state across restarts of the real broker process: a graceful stop (SIGTERM) and
 * a crash (SIGKILL) both keep persistent sessions (subscriptions, queued and in-flight QoS 1/2
 * messages, QoS 2 state in both directions) and retained messages; clean sessions are not kept.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import type { ProtocolLevel, PublishPacket } from "../../src/protocol/mqtt/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { uniqueName } from "../helpers/mqtt-clients.ts";
import { connectRaw, type RawClient, type RawConnectOptions } from "../helpers/raw-client.ts";

function persistent(clientId: string, version: ProtocolLevel = 5): RawConnectOptions {
  return {
    clientId,
    version,
    cleanStart: false,
    properties: version === 5 ? { sessionExpiryInterval: 3600 } : undefined,
  };
}

/** A broker on one data directory, restarted by a signal. */
class Node {
  readonly dataDir = mkdtempSync(join(tmpdir(), "rmq-persist-"));
  broker: BrokerProcess | null = null;
  readonly clients: RawClient[] = [];
  readonly config: string;

  constructor(config = "") {
    this.config = config;
  }

  async start(): Promise<BrokerProcess> {
    this.broker = await startBroker({
      dataDir: this.dataDir,
      logLevel: "info",
      config: this.config,
    });
    return this.broker;
  }

  get port(): number {
    return (this.broker as BrokerProcess).port;
  }

  async connect(options: RawConnectOptions) {
    const connected = await connectRaw(this.port, options);
    this.clients.push(connected.client);
    return connected;
  }

  /** Stops with `signal` (after the clients' sockets are gone) and starts again. */
  async restart(signal: NodeJS.Signals): Promise<void> {
    for (const c of this.clients.splice(0)) c.destroy();
    const code = await (this.broker as BrokerProcess).stop(signal);
    if (signal === "SIGTERM") assert.equal(code, 0);
    await this.start();
  }

  async close(): Promise<void> {
    for (const c of this.clients.splice(0)) c.destroy();
    await this.broker?.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

async function receive(client: RawClient, count: number): Promise<PublishPacket[]> {
  const received: PublishPacket[] = [];
  for (let i = 0; i < count; i++) received.push(await client.expect("publish"));
  return received;
}

function payloads(packets: PublishPacket[]): string[] {
  return packets.map((p) => p.payload.toString());
}

describe("durable sessions across restarts", () => {
  let node: Node;
  afterEach(async () => {
    await node.close();
  });

  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    for (const version of [4, 5] as const) {
      test(`v${version}, ${signal}: subscriptions and queued QoS 1/2 messages survive; QoS 0 does not`, async () => {
        node = new Node();
        await node.start();
        const topic = uniqueName("durable/queue");
        const subscriberId = uniqueName("sub");
        const sub = await node.connect(persistent(subscriberId, version));
        await sub.client.subscribe([{ topicFilter: `${topic}/#`, qos: 2 }]);
        await sub.client.disconnect();

        const pub = await node.connect({ clientId: uniqueName("pub"), version });
        for (let i = 0; i < 20; i++) {
          const qos = (i % 3) as 0 | 1 | 2;
          pub.client.publish(`${topic}/${i}`, `m${i}`, { qos });
          if (qos === 1) await pub.client.expect("puback");
          if (qos === 2) {
            const pubrec = await pub.client.expect("pubrec");
            pub.client.send({ type: "pubrel", packetId: pubrec.packetId, reasonCode: 0 });
            await pub.client.expect("pubcomp");
          }
        }
        await node.restart(signal);

        const back = await node.connect(persistent(subscriberId, version));
        assert.equal(back.connack.sessionPresent, true);
        const expected = [];
        for (let i = 0; i < 20; i++) if (i % 3 !== 0) expected.push(`m${i}`);
        const got = await receive(back.client, expected.length);
        assert.deepEqual(payloads(got), expected, "every acknowledged QoS 1/2 message, in order");
        for (const p of got) {
          if (p.qos === 1)
            back.client.send({ type: "puback", packetId: p.packetId as number, reasonCode: 0 });
        }
        // The subscription itself survived: a new message is routed to it.
        const pub2 = await node.connect({ clientId: uniqueName("pub2"), version });
        pub2.client.publish(`${topic}/new`, "after restart", { qos: 1 });
        await pub2.client.expect("puback");
        const fresh = await back.client.expect("publish");
        assert.equal(fresh.payload.toString(), "after restart");
      });
    }
  }

  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    test(`${signal}: in-flight QoS 1 and 2 messages are resent in their original order, with DUP when known sent [MQTT-4.6.0-1, MQTT-3.3.1-1]`, async () => {
      node = new Node();
      await node.start();
      const topic = uniqueName("durable/order");
      const subscriberId = uniqueName("sub");
      const options = persistent(subscriberId);
      // A window of 3: a, b and c go out, d waits on the queue.
      const sub = await node.connect({
        ...options,
        properties: { sessionExpiryInterval: 3600, receiveMaximum: 3 },
      });
      await sub.client.subscribe([{ topicFilter: topic, qos: 2 }]);
      const pub = await node.connect({ clientId: uniqueName("pub") });
      for (const [payload, qos] of [
        ["a", 1],
        ["b", 2],
        ["c", 1],
        ["d", 1],
      ] as const) {
        pub.client.publish(topic, payload, { qos });
        if (qos === 1) await pub.client.expect("puback");
        else {
          const pubrec = await pub.client.expect("pubrec");
          pub.client.send({ type: "pubrel", packetId: pubrec.packetId, reasonCode: 0 });
          await pub.client.expect("pubcomp");
        }
      }
      const sent = await receive(sub.client, 3);
      assert.deepEqual(payloads(sent), ["a", "b", "c"], "nothing acknowledged");
      await node.restart(signal);

      const back = await node.connect(options);
      assert.equal(back.connack.sessionPresent, true);
      const got = await receive(back.client, 4);
      assert.deepEqual(payloads(got), ["a", "b", "c", "d"]);
      const dup = Object.fromEntries(got.map((p) => [p.payload.toString(), p.dup]));
      // a was sent before b, whose packet id is in the log: it was sent before the stop.
      assert.equal(dup.a, true);
      assert.equal(dup.b, true);
      assert.equal(got[1].packetId, sent[1].packetId, "QoS 2 keeps its packet identifier");
      // A QoS 1 send is known only to a checkpoint (taken at a graceful stop, not at a crash).
      if (signal === "SIGTERM") assert.equal(dup.c, true);
      assert.equal(dup.d, false, "never sent before");
    });
  }

  test("SIGKILL: retained messages survive, and a deleted one stays deleted", async () => {
    node = new Node();
    await node.start();
    const topic = uniqueName("durable/retained");
    const pub = await node.connect({ clientId: uniqueName("pub"), version: 5 });
    pub.client.publish(`${topic}/a`, "kept", { qos: 1, retain: true });
    await pub.client.expect("puback");
    pub.client.publish(`${topic}/b`, "gone", { qos: 1, retain: true });
    await pub.client.expect("puback");
    pub.client.publish(`${topic}/b`, "", { qos: 1, retain: true });
    await pub.client.expect("puback");
    await node.restart("SIGKILL");

    const sub = await node.connect({ clientId: uniqueName("sub"), version: 5 });
    await sub.client.subscribe([{ topicFilter: `${topic}/#`, qos: 1 }]);
    const retained = await sub.client.expect("publish");
    assert.equal(retained.topic, `${topic}/a`);
    assert.equal(retained.payload.toString(), "kept");
    assert.equal(retained.retain, true);
    assert.deepEqual(await sub.client.drain(), [], "no retained message for the deleted topic");
  });

  test("SIGKILL: a retained message a limit refused stays unretained, and its subscriber has it", async () => {
    node = new Node("[mqtt_limits]\nmax_retained_messages = 1\n");
    await node.start();
    const topic = uniqueName("durable/limit");
    // A persistent subscriber: the refused message is logged for it all the same.
    const subscriber = persistent(uniqueName("sub"));
    const sub = await node.connect(subscriber);
    await sub.client.subscribe([{ topicFilter: `${topic}/#`, qos: 1 }]);
    const pub = await node.connect({ clientId: uniqueName("pub"), version: 5 });
    for (const [name, payload] of [
      ["a", "kept"],
      ["b", "refused: the store is full"],
      ["a", ""],
    ]) {
      pub.client.publish(`${topic}/${name}`, payload, { qos: 1, retain: true });
      await pub.client.expect("puback");
    }
    await node.restart("SIGKILL");

    const back = await node.connect(subscriber);
    const received = payloads(await receive(back.client, 3));
    assert.deepEqual(received, ["kept", "refused: the store is full", ""]);
    const late = await node.connect({ clientId: uniqueName("late"), version: 5 });
    await late.client.subscribe([{ topicFilter: `${topic}/#`, qos: 1 }]);
    assert.deepEqual(await late.client.drain(), [], "no retained message: b was never retained");
  });

  test("SIGKILL: a retained message of 3 MiB, larger than a Kafka batch, is stored and survives", async () => {
    node = new Node();
    await node.start();
    const topic = uniqueName("durable/large");
    const payload = Buffer.alloc(3 * 1024 * 1024, 0x5a);
    const pub = await node.connect({ clientId: uniqueName("pub"), version: 5 });
    pub.client.publish(topic, payload, { qos: 1, retain: true });
    // 0x10: stored, and no subscriber yet.
    assert.equal((await pub.client.expect("puback")).reasonCode, 0x10);
    await node.restart("SIGKILL");

    const sub = await node.connect({ clientId: uniqueName("sub"), version: 5 });
    await sub.client.subscribe([{ topicFilter: topic, qos: 1 }]);
    const retained = await sub.client.expect("publish");
    assert.ok(retained.payload.equals(payload), "the payload byte for byte");
  });

  test("SIGKILL: QoS 2 stays exactly once in both directions", async () => {
    node = new Node();
    await node.start();
    const topic = uniqueName("durable/qos2");
    const subscriberId = uniqueName("sub");
    const sub = await node.connect(persistent(subscriberId));
    await sub.client.subscribe([{ topicFilter: topic, qos: 2 }]);
    const publisherId = uniqueName("pub");
    const pub = await node.connect(persistent(publisherId));
    pub.client.publish(topic, "exactly once", { qos: 2, packetId: 7 });
    assert.equal((await pub.client.expect("pubrec")).reasonCode, 0);
    // The subscriber takes it (PUBREC) and is told PUBREL, but never completes.
    const delivered = await sub.client.expect("publish");
    assert.equal(delivered.payload.toString(), "exactly once");
    const outboundId = delivered.packetId as number;
    sub.client.send({ type: "pubrec", packetId: outboundId, reasonCode: 0 });
    assert.equal((await sub.client.expect("pubrel")).packetId, outboundId);
    await node.restart("SIGKILL");

    // Outbound: only the PUBREL is resent, never the PUBLISH [MQTT-4.4.0-1].
    const subBack = await node.connect(persistent(subscriberId));
    assert.equal(subBack.connack.sessionPresent, true);
    const resent = await subBack.client.expect("pubrel");
    assert.equal(resent.packetId, outboundId);
    subBack.client.send({ type: "pubcomp", packetId: outboundId, reasonCode: 0 });

    // Inbound: the publisher resends the PUBLISH (DUP), then PUBREL; the packet id is known,
    // so the message is not routed again.
    const pubBack = await node.connect(persistent(publisherId));
    assert.equal(pubBack.connack.sessionPresent, true);
    pubBack.client.publish(topic, "exactly once", { qos: 2, packetId: 7, dup: true });
    const pubrec = await pubBack.client.expect("pubrec");
    assert.deepEqual([pubrec.packetId, pubrec.reasonCode], [7, 0]);
    pubBack.client.send({ type: "pubrel", packetId: 7, reasonCode: 0 });
    assert.equal((await pubBack.client.expect("pubcomp")).reasonCode, 0);
    assert.deepEqual(await subBack.client.drain(), [], "no second copy");
  });

  test("SIGKILL: a clean session is not kept; an expired persistent one is gone", async () => {
    node = new Node();
    await node.start();
    const cleanId = uniqueName("clean");
    const clean = await node.connect({ clientId: cleanId, version: 5 });
    await clean.client.subscribe([{ topicFilter: uniqueName("t"), qos: 1 }]);
    const shortId = uniqueName("short");
    const short = await node.connect({
      clientId: shortId,
      version: 5,
      cleanStart: false,
      properties: { sessionExpiryInterval: 1 },
    });
    await short.client.subscribe([{ topicFilter: uniqueName("t"), qos: 1 }]);
    await short.client.disconnect();
    await node.restart("SIGKILL");
    await new Promise((resolve) => setTimeout(resolve, 1200));
    assert.equal((await node.connect(persistent(cleanId))).connack.sessionPresent, false);
    assert.equal((await node.connect(persistent(shortId))).connack.sessionPresent, false);
  });
});
