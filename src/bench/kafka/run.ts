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
import { intersect, splitRange } from "../plan.ts";
import { WorkerPool } from "../shared/pool.ts";
import { type BenchIo, closeWorkers, connectWorkers, drain, startProgress } from "../shared/run.ts";
import { nowMicros } from "../wire.ts";
import { prepareTopic, type TopicLayout } from "./admin.ts";
import { KAFKA_DRAIN_GRACE_MS, KAFKA_DRAIN_IDLE_MS } from "./limits.ts";
import type { KafkaBenchOptions } from "./options.ts";
import { kafkaProgressLine } from "./report.ts";
import {
  emptyKafkaCounters,
  expectedRecords,
  type KafkaCoordinatorMessage,
  type KafkaCounters,
  type KafkaWorkerMessage,
  type KafkaWorkerPlan,
  type KafkaWorkerResult,
  sumKafkaCounters,
} from "./stats.ts";
import { buildKafkaSummary, type KafkaBenchSummary, type KafkaTimeline } from "./summary.ts";

type KafkaWorkerPool = WorkerPool<
  KafkaWorkerPlan,
  KafkaCoordinatorMessage,
  KafkaWorkerMessage,
  KafkaCounters
>;

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

function startPool(options: KafkaBenchOptions, layout: TopicLayout): KafkaWorkerPool {
  return new WorkerPool(kafkaWorkerPlans(options, layout), {
    workerUrl: new URL("./worker.ts", import.meta.url),
    emptyCounters: emptyKafkaCounters,
    sumCounters: sumKafkaCounters,
    exitedKind: (code) => `worker:exited with ${code}`,
    // An interrupt is no fault of the workers still busy; the close phase collects them.
    lateOnCancelIsError: false,
  });
}

/** After producing: every answer in, and the consumers have what was stored, or nothing moves. */
function drainProduced(
  options: KafkaBenchOptions,
  pool: KafkaWorkerPool,
  cancel: Promise<void>,
): Promise<void> {
  const progress = (c: KafkaCounters) =>
    c.ackedRecordCount + c.refusedRecordCount + c.receivedRecordCount;
  return drain<KafkaCounters>(
    {
      totals: () => pool.totals(),
      poll: () => pool.broadcast({ type: "poll" }),
      graceMs: KAFKA_DRAIN_GRACE_MS,
      idleMs: KAFKA_DRAIN_IDLE_MS,
      settled: (now) => {
        const caughtUp =
          options.consumerCount === 0 || now.receivedRecordCount >= expectedRecords(options, now);
        return now.pendingRequestCount === 0 && caughtUp;
      },
      moved: (now, last) => progress(now) !== progress(last),
    },
    cancel,
  );
}

export async function runKafkaBench(
  options: KafkaBenchOptions,
  io: BenchIo,
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
  const pool = startPool(options, setup.layout);
  const clientCount = options.producerCount + options.consumerCount;
  const stopProgress = startProgress(
    io,
    () => pool.totals(),
    (elapsed, now, before, interval) =>
      kafkaProgressLine(elapsed, clientCount, now, before, interval),
  );
  try {
    await connectWorkers(pool, options.connectTimeoutMs, cancel);
    if (!interrupted && pool.totals().connectedCount > 0) {
      pool.broadcast({ type: "run" });
      timeline.runStartMicros = nowMicros();
      await pool.waitAll("finished", options.durationMs, cancel, false);
      pool.broadcast({ type: "stop" });
      if (options.command === "produce") await drainProduced(options, pool, cancel);
    }
  } finally {
    stopProgress();
  }
  await closeWorkers(pool);
  timeline.endMicros = nowMicros();
  await pool.terminate();
  return buildKafkaSummary(options, {
    layout: setup.layout,
    setupError: null,
    results: pool.results().filter((r): r is KafkaWorkerResult => r !== null),
    counters: pool.totals(),
    coordinatorErrors: pool.errors,
    timeline,
    interrupted,
  });
}
