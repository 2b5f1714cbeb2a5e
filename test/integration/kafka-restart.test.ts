/**
 * Topics and their data survive a restart of the broker process; with auto-create off, unknown
 * topics are refused.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { buildRecordBatch } from "../../src/storage/log/index.ts";
import { startBroker } from "../helpers/broker-process.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

function client(port: number | null): Kafka {
  assert.ok(port !== null);
  return new Kafka({
    clientId: "restart-test",
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 1, initialRetryTime: 50 },
  });
}

test("topics, offsets and records survive a restart", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rmq-kafka-restart-"));
  try {
    const first = await startBroker({ dataDir, logLevel: "info" });
    try {
      const kafka = client(first.kafkaPort);
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: "durable", numPartitions: 2 }] });
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: "durable",
        messages: [
          { partition: 0, value: "a" },
          { partition: 1, value: "b" },
          { partition: 1, value: "c" },
        ],
      });
      await producer.disconnect();
    } finally {
      assert.equal(await first.stop(), 0);
    }

    const second = await startBroker({ dataDir, logLevel: "info" });
    try {
      const kafka = client(second.kafkaPort);
      const admin = kafka.admin();
      await admin.connect();
      assert.deepEqual(await admin.listTopics(), ["durable"]);
      assert.deepEqual(
        (await admin.fetchTopicOffsets("durable")).map((o) => [o.partition, o.high]),
        [
          [0, "1"],
          [1, "2"],
        ],
      );
      await admin.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      const [result] = await producer.send({
        topic: "durable",
        messages: [{ partition: 1, value: "d" }],
      });
      await producer.disconnect();
      assert.equal(result.baseOffset, "2", "offsets continue after the restart");
    } finally {
      assert.equal(await second.stop(), 0);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("with auto_create_topics = false an unknown topic is refused", async () => {
  const broker = await startBroker({ config: "[kafka]\nauto_create_topics = false\n" });
  try {
    const producer = client(broker.kafkaPort).producer();
    await producer.connect();
    await assert.rejects(
      producer.send({ topic: "nowhere", messages: [{ value: "x" }] }),
      /does not host this topic-partition|UNKNOWN_TOPIC/i,
    );
    await producer.disconnect();

    const wire = await WireClient.connect(broker.kafkaPort ?? 0);
    const batch = buildRecordBatch([{ timestamp: Date.now(), key: null, value: Buffer.from("x") }]);
    const response = await wire.request(ApiKey.Produce, 8, {
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ name: "nowhere", partitionData: [{ index: 0, records: batch }] }],
    });
    assert.equal(response.responses[0].partitionResponses[0].errorCode, 3);
    const metadata = await wire.request(ApiKey.Metadata, 8, {
      topics: [{ name: "nowhere" }],
      allowAutoTopicCreation: true,
    });
    assert.equal(metadata.topics[0].errorCode, 3);
    wire.close();
  } finally {
    await broker.stop();
  }
});

test("topic names of the longest length Kafka allows are created, auto-created and kept", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rmq-kafka-long-names-"));
  // 249 characters: `<name>.json.tmp` would be 258 bytes, past a file name's 255.
  const created = "created-".padEnd(249, "c");
  const automatic = "automatic-".padEnd(249, "a");
  const batch = buildRecordBatch([{ timestamp: Date.now(), key: null, value: Buffer.from("x") }]);
  const topic = (name: string) => ({ name, numPartitions: 2, replicationFactor: 1 });
  try {
    const first = await startBroker({ dataDir, logLevel: "info" });
    try {
      const wire = await WireClient.connect(first.kafkaPort ?? 0);
      for (const validateOnly of [true, false]) {
        const answer = await wire.request(ApiKey.CreateTopics, 4, {
          topics: [topic(created)],
          timeoutMs: 5000,
          validateOnly,
        });
        assert.equal(answer.topics[0].errorCode, 0, `validateOnly ${validateOnly}`);
      }
      const metadata = await wire.request(ApiKey.Metadata, 8, {
        topics: [{ name: automatic }],
        allowAutoTopicCreation: true,
      });
      assert.equal(metadata.topics[0].errorCode, 0, "auto-created");
      for (const name of [created, automatic]) {
        const produced = await wire.request(ApiKey.Produce, 8, {
          acks: -1,
          timeoutMs: 1000,
          topicData: [{ name, partitionData: [{ index: 0, records: Buffer.from(batch) }] }],
        });
        assert.equal(produced.responses[0].partitionResponses[0].errorCode, 0);
      }
      wire.close();
    } finally {
      assert.equal(await first.stop(), 0);
    }

    const second = await startBroker({ dataDir, logLevel: "info" });
    try {
      const wire = await WireClient.connect(second.kafkaPort ?? 0);
      const metadata = await wire.request(ApiKey.Metadata, 8, { topics: null });
      assert.deepEqual(metadata.topics.map((t) => t.name).sort(), [automatic, created].sort());
      for (const name of [created, automatic]) {
        const offsets = await wire.request(ApiKey.ListOffsets, 5, {
          replicaId: -1,
          topics: [{ name, partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
        });
        assert.equal(offsets.topics[0].partitions[0].offset, 1n, `${name.slice(0, 9)} kept`);
      }
      wire.close();
    } finally {
      assert.equal(await second.stop(), 0);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("offsets left by a crash in the middle of a topic's deletion are gone at the next start", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rmq-kafka-orphans-"));
  const committed = async (port: number | null, topic: string) => {
    const admin = client(port).admin();
    await admin.connect();
    try {
      return await admin.fetchOffsets({ groupId: "orphans", topics: [topic] });
    } finally {
      await admin.disconnect();
    }
  };
  try {
    const first = await startBroker({ dataDir, logLevel: "info" });
    try {
      const admin = client(first.kafkaPort).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: "doomed" }, { topic: "kept" }] });
      for (const topic of ["doomed", "kept"]) {
        await admin.setOffsets({
          groupId: "orphans",
          topic,
          partitions: [{ partition: 0, offset: "0" }],
        });
      }
      await admin.disconnect();
    } finally {
      assert.equal(await first.stop(), 0);
    }
    // What a crash after the topic's file went, and before its offsets did, leaves behind.
    rmSync(join(dataDir, "kafka", "topics", "doomed.json"));

    const second = await startBroker({ dataDir, logLevel: "info" });
    try {
      await second.waitForLog(
        (l) =>
          l.msg === "removed committed offsets of deleted topics" && String(l.topics) === "doomed",
        5000,
      );
      const admin = client(second.kafkaPort).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: "doomed" }] });
      await admin.disconnect();
      const [doomed] = await committed(second.kafkaPort, "doomed");
      assert.deepEqual(doomed.partitions, [{ partition: 0, offset: "-1", metadata: null }]);
      const [kept] = await committed(second.kafkaPort, "kept");
      assert.equal(kept.partitions[0].offset, "0", "other topics keep theirs");
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
