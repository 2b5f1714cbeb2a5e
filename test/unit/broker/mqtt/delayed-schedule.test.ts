import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type DelayedEntry,
  DelaySchedule,
  timerDelayMs,
} from "../../../../src/broker/mqtt/delayed/schedule.ts";
import { TIMER_DELAY_MS_MAX } from "../../../../src/config/limits.ts";
import { Prng } from "../../../helpers/prng.ts";

function entry(id: number, dueAtMs: number): DelayedEntry {
  return {
    id,
    topic: `t/${id}`,
    qos: 1,
    retain: false,
    payloadBytes: 1,
    publishedAtMs: 0,
    dueAtMs,
    expiresAtMs: 0,
    origin: "c",
  };
}

const ids = (entries: DelayedEntry[]) => entries.map((e) => e.id);

describe("DelaySchedule", () => {
  test("takes due entries in due order, ties by id", () => {
    const schedule = new DelaySchedule();
    for (const [id, due] of [
      [1, 300],
      [2, 100],
      [3, 200],
      [4, 100],
      [5, 500],
    ]) {
      schedule.add(entry(id, due));
    }
    assert.equal(schedule.nextDueMs(), 100);
    assert.deepEqual(ids(schedule.takeDue(99, 10)), []);
    assert.deepEqual(ids(schedule.takeDue(200, 10)), [2, 4, 3]);
    assert.equal(schedule.nextDueMs(), 300);
    assert.deepEqual(ids(schedule.inDueOrder()), [1, 5]);
    assert.deepEqual(ids(schedule.takeDue(1000, 10)), [1, 5]);
    assert.equal(schedule.nextDueMs(), null);
    assert.equal(schedule.size, 0);
  });

  test("add says when the earliest changed (the timer must be re-armed)", () => {
    const schedule = new DelaySchedule();
    assert.equal(schedule.add(entry(1, 500)), true);
    assert.equal(schedule.add(entry(2, 700)), false);
    assert.equal(schedule.add(entry(3, 100)), true);
    // Same due time as the earliest, later id: not earlier.
    assert.equal(schedule.add(entry(4, 100)), false);
    assert.equal(schedule.nextDueMs(), 100);
  });

  test("takes at most countMax per call (overdue ones over several turns)", () => {
    const schedule = new DelaySchedule();
    for (let id = 1; id <= 5; id++) schedule.add(entry(id, 10 * id));
    assert.deepEqual(ids(schedule.takeDue(1000, 2)), [1, 2]);
    assert.deepEqual(ids(schedule.takeDue(1000, 2)), [3, 4]);
    assert.deepEqual(ids(schedule.takeDue(1000, 2)), [5]);
  });

  test("remove by id keeps the order; unknown ids are undefined", () => {
    const schedule = new DelaySchedule();
    for (let id = 1; id <= 6; id++) schedule.add(entry(id, 100 - id));
    assert.equal(schedule.remove(6)?.id, 6); // the earliest
    assert.equal(schedule.remove(3)?.id, 3);
    assert.equal(schedule.remove(3), undefined);
    assert.equal(schedule.remove(42), undefined);
    assert.equal(schedule.has(4), true);
    assert.equal(schedule.has(3), false);
    assert.deepEqual(ids(schedule.takeDue(1000, 10)), [5, 4, 2, 1]);
  });

  test("adding an id twice is a programmer error", () => {
    const schedule = new DelaySchedule();
    schedule.add(entry(1, 1));
    assert.throws(() => schedule.add(entry(1, 2)), /scheduled twice/);
  });

  test("random adds, removes and takes match a sorted list", () => {
    const prng = new Prng(20_240_601);
    const schedule = new DelaySchedule();
    let model: DelayedEntry[] = [];
    let nextId = 1;
    let nowMs = 0;
    for (let step = 0; step < 5000; step++) {
      const roll = prng.below(10);
      if (roll < 6) {
        const e = entry(nextId++, nowMs + prng.below(1000));
        schedule.add(e);
        model.push(e);
      } else if (roll < 8 && model.length > 0) {
        const victim = model[prng.below(model.length)];
        assert.equal(schedule.remove(victim.id), victim);
        model = model.filter((e) => e !== victim);
      } else {
        nowMs += prng.below(200);
        const countMax = 1 + prng.below(5);
        model.sort((a, b) => a.dueAtMs - b.dueAtMs || a.id - b.id);
        const expected = model.filter((e) => e.dueAtMs <= nowMs).slice(0, countMax);
        assert.deepEqual(ids(schedule.takeDue(nowMs, countMax)), ids(expected));
        model = model.filter((e) => !expected.includes(e));
      }
      assert.equal(schedule.size, model.length);
    }
  });
});

describe("timerDelayMs", () => {
  test("waits until the earliest due time, never negative", () => {
    assert.equal(timerDelayMs(1500, 1000), 500);
    assert.equal(timerDelayMs(1000, 1000), 0);
    assert.equal(timerDelayMs(500, 1000), 0); // overdue: at once
  });

  test("a wait beyond setTimeout's range is cut to it (the timer re-arms for the rest)", () => {
    const dueMs = 4_294_967 * 1000; // the longest delay, from 0
    assert.equal(timerDelayMs(dueMs, 0), TIMER_DELAY_MS_MAX);
    assert.equal(timerDelayMs(dueMs, TIMER_DELAY_MS_MAX), dueMs - TIMER_DELAY_MS_MAX);
  });
});
