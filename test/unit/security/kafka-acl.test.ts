import assert from "node:assert/strict";
import { test } from "node:test";
import { KafkaAcl, KafkaAclRuleSchema } from "../../../src/security/acl/kafka-acl.ts";

const alice = { username: "alice", superuser: false };
const bob = { username: "bob", superuser: false };
const anonymous = { username: undefined, superuser: false };

test("first matching rule decides; no_match otherwise; superusers pass", () => {
  const acl = new KafkaAcl(
    [
      { permission: "deny", action: "write", topic: "orders.audit", username: "alice" },
      { permission: "allow", action: "all", topic: "orders.*", username: "alice" },
      { permission: "allow", action: "read", topic: "public" },
    ],
    "deny",
  );
  assert.equal(acl.authorize(alice, "write", "orders.eu"), true);
  assert.equal(acl.authorize(alice, "admin", "orders.eu"), true);
  assert.equal(acl.authorize(alice, "write", "orders.audit"), false, "the deny comes first");
  assert.equal(acl.authorize(alice, "read", "orders.audit"), true);
  assert.equal(acl.authorize(bob, "read", "orders.eu"), false, "no_match = deny");
  assert.equal(acl.authorize(anonymous, "read", "public"), true, "a rule without user: anyone");
  assert.equal(acl.authorize(anonymous, "write", "public"), false);
  assert.equal(acl.authorize({ username: "root", superuser: true }, "admin", "x"), true);
  assert.equal(acl.open, false);
});

test("a topic is visible to whoever may do anything with it", () => {
  const acl = new KafkaAcl([{ permission: "allow", action: "write", topic: "in" }], "deny");
  assert.equal(acl.mayDescribe(bob, "in"), true);
  assert.equal(acl.mayDescribe(bob, "out"), false);
  assert.equal(new KafkaAcl([], "allow").open, true);
});

test("topic patterns: a name, a prefix ending in *, or * alone", () => {
  const valid = ["orders", "orders.*", "*", "a-b_c.9*"];
  const invalid = ["", "a*b", "**", "orders/#", "x".repeat(250), "sp ace"];
  for (const topic of valid) {
    assert.ok(KafkaAclRuleSchema.safeParse({ permission: "allow", action: "read", topic }).success);
  }
  for (const topic of invalid) {
    const parsed = KafkaAclRuleSchema.safeParse({ permission: "allow", action: "read", topic });
    assert.equal(parsed.success, false, topic);
  }
  const prefix = new KafkaAcl([{ permission: "allow", action: "read", topic: "a.*" }], "deny");
  assert.equal(prefix.authorize(bob, "read", "a.b"), true);
  assert.equal(prefix.authorize(bob, "read", "a"), false);
});

test("group rules: read and admin on a group id or prefix; topic rules never match groups", () => {
  const acl = new KafkaAcl(
    [
      { permission: "allow", action: "all", topic: "*", username: "bob" },
      { permission: "allow", action: "read", group: "bob-*", username: "bob" },
      { permission: "allow", action: "admin", group: "shared" },
    ],
    "deny",
  );
  assert.equal(acl.authorize(bob, "read", "bob-consumers", "group"), true);
  assert.equal(acl.authorize(bob, "admin", "bob-consumers", "group"), false);
  assert.equal(acl.authorize(bob, "read", "alice-consumers", "group"), false, "a topic * rule");
  assert.equal(acl.authorize(alice, "admin", "shared", "group"), true);
  assert.equal(acl.mayDescribe(alice, "shared", "group"), true);
  assert.equal(acl.mayDescribe(alice, "bob-consumers", "group"), false);
  assert.equal(acl.authorize(alice, "read", "shared", "topic"), false, "a group rule");
});

test("a rule names a topic or a group, and a group rule cannot be about writing", () => {
  const parse = (rule: Record<string, string>) =>
    KafkaAclRuleSchema.safeParse({ permission: "allow", action: "read", ...rule });
  assert.equal(parse({ group: "g" }).success, true);
  assert.equal(parse({ group: "any chars / : *" }).success, true);
  assert.equal(parse({}).success, false, "neither");
  assert.equal(parse({ topic: "t", group: "g" }).success, false, "both");
  assert.equal(parse({ group: "g", action: "write" }).success, false);
});
