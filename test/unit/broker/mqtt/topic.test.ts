import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  hasWildcard,
  isSysTopic,
  parseSharedFilter,
  TOPIC_LENGTH_BYTES_MAX,
  topicLevelCount,
  validateResponseTopic,
  validateTopicFilter,
  validateTopicName,
} from "../../../../src/broker/mqtt/topic.ts";

const topicNameCases: [string, boolean][] = [
  ["sport/tennis/player1", true],
  ["sport", true],
  ["/", true], // [MQTT-4.7.1] "/" is a valid topic name with two empty levels
  ["/finance", true],
  ["a//b", true],
  ["a/", true],
  ["Accounts payable", true], // spaces are allowed
  ["$SYS/monitor/Clients", true],
  ["", false], // [MQTT-4.7.3-1]
  ["sport/+", false], // [MQTT-3.3.2-2]
  ["sport/#", false],
  ["#", false],
  ["+", false],
  ["sport+", false],
  ["a#b", false],
  ["a\u0000b", false], // [MQTT-4.7.3-2]
  ["\u0000", false],
];

test("validateTopicName: table", () => {
  for (const [topic, valid] of topicNameCases) {
    assert.equal(validateTopicName(topic), valid, JSON.stringify(topic));
  }
});

test("validateResponseTopic: no wildcard anywhere [MQTT-3.3.2-14]", () => {
  const cases: [string, boolean][] = [
    ["replies/client-1", true],
    ["/", true],
    ["$SYS/x", true], // publishing there is the responder's problem, not a wildcard
    ["replies/#", false],
    ["x/+/y", false],
    ["+", false],
    ["a#b", false], // not a valid filter either: still a wildcard character
    ["a+", false],
  ];
  for (const [topic, valid] of cases) {
    assert.equal(validateResponseTopic(topic), valid, JSON.stringify(topic));
  }
});

const lengthCases: [string, string, number, boolean][] = [
  ["1-byte at limit", "a", TOPIC_LENGTH_BYTES_MAX, true],
  ["1-byte over limit", "a", TOPIC_LENGTH_BYTES_MAX + 1, false],
  ["2-byte at limit-1", "é", 32_767, true], // 65534 bytes
  ["2-byte over limit", "é", 32_768, false], // 65536 bytes, only 32768 UTF-16 units
  ["3-byte at limit", "€", 21_845, true], // 65535 bytes
  ["3-byte over limit", "€", 21_846, false],
  ["4-byte under limit", "😀", 16_383, true], // 65532 bytes
  ["4-byte over limit", "😀", 16_384, false], // 65536 bytes
];

test("validateTopicName and validateTopicFilter: [MQTT-4.7.3-3] length in UTF-8 bytes", () => {
  for (const [name, unit, count, valid] of lengthCases) {
    const topic = unit.repeat(count);
    assert.equal(validateTopicName(topic), valid, name);
    assert.equal(validateTopicFilter(topic), valid, name);
  }
  assert.equal(validateTopicFilter(`${"a".repeat(TOPIC_LENGTH_BYTES_MAX - 2)}/#`), true);
  assert.equal(validateTopicFilter(`${"a".repeat(TOPIC_LENGTH_BYTES_MAX - 1)}/#`), false);
});

const topicFilterCases: [string, boolean][] = [
  // Examples from MQTT 5 section 4.7.1.
  ["sport/tennis/player1/#", true],
  ["sport/#", true],
  ["#", true],
  ["sport/tennis/#", true],
  ["sport/tennis#", false],
  ["sport/tennis/#/ranking", false],
  ["+", true],
  ["+/tennis/#", true],
  ["sport+", false],
  ["sport/+/player1", true],
  ["+/+", true],
  ["/+", true],
  ["$SYS/#", true],
  ["$SYS/monitor/+", true],
  ["+/monitor/Clients", true],
  // Edge cases.
  ["/", true],
  ["//", true],
  ["+/", true],
  ["/#", true],
  ["a//#", true],
  ["+/#", true],
  ["+/+/+", true],
  ["a b/c", true],
  ["", false], // [MQTT-4.7.3-1]
  ["#/", false], // [MQTT-4.7.1-1] '#' must be last
  ["#/a", false],
  ["##", false],
  ["a/#b", false],
  ["a/b#", false],
  ["++", false], // [MQTT-4.7.1-2]
  ["+a", false],
  ["a+", false],
  ["a/+b/c", false],
  ["a/b+/c", false],
  ["+#", false],
  ["#+", false],
  ["a\u0000", false], // [MQTT-4.7.3-2]
];

test("validateTopicFilter: table", () => {
  for (const [filter, valid] of topicFilterCases) {
    assert.equal(validateTopicFilter(filter), valid, JSON.stringify(filter));
  }
});

type SharedExpectation = { group: string; filter: string } | null | "invalid";
const sharedCases: [string, SharedExpectation][] = [
  ["$share/g/a", { group: "g", filter: "a" }],
  ["$share/consumer1/sport/tennis/+", { group: "consumer1", filter: "sport/tennis/+" }],
  ["$share/g/#", { group: "g", filter: "#" }],
  ["$share/g/+/x", { group: "g", filter: "+/x" }],
  ["$share/g//", { group: "g", filter: "/" }],
  ["$share/g//a", { group: "g", filter: "/a" }],
  ["$share/g/$SYS/#", { group: "g", filter: "$SYS/#" }],
  ["$share/$g/a", { group: "$g", filter: "a" }],
  ["$share/g/$share/h/a", { group: "g", filter: "$share/h/a" }],
  ["$share/g", "invalid"], // no filter at all
  ["$share/g/", "invalid"], // empty filter [MQTT-4.7.3-1]
  ["$share/", "invalid"], // [MQTT-4.8.2-1] empty ShareName
  ["$share//a", "invalid"],
  ["$share/+/a", "invalid"], // [MQTT-4.8.2-2]
  ["$share/#/a", "invalid"],
  ["$share/g+/a", "invalid"],
  ["$share/g#/a", "invalid"],
  ["$share/g\u0000/a", "invalid"],
  ["$share/g/a#", "invalid"], // inner filter must be valid
  ["$share/g/sport/#/ranking", "invalid"],
  ["$share/g/a+", "invalid"],
  // Not shared subscriptions: the caller validates them as plain filters.
  ["a/b", null],
  ["$share", null],
  ["$SHARE/g/a", null],
  ["$sharex/g/a", null],
  ["share/g/a", null],
  ["/$share/g/a", null],
  ["$queue/a", null],
];

test("parseSharedFilter: table", () => {
  for (const [filter, expected] of sharedCases) {
    assert.deepEqual(parseSharedFilter(filter), expected, JSON.stringify(filter));
  }
});

test("parseSharedFilter: [MQTT-4.7.3-3] the whole string is one UTF-8 string", () => {
  const prefix = "$share/g/"; // 9 bytes
  const longest = parseSharedFilter(`${prefix}${"a".repeat(TOPIC_LENGTH_BYTES_MAX - 9)}`);
  assert.ok(longest !== null && longest !== "invalid");
  assert.equal(longest.filter.length, TOPIC_LENGTH_BYTES_MAX - 9);
  const tooLong = parseSharedFilter(`${prefix}${"a".repeat(TOPIC_LENGTH_BYTES_MAX - 8)}`);
  assert.equal(tooLong, "invalid");
});

test("topicLevelCount, isSysTopic, hasWildcard: tables", () => {
  const levelCases: [string, number][] = [
    ["a", 1],
    ["/", 2],
    ["/a", 2],
    ["a/", 2],
    ["a//b", 3],
    ["sport/tennis/player1", 3],
    ["", 1],
  ];
  for (const [topic, count] of levelCases) assert.equal(topicLevelCount(topic), count, topic);

  const sysCases: [string, boolean][] = [
    ["$SYS/broker", true],
    ["$", true],
    ["$share/g/a", true],
    ["SYS", false],
    ["/$SYS", false],
    ["", false],
  ];
  for (const [topic, sys] of sysCases) assert.equal(isSysTopic(topic), sys, topic);

  const wildcardCases: [string, boolean][] = [
    ["a/b", false],
    ["#", true],
    ["a/+/b", true],
    ["a/#", true],
    ["$SYS", false],
    ["/", false],
  ];
  for (const [filter, wild] of wildcardCases) assert.equal(hasWildcard(filter), wild, filter);
});

/** The validators against a split-based reading of the rules, over a small alphabet. */
function referenceFilterValid(filter: string): boolean {
  if (filter.length === 0 || filter.includes("\u0000")) return false;
  const levels = filter.split("/");
  return levels.every((level, i) => {
    if (level === "#") return i === levels.length - 1;
    if (level === "+") return true;
    return !level.includes("+") && !level.includes("#");
  });
}

const smallText = fc
  .array(fc.constantFrom("a", "b", "/", "+", "#", "$", "\u0000", "é"), { maxLength: 8 })
  .map((chars) => chars.join(""));

test("validators agree with a split-based reference (property)", () => {
  fc.assert(
    fc.property(smallText, (text) => {
      assert.equal(validateTopicFilter(text), referenceFilterValid(text));
      const nameValid = text.length > 0 && !/[+#]/.test(text) && !text.includes("\u0000");
      assert.equal(validateTopicName(text), nameValid);
      assert.equal(hasWildcard(text), /[+#]/.test(text));
      assert.equal(topicLevelCount(text), text.split("/").length);
      const shared = parseSharedFilter(`$share/g/${text}`);
      assert.deepEqual(
        shared,
        referenceFilterValid(text) ? { group: "g", filter: text } : "invalid",
      );
    }),
    { numRuns: 2000 },
  );
});
