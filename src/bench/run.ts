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
  DRAIN_GRACE_MS,
  DRAIN_IDLE_MS,
  PROGRESS_INTERVAL_MS,
  SUBACK_TIMEOUT_MS,
  WORKER_REPLY_SLACK_MS,
} from "./limits.ts";
import type { BenchOptions } from "./options.ts";
import { connectPhaseMs, totalClients, workerPlans } from "./plan.ts";
import { progressLine } from "./report.ts";
import { WorkerPool as SharedPool } from "./shared/pool.ts";
import {
  type BenchIo,
  closeWorkers,
  connectWorkers,
  drain,
  sleep,
  startProgress,
} from "./shared/run.ts";
import {
  type CoordinatorMessage,
  type Counters,
  emptyCounters,
  sumCounters,
  type WorkerMessage,
  type WorkerPlan,
} from "./stats.ts";
import { type BenchSummary, buildSummary, type Timeline } from "./summary.ts";
import { nowMicros } from "./wire.ts";

type WorkerPool = SharedPool<WorkerPlan, CoordinatorMessage, WorkerMessage, Counters>;

function startPool(options: BenchOptions): WorkerPool {
  return new SharedPool(workerPlans(options), {
    workerUrl: new URL("./worker.ts", import.meta.url),
    emptyCounters,
    sumCounters,
    exitedKind: (code) => `worker:exited with status ${code}`,
    lateOnCancelIsError: true,
  });
}

/**
 * After publishing stops: done when every QoS 1/2 message is acknowledged and the subscribers
 * have what they should (when that is known), or when nothing has moved for DRAIN_IDLE_MS.
 */
function drainPublished(
  options: BenchOptions,
  pool: WorkerPool,
  cancel: Promise<void>,
): Promise<void> {
  return drain<Counters>(
    {
      totals: () => pool.totals(),
      poll: () => pool.broadcast({ type: "poll" }),
      graceMs: DRAIN_GRACE_MS,
      idleMs: DRAIN_IDLE_MS,
      settled: (now) => {
        const inflight = options.qos === 0 ? 0 : now.sentCount - now.ackedCount;
        const expected = now.expectedReceivedCount;
        return inflight <= 0 && (expected < 0 || now.receivedCount >= expected);
      },
      moved: (now, last) =>
        now.ackedCount !== last.ackedCount || now.receivedCount !== last.receivedCount,
    },
    cancel,
  );
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
  await drainPublished(options, pool, cancel);
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
  const pool = startPool(options);
  const clientCount = totalClients(options);
  const stopProgress = startProgress(
    io,
    () => pool.totals(),
    (elapsed, now, before, interval) => progressLine(elapsed, clientCount, now, before, interval),
  );
  try {
    await connectWorkers(pool, connectPhaseMs(options), cancel);
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
  await closeWorkers(pool);
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
