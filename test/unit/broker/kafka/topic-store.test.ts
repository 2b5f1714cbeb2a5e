/**
 * TopicStore file naming and failed creations: every topic name Kafka accepts (up to 249
 * characters) can be created and survives a reopen, and a creation that fails removes what it
 * made (partition directories, temporary file).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { TopicStore } from "../../../../src/broker/kafka/topic-store.ts";
import { createLogger } from "../../../../src/log/logger.ts";

const logger = createLogger({ level: "silent", format: "json" });

async function withDirectory(run: (directory: string) => Promise<void>): Promise<void> {
  const directory = await mkdtemp(join(tmpdir(), "rmq-topic-store-"));
  try {
    await run(directory);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

test("names of 247 to 249 characters are created and survive a reopen", async () => {
  await withDirectory(async (directory) => {
    const names = [247, 248, 249].map((length) => `t${length}-`.padEnd(length, "n"));
    const store = await TopicStore.open(directory, {}, logger);
    for (const name of names) {
      const { created } = await store.create(name, 3, {}, "fail");
      assert.equal(created, true, `${name.length} characters`);
    }
    await store.close();
    const reopened = await TopicStore.open(directory, {}, logger);
    try {
      assert.deepEqual(reopened.names(), [...names].sort());
      assert.equal(reopened.get(names[2])?.logs.length, 3);
      assert.deepEqual(
        (await readdir(join(directory, "topics"))).filter((f) => !f.endsWith(".json")),
        [],
        "no temporary files left",
      );
    } finally {
      await reopened.close();
    }
  });
});

test("a creation that fails removes its partition directories and temporary file", async () => {
  await withDirectory(async (directory) => {
    const store = await TopicStore.open(directory, {}, logger);
    try {
      // A directory where the metadata file goes makes the final rename fail.
      await mkdir(join(directory, "topics", "blocked.json", "inside"), { recursive: true });
      await assert.rejects(store.create("blocked", 4, {}, "fail"));
      const left = await readdir(directory);
      assert.deepEqual(
        left.filter((entry) => entry.startsWith("blocked-")),
        [],
        "no partition directories",
      );
      assert.deepEqual(
        (await readdir(join(directory, "topics"))).filter((f) => f.endsWith(".tmp")),
        [],
      );
      assert.equal(store.get("blocked"), undefined);
      // With the obstacle gone, the same name is created.
      await rm(join(directory, "topics", "blocked.json"), { recursive: true });
      assert.equal((await store.create("blocked", 4, {}, "fail")).created, true);
    } finally {
      await store.close();
    }
  });
});

test("a temporary metadata file left by a crash is removed at open", async () => {
  await withDirectory(async (directory) => {
    await mkdir(join(directory, "topics"), { recursive: true });
    await writeFile(join(directory, "topics", "0f1e.tmp"), "{");
    const store = await TopicStore.open(directory, {}, logger);
    await store.close();
    assert.deepEqual(await readdir(join(directory, "topics")), []);
  });
});

test("added partitions survive a reopen; a failed addition leaves the topic and disk as they were", async () => {
  await withDirectory(async (directory) => {
    const store = await TopicStore.open(directory, {}, logger);
    try {
      const { topic } = await store.create("grow", 1, { "retention.ms": "5000" }, "fail");
      const grown = await store.addPartitions("grow", 3);
      assert.notEqual(grown, topic, "a new topic object, so followers of the old one notice");
      assert.equal(grown.logs[0], topic.logs[0], "partition 0 keeps its log");
      assert.equal(store.get("grow")?.logs.length, 3);
      await assert.rejects(store.addPartitions("missing", 2), /does not exist/);
      // A file where partition 3's directory goes makes the next addition fail.
      await writeFile(join(directory, "grow-4"), "not a directory");
      await assert.rejects(store.addPartitions("grow", 5));
      assert.equal(store.get("grow"), grown);
      const left = (await readdir(directory)).filter((entry) => entry.startsWith("grow-"));
      assert.deepEqual(left.sort(), ["grow-0", "grow-1", "grow-2"]);
    } finally {
      await store.close();
    }
    const reopened = await TopicStore.open(directory, {}, logger);
    try {
      const topic = reopened.get("grow");
      assert.equal(topic?.logs.length, 3);
      assert.deepEqual(topic?.metadata.configs, { "retention.ms": "5000" });
    } finally {
      await reopened.close();
    }
  });
});
