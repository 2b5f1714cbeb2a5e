/**
 * A compacted Kafka topic end to end with kafkajs: CreateTopics with cleanup.policy=compact and
 * small segments, many updates to few keys, the broker's own compaction schedule (every 15 s),
 * then a kafkajs consumer group reads back only the latest value per key; after
 * delete.retention.ms the tombstone is gone too. Keyless records are refused (INVALID_RECORD).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { readRecords } from "../../src/storage/log/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const TOPIC = "compacted";
const KEYS = 5;
const UPDATES = 200;
/** Two compaction offers (15 s apart) and some slack. */
const WAIT_MS = 60_000;

let broker: BrokerProcess;
let kafka: Kafka;

before(async () => {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";
  broker = await startBroker({ logLevel: "info" });
  kafka = new Kafka({
    clientId: "compaction-test",
    brokers: [`127.0.0.1:${broker.kafkaPort}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5, initialRetryTime: 50 },
  });
});

after(async () => {
  await broker?.stop();
});

interface Seen {
  offset: number;
  key: string;
  value: string | null;
}

/** Every record of partition 0, by raw Fetch v11 from offset 0 to the high watermark. */
async function fetchAll(): Promise<Seen[]> {
  const client = await WireClient.connect(broker.kafkaPort ?? 0);
  const seen: Seen[] = [];
  try {
    let offset = 0n;
    for (;;) {
      const response = await client.request(ApiKey.Fetch, 11, {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1_000_000,
        topics: [
          {
            topic: TOPIC,
            partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1_000_000 }],
          },
        ],
      });
      const data = response.responses[0].partitions[0];
      assert.equal(data.errorCode, 0);
      const records = data.records ?? Buffer.alloc(0);
      if (records.length === 0) return seen;
      for (let at = 0; at < records.length; at += 12 + records.readInt32BE(at + 8)) {
        const lastOffset = records.readBigInt64BE(at) + BigInt(records.readInt32BE(at + 23));
        if (lastOffset >= offset) offset = lastOffset + 1n;
        const decoded = readRecords(records, at);
        assert.equal(decoded.kind, "ok");
        if (decoded.kind !== "ok") continue;
        for (const r of decoded.records) {
          const value = r.value === null ? null : String(r.value);
          seen.push({ offset: r.offset, key: String(r.key), value });
        }
      }
      if (offset >= data.highWatermark) return seen;
    }
  } finally {
    client.close();
  }
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** What a kafkajs consumer group reads from the beginning up to `count` messages. */
async function consumeAll(groupId: string, count: number): Promise<Seen[]> {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, sessionTimeout: 6000 });
  const seen: Seen[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const value = message.value === null ? null : String(message.value);
      seen.push({ offset: Number(message.offset), key: String(message.key), value });
    },
  });
  try {
    const deadline = Date.now() + WAIT_MS;
    while (seen.length < count) {
      if (Date.now() > deadline) throw new Error(`read ${seen.length} of ${count} records`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return seen;
  } finally {
    await consumer.disconnect();
  }
}

describe("kafkajs on a compacted topic", () => {
  test("only the latest value per key is read back, and the tombstone goes", async () => {
    const admin = kafka.admin();
    await admin.connect();
    const created = await admin.createTopics({
      topics: [
        {
          topic: TOPIC,
          numPartitions: 1,
          configEntries: [
            { name: "cleanup.policy", value: "compact" },
            { name: "segment.bytes", value: "1024" },
            { name: "delete.retention.ms", value: "1000" },
            { name: "min.cleanable.dirty.ratio", value: "0.1" },
          ],
        },
      ],
    });
    assert.equal(created, true);
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    try {
      await assert.rejects(
        producer.send({ topic: TOPIC, acks: -1, messages: [{ value: "no key" }] }),
        (error: Error & { type?: string }) => error.type === "INVALID_RECORD",
      );
      for (let n = 0; n < UPDATES; n++) {
        await producer.send({
          topic: TOPIC,
          acks: -1,
          messages: [{ key: `k${n % KEYS}`, value: `v${n}` }],
        });
      }
      await producer.send({ topic: TOPIC, acks: -1, messages: [{ key: "k0", value: null }] });
      // Enough later records that the updates and the tombstone sit in closed segments.
      for (let n = 0; n < 40; n++) {
        await producer.send({
          topic: TOPIC,
          acks: -1,
          messages: [{ key: "filler", value: `f${n}` }],
        });
      }
    } finally {
      await producer.disconnect();
    }
    const latest = new Map<string, string>();
    for (let n = UPDATES - KEYS; n < UPDATES; n++) latest.set(`k${n % KEYS}`, `v${n}`);
    latest.delete("k0");
    const keyed = (list: Seen[]) => list.filter((r) => r.key !== "filler");

    // The first pass keeps the tombstone (until delete.retention.ms after it) and one record
    // per other key.
    await until("a first compaction", async () => keyed(await fetchAll()).length <= KEYS);
    const compacted = keyed(await fetchAll());
    const tombstones = compacted.filter((r) => r.value === null);
    if (tombstones.length > 0)
      assert.deepEqual(
        tombstones.map((r) => r.key),
        ["k0"],
      );
    assert.deepEqual(
      new Map(compacted.filter((r) => r.value !== null).map((r) => [r.key, r.value])),
      latest,
    );

    // A later pass, once the horizon has passed, drops the tombstone.
    await until("the tombstone removed", async () => keyed(await fetchAll()).length === KEYS - 1);
    const all = await fetchAll();
    const read = await consumeAll("compacted-reader", all.length);
    assert.deepEqual(
      read.map((r) => r.offset),
      all.map((r) => r.offset),
      "kafkajs reads across the offset gaps and emptied batches",
    );
    const values = keyed(read);
    assert.equal(values.length, KEYS - 1);
    assert.deepEqual(new Map(values.map((r) => [r.key, r.value])), latest);
  });
});
