/**
 * The Kafka -> MQTT direction against a real topic store and a stand-in broker: a record the
 * broker fails to publish is skipped, and the records after it still go out.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { KafkaToMqtt } from "../../../src/bridge/kafka-to-mqtt.ts";
import { TopicStore } from "../../../src/broker/kafka/topic-store.ts";
import type { MqttBroker } from "../../../src/broker/mqtt/broker.ts";
import type { Message } from "../../../src/broker/mqtt/message.ts";
import { createLogger } from "../../../src/log/logger.ts";
import { buildRecordBatch } from "../../../src/storage/log/index.ts";

const logger = createLogger({ level: "silent", format: "json" });
const WAIT_MS_MAX = 5000;

test("a record the broker cannot publish is skipped: the partition goes on", async () => {
  const directory = await mkdtemp(join(tmpdir(), "rmq-bridge-"));
  const store = await TopicStore.open(directory, {}, logger);
  const published: string[] = [];
  const attempts = new Map<string, number>();
  // Stands in for the broker: publishing "d/bad" throws, as an encoder assertion once did.
  const broker = {
    publish(message: Message): number {
      attempts.set(message.topic, (attempts.get(message.topic) ?? 0) + 1);
      if (message.topic === "d/bad") throw new Error("assertion failed: stand-in");
      published.push(message.topic);
      return 1;
    },
  } as unknown as MqttBroker;
  const rule = { kafka_topic: "cmd", mqtt_topic: "d/{key}", qos: 1 as const, retain: false };
  const bridge = new KafkaToMqtt([rule], store, broker, directory, logger);
  try {
    const { topic } = await store.create("cmd", 1, {}, "fail");
    await bridge.start();
    const record = (key: string) => ({ timestamp: Date.now(), key: Buffer.from(key), value: null });
    await store.append(topic, 0, buildRecordBatch([record("first"), record("bad")]));
    await store.append(topic, 0, buildRecordBatch([record("after")]));
    const deadline = Date.now() + WAIT_MS_MAX;
    while (published.length < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(published, ["d/first", "d/after"]);
    assert.equal(attempts.get("d/bad"), 1, "tried once, not again and again");
    assert.equal(attempts.get("d/first"), 1, "the record before it is not published again");
    assert.equal(bridge.skipped, 1);
    assert.equal(bridge.failed, 0, "no read failed");
  } finally {
    await bridge.stop();
    await store.close();
    await rm(directory, { recursive: true, force: true });
  }
});
