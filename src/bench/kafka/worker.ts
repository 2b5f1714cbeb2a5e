/**
 * Entry point of one Kafka bench worker thread: runs a KafkaWorkerRun for the plan in
 * workerData and relays messages. After its final report the thread lets its event loop empty
 * and exits.
 */
import { parentPort, workerData } from "node:worker_threads";
import { assert } from "../../errors.ts";
import type { KafkaCoordinatorMessage, KafkaWorkerMessage, KafkaWorkerPlan } from "./stats.ts";
import { KafkaWorkerRun } from "./worker-run.ts";

const port = parentPort;
assert(port !== null, "src/bench/kafka/worker.ts runs as a worker thread");
const plan = workerData as KafkaWorkerPlan;
assert(typeof plan.workerIndex === "number" && plan.options !== undefined, "worker plan");

const run = new KafkaWorkerRun(plan, (message: KafkaWorkerMessage) => {
  port.postMessage(message);
  if (message.type === "final") port.close();
});
port.on("message", (message: KafkaCoordinatorMessage) => run.handle(message));
run.start();
