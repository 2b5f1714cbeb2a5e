/**
 * Entry point of one `bench kafka` worker thread: a KafkaWorkerRun for the plan in workerData.
 */
import { serveWorker } from "../shared/worker-entry.ts";
import type { KafkaCoordinatorMessage, KafkaWorkerMessage, KafkaWorkerPlan } from "./stats.ts";
import { KafkaWorkerRun } from "./worker-run.ts";

serveWorker<KafkaWorkerPlan, KafkaCoordinatorMessage, KafkaWorkerMessage>(
  "src/bench/kafka/worker.ts",
  (plan, post) => new KafkaWorkerRun(plan, post),
);
