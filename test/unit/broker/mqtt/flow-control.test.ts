import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { FlowControl } from "../../../../src/broker/mqtt/flow-control.ts";
import { THROTTLE_WAIT_MS_MAX } from "../../../../src/config/limits.ts";

/** A FlowControl whose reading state is recorded instead of applied to a socket. */
function node(name: string, log: string[]): FlowControl {
  return new FlowControl({
    pauseReading: () => log.push(`${name} paused`),
    resumeReading: () => log.push(`${name} resumed`),
    onStuck: () => log.push(`${name} stuck`),
  });
}

test("a publisher waits for every subscriber it is throttled by, once each", () => {
  const log: string[] = [];
  const publisher = node("p", log);
  const a = node("a", log);
  const b = node("b", log);
  a.addWaiter(publisher);
  a.addWaiter(publisher);
  b.addWaiter(publisher);
  assert.deepEqual(log, ["p paused"]);
  a.releaseWaiters();
  assert.equal(publisher.paused, true, "still waiting for b");
  b.releaseWaiters();
  assert.deepEqual(log, ["p paused", "p resumed"]);
  a.releaseWaiters();
  b.releaseWaiters();
  assert.equal(log.length, 2);
});

test("release(n) lets the longest-waiting publishers go first", () => {
  const log: string[] = [];
  const subscriber = node("s", log);
  const publishers = ["p1", "p2", "p3"].map((n) => node(n, log));
  for (const p of publishers) subscriber.addWaiter(p);
  subscriber.release(2);
  assert.deepEqual(
    publishers.map((p) => p.paused),
    [false, false, true],
  );
  assert.equal(subscriber.hasWaiters, true);
  subscriber.release(5);
  assert.equal(subscriber.hasWaiters, false);
});

test("a subscriber that makes no progress is marked stuck and releases everyone", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const log: string[] = [];
    const subscriber = node("s", log);
    const publisher = node("p", log);
    subscriber.addWaiter(publisher);
    mock.timers.tick(THROTTLE_WAIT_MS_MAX - 1);
    assert.equal(subscriber.stuck, false);
    mock.timers.tick(1);
    assert.equal(subscriber.stuck, true);
    assert.deepEqual(log, ["p paused", "p resumed", "s stuck"]);
    // A stuck subscriber throttles nobody until it has caught up.
    subscriber.addWaiter(publisher);
    assert.equal(publisher.paused, false);
    subscriber.release(1);
    assert.equal(subscriber.stuck, false);
  } finally {
    mock.timers.reset();
  }
});

test("partial releases restart the stuck clock", () => {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const log: string[] = [];
    const subscriber = node("s", log);
    const first = node("p1", log);
    const second = node("p2", log);
    subscriber.addWaiter(first);
    subscriber.addWaiter(second);
    mock.timers.tick(THROTTLE_WAIT_MS_MAX - 10);
    subscriber.release(1);
    mock.timers.tick(THROTTLE_WAIT_MS_MAX - 10);
    assert.equal(subscriber.stuck, false, "progress was made");
    mock.timers.tick(10);
    assert.equal(subscriber.stuck, true);
  } finally {
    mock.timers.reset();
  }
});

test("pausing for its own socket and for subscribers combine", () => {
  const log: string[] = [];
  const publisher = node("p", log);
  const subscriber = node("s", log);
  publisher.pauseSelf();
  subscriber.addWaiter(publisher);
  subscriber.releaseWaiters();
  assert.equal(publisher.paused, true);
  publisher.resumeSelf();
  assert.deepEqual(log, ["p paused", "p resumed"]);
});
