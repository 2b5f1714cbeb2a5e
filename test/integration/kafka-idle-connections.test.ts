/**
 * [kafka] connections_max_idle_ms, as Kafka's connections.max.idle.ms: a connection with no byte
 * read or written for that long, and no request being handled, is closed with a log line, so
 * that silent clients do not hold max_connections slots for good. A fetch waiting for records
 * keeps its connection.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { createTopic } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const IDLE_MS = 1000;
const MAX_CONNECTIONS = 3;

let broker: BrokerProcess;

before(async () => {
  broker = await startBroker({
    logLevel: "info",
    config: `[kafka]\nconnections_max_idle_ms = ${IDLE_MS}\nmax_connections = ${MAX_CONNECTIONS}\n`,
  });
});

after(async () => {
  await broker?.stop();
});

async function rawSocket(): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port: broker.kafkaPort ?? 0 });
  socket.on("error", () => {});
  await once(socket, "connect");
  return socket;
}

/** Milliseconds until `socket` is closed by the broker. */
async function closedAfterMs(socket: Socket): Promise<number> {
  const started = performance.now();
  if (!socket.destroyed) await once(socket, "close");
  return performance.now() - started;
}

test("silent connections, and one with half a request, are closed and give their slots back", async () => {
  const silent = await rawSocket();
  const partial = await rawSocket();
  // A size prefix of 100 and 6 bytes of the request.
  const half = Buffer.alloc(10);
  half.writeInt32BE(100, 0);
  half.writeInt16BE(ApiKey.ApiVersions, 4);
  partial.write(half);
  const third = await rawSocket();
  // Every slot is taken: a further client is turned away.
  const refused = await rawSocket();
  assert.ok((await closedAfterMs(refused)) < IDLE_MS / 2, "over max_connections, closed at once");

  const closed = await Promise.all([silent, partial, third].map(closedAfterMs));
  for (const ms of closed) {
    assert.ok(ms > IDLE_MS / 2 && ms < IDLE_MS * 5, `an idle connection closed after ${ms} ms`);
  }
  const line = await broker.waitForLog((l) => l.msg === "Kafka connection closed: idle");
  assert.equal(line.connectionsMaxIdleMs, IDLE_MS);

  // The slots are free again.
  const client = await WireClient.connect(broker.kafkaPort ?? 0);
  const versions = await client.request(ApiKey.ApiVersions, 3, {
    clientSoftwareName: "idle-test",
    clientSoftwareVersion: "1",
  });
  assert.equal(versions.errorCode, 0);
  client.close();
});

test("a fetch waiting for records longer than the idle time keeps its connection", async () => {
  const client = await WireClient.connect(broker.kafkaPort ?? 0);
  await createTopic(client, "idle-long-poll");
  const maxWaitMs = 3 * IDLE_MS;
  const fetch = {
    replicaId: -1,
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1024 * 1024,
    topics: [
      {
        topic: "idle-long-poll",
        partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1024 * 1024 }],
      },
    ],
  };
  const started = performance.now();
  const answer = await client.request(ApiKey.Fetch, 11, fetch, 10_000);
  const ms = performance.now() - started;
  assert.ok(ms >= maxWaitMs - 100, `answered after ${Math.round(ms)} ms`);
  assert.equal(answer.responses[0].partitions[0].errorCode, 0);
  // Still open: a further request is answered.
  const again = await client.request(ApiKey.Fetch, 11, { ...fetch, maxWaitMs: 0 });
  assert.equal(again.responses[0].partitions[0].errorCode, 0);
  client.close();
});
