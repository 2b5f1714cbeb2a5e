/**
 * Fetch answers are read into pooled buffers (src/broker/kafka/read-buffers.ts). A buffer may
 * only go back to the pool once the socket has written the answer: a consumer that stops
 * reading holds its answers in the broker, and other consumers' fetches meanwhile must not
 * overwrite them. Also long polling: a fetch waits for min_bytes, or for nothing when it is 0.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { decodeResponseFrame, encodeRequestFrame } from "../../src/protocol/kafka/kafka-codec.ts";
import { buildRecordBatch } from "../../src/storage/log/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { batchPositions, createTopic, fetchBatches } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const PARTITION_MAX_BYTES = 1024 * 1024;
/**
 * Answers a stalled consumer asks for: more than the socket buffers take (Linux lets a
 * loopback receiver buffer up to tcp_rmem's maximum, 32 MiB here), so that the broker must
 * hold the rest.
 */
const STALLED_FETCHES = 64;

/** Records per stored batch: stalled fetch k starts at batch k, so no two answers are alike. */
const RECORDS_PER_BATCH = 10;

let broker: BrokerProcess;

before(async () => {
  broker = await startBroker({ logLevel: "info" });
});

after(async () => {
  await broker?.stop();
});

/** Appends `mib` MiB in batches of 10 records of 1 KiB, every byte of a record `fillByte`. */
async function fill(client: WireClient, topic: string, fillByte: number, mib: number) {
  await createTopic(client, topic);
  const value = Buffer.alloc(1024, fillByte);
  for (let i = 0; i < mib * 100; i++) {
    const records = buildRecordBatch(
      Array.from({ length: RECORDS_PER_BATCH }, () => ({
        timestamp: Date.now(),
        key: null,
        value,
      })),
    );
    const response = await client.request(ApiKey.Produce, 8, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    });
    assert.equal(response.responses[0].partitionResponses[0].errorCode, 0);
  }
}

function fetchRequest(topic: string, offset: number) {
  const partition = {
    partition: 0,
    fetchOffset: BigInt(offset),
    partitionMaxBytes: PARTITION_MAX_BYTES,
  };
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: PARTITION_MAX_BYTES,
    topics: [{ topic, partitions: [partition] }],
  };
}

test("an answer waiting for a stalled consumer keeps its bytes while others fetch", async () => {
  const setup = await WireClient.connect(broker.kafkaPort ?? 0);
  await fill(setup, "stalled-a", 0xaa, 2);
  await fill(setup, "stalled-b", 0xbb, 2);
  setup.close();
  const stored = await fetchBatches(broker.kafkaPort ?? 0, "stalled-a", 0);
  const positions = batchPositions(stored);

  const stalled = await WireClient.connect(broker.kafkaPort ?? 0);
  stalled.socket.pause();
  for (let id = 1; id <= STALLED_FETCHES; id++) {
    const request = fetchRequest("stalled-a", id * RECORDS_PER_BATCH);
    stalled.send(encodeRequestFrame(ApiKey.Fetch, 11, id, "stalled", request));
  }
  // Meanwhile another consumer's fetches take buffers from the pool again and again.
  const other = await WireClient.connect(broker.kafkaPort ?? 0);
  for (let i = 0; i < 3 * STALLED_FETCHES; i++) {
    const response = await other.request(ApiKey.Fetch, 11, fetchRequest("stalled-b", 0));
    const records = response.responses[0].partitions[0].records ?? Buffer.alloc(0);
    assert.ok(records.length > 100_000);
  }
  other.close();

  stalled.socket.resume();
  for (let id = 1; id <= STALLED_FETCHES; id++) {
    const frame = await stalled.nextFrame(10_000);
    assert.ok(frame !== null, `answer ${id}`);
    const response = decodeResponseFrame(ApiKey.Fetch, 11, frame);
    assert.equal(response.correlationId, id);
    const records = response.body.responses[0].partitions[0].records ?? Buffer.alloc(0);
    const from = positions[id];
    assert.ok(
      records.length > 100_000 && records.equals(stored.subarray(from, from + records.length)),
      `answer ${id} carries stalled-a's batches from offset ${id * RECORDS_PER_BATCH}, as stored`,
    );
  }
  stalled.close();
});

test("a fetch waiting for min_bytes through several appends answers with all of them as stored", async () => {
  const producer = await WireClient.connect(broker.kafkaPort ?? 0);
  await fill(producer, "min-bytes-other", 0x44, 1);
  await createTopic(producer, "min-bytes");
  const batchOf = (fillByte: number) =>
    buildRecordBatch(
      Array.from({ length: RECORDS_PER_BATCH }, () => ({
        timestamp: Date.now(),
        key: null,
        value: Buffer.alloc(1024, fillByte),
      })),
    );
  const produce = async (fillByte: number) => {
    const response = await producer.request(ApiKey.Produce, 8, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: "min-bytes", partitionData: [{ index: 0, records: batchOf(fillByte) }] }],
    });
    assert.equal(response.responses[0].partitionResponses[0].errorCode, 0);
  };
  // Three batches' worth: the reads after the first and second appends (pooled buffers, over
  // 16 KiB from the second on) fall short and are read again.
  const batchBytes = batchOf(0).length;
  const consumer = await WireClient.connect(broker.kafkaPort ?? 0);
  const answer = consumer.request(
    ApiKey.Fetch,
    11,
    { ...fetchRequest("min-bytes", 0), maxWaitMs: 20_000, minBytes: 3 * batchBytes },
    30_000,
  );
  let answered = false;
  void answer.then(() => {
    answered = true;
  });
  for (const fillByte of [0x11, 0x22]) {
    await produce(fillByte);
    // Meanwhile another consumer takes buffers from the pool, the discarded ones included.
    const other = await fetchBatches(broker.kafkaPort ?? 0, "min-bytes-other", 0);
    assert.ok(other.length > 100_000);
    assert.equal(answered, false, "not enough bytes yet");
  }
  await produce(0x33);
  const response = await answer;
  const records = response.responses[0].partitions[0].records ?? Buffer.alloc(0);
  const stored = await fetchBatches(broker.kafkaPort ?? 0, "min-bytes", 0);
  assert.equal(stored.length, 3 * batchBytes);
  assert.ok(records.equals(stored), "the answer carries the three batches as stored");
  producer.close();
  consumer.close();
});

test("long polling as Kafka: min_bytes 0 answers at once, min_bytes 1 at max_wait_ms", async () => {
  const client = await WireClient.connect(broker.kafkaPort ?? 0);
  await createTopic(client, "min-bytes-zero", 1);
  const timed = async (minBytes: number, topics = fetchRequest("min-bytes-zero", 0).topics) => {
    const started = performance.now();
    const body = { ...fetchRequest("min-bytes-zero", 0), maxWaitMs: 1500, minBytes, topics };
    const response = await client.request(ApiKey.Fetch, 11, body, 10_000);
    return { ms: performance.now() - started, response };
  };
  // At the log end, nothing to read.
  const zero = await timed(0);
  assert.ok(zero.ms < 1000, `min_bytes 0 answered after ${Math.round(zero.ms)} ms`);
  assert.equal(zero.response.responses[0].partitions[0].errorCode, 0);
  assert.equal(zero.response.responses[0].partitions[0].highWatermark, 0n);
  const none = await timed(1, []);
  assert.ok(none.ms < 1000, `a fetch of no partition answered after ${Math.round(none.ms)} ms`);
  const one = await timed(1);
  assert.ok(one.ms >= 1400, `min_bytes 1 answered after ${Math.round(one.ms)} ms`);
  client.close();
});
