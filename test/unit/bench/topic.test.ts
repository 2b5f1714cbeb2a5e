/** Topic patterns (%i, %c, %%), topic matching and the fan-out prediction of pubsub. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  expandTopic,
  fanoutCounts,
  patternProblem,
  publishTopicProblem,
  subscribeFilterProblem,
  topicMatches,
} from "../../../src/bench/topic.ts";

describe("topic patterns", () => {
  test("%i is the client index, %c the client id, %% a percent sign", () => {
    assert.equal(expandTopic("bench/%i", 7, "rmq1-pub-7"), "bench/7");
    assert.equal(expandTopic("t/%c/x", 3, "rmq1-sub-3"), "t/rmq1-sub-3/x");
    assert.equal(expandTopic("%i-%i/%c", 12, "id"), "12-12/id");
    assert.equal(expandTopic("100%%/%i", 5, "id"), "100%/5");
    assert.equal(expandTopic("plain/topic", 5, "id"), "plain/topic");
    assert.equal(expandTopic("%i", 0, "id"), "0");
  });

  test("only %i, %c and %% are placeholders", () => {
    assert.equal(patternProblem("bench/%i/%c/%%"), null);
    assert.match(patternProblem("bench/%d") ?? "", /%d is not a placeholder/);
    assert.match(patternProblem("bench/%") ?? "", /a trailing % is not a placeholder/);
    assert.match(patternProblem("") ?? "", /must not be empty/);
  });

  test("expansion never leaves a placeholder behind", () => {
    const piece = fc.constantFrom("a", "/", "%i", "%c", "%%", "+", "é");
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 20 }), fc.nat(), (pieces, index) => {
        const pattern = pieces.join("");
        assert.equal(patternProblem(pattern), null);
        const expected = pieces
          .map((p) => (p === "%i" ? String(index) : p === "%c" ? "CID" : p === "%%" ? "%" : p))
          .join("");
        assert.equal(expandTopic(pattern, index, "CID"), expected);
      }),
    );
  });

  test("a topic to publish to has no wildcards; a filter has well-placed ones", () => {
    assert.equal(publishTopicProblem("bench/1"), null);
    assert.match(publishTopicProblem("bench/+") ?? "", /not a valid topic name/);
    assert.equal(subscribeFilterProblem("bench/+/x/#"), null);
    assert.equal(subscribeFilterProblem("$share/group/bench/#"), null);
    assert.match(subscribeFilterProblem("bench/x+") ?? "", /not a valid topic filter/);
    assert.match(subscribeFilterProblem("$share/g+/a") ?? "", /not a valid topic filter/);
  });
});

describe("topic matching", () => {
  const cases: Array<[string, string, boolean]> = [
    ["a/b", "a/b", true],
    ["a/b", "a/c", false],
    ["a/+", "a/b", true],
    ["a/+", "a/b/c", false],
    ["a/+", "a", false],
    ["+/+", "/x", true],
    ["a/#", "a", true],
    ["a/#", "a/b/c", true],
    ["#", "a/b", true],
    ["#", "$SYS/x", false],
    ["+/x", "$SYS/x", false],
    ["$SYS/#", "$SYS/x", true],
    ["a/b/c", "a/b", false],
  ];
  for (const [filter, topic, expected] of cases) {
    test(`${filter} ${expected ? "matches" : "does not match"} ${topic}`, () => {
      assert.equal(topicMatches(filter, topic), expected);
    });
  }

  test("one subscriber per publisher topic, a wildcard subscriber, and duplicates", () => {
    const topics = ["bench/0", "bench/1", "other"];
    assert.deepEqual(fanoutCounts(topics, ["bench/0", "bench/1"], 100), [1, 1, 0]);
    assert.deepEqual(fanoutCounts(topics, ["bench/+", "bench/+"], 100), [2, 2, 0]);
    assert.deepEqual(fanoutCounts(topics, ["#", "bench/0"], 100), [2, 1, 1]);
  });

  test("shared subscriptions and too much matching work are unknown", () => {
    assert.equal(fanoutCounts(["a"], ["$share/g/a"], 100), null);
    assert.equal(fanoutCounts(["a", "b"], ["+", "#"], 3), null);
  });
});
