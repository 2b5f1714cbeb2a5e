/**
 * Idempotent producers: InitProducerId, sequence checks with raw requests (duplicates,
 * gaps, fenced epochs), the state rebuilt from the log after a restart, and kafkajs with
 * idempotence producing no duplicates when responses are lost and it retries.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { buildRecordBatch, readRecords } from "../../src/storage/log/index.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { createTopic } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

function idempotentBatch(
  producerId: bigint,
  producerEpoch: number,
  baseSequence: number,
  values: string[],
) {
  return buildRecordBatch(
    values.map((v) => ({ timestamp: Date.now(), key: null, value: Buffer.from(v) })),
    { producerId, producerEpoch, baseSequence },
  );
}

async function produce(client: WireClient, topic: string, records: Buffer) {
  const response = await client.request(ApiKey.Produce, 8, {
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  const p = response.responses[0].partitionResponses[0];
  return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
}

async function values(client: WireClient, topic: string): Promise<string[]> {
  const response = await client.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 10_000_000,
    topics: [
      { topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 10_000_000 }] },
    ],
  });
  const records = response.responses[0].partitions[0].records ?? Buffer.alloc(0);
  const out: string[] = [];
  for (let at = 0; at < records.length; at += 12 + records.readInt32BE(at + 8)) {
    const decoded = readRecords(records, at);
    assert.equal(decoded.kind, "ok");
    if (decoded.kind === "ok") for (const r of decoded.records) out.push(String(r.value));
  }
  return out;
}

test("sequence checks: duplicates keep their offset, gaps and old epochs are refused, across a restart", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "rmq-kafka-idempotence-"));
  let producerId = -1n;
  try {
    const first = await startBroker({ dataDir, logLevel: "info" });
    try {
      const client = await WireClient.connect(first.kafkaPort ?? 0);
      await createTopic(client, "idem");
      const init = await client.request(ApiKey.InitProducerId, 1, {
        transactionalId: null,
        transactionTimeoutMs: 60_000,
      });
      assert.equal(init.errorCode, KafkaError.NONE);
      assert.equal(init.producerEpoch, 0);
      producerId = init.producerId;
      const other = await client.request(ApiKey.InitProducerId, 0, {
        transactionalId: null,
        transactionTimeoutMs: 60_000,
      });
      assert.notEqual(other.producerId, producerId);
      const txn = await client.request(ApiKey.InitProducerId, 1, {
        transactionalId: "txn",
        transactionTimeoutMs: 60_000,
      });
      assert.equal(txn.errorCode, KafkaError.INVALID_REQUEST);

      assert.deepEqual(
        await produce(client, "idem", idempotentBatch(producerId, 0, 0, ["a", "b"])),
        { errorCode: 0, baseOffset: 0 },
      );
      assert.deepEqual(
        await produce(client, "idem", idempotentBatch(producerId, 0, 0, ["a", "b"])),
        { errorCode: 0, baseOffset: 0 },
        "a retry gets the original offset",
      );
      assert.equal(
        (await produce(client, "idem", idempotentBatch(producerId, 0, 5, ["gap"]))).errorCode,
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
      );
      assert.deepEqual(await produce(client, "idem", idempotentBatch(producerId, 0, 2, ["c"])), {
        errorCode: 0,
        baseOffset: 2,
      });
      // A second producer interleaves without disturbing the first.
      assert.deepEqual(
        await produce(client, "idem", idempotentBatch(other.producerId, 0, 0, ["x"])),
        { errorCode: 0, baseOffset: 3 },
      );
      assert.deepEqual(
        await produce(client, "idem", idempotentBatch(producerId, 0, 0, ["a", "b"])),
        { errorCode: 0, baseOffset: 0 },
        "the first batch is still among the five remembered",
      );
      const twoBatches = Buffer.concat([
        idempotentBatch(producerId, 0, 3, ["d"]),
        idempotentBatch(producerId, 0, 4, ["e"]),
      ]);
      assert.equal(
        (await produce(client, "idem", twoBatches)).errorCode,
        KafkaError.INVALID_RECORD,
      );
      assert.deepEqual(await values(client, "idem"), ["a", "b", "c", "x"]);
      client.close();
    } finally {
      assert.equal(await first.stop(), 0);
    }

    const second = await startBroker({ dataDir, logLevel: "info" });
    try {
      const client = await WireClient.connect(second.kafkaPort ?? 0);
      // The producer state is rebuilt from the batch headers in the log.
      assert.deepEqual(await produce(client, "idem", idempotentBatch(producerId, 0, 2, ["c"])), {
        errorCode: 0,
        baseOffset: 2,
      });
      assert.equal(
        (await produce(client, "idem", idempotentBatch(producerId, 0, 9, ["gap"]))).errorCode,
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
      );
      assert.deepEqual(
        await produce(client, "idem", idempotentBatch(producerId, 1, 0, ["new epoch"])),
        { errorCode: 0, baseOffset: 4 },
      );
      assert.equal(
        (await produce(client, "idem", idempotentBatch(producerId, 0, 3, ["fenced"]))).errorCode,
        KafkaError.INVALID_PRODUCER_EPOCH,
      );
      assert.equal(
        (await produce(client, "idem", idempotentBatch(producerId, 2, 4, ["bad start"]))).errorCode,
        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
      );
      assert.deepEqual(await values(client, "idem"), ["a", "b", "c", "x", "new epoch"]);
      const init = await client.request(ApiKey.InitProducerId, 1, {
        transactionalId: null,
        transactionTimeoutMs: 60_000,
      });
      assert.ok(init.producerId > producerId + 1n, "producer ids are not reused after a restart");
      client.close();
    } finally {
      assert.equal(await second.stop(), 0);
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/**
 * A TCP proxy that loses the first `drops` Produce responses: it closes both sides instead of
 * forwarding them, after the broker has stored the batch, so the producer must retry.
 */
class LossyProxy {
  readonly server: Server;
  drops: number;
  #target = 0;
  readonly #sockets = new Set<Socket>();

  constructor(drops: number) {
    this.drops = drops;
    this.server = createServer((client) => this.#pipe(client));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    assert.ok(address !== null && typeof address === "object");
    return address.port;
  }

  set target(port: number) {
    this.#target = port;
  }

  #pipe(client: Socket): void {
    const upstream = connect({ host: "127.0.0.1", port: this.#target });
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        this.#sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    const produceIds = new Set<number>();
    frames(client, (frame) => {
      if (frame.readInt16BE(4) === ApiKey.Produce) produceIds.add(frame.readInt32BE(8));
      upstream.write(frame);
    });
    frames(upstream, (frame) => {
      if (produceIds.has(frame.readInt32BE(4)) && this.drops > 0) {
        this.drops -= 1;
        client.destroy();
        return;
      }
      client.write(frame);
    });
  }

  close(): void {
    for (const s of this.#sockets) s.destroy();
    this.server.close();
  }
}

/** Calls `onFrame` with each whole size-prefixed frame (prefix included). */
function frames(socket: Socket, onFrame: (frame: Buffer) => void): void {
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const size = 4 + pending.readInt32BE(0);
      onFrame(pending.subarray(0, size));
      pending = pending.subarray(size);
    }
  });
}

test("kafkajs: lost responses make a plain producer duplicate, an idempotent one not", async () => {
  const proxy = new LossyProxy(0);
  const proxyPort = await proxy.listen();
  let broker: BrokerProcess | undefined;
  try {
    broker = await startBroker({
      logLevel: "info",
      config: `[kafka]\nadvertised_host = "127.0.0.1"\nadvertised_port = ${proxyPort}\n`,
    });
    proxy.target = broker.kafkaPort ?? 0;
    const kafka = new Kafka({
      clientId: "idempotence-test",
      brokers: [`127.0.0.1:${proxyPort}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 50, maxRetryTime: 500 },
    });
    const client = await WireClient.connect(broker.kafkaPort ?? 0);
    await createTopic(client, "plain");
    await createTopic(client, "exactly-once");
    const send = async (topic: string, idempotent: boolean) => {
      const producer = kafka.producer({
        idempotent,
        maxInFlightRequests: idempotent ? 1 : undefined,
      });
      await producer.connect();
      proxy.drops = 2;
      for (let i = 0; i < 5; i++) {
        await producer.send({ topic, acks: -1, messages: [{ value: `${topic}-${i}` }] });
      }
      assert.equal(proxy.drops, 0, "both responses were lost");
      await producer.disconnect();
    };
    await send("plain", false);
    await send("exactly-once", true);
    const plain = await values(client, "plain");
    assert.ok(plain.length > 5, `the plain producer duplicated: ${plain.join(",")}`);
    assert.deepEqual(
      await values(client, "exactly-once"),
      [0, 1, 2, 3, 4].map((i) => `exactly-once-${i}`),
    );
    client.close();
  } finally {
    proxy.close();
    await broker?.stop();
  }
});
