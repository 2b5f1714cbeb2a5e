import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ALARM_HISTORY_MAX,
  AlarmMonitor,
  type AlarmSample,
  type Watermarks,
  watermarksProblem,
} from "../../../../src/broker/mqtt/alarms/monitor.ts";

const DEFAULTS: Watermarks = {
  memory_high_watermark: 0.8,
  memory_low_watermark: 0.6,
  cpu_high_watermark: 0.8,
  cpu_low_watermark: 0.6,
};

const TOTAL_BYTES = 1000;

function sample(memoryShare: number, cpuCores = 0): AlarmSample {
  return { memoryBytes: memoryShare * TOTAL_BYTES, memoryTotalBytes: TOTAL_BYTES, cpuCores };
}

function kinds(events: ReturnType<AlarmMonitor["step"]>): string[] {
  return events.map((e) => `${e.kind} ${e.alarm.name}`);
}

describe("AlarmMonitor", () => {
  test("nothing below the high watermark", () => {
    const monitor = new AlarmMonitor(DEFAULTS);
    assert.deepEqual(monitor.step(sample(0.79, 0.79), 1), []);
    assert.equal(monitor.activeCount, 0);
  });

  test("memory: activates at high, stays between low and high, clears below low", () => {
    const monitor = new AlarmMonitor(DEFAULTS);
    assert.deepEqual(kinds(monitor.step(sample(0.8), 1)), ["activate high_process_memory_usage"]);
    assert.deepEqual(monitor.step(sample(0.9), 2), [], "already active: no second event");
    assert.deepEqual(monitor.step(sample(0.7), 3), [], "between the marks: still active");
    assert.deepEqual(monitor.step(sample(0.6), 4), [], "at low: still active");
    assert.equal(monitor.activeCount, 1);
    const cleared = monitor.step(sample(0.59), 5);
    assert.deepEqual(kinds(cleared), ["deactivate high_process_memory_usage"]);
    assert.equal(cleared[0].alarm.activatedAtMs, 1);
    assert.equal(cleared[0].alarm.deactivatedAtMs, 5);
    assert.equal(monitor.activeCount, 0);
    assert.deepEqual(monitor.step(sample(0.7), 6), [], "must reach high again");
  });

  test("cpu has its own alarm and hysteresis", () => {
    const monitor = new AlarmMonitor(DEFAULTS);
    assert.deepEqual(kinds(monitor.step(sample(0.1, 0.95), 1)), ["activate high_cpu_usage"]);
    assert.deepEqual(monitor.step(sample(0.1, 0.7), 2), []);
    assert.deepEqual(kinds(monitor.step(sample(0.9, 0.5), 3)), [
      "activate high_process_memory_usage",
      "deactivate high_cpu_usage",
    ]);
  });

  test("details say what was measured", () => {
    const monitor = new AlarmMonitor(DEFAULTS);
    const [event] = monitor.step(sample(0.85), 1);
    assert.deepEqual(event.alarm.details, {
      memoryBytes: 850,
      memoryTotalBytes: 1000,
      usage: 0.85,
      highWatermark: 0.8,
      lowWatermark: 0.6,
    });
    assert.match(event.alarm.message, /85% of 1000 bytes, at or above 80%/);
  });

  test("new watermarks apply at the next step: raise with a tiny high, clear by restoring", () => {
    const monitor = new AlarmMonitor(DEFAULTS);
    monitor.setWatermarks({
      ...DEFAULTS,
      memory_high_watermark: 0.001,
      memory_low_watermark: 0.0005,
    });
    assert.deepEqual(kinds(monitor.step(sample(0.05), 1)), ["activate high_process_memory_usage"]);
    assert.deepEqual(monitor.step(sample(0.05), 2), [], "above the tiny low: stays");
    monitor.setWatermarks(DEFAULTS);
    assert.deepEqual(kinds(monitor.step(sample(0.05), 3)), [
      "deactivate high_process_memory_usage",
    ]);
  });

  test("history keeps the last deactivated alarms, newest first, bounded", () => {
    const monitor = new AlarmMonitor(DEFAULTS);
    const cycles = ALARM_HISTORY_MAX + 5;
    for (let i = 0; i < cycles; i++) {
      monitor.step(sample(0.9), i * 10);
      monitor.step(sample(0.1), i * 10 + 1);
    }
    const history = monitor.history();
    assert.equal(history.length, ALARM_HISTORY_MAX);
    assert.equal(history[0].deactivatedAtMs, (cycles - 1) * 10 + 1);
    assert.equal(history[ALARM_HISTORY_MAX - 1].activatedAtMs, 50);
    assert.deepEqual(monitor.active(), []);
  });

  test("the constructor refuses unusable watermarks", () => {
    assert.throws(() => new AlarmMonitor({ ...DEFAULTS, memory_low_watermark: 0.8 }));
  });
});

describe("watermarksProblem", () => {
  test("accepts the defaults and names the key at fault", () => {
    assert.equal(watermarksProblem(DEFAULTS), null);
    assert.match(
      watermarksProblem({ ...DEFAULTS, cpu_high_watermark: 0 }) ?? "",
      /cpu_high_watermark must be a number above 0 and at most 1/,
    );
    assert.match(
      watermarksProblem({ ...DEFAULTS, memory_high_watermark: 1.2 }) ?? "",
      /memory_high_watermark/,
    );
    assert.match(
      watermarksProblem({ ...DEFAULTS, cpu_low_watermark: 0.9 }) ?? "",
      /cpu_low_watermark must be below cpu_high_watermark/,
    );
    assert.match(
      watermarksProblem({ ...DEFAULTS, memory_low_watermark: Number.NaN }) ?? "",
      /memory_low_watermark/,
    );
  });
});
