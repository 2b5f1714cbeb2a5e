/**
 * Kafka clients for the DeleteRecords tests: kafkajs with small-segment topics, and raw
 * DeleteRecords, ListOffsets and Fetch requests to check what the broker answers.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Kafka, type logCreator, logLevel } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import type { WireClient } from "../unit/protocol/kafka/wire-client.ts";

/** Small segments, so that a deletion empties some of them. */
export const SMALL_SEGMENTS = [{ name: "segment.bytes", value: "1024" }];
/** Values are padded so that a few batches fill a small segment; readers strip the dots. */
export const VALUE_PADDING = ".".repeat(120);

export function kafkaFor(brokerPort: number, creator?: logCreator) {
  return new Kafka({
    clientId: "delete-records",
    brokers: [`127.0.0.1:${brokerPort}`],
    logLevel: creator === undefined ? logLevel.NOTHING : logLevel.ERROR,
    logCreator: creator,
    retry: { retries: 2 },
  });
}

/** Sends `values` one at a time (one batch each) to `partition`. */
export async function produce(
  brokerPort: number,
  topic: string,
  partition: number,
  values: readonly string[],
): Promise<void> {
  const producer = kafkaFor(brokerPort).producer();
  await producer.connect();
  try {
    for (const value of values) {
      await producer.send({ topic, messages: [{ value: value + VALUE_PADDING, partition }] });
    }
  } finally {
    await producer.disconnect();
  }
}

export const values = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/** ListOffsets v5 for one partition: -2 earliest, -1 latest, or a timestamp. */
export function listOffset(
  client: WireClient,
  topic: string,
  partition: number,
  timestamp: bigint,
) {
  return client
    .request(ApiKey.ListOffsets, 5, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp }] }],
    })
    .then((r) => r.topics[0].partitions[0].offset);
}

/** A Fetch v11 of one partition from `offset`, answered at once: its partition data. */
export async function fetchAt(
  client: WireClient,
  topic: string,
  partition: number,
  offset: bigint,
) {
  const response = await client.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    topics: [
      { topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 1 << 20 }] },
    ],
  });
  return response.responses[0].partitions[0];
}

/** A DeleteRecords request of `version`. */
export function deleteRecords(
  client: WireClient,
  version: number,
  topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; offset: bigint }> }>,
  timeoutMs = 1000,
) {
  return client.request(ApiKey.DeleteRecords, version, { topics, timeoutMs });
}

/** [topic, partition, low watermark, error code] of every partition answered. */
export function answers(response: Awaited<ReturnType<typeof deleteRecords>>) {
  return response.topics.flatMap((t) =>
    t.partitions.map((p) => [t.name, p.partitionIndex, p.lowWatermark, p.errorCode]),
  );
}

/** Base offsets of the partition's segment files on disk. */
export function segmentFiles(dataDir: string, topic: string, partition: number): number[] {
  return readdirSync(join(dataDir, "kafka", `${topic}-${partition}`))
    .filter((name) => name.endsWith(".log"))
    .map((name) => Number(name.slice(0, 20)));
}

/** Runs `consumer` on `topic` from the beginning until `count` records; "partition:value". */
export async function consumeAll(
  consumer: ReturnType<Kafka["consumer"]>,
  topic: string,
  count: number,
): Promise<string[]> {
  const seen: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${seen.join()}`)), 20_000);
      void consumer.run({
        eachMessage: async ({ partition, message }) => {
          seen.push(`${partition}:${String(message.value).replace(/\.+$/, "")}`);
          if (seen.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    // Anything past `count` would be a record that should have gone.
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    await consumer.disconnect();
  }
  return seen;
}
