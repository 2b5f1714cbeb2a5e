/** Rate pacing arithmetic: due counts, long-run exactness, catch-up limits, start offsets. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { PACING_TICK_MS_MAX, PACING_TICK_MS_MIN } from "../../../src/bench/limits.ts";
import {
  dueAtMs,
  dueCount,
  Pacer,
  startOffsetMs,
  tickIntervalMs,
} from "../../../src/bench/pacing.ts";

describe("dueCount and dueAtMs", () => {
  test("one at the start, then one per interval", () => {
    assert.equal(dueCount(10, -1), 0);
    assert.equal(dueCount(10, 0), 1);
    assert.equal(dueCount(10, 99.9), 1);
    assert.equal(dueCount(10, 100), 2);
    assert.equal(dueCount(10, 1000), 11);
    assert.equal(dueCount(0.5, 1999), 1);
    assert.equal(dueCount(0.5, 2000), 2);
    assert.equal(dueAtMs(10, 0), 0);
    assert.equal(dueAtMs(10, 3), 300);
    assert.equal(dueAtMs(0.5, 1), 2000);
  });

  test("send n is due exactly at dueAtMs(n), not before", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.nat(100_000), (rate, n) => {
        const at = dueAtMs(rate, n);
        assert.ok(dueCount(rate, at) >= n + 1, `send ${n} due at ${at}`);
        if (at >= 0.001) assert.ok(dueCount(rate, at - 0.001) <= n, `send ${n} early`);
      }),
    );
  });

  test("the long-run rate is exact whatever the ticks", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50_000 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 200 }),
        (rate, ticks) => {
          const pacer = new Pacer(rate, 0);
          let sent = 0;
          let now = 0;
          for (const step of ticks) {
            now += step;
            sent += pacer.allowance(now, sent);
          }
          assert.equal(sent, dueCount(rate, now), "every due send went, none early");
        },
      ),
    );
  });
});

describe("Pacer", () => {
  test("a sender held back catches up by at most one second of messages", () => {
    const pacer = new Pacer(100, 0);
    assert.equal(pacer.backlogCountMax, 100);
    assert.equal(pacer.allowance(0, 0), 1);
    // Blocked for 5 s: 500 are owed, 100 may go.
    assert.equal(pacer.allowance(5000, 1), 100);
    // The schedule restarted at 5000 ms: the next one is due 10 ms later.
    assert.equal(pacer.allowance(5000, 101), 0);
    assert.equal(pacer.allowance(5010, 101), 1);
    assert.equal(pacer.allowance(6000, 102), 99);
  });

  test("a window-limited sender is not owed more than the backlog", () => {
    const pacer = new Pacer(1000, 0);
    let sent = 0;
    for (let now = 0; now <= 10_000; now += 100) {
      const allowed = pacer.allowance(now, sent);
      assert.ok(allowed <= pacer.backlogCountMax, `${allowed} at ${now}`);
      if (now > 0) assert.ok(allowed >= 10, `only ${allowed} allowed at ${now} ms`);
      sent += Math.min(allowed, 10); // the window lets only 10 out per tick
    }
    assert.equal(sent, 1 + 100 * 10, "one at 0 ms, then the window's 10 per tick");
  });

  test("delayMs says when the next send is due", () => {
    const pacer = new Pacer(4, 1000);
    assert.equal(pacer.delayMs(0, 0), 1000);
    assert.equal(pacer.delayMs(1000, 1), 250);
    assert.equal(pacer.delayMs(1100, 1), 150);
    assert.equal(pacer.delayMs(2000, 1), 0);
  });

  test("rates below one per second pace too", () => {
    const pacer = new Pacer(0.2, 0);
    assert.equal(pacer.backlogCountMax, 1);
    assert.equal(pacer.allowance(0, 0), 1);
    assert.equal(pacer.allowance(4999, 1), 0);
    assert.equal(pacer.allowance(5000, 1), 1);
  });
});

describe("spreading publishers", () => {
  test("publishers at a low rate take turns over one interval", () => {
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => startOffsetMs(i, 4, 10)),
      [0, 25, 50, 75],
    );
    // Never more than one second apart, however low the rate.
    assert.equal(startOffsetMs(1, 2, 0.01), 500);
  });

  test("offsets stay within one interval", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.double({ min: 0.01, max: 1e6, noNaN: true }),
        (count, rate) => {
          const last = startOffsetMs(count - 1, count, rate);
          assert.ok(last >= 0 && last < Math.min(1000, 1000 / rate) + 1e-9);
        },
      ),
    );
  });

  test("the timer runs once per interval, within bounds", () => {
    assert.equal(tickIntervalMs(10), 100);
    assert.equal(tickIntervalMs(100), 10);
    assert.equal(tickIntervalMs(1_000_000), PACING_TICK_MS_MIN);
    assert.equal(tickIntervalMs(0.1), PACING_TICK_MS_MAX);
  });
});
