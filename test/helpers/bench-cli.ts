/**
 * Runs `robustmq bench mqtt|kafka ... --json` as operators run it: a child process of the real
 * CLI, its summary read from stdout. Shared by the bench integration tests and the Kafka
 * throughput harness, which must observe the command exactly as shipped.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";

const MAIN = join(new URL("../../", import.meta.url).pathname, "src/cli/main.ts");

export interface BenchCliRun<Summary> {
  status: number | null;
  summary: Summary;
  stderr: string;
  elapsedMs: number;
}

/**
 * Runs `robustmq bench <protocol> <args> --json`; rejects when it prints no JSON summary, and
 * kills it (and rejects) after `timeoutMs`, so a hung run fails instead of hanging its caller.
 */
export function runBenchCli<Summary>(
  protocol: "mqtt" | "kafka",
  args: readonly string[],
  timeoutMs: number,
): Promise<BenchCliRun<Summary>> {
  const started = performance.now();
  const child = spawn(process.execPath, [MAIN, "bench", protocol, ...args, "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const command = `bench ${protocol} ${args.join(" ")}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} still running after ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.once("exit", (status) => {
      clearTimeout(timer);
      try {
        const summary = JSON.parse(stdout) as Summary;
        resolve({ status, summary, stderr, elapsedMs: performance.now() - started });
      } catch {
        reject(new Error(`${command}: no JSON summary (status ${status}): ${stdout}\n${stderr}`));
      }
    });
  });
}
