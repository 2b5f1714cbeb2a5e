/**
 * Raw Kafka requests for tests: creating a topic, and a Fetch v11 of a whole partition from
 * offset 0 to check what is stored.
 */
import assert from "node:assert/strict";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { type LogRecord, readBatchHeader, readRecords } from "../../src/storage/log/index.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const FETCH_BYTES_MAX = 10_000_000;

/** Creates a topic with CreateTopics v4 and asserts it was created. */
export async function createTopic(client: WireClient, name: string, partitions = 1): Promise<void> {
  const created = await client.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions: partitions, replicationFactor: 1 }],
    timeoutMs: 5000,
  });
  assert.equal(created.topics[0].errorCode, 0, `create topic ${name}`);
}

/** The partition's stored record batches, back to back, as the broker sends them. */
export async function fetchBatches(
  port: number,
  topic: string,
  partition: number,
): Promise<Buffer> {
  const client = await WireClient.connect(port);
  try {
    const response = await client.request(ApiKey.Fetch, 11, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: FETCH_BYTES_MAX,
      topics: [
        { topic, partitions: [{ partition, fetchOffset: 0n, partitionMaxBytes: FETCH_BYTES_MAX }] },
      ],
    });
    const data = response.responses[0].partitions[0];
    assert.equal(data.errorCode, 0, `fetch ${topic}/${partition}`);
    return data.records ?? Buffer.alloc(0);
  } finally {
    client.close();
  }
}

/** Start positions of the batches in `batches`. */
export function batchPositions(batches: Buffer): number[] {
  const positions: number[] = [];
  for (let at = 0; at < batches.length; at += 12 + batches.readInt32BE(at + 8)) positions.push(at);
  return positions;
}

/** Every record of an uncompressed partition. */
export async function fetchRecords(
  port: number,
  topic: string,
  partition: number,
): Promise<LogRecord[]> {
  const batches = await fetchBatches(port, topic, partition);
  const records: LogRecord[] = [];
  for (const at of batchPositions(batches)) {
    const decoded = readRecords(batches, at);
    assert.equal(decoded.kind, "ok");
    if (decoded.kind === "ok") records.push(...decoded.records);
  }
  return records;
}

/** The compression code of every stored batch. */
export async function fetchCompressions(
  port: number,
  topic: string,
  partition: number,
): Promise<number[]> {
  const batches = await fetchBatches(port, topic, partition);
  return batchPositions(batches).map((at) => readBatchHeader(batches, at).compression);
}

/** A ConsumerProtocolSubscription of `version` with `topics`, then `rest` (later fields). */
export function consumerSubscription(
  version: number,
  topics: string[],
  rest = Buffer.alloc(4),
): Buffer {
  const parts = [Buffer.from([version >> 8, version & 0xff]), Buffer.alloc(4)];
  parts[1].writeInt32BE(topics.length);
  for (const topic of topics) {
    const name = Buffer.from(topic);
    const length = Buffer.alloc(2);
    length.writeInt16BE(name.length);
    parts.push(length, name);
  }
  return Buffer.concat([...parts, rest]);
}

/** A raw connection logged in with SASL/PLAIN; asserts the login succeeded. */
export async function plainWireClient(
  port: number,
  username: string,
  password: string,
): Promise<WireClient> {
  const client = await WireClient.connect(port);
  await client.request(ApiKey.SaslHandshake, 1, { mechanism: "PLAIN" });
  const login = await client.request(ApiKey.SaslAuthenticate, 2, {
    authBytes: Buffer.from(`\0${username}\0${password}`),
  });
  assert.equal(login.errorCode, 0, `${username} logs in`);
  return client;
}
