/**
 * CreatePartitions against the real broker: kafkajs grows a topic that already holds records,
 * the new partitions take produce and fetch, the old ones keep their data, and all of it is
 * there after a restart; Kafka's refusals over the wire for every version; the bridge follows
 * the new partitions.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { fetchRecords } from "../helpers/kafka-wire.ts";
import { connectMqtt, Inbox } from "../helpers/mqtt-clients.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const CONFIG = `[kafka]
group_initial_rebalance_delay_ms = 0
[[bridge.kafka_to_mqtt]]
kafka_topic = "grow"
mqtt_topic = "from-kafka/{partition}"
qos = 1
`;

let broker: BrokerProcess;
let dataDir: string;

function kafkaFor(port: number): Kafka {
  return new Kafka({
    clientId: "create-partitions",
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
  });
}

/** Every record of `partition`, as "key=value". */
async function readPartition(port: number, topic: string, partition: number): Promise<string[]> {
  const records = await fetchRecords(port, topic, partition);
  return records.map((r) => `${r.key?.toString()}=${r.value?.toString()}`);
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "rmq-partitions-"));
  broker = await startBroker({ logLevel: "info", config: CONFIG, dataDir });
});

after(async () => {
  await broker?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test("kafkajs grows a topic with data; new partitions work, old ones keep theirs, across a restart", async () => {
  const mqtt = await connectMqtt(broker.url, { clientId: "bridge-watcher" });
  const inbox = new Inbox(mqtt);
  await mqtt.subscribeAsync("from-kafka/#", { qos: 1 });
  const kafka = kafkaFor(broker.kafkaPort ?? 0);
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer();
  await producer.connect();
  try {
    await admin.createTopics({ topics: [{ topic: "grow", numPartitions: 1 }] });
    await producer.send({ topic: "grow", messages: [{ key: "a", value: "before", partition: 0 }] });
    await inbox.waitForTopic("from-kafka/0");
    await admin.createPartitions({ topicPartitions: [{ topic: "grow", count: 3 }] });
    const metadata = await admin.fetchTopicMetadata({ topics: ["grow"] });
    assert.equal(metadata.topics[0].partitions.length, 3);
    // A producer that learned the topic with 1 partition drops records for partition 2 until
    // its metadata is refreshed; a new one learns 3.
    const later = kafka.producer();
    await later.connect();
    const sent = await later.send({
      topic: "grow",
      messages: [{ key: "b", value: "after", partition: 2 }],
    });
    await later.disconnect();
    assert.equal(sent[0]?.partition, 2);
    const bridged = await inbox.waitForTopic("from-kafka/2");
    assert.equal(bridged.payload.toString(), "after", "the bridge follows a new partition");
  } finally {
    await producer.disconnect();
    await admin.disconnect();
    await mqtt.endAsync();
  }
  await broker.stop();
  broker = await startBroker({ logLevel: "info", config: CONFIG, dataDir });
  const port = broker.kafkaPort ?? 0;
  assert.deepEqual(await readPartition(port, "grow", 0), ["a=before"]);
  assert.deepEqual(await readPartition(port, "grow", 1), []);
  assert.deepEqual(await readPartition(port, "grow", 2), ["b=after"]);
});

test("refusals over the wire, for every version; validate_only changes nothing", async () => {
  const port = broker.kafkaPort ?? 0;
  const client = await WireClient.connect(port);
  try {
    await client.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: "fixed", numPartitions: 2, replicationFactor: 1 }],
      timeoutMs: 1000,
    });
    for (let version = 0; version <= 3; version++) {
      const response = await client.request(ApiKey.CreatePartitions, version, {
        topics: [
          { name: "missing", count: 2, assignments: null },
          { name: "fixed", count: 2, assignments: null },
          { name: "fixed", count: 1, assignments: null },
          { name: "twice", count: 5, assignments: null },
          { name: "twice", count: 5, assignments: null },
        ],
        timeoutMs: 1000,
        validateOnly: false,
      });
      assert.deepEqual(
        response.results.map((r) => [r.name, r.errorCode]),
        [
          ["missing", KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
          ["fixed", KafkaError.INVALID_REQUEST],
          ["fixed", KafkaError.INVALID_REQUEST],
          ["twice", KafkaError.INVALID_REQUEST],
          ["twice", KafkaError.INVALID_REQUEST],
        ],
        `v${version}`,
      );
      const single = async (count: number, assignments: Array<{ brokerIds: number[] }> | null) => {
        const answer = await client.request(ApiKey.CreatePartitions, version, {
          topics: [{ name: "fixed", count, assignments }],
          timeoutMs: 1000,
          validateOnly: true,
        });
        return answer.results[0];
      };
      assert.equal((await single(2, null)).errorCode, KafkaError.INVALID_PARTITIONS);
      assert.match((await single(1, null)).errorMessage ?? "", /would not be an increase/);
      assert.equal((await single(10_001, null)).errorCode, KafkaError.INVALID_PARTITIONS);
      const wrongBroker = await single(3, [{ brokerIds: [99] }]);
      assert.equal(wrongBroker.errorCode, KafkaError.INVALID_REPLICA_ASSIGNMENT);
      const tooFew = await single(4, [{ brokerIds: [1] }]);
      assert.equal(tooFew.errorCode, KafkaError.INVALID_REPLICA_ASSIGNMENT);
      assert.equal((await single(4, [{ brokerIds: [1] }, { brokerIds: [1] }])).errorCode, 0);
    }
    const metadata = await client.request(ApiKey.Metadata, 8, {
      topics: [{ name: "fixed" }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    assert.equal(metadata.topics[0].partitions.length, 2, "validate_only created nothing");
  } finally {
    client.close();
  }
});

test("a bridge rule on a topic that had history before it does not replay it when the topic grows", async () => {
  const dir = mkdtempSync(join(tmpdir(), "rmq-partitions-bridge-"));
  try {
    const plain = await startBroker({ logLevel: "info", dataDir: dir });
    const before = kafkaFor(plain.kafkaPort ?? 0);
    const admin = before.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "hist", numPartitions: 1 }] });
    await admin.disconnect();
    const oldProducer = before.producer();
    await oldProducer.connect();
    await oldProducer.send({ topic: "hist", messages: [{ value: "old" }] });
    await oldProducer.disconnect();
    await plain.stop();
    const bridged = await startBroker({
      logLevel: "info",
      dataDir: dir,
      config:
        '[[bridge.kafka_to_mqtt]]\nkafka_topic = "hist"\nmqtt_topic = "hist-out/{partition}"\n',
    });
    try {
      const mqtt = await connectMqtt(bridged.url, { clientId: "hist-watcher" });
      const inbox = new Inbox(mqtt);
      await mqtt.subscribeAsync("hist-out/#", { qos: 1 });
      const kafka = kafkaFor(bridged.kafkaPort ?? 0);
      const grow = kafka.admin();
      await grow.connect();
      await grow.createPartitions({ topicPartitions: [{ topic: "hist", count: 2 }] });
      await grow.disconnect();
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: "hist",
        messages: [
          { value: "new-0", partition: 0 },
          { value: "new-1", partition: 1 },
        ],
      });
      await producer.disconnect();
      await inbox.waitFor(2);
      // Long enough for a replay of partition 0 from its start to have arrived.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.deepEqual(inbox.payloads().sort(), ["new-0", "new-1"]);
      await mqtt.endAsync();
    } finally {
      await bridged.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
