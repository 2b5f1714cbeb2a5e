/**
 * The sendfile of the native/io addon on real sockets and files: a range arrives byte for
 * byte, a peer that does not read gets part of it and no error (the caller sends the rest),
 * ranges own their descriptors, and a closed socket is an error, not a crash. Each send goes
 * either on the event loop (the range is in the page cache) or on the thread pool; both are
 * run: the file is just written, so the pool is reached by an addon that reports every range
 * uncached, and the addon's own check by a range of a file's hole, which no page backs.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  loadZeroCopy,
  SendFileError,
  socketDescriptor,
  ZERO_COPY_MIN_BYTES,
  ZeroCopy,
} from "../../../../src/broker/kafka/zero-copy.ts";
import { type IoAddon, loadIoAddon } from "../../../../src/native/io-addon.ts";

const FILE_BYTES = 8 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * A connected pair: `sender` is the server side, `receiver` the client. With `allowHalfOpen`,
 * the sender stays open when the receiver goes away, as a broker's socket does until it notices.
 */
async function socketPair(
  allowHalfOpen = false,
): Promise<{ sender: Socket; receiver: Socket; close(): void }> {
  const server = createServer({ allowHalfOpen });
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

/** A segment file holding `content`, opened with `flags`; remove() closes and deletes it. */
function segmentFile(content: Buffer, flags = "r"): { fd: number; path: string; remove(): void } {
  const directory = mkdtempSync(join(tmpdir(), "rmq-zero-copy-"));
  const path = join(directory, "segment.log");
  writeFileSync(path, content);
  const fd = openSync(path, flags);
  return {
    fd,
    path,
    remove() {
      closeSync(fd);
      rmSync(directory, { recursive: true, force: true });
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

function realAddon(): IoAddon {
  const addon = loadIoAddon();
  assert.ok(!("unavailable" in addon), `addon loads: ${JSON.stringify(addon)}`);
  return addon;
}

/** How sends are made: results of sendFileCached, counted (null: it left the send to the pool). */
const modes = [
  { name: "from the page cache, on the event loop", cached: true },
  { name: "on the thread pool", cached: false },
] as const;

for (const mode of modes)
  describe(`zero-copy fetch answers, ${mode.name}`, () => {
    let segment: ReturnType<typeof segmentFile>;
    let content: Buffer;
    let fd: number;
    let zeroCopy: ZeroCopy;
    const sendsAtOnce: boolean[] = [];

    before(() => {
      assert.ok(loadZeroCopy() instanceof ZeroCopy);
      const addon = realAddon();
      zeroCopy = new ZeroCopy({
        ...addon,
        sendFileCached: (...args) => {
          const result = mode.cached ? addon.sendFileCached(...args) : null;
          sendsAtOnce.push(result !== null);
          return result;
        },
      });
      content = randomBytes(FILE_BYTES);
      segment = segmentFile(content);
      fd = segment.fd;
    });

    after(() => {
      segment.remove();
      // Every send of this mode went the way it names.
      assert.ok(sendsAtOnce.length > 0);
      assert.ok(
        sendsAtOnce.every((atOnce) => atOnce === mode.cached),
        JSON.stringify(sendsAtOnce),
      );
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
      const copy = openSync(segment.path, "r");
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

    test("a peer gone mid-stream is an error naming why", async () => {
      const pair = await socketPair(true);
      const opened = zeroCopy.open(fd, 0, ZERO_COPY_MIN_BYTES);
      assert.ok(opened !== null);
      try {
        const ended = new Promise((resolve) => pair.sender.once("end", resolve));
        pair.receiver.destroy();
        await ended;
        // The first send may still be taken (the peer's reset answers it); a later one fails.
        let failure: unknown = null;
        for (let i = 0; i < 20 && failure === null; i++) {
          await zeroCopy.send(pair.sender, opened.range, 0, EMPTY).catch((err) => {
            failure = err;
          });
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        assert.ok(failure instanceof SendFileError, String(failure));
        assert.ok([32, 104].includes(failure.errno), `EPIPE or ECONNRESET, got ${failure.errno}`);
      } finally {
        zeroCopy.close(opened.range);
        pair.close();
      }
    });
  });

describe("sends on the thread pool", () => {
  test("at most the given number run at once, the rest in the order they came", async () => {
    const addon = realAddon();
    const started: number[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    // Every send goes to the pool, and each holds its thread 20 ms, as a read from disk would.
    const slow: IoAddon = {
      ...addon,
      sendFileCached: () => null,
      sendFile: (socketFd, head, fileFd, position, length, done) => {
        started.push(position);
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        addon.sendFile(socketFd, head, fileFd, position, length, (...result) => {
          setTimeout(() => {
            inFlight--;
            done(...result);
          }, 20);
        });
      },
    };
    const zeroCopy = new ZeroCopy(slow, { poolSendsMax: 2 });
    const segment = segmentFile(randomBytes(1024 * 1024));
    const fd = segment.fd;
    const pairs = await Promise.all([1, 2, 3, 4, 5].map(() => socketPair()));
    const ranges = pairs.map((_, i) => zeroCopy.open(fd, i * 1000, ZERO_COPY_MIN_BYTES));
    try {
      const sends = pairs.map((pair, i) => {
        const range = ranges[i];
        assert.ok(range !== null);
        return zeroCopy.send(pair.sender, range.range, 0, EMPTY);
      });
      pairs[4].sender.destroy(); // closed while waiting its turn
      const results = await Promise.allSettled(sends);
      assert.equal(mostInFlight, 2);
      assert.deepEqual(started, [0, 1000, 2000, 3000], "in order; the closed one never started");
      for (const result of results.slice(0, 4)) {
        assert.equal(result.status, "fulfilled");
        assert.equal(result.value.fileSent, ZERO_COPY_MIN_BYTES);
      }
      const closed = results[4];
      assert.ok(closed.status === "rejected" && closed.reason instanceof SendFileError);
      assert.equal(closed.reason.errno, 9);
      // The slots were all given back: a new send starts at once.
      const again = zeroCopy.open(fd, 0, ZERO_COPY_MIN_BYTES);
      assert.ok(again !== null);
      await zeroCopy.send(pairs[0].sender, again.range, 0, EMPTY);
      zeroCopy.close(again.range);
      assert.equal(started.length, 5);
    } finally {
      for (const range of ranges) if (range !== null) zeroCopy.close(range.range);
      for (const pair of pairs) pair.close();
      segment.remove();
    }
  });
});

describe("sends on the event loop", () => {
  test("past the bytes of one turn, the turn's other sends go to the thread pool", async () => {
    const addon = realAddon();
    const ways: string[] = [];
    const counted: IoAddon = {
      ...addon,
      sendFileCached: (...args) => {
        const result = addon.sendFileCached(...args);
        ways.push(result === null ? "not cached" : "loop");
        return result;
      },
      sendFile: (...args) => {
        ways.push("pool");
        addon.sendFile(...args);
      },
    };
    const zeroCopy = new ZeroCopy(counted, { loopSendBytesPerTurn: 1 });
    const content = randomBytes(256 * 1024);
    const segment = segmentFile(content);
    const fd = segment.fd;
    const pairs = await Promise.all([1, 2, 3].map(() => socketPair()));
    const opened = pairs.map(() => zeroCopy.open(fd, 0, ZERO_COPY_MIN_BYTES));
    try {
      const arrivals = pairs.map((pair) => received(pair.receiver, ZERO_COPY_MIN_BYTES));
      const send = (i: number) => {
        const range = opened[i];
        assert.ok(range !== null);
        return zeroCopy.send(pairs[i].sender, range.range, 0, EMPTY);
      };
      // One turn: the first send takes the turn's bytes, the second goes to the pool.
      const first = send(0);
      const second = send(1);
      await Promise.all([first, second]);
      assert.deepEqual(ways, ["loop", "pool"]);
      // A later turn sends on the event loop again.
      await new Promise((resolve) => setImmediate(resolve));
      await send(2);
      assert.deepEqual(ways, ["loop", "pool", "loop"]);
      for (const bytes of await Promise.all(arrivals)) {
        assert.ok(bytes.equals(content.subarray(0, ZERO_COPY_MIN_BYTES)));
      }
    } finally {
      for (const range of opened) if (range !== null) zeroCopy.close(range.range);
      for (const pair of pairs) pair.close();
      segment.remove();
    }
  });
});

describe("sendFileCached", () => {
  test("leaves a range to the thread pool when a page of it is not in the page cache", async () => {
    const addon = realAddon();
    const segment = segmentFile(randomBytes(64 * 1024), "r+");
    const fd = segment.fd;
    // The file grows by a hole: no page backs it until it is read or written.
    ftruncateSync(fd, 1024 * 1024);
    const pair = await socketPair();
    const socketFd = socketDescriptor(pair.sender);
    try {
      const head = Buffer.from("head");
      assert.equal(addon.sendFileCached(socketFd, head, fd, 512 * 1024, 4096), null, "hole");
      assert.equal(addon.sendFileCached(socketFd, head, fd, 0, 80 * 1024), null, "partly hole");
      const arrival = received(pair.receiver, head.length + 1000);
      assert.deepEqual(addon.sendFileCached(socketFd, head, fd, 5, 1000), [0, head.length, 1000]);
      const bytes = await arrival;
      assert.equal(bytes.subarray(0, head.length).toString(), "head");
      assert.equal(bytes.length, head.length + 1000, "nothing from the refused calls was sent");
    } finally {
      pair.close();
      segment.remove();
    }
  });
});
