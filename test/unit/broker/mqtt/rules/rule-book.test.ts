/**
 * The generic rule book over LMDB, with both kinds of topic rule: config rules first and
 * read-only, API rules stored in order (with `before`), surviving a reopen, and watchers told
 * of every change only once it is on disk.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TopicRules } from "../../../../../src/broker/mqtt/rules/store.ts";
import type { RewriteRuleSpec } from "../../../../../src/broker/mqtt/rules/types.ts";
import { defaultConfig } from "../../../../../src/config/load.ts";
import { ErrorCode, RobustMQError } from "../../../../../src/errors.ts";
import { createLogger } from "../../../../../src/log/logger.ts";

const silent = createLogger({ level: "silent", format: "json" });

const CONFIG_REWRITE: RewriteRuleSpec[] = [
  { action: "all", source_topic: "x/#", re: "^x/(.+)$", dest_topic: "y/$1" },
];

function spec(from: string): RewriteRuleSpec {
  return {
    action: "publish",
    source_topic: `${from}/#`,
    re: `^${from}/(.*)$`,
    dest_topic: "to/$1",
  };
}

function codeOf(code: string): (err: unknown) => boolean {
  return (err) => err instanceof RobustMQError && err.code === code;
}

let root = "";
let dirs = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "topic-rules-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh data directory, and a way to (re)open the rules in it. */
function fixture() {
  const config = defaultConfig();
  config.data_dir = join(root, `d${dirs++}`);
  config.mqtt_topic_rewrite.rules = CONFIG_REWRITE;
  config.mqtt_auto_subscribe.rules = [
    {
      topic: "devices/%c",
      qos: 1,
      no_local: false,
      retain_as_published: false,
      retain_handling: 0,
    },
  ];
  return async <T>(body: (rules: TopicRules) => Promise<T>): Promise<T> => {
    const rules = await TopicRules.open(config, silent);
    try {
      return await body(rules);
    } finally {
      await rules.close();
    }
  };
}

const sources = (rules: TopicRules) => rules.rewrite.rules.list().map((r) => r.source_topic);

describe("topic rule books", () => {
  it("puts config rules first, read-only, with ids config-1, ...", async () => {
    await fixture()(async (rules) => {
      const [first] = rules.rewrite.rules.list();
      assert.deepEqual(first, { id: "config-1", source: "config", ...CONFIG_REWRITE[0] });
      assert.equal(rules.autoSubscribe.rules.get("config-1")?.topic, "devices/%c");
      await assert.rejects(
        rules.rewrite.rules.delete("config-1"),
        codeOf(ErrorCode.ADMIN_INVALID_REQUEST),
      );
      await assert.rejects(
        rules.rewrite.rules.add(spec("a"), { before: "config-1" }),
        codeOf(ErrorCode.ADMIN_INVALID_REQUEST),
      );
    });
  });

  it("adds, orders with before, persists across a reopen and deletes", async () => {
    const run = fixture();
    const ids = await run(async (rules) => {
      const book = rules.rewrite.rules;
      const a = await book.add(spec("a"));
      const c = await book.add(spec("c"));
      const b = await book.add(spec("b"), { before: c.id });
      await book.add(spec("first"), { before: a.id });
      assert.equal(a.source, "api");
      assert.match(a.id, /^api-[0-9a-f]{12}$/);
      assert.deepEqual(sources(rules), ["x/#", "first/#", "a/#", "b/#", "c/#"]);
      assert.equal(rules.rewrite.publishRules.length, 5, "compiled at once");
      assert.equal(rules.rewrite.subscribeRules.length, 1, "publish rules only for publish");
      return { a: a.id, b: b.id };
    });
    await run(async (rules) => {
      assert.deepEqual(sources(rules), ["x/#", "first/#", "a/#", "b/#", "c/#"]);
      assert.equal(await rules.rewrite.rules.delete(ids.b), true);
      assert.equal(await rules.rewrite.rules.delete(ids.b), false);
    });
    await run(async (rules) => {
      assert.deepEqual(sources(rules), ["x/#", "first/#", "a/#", "c/#"]);
      assert.equal(rules.rewrite.rewriteTopic("a/q"), "to/q", "a reopened rule is in force");
    });
  });

  it("refuses invalid specs with a message naming the field", async () => {
    await fixture()(async (rules) => {
      await assert.rejects(
        rules.rewrite.rules.add({ ...spec("a"), re: "(" }),
        (err: unknown) =>
          err instanceof RobustMQError &&
          err.code === ErrorCode.ADMIN_INVALID_REQUEST &&
          /re: is not a valid regular expression/.test(err.message),
      );
      await assert.rejects(
        rules.autoSubscribe.rules.add({ topic: "a/#/b" }),
        codeOf(ErrorCode.ADMIN_INVALID_REQUEST),
      );
      await assert.rejects(
        rules.autoSubscribe.rules.add({ topic: "a" }, { before: "api-000000000000" }),
        codeOf(ErrorCode.ADMIN_NOT_FOUND),
      );
      assert.equal(rules.rewrite.rules.list().length, 1);
    });
  });

  it("many inserts at one place renumber without losing order", async () => {
    const run = fixture();
    await run(async (rules) => {
      const book = rules.autoSubscribe.rules;
      const last = await book.add({ topic: "last" });
      // Always inserting right before `last` halves the same gap each time: 30 > 20 halvings.
      for (let i = 0; i < 30; i++) await book.add({ topic: `n${i}` }, { before: last.id });
      const topics = book.list().map((r) => r.topic);
      assert.deepEqual(topics, [
        "devices/%c",
        ...Array.from({ length: 30 }, (_, i) => `n${i}`),
        "last",
      ]);
      assert.equal(rules.autoSubscribe.compiled.length, 32);
    });
    await run(async (rules) => {
      const topics = rules.autoSubscribe.rules.list().map((r) => r.topic);
      assert.equal(topics.length, 32);
      assert.equal(topics[31], "last");
    });
  });

  it("a config rule that is invalid stops the start", async () => {
    const config = defaultConfig();
    config.data_dir = join(root, `d${dirs++}`);
    config.mqtt_topic_rewrite.rules = [{ ...spec("a"), dest_topic: "b/$3" }];
    await assert.rejects(TopicRules.open(config, silent), codeOf(ErrorCode.CONFIG_INVALID));
  });
});
