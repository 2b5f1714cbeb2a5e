/**
 * Fetch answers sent with sendfile (src/broker/kafka/zero-copy.ts), checked against the batches
 * as produced, not against another fetch (which takes the same path): a plain consumer, a
 * consumer that stops reading (the kernel takes part of an answer; the rest goes through the
 * process), a topic deleted while answers wait (each answer holds its own descriptors), no
 * descriptor left behind, and the copied path on TLS and with kafka.zero_copy = false.
 */
import assert from "node:assert/strict";
import { readdirSync, readlinkSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { decodeResponseFrame, encodeRequestFrame } from "../../src/protocol/kafka/kafka-codec.ts";
import { buildRecordBatch } from "../../src/storage/log/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { createTopic } from "../helpers/kafka-wire.ts";
import { makeTestCerts, type TestCerts, tlsConfig } from "../helpers/tls-certs.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const RECORDS_PER_BATCH = 10;
const RECORD_BYTES = 1024;
const PARTITION_MAX_BYTES = 1024 * 1024;
/** Recent: older records would be deleted by retention (7 days) as the segments roll. */
const BASE_TIMESTAMP = Date.now();

/** Batch `index` of a test topic: its own bytes in every record, so any mix-up shows. */
function batch(index: number): Buffer {
  return buildRecordBatch(
    Array.from({ length: RECORDS_PER_BATCH }, (_, r) => ({
      timestamp: BASE_TIMESTAMP + index,
      key: null,
      value: Buffer.alloc(RECORD_BYTES, (index * 31 + r) & 0xff),
    })),
  );
}

/** Batches `from`..`to - 1` as stored: the broker writes only each batch's base offset. */
function stored(from: number, to: number): Buffer {
  const batches = [];
  for (let i = from; i < to; i++) {
    const bytes = batch(i);
    bytes.writeBigInt64BE(BigInt(i * RECORDS_PER_BATCH), 0);
    batches.push(bytes);
  }
  return Buffer.concat(batches);
}

/** Batches 0..count-1 into a new 1-partition topic, or into `partition` of an existing one. */
async function produce(
  client: WireClient,
  topic: string,
  count: number,
  partition?: number,
): Promise<void> {
  if (partition === undefined) await createTopic(client, topic);
  for (let i = 0; i < count; i++) {
    const response = await client.request(ApiKey.Produce, 8, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: partition ?? 0, records: batch(i) }] }],
    });
    assert.equal(response.responses[0].partitionResponses[0].errorCode, 0);
  }
}

function fetchRequest(topic: string, batchIndex: number) {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: PARTITION_MAX_BYTES,
    topics: [
      {
        topic,
        partitions: [
          {
            partition: 0,
            fetchOffset: BigInt(batchIndex * RECORDS_PER_BATCH),
            partitionMaxBytes: PARTITION_MAX_BYTES,
          },
        ],
      },
    ],
  };
}

/** Checks an answer's records are whole stored batches from `batchIndex` on; returns their count. */
function checkRecords(records: Buffer, batchIndex: number, what: string): number {
  const batchBytes = batch(0).length;
  assert.ok(
    records.length >= batchBytes && records.length % batchBytes === 0,
    `${what}: ${records.length} bytes, batches of ${batchBytes}`,
  );
  const count = records.length / batchBytes;
  assert.ok(records.equals(stored(batchIndex, batchIndex + count)), `${what}: bytes as produced`);
  return count;
}

async function fetchBytesTotal(broker: BrokerProcess): Promise<Record<string, number>> {
  const response = await fetch(`http://127.0.0.1:${broker.ports.admin}/metrics`);
  const text = await response.text();
  const totals: Record<string, number> = {};
  for (const match of text.matchAll(/^robustmq_kafka_fetch_bytes_total\{path="(\w+)"\} (\d+)/gm)) {
    totals[match[1]] = Number(match[2]);
  }
  return totals;
}

/** Descriptors the broker holds on files under its data directory (deleted ones included). */
function dataFileDescriptors(broker: BrokerProcess): string[] {
  const directory = `/proc/${broker.child.pid}/fd`;
  const targets: string[] = [];
  for (const fd of readdirSync(directory)) {
    try {
      const target = readlinkSync(`${directory}/${fd}`);
      if (target.startsWith(broker.dataDir)) targets.push(target);
    } catch {
      // Closed while listing.
    }
  }
  return targets;
}

async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("sendfile", () => {
  let broker: BrokerProcess;
  before(async () => {
    // Small segments: answers come from several files, some closed and deleted below.
    broker = await startBroker({ logLevel: "info", config: "[kafka]\nsegment_bytes = 1048576\n" });
  });
  after(async () => {
    await broker?.stop();
  });

  test("is used, and a consumer reads every batch as produced", async () => {
    assert.ok(broker.logs.some((l) => l.msg === "Kafka fetch answers sent with sendfile"));
    const client = await WireClient.connect(broker.kafkaPort ?? 0);
    const batchCount = 400; // about 4 MiB over 4 segments
    await produce(client, "zero-copy-read", batchCount);
    const before = await fetchBytesTotal(broker);
    let next = 0;
    while (next < batchCount) {
      const response = await client.request(ApiKey.Fetch, 11, fetchRequest("zero-copy-read", next));
      const records = response.responses[0].partitions[0].records ?? Buffer.alloc(0);
      next += checkRecords(records, next, `answer from batch ${next}`);
    }
    client.close();
    const totals = await fetchBytesTotal(broker);
    const sent = totals.sendfile - before.sendfile;
    assert.ok(sent >= stored(0, batchCount).length, `sendfile sent ${sent} bytes`);
    assert.equal(totals.copied, before.copied, "nothing copied");
  });

  test("one answer mixes ranges sent by sendfile with copied records, in order", async () => {
    const client = await WireClient.connect(broker.kafkaPort ?? 0);
    await createTopic(client, "zero-copy-mixed", 3);
    // Partitions 0 and 2 answer with 1 MiB ranges; partition 1's 3 batches are copied.
    for (const [partition, count] of [
      [0, 120],
      [1, 3],
      [2, 110],
    ]) {
      await produce(client, "zero-copy-mixed", count, partition);
    }
    const before = await fetchBytesTotal(broker);
    const partitions = [0, 1, 2].map((partition) => ({
      partition,
      fetchOffset: 0n,
      partitionMaxBytes: PARTITION_MAX_BYTES,
    }));
    const response = await client.request(ApiKey.Fetch, 11, {
      ...fetchRequest("zero-copy-mixed", 0),
      maxBytes: 4 * PARTITION_MAX_BYTES,
      topics: [{ topic: "zero-copy-mixed", partitions }],
    });
    const answered = response.responses[0].partitions;
    assert.deepEqual(
      answered.map((p) => p.partitionIndex),
      [0, 1, 2],
    );
    const counts = answered.map((p) =>
      checkRecords(p.records ?? Buffer.alloc(0), 0, `partition ${p.partitionIndex}`),
    );
    assert.equal(counts[1], 3, "partition 1 whole");
    const totals = await fetchBytesTotal(broker);
    assert.ok(totals.sendfile - before.sendfile >= 2 * 900_000, "two ranges by sendfile");
    assert.equal(totals.copied - before.copied, 3 * batch(0).length, "partition 1 copied");
    client.close();
  });

  test("a stalled consumer's answers arrive whole after their topic is deleted", async () => {
    const setup = await WireClient.connect(broker.kafkaPort ?? 0);
    await produce(setup, "zero-copy-stalled", 300);
    const logFiles = () =>
      dataFileDescriptors(broker).filter((target) => target.includes("zero-copy-stalled"));
    const ownFiles = logFiles().length;
    const before = await fetchBytesTotal(broker);
    const stalled = await WireClient.connect(broker.kafkaPort ?? 0);
    stalled.socket.pause();
    // Far more than the socket buffers take: the broker holds answers, and their descriptors.
    const fetches = 48;
    for (let id = 0; id < fetches; id++) {
      const request = fetchRequest("zero-copy-stalled", id * 5);
      stalled.send(encodeRequestFrame(ApiKey.Fetch, 11, id, "stalled", request));
    }
    await eventually(() => logFiles().length > ownFiles + 2, "answers hold descriptors");
    const deleted = await setup.request(ApiKey.DeleteTopics, 3, {
      topicNames: ["zero-copy-stalled"],
      timeoutMs: 5000,
    });
    assert.equal(deleted.responses[0].errorCode, 0);
    setup.close();
    assert.ok(
      logFiles().some((target) => target.endsWith("(deleted)")),
      "waiting answers still hold the deleted files",
    );
    stalled.socket.resume();
    let withData = 0;
    for (let id = 0; id < fetches; id++) {
      const frame = await stalled.nextFrame(10_000);
      assert.ok(frame !== null, `answer ${id}`);
      const response = decodeResponseFrame(ApiKey.Fetch, 11, frame);
      assert.equal(response.correlationId, id);
      const partition = response.body.responses[0].partitions[0];
      if (partition.errorCode === 0) {
        checkRecords(partition.records ?? Buffer.alloc(0), id * 5, `stalled answer ${id}`);
        withData++;
      } else {
        // Handled after the deletion.
        assert.equal(partition.errorCode, 3, `answer ${id}: UNKNOWN_TOPIC_OR_PARTITION`);
      }
    }
    assert.ok(withData > 2, `${withData} answers built before the deletion`);
    stalled.close();
    const totals = await fetchBytesTotal(broker);
    assert.ok(totals.sendfile > before.sendfile, "sendfile sent what the socket took");
    assert.ok(totals.copied > before.copied, "what it did not take went through the process");
    await eventually(() => logFiles().length === 0, "no descriptor of the deleted files is left");
  });

  test("a consumer that disconnects with answers waiting leaves no descriptor behind", async () => {
    const client = await WireClient.connect(broker.kafkaPort ?? 0);
    await produce(client, "zero-copy-gone", 200);
    const baseline = dataFileDescriptors(broker).length;
    const gone = await WireClient.connect(broker.kafkaPort ?? 0);
    gone.socket.pause();
    for (let id = 0; id < 32; id++) {
      gone.send(
        encodeRequestFrame(ApiKey.Fetch, 11, id, "gone", fetchRequest("zero-copy-gone", id)),
      );
    }
    await eventually(() => dataFileDescriptors(broker).length > baseline, "answers wait");
    gone.socket.destroy();
    await eventually(
      () => dataFileDescriptors(broker).length === baseline,
      "the waiting answers' descriptors are closed",
    );
    assert.ok(
      !broker.logs.some((l) => l.msg.includes("fetch answer not sent")),
      "a client going away is not a failure to report",
    );
    // The broker goes on serving.
    const response = await client.request(ApiKey.Fetch, 11, fetchRequest("zero-copy-gone", 0));
    checkRecords(response.responses[0].partitions[0].records ?? Buffer.alloc(0), 0, "after");
    client.close();
  });
});

describe("copied answers", () => {
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });
  after(() => certs.remove());

  test("kafka.zero_copy = false copies, as configured", async () => {
    const broker = await startBroker({ logLevel: "info", config: "[kafka]\nzero_copy = false\n" });
    try {
      assert.ok(broker.logs.some((l) => l.msg.includes("kafka.zero_copy is off")));
      const client = await WireClient.connect(broker.kafkaPort ?? 0);
      await produce(client, "copied", 150);
      const response = await client.request(ApiKey.Fetch, 11, fetchRequest("copied", 0));
      checkRecords(response.responses[0].partitions[0].records ?? Buffer.alloc(0), 0, "copied");
      client.close();
      const totals = await fetchBytesTotal(broker);
      assert.equal(totals.sendfile, 0);
      assert.ok(totals.copied >= 1_000_000);
    } finally {
      await broker.stop();
    }
  });

  test("over TLS, answers pass through the process to be encrypted", async () => {
    const broker = await startBroker({
      logLevel: "info",
      config: `[kafka]\ntls = true\n${tlsConfig(certs)}`,
    });
    try {
      const kafka = new Kafka({
        brokers: [`localhost:${broker.kafkaPort}`],
        ssl: { ca: [certs.ca], servername: "localhost" },
        logLevel: logLevel.NOTHING,
      });
      const producer = kafka.producer();
      await producer.connect();
      const values = Array.from({ length: 300 }, (_, i) => Buffer.alloc(RECORD_BYTES, i & 0xff));
      await producer.send({ topic: "tls-copied", messages: values.map((value) => ({ value })) });
      await producer.disconnect();
      const consumer = kafka.consumer({ groupId: "tls-copied" });
      await consumer.connect();
      await consumer.subscribe({ topic: "tls-copied", fromBeginning: true });
      const got: Buffer[] = [];
      const done = new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            if (message.value !== null) got.push(message.value);
            if (got.length === values.length) resolve();
          },
        });
      });
      await done;
      await consumer.disconnect();
      assert.deepEqual(got, values);
      const totals = await fetchBytesTotal(broker);
      assert.equal(totals.sendfile, 0);
      assert.ok(totals.copied >= 300 * RECORD_BYTES);
    } finally {
      await broker.stop();
    }
  });
});
