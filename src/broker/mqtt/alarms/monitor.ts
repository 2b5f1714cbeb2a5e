/**
 * The pure part of system alarms: watermarks with hysteresis, fed with resource samples. An
 * alarm activates when its usage reaches the high watermark and deactivates only once usage
 * falls below the low one, so a value hovering at the high mark does not flap. No clock, no
 * timers, no I/O: the shell (../alarms.ts) samples, publishes and logs.
 */
import { assert } from "../../../errors.ts";

/** Deactivated alarms kept for GET /api/v1/alarms, newest first. */
export const ALARM_HISTORY_MAX = 100;

/** The config keys of [mqtt_alarms] that the monitor uses; each a share in (0, 1]. */
export interface Watermarks {
  memory_high_watermark: number;
  memory_low_watermark: number;
  cpu_high_watermark: number;
  cpu_low_watermark: number;
}

export const WATERMARK_KEYS = [
  "memory_high_watermark",
  "memory_low_watermark",
  "cpu_high_watermark",
  "cpu_low_watermark",
] as const satisfies ReadonlyArray<keyof Watermarks>;

/** The four watermarks of `source` (a [mqtt_alarms] section holds other keys too). */
export function pickWatermarks(source: Watermarks): Watermarks {
  return {
    memory_high_watermark: source.memory_high_watermark,
    memory_low_watermark: source.memory_low_watermark,
    cpu_high_watermark: source.cpu_high_watermark,
    cpu_low_watermark: source.cpu_low_watermark,
  };
}

export interface AlarmSample {
  /** The process's resident set size. */
  memoryBytes: number;
  /** What memory usage is a share of: the machine's memory, or the cgroup limit if lower. */
  memoryTotalBytes: number;
  /** CPU time over the last interval divided by its length: 1 = one core busy throughout. */
  cpuCores: number;
}

export interface Alarm {
  readonly name: string;
  readonly message: string;
  /** What was measured when it activated. */
  readonly details: Readonly<Record<string, number>>;
  readonly activatedAtMs: number;
  /** 0 while active. */
  deactivatedAtMs: number;
}

export interface AlarmEvent {
  readonly kind: "activate" | "deactivate";
  readonly alarm: Alarm;
}

interface Check {
  readonly name: string;
  readonly high: keyof Watermarks;
  readonly low: keyof Watermarks;
  usage(sample: AlarmSample): number;
  /** What the alarm's details show besides usage and the watermarks. */
  measured(sample: AlarmSample): Record<string, number>;
  describe(sample: AlarmSample, usage: number, high: number): string;
}

function percent(share: number): string {
  // Three significant digits: a watermark of 0.000001 reads 0.0001%, not 0.0%.
  return `${Number((share * 100).toPrecision(3))}%`;
}

const CHECKS: readonly Check[] = [
  {
    name: "high_process_memory_usage",
    high: "memory_high_watermark",
    low: "memory_low_watermark",
    usage: (s) => s.memoryBytes / s.memoryTotalBytes,
    measured: (s) => ({ memoryBytes: s.memoryBytes, memoryTotalBytes: s.memoryTotalBytes }),
    describe: (s, usage, high) =>
      `process memory ${percent(usage)} of ${s.memoryTotalBytes} bytes, at or above ${percent(high)}`,
  },
  {
    name: "high_cpu_usage",
    high: "cpu_high_watermark",
    low: "cpu_low_watermark",
    usage: (s) => s.cpuCores,
    measured: () => ({}),
    describe: (_s, usage, high) =>
      `process CPU ${percent(usage)} of one core, at or above ${percent(high)}`,
  },
];

export const ALARM_NAMES: readonly string[] = CHECKS.map((c) => c.name);

/** Why a set of watermarks is unusable, or null: each in (0, 1], each low below its high. */
export function watermarksProblem(w: Watermarks): string | null {
  for (const key of WATERMARK_KEYS) {
    const value: unknown = w[key];
    if (typeof value !== "number" || !(value > 0 && value <= 1)) {
      return `${key} must be a number above 0 and at most 1`;
    }
  }
  for (const check of CHECKS) {
    if (w[check.low] >= w[check.high]) return `${check.low} must be below ${check.high}`;
  }
  return null;
}

export class AlarmMonitor {
  #watermarks: Watermarks;
  readonly #active = new Map<string, Alarm>();
  /** Deactivated alarms, oldest first, at most ALARM_HISTORY_MAX. */
  readonly #history: Alarm[] = [];

  constructor(watermarks: Watermarks) {
    this.#watermarks = AlarmMonitor.#checked(watermarks);
  }

  static #checked(watermarks: Watermarks): Watermarks {
    const problem = watermarksProblem(watermarks);
    assert(problem === null, problem ?? "");
    return pickWatermarks(watermarks);
  }

  get watermarks(): Watermarks {
    return pickWatermarks(this.#watermarks);
  }

  /** Takes new watermarks (the caller validated them); the next step() applies them. */
  setWatermarks(watermarks: Watermarks): void {
    this.#watermarks = AlarmMonitor.#checked(watermarks);
  }

  get activeCount(): number {
    return this.#active.size;
  }

  /** Active alarms, oldest first. */
  active(): Alarm[] {
    return [...this.#active.values()];
  }

  /** Deactivated alarms, newest first. */
  history(): Alarm[] {
    return this.#history.slice().reverse();
  }

  /** Compares a sample with the watermarks; returns the alarms that changed state. */
  step(sample: AlarmSample, nowMs: number): AlarmEvent[] {
    assert(sample.memoryTotalBytes > 0, "memory total is positive");
    const events: AlarmEvent[] = [];
    for (const check of CHECKS) {
      const usage = check.usage(sample);
      const current = this.#active.get(check.name);
      if (current !== undefined) {
        if (usage >= this.#watermarks[check.low]) continue;
        this.#deactivate(current, nowMs);
        events.push({ kind: "deactivate", alarm: current });
        continue;
      }
      const high = this.#watermarks[check.high];
      if (usage < high) continue;
      const alarm: Alarm = {
        name: check.name,
        message: check.describe(sample, usage, high),
        details: {
          ...check.measured(sample),
          usage,
          highWatermark: high,
          lowWatermark: this.#watermarks[check.low],
        },
        activatedAtMs: nowMs,
        deactivatedAtMs: 0,
      };
      this.#active.set(check.name, alarm);
      events.push({ kind: "activate", alarm });
    }
    assert(this.#active.size <= CHECKS.length, "one alarm per check at most");
    return events;
  }

  #deactivate(alarm: Alarm, nowMs: number): void {
    alarm.deactivatedAtMs = nowMs;
    this.#active.delete(alarm.name);
    this.#history.push(alarm);
    if (this.#history.length > ALARM_HISTORY_MAX) this.#history.shift();
    assert(this.#history.length <= ALARM_HISTORY_MAX, "history bounded");
  }
}
