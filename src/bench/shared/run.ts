/**
 * Pieces of the main thread's run that both load generators drive the same way: the I/O a run
 * gets, pausing that an interrupt cuts short, and the live progress line.
 */
import {
  CLOSE_TIMEOUT_MS,
  DRAIN_POLL_MS,
  PROGRESS_INTERVAL_MS,
  WORKER_REPLY_SLACK_MS,
  WORKER_START_TIMEOUT_MS,
} from "../limits.ts";

export interface BenchIo {
  /** Where the live progress line goes; null for none (not a terminal). */
  progress: ((line: string) => void) | null;
  /** Settles when the run should stop early (the first SIGINT). */
  interrupted: Promise<void>;
}

/** Waits `ms`, or less when `cancel` settles first. */
export function sleep(ms: number, cancel: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | null = null;
  const slept = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([slept, cancel]).finally(() => {
    if (timer !== null) clearTimeout(timer);
  });
}

/** The line for counters `now`, `before` as they were `intervalSeconds` earlier. */
export type ProgressLine<C> = (
  elapsedSeconds: number,
  now: C,
  before: C,
  intervalSeconds: number,
) => string;

/** Prints a progress line once a second from the workers' latest counters; returns its stop. */
export function startProgress<C>(io: BenchIo, totals: () => C, line: ProgressLine<C>): () => void {
  const print = io.progress;
  if (print === null) return () => {};
  const startMs = performance.now();
  let before = totals();
  let beforeMs = startMs;
  const timer = setInterval(() => {
    const now = totals();
    const nowMs = performance.now();
    print(line((nowMs - startMs) / 1000, now, before, (nowMs - beforeMs) / 1000));
    before = now;
    beforeMs = nowMs;
  }, PROGRESS_INTERVAL_MS);
  return () => clearInterval(timer);
}

export interface Drain<C> {
  /** The workers' latest counters added up. */
  totals(): C;
  /** Asks every worker for fresh counters. */
  poll(): void;
  graceMs: number;
  idleMs: number;
  /** Everything sent is answered and received as far as can be told. */
  settled(now: C): boolean;
  /** Answers or deliveries came in since `last`. */
  moved(now: C, last: C): boolean;
}

/**
 * After sending stops: polls the workers until the run has `settled`, nothing has moved for
 * `idleMs`, `graceMs` has passed, or `cancel` settles, so a broker that has stopped answering
 * cannot hold up the summary.
 */
export async function drain<C>(how: Drain<C>, cancel: Promise<void>): Promise<void> {
  const deadlineMs = performance.now() + how.graceMs;
  let cancelled = false;
  void cancel.then(() => {
    cancelled = true;
  });
  let last = how.totals();
  let lastChangeMs = performance.now();
  while (!cancelled && performance.now() < deadlineMs) {
    how.poll();
    await sleep(DRAIN_POLL_MS, cancel);
    const now = how.totals();
    if (how.settled(now)) return;
    if (how.moved(now, last)) {
      lastChangeMs = performance.now();
    } else if (performance.now() - lastChangeMs >= how.idleMs) {
      return;
    }
    last = now;
  }
}

/** The phases every run starts and ends with, whatever it does in between. */
interface PhasedPool {
  broadcast(message: { type: "connect" } | { type: "close" }): void;
  waitAll(
    type: "ready" | "connected" | "final",
    timeoutMs: number,
    cancel: Promise<void>,
  ): Promise<boolean>;
}

/** Start and connect: every worker loads, then all open their clients, within `connectMs`. */
export async function connectWorkers(
  pool: PhasedPool,
  connectMs: number,
  cancel: Promise<void>,
): Promise<void> {
  // Workers load at slightly different speeds; they start connecting together.
  await pool.waitAll("ready", WORKER_START_TIMEOUT_MS, cancel);
  pool.broadcast({ type: "connect" });
  await pool.waitAll("connected", connectMs + WORKER_REPLY_SLACK_MS, cancel);
}

/** Close: every worker closes its clients and sends its final report. */
export async function closeWorkers(pool: PhasedPool): Promise<void> {
  pool.broadcast({ type: "close" });
  // A second interrupt exits the process; the close itself is not cut short.
  await pool.waitAll("final", CLOSE_TIMEOUT_MS, new Promise<void>(() => {}));
}
