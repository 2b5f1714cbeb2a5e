import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { FlappingDetector } from "../../../src/security/banned/flapping.ts";

describe("FlappingDetector", () => {
  it("reports the maxDisconnects-th disconnect within the window, then starts over", () => {
    const flapping = new FlappingDetector({ maxDisconnects: 3, windowMs: 1000 });
    assert.equal(flapping.onDisconnect("c", 0), false);
    assert.equal(flapping.onDisconnect("c", 400), false);
    assert.equal(flapping.onDisconnect("other", 500), false, "counted per client id");
    assert.equal(flapping.onDisconnect("c", 999), true);
    assert.equal(flapping.onDisconnect("c", 1000), false, "history forgotten after a report");
    assert.equal(flapping.onDisconnect("c", 1001), false);
    assert.equal(flapping.onDisconnect("c", 1002), true);
  });

  it("does not count disconnects that left the window", () => {
    const flapping = new FlappingDetector({ maxDisconnects: 3, windowMs: 1000 });
    assert.equal(flapping.onDisconnect("c", 0), false);
    assert.equal(flapping.onDisconnect("c", 500), false);
    assert.equal(flapping.onDisconnect("c", 1000), false, "the one at 0 is exactly a window old");
    assert.equal(flapping.onDisconnect("c", 1499), true);
  });

  it("prunes quiet clients and caps how many it tracks", () => {
    const flapping = new FlappingDetector({ maxDisconnects: 5, windowMs: 100, clientsMax: 3 });
    flapping.onDisconnect("a", 0);
    flapping.onDisconnect("b", 50);
    flapping.onDisconnect("c", 60);
    assert.equal(flapping.prune(120), 1, "only a is quiet for a full window");
    assert.equal(flapping.size, 2);
    flapping.onDisconnect("d", 130);
    flapping.onDisconnect("b", 140); // b is now the most recent
    flapping.onDisconnect("e", 141); // full and nobody quiet: c, least recently seen, goes
    assert.equal(flapping.size, 3);
    // b: 50 and 140 still count at 144 (window 100), so 142, 143 and 144 make five.
    assert.equal(flapping.onDisconnect("b", 142), false);
    assert.equal(flapping.onDisconnect("b", 143), false);
    assert.equal(flapping.onDisconnect("b", 144), true, "b's history survived the eviction");
    flapping.onDisconnect("c", 146);
    assert.equal(flapping.size, 3);
  });

  it("agrees with counting timestamps in a sliding window, within its bounds", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d"), fc.nat(20)), { maxLength: 80 }),
        (maxDisconnects, windowMs, steps) => {
          const flapping = new FlappingDetector({ maxDisconnects, windowMs, clientsMax: 4 });
          const history = new Map<string, number[]>();
          let nowMs = 0;
          for (const [clientId, gapMs] of steps) {
            nowMs += gapMs;
            const recent = (history.get(clientId) ?? []).filter((t) => t > nowMs - windowMs);
            recent.push(nowMs);
            const expected = recent.length >= maxDisconnects;
            history.set(clientId, expected ? [] : recent);
            assert.equal(flapping.onDisconnect(clientId, nowMs), expected);
            assert.ok(flapping.size <= 4);
            if (gapMs % 7 === 0) flapping.prune(nowMs);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
