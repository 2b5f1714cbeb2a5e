import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RetainedStore } from "../../../../src/broker/mqtt/retained.ts";

/** The "dumb" matcher: MQTT 5 section 4.7 read literally, level by level. */
function referenceMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split("/");
  const topicLevels = topic.split("/");
  // [MQTT-4.7.2-1]
  if (topic.startsWith("$") && (filterLevels[0] === "+" || filterLevels[0] === "#")) return false;
  for (let i = 0; i < filterLevels.length; i++) {
    if (filterLevels[i] === "#") return true; // also the parent level: i === topicLevels.length
    if (i >= topicLevels.length) return false;
    if (filterLevels[i] !== "+" && filterLevels[i] !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

function matchedTopics<M>(store: RetainedStore<M>, filter: string): string[] {
  const topics: string[] = [];
  store.match(filter, (topic) => topics.push(topic));
  return topics.sort();
}

/** Retained topics used by the table below: MQTT 5 section 4.7 examples and edge cases. */
const storedTopics = [
  "sport",
  "sport/",
  "sports",
  "sport/tennis",
  "sport/tennis/player1",
  "sport/tennis/player2",
  "sport/tennis/player1/ranking",
  "sport/tennis/player1/score/wimbledon",
  "sport//player1",
  "/",
  "/finance",
  "finance",
  "$SYS",
  "$SYS/monitor/Clients",
  "$share/g/a",
  "a/$SYS",
  "Accounts",
  "ACCOUNTS",
  "Accounts payable",
];

/** [filter, exactly the stored topics it must return]. */
const filterCases: [string, string[]][] = [
  [
    "sport/tennis/player1/#",
    [
      "sport/tennis/player1",
      "sport/tennis/player1/ranking",
      "sport/tennis/player1/score/wimbledon",
    ],
  ],
  [
    "sport/#",
    [
      "sport",
      "sport/",
      "sport//player1",
      "sport/tennis",
      "sport/tennis/player1",
      "sport/tennis/player1/ranking",
      "sport/tennis/player1/score/wimbledon",
      "sport/tennis/player2",
    ],
  ],
  ["sport/tennis/+", ["sport/tennis/player1", "sport/tennis/player2"]],
  ["sport/+", ["sport/", "sport/tennis"]], // not "sport"
  ["sport/+/player1", ["sport//player1", "sport/tennis/player1"]],
  ["+", ["ACCOUNTS", "Accounts", "Accounts payable", "finance", "sport", "sports"]],
  ["+/+", ["/", "/finance", "a/$SYS", "sport/", "sport/tennis"]],
  ["/+", ["/", "/finance"]],
  [
    "+/tennis/#",
    [
      "sport/tennis",
      "sport/tennis/player1",
      "sport/tennis/player1/ranking",
      "sport/tennis/player1/score/wimbledon",
      "sport/tennis/player2",
    ],
  ],
  ["$SYS/#", ["$SYS", "$SYS/monitor/Clients"]],
  ["$SYS/monitor/+", ["$SYS/monitor/Clients"]],
  ["+/monitor/Clients", []], // [MQTT-4.7.2-1]
  ["$SYS", ["$SYS"]],
  ["a/#", ["a/$SYS"]],
  ["+/+/+", ["sport//player1", "sport/tennis/player1", "sport/tennis/player2"]], // not $share/g/a
  ["Accounts", ["Accounts"]],
  ["ACCOUNTS", ["ACCOUNTS"]],
  ["/finance", ["/finance"]],
  ["finance", ["finance"]],
  ["nothing/here", []],
  ["sport/tennis/player1/score/wimbledon/#", ["sport/tennis/player1/score/wimbledon"]],
];

test("match: MQTT 5 section 4.7 examples against a store of topics (table)", () => {
  const store = new RetainedStore<string>();
  for (const topic of storedTopics) store.set(topic, `m:${topic}`);
  assert.equal(store.size, storedTopics.length);
  const hashAll = storedTopics.filter((topic) => !topic.startsWith("$")).sort();
  for (const [filter, expected] of [...filterCases, ["#", hashAll] as [string, string[]]]) {
    const reference = storedTopics.filter((topic) => referenceMatches(filter, topic)).sort();
    assert.deepEqual(reference, [...expected].sort(), `reference ${filter}`);
    const messages: string[] = [];
    store.match(filter, (topic, message) => {
      assert.equal(message, `m:${topic}`);
      messages.push(topic);
    });
    assert.deepEqual(messages.sort(), [...expected].sort(), filter);
  }
});

test("set / get / delete / size / entries", () => {
  const store = new RetainedStore<number>();
  store.set("a/b", 1);
  store.set("a/b", 2); // one message per topic: replaced
  store.set("a", 3);
  store.set("a/b/c", 4);
  assert.equal(store.size, 3);
  assert.equal(store.get("a/b"), 2);
  assert.equal(store.get("a"), 3);
  assert.equal(store.get("a/x"), undefined);
  assert.equal(store.get("a/b/c/d"), undefined);
  assert.deepEqual([...store.entries()].sort(), [
    ["a", 3],
    ["a/b", 2],
    ["a/b/c", 4],
  ]);
  assert.equal(store.delete("a/x"), false);
  assert.equal(store.delete("a/b/c/d"), false);
  assert.equal(store.delete("a/b"), true);
  assert.equal(store.delete("a/b"), false);
  assert.equal(store.get("a/b/c"), 4, "children survive their parent's deletion");
  assert.equal(store.nodeCount, 3, "a/b is kept as the path to a/b/c");
  assert.equal(store.delete("a/b/c"), true);
  assert.equal(store.nodeCount, 1);
  assert.equal(store.delete("a"), true);
  assert.equal(store.size, 0);
  assert.equal(store.nodeCount, 0);
  assert.deepEqual([...store.entries()], []);
});

test("falsy messages are stored like any other", () => {
  const store = new RetainedStore<number | null>();
  store.set("z", 0);
  store.set("n", null);
  assert.equal(store.get("z"), 0);
  assert.deepEqual(matchedTopics(store, "#"), ["n", "z"]);
});

test("invalid topics and filters are programmer errors", () => {
  const store = new RetainedStore<number>();
  for (const topic of ["", "a/+", "a/#", "a\u0000"]) {
    assert.throws(() => store.set(topic, 1), /invalid topic name/);
  }
  for (const filter of ["", "a/#/b", "a+"]) {
    assert.throws(() => store.match(filter, () => {}), /invalid topic filter/);
  }
  assert.equal(store.size, 0);
  assert.equal(store.nodeCount, 0);
});

test("a visitor may delete what it is shown (expired messages)", () => {
  const store = new RetainedStore<number>();
  for (let i = 0; i < 50; i++) {
    store.set(`x/${i}`, i);
    store.set(`x/${i}/y`, i);
  }
  const seen: string[] = [];
  store.match("x/#", (topic, message) => {
    seen.push(topic);
    if (message % 2 === 0) store.delete(topic);
  });
  assert.equal(seen.length, 100);
  assert.equal(new Set(seen).size, 100);
  assert.equal(store.size, 50);
  assert.deepEqual(
    matchedTopics(store, "x/+").map((topic) => Number(topic.split("/")[1]) % 2),
    Array(25).fill(1),
  );
});

test("very deep topics do not recurse", () => {
  const depth = 30_000;
  const store = new RetainedStore<number>();
  const topic = Array.from({ length: depth }, () => "a").join("/");
  store.set(topic, 1);
  const plusFilter = Array.from({ length: depth }, () => "+").join("/");
  assert.deepEqual(matchedTopics(store, "#"), [topic]);
  assert.deepEqual(matchedTopics(store, plusFilter), [topic]);
  assert.deepEqual(matchedTopics(store, `${plusFilter}/#`), [topic]);
  assert.equal(store.get(topic), 1);
  assert.equal(store.delete(topic), true);
  assert.equal(store.nodeCount, 0);
});

// Property test: random set/delete sequences against a Map model and the reference matcher.

const topicArbitrary = fc
  .array(fc.constantFrom("", "a", "b", "$SYS"), { minLength: 1, maxLength: 5 })
  .map((levels) => levels.join("/"))
  .filter((topic) => topic.length > 0);
const filterArbitrary = fc
  .tuple(fc.array(fc.constantFrom("", "a", "b", "$SYS", "+"), { maxLength: 5 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/"))
  .filter((filter) => filter.length > 0);
type Operation =
  | { kind: "set"; topic: string; message: number }
  | { kind: "delete"; topic: string };
const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant("set" as const), topic: topicArbitrary, message: fc.integer() }),
  fc.record({ kind: fc.constant("delete" as const), topic: topicArbitrary }),
);

/** Nodes a correct, fully pruned store holds: one per distinct prefix of a stored topic. */
function expectedNodeCount(model: Map<string, number>): number {
  const prefixes = new Set<string>();
  for (const topic of model.keys()) {
    const levels = topic.split("/");
    for (let i = 1; i <= levels.length; i++) prefixes.add(levels.slice(0, i).join("\u0001"));
  }
  return prefixes.size;
}

function checkAgainstModel(
  store: RetainedStore<number>,
  model: Map<string, number>,
  filters: string[],
) {
  assert.equal(store.size, model.size);
  assert.equal(store.nodeCount, expectedNodeCount(model));
  assert.deepEqual([...store.entries()].sort(), [...model.entries()].sort());
  for (const filter of filters) {
    const actual: string[] = [];
    store.match(filter, (topic, message) => actual.push(`${topic}|${message}`));
    const expected = [...model]
      .filter(([topic]) => referenceMatches(filter, topic))
      .map(([topic, message]) => `${topic}|${message}`);
    assert.deepEqual(actual.sort(), expected.sort(), `filter ${JSON.stringify(filter)}`);
  }
}

test("store agrees with the reference matcher over random set/delete sequences (property)", () => {
  fc.assert(
    fc.property(
      fc.array(operationArbitrary, { maxLength: 100, size: "max" }),
      fc.array(filterArbitrary, { minLength: 1, maxLength: 10, size: "max" }),
      (operations, filters) => {
        const store = new RetainedStore<number>();
        const model = new Map<string, number>();
        for (const operation of operations) {
          if (operation.kind === "set") {
            store.set(operation.topic, operation.message);
            model.set(operation.topic, operation.message);
          } else {
            assert.equal(store.delete(operation.topic), model.delete(operation.topic));
          }
          assert.equal(store.get(operation.topic), model.get(operation.topic));
          checkAgainstModel(store, model, filters);
        }
        for (const topic of model.keys()) assert.equal(store.delete(topic), true);
        assert.equal(store.size, 0);
        assert.equal(store.nodeCount, 0, "no nodes leaked");
        checkAgainstModel(store, new Map(), filters);
      },
    ),
    { numRuns: 300 },
  );
});

test("scale: 300,000 retained topics; a filter's cost follows what it selects", () => {
  const count = 300_000;
  const store = new RetainedStore<number>();
  for (let i = 0; i < count; i++) store.set(`d/${i}/s`, i);
  store.set("$SYS/broker/uptime", -1);
  assert.equal(store.size, count + 1);
  assert.deepEqual(matchedTopics(store, "d/123/+"), ["d/123/s"]);
  assert.deepEqual(matchedTopics(store, "d/123/#"), ["d/123/s"]);
  assert.deepEqual(matchedTopics(store, "$SYS/#"), ["$SYS/broker/uptime"]);
  let visits = 0;
  store.match("d/+/s", () => visits++);
  assert.equal(visits, count);
  visits = 0;
  store.match("#", () => visits++);
  assert.equal(visits, count, "# skips $SYS");
  for (let i = 0; i < count; i++) assert.equal(store.delete(`d/${i}/s`), true);
  store.delete("$SYS/broker/uptime");
  assert.equal(store.size, 0);
  assert.equal(store.nodeCount, 0);
});
