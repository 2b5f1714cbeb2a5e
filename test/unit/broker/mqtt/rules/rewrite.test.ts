/**
 * Topic rewrite's pure core: expressions, destination templates, and which rule applies.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { REWRITE_REGEX_CHARS_MAX } from "../../../../../src/broker/mqtt/rules/limits.ts";
import {
  captureGroupCount,
  compileRegex,
  compileRewrite,
  fillTemplate,
  findRewrite,
  parseDestTemplate,
} from "../../../../../src/broker/mqtt/rules/rewrite.ts";
import type { RewriteAction, RewriteRule } from "../../../../../src/broker/mqtt/rules/types.ts";

let ids = 0;
function rule(
  source_topic: string,
  re: string,
  dest_topic: string,
  action: RewriteAction = "all",
): RewriteRule {
  ids++;
  return { id: `r${ids}`, source: "config", action, source_topic, re, dest_topic };
}

function rewrite(rules: RewriteRule[], topic: string): string | null {
  return findRewrite(rules.map(compileRewrite), topic)?.topic ?? null;
}

describe("destination templates", () => {
  test("$1..$9 are group references; any other '$' is literal", () => {
    assert.deepEqual(parseDestTemplate("a/$1/b/$2"), ["a/", 1, "/b/", 2]);
    assert.deepEqual(parseDestTemplate("$1$2"), [1, 2]);
    assert.deepEqual(parseDestTemplate("$SYS/$0/x$"), ["$SYS/$0/x$"]);
    assert.deepEqual(parseDestTemplate("$12"), [1, "2"], "one digit per reference");
    assert.deepEqual(parseDestTemplate("plain"), ["plain"]);
  });

  test("a group that took part in no match fills in as empty", () => {
    const match = /^(a)?(b)$/u.exec("b");
    assert.ok(match !== null);
    assert.equal(fillTemplate(parseDestTemplate("x/$1/$2"), match), "x//b");
  });
});

describe("expressions", () => {
  test("compile with the u flag, or say what is wrong", () => {
    const re = compileRegex("^a/(.+)$");
    assert.ok(re instanceof RegExp);
    assert.equal(re.flags, "u");
    assert.match(String(compileRegex("(")), /not a valid regular expression/);
    assert.equal(compileRegex(""), "is empty");
    assert.match(String(compileRegex("a".repeat(REWRITE_REGEX_CHARS_MAX + 1))), /longer than/);
    assert.ok(compileRegex("a".repeat(REWRITE_REGEX_CHARS_MAX)) instanceof RegExp);
  });

  test("capture groups are counted, named ones too, non-capturing ones not", () => {
    const count = (text: string) => captureGroupCount(compileRegex(text) as RegExp);
    assert.equal(count("^a$"), 0);
    assert.equal(count("^(a)/(b|c)$"), 2);
    assert.equal(count("^(?:a)/(?<rest>.*)$"), 1);
    assert.equal(count("^a|(b)|(c)$"), 2);
  });

  test("a capture never splits a surrogate pair", () => {
    const out = rewrite([rule("#", "^(.)", "x/$1")], "\u{1F600}/y");
    assert.equal(out, "x/\u{1F600}");
  });
});

describe("findRewrite", () => {
  test("the first rule whose filter and expression both match decides", () => {
    const rules = [
      rule("x/#", "^x/y/(.+)$", "z/y/$1"),
      rule("x/#", "^x/(.+)$", "other/$1"),
      rule("x/y/#", "^x/y/(.+)$", "never/$1"),
    ];
    assert.equal(rewrite(rules, "x/y/1"), "z/y/1");
    assert.equal(rewrite(rules, "x/q/1"), "other/q/1", "a rule whose expression fails is skipped");
    assert.equal(rewrite(rules, "a/b"), null);
  });

  test("the source filter must match, not only the expression", () => {
    assert.equal(rewrite([rule("a/+", "^(.*)$", "b/$1")], "a/b/c"), null);
    assert.equal(rewrite([rule("a/+", "^(.*)$", "b/$1")], "a/b"), "b/a/b");
  });

  test("a filter's wildcards are matched as literal levels (SUBSCRIBE)", () => {
    const rules = [rule("x/+/y", "^x/(.)/y$", "z/$1")];
    assert.equal(rewrite(rules, "x/+/y"), "z/+");
    assert.equal(rewrite([rule("x/#", "^x/(.*)$", "z/$1")], "x/#"), "z/#");
  });

  test("'#' and '+' as first level never match topics starting with '$'", () => {
    assert.equal(rewrite([rule("#", "^(.*)$", "all/$1")], "$SYS/x"), null);
    assert.equal(rewrite([rule("$SYS/#", "^\\$SYS/(.*)$", "sys/$1")], "$SYS/x"), "sys/x");
  });

  test("publish and subscribe rules are told apart", () => {
    const compiled = compileRewrite(rule("a", "a", "b", "publish"));
    assert.deepEqual([compiled.publish, compiled.subscribe], [true, false]);
    const both = compileRewrite(rule("a", "a", "b", "all"));
    assert.deepEqual([both.publish, both.subscribe], [true, true]);
  });

  test("the result is not validated here (the shell does it)", () => {
    assert.equal(rewrite([rule("a/#", "^a/(.*)$", "b/+/$1")], "a/c"), "b/+/c");
  });
});
