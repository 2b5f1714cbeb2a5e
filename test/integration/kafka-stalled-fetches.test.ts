/**
 * A client that pipelines fetches and stops reading must not make the broker compute answer
 * after answer ahead of it: each copied answer holds its records in memory until the socket has
 * written it. The broker starts no further request while the answers it holds for a connection
 * pass ANSWER_BYTES_HELD_MAX (src/broker/kafka/connection.ts). zero_copy is off, so that every
 * answer's records are copied; robustmq_kafka_fetch_bytes_total{path="copied"} then counts the
 * answers computed.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { encodeRequestFrame } from "../../src/protocol/kafka/kafka-codec.ts";
import { buildRecordBatch } from "../../src/storage/log/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { createTopic } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const TOPIC = "stalled";
const ANSWER_BYTES = 8 * 1024 * 1024;
/** More than the 17 answers the broker computed ahead without the bound. */
const FETCHES = 30;
/**
 * Answers computed at most while the client reads nothing: the one being written, and a few the
 * kernel's buffers may have taken whole (none here: 1 is computed). Without the bound: 17, the
 * one being written and UNANSWERED_MAX more.
 */
const COMPUTED_MAX = 8;

let broker: BrokerProcess;

before(async () => {
  broker = await startBroker({
    logLevel: "info",
    config: '[kafka]\nzero_copy = false\nfsync_policy = "never"\n',
  });
});

after(async () => {
  await broker?.stop();
});

/** Appends `mib` MiB in batches of 100 records of 1 KiB. */
async function fill(client: WireClient, mib: number): Promise<void> {
  await createTopic(client, TOPIC);
  const value = Buffer.alloc(1024, 0x5a);
  for (let i = 0; i < mib * 10; i++) {
    const records = buildRecordBatch(
      Array.from({ length: 100 }, () => ({ timestamp: Date.now(), key: null, value })),
    );
    const response = await client.request(ApiKey.Produce, 8, {
      acks: -1,
      timeoutMs: 5000,
      topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }],
    });
    assert.equal(response.responses[0].partitionResponses[0].errorCode, 0);
  }
}

const FETCH_FROM_START = {
  replicaId: -1,
  maxWaitMs: 0,
  minBytes: 0,
  maxBytes: ANSWER_BYTES,
  topics: [
    {
      topic: TOPIC,
      partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: ANSWER_BYTES }],
    },
  ],
};

async function copiedBytes(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${broker.ports.admin}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith('robustmq_kafka_fetch_bytes_total{path="copied"}'));
  assert.ok(line !== undefined, "the copied fetch bytes metric");
  return Number(line.split(" ").at(-1));
}

/** The copied byte count once it has not moved for a second. */
async function settledCopiedBytes(): Promise<number> {
  let last = await copiedBytes();
  for (let stable = 0; stable < 5; ) {
    await sleep(200);
    const now = await copiedBytes();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  return last;
}

test("a client that pipelines fetches and reads nothing gets few answers computed ahead", async () => {
  const setup = await WireClient.connect(broker.kafkaPort ?? 0);
  await fill(setup, 9);
  const first = await setup.request(ApiKey.Fetch, 11, FETCH_FROM_START);
  const answerBytes = first.responses[0].partitions[0].records?.length ?? 0;
  assert.ok(answerBytes > ANSWER_BYTES - 200_000, `an answer carries ${answerBytes} bytes`);
  setup.close();
  const before = await settledCopiedBytes();

  const stalled = connect({ host: "127.0.0.1", port: broker.kafkaPort ?? 0 });
  await once(stalled, "connect");
  stalled.pause();
  for (let id = 1; id <= FETCHES; id++) {
    stalled.write(
      Buffer.concat(encodeRequestFrame(ApiKey.Fetch, 11, id, "stalled", FETCH_FROM_START)),
    );
  }
  const computed = ((await settledCopiedBytes()) - before) / answerBytes;
  assert.ok(computed >= 1, "the first fetch is answered");
  assert.ok(computed <= COMPUTED_MAX, `${computed} answers computed for a client reading nothing`);

  // Once the client reads, every answer follows, in order and whole.
  const ids = await answerIds(stalled, FETCHES, answerBytes);
  assert.deepEqual(
    ids,
    Array.from({ length: FETCHES }, (_, i) => i + 1),
  );
  stalled.destroy();
});

/**
 * Reads `count` answers off `socket` and returns their correlation ids, checking that each is
 * larger than `recordsBytes`. Frames are counted as they pass, not gathered: 30 answers of 8 MiB.
 */
async function answerIds(socket: Socket, count: number, recordsBytes: number): Promise<number[]> {
  const ids: number[] = [];
  let header = Buffer.alloc(0);
  let frameLeft = 0;
  socket.resume();
  for await (const chunk of socket as AsyncIterable<Buffer>) {
    let at = 0;
    while (at < chunk.length) {
      if (frameLeft > 0) {
        const used = Math.min(frameLeft, chunk.length - at);
        frameLeft -= used;
        at += used;
        continue;
      }
      // Size prefix and correlation id, possibly split across chunks.
      const used = Math.min(8 - header.length, chunk.length - at);
      header = Buffer.concat([header, chunk.subarray(at, at + used)]);
      at += used;
      if (header.length < 8) continue;
      const size = header.readInt32BE(0);
      assert.ok(size > recordsBytes, `answer ${ids.length + 1} carries ${size} bytes`);
      ids.push(header.readInt32BE(4));
      frameLeft = size - 4;
      header = Buffer.alloc(0);
    }
    if (ids.length === count && frameLeft === 0) break;
  }
  return ids;
}
