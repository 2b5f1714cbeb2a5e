/**
 * CreateAcls, DescribeAcls and DeleteAcls against the real broker: kafkajs admin logged in as a
 * superuser over SASL/PLAIN manages the same [kafka_acl] rules as the admin API; a DENY made
 * through Kafka refuses the produce and fetch it names at once on a live connection and its
 * deletion restores them; rules survive a restart; refusals (non-superusers, bindings no rule
 * can say, config file rules) over the wire at every version; SECURITY_DISABLED on a listener
 * that authenticates no one.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import kafkajs, {
  type Admin,
  Kafka,
  logLevel,
  type AclOperationTypes as OperationType,
  type AclPermissionTypes as PermissionType,
} from "kafkajs";
import { ApiKey } from "../../src/protocol/kafka/api-keys.ts";
import { KafkaError } from "../../src/protocol/kafka/error-codes.ts";
import { buildRecordBatch } from "../../src/storage/log/index.ts";
import { ADMIN_CONFIG, type AdminApi, adminApi } from "../helpers/admin-api.ts";
import { type BrokerProcess, startBroker } from "../helpers/broker-process.ts";
import { plainWireClient } from "../helpers/kafka-wire.ts";
import { WireClient } from "../unit/protocol/kafka/wire-client.ts";

const CONFIG = `${ADMIN_CONFIG}
[mqtt_auth]
authenticators = ["built_in"]
[kafka_acl]
no_match = "allow"
rules = [
  { permission = "allow", action = "read", topic = "from-config", username = "bob" },
]
`;
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;
const PASSWORDS: Record<string, string> = { bob: "bob-pw", root: "root-pw" };
// Kafka's codes, as the wire carries them.
const TOPIC = 2;
const GROUP = 3;
const CLUSTER = 4;
const ANY = 1;
const LITERAL = 3;
const PREFIXED = 4;
const READ = 3;
const WRITE = 4;
const DENY = 2;
const ALLOW = 3;

let broker: BrokerProcess;
let dataDir: string;
let port: number;
let api: AdminApi;
let admin: Admin;

function kafkaAs(username: string): Kafka {
  return new Kafka({
    clientId: `acl-apis-${username}`,
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    sasl: { mechanism: "plain", username, password: PASSWORDS[username] },
  });
}

function wireAs(username: string): Promise<WireClient> {
  return plainWireClient(port, username, PASSWORDS[username]);
}

async function produceCode(client: WireClient, topic: string): Promise<number> {
  const records = buildRecordBatch([{ timestamp: Date.now(), key: null, value: Buffer.from("v") }]);
  const response = await client.request(ApiKey.Produce, 8, {
    acks: -1,
    timeoutMs: 1000,
    topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
  });
  return response.responses[0].partitionResponses[0].errorCode;
}

async function fetchCode(client: WireClient, topic: string): Promise<number> {
  const response = await client.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    topics: [
      { topic, partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] },
    ],
  });
  return response.responses[0].partitions[0].errorCode;
}

/** A binding on topic `name` for bob, in kafkajs' terms. */
function bobOn(name: string, operation: OperationType, permission: PermissionType) {
  return {
    resourceType: AclResourceTypes.TOPIC,
    resourceName: name,
    resourcePatternType: ResourcePatternTypes.LITERAL,
    principal: "User:bob",
    host: "*",
    operation,
    permissionType: permission,
  };
}

/** Every binding DescribeAcls shows, as "TYPE:name:pattern principal op permission". */
async function described(): Promise<string[]> {
  const { resources } = await admin.describeAcls({
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  });
  return resources
    .flatMap((r) =>
      r.acls.map(
        (a) =>
          `${r.resourceType}:${r.resourceName}:${r.resourcePatternType} ${a.principal} ${a.operation} ${a.permissionType}`,
      ),
    )
    .sort();
}

async function startAdmin(): Promise<void> {
  admin = kafkaAs("root").admin();
  await admin.connect();
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "rmq-acl-apis-"));
  broker = await startBroker({ logLevel: "info", config: CONFIG, dataDir });
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
  await startAdmin();
  await admin.createTopics({ topics: [{ topic: "orders" }, { topic: "from-config" }] });
});

after(async () => {
  await admin?.disconnect();
  await broker?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test("a DENY made with kafkajs refuses bob's produce and fetch at once; deleting it restores them", async () => {
  const bob = await wireAs("bob");
  try {
    assert.equal(await produceCode(bob, "orders"), KafkaError.NONE, "no_match allows");
    const logged = broker.waitForLog((l) => l.msg === "Kafka ACL rule added through CreateAcls");
    await admin.createAcls({
      acl: [
        bobOn("orders", AclOperationTypes.WRITE, AclPermissionTypes.DENY),
        bobOn("orders", AclOperationTypes.READ, AclPermissionTypes.DENY),
      ],
    });
    assert.equal((await logged).username, "root", "logged with who made it");
    assert.equal(await produceCode(bob, "orders"), KafkaError.TOPIC_AUTHORIZATION_FAILED);
    assert.equal(await fetchCode(bob, "orders"), KafkaError.TOPIC_AUTHORIZATION_FAILED);
    // An ALLOW made later through Kafka cannot override the DENY.
    await admin.createAcls({
      acl: [bobOn("orders", AclOperationTypes.WRITE, AclPermissionTypes.ALLOW)],
    });
    assert.equal(await produceCode(bob, "orders"), KafkaError.TOPIC_AUTHORIZATION_FAILED);
    assert.deepEqual(await described(), [
      "2:from-config:3 User:bob 3 3",
      "2:orders:3 User:bob 3 2",
      "2:orders:3 User:bob 4 2",
      "2:orders:3 User:bob 4 3",
    ]);
    const { filterResponses } = await admin.deleteAcls({
      filters: [
        {
          resourceType: AclResourceTypes.TOPIC,
          resourceName: "orders",
          resourcePatternType: ResourcePatternTypes.MATCH,
          principal: "User:bob",
          operation: AclOperationTypes.ANY,
          permissionType: AclPermissionTypes.DENY,
        },
      ],
    });
    assert.deepEqual(
      filterResponses[0].matchingAcls.map((a) => [a.resourceName, a.operation, a.errorCode]).sort(),
      [
        ["orders", READ, 0],
        ["orders", WRITE, 0],
      ],
    );
    assert.equal(await produceCode(bob, "orders"), KafkaError.NONE, "the same connection again");
    assert.equal(await fetchCode(bob, "orders"), KafkaError.NONE);
  } finally {
    bob.close();
  }
});

test("one store: admin API rules show in DescribeAcls, Kafka's in the admin API, each side deletes", async () => {
  const added = await api.call("POST", "/api/v1/kafka/acl", {
    permission: "deny",
    action: "read",
    group: "batch-*",
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const { resources } = await admin.describeAcls({
    resourceType: AclResourceTypes.GROUP,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ANY,
  });
  assert.deepEqual(resources, [
    {
      resourceType: GROUP,
      resourceName: "batch-",
      resourcePatternType: PREFIXED,
      acls: [{ principal: "User:*", host: "*", operation: READ, permissionType: DENY }],
    },
  ]);
  await admin.createAcls({
    acl: [
      {
        resourceType: AclResourceTypes.GROUP,
        resourceName: "*",
        resourcePatternType: ResourcePatternTypes.LITERAL,
        principal: "User:bob",
        host: "*",
        operation: AclOperationTypes.ALL,
        permissionType: AclPermissionTypes.ALLOW,
      },
    ],
  });
  const listed = await api.call("GET", "/api/v1/kafka/acl");
  const rules = (listed.body as { data: Array<Record<string, unknown>> }).data;
  const fromKafka = rules.find((r) => r.group === "*");
  assert.deepEqual(
    { ...fromKafka, id: "" },
    {
      id: "",
      source: "api",
      permission: "allow",
      action: "all",
      topic: null,
      group: "*",
      username: "bob",
    },
  );
  const ruleId = (added.body as { id: string }).id;
  const gone = await api.call("DELETE", `/api/v1/kafka/acl/${String(fromKafka?.id)}`);
  assert.equal(gone.status, 200);
  const { filterResponses } = await admin.deleteAcls({
    filters: [
      {
        resourceType: AclResourceTypes.GROUP,
        resourceName: "batch-",
        resourcePatternType: ResourcePatternTypes.PREFIXED,
        operation: AclOperationTypes.READ,
        permissionType: AclPermissionTypes.ANY,
      },
    ],
  });
  assert.equal(filterResponses[0].matchingAcls.length, 1);
  const remaining = await api.call("GET", "/api/v1/kafka/acl");
  const ids = (remaining.body as { data: Array<{ id: string }> }).data.map((r) => r.id);
  assert.ok(!ids.includes(ruleId), "the admin API rule was deleted through Kafka");
  assert.ok(!(await described()).some((b) => b.startsWith("3:")), "no group bindings left");
});

test("a Kafka DENY the admin API already put behind an ALLOW is stored again in front and wins", async () => {
  await admin.createTopics({ topics: [{ topic: "interleaved" }] });
  await admin.createAcls({
    acl: [
      {
        ...bobOn("interleaved", AclOperationTypes.WRITE, AclPermissionTypes.ALLOW),
        principal: "User:*",
      },
    ],
  });
  const added = await api.call("POST", "/api/v1/kafka/acl", {
    permission: "deny",
    action: "write",
    topic: "interleaved",
    username: "bob",
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const bob = await wireAs("bob");
  try {
    assert.equal(await produceCode(bob, "interleaved"), KafkaError.NONE, "first match: the ALLOW");
    await admin.createAcls({
      acl: [bobOn("interleaved", AclOperationTypes.WRITE, AclPermissionTypes.DENY)],
    });
    assert.equal(await produceCode(bob, "interleaved"), KafkaError.TOPIC_AUTHORIZATION_FAILED);
    const { filterResponses } = await admin.deleteAcls({
      filters: [
        {
          resourceType: AclResourceTypes.TOPIC,
          resourceName: "interleaved",
          resourcePatternType: ResourcePatternTypes.LITERAL,
          operation: AclOperationTypes.ANY,
          permissionType: AclPermissionTypes.ANY,
        },
      ],
    });
    assert.deepEqual(
      filterResponses[0].matchingAcls.map((a) => [a.principal, a.permissionType, a.errorCode]),
      [
        ["User:bob", DENY, 0],
        ["User:*", ALLOW, 0],
      ],
      "both copies of the DENY go, answered once",
    );
    assert.equal(await produceCode(bob, "interleaved"), KafkaError.NONE);
  } finally {
    bob.close();
  }
});

test("a config file rule matches DeleteAcls but stays, with the admin API's reason", async () => {
  const root = await wireAs("root");
  try {
    const response = await root.request(ApiKey.DeleteAcls, 3, {
      filters: [
        {
          resourceTypeFilter: TOPIC,
          resourceNameFilter: "from-config",
          patternTypeFilter: LITERAL,
          principalFilter: null,
          hostFilter: null,
          operation: ANY,
          permissionType: ANY,
        },
      ],
    });
    const [result] = response.filterResults;
    assert.equal(result.errorCode, KafkaError.NONE);
    assert.equal(result.matchingAcls.length, 1);
    assert.equal(result.matchingAcls[0].errorCode, KafkaError.INVALID_REQUEST);
    assert.match(
      result.matchingAcls[0].errorMessage ?? "",
      /config-1 comes from the config file and cannot be deleted at run time/,
    );
    assert.ok((await described()).includes("2:from-config:3 User:bob 3 3"));
  } finally {
    root.close();
  }
});

test("every version: create, describe and delete over the wire; refusals per creation", async () => {
  const root = await wireAs("root");
  try {
    for (let version = 0; version <= 3; version++) {
      const name = `wire-v${version}`;
      const creation = {
        resourceType: TOPIC,
        resourceName: name,
        resourcePatternType: LITERAL,
        principal: "User:bob",
        host: "*",
        operation: WRITE,
        permissionType: DENY,
      };
      const created = await root.request(ApiKey.CreateAcls, version, {
        creations: [
          creation,
          { ...creation, host: "10.0.0.1" },
          { ...creation, resourceType: CLUSTER, resourceName: "kafka-cluster" },
          { ...creation, principal: "Group:ops" },
          { ...creation, operation: 8 },
          { ...creation, resourceType: 0 },
        ],
      });
      assert.deepEqual(
        created.results.map((r) => r.errorCode),
        [0, 42, 42, 42, 42, 42],
        `v${version}`,
      );
      assert.equal(created.results[0].errorMessage, null);
      assert.match(created.results[1].errorMessage ?? "", /cannot store this ACL exactly: .*host/);
      assert.match(created.results[2].errorMessage ?? "", /CLUSTER resources/);
      assert.match(created.results[3].errorMessage ?? "", /only User principals/);
      assert.match(created.results[4].errorMessage ?? "", /DESCRIBE has no equivalent/);
      assert.match(created.results[5].errorMessage ?? "", /Invalid resourceType/);
      const filter = {
        resourceTypeFilter: TOPIC,
        resourceNameFilter: name,
        patternTypeFilter: LITERAL,
        principalFilter: "User:bob",
        hostFilter: "*",
        operation: WRITE,
        permissionType: DENY,
      };
      const shown = await root.request(ApiKey.DescribeAcls, version, filter);
      assert.equal(shown.errorCode, KafkaError.NONE);
      assert.deepEqual(
        shown.resources.map((r) => [r.resourceName, r.acls.length]),
        [[name, 1]],
        `v${version}`,
      );
      const bob = await wireAs("bob");
      assert.equal(await produceCode(bob, "orders"), KafkaError.NONE, "only its own topic");
      bob.close();
      const deleted = await root.request(ApiKey.DeleteAcls, version, { filters: [filter] });
      assert.deepEqual(
        deleted.filterResults[0].matchingAcls.map((a) => [a.resourceName, a.errorCode]),
        [[name, 0]],
      );
      const again = await root.request(ApiKey.DescribeAcls, version, filter);
      assert.deepEqual(again.resources, []);
      if (version >= 1) {
        const prefixed = await root.request(ApiKey.CreateAcls, version, {
          creations: [{ ...creation, resourcePatternType: PREFIXED, resourceName: "pre." }],
        });
        assert.equal(prefixed.results[0].errorCode, 0);
        const bad = await root.request(ApiKey.DescribeAcls, version, {
          ...filter,
          patternTypeFilter: 0,
        });
        assert.equal(bad.errorCode, KafkaError.INVALID_REQUEST);
        const removed = await root.request(ApiKey.DeleteAcls, version, {
          filters: [{ ...filter, resourceNameFilter: "pre.", patternTypeFilter: PREFIXED }],
        });
        assert.equal(removed.filterResults[0].matchingAcls.length, 1);
      }
    }
  } finally {
    root.close();
  }
});

test("a user who is not a superuser gets CLUSTER_AUTHORIZATION_FAILED, at every version", async () => {
  const bob = await wireAs("bob");
  try {
    const filter = {
      resourceTypeFilter: ANY,
      resourceNameFilter: null,
      patternTypeFilter: ANY,
      principalFilter: null,
      hostFilter: null,
      operation: ANY,
      permissionType: ANY,
    };
    for (let version = 0; version <= 3; version++) {
      const shown = await bob.request(ApiKey.DescribeAcls, version, {
        ...filter,
        patternTypeFilter: LITERAL,
      });
      assert.equal(shown.errorCode, KafkaError.CLUSTER_AUTHORIZATION_FAILED);
      assert.deepEqual(shown.resources, []);
      const created = await bob.request(ApiKey.CreateAcls, version, {
        creations: [
          {
            resourceType: TOPIC,
            resourceName: "orders",
            resourcePatternType: LITERAL,
            principal: "User:bob",
            host: "*",
            operation: READ,
            permissionType: ALLOW,
          },
        ],
      });
      assert.equal(created.results[0].errorCode, KafkaError.CLUSTER_AUTHORIZATION_FAILED);
      const deleted = await bob.request(ApiKey.DeleteAcls, version, { filters: [filter] });
      assert.equal(deleted.filterResults[0].errorCode, KafkaError.CLUSTER_AUTHORIZATION_FAILED);
    }
    assert.ok((await described()).includes("2:from-config:3 User:bob 3 3"), "nothing deleted");
  } finally {
    bob.close();
  }
});

test("rules made through Kafka survive a restart, in force and in DescribeAcls", async () => {
  await admin.createAcls({
    acl: [bobOn("orders", AclOperationTypes.WRITE, AclPermissionTypes.DENY)],
  });
  const before = await described();
  await admin.disconnect();
  await broker.stop();
  broker = await startBroker({ logLevel: "info", config: CONFIG, dataDir });
  port = broker.kafkaPort ?? 0;
  await startAdmin();
  assert.deepEqual(await described(), before);
  const bob = await wireAs("bob");
  try {
    assert.equal(await produceCode(bob, "orders"), KafkaError.TOPIC_AUTHORIZATION_FAILED);
  } finally {
    bob.close();
  }
});

test("a listener that authenticates no one answers SECURITY_DISABLED", async () => {
  const open = await startBroker({ logLevel: "info" });
  try {
    const client = await WireClient.connect(open.kafkaPort ?? 0);
    try {
      const shown = await client.request(ApiKey.DescribeAcls, 1, {
        resourceTypeFilter: ANY,
        resourceNameFilter: null,
        patternTypeFilter: ANY,
        principalFilter: null,
        hostFilter: null,
        operation: ANY,
        permissionType: ANY,
      });
      assert.equal(shown.errorCode, KafkaError.SECURITY_DISABLED);
      assert.match(shown.errorMessage ?? "", /No Authorizer is configured/);
    } finally {
      client.close();
    }
  } finally {
    await open.stop();
  }
});
