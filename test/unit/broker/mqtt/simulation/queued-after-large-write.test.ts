/**
 * Found by the backpressure runs of the simulation (seed 204): a QoS 1/2 delivery queued only
 * because this turn's pending output (`outBytes`) already exceeded max_write_buffer_bytes was
 * not sent while the subscriber stayed connected: flushOutput wrote it all, the socket took it
 * (so no 'drain' came) and an empty window brought no acknowledgement to pump the queue. Now
 * flushOutput pumps the queue when the socket is writable again.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MqttBroker } from "../../../../../src/broker/mqtt/broker.ts";
import { defaultConfig } from "../../../../../src/config/load.ts";
import { createLogger } from "../../../../../src/log/logger.ts";
import {
  encode,
  MqttParser,
  type Packet,
  type PublishPacket,
} from "../../../../../src/protocol/mqtt/index.ts";
import { SimSocket, type SocketPeer } from "./sim-socket.ts";

/** A v5 client that sends what it is told and keeps everything it reads. */
class ScriptClient implements SocketPeer {
  readonly received: Packet[] = [];
  readonly socket: SimSocket;
  private readonly parser: MqttParser;

  constructor(broker: MqttBroker, clientId: string) {
    this.socket = new SimSocket(this, clientId);
    this.parser = new MqttParser((packet) => this.received.push(packet), 1 << 20);
    this.parser.protocolVersion = 5;
    broker.accept(this.socket, `script:${clientId}`);
    this.send({
      type: "connect",
      protocolName: "MQTT",
      protocolVersion: 5,
      cleanStart: true,
      keepAlive: 0,
      clientId,
    });
  }

  onServerBytes(_socket: SimSocket, chunk: Buffer): void {
    assert.equal(this.parser.push(chunk), null);
  }

  onServerEnd(): void {}

  send(...packets: Packet[]): void {
    this.socket.send(Buffer.concat(packets.map((packet) => encode(packet, 5))));
  }

  publishes(): PublishPacket[] {
    return this.received.filter((p): p is PublishPacket => p.type === "publish");
  }
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};

test("a QoS 1 message queued behind a large write in the same turn is sent", async () => {
  const config = defaultConfig();
  const limit = 65_536; // the schema's floor
  config.mqtt_limits.max_write_buffer_bytes = limit;
  const broker = new MqttBroker(config, createLogger({ level: "silent", format: "json" }));
  const sub = new ScriptClient(broker, "sub");
  const pub = new ScriptClient(broker, "pub");
  try {
    await settle();
    const options = { noLocal: false, retainAsPublished: false, retainHandling: 0 } as const;
    sub.send({
      type: "subscribe",
      packetId: 1,
      subscriptions: [{ topicFilter: "t/#", qos: 1, ...options }],
    });
    await settle();
    const base = { retain: false, dup: false } as const;
    // One read: a QoS 0 message larger than the write limit, then a QoS 1 message.
    pub.send(
      { type: "publish", topic: "t/big", payload: Buffer.alloc(limit + 1), qos: 0, ...base },
      {
        type: "publish",
        topic: "t/small",
        payload: Buffer.from("q1"),
        qos: 1,
        packetId: 1,
        ...base,
      },
    );
    await settle();
    const topics = sub.publishes().map((p) => p.topic);
    assert.deepEqual(topics, ["t/big", "t/small"], "the QoS 1 message stays in the queue");
  } finally {
    sub.socket.clientReset();
    pub.socket.clientReset();
    await settle();
  }
});
