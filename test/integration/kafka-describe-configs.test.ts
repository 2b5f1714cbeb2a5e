/**
 * DescribeConfigs against the real broker: a topic's own configs and the defaults the node
 * applies, this broker's settings under Kafka's names, with kafkajs' admin client and over the
 * wire for every version (v0's IsDefault, v1's source and synonyms, v3's types, v4 flexible).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import kafkajs, { type Admin, Kafka, logLevel } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

// A CommonJS export that Node's ES module loader does not see as a named one.
const { ConfigResourceTypes } = kafkajs;
let broker: BrokerProcess;
let admin: Admin;

before(async () => {
  broker = await startBroker({
    logLevel: "info",
    config: 'broker_id = 7\n[kafka]\nretention_ms = 3600000\nfsync_policy = "interval"\n',
  });
  const kafka = new Kafka({
    clientId: "describe-configs",
    brokers: [`127.0.0.1:${broker.kafkaPort}`],
    logLevel: logLevel.NOTHING,
  });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      {
        topic: "cfg",
        configEntries: [
          { name: "cleanup.policy", value: "compact" },
          { name: "retention.ms", value: "1000" },
        ],
      },
    ],
  });
});

after(async () => {
  await admin?.disconnect();
  await broker?.stop();
});

test("kafkajs: a topic's own configs and the node's defaults, with their sources", async () => {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: "cfg" }],
  });
  assert.equal(resources[0].errorCode, 0);
  const byName = new Map(resources[0].configEntries.map((e) => [e.configName, e]));
  assert.equal(byName.get("cleanup.policy")?.configValue, "compact");
  assert.equal(byName.get("retention.ms")?.configValue, "1000");
  assert.equal(
    byName.get("retention.ms")?.configSource,
    1,
    "the topic's own: dynamic topic config",
  );
  assert.equal(byName.get("segment.bytes")?.configValue, "1073741824");
  assert.equal(byName.get("segment.bytes")?.configSource, 4, "from [kafka]: static broker config");
  assert.equal(byName.get("flush.ms")?.configValue, "1000", "fsync_policy interval");
  assert.equal(byName.get("min.cleanable.dirty.ratio")?.configSource, 5, "built-in default");
  // A topic's configs are alterable (AlterConfigs, IncrementalAlterConfigs).
  assert.ok([...byName.values()].every((e) => !e.readOnly && !e.isSensitive));
  assert.equal(byName.size, 11);
});

test("kafkajs: only the keys asked for; the broker's settings by its id", async () => {
  const { resources } = await admin.describeConfigs({
    includeSynonyms: true,
    resources: [
      { type: ConfigResourceTypes.TOPIC, name: "cfg", configNames: ["retention.ms", "nope"] },
      { type: ConfigResourceTypes.BROKER, name: "7" },
    ],
  });
  assert.deepEqual(
    resources[0].configEntries.map((e) => [e.configName, e.configValue]),
    [["retention.ms", "1000"]],
  );
  assert.deepEqual(resources[0].configEntries[0].configSynonyms, [
    { configName: "retention.ms", configValue: "1000", configSource: 1 },
  ]);
  assert.ok(
    resources[1].configEntries.every((e) => e.readOnly),
    "the broker's are not",
  );
  const broker7 = new Map(resources[1].configEntries.map((e) => [e.configName, e.configValue]));
  assert.equal(broker7.get("log.retention.ms"), "3600000");
  assert.equal(broker7.get("broker.id"), "7");
  assert.equal(broker7.get("log.flush.interval.messages"), "9223372036854775807");
});

test("every version over the wire; unknown topics, other brokers and resource types refused", async () => {
  const client = await WireClient.connect(broker.kafkaPort ?? 0);
  try {
    for (let version = 0; version <= 4; version++) {
      const response = await client.request(ApiKey.DescribeConfigs, version, {
        resources: [
          {
            resourceType: 2,
            resourceName: "cfg",
            configurationKeys: ["cleanup.policy", "segment.ms"],
          },
          { resourceType: 2, resourceName: "missing", configurationKeys: null },
          { resourceType: 4, resourceName: "8", configurationKeys: null },
          { resourceType: 8, resourceName: "7", configurationKeys: null },
        ],
        includeSynonyms: true,
        includeDocumentation: false,
      });
      const [cfg, missing, other, logger] = response.results;
      const named = (name: string) => {
        const entry = cfg.configs.find((c) => c.name === name);
        assert.ok(entry !== undefined, `v${version} has ${name}`);
        return entry;
      };
      assert.equal(cfg.configs.length, 2);
      const policy = named("cleanup.policy");
      const segmentMs = named("segment.ms");
      assert.equal(policy.value, "compact", `v${version}`);
      if (version === 0) {
        assert.equal(policy.isDefault, false);
        assert.equal(segmentMs.isDefault, true);
      } else {
        assert.equal(policy.configSource, 1, `v${version}`);
        assert.equal(segmentMs.configSource, 5, `v${version}`);
        assert.equal(policy.synonyms.length, 1, `v${version}`);
      }
      if (version >= 3) assert.equal(policy.configType, 7, "LIST");
      assert.equal(missing.errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION, `v${version}`);
      assert.match(missing.errorMessage ?? "", /does not exist/);
      assert.equal(other.errorCode, KafkaError.INVALID_REQUEST, `v${version}`);
      assert.equal(logger.errorCode, KafkaError.INVALID_REQUEST, `v${version}`);
    }
  } finally {
    client.close();
  }
});
