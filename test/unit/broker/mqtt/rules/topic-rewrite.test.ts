/**
 * TopicRewrite, the shell: a result that is not a valid topic name (or filter, or within
 * max_topic_levels) keeps the original topic and is reported once per rule.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TopicRules } from "../../../../../src/broker/mqtt/rules/store.ts";
import type { RewriteRuleSpec } from "../../../../../src/broker/mqtt/rules/types.ts";
import { defaultConfig } from "../../../../../src/config/load.ts";
import { createLogger } from "../../../../../src/log/logger.ts";

let root = "";
before(async () => {
  root = await mkdtemp(join(tmpdir(), "topic-rewrite-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function withRules(
  rules: RewriteRuleSpec[],
  body: (rules: TopicRules, warnings: string[]) => Promise<void>,
  levelsMax = 128,
): Promise<void> {
  const config = defaultConfig();
  config.data_dir = await mkdtemp(join(root, "d"));
  config.mqtt_topic_rewrite.rules = rules;
  config.mqtt_limits.max_topic_levels = levelsMax;
  const warnings: string[] = [];
  const logger = createLogger({
    level: "warn",
    format: "json",
    destination: { write: (line: string) => warnings.push(line) },
  });
  const opened = await TopicRules.open(config, logger);
  try {
    await body(opened, warnings);
  } finally {
    await opened.close();
  }
}

describe("TopicRewrite", () => {
  test("publish topics and subscribe filters, each by their own rules", async () => {
    const rules: RewriteRuleSpec[] = [
      { action: "publish", source_topic: "p/#", re: "^p/(.+)$", dest_topic: "pub/$1" },
      { action: "subscribe", source_topic: "s/#", re: "^s/(.+)$", dest_topic: "sub/$1" },
      { action: "all", source_topic: "x/+/y", re: "^x/([^/]+)/y$", dest_topic: "z/$1" },
    ];
    await withRules(rules, async ({ rewrite }) => {
      assert.equal(rewrite.rewriteTopic("p/1"), "pub/1");
      assert.equal(rewrite.rewriteTopic("s/1"), "s/1");
      assert.equal(rewrite.rewriteFilter("s/+"), "sub/+");
      assert.equal(rewrite.rewriteFilter("p/+"), "p/+");
      assert.equal(rewrite.rewriteTopic("x/a/y"), "z/a");
      assert.equal(rewrite.rewriteFilter("x/+/y"), "z/+");
    });
  });

  test("an invalid result keeps the topic and is reported once per rule", async () => {
    const rules: RewriteRuleSpec[] = [
      { action: "all", source_topic: "w/#", re: "^w/(.*)$", dest_topic: "v/$1/#" },
    ];
    await withRules(rules, async ({ rewrite }, warnings) => {
      assert.equal(rewrite.rewriteTopic("w/a"), "w/a", "a wildcard in a topic name");
      assert.equal(rewrite.rewriteTopic("w/b"), "w/b");
      assert.equal(rewrite.rewriteFilter("w/+"), "v/+/#", "the same result is a fine filter");
      assert.equal(rewrite.rewriteFilter("w/#"), "w/#", "'#' not last");
      assert.equal(warnings.length, 1, warnings.join("\n"));
      assert.match(warnings[0], /not a valid topic name/);
      assert.match(warnings[0], /"rule":"config-1"/);
    });
  });

  test("a result with too many levels keeps the topic", async () => {
    const rules: RewriteRuleSpec[] = [
      { action: "all", source_topic: "a", re: "^a$", dest_topic: "a/b/c" },
    ];
    await withRules(rules, async ({ rewrite }) => assert.equal(rewrite.rewriteTopic("a"), "a"), 2);
  });

  test("shared prefixes are never rewritten by the filter rules", async () => {
    const rules: RewriteRuleSpec[] = [
      { action: "all", source_topic: "#", re: "^(.*)$", dest_topic: "all/$1" },
    ];
    await withRules(rules, async ({ rewrite }) => {
      assert.equal(rewrite.rewriteFilter("$share/g/a"), "$share/g/a");
      assert.equal(rewrite.rewriteFilter("a"), "all/a");
      assert.equal(rewrite.rewriteFilter("a/#/b"), "a/#/b", "an invalid filter stays for 0x8F");
    });
  });
});
