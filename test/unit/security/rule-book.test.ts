import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { ErrorCode, RobustMQError } from "../../../src/errors.ts";
import { Acl } from "../../../src/security/acl/acl.ts";
import { type AclRuleBook, loadAclRuleBook } from "../../../src/security/acl/rule-book.ts";
import { SecurityStore } from "../../../src/security/store.ts";
import type { AclRuleSpec, Principal } from "../../../src/security/types.ts";

const CONFIG: AclRuleSpec[] = [
  { permission: "deny", action: "all", topic: "secret/#" },
  { permission: "allow", action: "subscribe", topic: "public/#", username: "alice" },
];
const alice: Principal = { clientId: "c1", username: "alice", ip: "10.0.0.1", superuser: false };

function spec(topic: string, permission: "allow" | "deny" = "allow"): AclRuleSpec {
  return { permission, action: "publish", topic };
}

function codeOf(code: string): (err: unknown) => boolean {
  return (err) => err instanceof RobustMQError && err.code === code;
}

let root = "";
let dirs = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "rule-book-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh data directory, and a way to (re)open the book in it. */
function fixture(config: readonly AclRuleSpec[] = CONFIG) {
  const dir = join(root, `d${dirs++}`);
  return async <T>(body: (book: AclRuleBook, acl: Acl) => Promise<T>): Promise<T> => {
    const store = SecurityStore.open(dir);
    try {
      const acl = new Acl("deny");
      return await body(loadAclRuleBook(store.aclRules, config, acl), acl);
    } finally {
      await store.close();
    }
  };
}

const topics = (book: AclRuleBook) => book.list().map((rule) => rule.topic);

describe("AclRuleBook", () => {
  it("puts config rules first, read-only, with ids config-1, config-2, ...", async () => {
    await fixture()(async (book, acl) => {
      assert.deepEqual(
        book.list().map(({ id, source }) => [id, source]),
        [
          ["config-1", "config"],
          ["config-2", "config"],
        ],
      );
      assert.deepEqual(book.get("config-2"), { ...CONFIG[1], id: "config-2", source: "config" });
      assert.deepEqual(acl.rules, book.list());
      await assert.rejects(book.delete("config-1"), codeOf(ErrorCode.ADMIN_INVALID_REQUEST));
      assert.equal(book.list().length, 2);
    });
  });

  it("`first` puts a rule before every API rule, after the config rules, and keeps it there", async () => {
    const run = fixture();
    await run(async (book) => {
      await book.add(spec("x"), { first: true });
      await book.add(spec("a"));
      await book.add(spec("b"), { first: true });
      assert.deepEqual(topics(book), ["secret/#", "public/#", "b", "x", "a"]);
    });
    await run(async (book) => {
      assert.deepEqual(topics(book), ["secret/#", "public/#", "b", "x", "a"]);
    });
  });

  it("adds, persists, keeps order across a restart and deletes", async () => {
    const run = fixture();
    const ids = await run(async (book, acl) => {
      const versionBefore = acl.version;
      const a = await book.add(spec("a"));
      const c = await book.add(spec("c"));
      const b = await book.add(spec("b"), { before: c.id });
      const first = await book.add(spec("first"), { before: a.id });
      assert.equal(a.source, "api");
      assert.deepEqual(topics(book), ["secret/#", "public/#", "first", "a", "b", "c"]);
      assert.equal(acl.version, versionBefore + 4, "the Acl follows every change");
      assert.equal(acl.authorizePublish(alice, "b"), true);
      assert.deepEqual(book.get(b.id), b);
      return [first.id, a.id, b.id, c.id];
    });
    await run(async (book, acl) => {
      assert.deepEqual(topics(book), ["secret/#", "public/#", "first", "a", "b", "c"]);
      assert.deepEqual(
        book
          .list()
          .slice(2)
          .map((rule) => rule.id),
        ids,
      );
      assert.equal(acl.authorizePublish(alice, "c"), true);
      assert.equal(await book.delete(ids[1]), true);
      assert.equal(await book.delete(ids[1]), false);
      assert.equal(await book.delete("no-such-rule"), false);
      assert.equal(acl.authorizePublish(alice, "a"), false);
    });
    await run(async (book) => {
      assert.deepEqual(topics(book), ["secret/#", "public/#", "first", "b", "c"]);
    });
  });

  it("rejects invalid rules and bad positions without storing anything", async () => {
    const run = fixture();
    await run(async (book) => {
      const bad = [
        { permission: "maybe", action: "publish", topic: "a" },
        { permission: "allow", action: "publish", topic: "a/#/b" },
        { permission: "allow", action: "publish", topic: "" },
        { permission: "allow", action: "publish", topic: "a", ip: "10.0.0.0/33" },
        { permission: "allow", action: "publish", topic: "a", username: "" },
        { permission: "allow", action: "publish", topic: "a", extra: 1 },
      ];
      for (const rule of bad) {
        await assert.rejects(
          book.add(rule as unknown as AclRuleSpec),
          codeOf(ErrorCode.ADMIN_INVALID_REQUEST),
          JSON.stringify(rule),
        );
      }
      await assert.rejects(
        book.add(spec("x"), { before: "nope" }),
        codeOf(ErrorCode.ADMIN_NOT_FOUND),
      );
      await assert.rejects(
        book.add(spec("x"), { before: "config-1" }),
        codeOf(ErrorCode.ADMIN_INVALID_REQUEST),
      );
      assert.equal(book.list().length, CONFIG.length);
    });
    await run(async (book) => assert.equal(book.list().length, CONFIG.length));
  });

  it("renumbers when inserts exhaust a gap, and the order still survives a restart", async () => {
    const run = fixture([]);
    const expected = await run(async (book) => {
      const last = await book.add(spec("last"));
      const first = await book.add(spec("first"), { before: last.id });
      // Always inserting right after `first` halves the same gap each time.
      let next = last.id;
      const middle: string[] = [];
      for (let i = 0; i < 25; i++) {
        const rule = await book.add(spec(`m${24 - i}`), { before: next });
        next = rule.id;
        middle.unshift(rule.topic);
      }
      assert.equal(first.topic, "first");
      const order = ["first", ...middle, "last"];
      assert.deepEqual(topics(book), order);
      return order;
    });
    await run(async (book) => assert.deepEqual(topics(book), expected));
  });

  it("runs concurrent writes one after another, in call order", async () => {
    const run = fixture([]);
    await run(async (book) => {
      const added = await Promise.all(
        Array.from({ length: 12 }, (_, i) => book.add(spec(`t${i}`))),
      );
      const deleted = await Promise.all([book.delete(added[3].id), book.delete(added[3].id)]);
      assert.deepEqual(deleted, [true, false]);
      assert.deepEqual(
        topics(book),
        added.filter((_, i) => i !== 3).map((rule) => rule.topic),
      );
      assert.equal(new Set(added.map((rule) => rule.id)).size, 12, "ids are unique");
    });
  });

  it("matches a model list over random add/insert/delete sequences, before and after reopening", async () => {
    const opArb = fc.oneof(
      fc.record({ op: fc.constant("add" as const), at: fc.option(fc.nat(20), { nil: undefined }) }),
      fc.record({ op: fc.constant("delete" as const), at: fc.nat(20) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 15 }), async (ops) => {
        const run = fixture([]);
        const model = await run(async (book) => {
          const list: string[] = [];
          let n = 0;
          for (const { op, at } of ops) {
            if (op === "add") {
              const beforeId =
                at === undefined || list.length === 0 ? undefined : list[at % list.length];
              const rule = await book.add(spec(`t${n++}`), { before: beforeId });
              const index = beforeId === undefined ? list.length : list.indexOf(beforeId);
              list.splice(index, 0, rule.id);
            } else if (list.length > 0) {
              const [id] = list.splice(at % list.length, 1);
              assert.equal(await book.delete(id), true);
            }
            assert.deepEqual(
              book.list().map((rule) => rule.id),
              list,
            );
          }
          return list;
        });
        await run(async (book) => {
          assert.deepEqual(
            book.list().map((rule) => rule.id),
            model,
          );
        });
      }),
      { numRuns: 8 },
    );
  });
});
