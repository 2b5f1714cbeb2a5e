import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DELAYED_INVALID, parseDelayedTopic } from "../../../../src/broker/mqtt/delayed/topic.ts";
import { DELAYED_DELAY_S_MAX } from "../../../../src/config/limits.ts";

const MAX = DELAYED_DELAY_S_MAX;

describe("parseDelayedTopic", () => {
  test("other topics are not delayed publishes", () => {
    for (const topic of [
      "a/b",
      "$SYS/x",
      "$delayed",
      "$Delayed/1/a",
      "x/$delayed/1/a",
      "$share/g/a",
    ]) {
      assert.equal(parseDelayedTopic(topic, MAX), null, topic);
    }
  });

  test("splits the delay and the target topic", () => {
    assert.deepEqual(parseDelayedTopic("$delayed/10/a/b", MAX), { delayS: 10, topic: "a/b" });
    assert.deepEqual(parseDelayedTopic("$delayed/0/a", MAX), { delayS: 0, topic: "a" });
    assert.deepEqual(parseDelayedTopic("$delayed/007/a", MAX), { delayS: 7, topic: "a" });
    // Levels of the target are kept as they are, empty ones and `$` ones included.
    assert.deepEqual(parseDelayedTopic("$delayed/1//a/", MAX), { delayS: 1, topic: "/a/" });
    assert.deepEqual(parseDelayedTopic("$delayed/1/$SYS/x", MAX), { delayS: 1, topic: "$SYS/x" });
    assert.deepEqual(parseDelayedTopic(`$delayed/${MAX}/a`, MAX), { delayS: MAX, topic: "a" });
  });

  test("malformed delays are invalid", () => {
    for (const topic of [
      "$delayed/",
      "$delayed//a",
      "$delayed/-1/a",
      "$delayed/+1/a",
      "$delayed/ 1/a",
      "$delayed/1.5/a",
      "$delayed/1e3/a",
      "$delayed/abc/a",
      "$delayed/0x10/a",
      `$delayed/${MAX + 1}/a`,
      `$delayed/${"9".repeat(400)}/a`,
    ]) {
      assert.equal(parseDelayedTopic(topic, MAX), DELAYED_INVALID, topic);
    }
  });

  test("a missing, empty, wildcard or nested target is invalid", () => {
    for (const topic of [
      "$delayed/5",
      "$delayed/5/",
      "$delayed/5/a/+",
      "$delayed/5/#",
      "$delayed/5/a/#",
      "$delayed/5/a\u0000b",
      "$delayed/5/$delayed/1/a",
    ]) {
      assert.equal(parseDelayedTopic(topic, MAX), DELAYED_INVALID, topic);
    }
  });

  test("the configured maximum applies", () => {
    assert.deepEqual(parseDelayedTopic("$delayed/60/a", 60), { delayS: 60, topic: "a" });
    assert.equal(parseDelayedTopic("$delayed/61/a", 60), DELAYED_INVALID);
  });
});
