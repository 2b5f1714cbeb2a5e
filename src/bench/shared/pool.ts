/**
 * The main thread's view of the worker threads: it sends them phase changes, keeps each one's
 * latest counters, and waits, always with a deadline, for all of them to report a phase. A
 * worker that fails or does not answer in time is terminated and counted as an error, so the run
 * goes on with the others instead of hanging.
 */
import { Worker } from "node:worker_threads";
import { assert } from "../../errors.ts";
import { addError, type WorkerResultOf } from "./stats.ts";

/** What a worker posts: its counters at a phase, or its result once it has closed. */
export type PhaseReport<C> =
  | { type: string; counters: C; result?: undefined }
  | { type: "final"; result: WorkerResultOf<C>; counters?: undefined };

export interface PoolSetup<C> {
  workerUrl: URL;
  emptyCounters(): C;
  sumCounters(parts: readonly C[]): C;
  /** The error kind of a worker thread that exited before its final report. */
  exitedKind(code: number): string;
  /** Whether an interrupted wait also gives up on (terminates and counts) the workers still late. */
  lateOnCancelIsError: boolean;
}

class WorkerHandle<C> {
  readonly worker: Worker;
  counters: C;
  result: WorkerResultOf<C> | null = null;
  alive = true;
  readonly reported = new Set<string>();

  constructor(worker: Worker, counters: C) {
    this.worker = worker;
    this.counters = counters;
  }
}

interface Waiter {
  type: string;
  resolve: () => void;
}

export class WorkerPool<Plan, Command, Report extends PhaseReport<C>, C> {
  readonly errors = new Map<string, number>();
  private readonly setup: PoolSetup<C>;
  private readonly handles: Array<WorkerHandle<C>> = [];
  private waiters: Waiter[] = [];

  constructor(plans: readonly Plan[], setup: PoolSetup<C>) {
    assert(plans.length >= 1, "at least one worker");
    this.setup = setup;
    for (const plan of plans) {
      const worker = new Worker(setup.workerUrl, { workerData: plan });
      const handle = new WorkerHandle(worker, setup.emptyCounters());
      worker.on("message", (message: Report) => this.onMessage(handle, message));
      worker.on("error", (error: Error) => this.onDead(handle, `worker:failed ${error.message}`));
      worker.on("exit", (code: number) => this.onDead(handle, setup.exitedKind(code)));
      this.handles.push(handle);
    }
  }

  broadcast(message: Command): void {
    for (const handle of this.handles) if (handle.alive) handle.worker.postMessage(message);
  }

  /** Every worker's latest counters added up. */
  totals(): C {
    return this.setup.sumCounters(this.counters());
  }

  counters(): C[] {
    return this.handles.map((h) => h.counters);
  }

  results(): Array<WorkerResultOf<C> | null> {
    return this.handles.map((h) => h.result);
  }

  /**
   * Resolves once every live worker has reported `type` (true), or at the deadline or when
   * `cancel` settles (false). At the deadline, workers that have not reported are terminated
   * and counted as errors, unless `lateIsError` is false.
   */
  async waitAll(
    type: Report["type"],
    timeoutMs: number,
    cancel: Promise<void>,
    lateIsError = true,
  ): Promise<boolean> {
    if (this.allReported(type)) return true;
    let timer: NodeJS.Timeout | null = null;
    let cancelled = false;
    const reported = new Promise<boolean>((resolve) => {
      this.waiters.push({ type, resolve: () => resolve(true) });
    });
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const stopped = cancel.then(() => {
      cancelled = true;
      return false;
    });
    const all = await Promise.race([reported, timedOut, stopped]);
    if (timer !== null) clearTimeout(timer);
    this.waiters = this.waiters.filter((w) => w.type !== type);
    const giveUp = lateIsError && (!cancelled || this.setup.lateOnCancelIsError);
    if (!all && giveUp && !this.allReported(type)) this.giveUpOnLate(type);
    return all;
  }

  /** Stops every worker thread (they have reported, or will not). */
  async terminate(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.worker.terminate()));
  }

  private allReported(type: string): boolean {
    return this.handles.every((h) => !h.alive || h.reported.has(type));
  }

  private giveUpOnLate(type: string): void {
    for (const handle of this.handles) {
      if (!handle.alive || handle.reported.has(type)) continue;
      handle.alive = false;
      addError(this.errors, `worker:no ${type} report in time`);
      void handle.worker.terminate();
    }
  }

  private onMessage(handle: WorkerHandle<C>, message: Report): void {
    const report: PhaseReport<C> = message;
    if (report.result !== undefined) {
      handle.result = report.result;
      handle.counters = report.result.counters;
    } else {
      handle.counters = report.counters;
    }
    handle.reported.add(report.type);
    this.wakeWaiters();
  }

  private onDead(handle: WorkerHandle<C>, kind: string): void {
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
