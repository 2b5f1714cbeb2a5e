/**
 * DeleteRecords and restarts: the new log start offset survives a graceful restart and a kill -9
 * right after the answer (also when it is the whole log), offsets then go on from it; a bridge
 * whose position is below the new start resumes from it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import mqtt from "mqtt";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { startBroker } from "../helpers/broker-process.ts";
import {
  answers,
  consumeAll,
  deleteRecords,
  fetchAt,
  kafkaFor,
  listOffset,
  produce,
  SMALL_SEGMENTS,
  values,
} from "../helpers/delete-records.ts";
import { connectMqtt, Inbox } from "../helpers/mqtt-clients.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

test("the new start survives a restart, and a kill -9 right after the answer", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rmq-delete-records-"));
  let node = await startBroker({ logLevel: "info", dataDir });
  try {
    const admin = kafkaFor(node.kafkaPort ?? 0).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "durable", configEntries: SMALL_SEGMENTS }] });
    await admin.fetchTopicMetadata({ topics: ["durable"] });
    await produce(node.kafkaPort ?? 0, "durable", 0, values("d", 20));
    await admin.deleteTopicRecords({
      topic: "durable",
      partitions: [{ partition: 0, offset: "7" }],
    });
    await admin.disconnect();
    await node.stop();
    node = await startBroker({ logLevel: "info", dataDir });
    const client = await WireClient.connect(node.kafkaPort ?? 0);
    try {
      assert.equal(await listOffset(client, "durable", 0, -2n), 7n, "after a restart");
      const answer = await deleteRecords(client, 2, [
        { name: "durable", partitions: [{ partitionIndex: 0, offset: 13n }] },
      ]);
      assert.deepEqual(answers(answer), [["durable", 0, 13n, KafkaError.NONE]]);
    } finally {
      client.close();
    }
    await node.stop("SIGKILL");
    node = await startBroker({ logLevel: "info", dataDir });
    const after = await WireClient.connect(node.kafkaPort ?? 0);
    try {
      assert.equal(await listOffset(after, "durable", 0, -2n), 13n, "after kill -9");
      assert.equal(await listOffset(after, "durable", 0, -1n), 20n);
      const fetched = await fetchAt(after, "durable", 0, 12n);
      assert.equal(fetched.errorCode, KafkaError.OFFSET_OUT_OF_RANGE);
      const all = await deleteRecords(after, 0, [
        { name: "durable", partitions: [{ partitionIndex: 0, offset: -1n }] },
      ]);
      assert.deepEqual(answers(all), [["durable", 0, 20n, KafkaError.NONE]]);
    } finally {
      after.close();
    }
    await node.stop("SIGKILL");
    node = await startBroker({ logLevel: "info", dataDir });
    const port2 = node.kafkaPort ?? 0;
    const last = await WireClient.connect(port2);
    try {
      assert.equal(await listOffset(last, "durable", 0, -2n), 20n, "the whole log, after kill -9");
      await produce(port2, "durable", 0, ["after"]);
      assert.equal(await listOffset(last, "durable", 0, -1n), 21n, "offsets go on from 20");
    } finally {
      last.close();
    }
    const seen = await consumeAll(
      kafkaFor(port2).consumer({ groupId: "durable-reader" }),
      "durable",
      1,
    );
    assert.deepEqual(seen, ["0:after"]);
  } finally {
    await node.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("the bridge, behind the new start after a restart, resumes from it", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rmq-delete-records-bridge-"));
  const rule =
    '[[bridge.kafka_to_mqtt]]\nkafka_topic = "bridged"\nmqtt_topic = "out/{partition}"\nqos = 1\n';
  let node = await startBroker({ logLevel: "info", dataDir, config: rule });
  try {
    // A persistent MQTT session collects what the bridge publishes while it is away.
    const watcher = await connectMqtt(node.url, { clientId: "bridge-watcher", clean: false });
    await watcher.subscribeAsync("out/#", { qos: 1 });
    const inbox = new Inbox(watcher);
    const admin = kafkaFor(node.kafkaPort ?? 0).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "bridged", configEntries: SMALL_SEGMENTS }] });
    await admin.disconnect();
    await produce(node.kafkaPort ?? 0, "bridged", 0, values("m", 3));
    await inbox.waitFor(3);
    await watcher.endAsync();
    await node.stop();
    // Without the rule: records the bridge has not published, then most of them deleted.
    node = await startBroker({ logLevel: "info", dataDir });
    await produce(node.kafkaPort ?? 0, "bridged", 0, values("n", 10));
    const client = await WireClient.connect(node.kafkaPort ?? 0);
    const answer = await deleteRecords(client, 2, [
      { name: "bridged", partitions: [{ partitionIndex: 0, offset: 10n }] },
    ]);
    client.close();
    assert.deepEqual(answers(answer), [["bridged", 0, 10n, KafkaError.NONE]]);
    await node.stop();
    node = await startBroker({ logLevel: "info", dataDir, config: rule });
    // The queued messages follow CONNACK at once: the inbox must listen before the connect.
    const back = mqtt.connect(node.url, {
      clientId: "bridge-watcher",
      clean: false,
      reconnectPeriod: 0,
    });
    const later = new Inbox(back);
    await new Promise((resolve) => back.once("connect", resolve));
    try {
      await later.waitFor(3);
      await produce(node.kafkaPort ?? 0, "bridged", 0, ["after"]);
      await later.waitFor(4);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const payloads = later.payloads().map((p) => p.replace(/\.+$/, ""));
      assert.deepEqual(payloads, ["n7", "n8", "n9", "after"]);
      assert.ok(!node.logs.some((l) => l.msg === "bridge: Kafka read failed"));
    } finally {
      await back.endAsync();
    }
  } finally {
    await node.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
