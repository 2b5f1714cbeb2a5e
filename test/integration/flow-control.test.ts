import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { encode } from "../../src/protocol/mqtt/index.ts";
import type { PublishPacket } from "../../src/protocol/mqtt/packets.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { uniqueName, withTimeout } from "../helpers/mqtt-clients.ts";
import { connectRaw, type RawClient } from "../helpers/raw-client.ts";

/**
 * Backpressure: a publisher that outruns an online subscriber is read more slowly instead of
 * having its acknowledged messages dropped; a subscriber that stops reading is given up on.
 */
describe("flow control between publishers and subscribers", () => {
  let broker: BrokerProcess;
  const clients: RawClient[] = [];

  before(async () => {
    broker = await startBroker({
      config: "[mqtt_limits]\nmax_queued_messages = 20\nmax_inflight_messages = 5\n",
      logLevel: "info",
    });
  });
  after(async () => {
    for (const c of clients) c.destroy();
    assert.equal(await broker.stop(), 0);
  });

  async function client(prefix: string, keepAlive?: number): Promise<RawClient> {
    const { client } = await connectRaw(broker.port, { clientId: uniqueName(prefix), keepAlive });
    clients.push(client);
    return client;
  }

  /** Sends `count` QoS 1 PUBLISH packets in one write, without waiting for any PUBACK. */
  function burst(publisher: RawClient, topic: string, count: number): void {
    const packets: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const packet: PublishPacket = {
        type: "publish",
        topic,
        payload: Buffer.from(String(i)),
        qos: 1,
        retain: false,
        dup: false,
        packetId: (i % 65535) + 1,
      };
      packets.push(encode(packet, 5));
    }
    publisher.sendBytes(Buffer.concat(packets));
  }

  /** Receives and acknowledges `count` QoS 1 messages, returning their payloads in order. */
  async function receiveAll(subscriber: RawClient, count: number): Promise<string[]> {
    const payloads: string[] = [];
    while (payloads.length < count) {
      const packet = await subscriber.expect("publish");
      payloads.push(packet.payload.toString());
      subscriber.send({ type: "puback", packetId: packet.packetId as number, reasonCode: 0 });
    }
    return payloads;
  }

  test("a burst 100x the subscriber's queue arrives complete and in order", async () => {
    const topic = uniqueName("flow/burst");
    const subscriber = await client("flow-sub");
    await subscriber.subscribe([{ topicFilter: topic, qos: 1 }]);
    const publisher = await client("flow-pub");
    const count = 2000;
    burst(publisher, topic, count);
    const payloads = await withTimeout(receiveAll(subscriber, count), 20_000, "burst delivery");
    assert.deepEqual(
      payloads,
      Array.from({ length: count }, (_, i) => String(i)),
    );
    assert.deepEqual(await subscriber.drain(), []);
  });

  test("a subscriber that stops reading no longer holds back the others", async () => {
    const topic = uniqueName("flow/stuck");
    const stuck = await client("flow-stuck");
    await stuck.subscribe([{ topicFilter: topic, qos: 1 }]);
    const healthy = await client("flow-healthy");
    await healthy.subscribe([{ topicFilter: topic, qos: 1 }]);
    const publisher = await client("flow-pub2");
    const count = 300;
    const startedMs = Date.now();
    burst(publisher, topic, count);
    const payloads = await withTimeout(receiveAll(healthy, count), 10_000, "healthy delivery");
    assert.equal(payloads.length, count);
    assert.deepEqual(payloads.slice(0, 3), ["0", "1", "2"]);
    // The healthy subscriber waited for the stuck one at most about the flow-control limit.
    assert.ok(Date.now() - startedMs < 8000);
    await broker.waitForLog((l) => String(l.msg).startsWith("subscriber not keeping up"));
    // The stuck subscriber got its window (5) and nothing more while it does not ack.
    let unacked = 0;
    for (const packet of stuck.received) if (packet.type === "publish") unacked++;
    assert.equal(unacked, 5);
  });

  test("a publisher held back longer than its keep alive is not cut off for our silence", async () => {
    const topic = uniqueName("flow/held");
    const silent = await client("flow-noack"); // reads, never acknowledges: its window fills
    await silent.subscribe([{ topicFilter: topic, qos: 1 }]);
    const publisher = await client("flow-held", 1); // 1.5 s to be heard from
    burst(publisher, topic, 100);
    // The broker stops reading the publisher until the subscriber is given up on (about 2 s),
    // while the publisher keeps pinging as a client should.
    let pings = 0;
    for (let elapsedMs = 0; elapsedMs < 3000; elapsedMs += 500) {
      publisher.send({ type: "pingreq" });
      pings++;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    // Every ping is answered once it is read again; a DISCONNECT 0x8D would show up here.
    const seen: string[] = [];
    while (seen.filter((type) => type === "pingresp").length < pings) {
      const packet = await publisher.next(5000);
      assert.ok(packet.type === "puback" || packet.type === "pingresp", `got ${packet.type}`);
      seen.push(packet.type);
    }
    assert.equal(publisher.closed, false);
  });
});
