import assert from "node:assert/strict";
import { test } from "node:test";
import {
  currentTick,
  DeadlineWheel,
  WHEEL_TICK_MS,
  type WheelEntry,
} from "../../../../src/broker/mqtt/deadline-wheel.ts";

interface Fired {
  name: string;
  atMs: number;
}

function entry(name: string, fired: Fired[], onDeadline?: (nowMs: number) => void): WheelEntry {
  return {
    wheelDueTick: -1,
    wheelPrev: null,
    wheelNext: null,
    onDeadline: onDeadline ?? ((nowMs) => fired.push({ name, atMs: nowMs })),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("deadlines fire in the tick after they pass, never early, and the timer stops when empty", async () => {
  const wheel = new DeadlineWheel();
  const fired: Fired[] = [];
  const startMs = Date.now();
  const a = entry("a", fired);
  const b = entry("b", fired);
  const c = entry("c", fired);
  wheel.schedule(a, startMs + 150);
  wheel.schedule(b, startMs + 350);
  wheel.schedule(c, startMs + 250);
  wheel.cancel(c);
  wheel.cancel(c); // twice is harmless
  assert.equal(wheel.scheduledCount, 2);
  await sleep(350 + 3 * WHEEL_TICK_MS);
  assert.deepEqual(
    fired.map((f) => f.name),
    ["a", "b"],
  );
  assert.ok(fired[0].atMs >= startMs + 150, "a never early");
  assert.ok(fired[1].atMs >= startMs + 350, "b never early");
  assert.equal(wheel.scheduledCount, 0);
  assert.equal(a.wheelDueTick, -1);
});

test("an entry rescheduled before or from its deadline moves; far deadlines survive a turn", async () => {
  const wheel = new DeadlineWheel();
  const fired: Fired[] = [];
  const startMs = Date.now();
  let renewals = 0;
  const renewing: WheelEntry = entry("renewing", fired, (nowMs) => {
    fired.push({ name: "renewing", atMs: nowMs });
    if (++renewals < 3) wheel.schedule(renewing, nowMs + 50);
  });
  const moved = entry("moved", fired);
  wheel.schedule(renewing, startMs + 50);
  wheel.schedule(moved, startMs + 50);
  wheel.schedule(moved, startMs + 900); // reschedule: counted once
  assert.equal(wheel.scheduledCount, 2);
  // Beyond one turn of the wheel (512 ticks): visited and put back until due.
  const far = entry("far", fired);
  const farTick = currentTick() + 600;
  wheel.scheduleTick(far, farTick);
  await sleep(900 + 3 * WHEEL_TICK_MS);
  assert.deepEqual(
    fired.map((f) => f.name),
    ["renewing", "renewing", "renewing", "moved"],
  );
  assert.ok(fired[3].atMs >= startMs + 900);
  assert.equal(wheel.scheduledCount, 1, "far is still waiting");
  assert.equal(far.wheelDueTick, farTick);
  wheel.cancel(far);
  assert.equal(wheel.scheduledCount, 0);
});
