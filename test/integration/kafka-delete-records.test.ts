/**
 * DeleteRecords against the real broker: kafkajs' admin.deleteTopicRecords truncates partitions'
 * heads; consumers from the earliest offset see only what remains, one positioned below the new
 * start gets OFFSET_OUT_OF_RANGE and kafkajs resets it; ListOffsets and Fetch report the new start;
 * the segments below it leave the disk; Kafka's refusals over the wire at every version; the
 * ACL's `admin` action. Restarts, kill -9 and the bridge: kafka-delete-records-durable.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { logCreator } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { ADMIN_CONFIG, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import {
  answers,
  consumeAll,
  deleteRecords,
  fetchAt,
  kafkaFor,
  listOffset,
  produce,
  SMALL_SEGMENTS,
  segmentFiles,
  values,
} from "../helpers/delete-records.ts";
import { plainWireClient } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

let broker: BrokerProcess;
let port: number;

before(async () => {
  broker = await startBroker({
    logLevel: "info",
    config: "[kafka]\ngroup_initial_rebalance_delay_ms = 0\n",
  });
  port = broker.kafkaPort ?? 0;
});

after(async () => {
  await broker?.stop();
});

test("kafkajs deleteTopicRecords: earliest readers see only the rest; ListOffsets, Fetch and the disk follow", async () => {
  const admin = kafkaFor(port).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic: "purge", numPartitions: 2, configEntries: SMALL_SEGMENTS }],
    });
    // kafkajs finds the partitions' leaders in metadata it already has, so it must know the topic.
    await admin.fetchTopicMetadata({ topics: ["purge"] });
    await produce(port, "purge", 0, values("a", 30));
    await produce(port, "purge", 1, values("b", 5));
    const segmentsBefore = segmentFiles(broker.dataDir, "purge", 0);
    assert.ok(segmentsBefore.length >= 4, `${segmentsBefore.length} segments`);
    await admin.deleteTopicRecords({
      topic: "purge",
      partitions: [
        { partition: 0, offset: "17" },
        { partition: 1, offset: "-1" },
      ],
    });
    const offsets = await admin.fetchTopicOffsets("purge");
    const byPartition = new Map(offsets.map((o) => [o.partition, [o.low, o.high]]));
    assert.deepEqual(byPartition.get(0), ["17", "30"]);
    assert.deepEqual(byPartition.get(1), ["5", "5"]);
    // The segments wholly below 17 are gone from the disk; the one holding 17 stays.
    const segmentsAfter = segmentFiles(broker.dataDir, "purge", 0);
    assert.ok(segmentsAfter[0] <= 17 && segmentsAfter[0] > segmentsBefore[0], `${segmentsAfter}`);
    assert.ok(segmentsAfter.length < segmentsBefore.length);
    // Partition 1 lost everything: even its active segment went (it rolled first).
    assert.deepEqual(segmentFiles(broker.dataDir, "purge", 1), [5]);
  } finally {
    await admin.disconnect();
  }
  const client = await WireClient.connect(port);
  try {
    const below = await fetchAt(client, "purge", 0, 3n);
    assert.equal(below.errorCode, KafkaError.OFFSET_OUT_OF_RANGE);
    assert.equal(below.logStartOffset, 17n);
    assert.equal(below.highWatermark, 30n);
    const at = await fetchAt(client, "purge", 0, 17n);
    assert.equal(at.errorCode, 0);
    assert.equal(at.logStartOffset, 17n);
    assert.equal(await listOffset(client, "purge", 0, -2n), 17n);
    assert.equal(await listOffset(client, "purge", 1, -2n), 5n);
  } finally {
    client.close();
  }
  const line = await broker.waitForLog(
    (l) => l.msg === "Kafka records deleted" && l.partition === 0,
  );
  assert.equal(line.topic, "purge");
  assert.equal(line.logStartOffset, 17);
  assert.equal(line.user, null, "an anonymous client");
  assert.equal(line.level, "info");

  // A consumer from the earliest offset sees exactly what remains.
  const fresh = kafkaFor(port).consumer({ groupId: "purge-fresh" });
  const seen = await consumeAll(fresh, "purge", 13);
  assert.deepEqual(
    seen,
    values("a", 30)
      .slice(17)
      .map((v) => `0:${v}`),
  );
});

test("a consumer committed below the new start gets OFFSET_OUT_OF_RANGE and kafkajs resets it", async () => {
  const admin = kafkaFor(port).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: "lag", configEntries: SMALL_SEGMENTS }] });
    await admin.fetchTopicMetadata({ topics: ["lag"] });
    await produce(port, "lag", 0, values("l", 12));
    await admin.setOffsets({
      groupId: "laggard",
      topic: "lag",
      partitions: [{ partition: 0, offset: "2" }],
    });
    await admin.deleteTopicRecords({ topic: "lag", partitions: [{ partition: 0, offset: "9" }] });
  } finally {
    await admin.disconnect();
  }
  const logged: string[] = [];
  const capture: logCreator = () => (entry) => {
    logged.push(entry.log.message);
  };
  const consumer = kafkaFor(port, capture).consumer({ groupId: "laggard" });
  const seen = await consumeAll(consumer, "lag", 3);
  assert.deepEqual(seen, ["0:l9", "0:l10", "0:l11"]);
  assert.ok(
    logged.some((m) => m.startsWith("Offset out of range, resetting to default offset")),
    logged.join("\n"),
  );
});

test("over the wire, every version: -1, below the start, above the high watermark, unknown, duplicates", async () => {
  const admin = kafkaFor(port).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: "wire", numPartitions: 2 },
      { topic: "compacted", configEntries: [{ name: "cleanup.policy", value: "compact" }] },
    ],
  });
  await admin.disconnect();
  await produce(port, "wire", 0, values("w", 10));
  await produce(port, "wire", 1, values("x", 10));
  const client = await WireClient.connect(port);
  try {
    let start = 0n;
    for (let version = 0; version <= 2; version++) {
      start += 2n;
      const first = await deleteRecords(client, version, [
        {
          name: "wire",
          partitions: [
            { partitionIndex: 0, offset: start },
            { partitionIndex: 1, offset: 11n },
            { partitionIndex: 2, offset: 0n },
            { partitionIndex: -1, offset: 0n },
          ],
        },
        { name: "missing", partitions: [{ partitionIndex: 0, offset: 0n }] },
        { name: "compacted", partitions: [{ partitionIndex: 0, offset: 0n }] },
      ]);
      assert.equal(first.throttleTimeMs, 0);
      assert.deepEqual(
        answers(first),
        [
          ["wire", 0, start, KafkaError.NONE],
          ["wire", 1, -1n, KafkaError.OFFSET_OUT_OF_RANGE],
          ["wire", 2, -1n, KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
          ["wire", -1, -1n, KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
          ["missing", 0, -1n, KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
          ["compacted", 0, -1n, KafkaError.POLICY_VIOLATION],
        ],
        `v${version}`,
      );
      // Below the start: nothing changes, the answer is the current start. Below -1: refused.
      const second = await deleteRecords(
        client,
        version,
        [
          {
            name: "wire",
            partitions: [
              { partitionIndex: 0, offset: 1n },
              { partitionIndex: 1, offset: -2n },
            ],
          },
        ],
        0,
      );
      assert.deepEqual(
        answers(second),
        [
          ["wire", 0, start, KafkaError.NONE],
          ["wire", 1, -1n, KafkaError.OFFSET_OUT_OF_RANGE],
        ],
        `v${version}`,
      );
    }
    // A partition named twice is answered once, with the later offset (Kafka keys it so).
    const twice = await deleteRecords(client, 2, [
      { name: "wire", partitions: [{ partitionIndex: 1, offset: 3n }] },
      { name: "wire", partitions: [{ partitionIndex: 1, offset: 4n }] },
    ]);
    assert.deepEqual(answers(twice), [["wire", 1, 4n, KafkaError.NONE]]);
    // -1 is the high watermark.
    const all = await deleteRecords(client, 1, [
      { name: "wire", partitions: [{ partitionIndex: 1, offset: -1n }] },
    ]);
    assert.deepEqual(answers(all), [["wire", 1, 10n, KafkaError.NONE]]);
    assert.equal(await listOffset(client, "wire", 1, -1n), 10n);
  } finally {
    client.close();
  }
  const after = await WireClient.connect(port);
  try {
    assert.equal(await listOffset(after, "wire", 0, -2n), 6n);
    const below = await fetchAt(after, "wire", 0, 5n);
    assert.equal(below.errorCode, KafkaError.OFFSET_OUT_OF_RANGE);
    assert.equal(below.logStartOffset, 6n);
  } finally {
    after.close();
  }
  const refusal = await broker.waitForLog((l) => l.msg === "Kafka DeleteRecords refused");
  assert.equal(refusal.level, "warn");
});

test("the `admin` action on the topic is needed: others get TOPIC_AUTHORIZATION_FAILED", async () => {
  const node = await startBroker({
    logLevel: "info",
    config: `${ADMIN_CONFIG}
[mqtt_auth]
authenticators = ["built_in"]
[kafka_acl]
no_match = "deny"
rules = [
  { permission = "allow", action = "all", topic = "team-a.*", username = "alice" },
  { permission = "allow", action = "read", topic = "team-a.*", username = "bob" },
  { permission = "allow", action = "write", topic = "team-a.*", username = "bob" },
]
`,
  });
  const passwords: Record<string, string> = { alice: "alice-pw", bob: "bob-pw" };
  const wireAs = (username: string) =>
    plainWireClient(node.kafkaPort ?? 0, username, passwords[username]);
  try {
    const api = await adminApi(node);
    for (const username of Object.keys(passwords)) {
      const reply = await api.call("POST", "/api/v1/users", {
        username,
        password: passwords[username],
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
    }
    const alice = await wireAs("alice");
    const bob = await wireAs("bob");
    try {
      const created = await alice.request(ApiKey.CreateTopics, 4, {
        topics: [{ name: "team-a.log", numPartitions: 1, replicationFactor: 1 }],
        timeoutMs: 1000,
      });
      assert.equal(created.topics[0].errorCode, 0);
      const request = [{ name: "team-a.log", partitions: [{ partitionIndex: 0, offset: 0n }] }];
      const other = [{ name: "elsewhere", partitions: [{ partitionIndex: 0, offset: 0n }] }];
      for (let version = 0; version <= 2; version++) {
        const refused = await deleteRecords(bob, version, [...request, ...other]);
        assert.deepEqual(answers(refused), [
          ["team-a.log", 0, -1n, KafkaError.TOPIC_AUTHORIZATION_FAILED],
          // Authorization comes first, so an unknown topic does not show through.
          ["elsewhere", 0, -1n, KafkaError.TOPIC_AUTHORIZATION_FAILED],
        ]);
      }
      const allowed = await deleteRecords(alice, 2, request);
      assert.deepEqual(answers(allowed), [["team-a.log", 0, 0n, KafkaError.NONE]]);
    } finally {
      alice.close();
      bob.close();
    }
    const refusal = await node.waitForLog(
      (l) => l.msg === "Kafka DeleteRecords refused" && l.user === "bob",
    );
    assert.equal(refusal.errorCode, KafkaError.TOPIC_AUTHORIZATION_FAILED);
  } finally {
    await node.stop();
  }
});
