/**
 * Auto-subscribe's pure core: placeholders filled in, and skipped when a value could widen the
 * filter.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  compileAutoSubscribe,
  topicFor,
} from "../../../../../src/broker/mqtt/rules/auto-subscribe.ts";
import type { AutoSubscribeRule } from "../../../../../src/broker/mqtt/rules/types.ts";
import { compileTopicTemplate, topicWith } from "../../../../../src/security/topic-template.ts";

function rule(topic: string): AutoSubscribeRule {
  return {
    id: "config-1",
    source: "config",
    topic,
    qos: 1,
    no_local: false,
    retain_as_published: false,
    retain_handling: 0,
  };
}

const filled = (topic: string, clientId: string, username: string | undefined) =>
  topicFor(compileAutoSubscribe(rule(topic)), clientId, username);

describe("auto-subscribe topics", () => {
  test("%u and %c are filled in, whole levels or within one", () => {
    assert.equal(filled("users/%u/%c/#", "dev1", "alice"), "users/alice/dev1/#");
    assert.equal(filled("in/u-%u.c-%c", "dev1", "alice"), "in/u-alice.c-dev1");
    assert.equal(filled("$queue/jobs/%u", "c", "bob"), "$queue/jobs/bob");
  });

  test("a topic without placeholders is used as written", () => {
    assert.equal(filled("news/#", "c", undefined), "news/#");
    assert.equal(compileTopicTemplate("a/%x/100%"), null, "other '%' stays literal");
    assert.equal(filled("a/%x/100%", "c", "u"), "a/%x/100%");
  });

  test("a value that is absent, empty, or holds + # / or NUL skips the rule", () => {
    for (const bad of [undefined, "", "+", "#", "a/b", "a+", "x#", "nul\u0000"]) {
      assert.equal(filled("users/%u/#", "c", bad), null, JSON.stringify(bad));
      assert.equal(filled("devices/%c", bad ?? "", "u"), null, JSON.stringify(bad));
    }
  });

  test("a placeholder a rule does not use does not matter", () => {
    assert.equal(filled("devices/%c", "dev1", undefined), "devices/dev1");
    assert.equal(filled("users/%u", "a/b", "alice"), "users/alice");
  });

  test("a value holding '%c' is not expanded again", () => {
    assert.equal(filled("users/%u/%c", "dev", "%c"), "users/%c/dev");
  });

  test("topicWith puts a stand-in in every placeholder (for validation)", () => {
    assert.equal(topicWith("a/%u/%c/b%u", "x"), "a/x/x/bx");
    assert.equal(topicWith("plain/#", "x"), "plain/#");
  });
});
