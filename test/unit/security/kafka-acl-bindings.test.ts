import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { KafkaAcl, type KafkaAclRuleSpec } from "../../../src/security/acl/kafka-acl.ts";
import {
  type AclBinding,
  type AclBindingFilter,
  bindingsOfRule,
  filterMatches,
  invalidFilter,
  mapCreation,
  AclOperation as Op,
  AclPatternType as Pattern,
  AclPermissionType as Permission,
  AclResourceType as Resource,
} from "../../../src/security/acl/kafka-acl-bindings.ts";

function binding(overrides: Partial<AclBinding> = {}): AclBinding {
  return {
    resourceType: Resource.TOPIC,
    resourceName: "orders",
    patternType: Pattern.LITERAL,
    principal: "User:alice",
    host: "*",
    operation: Op.READ,
    permissionType: Permission.ALLOW,
    ...overrides,
  };
}

const ANY_FILTER: AclBindingFilter = {
  resourceType: Resource.ANY,
  resourceName: null,
  patternType: Pattern.ANY,
  principal: null,
  host: null,
  operation: Op.ANY,
  permissionType: Permission.ANY,
};

function refusal(b: AclBinding): string {
  const mapped = mapCreation(b);
  assert.equal(mapped.ok, false, `refused: ${JSON.stringify(b)}`);
  return mapped.ok ? "" : mapped.message;
}

describe("rules as Kafka bindings", () => {
  test("topic actions: read READ, write WRITE, all ALL, admin CREATE + DELETE + ALTER + ALTER_CONFIGS", () => {
    const ops = (spec: KafkaAclRuleSpec) => bindingsOfRule(spec).map((b) => b.operation);
    const topic = { permission: "allow", topic: "orders" } as const;
    assert.deepEqual(ops({ ...topic, action: "read" }), [Op.READ]);
    assert.deepEqual(ops({ ...topic, action: "write" }), [Op.WRITE]);
    assert.deepEqual(ops({ ...topic, action: "all" }), [Op.ALL]);
    assert.deepEqual(ops({ ...topic, action: "admin" }), [
      Op.CREATE,
      Op.DELETE,
      Op.ALTER,
      Op.ALTER_CONFIGS,
    ]);
    const group = { permission: "deny", group: "g" } as const;
    assert.deepEqual(ops({ ...group, action: "read" }), [Op.READ]);
    assert.deepEqual(ops({ ...group, action: "admin" }), [Op.DELETE]);
    assert.deepEqual(ops({ ...group, action: "all" }), [Op.ALL]);
  });

  test("patterns: a name is LITERAL, a prefix PREFIXED, * the LITERAL wildcard; no user is User:*", () => {
    const [literal] = bindingsOfRule({
      permission: "deny",
      action: "read",
      topic: "orders",
      username: "bob",
    });
    assert.deepEqual(literal, binding({ principal: "User:bob", permissionType: Permission.DENY }));
    const [prefixed] = bindingsOfRule({ permission: "allow", action: "read", group: "team-*" });
    assert.equal(prefixed.resourceType, Resource.GROUP);
    assert.equal(prefixed.resourceName, "team-");
    assert.equal(prefixed.patternType, Pattern.PREFIXED);
    assert.equal(prefixed.principal, "User:*");
    const [wildcard] = bindingsOfRule({ permission: "allow", action: "write", topic: "*" });
    assert.equal(wildcard.resourceName, "*");
    assert.equal(wildcard.patternType, Pattern.LITERAL);
  });
});

describe("Kafka bindings as rules", () => {
  test("what maps exactly", () => {
    const cases: Array<[AclBinding, KafkaAclRuleSpec]> = [
      [binding(), { permission: "allow", action: "read", topic: "orders", username: "alice" }],
      [
        binding({ patternType: Pattern.PREFIXED, principal: "User:*", operation: Op.WRITE }),
        { permission: "allow", action: "write", topic: "orders*" },
      ],
      [
        binding({ resourceName: "*", operation: Op.ALL, permissionType: Permission.DENY }),
        { permission: "deny", action: "all", topic: "*", username: "alice" },
      ],
      [
        binding({ resourceType: Resource.GROUP, resourceName: "a b/c", operation: Op.DELETE }),
        { permission: "allow", action: "admin", group: "a b/c", username: "alice" },
      ],
      [
        binding({ resourceType: Resource.GROUP, resourceName: "*", patternType: Pattern.PREFIXED }),
        { permission: "allow", action: "read", group: "**", username: "alice" },
      ],
    ];
    for (const [b, spec] of cases) {
      assert.deepEqual(mapCreation(b), { ok: true, spec, part: null }, JSON.stringify(b));
    }
    for (const operation of [Op.CREATE, Op.DELETE, Op.ALTER, Op.ALTER_CONFIGS]) {
      const mapped = mapCreation(binding({ operation }));
      assert.ok(mapped.ok);
      assert.equal(mapped.spec.action, "admin");
      assert.equal(mapped.part, operation, "one part of a topic admin rule");
    }
  });

  test("Kafka's own refusals", () => {
    assert.match(refusal(binding({ resourceType: Resource.ANY })), /^Invalid resourceType ANY/);
    assert.match(refusal(binding({ resourceType: 99 })), /^Invalid resourceType UNKNOWN/);
    assert.match(refusal(binding({ patternType: Pattern.MATCH })), /^Invalid patternType/);
    assert.match(refusal(binding({ operation: Op.ANY })), /^Invalid operation ANY/);
    assert.match(refusal(binding({ operation: 0 })), /^Invalid operation UNKNOWN/);
    assert.match(refusal(binding({ permissionType: Permission.ANY })), /^Invalid permissionType/);
    assert.match(refusal(binding({ resourceName: "" })), /empty resource name/);
    assert.match(refusal(binding({ principal: "alice" })), /Could not parse principal/);
  });

  test("what no rule can say is refused with the reason", () => {
    const cannot = /^RobustMQ cannot store this ACL exactly: /;
    const refused: Array<[Partial<AclBinding>, RegExp]> = [
      [{ resourceType: Resource.CLUSTER, resourceName: "kafka-cluster" }, /CLUSTER resources/],
      [{ resourceType: Resource.TRANSACTIONAL_ID }, /TRANSACTIONAL_ID resources/],
      [{ resourceType: Resource.DELEGATION_TOKEN }, /DELEGATION_TOKEN resources/],
      [{ resourceType: Resource.USER }, /USER resources/],
      [{ host: "10.0.0.1" }, /host/],
      [{ principal: "Group:ops" }, /only User principals/],
      [{ principal: "User:ANONYMOUS" }, /anonymous/],
      [{ principal: "User:" }, /names no user/],
      [{ operation: Op.DESCRIBE }, /DESCRIBE has no equivalent/],
      [{ operation: Op.DESCRIBE_CONFIGS }, /DESCRIBE_CONFIGS has no equivalent/],
      [{ operation: Op.IDEMPOTENT_WRITE }, /IDEMPOTENT_WRITE/],
      [{ resourceType: Resource.GROUP, operation: Op.WRITE }, /group rules.*WRITE has no/],
      [{ resourceType: Resource.GROUP, operation: Op.DESCRIBE }, /group rules/],
      [{ resourceType: Resource.GROUP, operation: Op.CREATE }, /group rules/],
      [{ resourceType: Resource.GROUP, resourceName: "g*" }, /would be a prefix/],
      [{ resourceName: "orders*" }, /would be a prefix/],
      [{ resourceName: "bad name" }, /topic pattern is not valid/],
      [{ resourceName: "*", patternType: Pattern.PREFIXED }, /topic pattern is not valid/],
      [{ resourceName: "x".repeat(250) }, /topic pattern is not valid/],
      [{ resourceType: Resource.GROUP, resourceName: "g".repeat(257) }, /group pattern is not/],
      [{ principal: `User:${"u".repeat(65_536)}` }, /^[^:]*: the user name is not valid/],
    ];
    for (const [overrides, reason] of refused) {
      const message = refusal(binding(overrides));
      assert.match(message, cannot, message);
      assert.match(message, reason, message);
    }
  });

  test("round trip: every rule's bindings map back to the rule", () => {
    const name = fc.stringMatching(/^[a-z0-9._-]{1,12}$/);
    const spec = fc.record({
      permission: fc.constantFrom("allow" as const, "deny" as const),
      action: fc.constantFrom("read" as const, "write" as const, "admin" as const, "all" as const),
      resource: fc.constantFrom("topic", "group"),
      pattern: fc.oneof(
        name,
        name.map((n) => `${n}*`),
        fc.constant("*"),
      ),
      username: fc.option(name, { nil: undefined }),
    });
    fc.assert(
      fc.property(spec, ({ resource, pattern, username, permission, action }) => {
        if (resource === "group" && action === "write") return;
        const rule: KafkaAclRuleSpec = {
          permission,
          action,
          ...(resource === "topic" ? { topic: pattern } : { group: pattern }),
          ...(username === undefined ? {} : { username }),
        };
        for (const b of bindingsOfRule(rule)) {
          const mapped = mapCreation(b);
          assert.ok(mapped.ok, JSON.stringify(b));
          assert.deepEqual(mapped.spec, rule);
        }
      }),
    );
  });

  test("never grants more: a mapped ALLOW passes only where the binding's resource applies", () => {
    const names = ["orders", "orders.eu", "order", "other", "*x"];
    for (const b of [
      binding({ operation: Op.WRITE }),
      binding({ patternType: Pattern.PREFIXED, resourceName: "orders." }),
      binding({ resourceType: Resource.GROUP, operation: Op.DELETE }),
    ]) {
      const mapped = mapCreation(b);
      assert.ok(mapped.ok);
      const acl = new KafkaAcl([mapped.spec], "deny");
      const resource = b.resourceType === Resource.TOPIC ? "topic" : "group";
      for (const name of names) {
        const applies =
          b.patternType === Pattern.LITERAL
            ? name === b.resourceName
            : name.startsWith(b.resourceName);
        for (const action of ["read", "write", "admin"] as const) {
          const allowed = acl.authorize(
            { username: "alice", superuser: false },
            action,
            name,
            resource,
          );
          const granted: boolean = applies && action === mapped.spec.action;
          assert.equal(allowed, granted, `${JSON.stringify(b)} ${action} ${name}`);
          const other = acl.authorize(
            { username: "bob", superuser: false },
            action,
            name,
            resource,
          );
          assert.equal(other, false, "another user gets nothing");
        }
      }
    }
  });
});

describe("filters, with Kafka's matching", () => {
  const literal = binding();
  const wildcard = binding({ resourceName: "*" });
  const prefixed = binding({ resourceName: "ord", patternType: Pattern.PREFIXED });
  const group = binding({ resourceType: Resource.GROUP });
  const all = [literal, wildcard, prefixed, group];
  const matching = (overrides: Partial<AclBindingFilter>) =>
    all.filter((b) => filterMatches({ ...ANY_FILTER, ...overrides }, b));

  test("null and ANY fields match everything", () => {
    assert.deepEqual(matching({}), all);
    assert.deepEqual(matching({ resourceType: Resource.GROUP }), [group]);
    assert.deepEqual(matching({ resourceType: Resource.CLUSTER }), []);
  });

  test("LITERAL and PREFIXED filters match that pattern type; a name exactly", () => {
    assert.deepEqual(matching({ patternType: Pattern.LITERAL }), [literal, wildcard, group]);
    assert.deepEqual(matching({ patternType: Pattern.PREFIXED }), [prefixed]);
    assert.deepEqual(matching({ patternType: Pattern.LITERAL, resourceName: "orders" }), [
      literal,
      group,
    ]);
    assert.deepEqual(matching({ patternType: Pattern.LITERAL, resourceName: "*" }), [wildcard]);
    assert.deepEqual(matching({ patternType: Pattern.PREFIXED, resourceName: "orders" }), []);
    assert.deepEqual(matching({ patternType: Pattern.ANY, resourceName: "ord" }), [prefixed]);
  });

  test("MATCH: every binding that applies to the named resource", () => {
    const match = (resourceName: string) =>
      matching({ resourceType: Resource.TOPIC, patternType: Pattern.MATCH, resourceName });
    assert.deepEqual(match("orders"), [literal, wildcard, prefixed]);
    assert.deepEqual(match("ordinary"), [wildcard, prefixed]);
    assert.deepEqual(match("x"), [wildcard]);
  });

  test("principal, host, operation and permission: exact unless null or ANY", () => {
    const anyone = binding({ principal: "User:*" });
    const deny = binding({ permissionType: Permission.DENY });
    const each = [literal, anyone, deny];
    const of = (overrides: Partial<AclBindingFilter>) =>
      each.filter((b) => filterMatches({ ...ANY_FILTER, ...overrides }, b));
    assert.deepEqual(of({ principal: "User:alice" }), [literal, deny]);
    assert.deepEqual(of({ principal: "User:*" }), [anyone], "User:* is a name, not a wildcard");
    assert.deepEqual(of({ host: "*" }), each);
    assert.deepEqual(of({ host: "10.0.0.1" }), []);
    assert.deepEqual(of({ operation: Op.READ }), each);
    assert.deepEqual(of({ operation: Op.ALL }), [], "ALL matches only ALL bindings");
    assert.deepEqual(of({ permissionType: Permission.DENY }), [deny]);
  });

  test("unknown codes make a filter invalid", () => {
    assert.equal(invalidFilter(ANY_FILTER), null);
    assert.equal(invalidFilter({ ...ANY_FILTER, resourceType: Resource.USER }), null);
    for (const overrides of [
      { resourceType: 0 },
      { resourceType: 8 },
      { patternType: 0 },
      { patternType: 5 },
      { operation: 0 },
      { operation: 15 },
      { permissionType: 0 },
      { permissionType: 4 },
    ]) {
      assert.notEqual(
        invalidFilter({ ...ANY_FILTER, ...overrides }),
        null,
        JSON.stringify(overrides),
      );
    }
  });
});
