/**
 * The body of a bench worker thread's entry point: runs the plan in workerData and relays
 * messages. After its final report the thread lets its event loop empty and exits.
 */
import { parentPort, workerData } from "node:worker_threads";
import { assert } from "../../errors.ts";

interface Plan {
  workerIndex: number;
  options: unknown;
}

export interface WorkerBody<Command> {
  start(): void;
  handle(message: Command): void;
}

/** `entry` names the module for the assertion a thread-less import trips. */
export function serveWorker<P extends Plan, Command, Report extends { type: string }>(
  entry: string,
  create: (plan: P, post: (message: Report) => void) => WorkerBody<Command>,
): void {
  const port = parentPort;
  assert(port !== null, `${entry} runs as a worker thread`);
  const plan = workerData as P;
  assert(typeof plan.workerIndex === "number" && plan.options !== undefined, "worker plan");
  const run = create(plan, (message) => {
    port.postMessage(message);
    if (message.type === "final") port.close();
  });
  port.on("message", (message: Command) => run.handle(message));
  run.start();
}
