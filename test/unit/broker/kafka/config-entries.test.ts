import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ConfigSource,
  configEntries,
  topicEntries,
} from "../../../../src/broker/kafka/config-entries.ts";
import { SUPPORTED_TOPIC_CONFIGS } from "../../../../src/broker/kafka/topic-configs.ts";
import { loadConfig } from "../../../../src/config/load.ts";

function entriesFor(kafka: Record<string, unknown>) {
  return configEntries(loadConfig({ overrides: { kafka } }));
}

test("flush.* state the fsync policy in Kafka's terms", () => {
  const value = (entries: ReturnType<typeof entriesFor>, name: string) =>
    entries.topicDefaults.get(name)?.value;
  const always = entriesFor({ fsync_policy: "always" });
  assert.equal(value(always, "flush.messages"), "1");
  assert.equal(value(always, "flush.ms"), "9223372036854775807");
  const interval = entriesFor({ fsync_policy: "interval", fsync_interval_ms: 250 });
  assert.equal(value(interval, "flush.messages"), "9223372036854775807");
  assert.equal(value(interval, "flush.ms"), "250");
});

test("a topic's own value wins; every supported config has exactly one entry", () => {
  const entries = entriesFor({ retention_ms: 5000, message_max_bytes: 2_000_000 });
  const topic = topicEntries(entries, { "retention.ms": "10" });
  assert.deepEqual(
    topic.map((e) => e.name),
    SUPPORTED_TOPIC_CONFIGS,
  );
  const byName = new Map(topic.map((e) => [e.name, e]));
  assert.equal(byName.get("retention.ms")?.value, "10");
  assert.equal(byName.get("retention.ms")?.source, ConfigSource.DYNAMIC_TOPIC_CONFIG);
  assert.equal(byName.get("max.message.bytes")?.value, "2000000");
  assert.equal(byName.get("max.message.bytes")?.source, ConfigSource.STATIC_BROKER_CONFIG);
});

test("a topic's own flush.* or segment.bytes change what its other entries say is in force", () => {
  const always = entriesFor({ fsync_policy: "always", message_max_bytes: 2_000_000 });
  const value = (configs: Record<string, string>, name: string) =>
    topicEntries(always, configs).find((e) => e.name === name)?.value;
  // flush.ms alone is an interval policy (logOptionsFor): not every message is flushed.
  assert.equal(value({ "flush.ms": "1000" }, "flush.messages"), "9223372036854775807");
  // flush.messages > 1 alone leaves flushing to the OS: no interval either.
  const interval = entriesFor({ fsync_policy: "interval", fsync_interval_ms: 250 });
  const flushMs = topicEntries(interval, { "flush.messages": "5" }).find(
    (e) => e.name === "flush.ms",
  );
  assert.equal(flushMs?.value, "9223372036854775807");
  // A batch must fit the topic's own segment.
  assert.equal(value({ "segment.bytes": "4096" }, "max.message.bytes"), "4096");
  assert.equal(value({}, "flush.messages"), "1");
});
