/**
 * What real clients never send: unknown APIs, unsupported versions, bad size prefixes, truncated
 * bodies and invalid record batches. The broker answers as Kafka does, or closes the connection
 * with a log line, and keeps serving everyone else.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { ByteReader } from "../../src/protocol/kafka/byte-reader.ts";
import { decodeResponseBody, encodeRequestFrame } from "../../src/protocol/kafka/kafka-codec.ts";
import { buildRecordBatch } from "../../src/storage/log/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { oneRecordBatch, refusedBatches } from "../helpers/invalid-batches.ts";
import { fetchRecords } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const MAX_REQUEST_BYTES = 65_536;
let broker: BrokerProcess;

before(async () => {
  broker = await startBroker({
    config: `[kafka]\nmax_request_bytes = ${MAX_REQUEST_BYTES}\n`,
    logLevel: "info",
  });
});

after(async () => {
  await broker?.stop();
});

function connect(): Promise<WireClient> {
  return WireClient.connect(broker.kafkaPort ?? 0);
}

function batch(...values: string[]): Buffer {
  return buildRecordBatch(
    values.map((value) => ({ timestamp: Date.now(), key: null, value: Buffer.from(value) })),
  );
}

async function produce(client: WireClient, topic: string, records: Buffer) {
  const response = await client.request(ApiKey.Produce, 8, {
    acks: -1,
    timeoutMs: 1000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return response.responses[0].partitionResponses[0];
}

async function logEnd(client: WireClient, topic: string): Promise<bigint> {
  const response = await client.request(ApiKey.ListOffsets, 5, {
    replicaId: -1,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
  });
  return response.topics[0].partitions[0].offset;
}

async function expectClosedWithLog(client: WireClient, message: RegExp): Promise<void> {
  assert.equal(await client.closedWithin(3000), true, "connection closed");
  await broker.waitForLog((l) => l.level === "warn" && message.test(l.msg), 3000);
}

test("ApiVersions past v3: v0 answer with UNSUPPORTED_VERSION and the supported range", async () => {
  const client = await connect();
  // The same bytes as v3 with the version field (after the size and the API key) set to 9, as
  // a future client would send.
  const request = Buffer.concat(encodeRequestFrame(ApiKey.ApiVersions, 3, 42, "x", {}));
  request.writeInt16BE(9, 6);
  client.send([request]);
  const frame = await client.nextFrame();
  assert.ok(frame !== null);
  const reader = new ByteReader(frame);
  assert.equal(reader.int32(), 42, "response header v0: correlation id only");
  const body = decodeResponseBody(ApiKey.ApiVersions, 0, reader);
  assert.equal(body.errorCode, 35);
  assert.deepEqual(body.apiKeys, [{ apiKey: 18, minVersion: 0, maxVersion: 3 }]);
  client.close();
});

test("ApiVersions v3 lists exactly the served APIs and nothing transactional", async () => {
  const client = await connect();
  const body = await client.request(ApiKey.ApiVersions, 3, {
    clientSoftwareName: "wire-test",
    clientSoftwareVersion: "1.0",
  });
  assert.equal(body.errorCode, 0);
  assert.deepEqual(
    body.apiKeys.map((k) => [k.apiKey, k.minVersion, k.maxVersion]).sort((a, b) => a[0] - b[0]),
    [
      // Produce v0-2 are advertised for librdkafka's sake but answered UNSUPPORTED_VERSION.
      [0, 0, 8],
      [1, 4, 11],
      [2, 1, 5],
      [3, 0, 8],
      [8, 2, 7],
      [9, 1, 5],
      [10, 0, 2],
      [11, 0, 5],
      [12, 0, 3],
      [13, 0, 3],
      [14, 0, 3],
      [15, 0, 5],
      [16, 0, 4],
      [18, 0, 3],
      [19, 0, 4],
      [20, 0, 3],
      [21, 0, 2],
      [22, 0, 1],
      [29, 0, 3],
      [30, 0, 3],
      [31, 0, 3],
      [32, 0, 4],
      [33, 0, 2],
      [35, 0, 4],
      [37, 0, 3],
      [42, 0, 2],
      [44, 0, 1],
      [47, 0, 0],
      [60, 0, 1],
    ],
  );
  client.close();
});

test("Produce v0-2 gets UNSUPPORTED_VERSION for every partition", async () => {
  const client = await connect();
  const response = await client.request(ApiKey.Produce, 2, {
    acks: 1,
    timeoutMs: 1000,
    topicData: [{ name: "old", partitionData: [{ index: 0, records: Buffer.alloc(0) }] }],
  });
  assert.equal(response.responses[0].partitionResponses[0].errorCode, 35);
  client.close();
});

test("invalid record batches: CORRUPT_MESSAGE and nothing stored", async () => {
  const client = await connect();
  await client.request(ApiKey.CreateTopics, 4, {
    topics: [{ name: "strict", numPartitions: 1, replicationFactor: 1 }],
    timeoutMs: 1000,
  });
  assert.equal((await produce(client, "strict", batch("ok"))).errorCode, 0);
  const flipped = batch("bad crc");
  flipped[flipped.length - 1] ^= 0xff;
  assert.equal((await produce(client, "strict", flipped)).errorCode, 2);
  // A good batch followed by a bad one: the partition stays untouched, not half written.
  const pair = Buffer.concat([batch("first"), flipped]);
  assert.equal((await produce(client, "strict", pair)).errorCode, 2);
  // Two intact batches for one partition: Kafka takes one batch per partition (format v2).
  const two = await produce(client, "strict", Buffer.concat([batch("a"), batch("b")]));
  assert.equal(two.errorCode, 87);
  assert.match(two.errorMessage ?? "", /more than one record batch/);
  assert.equal((await produce(client, "strict", batch("x").subarray(0, 40))).errorCode, 2);
  assert.equal((await produce(client, "strict", Buffer.alloc(0))).errorCode, 2);
  assert.equal(await logEnd(client, "strict"), 1n);
  client.close();
});

test("acks 0: a refused batch closes the connection with a log line, and the broker lives on", async () => {
  const admin = await connect();
  await admin.request(ApiKey.CreateTopics, 4, {
    topics: [{ name: "fire-and-forget", numPartitions: 1, replicationFactor: 1 }],
    timeoutMs: 1000,
  });
  const flipped = batch("bad crc");
  flipped[flipped.length - 1] ^= 0xff;
  const send = (partitionData: Array<{ index: number; records: Buffer }>) =>
    encodeRequestFrame(ApiKey.Produce, 8, 1, "x", {
      acks: 0,
      timeoutMs: 1000,
      topicData: [{ name: "fire-and-forget", partitionData }],
    });
  // Refused by the log's own check, after the request was handled: nobody awaits that append.
  const alone = await connect();
  alone.send(send([{ index: 0, records: flipped }]));
  await expectClosedWithLog(alone, /^Kafka connection closed: Kafka produce with acks 0 failed$/);
  // The same beside a partition refused at once: the request ends before that append settles.
  const beside = await connect();
  beside.send(
    send([
      { index: 0, records: flipped },
      { index: 99, records: batch("nowhere") },
    ]),
  );
  assert.equal(await beside.closedWithin(3000), true, "connection closed");
  await broker.waitForLog((l) => l.msg === "Kafka produce with acks 0 failed", 3000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(broker.child.exitCode, null, "the broker process is running");
  assert.equal(await logEnd(admin, "fire-and-forget"), 0n, "nothing stored");
  assert.equal((await produce(admin, "fire-and-forget", batch("good"))).errorCode, 0);
  admin.close();
});

test("batches Kafka refuses from clients: INVALID_RECORD, nothing stored, connection kept", async () => {
  const client = await connect();
  await client.request(ApiKey.CreateTopics, 4, {
    topics: [{ name: "refused", numPartitions: 1, replicationFactor: 1 }],
    timeoutMs: 1000,
  });
  for (const { name, batch, reason } of refusedBatches()) {
    const answer = await produce(client, "refused", batch);
    assert.equal(answer.errorCode, 87, name);
    assert.match(answer.errorMessage ?? "", reason, name);
    assert.equal(answer.baseOffset, -1n, name);
    assert.equal(await logEnd(client, "refused"), 0n, `${name}: log end unchanged`);
    await broker.waitForLog(
      (l) =>
        l.level === "warn" && l.msg === "Kafka produce refused" && reason.test(String(l.message)),
      3000,
    );
  }
  // The same connection, still open, stores a good batch and a consumer reads it.
  const good = await produce(client, "refused", oneRecordBatch({}, "after"));
  assert.equal(good.errorCode, 0);
  assert.equal(good.baseOffset, 0n);
  const records = await fetchRecords(broker.kafkaPort ?? 0, "refused", 0);
  assert.deepEqual(
    records.map((r) => r.value?.toString()),
    ["after"],
  );
  client.close();
});

test("max.message.bytes above the broker's limit: INVALID_CONFIG naming it, not capped", async () => {
  const client = await connect();
  const create = async (name: string, value: string, validateOnly: boolean) => {
    const answer = await client.request(ApiKey.CreateTopics, 4, {
      topics: [
        {
          name,
          numPartitions: 1,
          replicationFactor: 1,
          configs: [{ name: "max.message.bytes", value }],
        },
      ],
      timeoutMs: 1000,
      validateOnly,
    });
    return answer.topics[0];
  };
  for (const validateOnly of [true, false]) {
    const refused = await create("mmb-big", "16777216", validateOnly);
    assert.equal(refused.errorCode, 40, `validateOnly ${validateOnly}`);
    assert.match(refused.errorMessage ?? "", /max\.message\.bytes=16777216: .* to 8388608/);
  }
  const metadata = await client.request(ApiKey.Metadata, 8, {
    topics: [{ name: "mmb-big" }],
    allowAutoTopicCreation: false,
  });
  assert.equal(metadata.topics[0].errorCode, 3, "not created");
  assert.equal((await create("mmb-limit", "8388608", false)).errorCode, 0);
  client.close();
});

test("CreateTopics: a config named after an Object.prototype member is INVALID_CONFIG", async () => {
  const client = await connect();
  for (const config of ["toString", "constructor", "__proto__"]) {
    const answer = await client.request(ApiKey.CreateTopics, 4, {
      topics: [
        {
          name: "proto-config",
          numPartitions: 1,
          replicationFactor: 1,
          configs: [{ name: config, value: "1" }],
        },
      ],
      timeoutMs: 1000,
      validateOnly: false,
    });
    assert.equal(answer.topics[0].errorCode, 40, config);
    assert.match(answer.topics[0].errorMessage ?? "", /is not supported/, config);
  }
  const metadata = await client.request(ApiKey.Metadata, 8, {
    topics: [{ name: "proto-config" }],
    allowAutoTopicCreation: false,
  });
  assert.equal(metadata.topics[0].errorCode, 3, "not created");
  client.close();
});

test("unknown API key: connection closed with a log line", async () => {
  const client = await connect();
  const frame = Buffer.alloc(4 + 10);
  frame.writeInt32BE(10, 0);
  frame.writeInt16BE(999, 4);
  frame.writeInt16BE(0, 6);
  frame.writeInt32BE(7, 8);
  frame.writeInt16BE(-1, 12);
  client.send([frame]);
  await expectClosedWithLog(client, /unknown or unsupported API key/);
});

test("negative and oversized size prefixes close the connection", async () => {
  for (const size of [-5, MAX_REQUEST_BYTES + 1]) {
    const client = await connect();
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(size);
    client.send([prefix]);
    await expectClosedWithLog(client, /request size out of range/);
  }
});

test("a truncated body or an unsupported Fetch version closes the connection", async () => {
  const truncated = await connect();
  const frame = Buffer.concat(
    encodeRequestFrame(ApiKey.Metadata, 8, 1, "x", { topics: [{ name: "abc" }] }),
  );
  // Keep the size prefix consistent with the cut, so only the body is short.
  const cut = frame.subarray(0, frame.length - 6);
  cut.writeInt32BE(cut.length - 4, 0);
  truncated.send([cut]);
  await expectClosedWithLog(truncated, /malformed request/);

  const oldFetch = await connect();
  oldFetch.send(encodeRequestFrame(ApiKey.Fetch, 3, 1, "x", { replicaId: -1, topics: [] }));
  await expectClosedWithLog(oldFetch, /unsupported API version/);
});

test("a Metadata request naming a topic twice is answered with it once, as Kafka does", async () => {
  const client = await connect();
  const metadata = await client.request(ApiKey.Metadata, 8, {
    topics: [{ name: "strict" }, { name: "strict" }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  assert.deepEqual(
    metadata.topics.map((t) => t.name),
    ["strict"],
  );
  client.close();
});

test("Metadata v0, as old clients send it: an empty list asks for every topic", async () => {
  const client = await connect();
  const all = await client.request(ApiKey.Metadata, 0, { topics: [] });
  assert.ok(
    all.topics.some((t) => t.name === "strict"),
    "every topic",
  );
  assert.equal(all.brokers[0].nodeId, 1);
  const named = await client.request(ApiKey.Metadata, 0, { topics: [{ name: "strict" }] });
  assert.deepEqual(
    named.topics.map((t) => [t.name, t.errorCode, t.partitions.length > 0]),
    [["strict", 0, true]],
  );
  const v1 = await client.request(ApiKey.Metadata, 1, { topics: [] });
  assert.deepEqual(v1.topics, [], "from v1 an empty list asks for none");
  client.close();
});

test("the broker keeps serving after all of the above", async () => {
  const client = await connect();
  const metadata = await client.request(ApiKey.Metadata, 8, { topics: null });
  assert.equal(metadata.brokers.length, 1);
  assert.ok(metadata.topics.some((t) => t.name === "strict"));
  client.close();
});
