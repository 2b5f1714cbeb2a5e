/**
 * What a topic rewrite or auto-subscribe rule may be: the checks that let the broker compile
 * every accepted rule without a failure at run time.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AutoSubscribeRuleSpecSchema,
  RewriteRuleSpecSchema,
} from "../../../../../src/broker/mqtt/rules/rule-schema.ts";

function problems(
  schema: typeof RewriteRuleSpecSchema | typeof AutoSubscribeRuleSpecSchema,
  input: unknown,
) {
  const parsed = schema.safeParse(input);
  return parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

const rewrite = (input: Record<string, unknown>) =>
  problems(RewriteRuleSpecSchema, {
    action: "all",
    source_topic: "x/#",
    re: "^x/(.+)$",
    dest_topic: "y/$1",
    ...input,
  });

const auto = (input: Record<string, unknown>) => problems(AutoSubscribeRuleSpecSchema, input);

describe("rewrite rules", () => {
  test("a well-formed rule passes", () => {
    assert.deepEqual(rewrite({}), []);
    assert.deepEqual(rewrite({ action: "publish", dest_topic: "$SYS2/$1" }), []);
    assert.deepEqual(rewrite({ action: "subscribe", dest_topic: "y/+/$1" }), []);
  });

  test("each field is checked and named", () => {
    assert.match(rewrite({ action: "move" }).join(), /^action:/);
    assert.match(rewrite({ source_topic: "a/#/b" }).join(), /^source_topic: not a plain/);
    assert.match(rewrite({ source_topic: "$share/g/x" }).join(), /^source_topic:/);
    assert.match(rewrite({ re: "(" }).join(), /^re: is not a valid regular expression/);
    assert.match(rewrite({ re: "" }).join(), /^re: is empty/);
    assert.match(
      rewrite({ dest_topic: "y/$2" }).join(),
      /dest_topic: refers to \$2 but .* 1 group$/,
    );
    assert.match(rewrite({ dest_topic: "y/#/$1" }).join(), /^dest_topic: not a plain topic filter/);
    assert.match(rewrite({ dest_topic: "$queue/$1" }).join(), /^dest_topic:/);
    assert.match(rewrite({ action: "publish", dest_topic: "y/+/$1" }).join(), /no wildcard/);
    assert.match(rewrite({ extra: 1 }).join(), /Unrecognized key/);
    assert.notDeepEqual(problems(RewriteRuleSpecSchema, { action: "all" }), []);
  });

  test("a group reference standing for a whole level keeps the filter's shape", () => {
    // "$1" is filled in before the shape check: "y/$1" is "y/x", never "y/$1" as a level.
    assert.deepEqual(rewrite({ dest_topic: "$1" }), []);
  });
});

describe("auto-subscribe rules", () => {
  test("defaults: QoS 0, no options", () => {
    const parsed = AutoSubscribeRuleSpecSchema.parse({ topic: "a/%c" });
    assert.deepEqual(parsed, {
      topic: "a/%c",
      qos: 0,
      no_local: false,
      retain_as_published: false,
      retain_handling: 0,
    });
  });

  test("plain, shared, $queue/ and $exclusive/ topics with placeholders pass", () => {
    for (const topic of ["users/%u/#", "$share/g/%c/in", "$queue/jobs", "$exclusive/dev/%c"]) {
      assert.deepEqual(auto({ topic }), [], topic);
    }
  });

  test("malformed topics and options are refused", () => {
    assert.match(auto({ topic: "a/#/b" }).join(), /^topic:/);
    assert.match(auto({ topic: "$share//a" }).join(), /^topic:/);
    assert.match(auto({ topic: "$exclusive/" }).join(), /^topic:/);
    assert.match(auto({ topic: "$exclusive/$share/g/a" }).join(), /^topic:/);
    assert.match(auto({ topic: "a%u", qos: 3 }).join(), /^qos:/);
    assert.match(auto({ topic: "a", retain_handling: -1 }).join(), /^retain_handling:/);
    assert.match(auto({ topic: "$queue/a", no_local: true }).join(), /^no_local: a shared/);
    assert.match(auto({ topic: "$share/g/a", no_local: true }).join(), /^no_local:/);
    assert.deepEqual(auto({ topic: "$exclusive/a", no_local: true }), []);
  });
});
