/**
 * The main thread's view of the Kafka bench worker threads: it sends them phase changes, keeps
 * each one's latest counters, and waits, always with a deadline, for all of them to report a
 * phase. A worker that fails or does not answer in time is terminated and counted as an error,
 * so the run goes on with the others instead of hanging.
 */
import { Worker } from "node:worker_threads";
import { addError } from "../stats.ts";
import {
  emptyKafkaCounters,
  type KafkaCoordinatorMessage,
  type KafkaCounters,
  type KafkaWorkerMessage,
  type KafkaWorkerPlan,
  type KafkaWorkerResult,
  sumKafkaCounters,
} from "./stats.ts";

type ReportType = KafkaWorkerMessage["type"];

interface Handle {
  worker: Worker;
  counters: KafkaCounters;
  result: KafkaWorkerResult | null;
  alive: boolean;
  reported: Set<ReportType>;
}

const WORKER_URL = new URL("./worker.ts", import.meta.url);

export class KafkaWorkerPool {
  readonly errors = new Map<string, number>();
  private readonly handles: Handle[] = [];
  private wake: (() => void) | null = null;

  constructor(plans: readonly KafkaWorkerPlan[]) {
    for (const plan of plans) {
      const handle: Handle = {
        worker: new Worker(WORKER_URL, { workerData: plan }),
        counters: emptyKafkaCounters(),
        result: null,
        alive: true,
        reported: new Set(),
      };
      handle.worker.on("message", (message: KafkaWorkerMessage) => {
        if (message.type === "final") {
          handle.result = message.result;
          handle.counters = message.result.counters;
        } else {
          handle.counters = message.counters;
        }
        handle.reported.add(message.type);
        this.wake?.();
      });
      handle.worker.on("error", (error: Error) =>
        this.dead(handle, `worker:failed ${error.message}`),
      );
      handle.worker.on("exit", (code: number) => this.dead(handle, `worker:exited with ${code}`));
      this.handles.push(handle);
    }
  }

  broadcast(message: KafkaCoordinatorMessage): void {
    for (const handle of this.handles) if (handle.alive) handle.worker.postMessage(message);
  }

  totals(): KafkaCounters {
    return sumKafkaCounters(this.handles.map((h) => h.counters));
  }

  results(): KafkaWorkerResult[] {
    return this.handles.flatMap((h) => (h.result === null ? [] : [h.result]));
  }

  /**
   * True once every live worker has reported `type`; false at the deadline or when `cancel`
   * settles. At the deadline, late workers are terminated and counted, unless `lateIsError` is
   * false (a run phase that simply lasted its full duration).
   */
  async waitAll(
    type: ReportType,
    timeoutMs: number,
    cancel: Promise<void>,
    lateIsError = true,
  ): Promise<boolean> {
    let timer: NodeJS.Timeout | null = null;
    let cancelled = false;
    const stop = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      void cancel.then(() => {
        cancelled = true;
        resolve();
      });
    });
    let done = false;
    void stop.then(() => {
      done = true;
      this.wake?.();
    });
    while (!this.allReported(type) && !done) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    this.wake = null;
    if (timer !== null) clearTimeout(timer);
    const all = this.allReported(type);
    if (!all && !cancelled && lateIsError) this.giveUpOnLate(type);
    return all;
  }

  async terminate(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.worker.terminate()));
  }

  private allReported(type: ReportType): boolean {
    return this.handles.every((h) => !h.alive || h.reported.has(type));
  }

  private giveUpOnLate(type: ReportType): void {
    for (const handle of this.handles) {
      if (!handle.alive || handle.reported.has(type)) continue;
      handle.alive = false;
      addError(this.errors, `worker:no ${type} report in time`);
      void handle.worker.terminate();
    }
  }

  private dead(handle: Handle, kind: string): void {
    if (!handle.alive) return;
    handle.alive = false;
    // A worker exits on its own only after its final report; any other end is a failure.
    if (handle.result === null) addError(this.errors, kind);
    this.wake?.();
  }
}
