/**
 * AlterConfigs and IncrementalAlterConfigs against the real broker: kafkajs' admin.alterConfigs
 * (replace semantics) and raw requests at every version; each change shows in DescribeConfigs
 * and takes effect on the live partitions (max.message.bytes on the next produce,
 * cleanup.policy=compact refusing keyless records and compacting), survives a restart and a
 * SIGKILL right after the answer; validate_only changes nothing; refusals per resource, with
 * Kafka's codes; the `admin` ACL action guards it.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import kafkajs, { type Admin, Kafka, logLevel } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { buildRecordBatch, readBatchHeader, readRecords } from "../../src/storage/log/index.ts";
import { ADMIN_CONFIG, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { createTopic, fetchRecords } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

// A CommonJS export that Node's ES module loader does not see as a named one.
const { ConfigResourceTypes } = kafkajs;
const CONFIG = `broker_id = 3\n${ADMIN_CONFIG}`;
const { SET, DELETE, APPEND, SUBTRACT } = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 };

let broker: BrokerProcess;
let dataDir: string;
let admin: Admin;

function port(): number {
  return broker.kafkaPort ?? 0;
}

async function connectAdmin(): Promise<Admin> {
  const kafka = new Kafka({
    clientId: "alter-configs",
    brokers: [`127.0.0.1:${port()}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
  const connected = kafka.admin();
  await connected.connect();
  return connected;
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "rmq-alter-configs-"));
  broker = await startBroker({ logLevel: "info", config: CONFIG, dataDir });
  admin = await connectAdmin();
});

after(async () => {
  await admin?.disconnect();
  await broker?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A topic's configs as DescribeConfigs v4 reports them: name -> [value, source]. */
async function describe(client: WireClient, topic: string): Promise<Map<string, [string, number]>> {
  const response = await client.request(ApiKey.DescribeConfigs, 4, {
    resources: [{ resourceType: 2, resourceName: topic, configurationKeys: null }],
    includeSynonyms: false,
    includeDocumentation: false,
  });
  const [result] = response.results;
  assert.equal(result.errorCode, 0, `describe ${topic}`);
  return new Map(result.configs.map((c) => [c.name, [c.value ?? "", c.configSource] as const]));
}

/** Produce v8 of one batch to partition 0; the partition's error code. */
async function produce(client: WireClient, topic: string, batch: Buffer): Promise<number> {
  const response = await client.request(ApiKey.Produce, 8, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }],
  });
  return response.responses[0].partitionResponses[0].errorCode;
}

/** Every record of partition 0 as [key, offset], by Fetch v11 (one segment per answer) to the end. */
async function keyedOffsets(client: WireClient, topic: string): Promise<Array<[string, number]>> {
  const seen: Array<[string, number]> = [];
  let offset = 0n;
  for (;;) {
    const response = await client.request(ApiKey.Fetch, 11, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1_000_000,
      topics: [
        {
          topic,
          partitions: [{ partition: 0, fetchOffset: offset, partitionMaxBytes: 1_000_000 }],
        },
      ],
    });
    const data = response.responses[0].partitions[0];
    assert.equal(data.errorCode, 0);
    const records = data.records ?? Buffer.alloc(0);
    for (let at = 0; at < records.length; at += 12 + records.readInt32BE(at + 8)) {
      const decoded = readRecords(records, at);
      assert.equal(decoded.kind, "ok");
      if (decoded.kind !== "ok") continue;
      for (const r of decoded.records) {
        if (r.offset >= offset) seen.push([String(r.key), r.offset]);
      }
      const header = readBatchHeader(records, at);
      offset = BigInt(header.baseOffset + header.lastOffsetDelta + 1);
    }
    if (records.length === 0 || offset >= data.highWatermark) return seen;
  }
}

function batchOf(valueBytes: number, key: string | null = "k"): Buffer {
  const value = Buffer.alloc(valueBytes, "v");
  return buildRecordBatch([
    { timestamp: Date.now(), key: key === null ? null : Buffer.from(key), value },
  ]);
}

interface Alteration {
  name: string;
  configOperation: number;
  value: string | null;
}

function incremental(
  client: WireClient,
  version: number,
  resources: Array<{ resourceType: number; resourceName: string; configs: Alteration[] }>,
  validateOnly = false,
) {
  return client.request(ApiKey.IncrementalAlterConfigs, version, { resources, validateOnly });
}

test("ApiVersions advertises AlterConfigs 0-2 and IncrementalAlterConfigs 0-1", async () => {
  const client = await WireClient.connect(port());
  try {
    const versions = await client.request(ApiKey.ApiVersions, 3, {
      clientSoftwareName: "test",
      clientSoftwareVersion: "1",
    });
    const range = (key: number) => {
      const found = versions.apiKeys.find((k) => k.apiKey === key);
      return found === undefined ? null : [found.minVersion, found.maxVersion];
    };
    assert.deepEqual(range(33), [0, 2]);
    assert.deepEqual(range(44), [0, 1]);
  } finally {
    client.close();
  }
});

test("kafkajs alterConfigs replaces the set; max.message.bytes governs the next produce", async () => {
  await admin.createTopics({
    topics: [{ topic: "limits", configEntries: [{ name: "retention.ms", value: "60000" }] }],
  });
  const client = await WireClient.connect(port());
  try {
    assert.equal(await produce(client, "limits", batchOf(4000)), KafkaError.NONE);
    const alter = (value: string, validateOnly = false) =>
      admin.alterConfigs({
        validateOnly,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: "limits",
            configEntries: [{ name: "max.message.bytes", value }],
          },
        ],
      });
    const answer = await alter("2048");
    assert.deepEqual(answer.resources, [
      { errorCode: 0, errorMessage: null, resourceType: 2, resourceName: "limits" },
    ]);
    let configs = await describe(client, "limits");
    assert.deepEqual(configs.get("max.message.bytes"), ["2048", 1], "dynamic topic config");
    assert.notEqual(configs.get("retention.ms")?.[0], "60000", "not named: back to its default");
    assert.equal(configs.get("retention.ms")?.[1], 4, "the node's default");
    assert.equal(await produce(client, "limits", batchOf(4000)), KafkaError.MESSAGE_TOO_LARGE);
    assert.equal(await produce(client, "limits", batchOf(1000)), KafkaError.NONE);
    // validate_only checks, and changes nothing.
    await alter("100000", true);
    assert.equal(await produce(client, "limits", batchOf(4000)), KafkaError.MESSAGE_TOO_LARGE);
    await assert.rejects(alter("lots"), (error: Error & { type?: string }) => {
      assert.equal(error.type, "INVALID_CONFIG");
      return true;
    });
    await alter("100000");
    configs = await describe(client, "limits");
    assert.deepEqual(configs.get("max.message.bytes"), ["100000", 1]);
    assert.equal(await produce(client, "limits", batchOf(4000)), KafkaError.NONE);
    const line = await broker.waitForLog(
      (l) => l.msg === "Kafka topic configs altered" && l.topic === "limits",
    );
    assert.deepEqual(line.set, { "max.message.bytes": "2048" });
    assert.deepEqual(line.removed, ["retention.ms"]);
    assert.equal(line.user, null, "anonymous");
    const records = await fetchRecords(port(), "limits", 0);
    assert.deepEqual(
      records.map((r) => r.value?.length),
      [4000, 1000, 4000],
      "the stored larger batch stays readable",
    );
  } finally {
    client.close();
  }
});

test("IncrementalAlterConfigs v0 and v1: SET, DELETE, APPEND, SUBTRACT and validate_only", async () => {
  const client = await WireClient.connect(port());
  try {
    for (const version of [0, 1]) {
      const topic = `incremental-v${version}`;
      await createTopic(client, topic);
      const resource = (configs: Alteration[]) => [
        { resourceType: 2, resourceName: topic, configs },
      ];
      const set = await incremental(
        client,
        version,
        resource([
          { name: "retention.ms", configOperation: SET, value: "123456" },
          { name: "cleanup.policy", configOperation: APPEND, value: "compact" },
        ]),
      );
      assert.deepEqual(
        set.responses.map((r) => [r.resourceName, r.errorCode, r.errorMessage]),
        [[topic, 0, null]],
      );
      let configs = await describe(client, topic);
      assert.deepEqual(configs.get("retention.ms"), ["123456", 1], `v${version}`);
      assert.deepEqual(configs.get("cleanup.policy"), ["delete,compact", 1], "from the default");
      const unchanged = await incremental(
        client,
        version,
        resource([{ name: "segment.ms", configOperation: SET, value: "1000" }]),
        true,
      );
      assert.equal(unchanged.responses[0].errorCode, 0);
      assert.equal((await describe(client, topic)).get("segment.ms")?.[1], 5, "validate_only");
      await incremental(
        client,
        version,
        resource([
          { name: "retention.ms", configOperation: DELETE, value: null },
          { name: "cleanup.policy", configOperation: SUBTRACT, value: "delete" },
        ]),
      );
      configs = await describe(client, topic);
      assert.equal(configs.get("retention.ms")?.[1], 4, `v${version}: deleted, the default`);
      assert.deepEqual(configs.get("cleanup.policy"), ["compact", 1]);
      // Compacted now: a record without a key is refused, one with a key taken.
      assert.equal(await produce(client, topic, batchOf(10, null)), KafkaError.INVALID_RECORD);
      assert.equal(await produce(client, topic, batchOf(10, "key")), KafkaError.NONE);
    }
  } finally {
    client.close();
  }
});

test("refusals per resource with Kafka's codes; a refused resource changes nothing", async () => {
  const client = await WireClient.connect(port());
  try {
    await createTopic(client, "guarded");
    for (const version of [0, 1]) {
      const response = await incremental(client, version, [
        { resourceType: 2, resourceName: "missing", configs: [] },
        { resourceType: 2, resourceName: "twice", configs: [] },
        { resourceType: 2, resourceName: "twice", configs: [] },
        {
          resourceType: 2,
          resourceName: "guarded",
          configs: [
            { name: "retention.ms", configOperation: SET, value: "1" },
            { name: "no.such.config", configOperation: SET, value: "1" },
          ],
        },
        {
          resourceType: 2,
          resourceName: "guarded",
          configs: [{ name: "segment.ms", configOperation: APPEND, value: "1" }],
        },
        {
          resourceType: 4,
          resourceName: "3",
          configs: [{ name: "log.retention.ms", configOperation: SET, value: "1" }],
        },
        {
          resourceType: 4,
          resourceName: "",
          configs: [{ name: "log.retention.ms", configOperation: DELETE, value: null }],
        },
        { resourceType: 4, resourceName: "9", configs: [] },
        {
          resourceType: 8,
          resourceName: "3",
          configs: [{ name: "kafka.server", configOperation: SET, value: "DEBUG" }],
        },
        { resourceType: 32, resourceName: "group", configs: [] },
        {
          resourceType: 2,
          resourceName: "incremental-v0",
          configs: [{ name: "retention.ms", configOperation: SET, value: null }],
        },
      ]);
      assert.deepEqual(
        response.responses.map((r) => [r.resourceType, r.resourceName, r.errorCode]),
        [
          [2, "missing", KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
          [2, "twice", KafkaError.INVALID_REQUEST],
          [2, "twice", KafkaError.INVALID_REQUEST],
          [2, "guarded", KafkaError.INVALID_REQUEST],
          [2, "guarded", KafkaError.INVALID_REQUEST],
          [4, "3", KafkaError.INVALID_REQUEST],
          [4, "", KafkaError.NONE],
          [4, "9", KafkaError.INVALID_REQUEST],
          [8, "3", KafkaError.INVALID_REQUEST],
          [32, "group", KafkaError.INVALID_REQUEST],
          [2, "incremental-v0", KafkaError.INVALID_REQUEST],
        ],
        `v${version}`,
      );
      const messages = response.responses.map((r) => r.errorMessage ?? "");
      assert.match(messages[0], /does not exist/);
      assert.match(messages[1], /at most once/);
      assert.match(messages[5], /Cannot update these configs dynamically: log\.retention\.ms/);
      assert.match(messages[5], /robustmq\.toml/);
      assert.match(messages[7], /Unexpected broker id, expected 3, but received 9/);
      assert.match(messages[8], /Log levels cannot be changed dynamically/);
      assert.match(messages[10], /Null value not supported/);
      // Named once each, "guarded" gets its own checks.
      const single = async (configs: Alteration[]) =>
        (
          await incremental(client, version, [
            { resourceType: 2, resourceName: "guarded", configs },
          ])
        ).responses[0];
      const unknown = await single([
        { name: "retention.ms", configOperation: SET, value: "1" },
        { name: "no.such.config", configOperation: SET, value: "1" },
      ]);
      assert.equal(unknown.errorCode, KafkaError.INVALID_CONFIG);
      assert.match(unknown.errorMessage ?? "", /"no\.such\.config" is not supported/);
      const notList = await single([{ name: "segment.ms", configOperation: APPEND, value: "1" }]);
      assert.equal(notList.errorCode, KafkaError.INVALID_CONFIG);
      assert.match(notList.errorMessage ?? "", /type is not LIST/);
      const badValue = await single([{ name: "segment.bytes", configOperation: SET, value: "1" }]);
      assert.equal(badValue.errorCode, KafkaError.INVALID_CONFIG);
      // A name of one of Object.prototype's members is an unknown config like any other.
      const member = await single([{ name: "toString", configOperation: SET, value: "1" }]);
      assert.equal(member.errorCode, KafkaError.INVALID_CONFIG);
      assert.match(member.errorMessage ?? "", /"toString" is not supported/);
      const configs = await describe(client, "guarded");
      assert.ok(
        [...configs.values()].every(([, source]) => source !== 1),
        "nothing was applied to guarded",
      );
    }
    const logged = await broker.waitForLog(
      (l) => l.msg === "Kafka config alteration refused" && l.resourceName === "missing",
    );
    assert.equal(logged.errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION);
  } finally {
    client.close();
  }
});

test("AlterConfigs v0-2 over the wire: replace, validate_only, refusals", async () => {
  const client = await WireClient.connect(port());
  try {
    for (let version = 0; version <= 2; version++) {
      const topic = `replace-v${version}`;
      await createTopic(client, topic);
      const alter = (
        resources: Array<{
          resourceType: number;
          resourceName: string;
          configs: Array<{ name: string; value: string | null }>;
        }>,
        validateOnly = false,
      ) => client.request(ApiKey.AlterConfigs, version, { resources, validateOnly });
      const first = await alter([
        {
          resourceType: 2,
          resourceName: topic,
          configs: [
            { name: "segment.ms", value: "60000" },
            { name: "retention.bytes", value: "1000000" },
          ],
        },
      ]);
      assert.deepEqual(first.responses[0], {
        errorCode: 0,
        errorMessage: null,
        resourceType: 2,
        resourceName: topic,
      });
      await alter(
        [{ resourceType: 2, resourceName: topic, configs: [{ name: "segment.ms", value: "1" }] }],
        true,
      );
      await alter([
        { resourceType: 2, resourceName: topic, configs: [{ name: "segment.ms", value: "90000" }] },
      ]);
      const configs = await describe(client, topic);
      assert.deepEqual(configs.get("segment.ms"), ["90000", 1], `v${version}`);
      assert.equal(configs.get("retention.bytes")?.[1], 4, "replaced: back to the default");
      const refused = await alter([
        { resourceType: 2, resourceName: topic, configs: [{ name: "segment.ms", value: null }] },
        { resourceType: 2, resourceName: "missing", configs: [] },
        { resourceType: 4, resourceName: "3", configs: [{ name: "num.partitions", value: "3" }] },
        { resourceType: 8, resourceName: "3", configs: [] },
      ]);
      assert.deepEqual(
        refused.responses.map((r) => r.errorCode),
        [
          KafkaError.INVALID_REQUEST,
          KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
          KafkaError.INVALID_REQUEST,
          KafkaError.INVALID_REQUEST,
        ],
        `v${version}`,
      );
      assert.match(refused.responses[3].errorMessage ?? "", /Unknown resource type 8/);
      // "__proto__" is an unknown config, not a silent reset of every config to its default.
      const proto = await alter([
        { resourceType: 2, resourceName: topic, configs: [{ name: "__proto__", value: "1" }] },
      ]);
      assert.equal(proto.responses[0].errorCode, KafkaError.INVALID_CONFIG, `v${version}`);
      assert.deepEqual((await describe(client, topic)).get("segment.ms"), ["90000", 1]);
    }
  } finally {
    client.close();
  }
});

test("cleanup.policy=compact set at run time makes the broker compact the topic", async () => {
  const client = await WireClient.connect(port());
  const topic = "later-compacted";
  try {
    await createTopic(client, topic);
    await incremental(client, 1, [
      {
        resourceType: 2,
        resourceName: topic,
        configs: [{ name: "segment.bytes", configOperation: SET, value: "1024" }],
      },
    ]);
    for (let i = 0; i < 40; i++) {
      assert.equal(await produce(client, topic, batchOf(200, `key-${i % 2}`)), KafkaError.NONE);
    }
    const response = await incremental(client, 1, [
      {
        resourceType: 2,
        resourceName: topic,
        configs: [
          { name: "cleanup.policy", configOperation: SET, value: "compact" },
          { name: "min.cleanable.dirty.ratio", configOperation: SET, value: "0.01" },
        ],
      },
    ]);
    assert.equal(response.responses[0].errorCode, 0);
    // The broker offers compacted topics a pass every 15 s.
    await broker.waitForLog(
      (l) => l.msg === "Kafka partition compacted" && l.topic === topic,
      40_000,
    );
    const records = await keyedOffsets(client, topic);
    assert.ok(records.length < 40, `${records.length} records left of 40`);
    const latest = new Map(records);
    assert.deepEqual(
      latest,
      new Map([
        ["key-0", 38],
        ["key-1", 39],
      ]),
      "the latest per key stays",
    );
  } finally {
    client.close();
  }
});

test("altered configs survive a restart and a SIGKILL right after the answer", async () => {
  const client = await WireClient.connect(port());
  try {
    await createTopic(client, "durable");
    const response = await incremental(client, 1, [
      {
        resourceType: 2,
        resourceName: "durable",
        configs: [
          { name: "max.message.bytes", configOperation: SET, value: "1500" },
          { name: "retention.ms", configOperation: SET, value: "7200000" },
        ],
      },
    ]);
    assert.equal(response.responses[0].errorCode, 0);
  } finally {
    client.close();
  }
  await admin.disconnect();
  assert.notEqual(await broker.stop("SIGKILL"), 0);
  broker = await startBroker({ logLevel: "info", config: CONFIG, dataDir });
  const again = await WireClient.connect(port());
  try {
    const configs = await describe(again, "durable");
    assert.deepEqual(configs.get("max.message.bytes"), ["1500", 1]);
    assert.deepEqual(configs.get("retention.ms"), ["7200000", 1]);
    assert.deepEqual((await describe(again, "limits")).get("max.message.bytes"), ["100000", 1]);
    assert.equal(await produce(again, "durable", batchOf(3000)), KafkaError.MESSAGE_TOO_LARGE);
    assert.equal(await produce(again, "durable", batchOf(500)), KafkaError.NONE);
  } finally {
    again.close();
  }
  await broker.stop();
  broker = await startBroker({ logLevel: "info", config: CONFIG, dataDir });
  const third = await WireClient.connect(port());
  try {
    assert.deepEqual((await describe(third, "durable")).get("max.message.bytes"), ["1500", 1]);
  } finally {
    third.close();
  }
  admin = await connectAdmin();
});

test("altering a topic needs the admin action on it", async () => {
  const api = await adminApi(broker);
  const client = await WireClient.connect(port());
  try {
    await createTopic(client, "locked");
    const rule = await api.call("POST", "/api/v1/kafka/acl", {
      permission: "deny",
      action: "admin",
      topic: "locked",
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    const response = await incremental(client, 1, [
      {
        resourceType: 2,
        resourceName: "locked",
        configs: [{ name: "retention.ms", configOperation: SET, value: "1" }],
      },
      {
        resourceType: 2,
        resourceName: "durable",
        configs: [{ name: "retention.ms", configOperation: SET, value: "3600000" }],
      },
    ]);
    assert.deepEqual(
      response.responses.map((r) => r.errorCode),
      [KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.NONE],
    );
    await assert.rejects(
      admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: "locked",
            configEntries: [{ name: "retention.ms", value: "1" }],
          },
        ],
      }),
      (error: Error & { type?: string }) => error.type === "TOPIC_AUTHORIZATION_FAILED",
    );
    assert.equal((await describe(client, "locked")).get("retention.ms")?.[1], 4, "unchanged");
    assert.deepEqual((await describe(client, "durable")).get("retention.ms"), ["3600000", 1]);
  } finally {
    client.close();
  }
});
