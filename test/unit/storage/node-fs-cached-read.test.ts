/**
 * NodeFileSystem reads small ranges from the page cache on the event loop (the native/io
 * addon's readCached) and the rest through the thread pool. Whatever the cache holds, a read
 * returns the file's bytes: the addon on a real file, and the fallbacks driven by a readCached
 * that reports a page missing (-1) or only part of the range in the cache. A loop of reads does
 * not keep the event loop from its other work.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadIoAddon } from "../../../src/native/io-addon.ts";
import { type CachedRead, NodeFileSystem } from "../../../src/storage/log/file-system.ts";

const FILE_BYTES = 256 * 1024;

describe("NodeFileSystem cached reads", () => {
  let directory: string;
  let path: string;
  let content: Buffer;

  before(async () => {
    directory = await mkdtemp(join(tmpdir(), "rmq-cached-read-"));
    path = join(directory, "00000000000000000000.log");
    content = randomBytes(FILE_BYTES);
    await writeFile(path, content);
  });

  after(() => rm(directory, { recursive: true, force: true }));

  /** Reads each range with `fs` and compares it with the file's bytes. */
  async function readsBack(fs: NodeFileSystem): Promise<void> {
    const handle = await fs.open(path, "read");
    try {
      const ranges = [
        [0, 61],
        [4095, 2],
        [100_000, 64 * 1024],
        [3, 64 * 1024 + 1],
        [FILE_BYTES - 10, 10],
      ];
      for (const [position, length] of ranges) {
        const into = Buffer.alloc(length + 8, 0xee);
        assert.equal(await fs.read(handle, into, 4, length, position), length);
        assert.deepEqual(
          into.subarray(4, 4 + length),
          content.subarray(position, position + length),
        );
        assert.equal(into[3], 0xee, "nothing written before the offset");
        assert.equal(into[4 + length], 0xee, "nothing written past the length");
      }
      const tail = Buffer.alloc(100);
      assert.equal(await fs.read(handle, tail, 0, 100, FILE_BYTES - 30), 30, "short at the end");
      assert.deepEqual(tail.subarray(0, 30), content.subarray(FILE_BYTES - 30));
      assert.equal(await fs.read(handle, tail, 0, 100, FILE_BYTES), 0, "nothing past the end");
    } finally {
      await fs.close(handle);
    }
  }

  test("the addon reads from the page cache what the file holds", async () => {
    const addon = loadIoAddon();
    assert.ok(!("unavailable" in addon), `addon loads: ${JSON.stringify(addon)}`);
    const calls: number[] = [];
    const counted: CachedRead = (fd, buffer, position) => {
      const read = addon.readCached(fd, buffer, position);
      calls.push(read);
      return read;
    };
    await readsBack(new NodeFileSystem({ readCached: counted }));
    // The file was just written, so its pages are cached: every small read was served there.
    assert.deepEqual(calls, [61, 2, 64 * 1024, 10, 30, 0]);
    assert.equal(addon.readCached(-1, Buffer.alloc(8), 0), -1, "a bad descriptor is -1");
  });

  test("a range not in the cache is read through the thread pool", async () => {
    await readsBack(new NodeFileSystem({ readCached: () => -1 }));
  });

  test("a range partly in the cache is finished through the thread pool", async () => {
    const addon = loadIoAddon();
    assert.ok(!("unavailable" in addon));
    const firstHalf: CachedRead = (fd, buffer, position) =>
      addon.readCached(fd, buffer.subarray(0, Math.ceil(buffer.length / 2)), position);
    await readsBack(new NodeFileSystem({ readCached: firstHalf }));
  });

  test("without the addon every read goes through the thread pool", async () => {
    await readsBack(new NodeFileSystem({ readCached: null }));
  });

  test("a loop of cached reads lets the event loop run between them", async () => {
    const addon = loadIoAddon();
    assert.ok(!("unavailable" in addon));
    let served = 0;
    const counted: CachedRead = (fd, buffer, position) => {
      served++;
      return addon.readCached(fd, buffer, position);
    };
    const fs = new NodeFileSystem({ readCached: counted });
    const handle = await fs.open(path, "read");
    try {
      // Each turn of the event loop runs its check phase; count the reads done before one.
      let readsBeforeTurn = -1;
      let done = 0;
      setImmediate(() => {
        readsBeforeTurn = done;
      });
      const header = Buffer.alloc(61);
      for (let i = 0; i < 1000; i++) {
        await fs.read(handle, header, 0, 61, (i * 61) % (FILE_BYTES - 61));
        done++;
      }
      assert.ok(readsBeforeTurn > 0 && readsBeforeTurn < 1000, `turn after ${readsBeforeTurn}`);
      assert.ok(served > 900, `most reads from the cache: ${served} of 1000`);
    } finally {
      await fs.close(handle);
    }
  });

  test("a closed file is an error, as without the addon", async () => {
    const fs = new NodeFileSystem();
    const handle = await fs.open(path, "read");
    await fs.close(handle);
    await assert.rejects(fs.read(handle, Buffer.alloc(8), 0, 8, 0));
  });
});
