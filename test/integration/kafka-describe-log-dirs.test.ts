/**
 * DescribeLogDirs against the real broker, at every version: one log directory (the Kafka data
 * directory, absolute), each existing partition with the bytes its segments hold, requested
 * partitions that do not exist left out, and from v4 the volume's size and free space.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { after, before, test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { fetchBatches } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

let broker: BrokerProcess;
let port: number;

before(async () => {
  broker = await startBroker({ logLevel: "info" });
  port = broker.kafkaPort ?? 0;
  const kafka = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: "dirs-a", numPartitions: 2 },
      { topic: "dirs-b", numPartitions: 1 },
    ],
  });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < 3; i++) {
    const value = Buffer.alloc(1000 + i, i);
    await producer.send({ topic: "dirs-a", messages: [{ value, partition: 0 }] });
  }
  await producer.disconnect();
});

after(async () => {
  await broker?.stop();
});

test("every version: the data directory, each partition's size, the volume from v4", async () => {
  const stored = (await fetchBatches(port, "dirs-a", 0)).length;
  assert.ok(stored > 3000, "three batches of about 1 KB");
  const client = await WireClient.connect(port);
  try {
    for (let version = 0; version <= 4; version++) {
      const all = await client.request(ApiKey.DescribeLogDirs, version, { topics: null });
      if (version >= 3) assert.equal(all.errorCode, 0);
      assert.equal(all.results.length, 1, `v${version}: one log directory`);
      const [dir] = all.results;
      assert.equal(dir.errorCode, 0);
      assert.ok(isAbsolute(dir.logDir), dir.logDir);
      assert.ok(existsSync(join(dir.logDir, "dirs-a-0")), "the partitions live there");
      const sizes = Object.fromEntries(
        dir.topics.flatMap((t) =>
          t.partitions.map((p) => [`${t.name}/${p.partitionIndex}`, Number(p.partitionSize)]),
        ),
      );
      assert.deepEqual(sizes, { "dirs-a/0": stored, "dirs-a/1": 0, "dirs-b/0": 0 }, `v${version}`);
      for (const partition of dir.topics.flatMap((t) => t.partitions)) {
        assert.equal(partition.offsetLag, 0n);
        assert.equal(partition.isFutureKey, false);
      }
      if (version >= 4) {
        assert.ok(dir.totalBytes > 0n && dir.usableBytes >= 0n, "the volume's sizes");
        assert.ok(dir.usableBytes <= dir.totalBytes);
      }
    }
  } finally {
    client.close();
  }
});

test("only the requested partitions that exist, a topic named twice merged", async () => {
  const client = await WireClient.connect(port);
  try {
    const answer = await client.request(ApiKey.DescribeLogDirs, 4, {
      topics: [
        { topic: "dirs-a", partitions: [1, 7] },
        { topic: "missing", partitions: [0] },
        { topic: "dirs-a", partitions: [0] },
      ],
    });
    const listed = answer.results[0].topics.map((t) => [
      t.name,
      t.partitions.map((p) => p.partitionIndex),
    ]);
    assert.deepEqual(listed, [["dirs-a", [0, 1]]]);
    const none = await client.request(ApiKey.DescribeLogDirs, 1, { topics: [] });
    assert.deepEqual(none.results[0].topics, [], "an empty list asks for nothing");
  } finally {
    client.close();
  }
});
