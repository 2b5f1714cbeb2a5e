/**
 * TopicStore.reconfigure: a topic's new configs are on disk before it resolves and in force on
 * its live partition logs at once; a refused or failed change leaves both as they were; two
 * changes at once both land.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { configEntries } from "../../../../src/broker/kafka/config-entries.ts";
import {
  type ConfigAlteration,
  ConfigOperation,
  incrementalConfigs,
} from "../../../../src/broker/kafka/topic-config-changes.ts";
import { TopicStore, UnknownTopicError } from "../../../../src/broker/kafka/topic-store.ts";
import { defaultConfig } from "../../../../src/config/load.ts";
import { createLogger } from "../../../../src/log/logger.ts";
import { keyed } from "../../storage/compaction-suite.ts";

const logger = createLogger({ level: "silent", format: "json" });
const DEFAULTS = configEntries(defaultConfig()).topicDefaults;

function setting(...pairs: Array<[string, string]>) {
  const alterations: ConfigAlteration[] = pairs.map(([name, value]) => ({
    name,
    operation: ConfigOperation.SET,
    value,
  }));
  return (current: Readonly<Record<string, string>>) =>
    incrementalConfigs(current, alterations, DEFAULTS);
}

async function withStore(run: (store: TopicStore, directory: string) => Promise<void>) {
  const directory = await mkdtemp(join(tmpdir(), "rmq-topic-reconfigure-"));
  const store = await TopicStore.open(directory, {}, logger);
  try {
    await run(store, directory);
  } finally {
    await store.close();
    await rm(directory, { recursive: true, force: true });
  }
}

test("new configs are written, in force on every partition log, and there after a reopen", async () => {
  await withStore(async (store, directory) => {
    await store.create("t", 2, { "retention.ms": "1000" }, "fail");
    const old = store.get("t");
    const { before, result } = await store.reconfigure(
      "t",
      setting(["max.message.bytes", "2048"], ["cleanup.policy", "compact"]),
    );
    assert.deepEqual(before, { "retention.ms": "1000" });
    assert.ok(result.ok);
    const topic = store.get("t");
    assert.notEqual(topic, old, "a new KafkaTopic, so followers see the change");
    assert.equal(topic?.logs[0], old?.logs[0], "the same live logs");
    for (const log of topic?.logs ?? []) {
      assert.equal(log.options.batch_bytes_max, 2048);
      assert.equal(log.options.cleanup_policy, "compact");
      assert.equal(log.options.retention_ms, 1000);
    }
    const file = JSON.parse(await readFile(join(directory, "topics", "t.json"), "utf8"));
    assert.deepEqual(file.configs, {
      "retention.ms": "1000",
      "max.message.bytes": "2048",
      "cleanup.policy": "compact",
    });
    await store.close();
    const reopened = await TopicStore.open(directory, {}, logger);
    try {
      assert.equal(reopened.get("t")?.logs[1].options.batch_bytes_max, 2048);
      assert.equal(reopened.get("t")?.metadata.topicId, topic?.metadata.topicId);
    } finally {
      await reopened.close();
    }
  });
});

test("a refused change writes nothing and changes no log", async () => {
  await withStore(async (store, directory) => {
    await store.create("t", 1, { "segment.ms": "5000" }, "fail");
    const written = await readFile(join(directory, "topics", "t.json"), "utf8");
    const { result } = await store.reconfigure("t", setting(["segment.ms", "never"]));
    assert.ok(!result.ok);
    assert.equal(await readFile(join(directory, "topics", "t.json"), "utf8"), written);
    assert.equal(store.get("t")?.logs[0].options.segment_ms, 5000);
    await assert.rejects(store.reconfigure("none", setting()), UnknownTopicError);
  });
});

test("a metadata file that cannot be written leaves the topic as it was", async () => {
  await withStore(async (store, directory) => {
    await store.create("t", 1, {}, "fail");
    const file = join(directory, "topics", "t.json");
    // A directory where the file goes makes the rename over it fail.
    await rm(file);
    await mkdir(join(file, "inside"), { recursive: true });
    await assert.rejects(store.reconfigure("t", setting(["retention.ms", "10"])));
    assert.deepEqual(store.get("t")?.metadata.configs, {});
    assert.equal(store.get("t")?.logs[0].options.retention_ms, 7 * 24 * 3_600_000);
  });
});

test("two changes of one topic at once both land", async () => {
  await withStore(async (store) => {
    await store.create("t", 1, {}, "fail");
    await Promise.all([
      store.reconfigure("t", setting(["retention.ms", "10"])),
      store.reconfigure("t", setting(["segment.ms", "20"])),
    ]);
    assert.deepEqual(store.get("t")?.metadata.configs, {
      "retention.ms": "10",
      "segment.ms": "20",
    });
    assert.equal(store.get("t")?.logs[0].options.segment_ms, 20);
  });
});

test("a change during a compaction pass does not cut the pass short for the other partitions", async () => {
  await withStore(async (store) => {
    const configs = {
      "cleanup.policy": "compact",
      "segment.bytes": "1024",
      "min.cleanable.dirty.ratio": "0.01",
    };
    const { topic } = await store.create("c", 2, configs, "fail");
    // Partition 0 has much to clean, so the change lands while it is being compacted.
    for (let i = 0; i < 400; i++) await store.append(topic, 0, keyed(i % 2, i));
    for (let i = 0; i < 40; i++) await store.append(topic, 1, keyed(i % 2, i));
    const sizeBefore = topic.logs[1].sizeBytes;
    const pass = store.compact();
    await store.reconfigure("c", setting(["retention.ms", "86400000"]));
    await pass;
    assert.notEqual(store.get("c"), topic, "the topic was replaced during the pass");
    assert.ok(topic.logs[1].sizeBytes < sizeBefore / 2, `${topic.logs[1].sizeBytes} bytes`);
  });
});
