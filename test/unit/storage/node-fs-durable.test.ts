/**
 * NodeFileSystem.writevDurable (the group commit's one-step write + fsync under fsync_policy
 * "always"): bytes land at the given position, short buffers and empty ones included, and are
 * read back through the ordinary handle; close releases both descriptors.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { NodeFileSystem } from "../../../src/storage/log/file-system.ts";

test("writevDurable writes at the position, readable through the file's handle", async () => {
  const directory = await mkdtemp(join(tmpdir(), "rmq-durable-"));
  try {
    const fs = new NodeFileSystem();
    const path = join(directory, "00000000000000000000.log");
    const handle = await fs.open(path, "create");
    await fs.writev(handle, [Buffer.from("head-")], 0);
    await fs.writevDurable(handle, [Buffer.from("ab"), Buffer.alloc(0), Buffer.from("cd")], 5);
    await fs.writevDurable(handle, [Buffer.from("!")], 9);
    const back = Buffer.alloc(10);
    assert.equal(await fs.read(handle, back, 0, 10, 0), 10);
    assert.equal(back.toString(), "head-abcd!");
    assert.equal(await fs.size(handle), 10);
    await fs.close(handle);
    assert.equal((await readFile(path)).toString(), "head-abcd!");
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
