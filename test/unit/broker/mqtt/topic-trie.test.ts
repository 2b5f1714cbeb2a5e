import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { SubscriptionTrie } from "../../../../src/broker/mqtt/topic-trie.ts";

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

function matchedFilters(trie: SubscriptionTrie<number>, topic: string): string[] {
  const filters: string[] = [];
  trie.match(topic, (_key, _value, filter) => filters.push(filter));
  return filters.sort();
}

/** [filter, topic, matches]: every example in MQTT 5 section 4.7, plus edge cases. */
const matchCases: [string, string, boolean][] = [
  // 4.7.1.2 Multi-level wildcard.
  ["sport/tennis/player1/#", "sport/tennis/player1", true],
  ["sport/tennis/player1/#", "sport/tennis/player1/ranking", true],
  ["sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true],
  ["sport/tennis/player1/#", "sport/tennis/player2", false],
  ["sport/tennis/player1/#", "sport/tennis", false],
  ["sport/#", "sport", true], // '#' includes the parent level
  ["sport/#", "sport/", true],
  ["sport/#", "sport/a/b", true],
  ["sport/#", "sports", false],
  ["#", "sport/tennis/player1", true],
  ["#", "/", true],
  ["#", "a", true],
  // 4.7.1.3 Single-level wildcard.
  ["sport/tennis/+", "sport/tennis/player1", true],
  ["sport/tennis/+", "sport/tennis/player2", true],
  ["sport/tennis/+", "sport/tennis/player1/ranking", false],
  ["sport/+", "sport", false],
  ["sport/+", "sport/", true], // '+' matches an empty level
  ["+", "sport", true],
  ["+", "/", false],
  ["+/+", "/finance", true],
  ["/+", "/finance", true],
  ["+", "/finance", false],
  ["+/tennis/#", "sport/tennis", true],
  ["+/tennis/#", "sport/tennis/player1/ranking", true],
  ["sport/+/player1", "sport/tennis/player1", true],
  ["sport/+/player1", "sport//player1", true],
  ["+/+", "/", true],
  ["/+", "/", true],
  ["+/", "a/", true],
  ["+/", "a", false],
  // 4.7.2 Topics beginning with $.
  ["#", "$SYS/monitor/Clients", false],
  ["+/monitor/Clients", "$SYS/monitor/Clients", false],
  ["$SYS/#", "$SYS/monitor/Clients", true],
  ["$SYS/#", "$SYS", true],
  ["$SYS/monitor/+", "$SYS/monitor/Clients", true],
  ["+", "$SYS", false],
  ["+/#", "$SYS/a", false],
  ["$SYS", "$SYS", true],
  ["a/#", "a/$SYS", true], // the rule is about the first level only
  ["a/+", "a/$x", true],
  ["/#", "/$SYS", true],
  // 4.7.3 Topic semantic: case-sensitive, spaces allowed, "/" separates levels.
  ["ACCOUNTS", "Accounts", false],
  ["Accounts", "Accounts", true],
  ["Accounts payable", "Accounts payable", true],
  ["/finance", "finance", false],
  ["finance", "/finance", false],
  ["a//b", "a//b", true],
  ["a//b", "a/b", false],
  ["a/+/b", "a//b", true],
  ["a/b", "a/b/", false],
];

test("match: every MQTT 5 section 4.7 example (table)", () => {
  for (const [filter, topic, expected] of matchCases) {
    assert.equal(referenceMatches(filter, topic), expected, `reference ${filter} ~ ${topic}`);
    const trie = new SubscriptionTrie<number>();
    trie.add(filter, "c", 1);
    assert.deepEqual(matchedFilters(trie, topic), expected ? [filter] : [], `${filter} ~ ${topic}`);
  }
});

test("match: all table filters in one trie, each topic sees exactly its filters", () => {
  const trie = new SubscriptionTrie<number>();
  for (const [filter] of matchCases) trie.add(filter, "c", 1);
  for (const [, topic] of matchCases) {
    const expected = [...new Set(matchCases.map(([filter]) => filter))]
      .filter((filter) => referenceMatches(filter, topic))
      .sort();
    assert.deepEqual(matchedFilters(trie, topic), expected, topic);
  }
});

test("add / get / remove / size / filterCount", () => {
  const trie = new SubscriptionTrie<string>();
  assert.equal(trie.add("a/b", "c1", "v1"), true);
  assert.equal(trie.add("a/b", "c1", "v2"), false, "same key replaces");
  assert.equal(trie.get("a/b", "c1"), "v2");
  assert.equal(trie.add("a/b", "c2", "v3"), true);
  assert.equal(trie.add("a/+", "c1", "w1"), true);
  assert.equal(trie.add("a/+", "c1", "w2"), false);
  assert.equal(trie.add("#", "c3", "h"), true);
  assert.equal(trie.get("a/+", "c1"), "w2");
  assert.equal(trie.get("a/+", "c2"), undefined);
  assert.equal(trie.get("a/#", "c1"), undefined);
  assert.equal(trie.size, 4);
  assert.equal(trie.filterCount, 3);

  const seen: string[] = [];
  trie.match("a/b", (key, value, filter) => seen.push(`${filter} ${key} ${value}`));
  assert.deepEqual(seen.sort(), ["# c3 h", "a/+ c1 w2", "a/b c1 v2", "a/b c2 v3"]);

  assert.equal(trie.remove("a/b", "c9"), false);
  assert.equal(trie.remove("x/y", "c1"), false);
  assert.equal(trie.remove("x/+", "c1"), false);
  assert.equal(trie.remove("a/+", "c2"), false);
  assert.equal(trie.remove("a/b", "c1"), true);
  assert.equal(trie.remove("a/b", "c1"), false);
  assert.equal(trie.remove("a/b", "c2"), true);
  assert.equal(trie.remove("a/+", "c1"), true);
  assert.equal(trie.remove("#", "c3"), true);
  assert.equal(trie.size, 0);
  assert.equal(trie.filterCount, 0);
  assert.equal(trie.nodeCount, 0);
});

test("many subscribers on one filter: past the linear-scan size and back", () => {
  for (const filter of ["news", "news/+", "news/#"]) {
    const trie = new SubscriptionTrie<number>();
    const count = 40;
    for (let i = 0; i < count; i++) assert.equal(trie.add(filter, `c${i}`, i), true);
    for (let i = 0; i < count; i++) assert.equal(trie.add(filter, `c${i}`, i * 10), false);
    // Remove in an order that moves entries around (swap-remove) at every size.
    for (let removed = 0; removed < count; removed++) {
      const victim = (removed * 7) % count;
      const live = new Map<string, number>();
      trie.match("news/x", (key, value) => {
        assert.equal(live.has(key), false, "a key is visited once");
        live.set(key, value);
      });
      const expectedKeys = filter === "news" ? 0 : count - removed;
      assert.equal(live.size, expectedKeys);
      for (const [key, value] of live) assert.equal(value, Number(key.slice(1)) * 10);
      assert.equal(trie.get(filter, `c${victim}`), victim * 10);
      assert.equal(trie.remove(filter, `c${victim}`), true);
      assert.equal(trie.get(filter, `c${victim}`), undefined);
      assert.equal(trie.size, count - removed - 1);
    }
    assert.equal(trie.filterCount, 0);
    assert.equal(trie.nodeCount, 0);
  }
});

test("pruning keeps shared prefixes and drops only empty nodes", () => {
  const trie = new SubscriptionTrie<number>();
  trie.add("a/+/c", "k", 1);
  trie.add("a/+/d", "k", 1);
  trie.add("a/#", "k", 1);
  trie.add("a/b/+", "k", 1);
  assert.equal(trie.nodeCount, 6); // a, a/+, a/+/c, a/+/d, a/b, a/b/+
  trie.remove("a/+/c", "k");
  assert.equal(trie.nodeCount, 5);
  trie.remove("a/#", "k");
  assert.equal(trie.nodeCount, 5, "a still has children");
  trie.remove("a/b/+", "k");
  assert.equal(trie.nodeCount, 3);
  assert.deepEqual(matchedFilters(trie, "a/x/d"), ["a/+/d"]);
  trie.remove("a/+/d", "k");
  assert.equal(trie.nodeCount, 0);
});

test("invalid filters are programmer errors", () => {
  const trie = new SubscriptionTrie<number>();
  for (const filter of ["", "a/#/b", "a+", "sport/tennis#"]) {
    assert.throws(() => trie.add(filter, "k", 1), /invalid topic filter/);
  }
  assert.equal(trie.size, 0);
});

test("match may be re-entered from a visitor; changing the trie there is refused", () => {
  const trie = new SubscriptionTrie<number>();
  trie.add("a/+", "k1", 1);
  trie.add("a/#", "k2", 2);
  trie.add("b/+", "k3", 3);
  trie.add("b/#", "k4", 4);
  const seen: string[] = [];
  trie.match("a/x", (key) => {
    seen.push(key);
    trie.match("b/y", (inner) => seen.push(`${key}>${inner}`));
  });
  assert.equal(seen.length, 6);
  assert.deepEqual(seen.filter((entry) => !entry.includes(">")).sort(), ["k1", "k2"]);
  assert.throws(() => trie.match("a/x", () => trie.add("c", "k", 1)), /during match/);
  assert.throws(() => trie.match("a/x", () => trie.remove("a/+", "k1")), /during match/);
  // A throwing visitor leaves the trie usable.
  assert.deepEqual(matchedFilters(trie, "a/x"), ["a/#", "a/+"]);
  trie.add("c", "k", 1);
  assert.equal(trie.size, 5);
});

test("very deep filters and topics do not recurse", () => {
  const depth = 30_000;
  const trie = new SubscriptionTrie<number>();
  const deepFilter = Array.from({ length: depth }, (_, i) => (i % 2 === 0 ? "+" : "a")).join("/");
  trie.add(deepFilter, "k", 1);
  trie.add(`${deepFilter}/#`, "k", 2);
  const topic = Array.from({ length: depth }, () => "a").join("/");
  assert.deepEqual(matchedFilters(trie, topic), [deepFilter, `${deepFilter}/#`].sort());
  trie.remove(deepFilter, "k");
  trie.remove(`${deepFilter}/#`, "k");
  assert.equal(trie.nodeCount, 0);
});

// Property test: random add/remove sequences against a model and the reference matcher.

const topicLevel = fc.constantFrom("", "a", "b", "$SYS");
const topicArbitrary = fc
  .array(topicLevel, { minLength: 1, maxLength: 5 })
  .map((levels) => levels.join("/"))
  .filter((topic) => topic.length > 0);
const filterArbitrary = fc
  .tuple(fc.array(fc.constantFrom("", "a", "b", "$SYS", "+"), { maxLength: 4 }), fc.boolean())
  .map(([levels, hash]) => (hash ? [...levels, "#"] : levels).join("/"))
  .filter((filter) => filter.length > 0);
const keyArbitrary = fc.constantFrom(...Array.from({ length: 12 }, (_, i) => `c${i}`));
/** Operations name a filter by its index in a small per-run pool, so that filters collect
 * several subscribers (past the linear-scan size) and removals hit existing entries. */
type Operation =
  | { kind: "add"; filterIndex: number; key: string; value: number }
  | { kind: "remove"; filterIndex: number; key: string };
const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({
    kind: fc.constant("add" as const),
    filterIndex: fc.nat(),
    key: keyArbitrary,
    value: fc.integer(),
  }),
  fc.record({ kind: fc.constant("remove" as const), filterIndex: fc.nat(), key: keyArbitrary }),
);

type Model = Map<string, Map<string, number>>;

/** Trie nodes a correct, fully pruned trie holds: one per distinct wildcard-filter prefix. */
function expectedNodeCount(model: Model): number {
  const prefixes = new Set<string>();
  for (const filter of model.keys()) {
    if (!/[+#]/.test(filter)) continue; // exact filters live outside the trie
    const levels = filter.split("/");
    if (levels[levels.length - 1] === "#") levels.pop();
    for (let i = 1; i <= levels.length; i++) prefixes.add(levels.slice(0, i).join("\u0001"));
  }
  return prefixes.size;
}

function checkAgainstModel(trie: SubscriptionTrie<number>, model: Model, topics: string[]) {
  let pairs = 0;
  for (const keys of model.values()) pairs += keys.size;
  assert.equal(trie.size, pairs);
  assert.equal(trie.filterCount, model.size);
  assert.equal(trie.nodeCount, expectedNodeCount(model));
  for (const topic of topics) {
    const actual: string[] = [];
    trie.match(topic, (key, value, filter) => actual.push(`${filter}|${key}|${value}`));
    const expected: string[] = [];
    for (const [filter, keys] of model) {
      if (!referenceMatches(filter, topic)) continue;
      for (const [key, value] of keys) expected.push(`${filter}|${key}|${value}`);
    }
    assert.deepEqual(actual.sort(), expected.sort(), `topic ${JSON.stringify(topic)}`);
  }
}

function applyOperation(
  trie: SubscriptionTrie<number>,
  model: Model,
  filter: string,
  operation: Operation,
) {
  const keys = model.get(filter);
  if (operation.kind === "add") {
    const isNew = keys?.has(operation.key) !== true;
    assert.equal(trie.add(filter, operation.key, operation.value), isNew);
    const entry = keys ?? new Map<string, number>();
    entry.set(operation.key, operation.value);
    model.set(filter, entry);
  } else {
    const present = keys?.delete(operation.key) === true;
    assert.equal(trie.remove(filter, operation.key), present);
    if (keys?.size === 0) model.delete(filter);
  }
  assert.equal(trie.get(filter, operation.key), model.get(filter)?.get(operation.key));
}

test("trie agrees with the reference matcher over random add/remove sequences (property)", () => {
  fc.assert(
    fc.property(
      fc.array(filterArbitrary, { minLength: 1, maxLength: 12, size: "max" }),
      fc.array(operationArbitrary, { maxLength: 120, size: "max" }),
      fc.array(topicArbitrary, { minLength: 1, maxLength: 8, size: "max" }),
      (filters, operations, topics) => {
        const trie = new SubscriptionTrie<number>();
        const model: Model = new Map();
        for (const operation of operations) {
          const filter = filters[operation.filterIndex % filters.length];
          applyOperation(trie, model, filter, operation);
          checkAgainstModel(trie, model, topics);
        }
        for (const [filter, keys] of model) {
          for (const key of keys.keys()) assert.equal(trie.remove(filter, key), true);
        }
        assert.equal(trie.size, 0);
        assert.equal(trie.filterCount, 0);
        assert.equal(trie.nodeCount, 0, "no nodes leaked");
        checkAgainstModel(trie, new Map(), topics);
      },
    ),
    { numRuns: 300 },
  );
});

test("scale: 1,000,000 subscriptions, matches exact and wildcard, then all removed", () => {
  const exactCount = 900_000;
  const wildcardCount = 50_000; // twice: d/{i}/+ and +/{i}/s
  const trie = new SubscriptionTrie<number>();
  for (let i = 0; i < exactCount; i++) trie.add(`d/${i}/s`, `c${i}`, i);
  for (let i = 0; i < wildcardCount; i++) {
    trie.add(`d/${i}/+`, `w${i}`, i);
    trie.add(`+/${i}/s`, `p${i}`, i);
  }
  trie.add("d/+/s", "all", -1);
  trie.add("d/#", "everything", -2);
  trie.add("#", "root", -3);
  assert.equal(trie.size, exactCount + 2 * wildcardCount + 3);
  assert.equal(trie.filterCount, exactCount + 2 * wildcardCount + 3);

  const keysOf = (topic: string) => {
    const keys: string[] = [];
    trie.match(topic, (key) => keys.push(key));
    return keys.sort();
  };
  assert.deepEqual(keysOf("d/7/s"), ["all", "c7", "everything", "p7", "root", "w7"]);
  assert.deepEqual(keysOf("d/899999/s"), ["all", "c899999", "everything", "root"]);
  assert.deepEqual(keysOf("d/900000/s"), ["all", "everything", "root"]);
  assert.deepEqual(keysOf("e/7/s"), ["p7", "root"]);
  assert.deepEqual(keysOf("d/7/x"), ["everything", "root", "w7"]);
  assert.deepEqual(keysOf("d"), ["everything", "root"]);
  assert.deepEqual(keysOf("$SYS/7/s"), []);
  let visits = 0;
  for (let i = 0; i < 100_000; i++) trie.match(`d/${i}/s`, () => visits++);
  assert.equal(visits, 100_000 * 4 + 2 * wildcardCount);

  for (let i = 0; i < exactCount; i++) assert.equal(trie.remove(`d/${i}/s`, `c${i}`), true);
  for (let i = 0; i < wildcardCount; i++) {
    assert.equal(trie.remove(`d/${i}/+`, `w${i}`), true);
    assert.equal(trie.remove(`+/${i}/s`, `p${i}`), true);
  }
  for (const [filter, key] of [
    ["d/+/s", "all"],
    ["d/#", "everything"],
    ["#", "root"],
  ]) {
    assert.equal(trie.remove(filter, key), true);
  }
  assert.equal(trie.size, 0);
  assert.equal(trie.filterCount, 0);
  assert.equal(trie.nodeCount, 0);
});
