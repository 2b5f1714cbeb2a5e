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
import { ScriptClient, settle as settleTurns } from "./script-client.ts";

const settle = () => settleTurns(10);

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
