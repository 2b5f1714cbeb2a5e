import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KafkaAclBindingStore } from "../../../../src/broker/kafka/acl-bindings-store.ts";
import { createLogger } from "../../../../src/log/logger.ts";
import { KafkaError } from "../../../../src/protocol/kafka/error-codes.ts";
import { KafkaAcl, type KafkaAclRuleSpec } from "../../../../src/security/acl/kafka-acl.ts";
import {
  type AclBinding,
  type AclBindingFilter,
  AclOperation as Op,
  AclPatternType as Pattern,
  AclPermissionType as Permission,
  AclResourceType as Resource,
} from "../../../../src/security/acl/kafka-acl-bindings.ts";
import {
  type KafkaAclRuleBook,
  loadKafkaAclRuleBook,
} from "../../../../src/security/acl/kafka-rule-book.ts";
import { SecurityStore } from "../../../../src/security/store.ts";

const CONFIG: KafkaAclRuleSpec[] = [
  { permission: "allow", action: "read", topic: "public", username: "bob" },
];
const who = { username: "root", remote: "127.0.0.1:1" };
const bob = { username: "bob", superuser: false };

function binding(overrides: Partial<AclBinding> = {}): AclBinding {
  return {
    resourceType: Resource.TOPIC,
    resourceName: "orders",
    patternType: Pattern.LITERAL,
    principal: "User:bob",
    host: "*",
    operation: Op.READ,
    permissionType: Permission.ALLOW,
    ...overrides,
  };
}

function filter(overrides: Partial<AclBindingFilter> = {}): AclBindingFilter {
  return {
    resourceType: Resource.ANY,
    resourceName: null,
    patternType: Pattern.ANY,
    principal: null,
    host: null,
    operation: Op.ANY,
    permissionType: Permission.ANY,
    ...overrides,
  };
}

let root = "";
let dirs = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "acl-bindings-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Fixture {
  store: KafkaAclBindingStore;
  book: KafkaAclRuleBook;
  acl: KafkaAcl;
  lines: string[];
}

async function withStore(body: (fixture: Fixture) => Promise<void>): Promise<void> {
  const db = SecurityStore.open(join(root, `d${dirs++}`));
  const lines: string[] = [];
  const logger = createLogger({
    level: "info",
    format: "json",
    destination: { write: (line: string) => void lines.push(line) },
  });
  try {
    const acl = new KafkaAcl([], "deny");
    const book = loadKafkaAclRuleBook(db.kafkaAclRules, CONFIG, acl);
    await body({ store: new KafkaAclBindingStore(book, logger), book, acl, lines });
  } finally {
    await db.close();
  }
}

const codes = (outcomes: ReadonlyArray<{ errorCode: number }>) => outcomes.map((o) => o.errorCode);

describe("KafkaAclBindingStore", () => {
  it("a Kafka DENY goes before every API rule, an ALLOW after: DENY wins; config stays first", async () => {
    await withStore(async ({ store, book, acl, lines }) => {
      assert.deepEqual(codes(await store.create([binding()], who)), [KafkaError.NONE]);
      assert.equal(acl.authorize(bob, "read", "orders"), true, "in force at once");
      const deny = binding({ permissionType: Permission.DENY, principal: "User:*" });
      assert.deepEqual(codes(await store.create([deny], who)), [KafkaError.NONE]);
      assert.equal(acl.authorize(bob, "read", "orders"), false, "the later DENY wins");
      await store.create([binding({ operation: Op.WRITE })], who);
      assert.deepEqual(
        book.list().map((r) => [r.source, r.permission, r.action]),
        [
          ["config", "allow", "read"],
          ["api", "deny", "read"],
          ["api", "allow", "read"],
          ["api", "allow", "write"],
        ],
      );
      const denyPublic = binding({ resourceName: "public", permissionType: Permission.DENY });
      await store.create([denyPublic], who);
      assert.equal(acl.authorize(bob, "read", "public"), true, "a config rule comes first");
      const logged = lines.map((line) => JSON.parse(line));
      assert.ok(
        logged.some(
          (l) => l.msg === "Kafka ACL rule added through CreateAcls" && l.username === "root",
        ),
      );
    });
  });

  it("an identical rule is not stored twice; refusals store nothing", async () => {
    await withStore(async ({ store, book }) => {
      const outcomes = await store.create(
        [binding(), binding(), binding({ host: "10.0.0.1" }), binding({ operation: Op.CREATE })],
        who,
      );
      assert.deepEqual(codes(outcomes), [
        KafkaError.NONE,
        KafkaError.NONE,
        KafkaError.INVALID_REQUEST,
        KafkaError.INVALID_REQUEST,
      ]);
      assert.match(
        outcomes[3].errorMessage ?? "",
        /CREATE, DELETE, ALTER and ALTER_CONFIGS together/,
      );
      assert.deepEqual(codes(await store.create([binding()], who)), [KafkaError.NONE]);
      const fromConfig = binding({ resourceName: "public" });
      assert.deepEqual(codes(await store.create([fromConfig], who)), [KafkaError.NONE]);
      assert.equal(book.list().length, 2, "the config rule and one API rule");
    });
  });

  it("a Kafka DENY identical to an API rule behind an API ALLOW is stored first: DENY still wins", async () => {
    await withStore(async ({ store, book, acl }) => {
      await store.create([binding({ principal: "User:*" })], who);
      // The admin API appends a DENY after the Kafka ALLOW: first match makes it dead.
      await book.add({ permission: "deny", action: "read", topic: "orders", username: "bob" });
      assert.equal(acl.authorize(bob, "read", "orders"), true);
      const deny = binding({ permissionType: Permission.DENY });
      assert.deepEqual(codes(await store.create([deny], who)), [KafkaError.NONE]);
      assert.equal(acl.authorize(bob, "read", "orders"), false, "the Kafka DENY wins");
      assert.deepEqual(
        codes(await store.create([deny], who)),
        [KafkaError.NONE],
        "now in front, a DENY is not stored again",
      );
      assert.equal(book.list().filter((r) => r.permission === "deny").length, 2);
      const [removed] = await store.delete([filter({ permissionType: Permission.DENY })], who);
      assert.deepEqual(
        removed.deletions.map((d) => [d.binding, d.errorCode]),
        [[deny, KafkaError.NONE]],
        "both copies go, answered once as Kafka would",
      );
      assert.equal(acl.authorize(bob, "read", "orders"), true);
    });
  });

  it("refused creations and filters are logged with the reason and who asked", async () => {
    await withStore(async ({ store, lines }) => {
      await store.create([binding({ host: "10.0.0.1" }), binding({ operation: Op.DELETE })], who);
      await store.delete([filter({ operation: 0 })], who);
      await store.create(new Array(1001).fill(binding()), who);
      const refused = lines.map((line) => JSON.parse(line)).filter((l) => /refused/.test(l.msg));
      assert.deepEqual(
        refused.map((l) => [l.msg, l.username, l.remote]),
        [
          ["Kafka ACL creation refused", "root", "127.0.0.1:1"],
          ["Kafka ACL creation refused", "root", "127.0.0.1:1"],
          ["Kafka ACL deletion filter refused", "root", "127.0.0.1:1"],
          ["Kafka ACL creations refused", "root", "127.0.0.1:1"],
        ],
      );
      assert.match(refused[0].reason, /host/);
      assert.equal(refused[0].binding.host, "10.0.0.1");
      assert.match(refused[1].reason, /admin action/);
      assert.match(refused[2].reason, /Unknown entryFilter/);
      assert.equal(refused[3].count, 1001);
    });
  });

  it("CREATE, DELETE, ALTER and ALTER_CONFIGS on a topic in one request make one admin rule", async () => {
    await withStore(async ({ store, book, acl }) => {
      const parts = [Op.CREATE, Op.DELETE, Op.ALTER, Op.ALTER_CONFIGS].map((operation) =>
        binding({ operation }),
      );
      assert.deepEqual(codes(await store.create(parts, who)), [0, 0, 0, 0]);
      const rules = book.list().filter((r) => r.source === "api");
      assert.deepEqual(
        rules.map((r) => [r.action, r.topic, r.username]),
        [["admin", "orders", "bob"]],
      );
      assert.equal(acl.authorize(bob, "admin", "orders"), true);
      const shown = store.describe(filter({ resourceName: "orders" }));
      assert.deepEqual(
        shown.map((b) => b.operation),
        [Op.CREATE, Op.DELETE, Op.ALTER, Op.ALTER_CONFIGS],
      );
    });
  });

  it("describe: config and API rules alike, identical bindings once", async () => {
    await withStore(async ({ store, book }) => {
      await book.add({ permission: "allow", action: "read", topic: "public", username: "bob" });
      await book.add({ permission: "deny", action: "all", group: "g*" });
      const everything = store.describe(filter());
      assert.deepEqual(everything, [
        binding({ resourceName: "public" }),
        binding({
          resourceType: Resource.GROUP,
          resourceName: "g",
          patternType: Pattern.PREFIXED,
          principal: "User:*",
          operation: Op.ALL,
          permissionType: Permission.DENY,
        }),
      ]);
    });
  });

  it("delete: per filter the matched bindings; config rules and partial admin rules stay", async () => {
    await withStore(async ({ store, book, acl, lines }) => {
      const admin = [Op.CREATE, Op.DELETE, Op.ALTER, Op.ALTER_CONFIGS].map((operation) =>
        binding({ operation }),
      );
      await store.create([binding(), ...admin], who);
      const results = await store.delete(
        [
          filter({ operation: Op.READ }),
          filter({ operation: Op.CREATE }),
          filter({ operation: 0 }),
        ],
        who,
      );
      assert.deepEqual(codes(results), [
        KafkaError.NONE,
        KafkaError.NONE,
        KafkaError.INVALID_REQUEST,
      ]);
      const [reads, creates] = results;
      assert.deepEqual(
        reads.deletions.map((d) => [d.binding.resourceName, d.errorCode]),
        [
          ["public", KafkaError.INVALID_REQUEST],
          ["orders", KafkaError.NONE],
        ],
      );
      assert.match(reads.deletions[0].errorMessage ?? "", /config file and cannot be deleted/);
      assert.equal(creates.deletions[0].errorCode, KafkaError.INVALID_REQUEST);
      assert.match(creates.deletions[0].errorMessage ?? "", /remove all four in one request/);
      assert.equal(acl.authorize(bob, "read", "orders"), false, "gone at once");
      assert.equal(acl.authorize(bob, "admin", "orders"), true, "the admin rule stays");
      const whole = await store.delete(
        [Op.CREATE, Op.DELETE, Op.ALTER, Op.ALTER_CONFIGS].map((operation) =>
          filter({ operation }),
        ),
        who,
      );
      assert.deepEqual(
        whole.map((r) => r.deletions.map((d) => [d.binding.operation, d.errorCode])),
        [[[Op.CREATE, 0]], [[Op.DELETE, 0]], [[Op.ALTER, 0]], [[Op.ALTER_CONFIGS, 0]]],
        "four filters together cover the admin rule",
      );
      assert.deepEqual(
        book.list().map((r) => r.id),
        ["config-1"],
      );
      assert.ok(
        lines.some((l) => JSON.parse(l).msg === "Kafka ACL rule deleted through DeleteAcls"),
      );
    });
  });
});
