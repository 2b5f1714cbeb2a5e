/**
 * Runs one benchmark from the main thread, phase by phase, each with a deadline:
 *
 *   start     every worker thread loads and sets up its clients (bounded by 30 s)
 *   connect   every worker opens its clients (paced, bounded by the connect phase deadline)
 *   subscribe sub, pubsub: every subscriber subscribes (bounded by SUBACK_TIMEOUT_MS)
 *   run       pub, pubsub: publish for --duration or until --count is sent;
 *             conn, sub: hold the connections for --duration
 *   drain     pub, pubsub: wait for outstanding acks and deliveries (at most DRAIN_GRACE_MS)
 *   close     workers disconnect their clients and report (at most CLOSE_TIMEOUT_MS)
 *
 * So a run ends by the sum of those deadlines whatever the broker does. An interrupt (the first
 * Ctrl-C) cuts the current phase short and goes to close, and the summary is still printed.
 */

import {
  CLOSE_TIMEOUT_MS,
  DRAIN_GRACE_MS,
  DRAIN_IDLE_MS,
  DRAIN_POLL_MS,
  PROGRESS_INTERVAL_MS,
  SUBACK_TIMEOUT_MS,
  WORKER_REPLY_SLACK_MS,
  WORKER_START_TIMEOUT_MS,
} from "./limits.ts";
import type { BenchOptions } from "./options.ts";
import { connectPhaseMs, totalClients, workerPlans } from "./plan.ts";
import { WorkerPool } from "./pool.ts";
import { progressLine } from "./report.ts";
import type { Counters } from "./stats.ts";
import { type BenchSummary, buildSummary, type Timeline } from "./summary.ts";
import { nowMicros } from "./wire.ts";

export interface BenchIo {
  /** Where the live progress line goes; null for none (not a terminal). */
  progress: ((line: string) => void) | null;
  /** Settles when the run should stop early (the first SIGINT). */
  interrupted: Promise<void>;
}

const WORKER_URL = new URL("./worker.ts", import.meta.url);

function sleep(ms: number, cancel: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | null = null;
  const slept = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([slept, cancel]).finally(() => {
    if (timer !== null) clearTimeout(timer);
  });
}

/** Prints a progress line once a second from the workers' latest counters. */
function startProgress(options: BenchOptions, pool: WorkerPool, io: BenchIo): () => void {
  const print = io.progress;
  if (print === null) return () => {};
  const startMs = performance.now();
  let before: Counters = pool.totals();
  let beforeMs = startMs;
  const timer = setInterval(() => {
    const now = pool.totals();
    const nowMs = performance.now();
    print(
      progressLine(
        (nowMs - startMs) / 1000,
        totalClients(options),
        now,
        before,
        (nowMs - beforeMs) / 1000,
      ),
    );
    before = now;
    beforeMs = nowMs;
  }, PROGRESS_INTERVAL_MS);
  return () => clearInterval(timer);
}

/**
 * After publishing stops: done when every QoS 1/2 message is acknowledged and the subscribers
 * have what they should (when that is known), or when nothing has moved for DRAIN_IDLE_MS.
 */
async function drain(
  options: BenchOptions,
  pool: WorkerPool,
  cancel: Promise<void>,
): Promise<void> {
  const deadlineMs = performance.now() + DRAIN_GRACE_MS;
  let cancelled = false;
  void cancel.then(() => {
    cancelled = true;
  });
  let last = pool.totals();
  let lastChangeMs = performance.now();
  while (!cancelled && performance.now() < deadlineMs) {
    pool.broadcast({ type: "poll" });
    await sleep(DRAIN_POLL_MS, cancel);
    const now = pool.totals();
    const inflight = options.qos === 0 ? 0 : now.sentCount - now.ackedCount;
    const expected = now.expectedReceivedCount;
    if (inflight <= 0 && (expected < 0 || now.receivedCount >= expected)) return;
    if (now.ackedCount !== last.ackedCount || now.receivedCount !== last.receivedCount) {
      lastChangeMs = performance.now();
    } else if (performance.now() - lastChangeMs >= DRAIN_IDLE_MS) {
      return;
    }
    last = now;
  }
}

/** conn and sub: hold the connections for `durationMs`, or until none is left to hold. */
async function hold(durationMs: number, pool: WorkerPool, cancel: Promise<void>): Promise<void> {
  let cancelled = false;
  void cancel.then(() => {
    cancelled = true;
  });
  const endMs = performance.now() + durationMs;
  while (!cancelled && performance.now() < endMs) {
    await sleep(Math.min(PROGRESS_INTERVAL_MS, endMs - performance.now()), cancel);
    const totals = pool.totals();
    if (totals.connectedCount - totals.lostCount <= 0) return;
  }
}

/** The run phase: publish (and drain), or hold the connections. */
async function runPhase(
  options: BenchOptions,
  pool: WorkerPool,
  timeline: Timeline,
  cancel: Promise<void>,
): Promise<void> {
  if (options.publisherCount === 0) {
    await hold(options.durationMs, pool, cancel);
    return;
  }
  pool.broadcast({ type: "publish" });
  timeline.publishStartMicros = nowMicros();
  await pool.waitAll("published", options.durationMs, cancel, false);
  pool.broadcast({ type: "stop" });
  timeline.publishEndMicros = nowMicros();
  await drain(options, pool, cancel);
}

export async function runBench(options: BenchOptions, io: BenchIo): Promise<BenchSummary> {
  let interrupted = false;
  const cancel = io.interrupted.then(() => {
    interrupted = true;
  });
  const timeline: Timeline = {
    startMicros: nowMicros(),
    publishStartMicros: 0,
    publishEndMicros: 0,
    endMicros: 0,
  };
  const pool = new WorkerPool(workerPlans(options), WORKER_URL);
  const stopProgress = startProgress(options, pool, io);
  try {
    // Workers load at slightly different speeds; they start connecting together.
    await pool.waitAll("ready", WORKER_START_TIMEOUT_MS, cancel);
    pool.broadcast({ type: "connect" });
    await pool.waitAll("connected", connectPhaseMs(options) + WORKER_REPLY_SLACK_MS, cancel);
    // With no connection at all there is nothing to subscribe, publish or hold.
    const anyConnected = pool.totals().connectedCount > 0;
    if (!interrupted && anyConnected && options.subscriberCount > 0) {
      pool.broadcast({ type: "subscribe" });
      await pool.waitAll("subscribed", SUBACK_TIMEOUT_MS + WORKER_REPLY_SLACK_MS, cancel);
    }
    if (!interrupted && anyConnected) await runPhase(options, pool, timeline, cancel);
  } finally {
    stopProgress();
  }
  pool.broadcast({ type: "close" });
  // A second interrupt exits the process; the close itself is not cut short.
  await pool.waitAll("final", CLOSE_TIMEOUT_MS, new Promise<void>(() => {}));
  timeline.endMicros = nowMicros();
  await pool.terminate();
  return buildSummary(options, {
    results: pool.results(),
    counters: pool.counters(),
    coordinatorErrors: pool.errors,
    timeline,
    interrupted,
  });
}
