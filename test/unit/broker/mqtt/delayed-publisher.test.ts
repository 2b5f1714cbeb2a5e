/**
 * The delayed publish shell on a fake clock: one timer for the earliest message, re-armed as
 * that changes; overdue messages (loaded from a store) published at once in due order;
 * expiry, the quota, deletes and stores that fail or take time.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  DELAYED_QUOTA_EXCEEDED,
  type DelayedClock,
  type DelayedHost,
  DelayedPublisher,
} from "../../../../src/broker/mqtt/delayed/publisher.ts";
import {
  type DelayedRecord,
  type DelayedStore,
  LmdbDelayedStore,
  MemoryDelayedStore,
} from "../../../../src/broker/mqtt/delayed/store.ts";
import { Message } from "../../../../src/broker/mqtt/message.ts";
import { BrokerStats } from "../../../../src/broker/mqtt/stats.ts";
import {
  DELAYED_PUBLISHES_PER_TURN_MAX,
  TIMER_DELAY_MS_MAX,
} from "../../../../src/config/limits.ts";
import { createLogger } from "../../../../src/log/logger.ts";

const START_MS = 1_700_000_000_000;

/** Time moves only when told; timers fire in due order. */
class FakeClock implements DelayedClock {
  now = START_MS;
  readonly timers = new Map<number, { atMs: number; delayMs: number; fire: () => void }>();
  #nextHandle = 1;
  /** Every delay a timer was set with. */
  readonly armed: number[] = [];

  nowMs(): number {
    return this.now;
  }

  setTimer(fire: () => void, delayMs: number): unknown {
    assert.ok(delayMs >= 0 && delayMs <= TIMER_DELAY_MS_MAX, `timer delay ${delayMs}`);
    const handle = this.#nextHandle++;
    this.timers.set(handle, { atMs: this.now + delayMs, delayMs, fire });
    this.armed.push(delayMs);
    return handle;
  }

  clearTimer(timer: unknown): void {
    this.timers.delete(timer as number);
  }

  advance(ms: number): void {
    const endMs = this.now + ms;
    for (;;) {
      assert.ok(this.timers.size <= 1, "one timer at most");
      let next: [number, { atMs: number; fire: () => void }] | undefined;
      for (const timer of this.timers)
        if (next === undefined || timer[1].atMs < next[1].atMs) next = timer;
      if (next === undefined || next[1].atMs > endMs) break;
      this.timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].atMs);
      next[1].fire();
    }
    this.now = endMs;
  }
}

class FakeHost implements DelayedHost {
  readonly stats = new BrokerStats();
  readonly published: Array<{ message: Message; atMs: number }> = [];
  readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }
  publish(message: Message): number {
    this.published.push({ message, atMs: this.clock.now });
    return 1;
  }
  topics(): string[] {
    return this.published.map((p) => p.message.topic);
  }
}

const logger = createLogger({ level: "silent", format: "json" });

function setup(store: DelayedStore = new MemoryDelayedStore(), messagesMax = 100) {
  const clock = new FakeClock();
  const host = new FakeHost(clock);
  const delayed = new DelayedPublisher({
    host,
    store,
    logger,
    delaySMax: 4_294_967,
    messagesMax,
    clock,
  });
  return { clock, host, delayed };
}

function message(topic: string, options: { expiresAtMs?: number; qos?: 0 | 1 | 2 } = {}) {
  return new Message(
    topic,
    Buffer.from(`payload of ${topic}`),
    options.qos ?? 1,
    false,
    { contentType: "text/plain", userProperties: [["k", "v"]] },
    options.expiresAtMs ?? 0,
    "publisher-1",
  );
}

function record(id: number, dueAtMs: number, topic = `t/${id}`): DelayedRecord {
  return {
    id,
    topic,
    payload: Buffer.from(topic),
    qos: 1,
    retain: true,
    properties: undefined,
    expiresAtMs: 0,
    publishedAtMs: dueAtMs - 1000,
    dueAtMs,
    origin: "old-client",
  };
}

/** A store holding `records` from a previous run, writing nothing to disk. */
function preloaded(records: DelayedRecord[], nextId: number): DelayedStore {
  const memory = new MemoryDelayedStore();
  for (const r of records) memory.put(r);
  return {
    load(each) {
      for (const r of records) each(r);
      return nextId;
    },
    put: (r) => memory.put(r),
    get: (id) => memory.get(id),
    remove: (id) => memory.remove(id),
    close: () => memory.close(),
  };
}

describe("DelayedPublisher", () => {
  test("publishes once due, not before, as the publisher sent it", () => {
    const { clock, host, delayed } = setup();
    delayed.start();
    assert.equal(delayed.accept(message("a/b"), 2), null);
    assert.equal(delayed.size, 1);
    clock.advance(1999);
    assert.equal(host.published.length, 0);
    clock.advance(1);
    assert.equal(host.published.length, 1);
    const { message: sent, atMs } = host.published[0];
    assert.equal(atMs, START_MS + 2000);
    assert.equal(sent.topic, "a/b");
    assert.equal(sent.payload.toString(), "payload of a/b");
    assert.equal(sent.qos, 1);
    assert.equal(sent.origin, "publisher-1");
    assert.deepEqual(sent.properties, { contentType: "text/plain", userProperties: [["k", "v"]] });
    assert.equal(delayed.size, 0);
    assert.equal(host.stats.delayedPublished, 1);
    assert.equal(clock.timers.size, 0, "nothing waits: no timer");
  });

  test("one timer, re-armed when an earlier message arrives", () => {
    const { clock, host, delayed } = setup();
    delayed.start();
    delayed.accept(message("late"), 10);
    assert.deepEqual(clock.armed, [10_000]);
    delayed.accept(message("later"), 20); // not earlier: the timer stays
    assert.deepEqual(clock.armed, [10_000]);
    clock.advance(1000);
    delayed.accept(message("early"), 2);
    assert.deepEqual(clock.armed, [10_000, 2000]);
    assert.equal(clock.timers.size, 1);
    clock.advance(20_000);
    assert.deepEqual(host.topics(), ["early", "late", "later"]);
    assert.deepEqual(
      host.published.map((p) => p.atMs - START_MS),
      [3000, 10_000, 20_000],
    );
  });

  test("messages accepted before start() wait for it", () => {
    const { clock, host, delayed } = setup();
    delayed.accept(message("x"), 0);
    clock.advance(5000);
    assert.equal(host.published.length, 0);
    delayed.start();
    clock.advance(0);
    assert.deepEqual(host.topics(), ["x"]);
  });

  test("overdue messages loaded from the store go at once, in due order", () => {
    const now = START_MS;
    const store = preloaded(
      [record(7, now - 10), record(3, now - 5000), record(9, now + 3000), record(5, now - 10)],
      12,
    );
    const { clock, host, delayed } = setup(store);
    assert.equal(delayed.size, 4);
    delayed.start();
    assert.deepEqual(clock.armed, [0]);
    clock.advance(0);
    assert.deepEqual(host.topics(), ["t/3", "t/5", "t/7"]);
    assert.equal(host.published[0].message.retain, true);
    assert.equal(host.published[0].message.origin, "old-client");
    clock.advance(3000);
    assert.deepEqual(host.topics(), ["t/3", "t/5", "t/7", "t/9"]);
    // New ids continue after the stored ones.
    delayed.accept(message("new"), 1);
    assert.equal(delayed.list()[0].id, 12);
  });

  test("more overdue than one turn takes: the rest go in the next turns", () => {
    const records = [];
    for (let id = 1; id <= DELAYED_PUBLISHES_PER_TURN_MAX + 5; id++) {
      records.push(record(id, START_MS - 1));
    }
    const { clock, host, delayed } = setup(preloaded(records, records.length + 1), 10_000);
    delayed.start();
    const [[handle, first]] = clock.timers;
    clock.timers.delete(handle);
    first.fire(); // one turn
    assert.equal(host.published.length, DELAYED_PUBLISHES_PER_TURN_MAX);
    assert.deepEqual(clock.armed, [0, 0], "the rest in the next turn");
    clock.advance(0);
    assert.equal(host.published.length, DELAYED_PUBLISHES_PER_TURN_MAX + 5);
  });

  test("a delay beyond setTimeout's range re-arms until due", () => {
    const { clock, host, delayed } = setup();
    delayed.start();
    const delayS = 4_294_967; // ~49.7 days
    delayed.accept(message("far"), delayS);
    assert.deepEqual(clock.armed, [TIMER_DELAY_MS_MAX]);
    clock.advance(TIMER_DELAY_MS_MAX);
    assert.equal(host.published.length, 0, "woke up early: nothing due yet");
    assert.deepEqual(clock.armed, [TIMER_DELAY_MS_MAX, delayS * 1000 - TIMER_DELAY_MS_MAX]);
    clock.advance(delayS * 1000 - TIMER_DELAY_MS_MAX - 1);
    assert.equal(host.published.length, 0);
    clock.advance(1);
    assert.deepEqual(host.topics(), ["far"]);
  });

  test("a message that expired while waiting is dropped and counted", () => {
    const { clock, host, delayed } = setup();
    delayed.start();
    delayed.accept(message("short", { expiresAtMs: START_MS + 1000 }), 5);
    delayed.accept(message("long", { expiresAtMs: START_MS + 60_000 }), 5);
    clock.advance(5000);
    assert.deepEqual(host.topics(), ["long"]);
    assert.equal(host.published[0].message.expiresAtMs, START_MS + 60_000);
    assert.equal(host.stats.delayedExpired, 1);
    assert.equal(delayed.size, 0);
  });

  test("beyond max_messages waiting a publish is refused and counted", () => {
    const { clock, host, delayed } = setup(new MemoryDelayedStore(), 2);
    delayed.start();
    assert.equal(delayed.accept(message("1"), 5), null);
    assert.equal(delayed.accept(message("2"), 5), null);
    assert.equal(delayed.accept(message("3"), 5), DELAYED_QUOTA_EXCEEDED);
    assert.equal(host.stats.delayedQuotaExceeded, 1);
    clock.advance(5000);
    assert.equal(delayed.accept(message("4"), 5), null, "room again once published");
  });

  test("a deleted message is never published", async () => {
    const { clock, host, delayed } = setup();
    delayed.start();
    delayed.accept(message("keep"), 3);
    delayed.accept(message("drop"), 1);
    const [drop] = delayed.list();
    assert.equal(drop.topic, "drop");
    assert.equal(await delayed.delete(drop.id), true);
    assert.equal(await delayed.delete(drop.id), false);
    assert.equal(await delayed.delete(999), false);
    assert.deepEqual(clock.armed, [3000, 1000, 3000], "re-armed for the next one");
    clock.advance(5000);
    assert.deepEqual(host.topics(), ["keep"]);
  });

  test("a message is scheduled only once stored; a failed store publishes nothing", async () => {
    let release: (() => void) | undefined;
    let fail: ((err: Error) => void) | undefined;
    const memory = new MemoryDelayedStore();
    const store: DelayedStore = {
      load: () => 1,
      put(r) {
        return new Promise<void>((resolve, reject) => {
          release = () => {
            memory.put(r);
            resolve();
          };
          fail = reject;
        });
      },
      get: (id) => memory.get(id),
      remove: (id) => memory.remove(id),
      close: () => memory.close(),
    };
    const { clock, host, delayed } = setup(store);
    delayed.start();
    const stored = delayed.accept(message("slow"), 0);
    assert.ok(stored instanceof Promise);
    assert.equal(delayed.size, 1, "counts against the quota while stored");
    clock.advance(1000);
    assert.equal(host.published.length, 0, "never before its PUBACK could go");
    (release as () => void)();
    await stored;
    clock.advance(0);
    assert.deepEqual(host.topics(), ["slow"]);

    const refused = delayed.accept(message("lost"), 0);
    assert.ok(refused instanceof Promise);
    (fail as (err: Error) => void)(new Error("disk full"));
    await assert.rejects(refused, /disk full/);
    assert.equal(delayed.size, 0);
    clock.advance(1000);
    assert.deepEqual(host.topics(), ["slow"]);
    await delayed.close();
  });

  test("malformed topics are counted", () => {
    const { host, delayed } = setup();
    const connection = {};
    delayed.refuseInvalid(connection, "c", "$delayed/x/a");
    delayed.refuseInvalid(connection, "c", "$delayed/x/a");
    assert.equal(host.stats.delayedInvalid, 2);
  });
});

describe("LmdbDelayedStore", () => {
  test("records survive a reopen; ids are never reused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rmq-delayed-"));
    try {
      const path = join(dir, "delayed");
      const first = LmdbDelayedStore.open(path, true);
      assert.equal(
        first.load(() => {}),
        1,
      );
      const props = { correlationData: Buffer.from([1, 2, 3]), userProperties: [["a", "b"]] };
      await first.put({ ...record(1, START_MS), properties: props } as DelayedRecord, 2);
      await first.put(record(2, START_MS + 5), 3);
      await first.remove(2); // the highest id
      await first.close();

      const second = LmdbDelayedStore.open(path, false);
      const loaded: DelayedRecord[] = [];
      assert.equal(
        second.load((r) => loaded.push(r)),
        3,
      );
      assert.equal(loaded.length, 1);
      const [one] = loaded;
      assert.ok(Buffer.isBuffer(one.payload));
      assert.equal(one.payload.toString(), "t/1");
      assert.deepEqual(one.properties?.correlationData, Buffer.from([1, 2, 3]));
      assert.deepEqual(one.properties?.userProperties, [["a", "b"]]);
      assert.equal(second.get(1)?.dueAtMs, START_MS);
      assert.equal(second.get(2), undefined);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
