/**
 * `robustmq ctl ...` as a child process, the way an operator runs it: exit status, standard
 * output and standard error. Asynchronous, so a broker started by the same test keeps its log
 * pipe drained meanwhile. The environment starts without ROBUSTMQ_TOKEN / ROBUSTMQ_PASSWORD (so
 * only what a test passes counts) and with NO_COLOR.
 */
import { spawn } from "node:child_process";
import { withTimeout } from "./mqtt-clients.ts";

const MAIN = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const CTL_TIMEOUT_MS = 20_000;

export interface CtlRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface CtlOptions {
  /** Added to (and overriding) the clean environment. */
  env?: Record<string, string>;
  /** Written to standard input, which is then closed; without it stdin is ignored. */
  stdin?: string;
}

export function runCtl(args: readonly string[], options: CtlOptions = {}): Promise<CtlRun> {
  const child = spawn(process.execPath, [MAIN, "ctl", ...args], {
    env: {
      ...process.env,
      ROBUSTMQ_TOKEN: "",
      ROBUSTMQ_PASSWORD: "",
      NO_COLOR: "1",
      ...options.env,
    },
    stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  });
  if (options.stdin !== undefined) child.stdin?.end(options.stdin);
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const done = new Promise<CtlRun>((resolve) =>
    child.on("close", (status) => resolve({ status, stdout, stderr })),
  );
  return withTimeout(done, CTL_TIMEOUT_MS, `robustmq ctl ${args.join(" ")}`).catch((err) => {
    child.kill("SIGKILL");
    throw err;
  });
}
