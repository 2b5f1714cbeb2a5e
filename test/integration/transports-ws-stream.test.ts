/**
 * WebSocketStream (the Duplex the broker reads MQTT from) over a real WebSocket connection on
 * loopback: a paused stream stops reading the socket, so the sender is held back by TCP instead
 * of the server buffering everything; a client that does not read makes writes wait.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { WebSocketStream } from "../../src/broker/mqtt/transports/ws-stream.ts";

const CHUNK_BYTES = 64 * 1024;
const CHUNKS = 256; // 16 MiB: far beyond every buffer on the way
const WAIT_MS = 10_000;

/** Polls `condition` until it holds; fails with `explain()` after WAIT_MS. */
async function waitUntil(condition: () => boolean, explain: () => string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`not within ${WAIT_MS} ms: ${explain()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let server: Server;
let url: string;
const accepted: WebSocketStream[] = [];
const problems: string[] = [];

before(async () => {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server = createServer();
  server.on("upgrade", (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      const stream = new WebSocketStream(ws, (reason) => problems.push(reason));
      stream.pause();
      accepted.push(stream);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  for (const stream of accepted) stream.destroy();
  server.close();
});

async function open(): Promise<{ client: WebSocket; stream: WebSocketStream }> {
  const before = accepted.length;
  const client = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    client.once("open", () => resolve());
    client.once("error", reject);
  });
  await waitUntil(
    () => accepted.length > before,
    () => "server side not accepted",
  );
  return { client, stream: accepted[accepted.length - 1] };
}

test("a paused stream holds the sender back; resumed, every byte arrives in order", async () => {
  const { client, stream } = await open();
  const chunk = (i: number) => Buffer.alloc(CHUNK_BYTES, i & 0xff);
  for (let i = 0; i < CHUNKS; i++) client.send(chunk(i));
  // The sender's queue stops draining: the server no longer reads its socket.
  await waitUntil(
    () => client.bufferedAmount > 0 && stream.readableLength > 0,
    () => `bufferedAmount ${client.bufferedAmount}, readable ${stream.readableLength}`,
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  const total = CHUNK_BYTES * CHUNKS;
  assert.ok(
    stream.readableLength < total / 4,
    `server buffered ${stream.readableLength} of ${total} bytes while paused`,
  );
  assert.ok(client.bufferedAmount > 0, "the sender is waiting");
  let received = 0;
  let ordered = true;
  stream.on("data", (data: Buffer) => {
    for (let offset = 0; offset < data.length; offset += 4096) {
      const index = Math.floor((received + offset) / CHUNK_BYTES);
      if (data[offset] !== (index & 0xff)) ordered = false;
    }
    received += data.length;
  });
  stream.resume();
  await waitUntil(
    () => received === total,
    () => `received ${received} of ${total}`,
  );
  assert.ok(ordered, "bytes arrived in order");
  client.close();
});

test("writes to a client that does not read wait in the stream (writableLength, drain)", async () => {
  const { client, stream } = await open();
  client.pause();
  let full = false;
  let written = 0;
  const payload = Buffer.alloc(CHUNK_BYTES, 1);
  while (!full && written < CHUNKS) {
    full = !stream.write(payload);
    written++;
  }
  assert.ok(full, "write() reported backpressure");
  for (let i = 0; i < CHUNKS; i++) stream.write(payload);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(stream.writableLength > CHUNK_BYTES * 8, `writableLength ${stream.writableLength}`);
  const drained = new Promise<void>((resolve) => stream.once("drain", () => resolve()));
  let received = 0;
  client.on("message", (data: Buffer) => {
    received += data.length;
  });
  client.resume();
  await drained;
  const total = CHUNK_BYTES * (written + CHUNKS);
  await waitUntil(
    () => received === total,
    () => `received ${received} of ${total}`,
  );
  client.close();
});

test("the client closing ends and closes the stream", async () => {
  const { client, stream } = await open();
  const closed = new Promise<void>((resolve) => stream.once("close", () => resolve()));
  stream.resume();
  client.close();
  await closed;
  assert.ok(stream.destroyed);
  assert.deepEqual(problems, []);
});
