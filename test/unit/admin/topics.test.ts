/**
 * The topics resource's pure core (src/admin/topics.ts): counting subscriptions by filter, share
 * groups counted by members, the retained flag of exact filters, the match and text queries,
 * and filter matching checked against the router's own trie.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  byFilter,
  filterMatchesTopic,
  type TopicQuery,
  type TopicSubscription,
  TopicTally,
} from "../../../src/admin/topics.ts";
import { SubscriptionTrie } from "../../../src/broker/mqtt/topic-trie.ts";

const direct = (matchFilter: string): TopicSubscription => ({ matchFilter, shareGroup: null });
const shared = (group: string, matchFilter: string): TopicSubscription => ({
  matchFilter,
  shareGroup: group,
});

function tallyOf(subs: TopicSubscription[]): TopicTally {
  const tally = new TopicTally();
  for (const sub of subs) tally.add(sub);
  return tally;
}

const noRetained = () => false;

/** Every view passing `query`, sorted: what the route pages through. */
function viewsOf(tally: TopicTally, query: TopicQuery, hasRetained: (topic: string) => boolean) {
  return tally
    .names(query)
    .sort(byFilter)
    .map((name) => tally.view(name, hasRetained));
}

describe("TopicTally", () => {
  test("counts direct subscribers and share group members per filter, sorted by filter", () => {
    const tally = tallyOf([
      direct("b/c"),
      direct("a/#"),
      direct("b/c"),
      shared("g2", "b/c"),
      shared("g1", "b/c"),
      shared("g1", "b/c"),
    ]);
    assert.equal(tally.filterCount, 2);
    assert.deepEqual(viewsOf(tally, {}, noRetained), [
      {
        filter: "a/#",
        wildcard: true,
        subscribers: 1,
        directSubscribers: 1,
        shareGroups: [],
        retained: null,
      },
      {
        filter: "b/c",
        wildcard: false,
        subscribers: 5,
        directSubscribers: 2,
        shareGroups: [
          { group: "g1", members: 2 },
          { group: "g2", members: 1 },
        ],
        retained: false,
      },
    ]);
  });

  test("asks for a retained message only on exact filters", () => {
    const asked: string[] = [];
    const tally = tallyOf([direct("x/+"), direct("x/y"), direct("x/z")]);
    const views = viewsOf(tally, {}, (topic) => {
      asked.push(topic);
      return topic === "x/y";
    });
    assert.deepEqual(asked.sort(), ["x/y", "x/z"]);
    assert.deepEqual(
      views.map((v) => [v.filter, v.retained]),
      [
        ["x/+", null],
        ["x/y", true],
        ["x/z", false],
      ],
    );
  });

  test("match keeps the filters a publish on the topic would reach; filter is a substring", () => {
    const tally = tallyOf([
      direct("sensors/+/temp"),
      direct("sensors/#"),
      direct("#"),
      direct("sensors/1/temp"),
      direct("sensors/2/temp"),
      shared("g", "+/1/temp"),
    ]);
    const names = (query: { match?: string; filter?: string }) =>
      viewsOf(tally, query, noRetained).map((v) => v.filter);
    assert.deepEqual(names({ match: "sensors/1/temp" }), [
      "#",
      "+/1/temp",
      "sensors/#",
      "sensors/+/temp",
      "sensors/1/temp",
    ]);
    assert.deepEqual(names({ filter: "temp" }), [
      "+/1/temp",
      "sensors/+/temp",
      "sensors/1/temp",
      "sensors/2/temp",
    ]);
    assert.deepEqual(names({ match: "sensors/2/temp", filter: "2" }), ["sensors/2/temp"]);
    assert.deepEqual(names({ match: "$SYS/x" }), []);
  });

  test("an empty tally lists nothing", () => {
    assert.deepEqual(viewsOf(new TopicTally(), { match: "a" }, noRetained), []);
  });
});

describe("filterMatchesTopic", () => {
  test("follows MQTT's wildcard rules", () => {
    const cases: Array<[string, string, boolean]> = [
      ["a/#", "a", true],
      ["a/#", "a/", true],
      ["a/#", "ab", false],
      ["a/+", "a/", true],
      ["a/+", "a", false],
      ["+", "", true],
      ["+/+", "/", true],
      ["#", "$SYS/x", false],
      ["+/x", "$SYS/x", false],
      ["$SYS/#", "$SYS/x", true],
      ["a/b", "a/b/c", false],
    ];
    for (const [filter, topic, expected] of cases) {
      assert.equal(filterMatchesTopic(filter, topic), expected, `${filter} vs ${topic}`);
    }
  });

  test("agrees with the router's subscription trie", () => {
    const filters = ["#", "+", "+/+", "a/#", "a/+", "a/+/c", "+/b/#", "a/b", "a//c", "$x/#"];
    const topics = ["a", "a/b", "a/b/c", "a//c", "b", "/", "$x/b", "x/b/c", "a/b/c/d", ""];
    const trie = new SubscriptionTrie<string>();
    for (const filter of filters) trie.add(filter, filter, filter);
    for (const topic of topics.filter((t) => t !== "")) {
      const fromTrie: string[] = [];
      trie.match(topic, (key) => fromTrie.push(key));
      const ours = filters.filter((filter) => filterMatchesTopic(filter, topic));
      assert.deepEqual(ours.sort(), fromTrie.sort(), topic);
    }
  });
});
