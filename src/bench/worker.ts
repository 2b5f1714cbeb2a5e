/**
 * Entry point of one bench worker thread: runs a WorkerRun for the plan in workerData and relays
 * messages. After its final report the thread lets its event loop empty and exits.
 */
import { parentPort, workerData } from "node:worker_threads";
import { assert } from "../errors.ts";
import type { CoordinatorMessage, WorkerMessage, WorkerPlan } from "./stats.ts";
import { WorkerRun } from "./worker-run.ts";

const port = parentPort;
assert(port !== null, "src/bench/worker.ts runs as a worker thread");
const plan = workerData as WorkerPlan;
assert(typeof plan.workerIndex === "number" && plan.options !== undefined, "worker plan");

const run = new WorkerRun(plan, (message: WorkerMessage) => {
  port.postMessage(message);
  if (message.type === "final") port.close();
});
port.on("message", (message: CoordinatorMessage) => run.handle(message));
run.start();
