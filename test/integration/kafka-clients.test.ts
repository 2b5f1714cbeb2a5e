/**
 * Real Kafka clients against the broker process: kafkajs (producer and admin). Fetched data is
 * checked with a raw Fetch whose record batches are decoded by the storage layer's reader;
 * kafkajs consumers are in kafka-groups.test.ts, kcat (librdkafka) in the interop suite
 * (test/interop/kcat.test.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { fetchRecords } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

let broker: BrokerProcess;
let kafka: Kafka;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
  broker = await startBroker({ logLevel: "info" });
  assert.ok(broker.kafkaPort !== null, "the broker logged a kafka listener");
  kafka = new Kafka({
    clientId: "robustmq-test",
    brokers: [`127.0.0.1:${broker.kafkaPort}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 50 },
  });
});

after(async () => {
  await broker?.stop();
});

/** Every record value in a partition from offset 0, read with a raw Fetch v11. */
async function fetchValues(topic: string, partition: number): Promise<string[]> {
  const records = await fetchRecords(broker.kafkaPort ?? 0, topic, partition);
  return records.map((r) => String(r.value));
}

async function offsets(topic: string): Promise<Map<number, { high: string; low: string }>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const list = await admin.fetchTopicOffsets(topic);
    return new Map(list.map((o) => [o.partition, { high: o.high, low: o.low }]));
  } finally {
    await admin.disconnect();
  }
}

describe("kafkajs producer", () => {
  test("produces to every partition with acks -1, 1 and 0", async () => {
    const admin = kafka.admin();
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic: "acks", numPartitions: 3 }] }), true);
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    for (const acks of [-1, 1]) {
      const result = await producer.send({
        topic: "acks",
        acks,
        messages: [0, 1, 2].map((partition) => ({ partition, value: `acks${acks}-p${partition}` })),
      });
      assert.deepEqual(
        result.map((r) => r.errorCode),
        [0, 0, 0],
      );
    }
    await producer.send({ topic: "acks", acks: 0, messages: [{ partition: 1, value: "acks0" }] });
    // acks = 0 has no response: wait, bounded, until the append is visible.
    const deadline = Date.now() + 5000;
    while ((await offsets("acks")).get(1)?.high !== "3" && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await producer.disconnect();
    const after = await offsets("acks");
    assert.deepEqual(after.get(0), { high: "2", low: "0" });
    assert.deepEqual(after.get(1), { high: "3", low: "0" });
    assert.deepEqual(after.get(2), { high: "2", low: "0" });
    assert.deepEqual(await fetchValues("acks", 1), ["acks-1-p1", "acks1-p1", "acks0"]);
  });

  test("auto-creates a topic on first use and keeps batch order", async () => {
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    await producer.connect();
    for (let i = 0; i < 5; i++) {
      await producer.send({
        topic: "auto-created",
        messages: [{ value: `m${i}a` }, { value: `m${i}b` }],
      });
    }
    await producer.disconnect();
    assert.deepEqual(await fetchValues("auto-created", 0), [
      ...[0, 1, 2, 3, 4].flatMap((i) => [`m${i}a`, `m${i}b`]),
    ]);
  });

  test("ListOffsets: earliest, latest and by timestamp", async () => {
    const producer = kafka.producer();
    await producer.connect();
    const base = Date.now() - 60_000;
    for (let i = 0; i < 4; i++) {
      await producer.send({
        topic: "timed",
        messages: [{ value: `t${i}`, timestamp: String(base + i * 1000) }],
      });
    }
    await producer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    const byTime = await admin.fetchTopicOffsetsByTimestamp("timed", base + 1500);
    assert.deepEqual(byTime, [{ partition: 0, offset: "2" }]);
    const past = await admin.fetchTopicOffsetsByTimestamp("timed", base + 10_000);
    // No record that late: Kafka answers -1, which kafkajs replaces with the latest offset.
    assert.equal(past[0].offset, "4");
    assert.deepEqual(await admin.fetchTopicOffsets("timed"), [
      { partition: 0, offset: "4", high: "4", low: "0" },
    ]);
    await admin.disconnect();
  });
});

describe("kafkajs admin", () => {
  test("creates, lists and deletes topics, with Kafka's error codes", async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.equal(
        await admin.createTopics({ topics: [{ topic: "admin-a", numPartitions: 2 }] }),
        true,
      );
      assert.equal(await admin.createTopics({ topics: [{ topic: "admin-a" }] }), false);
      const metadata = await admin.fetchTopicMetadata({ topics: ["admin-a"] });
      assert.equal(metadata.topics[0].partitions.length, 2);
      await assert.rejects(
        admin.createTopics({ topics: [{ topic: "bad/name" }] }),
        (err: Error & { errors?: Array<{ type: string }> }) =>
          err.errors?.[0]?.type === "INVALID_TOPIC_EXCEPTION",
      );
      await assert.rejects(
        admin.createTopics({ topics: [{ topic: "replicated", replicationFactor: 3 }] }),
        (err: Error & { errors?: Array<{ type: string }> }) =>
          err.errors?.[0]?.type === "INVALID_REPLICATION_FACTOR",
      );
      await assert.rejects(
        admin.createTopics({
          topics: [{ topic: "configured", configEntries: [{ name: "no.such", value: "1" }] }],
        }),
        (err: Error & { errors?: Array<{ type: string }> }) =>
          err.errors?.[0]?.type === "INVALID_CONFIG",
      );
      assert.ok((await admin.listTopics()).includes("admin-a"));
      await admin.deleteTopics({ topics: ["admin-a"] });
      assert.ok(!(await admin.listTopics()).includes("admin-a"));
      await assert.rejects(
        admin.deleteTopics({ topics: ["admin-a"] }),
        /does not host this topic-partition|UNKNOWN_TOPIC/i,
      );
    } finally {
      await admin.disconnect();
    }
  });
});

describe("long polling", () => {
  test("a fetch waits for data up to max_wait_ms and returns as soon as it arrives", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "polled" }] });
    await admin.disconnect();
    const client = await WireClient.connect(broker.kafkaPort ?? 0);
    const fetch = (maxWaitMs: number) =>
      client.request(
        ApiKey.Fetch,
        11,
        {
          replicaId: -1,
          maxWaitMs,
          minBytes: 1,
          maxBytes: 1_000_000,
          topics: [
            {
              topic: "polled",
              partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1_000_000 }],
            },
          ],
        },
        10_000,
      );
    try {
      let started = Date.now();
      const empty = await fetch(300);
      assert.ok(Date.now() - started >= 250, "waited for max_wait_ms");
      assert.equal(empty.responses[0].partitions[0].records?.length, 0);
      started = Date.now();
      const pending = fetch(5000);
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic: "polled", messages: [{ value: "wake" }] });
      await producer.disconnect();
      const woken = await pending;
      assert.ok(Date.now() - started < 4000, "returned before max_wait_ms");
      assert.ok((woken.responses[0].partitions[0].records?.length ?? 0) > 0);
      assert.equal(woken.responses[0].partitions[0].highWatermark, 1n);
    } finally {
      client.close();
    }
  });
});
