/**
 * System alarms (as EMQX's): every `check_interval_ms` the process's memory and CPU are
 * sampled and compared with the watermarks of [mqtt_alarms] by the pure AlarmMonitor
 * (alarms/monitor.ts). An alarm that activates or deactivates is logged (warn / info) and
 * published as JSON to `$SYS/brokers/<broker_id>/alarms/activate` or `.../deactivate`: QoS 0,
 * not retained, routed like the other `$SYS` messages so only subscribers that name `$SYS`
 * see them [MQTT-4.7.2-1].
 *
 * - Memory usage is the process's resident set size as a share of the machine's memory, or of
 *   the cgroup limit when one applies and is lower (process.constrainedMemory()).
 * - CPU usage is the process's CPU time (user + system) over the last interval divided by the
 *   interval: 1 means one core busy throughout. A broker process runs one event loop, so a
 *   share of one core is what tells it is near saturation (a share of all cores would never
 *   reach 0.8 on a multi-core machine). Helper threads (GC, I/O) can push it above 1.
 */

import { totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import type { Logger } from "../../log/logger.ts";
import {
  type Alarm,
  type AlarmEvent,
  AlarmMonitor,
  type AlarmSample,
  type Watermarks,
  watermarksProblem,
} from "./alarms/monitor.ts";
import type { MqttBroker } from "./broker.ts";
import { Message } from "./message.ts";

export interface AlarmsOptions {
  readonly checkIntervalMs: number;
  readonly watermarks: Watermarks;
}

/** The memory that usage is a share of: the cgroup limit when there is a lower one. */
function memoryTotalBytes(): number {
  const machine = totalmem();
  const constrained = process.constrainedMemory();
  return constrained > 0 && constrained < machine ? constrained : machine;
}

/** An alarm as $SYS messages and the admin API show it. */
export function alarmView(alarm: Alarm): Record<string, unknown> {
  return {
    name: alarm.name,
    message: alarm.message,
    details: alarm.details,
    activatedAt: new Date(alarm.activatedAtMs).toISOString(),
    deactivatedAt:
      alarm.deactivatedAtMs === 0 ? null : new Date(alarm.deactivatedAtMs).toISOString(),
  };
}

export class Alarms {
  readonly monitor: AlarmMonitor;
  readonly #broker: MqttBroker;
  readonly #logger: Logger;
  readonly #prefix: string;
  readonly #brokerId: number;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | null = null;
  /** CPU time and wall clock at the last check, for the next interval's CPU usage. */
  #cpuAt = process.cpuUsage();
  #wallAtMs = performance.now();
  /** CPU usage over the last whole interval (0 before the first). */
  #cpuCores = 0;

  constructor(broker: MqttBroker, brokerId: number, options: AlarmsOptions, logger: Logger) {
    this.monitor = new AlarmMonitor(options.watermarks);
    this.#broker = broker;
    this.#logger = logger;
    this.#brokerId = brokerId;
    this.#prefix = `$SYS/brokers/${brokerId}/alarms`;
    this.#intervalMs = options.checkIntervalMs;
  }

  start(): void {
    this.#cpuAt = process.cpuUsage();
    this.#wallAtMs = performance.now();
    this.#timer = setInterval(() => this.check(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Samples memory and the CPU since the last check, and acts on what changed. */
  check(): void {
    const wallMs = performance.now();
    const cpu = process.cpuUsage(this.#cpuAt);
    const elapsedMs = wallMs - this.#wallAtMs;
    if (elapsedMs > 0) this.#cpuCores = (cpu.user + cpu.system) / 1000 / elapsedMs;
    this.#cpuAt = process.cpuUsage();
    this.#wallAtMs = wallMs;
    this.#emit(this.monitor.step(this.#sample(), Date.now()));
  }

  /**
   * New watermarks (some or all keys) at run time; returns why they are refused, or null.
   * They apply at once: memory is sampled now, CPU keeps the last interval's value (a sample
   * over the few milliseconds since it would mostly measure this request).
   */
  setWatermarks(changes: Partial<Watermarks>): string | null {
    const next = { ...this.monitor.watermarks, ...changes };
    const problem = watermarksProblem(next);
    if (problem !== null) return problem;
    this.monitor.setWatermarks(next);
    this.#logger.info({ watermarks: next }, "alarm watermarks changed");
    this.#emit(this.monitor.step(this.#sample(), Date.now()));
    return null;
  }

  #sample(): AlarmSample {
    return {
      memoryBytes: process.memoryUsage.rss(),
      memoryTotalBytes: memoryTotalBytes(),
      cpuCores: this.#cpuCores,
    };
  }

  #emit(events: readonly AlarmEvent[]): void {
    for (const { kind, alarm } of events) {
      const view = alarmView(alarm);
      if (kind === "activate") this.#logger.warn({ alarm: view }, `alarm: ${alarm.message}`);
      else this.#logger.info({ alarm: view }, `alarm cleared: ${alarm.name}`);
      const payload = JSON.stringify({ ...view, brokerId: this.#brokerId, event: kind });
      this.#broker.publishSys(
        new Message(`${this.#prefix}/${kind}`, Buffer.from(payload), 0, false, undefined, 0, ""),
      );
    }
  }
}
