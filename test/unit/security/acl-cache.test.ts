import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { AclCache } from "../../../src/security/acl/acl-cache.ts";

describe("AclCache", () => {
  it("remembers decisions per action under one version", () => {
    const cache = new AclCache(8);
    assert.equal(cache.get(1, "publish", "a"), undefined);
    cache.set(1, "publish", "a", true);
    cache.set(1, "subscribe", "a", false);
    assert.equal(cache.get(1, "publish", "a"), true);
    assert.equal(cache.get(1, "subscribe", "a"), false);
    assert.equal(cache.get(1, "publish", "b"), undefined);
    cache.set(1, "publish", "a", false);
    assert.equal(cache.get(1, "publish", "a"), false, "a new decision replaces the old one");
  });

  it("forgets everything when the rule version changes", () => {
    const cache = new AclCache(8);
    cache.set(1, "publish", "a", true);
    cache.set(1, "subscribe", "s/#", true);
    assert.equal(cache.get(2, "publish", "a"), undefined);
    assert.equal(cache.size, 0, "cleared, not just hidden");
    assert.equal(cache.get(1, "subscribe", "s/#"), undefined, "an older version is no better");
    cache.set(3, "publish", "a", false);
    assert.equal(cache.get(3, "publish", "a"), false);
    assert.equal(cache.size, 1);
  });

  it("a set under a new version clears the old entries", () => {
    const cache = new AclCache(8);
    cache.set(1, "publish", "a", true);
    cache.set(2, "publish", "b", true);
    assert.equal(cache.get(2, "publish", "a"), undefined);
    assert.equal(cache.get(2, "publish", "b"), true);
  });

  it("caches nothing with maxTopics 0", () => {
    const cache = new AclCache(0);
    cache.set(1, "publish", "a", true);
    assert.equal(cache.get(1, "publish", "a"), undefined);
    assert.equal(cache.size, 0);
  });

  it("drops the oldest topic beyond maxTopics, per action", () => {
    const cache = new AclCache(2);
    cache.set(1, "publish", "a", true);
    cache.set(1, "publish", "b", true);
    cache.set(1, "subscribe", "x", true);
    cache.set(1, "publish", "c", true);
    assert.equal(cache.get(1, "publish", "a"), undefined);
    assert.equal(cache.get(1, "publish", "b"), true);
    assert.equal(cache.get(1, "publish", "c"), true);
    assert.equal(cache.get(1, "subscribe", "x"), true, "the other action keeps its room");
  });

  it("never holds more than maxTopics per action and never answers wrongly", () => {
    fc.assert(
      fc.property(
        fc.nat(5),
        fc.array(
          fc.tuple(
            fc.nat(3),
            fc.constantFrom("publish", "subscribe"),
            fc.constantFrom("a", "b", "c", "d", "e", "f", "g"),
            fc.boolean(),
          ),
          { maxLength: 60 },
        ),
        (maxTopics, steps) => {
          const cache = new AclCache(maxTopics);
          // The model: the last decision per (version, action, topic), and the last version.
          const truth = new Map<string, boolean>();
          let version = -1;
          for (const [v, action, topic, allowed] of steps) {
            const known = cache.get(v, action, topic);
            if (known !== undefined) {
              assert.equal(v, version, "no answer from another version");
              assert.equal(known, truth.get(`${v}|${action}|${topic}`));
            }
            version = v;
            cache.set(v, action, topic, allowed);
            truth.set(`${v}|${action}|${topic}`, allowed);
            assert.ok(cache.size <= 2 * maxTopics);
            if (maxTopics > 0) assert.equal(cache.get(v, action, topic), allowed);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
