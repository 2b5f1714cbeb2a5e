/**
 * The sendfile of the native/io addon on real sockets and files: a range arrives byte for
 * byte, a peer that does not read gets part of it and no error (the caller sends the rest),
 * ranges own their descriptors, and a closed socket is an error, not a crash.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  loadZeroCopy,
  SendFileError,
  ZERO_COPY_MIN_BYTES,
  ZeroCopy,
} from "../../../../src/broker/kafka/zero-copy.ts";

const FILE_BYTES = 8 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/** A connected pair: `sender` is the server side, `receiver` the client. */
async function socketPair(): Promise<{ sender: Socket; receiver: Socket; close(): void }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  const receiver = connect({ host: "127.0.0.1", port });
  const sender = await accepted;
  await new Promise((resolve) => receiver.once("connect", resolve));
  return {
    sender,
    receiver,
    close() {
      sender.destroy();
      receiver.destroy();
      server.close();
    },
  };
}

function received(socket: Socket, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  return new Promise((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= bytes) resolve(Buffer.concat(chunks));
    });
  });
}

describe("zero-copy fetch answers", () => {
  let directory: string;
  let content: Buffer;
  let fd: number;
  let zeroCopy: ZeroCopy;

  before(() => {
    const loaded = loadZeroCopy();
    assert.ok(loaded instanceof ZeroCopy, `addon loads: ${JSON.stringify(loaded)}`);
    zeroCopy = loaded;
    directory = mkdtempSync(join(tmpdir(), "rmq-zero-copy-"));
    content = randomBytes(FILE_BYTES);
    writeFileSync(join(directory, "segment.log"), content);
    fd = openSync(join(directory, "segment.log"), "r");
  });

  after(() => {
    closeSync(fd);
    rmSync(directory, { recursive: true, force: true });
  });

  test("small or unusable ranges are left to the copying path", () => {
    assert.equal(zeroCopy.open(fd, 0, ZERO_COPY_MIN_BYTES - 1), null);
    assert.equal(zeroCopy.open(-1, 0, ZERO_COPY_MIN_BYTES), null);
    assert.equal(zeroCopy.open(1_000_000, 0, ZERO_COPY_MIN_BYTES), null, "not a descriptor");
  });

  test("a range owns a descriptor of its own until closed", () => {
    const opened = zeroCopy.open(fd, 100, ZERO_COPY_MIN_BYTES);
    assert.ok(opened !== null);
    assert.notEqual(opened.range.fd, fd);
    assert.equal(opened.placeholder.length, ZERO_COPY_MIN_BYTES);
    assert.equal(zeroCopy.openRangeCount, 1);
    zeroCopy.close(opened.range);
    assert.equal(zeroCopy.openRangeCount, 0);
  });

  test("a range reaches a reading peer byte for byte, read from its own descriptor", async () => {
    const pair = await socketPair();
    const position = 12_345;
    const length = 3 * 1024 * 1024;
    const opened = zeroCopy.open(fd, position, length);
    assert.ok(opened !== null);
    // The range reads through its own descriptor: closing the original changes nothing.
    const copy = openSync(join(directory, "segment.log"), "r");
    const second = zeroCopy.open(copy, position, length);
    closeSync(copy);
    assert.ok(second !== null);
    try {
      const arrival = received(pair.receiver, length);
      let sent = 0;
      while (sent < length) {
        const { fileSent: now } = await zeroCopy.send(pair.sender, second.range, sent, EMPTY);
        if (now === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        sent += now;
      }
      assert.ok((await arrival).equals(content.subarray(position, position + length)));
    } finally {
      zeroCopy.close(opened.range);
      zeroCopy.close(second.range);
      pair.close();
    }
  });

  test("a peer that does not read takes part of a range, without an error", async () => {
    const pair = await socketPair();
    const opened = zeroCopy.open(fd, 0, FILE_BYTES);
    assert.ok(opened !== null);
    try {
      pair.receiver.pause();
      const { fileSent: first } = await zeroCopy.send(pair.sender, opened.range, 0, EMPTY);
      assert.ok(first > 0 && first < FILE_BYTES, `${first} bytes taken of ${FILE_BYTES}`);
      // The kernel may find room for more meanwhile; a head goes whole before any of the range.
      const head = Buffer.from("head");
      const again = await zeroCopy.send(pair.sender, opened.range, first, head);
      assert.ok(again.headSent === head.length || again.fileSent === 0, JSON.stringify(again));
      const taken = first + again.fileSent;
      assert.ok(taken < FILE_BYTES, "the peer still reads nothing");
      // The rest through read(): what the connection does then.
      const rest = Buffer.alloc(FILE_BYTES - taken);
      assert.equal(await zeroCopy.read(opened.range, taken, rest), rest.length);
      assert.ok(rest.equals(content.subarray(taken)));
    } finally {
      zeroCopy.close(opened.range);
      pair.close();
    }
  });

  test("a closed socket is an error", async () => {
    const pair = await socketPair();
    const opened = zeroCopy.open(fd, 0, ZERO_COPY_MIN_BYTES);
    assert.ok(opened !== null);
    try {
      pair.sender.destroy();
      await assert.rejects(zeroCopy.send(pair.sender, opened.range, 0, EMPTY), SendFileError);
    } finally {
      zeroCopy.close(opened.range);
      pair.close();
    }
  });
});
