/**
 * What a Kafka record becomes in MQTT (src/bridge/record-message.ts): the templated topic.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { templatedTopic } from "../../../src/bridge/record-message.ts";

describe("templatedTopic", () => {
  test("{key}, {topic} and {partition} are replaced, each as often as it appears", () => {
    const topic = templatedTopic("{topic}/{partition}/{key}/{key}", Buffer.from("d1"), "cmd", 2);
    assert.equal(topic, "cmd/2/d1/d1");
    assert.equal(templatedTopic("a/{key}/b", null, "cmd", 0), "a//b", "a null key is empty");
  });

  test("a key is taken literally: no replacement patterns, no placeholders expanded again", () => {
    const cases: Array<[string, string]> = [
      ["a$&b", "t2/a$&b"],
      ["x$'", "t2/x$'"],
      ["y$`", "t2/y$`"],
      ["z$$", "t2/z$$"],
      ["{topic}", "t2/{topic}"],
      ["{partition}", "t2/{partition}"],
      ["{key}", "t2/{key}"],
    ];
    for (const [key, expected] of cases) {
      assert.equal(templatedTopic("t2/{key}", Buffer.from(key), "kt", 3), expected, key);
    }
  });

  test("a result that is no valid topic name, or starts with $, is null", () => {
    for (const key of ["a+b", "a/#", "a\0b"]) {
      assert.equal(templatedTopic("t/{key}", Buffer.from(key), "kt", 0), null, key);
    }
    assert.equal(templatedTopic("{key}/x", Buffer.from("$SYS"), "kt", 0), null);
    assert.equal(templatedTopic("{key}", null, "kt", 0), null, "empty topic");
    assert.equal(templatedTopic("t/{key}", Buffer.alloc(70_000, 0x61), "kt", 0), null, "too long");
  });

  test("a key that is not UTF-8 gives no topic, so different keys never share one", () => {
    for (const bytes of [[0xff], [0xfe], [0xc3], [0x61, 0xed, 0xa0, 0x80]]) {
      assert.equal(templatedTopic("t2/{key}", Buffer.from(bytes), "kt", 0), null, String(bytes));
    }
    assert.equal(templatedTopic("t2/{key}", Buffer.from("é✓"), "kt", 0), "t2/é✓");
    assert.equal(templatedTopic("t2/{partition}", Buffer.from([0xff]), "kt", 0), "t2/0", "unused");
  });
});
