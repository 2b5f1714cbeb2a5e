/**
 * Runs one Kafka benchmark from the main thread, phase by phase, each with a deadline:
 *
 *   setup    find or create the topic and read its offsets (one connection, --connect-timeout
 *            per request)
 *   start    every worker thread loads and creates its clients (30 s)
 *   connect  every producer and consumer opens its connection (--connect-timeout + 3 s)
 *   run      produce for --duration or until --count; consume until --count, the end of the
 *            backlog or --duration
 *   drain    produce: wait for outstanding answers and for the consumers to catch up, stopping
 *            early once nothing has moved for 1 s (10 s at most)
 *   close    workers close their connections and report (5 s)
 *
 * An interrupt (the first Ctrl-C) cuts the current phase short; the summary is still printed.
 */
import {
  CLOSE_TIMEOUT_MS,
  DRAIN_POLL_MS,
  PROGRESS_INTERVAL_MS,
  WORKER_REPLY_SLACK_MS,
  WORKER_START_TIMEOUT_MS,
} from "../limits.ts";
import { splitRange } from "../plan.ts";
import { nowMicros } from "../wire.ts";
import { prepareTopic, type TopicLayout } from "./admin.ts";
import { KAFKA_DRAIN_GRACE_MS, KAFKA_DRAIN_IDLE_MS } from "./limits.ts";
import type { KafkaBenchOptions } from "./options.ts";
import { KafkaWorkerPool } from "./pool.ts";
import { kafkaProgressLine } from "./report.ts";
import { expectedRecords, type IndexRange, type KafkaWorkerPlan } from "./stats.ts";
import { buildKafkaSummary, type KafkaBenchSummary, type KafkaTimeline } from "./summary.ts";

export interface KafkaBenchIo {
  /** Where the live progress line goes; null for none (not a terminal). */
  progress: ((line: string) => void) | null;
  /** Settles when the run should stop early (the first SIGINT). */
  interrupted: Promise<void>;
}

function intersect(range: IndexRange, start: number, length: number): IndexRange {
  const first = Math.max(range.first, start);
  const end = Math.min(range.first + range.count, start + length);
  return end > first ? { first: first - start, count: end - first } : { first: 0, count: 0 };
}

/** Consumers, then producers, lined up and cut into one contiguous share per worker. */
export function kafkaWorkerPlans(
  options: KafkaBenchOptions,
  layout: TopicLayout,
): KafkaWorkerPlan[] {
  const clients = options.consumerCount + options.producerCount;
  const plans: KafkaWorkerPlan[] = [];
  for (let w = 0; w < options.workerCount; w++) {
    const range = splitRange(clients, options.workerCount, w);
    plans.push({
      workerIndex: w,
      options,
      layout,
      consumers: intersect(range, 0, options.consumerCount),
      producers: intersect(range, options.consumerCount, options.producerCount),
    });
  }
  return plans;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function startProgress(options: KafkaBenchOptions, pool: KafkaWorkerPool, io: KafkaBenchIo) {
  const print = io.progress;
  if (print === null) return () => {};
  const startMs = performance.now();
  let before = pool.totals();
  let beforeMs = startMs;
  const timer = setInterval(() => {
    const now = pool.totals();
    const nowMs = performance.now();
    const clients = options.producerCount + options.consumerCount;
    print(
      kafkaProgressLine((nowMs - startMs) / 1000, clients, now, before, (nowMs - beforeMs) / 1000),
    );
    before = now;
    beforeMs = nowMs;
  }, PROGRESS_INTERVAL_MS);
  return () => clearInterval(timer);
}

/** After producing: every answer in, and the consumers have what was stored, or nothing moves. */
async function drain(
  options: KafkaBenchOptions,
  pool: KafkaWorkerPool,
  isCancelled: () => boolean,
): Promise<void> {
  const deadlineMs = performance.now() + KAFKA_DRAIN_GRACE_MS;
  let last = pool.totals();
  let lastChangeMs = performance.now();
  while (!isCancelled() && performance.now() < deadlineMs) {
    pool.broadcast({ type: "poll" });
    await sleep(DRAIN_POLL_MS);
    const now = pool.totals();
    const caughtUp =
      options.consumerCount === 0 || now.receivedRecordCount >= expectedRecords(options, now);
    if (now.pendingRequestCount === 0 && caughtUp) return;
    const moved =
      now.ackedRecordCount + now.refusedRecordCount + now.receivedRecordCount !==
      last.ackedRecordCount + last.refusedRecordCount + last.receivedRecordCount;
    if (moved) lastChangeMs = performance.now();
    else if (performance.now() - lastChangeMs >= KAFKA_DRAIN_IDLE_MS) return;
    last = now;
  }
}

export async function runKafkaBench(
  options: KafkaBenchOptions,
  io: KafkaBenchIo,
): Promise<KafkaBenchSummary> {
  let interrupted = false;
  const cancel = io.interrupted.then(() => {
    interrupted = true;
  });
  const timeline: KafkaTimeline = { startMicros: nowMicros(), runStartMicros: 0, endMicros: 0 };
  const setup = await Promise.race([prepareTopic(options), cancel.then(() => null)]);
  if (setup === null || !setup.ok) {
    timeline.endMicros = nowMicros();
    const errorKind = setup === null ? null : setup.errorKind;
    return buildKafkaSummary(options, {
      layout: null,
      setupError: errorKind,
      results: [],
      counters: null,
      coordinatorErrors: new Map(),
      timeline,
      interrupted,
    });
  }
  const pool = new KafkaWorkerPool(kafkaWorkerPlans(options, setup.layout));
  const stopProgress = startProgress(options, pool, io);
  try {
    await pool.waitAll("ready", WORKER_START_TIMEOUT_MS, cancel);
    pool.broadcast({ type: "connect" });
    await pool.waitAll("connected", options.connectTimeoutMs + WORKER_REPLY_SLACK_MS, cancel);
    if (!interrupted && pool.totals().connectedCount > 0) {
      pool.broadcast({ type: "run" });
      timeline.runStartMicros = nowMicros();
      await pool.waitAll("finished", options.durationMs, cancel, false);
      pool.broadcast({ type: "stop" });
      if (options.command === "produce") await drain(options, pool, () => interrupted);
    }
  } finally {
    stopProgress();
  }
  pool.broadcast({ type: "close" });
  // A second interrupt exits the process; the close itself is not cut short.
  await pool.waitAll("final", CLOSE_TIMEOUT_MS, new Promise<void>(() => {}));
  timeline.endMicros = nowMicros();
  await pool.terminate();
  return buildKafkaSummary(options, {
    layout: setup.layout,
    setupError: null,
    results: pool.results(),
    counters: pool.totals(),
    coordinatorErrors: pool.errors,
    timeline,
    interrupted,
  });
}
