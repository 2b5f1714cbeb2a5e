import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  filterCovers,
  filterMatchesTopic,
  filtersOverlap,
} from "../../../src/security/acl/topic-cover.ts";

/**
 * The oracle: topics and filters over a small alphabet of levels. "z" and "$z" appear only in
 * topics, standing for "any other value" at a wildcard position, so a counterexample to
 * covering exists in the finite universe whenever one exists at all. Topics are one level
 * longer than the longest filter, which is enough to tell '#' apart from '+'.
 */
const FILTER_LEVELS = ["a", "b", "", "$s"] as const;
const TOPIC_LEVELS = [...FILTER_LEVELS, "z", "$z"] as const;
const FILTER_DEPTH_MAX = 3;
const TOPIC_DEPTH_MAX = FILTER_DEPTH_MAX + 1;

function allTopics(): string[] {
  const out: string[] = [];
  let layer: string[][] = [[]];
  for (let depth = 1; depth <= TOPIC_DEPTH_MAX; depth++) {
    layer = layer.flatMap((levels) => TOPIC_LEVELS.map((level) => [...levels, level]));
    for (const levels of layer) out.push(levels.join("/"));
  }
  return out;
}
const UNIVERSE = allTopics();

/** Reference matcher, written from the definition with arrays and recursion. */
function referenceMatch(filter: string, topic: string): boolean {
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  const go = (f: string[], t: string[]): boolean => {
    if (f.length === 0) return t.length === 0;
    if (f[0] === "#") return true;
    if (t.length === 0) return false;
    if (f[0] !== "+" && f[0] !== t[0]) return false;
    return go(f.slice(1), t.slice(1));
  };
  return go(filter.split("/"), topic.split("/"));
}

const filterArb = fc
  .array(fc.constantFrom(...FILTER_LEVELS, "+"), { minLength: 1, maxLength: FILTER_DEPTH_MAX })
  .chain((levels) =>
    fc.boolean().map((hash) => {
      const all = hash ? [...levels.slice(0, -1), "#"] : levels;
      return all.join("/");
    }),
  );
const topicArb = fc.constantFrom(...UNIVERSE);

describe("filterMatchesTopic", () => {
  it("matches the reference over the whole universe", () => {
    fc.assert(
      fc.property(filterArb, (filter) => {
        for (const topic of UNIVERSE) {
          assert.equal(filterMatchesTopic(filter, topic), referenceMatch(filter, topic), filter);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("handles the spec's examples", () => {
    assert.ok(filterMatchesTopic("sport/tennis/#", "sport/tennis"));
    assert.ok(filterMatchesTopic("sport/tennis/#", "sport/tennis/player1/ranking"));
    assert.ok(filterMatchesTopic("sport/+", "sport/"));
    assert.ok(!filterMatchesTopic("sport/+", "sport"));
    assert.ok(filterMatchesTopic("+/+", "/finance"));
    assert.ok(filterMatchesTopic("/+", "/finance"));
    assert.ok(!filterMatchesTopic("+", "/finance"));
    assert.ok(!filterMatchesTopic("#", "$SYS/uptime")); // [MQTT-4.7.2-1]
    assert.ok(!filterMatchesTopic("+/monitor/Clients", "$SYS/monitor/Clients"));
    assert.ok(filterMatchesTopic("$SYS/#", "$SYS/monitor/Clients"));
    assert.ok(filterMatchesTopic("$SYS/monitor/+", "$SYS/monitor/Clients"));
    assert.ok(!filterMatchesTopic("a/b", "a/bc"));
    assert.ok(!filterMatchesTopic("a/bc", "a/b"));
  });
});

describe("filterCovers", () => {
  it("is true exactly when every topic of inner matches outer", () => {
    fc.assert(
      fc.property(filterArb, filterArb, (outer, inner) => {
        const expected = UNIVERSE.every(
          (topic) => !referenceMatch(inner, topic) || referenceMatch(outer, topic),
        );
        assert.equal(filterCovers(outer, inner), expected, `${outer} covers ${inner}`);
      }),
      { numRuns: 2000 },
    );
  });

  it("handles the examples from the brief", () => {
    assert.ok(filterCovers("a/#", "a/+/b"));
    assert.ok(filterCovers("a/#", "a/#"));
    assert.ok(filterCovers("a/#", "a"));
    assert.ok(filterCovers("a/+", "a/b"));
    assert.ok(!filterCovers("a/+", "a/#"));
    assert.ok(!filterCovers("#", "$SYS/x"));
    assert.ok(filterCovers("#", "a/#"));
    assert.ok(!filterCovers("a/#", "#"));
    assert.ok(filterCovers("$SYS/#", "$SYS/+/x"));
  });

  it("is reflexive and transitive on random filters", () => {
    fc.assert(
      fc.property(filterArb, filterArb, filterArb, (a, b, c) => {
        assert.ok(filterCovers(a, a));
        if (filterCovers(a, b) && filterCovers(b, c)) assert.ok(filterCovers(a, c));
      }),
      { numRuns: 1000 },
    );
  });
});

describe("filtersOverlap", () => {
  it("is true exactly when some topic matches both", () => {
    fc.assert(
      fc.property(filterArb, filterArb, (a, b) => {
        const expected = UNIVERSE.some(
          (topic) => referenceMatch(a, topic) && referenceMatch(b, topic),
        );
        assert.equal(filtersOverlap(a, b), expected, `${a} overlaps ${b}`);
        assert.equal(filtersOverlap(b, a), expected, "symmetric");
      }),
      { numRuns: 2000 },
    );
  });

  it("a topic used as a filter overlaps exactly the filters matching it", () => {
    fc.assert(
      fc.property(filterArb, topicArb, (filter, topic) => {
        assert.equal(filtersOverlap(filter, topic), referenceMatch(filter, topic));
      }),
      { numRuns: 1000 },
    );
  });

  it("handles the examples from the brief", () => {
    assert.ok(filtersOverlap("#", "secret/#"));
    assert.ok(filtersOverlap("secret/+", "+/x"));
    assert.ok(!filtersOverlap("#", "$SYS/#"));
    assert.ok(!filtersOverlap("+/x", "$SYS/x"));
    assert.ok(filtersOverlap("a/#", "a"));
    assert.ok(!filtersOverlap("a/+", "a"));
  });
});
