/**
 * Entry point of one `bench mqtt` worker thread: a WorkerRun for the plan in workerData.
 */
import { serveWorker } from "./shared/worker-entry.ts";
import type { CoordinatorMessage, WorkerMessage, WorkerPlan } from "./stats.ts";
import { WorkerRun } from "./worker-run.ts";

serveWorker<WorkerPlan, CoordinatorMessage, WorkerMessage>(
  "src/bench/worker.ts",
  (plan, post) => new WorkerRun(plan, post),
);
