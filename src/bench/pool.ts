/**
 * The main thread's view of the worker threads: it sends them phase changes, keeps each one's
 * latest counters, and waits, always with a deadline, for all of them to report a phase. A
 * worker that fails or does not answer in time is terminated and counted as an error, so the run
 * goes on with the others instead of hanging.
 */
import { Worker } from "node:worker_threads";
import { assert } from "../errors.ts";
import {
  addError,
  type CoordinatorMessage,
  type Counters,
  emptyCounters,
  sumCounters,
  type WorkerMessage,
  type WorkerPlan,
  type WorkerResult,
} from "./stats.ts";

type ReportType = WorkerMessage["type"];

class WorkerHandle {
  readonly index: number;
  readonly worker: Worker;
  counters: Counters = emptyCounters();
  result: WorkerResult | null = null;
  alive = true;
  readonly reported = new Set<ReportType>();

  constructor(index: number, worker: Worker) {
    this.index = index;
    this.worker = worker;
  }
}

interface Waiter {
  type: ReportType;
  resolve: () => void;
}

export class WorkerPool {
  readonly errors = new Map<string, number>();
  private readonly handles: WorkerHandle[] = [];
  private waiters: Waiter[] = [];

  constructor(plans: readonly WorkerPlan[], workerUrl: URL) {
    assert(plans.length >= 1, "at least one worker");
    for (const plan of plans) {
      const worker = new Worker(workerUrl, { workerData: plan });
      const handle = new WorkerHandle(plan.workerIndex, worker);
      worker.on("message", (message: WorkerMessage) => this.onMessage(handle, message));
      worker.on("error", (error: Error) => this.onDead(handle, `worker:failed ${error.message}`));
      worker.on("exit", (code: number) => this.onDead(handle, `worker:exited with status ${code}`));
      this.handles.push(handle);
    }
  }

  broadcast(message: CoordinatorMessage): void {
    for (const handle of this.handles) if (handle.alive) handle.worker.postMessage(message);
  }

  /** Every worker's latest counters added up. */
  totals(): Counters {
    return sumCounters(this.handles.map((h) => h.counters));
  }

  counters(): Counters[] {
    return this.handles.map((h) => h.counters);
  }

  results(): Array<WorkerResult | null> {
    return this.handles.map((h) => h.result);
  }

  /**
   * Resolves once every live worker has reported `type` (true), or at the deadline or when
   * `cancel` settles (false). At the deadline, workers that have not reported are terminated
   * and counted as errors, unless `lateIsError` is false.
   */
  async waitAll(
    type: ReportType,
    timeoutMs: number,
    cancel: Promise<void>,
    lateIsError = true,
  ): Promise<boolean> {
    if (this.allReported(type)) return true;
    let timer: NodeJS.Timeout | null = null;
    const reported = new Promise<boolean>((resolve) => {
      this.waiters.push({ type, resolve: () => resolve(true) });
    });
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const all = await Promise.race([reported, timedOut, cancel.then(() => false)]);
    if (timer !== null) clearTimeout(timer);
    this.waiters = this.waiters.filter((w) => w.type !== type);
    if (!all && lateIsError && !this.allReported(type)) this.giveUpOnLate(type);
    return all;
  }

  /** Stops every worker thread (they have reported, or will not). */
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

  private onMessage(handle: WorkerHandle, message: WorkerMessage): void {
    if (message.type === "final") {
      handle.result = message.result;
      handle.counters = message.result.counters;
    } else {
      handle.counters = message.counters;
    }
    handle.reported.add(message.type);
    this.wakeWaiters();
  }

  private onDead(handle: WorkerHandle, kind: string): void {
    if (!handle.alive) return;
    handle.alive = false;
    // A worker exits on its own only after its final report; any other end is a failure.
    if (handle.result === null) addError(this.errors, kind);
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    for (const waiter of this.waiters) {
      if (this.allReported(waiter.type)) waiter.resolve();
    }
  }
}
