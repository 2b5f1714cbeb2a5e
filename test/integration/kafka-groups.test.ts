/**
 * Consumer groups with kafkajs against the broker process: consuming across partitions, a group
 * of three rebalancing when a member leaves and when one joins (every record consumed,
 * assignments disjoint), and committed offsets surviving a restart.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Consumer, Kafka, logLevel } from "kafkajs";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

/** Short group timeouts so a rebalance takes well under a second. */
const GROUP_CONFIG = `[kafka]
group_min_session_timeout_ms = 1000
group_initial_rebalance_delay_ms = 300
`;
const WAIT_MS = 20_000;

function client(port: number | null, clientId: string): Kafka {
  assert.ok(port !== null);
  return new Kafka({
    clientId,
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 50 },
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Tracked {
  name: string;
  consumer: Consumer;
  /** Partitions of the topic assigned in the member's latest generation. */
  assignment: number[];
  generation: number;
}

function groupConsumer(kafka: Kafka, groupId: string) {
  return kafka.consumer({
    groupId,
    sessionTimeout: 6000,
    rebalanceTimeout: 6000,
    heartbeatInterval: 200,
    maxWaitTimeInMs: 100,
    retry: { retries: 10, initialRetryTime: 50 },
  });
}

async function produce(kafka: Kafka, topic: string, values: string[], partitions: number) {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({
    topic,
    acks: -1,
    messages: values.map((value, i) => ({ value, partition: i % partitions })),
  });
  await producer.disconnect();
}

describe("kafkajs consumer groups", () => {
  let broker: BrokerProcess;
  let kafka: Kafka;

  before(async () => {
    broker = await startBroker({ logLevel: "info", config: GROUP_CONFIG });
    kafka = client(broker.kafkaPort, "groups-test");
  });

  after(async () => {
    await broker?.stop();
  });

  test("one consumer reads every partition from the beginning", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "spread", numPartitions: 3 }] });
    await admin.disconnect();
    const values = Array.from({ length: 30 }, (_, i) => `v${i}`);
    await produce(kafka, "spread", values, 3);
    const consumer = groupConsumer(kafka, "single");
    const seen: string[] = [];
    const partitions = new Set<number>();
    await consumer.connect();
    await consumer.subscribe({ topics: ["spread"], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        partitions.add(partition);
        seen.push(String(message.value));
      },
    });
    try {
      await until("30 records", () => seen.length >= 30);
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual([...seen].sort(), [...values].sort());
    assert.deepEqual([...partitions].sort(), [0, 1, 2]);
  });

  test("admin clients list and describe groups (ListGroups, DescribeGroups)", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "described", numPartitions: 2 }] });
    // A group that only committed offsets (a client assigning partitions itself).
    await admin.setOffsets({
      groupId: "offsets-only",
      topic: "described",
      partitions: [{ partition: 0, offset: "0" }],
    });
    const consumer = groupConsumer(kafka, "described-group");
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joined = true;
    });
    await consumer.connect();
    await consumer.subscribe({ topics: ["described"], fromBeginning: true });
    await consumer.run({ eachMessage: async () => {} });
    try {
      await until("the consumer joined", () => joined);
      const { groups } = await admin.listGroups();
      const listed = new Map(groups.map((g) => [g.groupId, g.protocolType]));
      assert.equal(listed.get("described-group"), "consumer");
      assert.equal(listed.get("offsets-only"), "", "a group with offsets only is listed too");
      await until("a stable group", async () => {
        const [group] = (await admin.describeGroups(["described-group"])).groups;
        return group.state === "Stable";
      });
      const described = await admin.describeGroups(["described-group", "offsets-only", "nobody"]);
      const [live, offsetsOnly, unknown] = described.groups;
      assert.equal(live.protocolType, "consumer");
      assert.equal(live.protocol, "RoundRobinAssigner");
      assert.equal(live.members.length, 1);
      const [member] = live.members;
      assert.equal(member.clientId, "groups-test");
      assert.equal(member.clientHost, "/127.0.0.1");
      assert.ok(member.memberMetadata.length > 0, "the member's subscription metadata");
      assert.ok(member.memberAssignment.length > 0, "the member's assignment");
      assert.deepEqual([offsetsOnly.state, offsetsOnly.members], ["Empty", []]);
      assert.deepEqual([unknown.state, unknown.members], ["Dead", []]);
    } finally {
      await consumer.disconnect();
      await admin.disconnect();
    }
  });

  test("admin clients delete groups (DeleteGroups): refused while a member is in, then gone", async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: "deleted", numPartitions: 1 }] });
    const consumer = groupConsumer(kafka, "deleted-group");
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      joined = true;
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: ["deleted"], fromBeginning: true });
      await consumer.run({ eachMessage: async () => {} });
      await until("the consumer joined", () => joined);
      await admin.setOffsets({
        groupId: "deleted-offsets",
        topic: "deleted",
        partitions: [{ partition: 0, offset: "0" }],
      });
      await assert.rejects(admin.deleteGroups(["deleted-group"]), (error: Error) => {
        const { groups } = error as Error & { groups: { groupId: string; errorCode: number }[] };
        assert.deepEqual(
          groups.map((g) => [g.groupId, g.errorCode]),
          [["deleted-group", KafkaError.NON_EMPTY_GROUP]],
        );
        return true;
      });
      await consumer.disconnect();
      const results = await admin.deleteGroups(["deleted-group", "deleted-offsets"]);
      assert.deepEqual(
        results.map((r) => [r.groupId, r.errorCode]),
        [
          ["deleted-group", 0],
          ["deleted-offsets", 0],
        ],
      );
      const { groups } = await admin.listGroups();
      const ids = groups.map((g) => g.groupId);
      assert.ok(!ids.includes("deleted-group") && !ids.includes("deleted-offsets"), ids.join());
      const offsets = await admin.fetchOffsets({ groupId: "deleted-offsets", topics: ["deleted"] });
      assert.equal(offsets[0].partitions[0].offset, "-1");
    } finally {
      await consumer.disconnect();
      await admin.disconnect();
    }
  });

  test("a group of three rebalances when one leaves and when one joins", async () => {
    const topic = "shared";
    const partitionCount = 6;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount }] });
    await admin.disconnect();
    const seen = new Map<string, number>();
    const members: Tracked[] = [];
    const start = async (name: string) => {
      const tracked: Tracked = {
        name,
        consumer: groupConsumer(client(broker.kafkaPort, name), "trio"),
        assignment: [],
        generation: -1,
      };
      tracked.consumer.on(tracked.consumer.events.GROUP_JOIN, (event) => {
        tracked.generation = event.payload.groupId === "trio" ? Date.now() : -1;
        tracked.assignment = [...(event.payload.memberAssignment[topic] ?? [])].sort();
      });
      await tracked.consumer.connect();
      await tracked.consumer.subscribe({ topics: [topic], fromBeginning: true });
      await tracked.consumer.run({
        eachMessage: async ({ message }) => {
          const value = String(message.value);
          seen.set(value, (seen.get(value) ?? 0) + 1);
        },
      });
      members.push(tracked);
      return tracked;
    };
    /** Waits until the members' assignments split every partition between them. */
    const settled = async (expected: Tracked[]) => {
      await until(`${expected.length} members sharing ${partitionCount} partitions`, () => {
        const all = expected.flatMap((m) => m.assignment);
        return (
          all.length === partitionCount &&
          new Set(all).size === partitionCount &&
          expected.every((m) => m.assignment.length > 0)
        );
      });
    };
    const batch = async (label: string) => {
      const values = Array.from({ length: 60 }, (_, i) => `${label}-${i}`);
      await produce(kafka, topic, values, partitionCount);
      await until(`every ${label} record consumed`, () => values.every((v) => seen.has(v)));
    };
    try {
      const [a, b, c] = [await start("a"), await start("b"), await start("c")];
      await settled([a, b, c]);
      await batch("three");

      await c.consumer.disconnect();
      c.assignment = [];
      await settled([a, b]);
      await batch("two");

      const d = await start("d");
      await settled([a, b, d]);
      await batch("joined");
      const assignments = [a, b, d].map((m) => m.assignment);
      assert.equal(new Set(assignments.flat()).size, partitionCount, "disjoint and complete");
    } finally {
      await Promise.all(members.map((m) => m.consumer.disconnect().catch(() => {})));
    }
    assert.equal(seen.size, 180);
  });
});

test("committed offsets survive a broker restart", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rmq-kafka-groups-"));
  try {
    const first = await startBroker({ dataDir, logLevel: "info", config: GROUP_CONFIG });
    try {
      const kafka = client(first.kafkaPort, "restart-groups");
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic: "resume", numPartitions: 2 }] });
      await admin.disconnect();
      await produce(kafka, "resume", ["a0", "a1", "a2", "a3"], 2);
      const consumer = groupConsumer(kafka, "resumers");
      const seen: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topics: ["resume"], fromBeginning: true });
      await consumer.run({
        autoCommitThreshold: 1,
        eachMessage: async ({ message }) => {
          seen.push(String(message.value));
        },
      });
      await until("the first four records", () => seen.length >= 4);
      await consumer.disconnect();
      assert.deepEqual([...seen].sort(), ["a0", "a1", "a2", "a3"]);
    } finally {
      assert.equal(await first.stop(), 0);
    }

    const second = await startBroker({ dataDir, logLevel: "info", config: GROUP_CONFIG });
    try {
      const kafka = client(second.kafkaPort, "restart-groups");
      const admin = kafka.admin();
      await admin.connect();
      const committed = await admin.fetchOffsets({ groupId: "resumers", topics: ["resume"] });
      assert.deepEqual(committed[0].partitions.map((p) => [p.partition, p.offset]).sort(), [
        [0, "2"],
        [1, "2"],
      ]);
      await admin.disconnect();
      await produce(kafka, "resume", ["b0", "b1"], 2);
      const consumer = groupConsumer(kafka, "resumers");
      const seen: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topics: ["resume"], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          seen.push(String(message.value));
        },
      });
      await until("the two new records", () => seen.length >= 2);
      // Anything before the committed offsets would have arrived by now, ahead of these.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await consumer.disconnect();
      assert.deepEqual([...seen].sort(), ["b0", "b1"]);
    } finally {
      assert.equal(await second.stop(), 0);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
