/**
 * [kafka_acl] against the real broker: built-in users authenticated with SASL/PLAIN read,
 * write and administer only the topics their rules give them; every refusal is Kafka's
 * TOPIC_AUTHORIZATION_FAILED, topics a user may not see are left out of Metadata, and a
 * superuser passes every check. kafkajs for the allowed paths, the wire for the refusals.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { buildRecordBatch } from "../../src/storage/log/index.ts";
import { ADMIN_CONFIG, ADMIN_PASSWORD, type AdminApi, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { runCtl } from "../helpers/ctl-cli.ts";
import { plainWireClient } from "../helpers/kafka-wire.ts";
import type { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const CONFIG = `${ADMIN_CONFIG}
[mqtt_auth]
authenticators = ["built_in"]
[kafka]
group_initial_rebalance_delay_ms = 0
[kafka_acl]
no_match = "deny"
rules = [
  { permission = "allow", action = "all", topic = "team-a.*", username = "alice" },
  { permission = "allow", action = "write", topic = "shared", username = "alice" },
  { permission = "allow", action = "read", topic = "shared" },
  { permission = "allow", action = "all", group = "alice-*", username = "alice" },
  { permission = "allow", action = "read", group = "bob-*", username = "bob" },
]
`;
const PASSWORDS: Record<string, string> = { alice: "alice-pw", bob: "bob-pw", root: "root-pw" };

let broker: BrokerProcess;
let port: number;
let api: AdminApi;

function kafkaAs(username: string): Kafka {
  return new Kafka({
    clientId: `acl-${username}`,
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    sasl: { mechanism: "plain", username, password: PASSWORDS[username] },
  });
}

/** A raw connection logged in with PLAIN. */
function wireAs(username: string): Promise<WireClient> {
  return plainWireClient(port, username, PASSWORDS[username]);
}

/** A standalone commit (generation -1) of `offset` for partition 0 of `topic`. */
function commitAs(client: WireClient, groupId: string, topic: string, offset: bigint) {
  return client.request(ApiKey.OffsetCommit, 7, {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: "",
    groupInstanceId: null,
    topics: [
      {
        name: topic,
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: offset,
            committedLeaderEpoch: -1,
            committedMetadata: null,
          },
        ],
      },
    ],
  });
}

function batch(value: string): Buffer {
  return buildRecordBatch([{ timestamp: Date.now(), key: null, value: Buffer.from(value) }]);
}

before(async () => {
  broker = await startBroker({ logLevel: "info", config: CONFIG });
  port = broker.kafkaPort ?? 0;
  api = await adminApi(broker);
  for (const username of Object.keys(PASSWORDS)) {
    const reply = await api.call("POST", "/api/v1/users", {
      username,
      password: PASSWORDS[username],
      superuser: username === "root",
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
  }
  const admin = kafkaAs("root").admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: "team-a.orders" }, { topic: "shared" }] });
  await admin.disconnect();
});

after(async () => {
  await broker?.stop();
});

test("alice writes and reads her topics and writes shared; bob reads shared", async () => {
  const producer = kafkaAs("alice").producer();
  await producer.connect();
  await producer.send({ topic: "team-a.orders", messages: [{ value: "o1" }] });
  await producer.send({ topic: "shared", messages: [{ value: "s1" }] });
  await producer.disconnect();
  const consumer = kafkaAs("bob").consumer({ groupId: "bob-readers" });
  await consumer.connect();
  await consumer.subscribe({ topic: "shared", fromBeginning: true });
  const got = await new Promise<string>((resolve) => {
    void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) });
  });
  await consumer.disconnect();
  assert.equal(got, "s1");
});

test("bob cannot write, read, commit for, create or delete what the rules do not give him", async () => {
  const bob = await wireAs("bob");
  try {
    const produce = await bob.request(ApiKey.Produce, 8, {
      acks: -1,
      timeoutMs: 1000,
      topicData: [
        { name: "team-a.orders", partitionData: [{ index: 0, records: batch("x") }] },
        { name: "shared", partitionData: [{ index: 0, records: batch("y") }] },
      ],
    });
    assert.deepEqual(
      produce.responses.map((r) => r.partitionResponses[0].errorCode),
      [KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED],
    );
    const fetch = await bob.request(ApiKey.Fetch, 11, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      topics: [
        {
          topic: "team-a.orders",
          partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }],
        },
      ],
    });
    assert.equal(fetch.responses[0].partitions[0].errorCode, KafkaError.TOPIC_AUTHORIZATION_FAILED);
    const offsets = await bob.request(ApiKey.ListOffsets, 5, {
      replicaId: -1,
      topics: [{ name: "team-a.orders", partitions: [{ partitionIndex: 0, timestamp: -1n }] }],
    });
    assert.equal(offsets.topics[0].partitions[0].errorCode, KafkaError.TOPIC_AUTHORIZATION_FAILED);
    const commit = await commitAs(bob, "bob-sneaky", "team-a.orders", 0n);
    assert.equal(commit.topics[0].partitions[0].errorCode, KafkaError.TOPIC_AUTHORIZATION_FAILED);
    const created = await bob.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: "team-a.new", numPartitions: 1, replicationFactor: 1 }],
      timeoutMs: 1000,
    });
    assert.equal(created.topics[0].errorCode, KafkaError.TOPIC_AUTHORIZATION_FAILED);
    const deleted = await bob.request(ApiKey.DeleteTopics, 3, {
      topicNames: ["shared"],
      timeoutMs: 1000,
    });
    assert.equal(deleted.responses[0].errorCode, KafkaError.TOPIC_AUTHORIZATION_FAILED);
  } finally {
    bob.close();
  }
});

test("Metadata: each user sees only topics it may use; naming another is refused", async () => {
  const metadataOf = async (username: string, topics: Array<{ name: string }> | null) => {
    const client = await wireAs(username);
    try {
      return await client.request(ApiKey.Metadata, 8, {
        topics,
        allowAutoTopicCreation: true,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: true,
      });
    } finally {
      client.close();
    }
  };
  const names = async (username: string) =>
    (await metadataOf(username, null)).topics.map((t) => t.name).sort();
  assert.deepEqual(await names("bob"), ["shared"]);
  // Kafka's AclOperation bits: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
  // DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11.
  const opsOf = async (username: string) =>
    (await metadataOf(username, [{ name: "shared" }])).topics[0].topicAuthorizedOperations;
  const bits = (...codes: number[]) => codes.reduce((all, code) => all | (1 << code), 0);
  assert.equal(await opsOf("bob"), bits(3, 8, 10));
  assert.equal(await opsOf("alice"), bits(3, 4, 8, 10));
  assert.equal(await opsOf("root"), bits(3, 4, 5, 6, 7, 8, 10, 11));
  assert.deepEqual(await names("alice"), ["shared", "team-a.orders"]);
  assert.deepEqual(await names("root"), ["shared", "team-a.orders"]);
  const named = await metadataOf("bob", [{ name: "team-a.orders" }, { name: "bob-auto" }]);
  assert.deepEqual(
    named.topics.map((t) => [t.name, t.errorCode]),
    [
      ["team-a.orders", KafkaError.TOPIC_AUTHORIZATION_FAILED],
      ["bob-auto", KafkaError.TOPIC_AUTHORIZATION_FAILED],
    ],
    "no auto-creation without admin",
  );
  // The cluster: CREATE, DESCRIBE, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE; ALTER (ACLs) for root only.
  const clusterOf = async (username: string) => {
    const client = await wireAs(username);
    try {
      const answer = await client.request(ApiKey.Metadata, 8, {
        topics: [],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: true,
        includeTopicAuthorizedOperations: false,
      });
      return answer.clusterAuthorizedOperations;
    } finally {
      client.close();
    }
  };
  assert.equal(await clusterOf("bob"), bits(5, 8, 10, 12));
  assert.equal(await clusterOf("root"), bits(5, 7, 8, 10, 12));
  const root = await wireAs("root");
  try {
    const cluster = await root.request(ApiKey.DescribeCluster, 1, {
      includeClusterAuthorizedOperations: true,
      endpointType: 1,
    });
    assert.equal(cluster.clusterAuthorizedOperations, bits(5, 7, 8, 10, 12), "DescribeCluster too");
  } finally {
    root.close();
  }
  const aliceAuto = await metadataOf("alice", [{ name: "team-a.auto" }]);
  assert.equal(aliceAuto.topics[0].errorCode, 0, "alice may create under team-a.");
});

test("DescribeLogDirs lists only the topics the user may see", async () => {
  const dirTopics = async (
    username: string,
    topics: Array<{ topic: string; partitions: number[] }> | null,
  ) => {
    const client = await wireAs(username);
    try {
      const answer = await client.request(ApiKey.DescribeLogDirs, 4, { topics });
      return answer.results[0].topics.map((t) => t.name).sort();
    } finally {
      client.close();
    }
  };
  assert.deepEqual(await dirTopics("bob", null), ["shared"]);
  assert.deepEqual(await dirTopics("bob", [{ topic: "team-a.orders", partitions: [0] }]), []);
  assert.ok((await dirTopics("alice", null)).includes("team-a.orders"));
});

test("a superuser passes every check", async () => {
  const admin = kafkaAs("root").admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: "anything" }] });
    await admin.deleteTopics({ topics: ["anything"] });
    assert.ok(!(await admin.listTopics()).includes("anything"));
  } finally {
    await admin.disconnect();
  }
});

test("rules added with ctl take effect on live connections at once, and go when deleted", async () => {
  const bob = await wireAs("bob");
  const fetchCode = async () => {
    const response = await bob.request(ApiKey.Fetch, 11, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      topics: [
        {
          topic: "team-a.orders",
          partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }],
        },
      ],
    });
    return response.responses[0].partitions[0].errorCode;
  };
  const login = ["--server", api.base, "--username", "admin", "--password", ADMIN_PASSWORD];
  try {
    assert.equal(await fetchCode(), KafkaError.TOPIC_AUTHORIZATION_FAILED);
    const added = await runCtl([
      ...login,
      "--output",
      "json",
      "kafka",
      "acl",
      "add",
      "--permission",
      "allow",
      "--action",
      "read",
      "--topic",
      "team-a.*",
      "--client-username",
      "bob",
    ]);
    assert.equal(added.status, 0, added.stderr);
    const rule = JSON.parse(added.stdout) as { id: string; source: string; username: string };
    assert.equal(rule.source, "api");
    assert.equal(rule.username, "bob");
    assert.equal(await fetchCode(), KafkaError.NONE, "the same connection may read now");
    const listed = await runCtl([...login, "kafka", "acl", "list"]);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /config-1 +config +allow +all +team-a\.\*/);
    assert.match(listed.stdout, new RegExp(`${rule.id} +api +allow +read +team-a\\.\\* +- +bob`));
    const deleted = await api.call("DELETE", `/api/v1/kafka/acl/${rule.id}`);
    assert.equal(deleted.status, 200);
    assert.equal(await fetchCode(), KafkaError.TOPIC_AUTHORIZATION_FAILED);
    const configRule = await api.call("DELETE", "/api/v1/kafka/acl/config-1");
    assert.equal(configRule.status, 400, "config file rules are read-only");
    const bad = await api.call("POST", "/api/v1/kafka/acl", {
      permission: "allow",
      action: "read",
      topic: "a/#",
    });
    assert.equal(bad.status, 400);
  } finally {
    bob.close();
  }
});

test("DeleteGroups needs admin on the group and read on every topic it has offsets for", async () => {
  const alice = await wireAs("alice");
  const bob = await wireAs("bob");
  try {
    const commit = await commitAs(alice, "alice-group", "team-a.orders", 1n);
    assert.equal(commit.topics[0].partitions[0].errorCode, KafkaError.NONE);
    const refused = await bob.request(ApiKey.DeleteGroups, 1, { groupsNames: ["alice-group"] });
    assert.equal(refused.results[0].errorCode, KafkaError.GROUP_AUTHORIZATION_FAILED);
    const fetched = await alice.request(ApiKey.OffsetFetch, 5, {
      groupId: "alice-group",
      topics: null,
      requireStable: false,
    });
    assert.equal(fetched.topics[0].partitions[0].committedOffset, 1n, "alice's offset is kept");
    const deleted = await alice.request(ApiKey.DeleteGroups, 1, { groupsNames: ["alice-group"] });
    assert.equal(deleted.results[0].errorCode, KafkaError.NONE);
  } finally {
    alice.close();
    bob.close();
  }
});

test("Produce refused before the topic's existence is looked at", async () => {
  const bob = await wireAs("bob");
  try {
    const produce = await bob.request(ApiKey.Produce, 8, {
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ name: "team-a.missing", partitionData: [{ index: 0, records: batch("x") }] }],
    });
    assert.equal(
      produce.responses[0].partitionResponses[0].errorCode,
      KafkaError.TOPIC_AUTHORIZATION_FAILED,
    );
  } finally {
    bob.close();
  }
});

test("groups: bob can neither find, join, describe, list nor read alice's group", async () => {
  const alice = await wireAs("alice");
  const bob = await wireAs("bob");
  try {
    assert.equal(
      (await commitAs(alice, "alice-team", "shared", 3n)).topics[0].partitions[0].errorCode,
      0,
    );
    const find = await bob.request(ApiKey.FindCoordinator, 2, { key: "alice-team", keyType: 0 });
    assert.equal(find.errorCode, KafkaError.GROUP_AUTHORIZATION_FAILED);
    const join = await bob.request(ApiKey.JoinGroup, 5, {
      groupId: "alice-team",
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      memberId: "",
      groupInstanceId: null,
      protocolType: "consumer",
      protocols: [{ name: "range", metadata: Buffer.alloc(0) }],
    });
    assert.equal(join.errorCode, KafkaError.GROUP_AUTHORIZATION_FAILED);
    const described = await bob.request(ApiKey.DescribeGroups, 5, {
      groups: ["alice-team"],
      includeAuthorizedOperations: false,
    });
    assert.equal(described.groups[0].errorCode, KafkaError.GROUP_AUTHORIZATION_FAILED);
    const listedBy = async (client: WireClient) =>
      (await client.request(ApiKey.ListGroups, 4, { statesFilter: [] })).groups.map(
        (g) => g.groupId,
      );
    assert.ok(!(await listedBy(bob)).includes("alice-team"));
    assert.ok((await listedBy(alice)).includes("alice-team"));
    const fetched = await bob.request(ApiKey.OffsetFetch, 5, {
      groupId: "alice-team",
      topics: null,
      requireStable: false,
    });
    assert.equal(fetched.errorCode, KafkaError.GROUP_AUTHORIZATION_FAILED);
    assert.deepEqual(fetched.topics, []);
    const byPartition = {
      groupId: "alice-team",
      topics: [{ name: "shared", partitionIndexes: [0] }],
    };
    const v1 = await bob.request(ApiKey.OffsetFetch, 1, byPartition);
    assert.equal(v1.topics[0].partitions[0].errorCode, KafkaError.GROUP_AUTHORIZATION_FAILED);
    for (const version of [2, 3, 4, 5]) {
      const refused = await bob.request(ApiKey.OffsetFetch, version, {
        ...byPartition,
        requireStable: false,
      });
      assert.deepEqual(
        [refused.errorCode, refused.topics],
        [KafkaError.GROUP_AUTHORIZATION_FAILED, []],
        `v${version}: the top-level error only, as Kafka`,
      );
    }
    const commit = await commitAs(bob, "alice-team", "shared", 9n);
    assert.equal(commit.topics[0].partitions[0].errorCode, KafkaError.GROUP_AUTHORIZATION_FAILED);
    const own = await commitAs(bob, "bob-team", "shared", 1n);
    assert.equal(own.topics[0].partitions[0].errorCode, 0, "bob's own group and a topic he reads");
  } finally {
    alice.close();
    bob.close();
  }
});

test("DescribeGroups v3+ reports the group operations [kafka_acl] grants, none for a refused group", async () => {
  const operationsOf = async (username: string, groupId: string) => {
    const client = await wireAs(username);
    try {
      const described = await client.request(ApiKey.DescribeGroups, 5, {
        groups: [groupId],
        includeAuthorizedOperations: true,
      });
      const [group] = described.groups;
      return [group.errorCode, group.groupState, group.authorizedOperations];
    } finally {
      client.close();
    }
  };
  // Kafka's AclOperation bits: READ 3, DELETE 6, DESCRIBE 8; INT32_MIN: omitted.
  const bits = (...codes: number[]) => codes.reduce((all, code) => all | (1 << code), 0);
  assert.deepEqual(await operationsOf("alice", "alice-ops"), [0, "Dead", bits(3, 6, 8)]);
  assert.deepEqual(await operationsOf("bob", "bob-ops"), [0, "Dead", bits(3, 8)]);
  assert.deepEqual(await operationsOf("root", "anything"), [0, "Dead", bits(3, 6, 8)]);
  assert.deepEqual(await operationsOf("bob", "alice-ops"), [
    KafkaError.GROUP_AUTHORIZATION_FAILED,
    "",
    -(2 ** 31),
  ]);
});
